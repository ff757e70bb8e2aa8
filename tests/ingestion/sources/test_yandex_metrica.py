"""Yandex Metrica Logs API source against the sandbox (real HTTP) and the embedded warehouse."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.compute as pc
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.errors import SourceConfigurationError
from ingestion.pipelines import make_pipeline
from ingestion.yandex_metrica import yandex_metrica_source
from ingestion.yandex_metrica.tsv import parse_array, parse_part, unescape
from simulator.sandbox import SandboxOptions

from .marketing_helpers import (
    column_types,
    extended_world,
    faults,
    find_cause,
    first_day,
    last_day,
    malformed_world,
    quarantined,
    query_args,
    request_log,
    reset,
    scalar,
    serve,
    table,
    until,
)

SOURCE = "yandex_metrica"
TOKEN = "sandbox-metrica-token"
FAST = {"poll_interval_seconds": 0.01, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05}


@pytest.fixture
def metrica(sandbox) -> str:
    """The session sandbox's Metrica URL, without fault rules or logged requests."""
    url = sandbox.urls["metrica"]
    reset(url)
    yield url
    reset(url)


def source_for(world: Path, base_url: str, **kwargs):
    kwargs = {
        "counter_id": 44147844,
        "token": TOKEN,
        "base_url": base_url,
        "initial_date": first_day(world),
        "end_date": last_day(world),
        **FAST,
        **kwargs,
    }
    return yandex_metrica_source(**kwargs)


def expected(world: Path, last: dt.date | None = None) -> tuple[set[str], set[str]]:
    """Visit and watch ids the API can serve up to `last` (default: the world's last day)."""
    last = last or last_day(world)
    visits = until(table(world, "metrica_visits"), "start_ms", last)
    hits = until(table(world, "metrica_hits"), "hit_ms", last)
    return {str(v) for v in visits["visitID"].to_pylist()}, {str(v) for v in hits["watchID"].to_pylist()}


def loaded_ids(ch, name: str, column: str) -> list[str]:
    return [
        str(r[0]) for r in ch.query(f"SELECT toString({column}) FROM raw.yandex_metrica__{name}").result_rows
    ]


def test_every_visit_and_hit_lands_typed_via_the_full_lifecycle(
    clean_source, metrica, world_dir, warehouse, monkeypatch
) -> None:
    pipeline = clean_source(SOURCE)
    # credentials and endpoint come from dlt config (env vars), as in production
    monkeypatch.setenv("SOURCES__YANDEX_METRICA__TOKEN", TOKEN)
    monkeypatch.setenv("SOURCES__YANDEX_METRICA__COUNTER_ID", "44147844")
    monkeypatch.setenv("SOURCES__YANDEX_METRICA__BASE_URL", metrica)
    pipeline.run(
        yandex_metrica_source(initial_date=first_day(world_dir), end_date=last_day(world_dir), **FAST)
    )

    ch = warehouse.client()
    visit_ids, watch_ids = expected(world_dir)
    visits = loaded_ids(ch, "visits", "visit_id")
    hits = loaded_ids(ch, "hits", "watch_id")
    assert sorted(visits) == sorted(visit_ids) and len(visits) == len(set(visits))
    assert sorted(hits) == sorted(watch_ids) and len(hits) == len(set(hits))
    assert any(int(v) >= 2**63 for v in visits)  # UInt64 ids above Int64 kept exact

    types = column_types(ch, "yandex_metrica__visits")
    assert types["visit_id"] == "Decimal(20, 0)" and types["counter_id"] == "Int64"
    assert types["date"] == "Date32" and types["date_time"] == "Nullable(DateTime64(0, 'UTC'))"
    assert types["is_new_user"] == "Nullable(Bool)" and types["page_views"] == "Nullable(Int64)"
    assert types["lastsign_traffic_source"] == "LowCardinality(Nullable(String))"
    assert types["client_id"] == "Nullable(Decimal(20, 0))"
    assert column_types(ch, "yandex_metrica__hits")["watch_id"] == "Decimal(20, 0)"
    engine = ch.command(
        "SELECT sorting_key || ' / ' || partition_key FROM system.tables WHERE name = 'yandex_metrica__hits'"
    )
    assert engine == "date, counter_id, watch_id / toYYYYMM(date)"

    # counter-local dateTime converted to UTC agrees with dateTimeUTC on every visit
    assert scalar(ch, "SELECT countIf(date_time != date_time_utc) FROM raw.yandex_metrica__visits") == 0
    # arrays arrive as JSON: watch ids match the world's exactly, hits link to visits through them
    world = table(world_dir, "metrica_visits")
    by_id = dict(zip(map(str, world["visitID"].to_pylist()), world["watchIDs"].to_pylist(), strict=True))
    for visit_id, watch in ch.query(
        "SELECT toString(visit_id), watch_ids FROM raw.yandex_metrica__visits"
    ).result_rows:
        assert json.loads(watch) == by_id[visit_id]
    unlinked = scalar(
        ch,
        "SELECT count() FROM raw.yandex_metrica__hits WHERE toString(watch_id) NOT IN ("
        "SELECT toString(arrayJoin(JSONExtract(assumeNotNull(watch_ids), 'Array(UInt64)'))) FROM raw.yandex_metrica__visits)",
    )
    assert unlinked == 0

    # protocol: evaluate -> create (query string, empty body) -> status -> download -> clean, OAuth header
    log = request_log(metrica)
    assert all(e["headers"]["authorization"] == f"OAuth {TOKEN}" for e in log)
    creates = [e for e in log if e["method"] == "POST" and e["path"].endswith("/logrequests")]
    assert {query_args(e)["source"] for e in creates} == {"visits", "hits"}
    assert all(e["body"] == "" for e in creates)
    assert all(query_args(e)["date2"] == last_day(world_dir).isoformat() for e in creates)
    assert sum(e["path"].endswith("/clean") and e["status"] == 200 for e in log) == len(creates)
    assert any(e["path"].endswith("/logrequests/evaluate") for e in log)

    # the same ingest again adds nothing
    before = scalar(ch, "SELECT count() FROM raw.yandex_metrica__visits") + scalar(
        ch, "SELECT count() FROM raw.yandex_metrica__hits"
    )
    clean_run = yandex_metrica_source(initial_date=first_day(world_dir), end_date=last_day(world_dir), **FAST)
    pipeline.run(clean_run)
    after = scalar(ch, "SELECT count() FROM raw.yandex_metrica__visits") + scalar(
        ch, "SELECT count() FROM raw.yandex_metrica__hits"
    )
    assert after == before
    ch.close()


