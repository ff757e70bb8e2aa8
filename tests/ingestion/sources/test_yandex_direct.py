"""Yandex Direct Reports API source against the sandbox (real HTTP) and the embedded warehouse."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.errors import SourceConfigurationError
from ingestion.pipelines import make_pipeline
from ingestion.yandex_direct import yandex_direct_source
from ingestion.yandex_direct.parsing import IncompleteReport, parse_report

from .marketing_helpers import (
    column_types,
    extended_world,
    faults,
    find_cause,
    first_day,
    last_day,
    malformed_world,
    quarantined,
    request_log,
    reset,
    scalar,
    serve,
    table,
)

SOURCE = "yandex_direct"
TOKEN = "sandbox-direct-token"
LOGIN = "kino-example"
FAST = {"max_poll_interval_seconds": 0.05, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05}


@pytest.fixture
def direct(sandbox) -> str:
    url = sandbox.urls["direct"]
    reset(url)
    yield url
    reset(url)


def source_for(world: Path, base_url: str, **kwargs):
    return yandex_direct_source(
        **{
            "token": TOKEN,
            "client_login": LOGIN,
            "base_url": base_url,
            "initial_date": first_day(world),
            "end_date": last_day(world),
            **FAST,
            **kwargs,
        }
    )


def expected(world: Path, first: dt.date | None = None, last: dt.date | None = None) -> dict[tuple, tuple]:
    """(date, campaign, network type, device) → (impressions, clicks, cost) as the API sums them."""
    first, last = first or first_day(world), last or last_day(world)
    sums: dict[tuple, list] = {}
    for r in table(world, "ad_stats").to_pylist():
        if r["network"] == "yandex_direct" and first <= r["date"] <= last:
            acc = sums.setdefault(
                (r["date"], r["campaign_id"], r["ad_network_type"], r["device"]), [0, 0, 0.0]
            )
            acc[0] += r["impressions"]
            acc[1] += r["clicks"]
            acc[2] += r["cost"]
    return {k: (i, c, Decimal(f"{cost:.2f}")) for k, (i, c, cost) in sums.items()}


def loaded(ch) -> dict[tuple, tuple]:
    rows = ch.query(
        "SELECT date, campaign_id, ad_network_type, device, impressions, clicks, cost "
        "FROM raw.yandex_direct__campaign_stats"
    ).result_rows
    out = {tuple(r[:4]): tuple(r[4:]) for r in rows}
    assert len(out) == len(rows), "duplicate keys"
    return out


def reports(log: list[dict]) -> list[dict]:
    return [e for e in log if e["path"] == "/json/v5/reports"]


def test_every_row_lands_typed_through_the_offline_loop_and_a_rerun_adds_nothing(
    clean_source, direct, world_dir, warehouse
) -> None:
    pipeline = clean_source(SOURCE)
    # the default poll cap: the sandbox's retryIn (1 s) is honoured
    pipeline.run(source_for(world_dir, direct, max_poll_interval_seconds=60))
    ch = warehouse.client()
    assert loaded(ch) == expected(world_dir)
    types = column_types(ch, "yandex_direct__campaign_stats")
    assert types["cost"] == "Nullable(Decimal(18, 2))" and types["avg_cpc"] == "Nullable(Decimal(18, 2))"
    assert types["date"] == "Date32" and types["campaign_id"] == "Int64" and types["client_login"] == "String"
    assert types["device"] == "LowCardinality(String)" and types["impressions"] == "Nullable(Int64)"
    # `--` (no clicks: no average CPC) became NULL, never 0
    assert scalar(
        ch, "SELECT countIf(avg_cpc IS NULL) = countIf(clicks = 0) FROM raw.yandex_direct__campaign_stats"
    )
    assert scalar(ch, "SELECT uniqExact(client_login) FROM raw.yandex_direct__campaign_stats") == 1

    log = reports(request_log(direct))
    assert [e["status"] for e in log] == [201, 202, 200]
    assert len({e["body"] for e in log}) == 1  # the identical request, every time
    assert log[1]["ts"] - log[0]["ts"] >= 0.95  # retryIn: 1
    params = json.loads(log[0]["body"])["params"]
    assert params["ReportType"] == "CAMPAIGN_PERFORMANCE_REPORT" and params["IncludeVAT"] == "NO"
    assert params["SelectionCriteria"] == {
        "DateFrom": first_day(world_dir).isoformat(),
        "DateTo": last_day(world_dir).isoformat(),
    }
    headers = log[0]["headers"]
    assert headers["authorization"] == f"Bearer {TOKEN}" and headers["client-login"] == LOGIN
    assert headers["returnmoneyinmicros"] == "false"

    # the next run re-reads the lookback window only, and adds nothing
    before = scalar(ch, "SELECT count() FROM raw.yandex_direct__campaign_stats")
    reset(direct)
    pipeline.run(source_for(world_dir, direct))
    window = json.loads(reports(request_log(direct))[0]["body"])["params"]["SelectionCriteria"]
    assert window["DateFrom"] == (last_day(world_dir) - dt.timedelta(days=7)).isoformat()
    assert scalar(ch, "SELECT count() FROM raw.yandex_direct__campaign_stats") == before
    # the same range again (a backfill): the same report name, so the API hands back that report
    reset(direct)
    pipeline.run(source_for(world_dir, direct, start_date=first_day(world_dir)))
    again = reports(request_log(direct))
    assert json.loads(again[0]["body"])["params"]["ReportName"] == params["ReportName"]
    assert [e["status"] for e in again] == [200]
    assert scalar(ch, "SELECT count() FROM raw.yandex_direct__campaign_stats") == before
    ch.close()


def test_next_run_requests_only_the_new_day_and_the_lookback_window(
    clean_source, direct, world_dir, world_config, warehouse, ch_settings, tmp_path
) -> None:
    clean_source(SOURCE).run(source_for(world_dir, direct))
    bigger = extended_world(world_config)
    again = make_pipeline(SOURCE, pipelines_dir=tmp_path / "elsewhere", settings=ch_settings)
    with serve(bigger, "direct") as sb:
        again.run(source_for(bigger, sb.urls["direct"], end_date=last_day(bigger)))
        log = reports(request_log(sb.urls["direct"]))
    windows = {tuple(json.loads(e["body"])["params"]["SelectionCriteria"].values()) for e in log}
    assert windows == {
        ((last_day(world_dir) - dt.timedelta(days=7)).isoformat(), last_day(bigger).isoformat())
    }
    ch = warehouse.client()
    assert loaded(ch) == expected(bigger)
    ch.close()


def test_transient_faults_are_retried_and_a_cut_report_is_never_loaded_half(
    clean_source, direct, world_dir, warehouse
) -> None:
    last = last_day(world_dir)
    window = {"start_date": last - dt.timedelta(days=2), "end_date": last}
    pipeline = clean_source(SOURCE)
    faults(
        direct,
        {"path": "/json/v5/reports", "kind": "status", "status": 503},
        {"path": "/json/v5/reports", "kind": "429", "retry_after": 1},
        {"path": "/json/v5/reports", "kind": "status", "status": 400},  # error_code 1000: internal
    )
    pipeline.run(source_for(world_dir, direct, **window))
    ch = warehouse.client()
    assert loaded(ch) == expected(world_dir, first=window["start_date"])

    # a report cut in transit (it is ready now, so the first answer is the 200): retried, loaded whole
    pipeline = clean_source(SOURCE)
    reset(direct)
    faults(direct, {"path": "/json/v5/reports", "kind": "truncate", "times": 2})
    pipeline.run(source_for(world_dir, direct, **window))
    assert loaded(ch) == expected(world_dir, first=window["start_date"])
    assert [(e["status"], e["fault"]) for e in reports(request_log(direct))] == [
        (200, "truncate"),
        (200, "truncate"),
        (200, None),
    ]

    # cut on every attempt: the run fails and loads nothing
    pipeline = clean_source(SOURCE)
    reset(direct)
    faults(direct, {"path": "/json/v5/reports", "kind": "truncate", "times": None})
    with pytest.raises(PipelineStepFailed) as failure:
        pipeline.run(source_for(world_dir, direct, max_attempts=3, **window))
    assert "attempts" in str(find_cause(failure.value, RuntimeError))
    if ch.command("EXISTS TABLE raw.yandex_direct__campaign_stats"):
        assert scalar(ch, "SELECT count() FROM raw.yandex_direct__campaign_stats") == 0
    ch.close()


def test_malformed_rows_are_quarantined_with_the_reason_and_good_rows_load(
    clean_source, direct, world_dir, warehouse
) -> None:
    last = last_day(world_dir)
    pipeline = clean_source(SOURCE)
    # times=3: a new report answers 201 and 202 (empty bodies) before the 200 with the rows
    faults(direct, {"path": "/json/v5/reports", "kind": "malformed", "rows": 2, "times": 3})
    pipeline.run(source_for(world_dir, direct, start_date=last, end_date=last))
    ch = warehouse.client()
    bad = quarantined(ch, SOURCE)
    assert len(bad) == 2 and all("tab-separated fields" in b["reason"] for b in bad), bad
    assert len(loaded(ch)) == len(expected(world_dir, first=last)) - 2

    world = malformed_world()
    pipeline = clean_source(SOURCE)
    with serve(world, "direct") as sb:
        pipeline.run(source_for(world, sb.urls["direct"]))
        # the same range again quarantines nothing twice
        pipeline.run(source_for(world, sb.urls["direct"], start_date=first_day(world)))
    assert loaded(ch) == expected(world)
    bad = quarantined(ch, SOURCE)
    assert len(bad) == 2
    assert all("Cost: not a decimal amount: 'abc'" in b["reason"] for b in bad)
    assert all(b["location"].startswith("report predicto_campaign_stats_") for b in bad)
    ch.close()


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"token": "wrong"}, "SOURCES__YANDEX_DIRECT__TOKEN"),
        ({"client_login": "someone-else"}, "SOURCES__YANDEX_DIRECT__CLIENT_LOGIN"),
        ({"field_names": ["Date", "NoSuchField"]}, "field_names"),
    ],
)
def test_permanent_errors_name_the_setting_to_fix(clean_source, direct, world_dir, kwargs, says) -> None:
    last = last_day(world_dir)
    with pytest.raises(PipelineStepFailed) as failure:
        clean_source(SOURCE).run(source_for(world_dir, direct, start_date=last, end_date=last, **kwargs))
    error = find_cause(failure.value, SourceConfigurationError)
    assert error is not None and says in str(error), failure.value
    assert [e["status"] for e in reports(request_log(direct))] == [400]  # not retried


def test_report_name_line_and_summary_are_stripped(direct, world_dir) -> None:
    last = last_day(world_dir).isoformat()
    body = {
        "params": {
            "SelectionCriteria": {"DateFrom": last, "DateTo": last},
            "FieldNames": ["Date", "CampaignId", "AdNetworkType", "Device", "Clicks", "Cost", "AvgCpc"],
            "ReportName": "full-format-check",
            "ReportType": "CAMPAIGN_PERFORMANCE_REPORT",
            "DateRangeType": "CUSTOM_DATE",
            "Format": "TSV",
            "IncludeVAT": "NO",
        }
    }
    headers = {"Authorization": f"Bearer {TOKEN}", "processingMode": "online", "returnMoneyInMicros": "false"}
    text = requests.post(f"{direct}/json/v5/reports", json=body, headers=headers, timeout=10).text
    assert text.startswith('"full-format-check (') and "\nTotal rows: " in text
    parsed = parse_report(text, LOGIN)
    assert not parsed.bad and len(parsed.rows) == len(expected(world_dir, first=last_day(world_dir)))
    assert all(r["avg_cpc"] is None for r in parsed.rows if r["clicks"] == 0)
    with pytest.raises(IncompleteReport):
        parse_report(text.rsplit("Total rows", 1)[0], LOGIN)
    with pytest.raises(IncompleteReport):
        parse_report(text[: text.index("\n", len(text) // 2) + 1] + text.splitlines()[-1] + "\n", LOGIN)
