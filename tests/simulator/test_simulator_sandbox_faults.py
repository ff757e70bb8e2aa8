"""Fault injection and request log, shared by every sandbox service."""

from __future__ import annotations

import time

import httpx
import pytest

from simulator.sandbox import Sandbox

AUTH = ("123456", "sandbox-secret-key")


def _faults(sb: Sandbox, service: str, *rules: dict) -> None:
    r = httpx.post(f"{sb.urls[service]}/_sandbox/faults", json={"rules": list(rules)})
    assert r.status_code == 201, r.text


def test_status_then_recovery_and_request_log(sandbox: Sandbox) -> None:
    base = sandbox.urls["billing"]
    httpx.delete(f"{base}/_sandbox/requests")
    _faults(sandbox, "billing", {"path": r"^/v3/payments$", "kind": "status", "status": 503, "times": 2})
    codes = [httpx.get(f"{base}/v3/payments", auth=AUTH).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    log = httpx.get(f"{base}/_sandbox/requests").json()["requests"]
    assert [e["status"] for e in log] == [503, 503, 200]
    assert log[0]["fault"] == "status" and log[-1]["fault"] is None
    assert log[0]["headers"]["authorization"].startswith("Basic ")
    rules = httpx.get(f"{base}/_sandbox/faults").json()["rules"]
    assert rules[0]["times"] == 0 and rules[0]["hits"] == 2


def test_429_carries_retry_after_in_the_service_error_format(sandbox: Sandbox) -> None:
    _faults(sandbox, "metrica", {"path": "logrequests", "kind": "429", "retry_after": 7})
    r = httpx.get(
        f"{sandbox.urls['metrica']}/management/v1/counter/44147844/logrequests",
        headers={"Authorization": "OAuth sandbox-metrica-token"},
    )
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert r.json()["errors"][0]["error_type"].startswith("quota_")


def test_slow_and_reset(sandbox: Sandbox) -> None:
    base = sandbox.urls["content"]
    _faults(sandbox, "content", {"path": "/api/v1/content", "kind": "slow", "delay": 0.6, "times": None})
    t0 = time.perf_counter()
    httpx.get(f"{base}/api/v1/content", headers={"Authorization": "Bearer sandbox-content-token"})
    assert time.perf_counter() - t0 >= 0.6
    assert httpx.delete(f"{base}/_sandbox/faults").json() == {"rules": []}
    t0 = time.perf_counter()
    httpx.get(f"{base}/api/v1/content", headers={"Authorization": "Bearer sandbox-content-token"})
    assert time.perf_counter() - t0 < 0.5


def test_truncate_sends_less_than_content_length(sandbox: Sandbox) -> None:
    _faults(sandbox, "billing", {"path": "/v3/payments", "kind": "truncate"})
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{sandbox.urls['billing']}/v3/payments", params={"limit": "50"}, auth=AUTH)
    assert httpx.get(f"{sandbox.urls['billing']}/v3/payments", auth=AUTH).status_code == 200


def test_malformed_corrupts_rows(sandbox: Sandbox) -> None:
    _faults(sandbox, "direct", {"path": "reports", "kind": "malformed", "rows": 2})
    body = {
        "params": {
            "SelectionCriteria": {"DateFrom": "2026-10-01", "DateTo": "2026-10-05"},
            "FieldNames": ["Date", "CampaignId", "Clicks", "Cost"],
            "ReportName": "faulty",
            "ReportType": "CAMPAIGN_PERFORMANCE_REPORT",
            "DateRangeType": "CUSTOM_DATE",
            "Format": "TSV",
            "IncludeVAT": "NO",
        }
    }
    r = httpx.post(
        f"{sandbox.urls['direct']}/json/v5/reports",
        json=body,
        headers={
            "Authorization": "Bearer sandbox-direct-token",
            "processingMode": "online",
            "skipReportHeader": "true",
            "skipReportSummary": "true",
        },
    )
    lines = r.text.strip().split("\n")
    assert sum(ln.count("\t") != 3 for ln in lines[1:]) == 2
    assert sum("corrupted" in ln for ln in lines) == 2
    _faults(sandbox, "billing", {"path": "/v3/payments", "kind": "malformed", "rows": 3})
    items = httpx.get(f"{sandbox.urls['billing']}/v3/payments", auth=AUTH).json()["items"]
    assert [i["amount"] for i in items[:3]] == ["###corrupted###"] * 3


def test_bad_rule_is_rejected(sandbox: Sandbox) -> None:
    r = httpx.post(f"{sandbox.urls['content']}/_sandbox/faults", json={"path": ".*", "kind": "explode"})
    assert r.status_code == 400