def test_transient_faults_are_retried_and_a_cut_download_is_never_loaded_half(
    clean_source, metrica, world_dir, warehouse
) -> None:
    pipeline = clean_source(SOURCE)
    faults(
        metrica,
        {"path": "/logrequests/evaluate", "kind": "status", "status": 503},
        {"path": "/logrequests$", "method": "POST", "kind": "429", "retry_after": 1},
        {"path": r"/logrequest/\d+$", "kind": "status", "status": 500},
        {"path": "/download", "kind": "truncate"},
        {"path": "/download", "kind": "status", "status": 502},
    )
    # the 429's Retry-After (1 s) is honoured: the backoff cap is above it
    pipeline.run(source_for(world_dir, metrica, max_backoff_seconds=2))
    ch = warehouse.client()
    visit_ids, watch_ids = expected(world_dir)
    assert sorted(loaded_ids(ch, "visits", "visit_id")) == sorted(visit_ids)
    assert sorted(loaded_ids(ch, "hits", "watch_id")) == sorted(watch_ids)
    log = request_log(metrica)
    limited = next(i for i, e in enumerate(log) if e["fault"] == "429")
    retry = next(
        e
        for e in log[limited + 1 :]
        if (e["path"], e["query"]) == (log[limited]["path"], log[limited]["query"])
    )
    assert retry["ts"] - log[limited]["ts"] >= 0.95
    statuses = [(e["fault"], e["status"]) for e in log if e["fault"]]
    assert sorted(statuses, key=str) == sorted(
        [("status", 503), ("429", 429), ("status", 500), ("truncate", 200), ("status", 502)], key=str
    )

    # a download cut on every attempt: the run fails and nothing of that part is loaded
    pipeline = clean_source(SOURCE)
    reset(metrica)
    faults(metrica, {"path": "/download", "kind": "truncate", "times": None})
    with pytest.raises(PipelineStepFailed) as failure:
        pipeline.run(source_for(world_dir, metrica, max_attempts=3))
    assert "attempts" in str(find_cause(failure.value, RuntimeError))
    for name in ("visits", "hits"):
        if ch.command(f"EXISTS TABLE raw.yandex_metrica__{name}"):
            assert scalar(ch, f"SELECT count() FROM raw.yandex_metrica__{name}") == 0
    log = request_log(metrica)
    cut = [e["path"] for e in log if e["fault"] == "truncate"]
    assert max(cut.count(p) for p in cut) == 3  # max_attempts, then it gave up
    # the failed request was still cleaned (the 10 GB quota counts uncleaned logs)
    assert any(e["path"].endswith("/clean") for e in log)
    ch.close()


