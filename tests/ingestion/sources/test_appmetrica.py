"""AppMetrica Logs API source against the sandbox (real HTTP) and the embedded warehouse."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.appmetrica import appmetrica_source, settings
from ingestion.appmetrica.parsing import parse_csv
from ingestion.errors import SourceConfigurationError
from ingestion.pipelines import make_pipeline

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

SOURCE = "appmetrica"
TOKEN = "sandbox-appmetrica-token"
FAST = {"poll_interval_seconds": 0.01, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05}
EVENT_FIELDS = len(settings.EXPORTS["events"].fields)
RECEIVE = {
    "events": "event_receive_ms",
    "sessions_starts": "session_start_receive_ms",
    "installations": "install_receive_ms",
}


@pytest.fixture
def appmetrica(sandbox) -> str:
    url = sandbox.urls["appmetrica"]
    reset(url)
    yield url
    reset(url)


def source_for(world: Path, base_url: str, **kwargs):
    return appmetrica_source(
        **{
            "application_id": 4567890,
            "token": TOKEN,
            "base_url": base_url,
            "initial_date": first_day(world),
            "end_date": last_day(world),
            **FAST,
            **kwargs,
        }
    )


def expected(world: Path, first: dt.date | None = None, last: dt.date | None = None) -> dict[str, list]:
    """Row keys per export for receive (Moscow) dates first..last."""
    out = {}
    for name, column in RECEIVE.items():
        t = until(table(world, f"appmetrica_{name}"), column, last or last_day(world))
        rows = t.to_pylist()
        if first:
            rows = [r for r in rows if (r[column] + dt.timedelta(hours=3)).date() >= first]
        if name == "events":
            keys = [
                (
                    str(r["appmetrica_device_id"]),
                    r["session_id"],
                    int(r["event_ms"].timestamp()),
                    r["event_name"],
                )
                for r in rows
            ]
        elif name == "sessions_starts":
            keys = [r["session_id"] for r in rows]
        else:
            keys = [r["installation_id"] for r in rows]
        out[name] = sorted(keys)
    return out


def loaded(ch) -> dict[str, list]:
    def q(sql: str) -> list:
        return sorted(tuple(r) if len(r) > 1 else r[0] for r in ch.query(sql).result_rows)

    return {
        "events": q(
            "SELECT toString(appmetrica_device_id), toString(session_id), event_timestamp, event_name "
            "FROM raw.appmetrica__events"
        ),
        "sessions_starts": q("SELECT toString(session_id) FROM raw.appmetrica__sessions_starts"),
        "installations": q("SELECT installation_id FROM raw.appmetrica__installations"),
    }


def test_every_row_lands_typed_incrementally_by_receive_day_and_a_rerun_adds_nothing(
    clean_source, appmetrica, world_dir, world_config, warehouse, ch_settings, tmp_path
) -> None:
    pipeline = clean_source(SOURCE)
    pipeline.run(source_for(world_dir, appmetrica))
    ch = warehouse.client()
    assert loaded(ch) == expected(world_dir)

    types = column_types(ch, "appmetrica__events")
    assert types["appmetrica_device_id"] == "Decimal(20, 0)"
    assert types["event_receive_date"] == "Date32" and types["event_timestamp"] == "Int64"
    assert types["event_datetime"] == "Nullable(DateTime64(0, 'UTC'))"
    assert (
        types["event_name"] == "LowCardinality(String)"
        and types["os_name"] == "LowCardinality(Nullable(String))"
    )
    assert column_types(ch, "appmetrica__installations")["is_reinstallation"] == "Nullable(Bool)"
    assert column_types(ch, "appmetrica__sessions_starts")["session_id"] == "Decimal(20, 0)"
    # device ids above 2^63 kept exact; local datetimes agree with the Unix timestamps
    assert (
        scalar(ch, "SELECT countIf(appmetrica_device_id >= 9223372036854775808) FROM raw.appmetrica__events")
        > 0
    )
    assert (
        scalar(
            ch,
            "SELECT countIf(toUnixTimestamp(event_datetime) != event_timestamp) FROM raw.appmetrica__events",
        )
        == 0
    )
    assert (
        scalar(
            ch,
            "SELECT countIf(toDate(event_receive_datetime, 'Europe/Moscow') != event_receive_date) FROM raw.appmetrica__events",
        )
        == 0
    )

    # protocol: one receive-day window per export and day; no-cache on the first request only
    log = request_log(appmetrica)
    days = (last_day(world_dir) - first_day(world_dir)).days + 1
    windows: dict[tuple[str, str], list[dict]] = {}
    for e in log:
        q = query_args(e)
        assert e["headers"]["authorization"] == f"OAuth {TOKEN}"
        assert q["date_dimension"] == "receive" and q["date_since"].endswith(" 00:00:00")
        assert q["date_until"] == q["date_since"][:10] + " 23:59:59"
        windows.setdefault((e["path"], q["date_since"]), []).append(e)
    assert len(windows) == 3 * days
    for requests_of_window in windows.values():
        assert [e["status"] for e in requests_of_window] == [202, 200]
        assert requests_of_window[0]["headers"]["cache-control"] == "no-cache"
        assert requests_of_window[1]["headers"]["cache-control"].startswith("max-age=")
        assert requests_of_window[0]["query"] == requests_of_window[1]["query"]  # the identical request

    # next run on the world one day later, from a fresh machine (cursor restored from the warehouse)
    bigger = extended_world(world_config)
    again = make_pipeline(SOURCE, pipelines_dir=tmp_path / "elsewhere", settings=ch_settings)
    with serve(bigger, "appmetrica") as sb:
        again.run(source_for(bigger, sb.urls["appmetrica"], end_date=last_day(bigger)))
        log = request_log(sb.urls["appmetrica"])
        lookback_start = last_day(world_dir) - dt.timedelta(days=2)  # lookback_days = 2
        requested = sorted({(e["path"].split("/")[-1], query_args(e)["date_since"][:10]) for e in log})
        assert requested == sorted(
            (f"{name}.csv", (lookback_start + dt.timedelta(days=i)).isoformat())
            for name in RECEIVE
            for i in range((last_day(bigger) - lookback_start).days + 1)
        )
        assert loaded(ch) == expected(bigger)
        # the same ingest again adds no rows
        before = {name: len(keys) for name, keys in loaded(ch).items()}
        again.run(source_for(bigger, sb.urls["appmetrica"], end_date=last_day(bigger)))
    assert {name: len(keys) for name, keys in loaded(ch).items()} == before
    ch.close()


def test_transient_faults_are_retried_and_a_cut_file_is_never_loaded_half(
    clean_source, appmetrica, world_dir, warehouse
) -> None:
    last = last_day(world_dir)
    window = {"start_date": last - dt.timedelta(days=1), "end_date": last}
    pipeline = clean_source(SOURCE)
    faults(
        appmetrica,
        {"path": "events.csv", "kind": "status", "status": 503},
        {"path": "sessions_starts.csv", "kind": "429", "retry_after": 1},
        {"path": "installations.csv", "kind": "truncate", "times": 3},
        {"path": "events.csv", "kind": "status", "status": 500},
    )
    # the 429's Retry-After (1 s) is honoured: the cap is above it
    pipeline.run(source_for(world_dir, appmetrica, max_backoff_seconds=2, **window))
    ch = warehouse.client()
    assert loaded(ch) == expected(world_dir, first=window["start_date"])
    log = request_log(appmetrica)
    assert sorted(e["fault"] for e in log if e["fault"]) == [
        "429",
        "status",
        "status",
        "truncate",
        "truncate",
        "truncate",
    ]
    limited = next(i for i, e in enumerate(log) if e["fault"] == "429")
    retry = next(
        e
        for e in log[limited + 1 :]
        if (e["path"], e["query"]) == (log[limited]["path"], log[limited]["query"])
    )
    assert retry["ts"] - log[limited]["ts"] >= 0.95
    # the first request of a window keeps no-cache when it is retried (it never reached the queue)
    assert retry["headers"]["cache-control"] == "no-cache"

    pipeline = clean_source(SOURCE)
    reset(appmetrica)
    faults(appmetrica, {"path": "installations.csv", "kind": "truncate", "times": None})
    with pytest.raises(PipelineStepFailed) as failure:
        # one export only: a failed run abandons the others' exports in the API's queue
        pipeline.run(
            source_for(world_dir, appmetrica, max_attempts=3, **window).with_resources("installations")
        )
    assert "attempts" in str(find_cause(failure.value, RuntimeError))
    if ch.command("EXISTS TABLE raw.appmetrica__installations"):
        assert scalar(ch, "SELECT count() FROM raw.appmetrica__installations") == 0
    # once the network behaves, the same run loads the window (and finishes the queued export)
    reset(appmetrica)
    pipeline.run(source_for(world_dir, appmetrica, **window).with_resources("installations"))
    ids = sorted(
        r[0] for r in ch.query("SELECT installation_id FROM raw.appmetrica__installations").result_rows
    )
    assert ids == expected(world_dir, first=window["start_date"])["installations"]
    ch.close()


def test_malformed_rows_are_quarantined_with_the_reason_and_good_rows_load(
    clean_source, appmetrica, world_dir, warehouse
) -> None:
    last = last_day(world_dir)
    pipeline = clean_source(SOURCE)
    # times=2: the first answer of the window is `202 Wait for result`, the second the file
    faults(appmetrica, {"path": "events.csv", "kind": "malformed", "rows": 2, "times": 2})
    pipeline.run(source_for(world_dir, appmetrica, start_date=last, end_date=last))
    ch = warehouse.client()
    bad = quarantined(ch, SOURCE)
    assert [b["resource"] for b in bad] == ["events", "events"]
    assert all(
        f"expected {EVENT_FIELDS} columns (header), got {EVENT_FIELDS - 1}" in b["reason"] for b in bad
    )
    assert all("corrupted" in b["payload"] for b in bad)
    assert len(loaded(ch)["events"]) == len(expected(world_dir, first=last)["events"]) - 2

    # a world whose answers carry extra bad copies: every good row lands, each bad one is kept
    world = malformed_world()
    pipeline = clean_source(SOURCE)
    with serve(world, "appmetrica") as sb:
        pipeline.run(source_for(world, sb.urls["appmetrica"], start_date=first_day(world)))
        # the same ingest again quarantines nothing twice
        pipeline.run(source_for(world, sb.urls["appmetrica"], start_date=first_day(world)))
    assert loaded(ch) == expected(world)
    reasons = sorted((b["resource"], b["reason"]) for b in quarantined(ch, SOURCE))
    assert len(reasons) == 4, reasons
    assert ("events", f"expected {EVENT_FIELDS} columns (header), got {EVENT_FIELDS + 1}") in reasons
    assert sum(name == "events" and "_timestamp: not an integer: 'abc'" in r for name, r in reasons) == 1
    assert (
        sum(name == "installations" and "_timestamp: not an integer: 'abc'" in r for name, r in reasons) == 2
    )
    ch.close()


def test_parts_split_a_day_and_every_row_still_lands(clean_source, appmetrica, world_dir, warehouse) -> None:
    last = last_day(world_dir)
    pipeline = clean_source(SOURCE)
    pipeline.run(
        source_for(
            world_dir, appmetrica, start_date=last - dt.timedelta(days=1), end_date=last, parts_count=2
        )
    )
    ch = warehouse.client()
    assert loaded(ch) == expected(world_dir, first=last - dt.timedelta(days=1))
    parts = {query_args(e).get("part_number") for e in request_log(appmetrica)}
    assert parts == {"0", "1"}
    ch.close()


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"token": ""}, "SOURCES__APPMETRICA__TOKEN"),
        ({"token": "wrong"}, "SOURCES__APPMETRICA__TOKEN"),
        ({"application_id": 1}, "SOURCES__APPMETRICA__APPLICATION_ID"),
        ({"events_fields": ["event_name", "no_such_field"]}, "events_fields"),
    ],
)
def test_permanent_errors_name_the_setting_to_fix(clean_source, appmetrica, world_dir, kwargs, says) -> None:
    last = last_day(world_dir)
    pipeline = clean_source(SOURCE)
    with pytest.raises(PipelineStepFailed) as failure:
        pipeline.run(source_for(world_dir, appmetrica, start_date=last, end_date=last, **kwargs))
    error = find_cause(failure.value, SourceConfigurationError)
    assert error is not None and says in str(error), failure.value
    assert all(
        e["status"] in (400, 401, 403) for e in request_log(appmetrica) if e["path"].endswith("events.csv")
    )


def test_csv_quoting_bom_flags_and_bad_values() -> None:
    export = settings.EXPORTS["installations"]
    text = (
        "\ufeffapplication_id,installation_id,appmetrica_device_id,install_receive_datetime,"
        "click_url_parameters,is_reinstallation,click_timestamp\n"
        '1,a,18446744073709551615,2026-10-01 00:30:00,"utm_source=x,y\nz",true,0\n'
        "1,b,5,2026-10-01 01:00:00,,maybe,12\n"
        "1,c,-5,2026-10-01 01:00:00,,0,1\n"
        "1,d,6,2026-10-01 01:00:00,,0\n"
    )
    parsed = parse_csv(text, export, "Europe/Moscow")
    rows = parsed.table.to_pylist()
    assert len(rows) == 1 and rows[0]["click_url_parameters"] == "utm_source=x,y\nz"
    assert str(rows[0]["appmetrica_device_id"]) == str(2**64 - 1) and rows[0]["is_reinstallation"] is True
    # local 00:30 in Moscow is the previous UTC day; the receive day stays the local one
    assert rows[0]["install_receive_datetime"] == dt.datetime(2026, 9, 30, 21, 30, tzinfo=dt.UTC)
    assert rows[0]["install_receive_date"] == dt.date(2026, 10, 1)
    assert [(b.line, b.reason) for b in parsed.bad] == [
        (4, "is_reinstallation: not a 0/1 flag: 'maybe'"),
        (5, "appmetrica_device_id: not a UInt64: '-5'"),
        (6, "expected 7 columns (header), got 6"),
    ]
