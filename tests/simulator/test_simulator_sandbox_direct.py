"""Yandex Direct Reports API sandbox: 201/202/200 offline flow, TSV layout, money, errors."""

from __future__ import annotations

import httpx
import orjson
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from simulator.sandbox import Sandbox
from simulator.world.reference import VAT_RATE

H = {"Authorization": "Bearer sandbox-direct-token", "Client-Login": "kino-example"}


def _body(
    name: str, fields: list[str], d1: str = "2026-10-01", d2: str = "2026-10-10", vat: str = "NO"
) -> bytes:
    return orjson.dumps(
        {
            "params": {
                "SelectionCriteria": {"DateFrom": d1, "DateTo": d2},
                "FieldNames": fields,
                "ReportName": name,
                "ReportType": "CAMPAIGN_PERFORMANCE_REPORT",
                "DateRangeType": "CUSTOM_DATE",
                "Format": "TSV",
                "IncludeVAT": vat,
                "IncludeDiscount": "NO",
            }
        }
    )


def _post(sb: Sandbox, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(f"{sb.urls['direct']}/json/v5/reports", content=body, headers={**H, **headers})


def test_offline_report_lifecycle_and_totals(sandbox: Sandbox, world) -> None:
    fields = ["Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost", "AvgCpc"]
    body = _body("perf_1", fields)
    r1 = _post(sandbox, body, returnMoneyInMicros="false")
    assert r1.status_code == 201 and int(r1.headers["retryIn"]) >= 1 and "reportsInQueue" in r1.headers
    r2 = _post(sandbox, body, returnMoneyInMicros="false")
    assert r2.status_code == 202 and r2.headers["RequestId"]
    r3 = _post(sandbox, body, returnMoneyInMicros="false")
    assert r3.status_code == 200
    lines = r3.text.split("\n")
    assert lines[0] == '"perf_1 (2026-10-01 - 2026-10-10)"'
    assert lines[1].split("\t") == fields
    assert lines[-2].startswith("Total rows: ") and lines[-1] == ""
    rows = [ln.split("\t") for ln in lines[2:-2]]
    assert int(lines[-2].split(": ")[1]) == len(rows)
    stats = pq.read_table(world / "tables" / "ad_stats.parquet").to_pylist()
    direct = [
        s
        for s in stats
        if s["network"] == "yandex_direct" and "2026-10-01" <= s["date"].isoformat() <= "2026-10-10"
    ]
    assert sum(int(r[4]) for r in rows) == sum(s["clicks"] for s in direct)
    assert sum(float(r[5]) for r in rows) == pytest.approx(sum(s["cost"] for s in direct), abs=0.05)
    assert all(r[6] == "--" for r in rows if r[4] == "0")


def test_online_mode_micros_vat_and_skipped_headers(sandbox: Sandbox, world) -> None:
    body = _body("perf_micros", ["CampaignId", "Cost"], vat="YES")
    r = _post(
        sandbox,
        body,
        processingMode="online",
        skipReportHeader="true",
        skipColumnHeader="true",
        skipReportSummary="true",
    )
    assert r.status_code == 200
    rows = [ln.split("\t") for ln in r.text.strip().split("\n")]
    stats = pq.read_table(world / "tables" / "ad_stats.parquet")
    direct = stats.filter(pc.equal(stats["network"], "yandex_direct")).to_pylist()
    total = sum(s["cost"] for s in direct if "2026-10-01" <= s["date"].isoformat() <= "2026-10-10")
    assert all(r[1].isdigit() for r in rows)  # money in micros by default
    assert sum(int(r[1]) for r in rows) / 1e6 == pytest.approx(total * (1 + VAT_RATE), rel=1e-6)


def test_errors(sandbox: Sandbox) -> None:
    r = _post(sandbox, _body("x", ["Date"]), Authorization="Bearer nope")
    assert r.status_code == 400 and r.json()["error"]["error_code"] == "53"
    assert set(r.json()["error"]) == {"request_id", "error_code", "error_string", "error_detail"}
    r = _post(sandbox, _body("x2", ["Date", "Bogus"]))
    assert r.status_code == 400 and "Bogus" in r.json()["error"]["error_detail"]
    _post(sandbox, _body("same", ["Date"]))
    r = _post(sandbox, _body("same", ["Date", "Clicks"]))
    assert r.status_code == 400  # same ReportName, different parameters
    r = _post(sandbox, _body("x3", ["Date"]), **{"Client-Login": "someone-else"})
    assert r.status_code == 400 and r.json()["error"]["error_code"] == "54"