def test_malformed_rows_are_quarantined_with_the_reason_and_good_rows_load(
    clean_source, metrica, world_dir, warehouse
) -> None:
    # injected by the sandbox into a good answer: 3 rows lose a field and get a garbled id
    pipeline = clean_source(SOURCE)
    faults(metrica, {"path": "/download", "kind": "malformed", "rows": 3})
    pipeline.run(source_for(world_dir, metrica))
    ch = warehouse.client()
    bad = quarantined(ch, SOURCE)
    assert len(bad) == 3
    assert all("tab-separated fields" in b["reason"] and "corrupted" in b["payload"] for b in bad)
    visit_ids, watch_ids = expected(world_dir)
    loaded = scalar(ch, "SELECT count() FROM raw.yandex_metrica__visits") + scalar(
        ch, "SELECT count() FROM raw.yandex_metrica__hits"
    )
    assert loaded == len(visit_ids) + len(watch_ids) - 3

    # a world whose answers carry extra bad copies: every good row lands, each bad one is kept
    world = malformed_world()
    pipeline = clean_source(SOURCE)
    with serve(world, "metrica") as sb:
        pipeline.run(source_for(world, sb.urls["metrica"], start_date=first_day(world)))
        # the same ingest again quarantines nothing twice (and loads nothing twice)
        pipeline.run(source_for(world, sb.urls["metrica"], start_date=first_day(world)))
    visit_ids, watch_ids = expected(world)
    assert sorted(loaded_ids(ch, "visits", "visit_id")) == sorted(visit_ids)
    assert sorted(loaded_ids(ch, "hits", "watch_id")) == sorted(watch_ids)
    by_resource = {}
    for b in quarantined(ch, SOURCE):
        by_resource.setdefault(b["resource"], []).append(b["reason"])
    for name in ("visits", "hits"):
        assert len(by_resource[name]) == 2
        assert any("not a UInt64" in r for r in by_resource[name])
        assert any("tab-separated fields" in r for r in by_resource[name])
    ch.close()


@pytest.mark.parametrize(
    ("token", "counter", "says"),
    [
        ("", 44147844, "SOURCES__YANDEX_METRICA__TOKEN"),
        ("wrong-token", 44147844, "SOURCES__YANDEX_METRICA__TOKEN"),
        ("sandbox-noaccess-token", 44147844, "SOURCES__YANDEX_METRICA__COUNTER_ID"),
        (TOKEN, 12345, "SOURCES__YANDEX_METRICA__COUNTER_ID"),
    ],
)
def test_auth_and_access_errors_name_the_setting_to_fix(
    clean_source, metrica, world_dir, token, counter, says
) -> None:
    pipeline = clean_source(SOURCE)
    with pytest.raises(PipelineStepFailed) as failure:
        pipeline.run(source_for(world_dir, metrica, token=token, counter_id=counter))
    error = find_cause(failure.value, SourceConfigurationError)
    assert error is not None and says in str(error)
    log = request_log(metrica)
    # permanent: no retry (one evaluate per resource at most), no log request created
    assert [e["path"].rsplit("/", 1)[-1] for e in log] in (["evaluate"], ["evaluate", "evaluate"])
    assert len({e["query"] for e in log}) == len(log) and {e["status"] for e in log} <= {401, 403}


def test_an_unknown_field_names_the_field_setting(clean_source, metrica, world_dir) -> None:
    with pytest.raises(PipelineStepFailed) as failure:
        clean_source(SOURCE).run(
            source_for(world_dir, metrica, visit_fields=["ym:s:visitID", "ym:s:noSuchField"])
        )
    error = find_cause(failure.value, SourceConfigurationError)
    assert error is not None and "visit_fields" in str(error) and "ym:s:noSuchField" in str(error)


def test_a_period_evaluate_refuses_is_split(clean_source, world_dir, warehouse) -> None:
    pipeline = clean_source(SOURCE)
    with serve(world_dir, "metrica", SandboxOptions(metrica_max_days=5)) as sb:
        pipeline.run(source_for(world_dir, sb.urls["metrica"]))
        log = request_log(sb.urls["metrica"])
    spans = []
    for e in log:
        if e["method"] == "POST" and e["path"].endswith("/logrequests"):
            q = query_args(e)
            spans.append((q["source"], dt.date.fromisoformat(q["date1"]), dt.date.fromisoformat(q["date2"])))
    for source in ("visits", "hits"):
        mine = sorted((d1, d2) for s, d1, d2 in spans if s == source)
        assert all((d2 - d1).days < 5 for d1, d2 in mine)
        assert mine[0][0] == first_day(world_dir) and mine[-1][1] == last_day(world_dir)
        assert all(b[0] == a[1] + dt.timedelta(days=1) for a, b in zip(mine, mine[1:], strict=False))
    ch = warehouse.client()
    visit_ids, watch_ids = expected(world_dir)
    assert sorted(loaded_ids(ch, "visits", "visit_id")) == sorted(visit_ids)
    assert sorted(loaded_ids(ch, "hits", "watch_id")) == sorted(watch_ids)
    ch.close()


def test_next_run_requests_only_the_new_day_and_the_trailing_window(
    clean_source, metrica, world_dir, world_config, warehouse, ch_settings, tmp_path
) -> None:
    pipeline = clean_source(SOURCE)
    pipeline.run(source_for(world_dir, metrica))
    bigger = extended_world(world_config)
    new_last = last_day(bigger)
    assert new_last == last_day(world_dir) + dt.timedelta(days=1)
    # a fresh machine: the cursor comes back from the warehouse's state table
    again = make_pipeline(SOURCE, pipelines_dir=tmp_path / "elsewhere", settings=ch_settings)
    with serve(bigger, "metrica") as sb:
        again.run(source_for(bigger, sb.urls["metrica"], end_date=new_last))
        log = request_log(sb.urls["metrica"])
    creates = [query_args(e) for e in log if e["method"] == "POST" and e["path"].endswith("/logrequests")]
    window_start = (last_day(world_dir) - dt.timedelta(days=3)).isoformat()  # lookback_days = 3
    assert sorted((q["source"], q["date1"], q["date2"]) for q in creates) == [
        ("hits", window_start, new_last.isoformat()),
        ("visits", window_start, new_last.isoformat()),
    ]
    ch = warehouse.client()
    visit_ids, watch_ids = expected(bigger)
    assert sorted(loaded_ids(ch, "visits", "visit_id")) == sorted(visit_ids)
    assert sorted(loaded_ids(ch, "hits", "watch_id")) == sorted(watch_ids)
    ch.close()


# --------------------------------------------------------------------------- parsing
def test_tab_separated_unescaping_and_array_literals() -> None:
    assert unescape(r"a\tb\nc\\d\'e") == "a\tb\nc\\d'e"
    assert unescape(r"C:\\new") == "C:\\new"
    assert parse_array("[]") == []
    assert parse_array("[325058210,270770156]") == [325058210, 270770156]
    assert parse_array("[18446744073709551615]") == [2**64 - 1]
    assert parse_array(r"['it\'s','a,b','x\\y',' ']") == ["it's", "a,b", "x\\y", " "]
    assert parse_array("['2024-05-14 20:17:03']") == ["2024-05-14 20:17:03"]
    assert parse_array("[2024-05-14 20:17:03]") == ["2024-05-14 20:17:03"]  # the unquoted reading
    assert parse_array("[1.5,-2]") == [1.5, -2]
    for bad in ("['a'", "[a,,b]", "['a' 'b']", "1,2"):
        with pytest.raises(ValueError):
            parse_array(bad)


def test_parts_map_columns_by_header_name_and_set_bad_rows_aside() -> None:
    body = (
        b"ym:s:date\tym:s:visitID\tym:s:counterID\tym:s:goalsOrder\tym:s:dateTime\tym:s:bounce\n"
        b"2024-05-14\t18446744073709551615\t1\t['a\\'b','']\t2024-05-14 20:15:42\t1\n"
        b"2024-05-14\tabc\t1\t[]\t2024-05-14 20:15:42\t0\n"
        b"2024-05-14\t5\t1\t[]\t2024-05-14 20:15:42\n"
        b"2024-05-14\t6\t1\t['x'\t2024-05-14 20:15:42\t0\n"
        b"2024-05-14\t7\t1\t[]\tnot a time\t2\n"
    )
    part = parse_part(body, "ym:s:", "Europe/Moscow")
    rows = part.table.to_pylist()
    assert len(rows) == 1 and str(rows[0]["visit_id"]) == str(2**64 - 1)
    assert json.loads(rows[0]["goals_order"]) == ["a'b", ""]
    assert rows[0]["date_time"] == dt.datetime(2024, 5, 14, 17, 15, 42, tzinfo=dt.UTC)
    reasons = {b.line: b.reason for b in part.bad}
    assert "not a UInt64" in reasons[3]
    assert "expected 6 tab-separated fields (header), got 5" in reasons[4]
    assert "not an array literal" in reasons[5]
    assert "not a date-time" in reasons[6] and "not a 0/1 flag" in reasons[6]
    assert pc.sum(part.table["counter_id"]).as_py() == 1


def test_the_end_date_is_never_the_counters_today() -> None:
    from zoneinfo import ZoneInfo

    from ingestion.yandex_metrica import _end_date

    today = dt.datetime.now(ZoneInfo("Europe/Moscow")).date()
    assert _end_date(None, "Europe/Moscow") == today - dt.timedelta(days=1)
    assert _end_date(today, "Europe/Moscow") == today - dt.timedelta(days=1)
    assert _end_date(dt.date(2026, 10, 1), "Europe/Moscow") == dt.date(2026, 10, 1)
