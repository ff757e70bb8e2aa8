"""AppMetrica Logs API sandbox: the 202 protocol, CSV/JSON formats, filters, errors."""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from simulator.sandbox import Sandbox
from simulator.sandbox.appmetrica import QUEUE_TEXT, WAIT_TEXT

H = {"Authorization": "OAuth sandbox-appmetrica-token"}
APP = "4567890"
FIELDS = "event_name,event_json,event_datetime,event_timestamp,event_receive_timestamp,appmetrica_device_id,profile_id,os_name,session_id"


def _get(sb: Sandbox, resource: str, fmt: str, headers: dict | None = None, **params: str) -> httpx.Response:
    return httpx.get(
        f"{sb.urls['appmetrica']}/logs/v1/export/{resource}.{fmt}",
        params={"application_id": APP, **params},
        headers={**H, **(headers or {})},
    )


def _ready(sb: Sandbox, resource: str, fmt: str, **params: str) -> httpx.Response:
    first = _get(sb, resource, fmt, **params)
    assert first.status_code == 202 and first.text == WAIT_TEXT
    assert first.headers["content-type"].startswith("text/plain")
    second = _get(sb, resource, fmt, **params)
    assert second.status_code == 200, second.text
    return second


def test_events_csv_after_202_matches_the_world(sandbox: Sandbox, world) -> None:
    r = _ready(
        sandbox,
        "events",
        "csv",
        date_since="2026-10-02 00:00:00",
        date_until="2026-10-04 23:59:59",
        fields=FIELDS,
    )
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == FIELDS.split(",")
    data = rows[1:]
    ev = pq.read_table(world / "tables" / "appmetrica_events.parquet")
    lo = int(dt.datetime(2026, 10, 1, 21, tzinfo=dt.UTC).timestamp() * 1000)  # 2026-10-02 00:00 MSK
    hi = lo + 3 * 86_400_000
    ts = ev["event_ms"].cast(pa.int64())
    assert len(data) == ev.filter(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi))).num_rows
    assert all(row[2] >= "2026-10-02" and row[2] <= "2026-10-04 23:59:59" for row in data)
    assert "" in {row[1] for row in data}  # attribute-less events send an empty event_json
    assert any(row[1].startswith("{") for row in data)
    assert {row[7] for row in data} <= {"android", "ios"}
    assert any(int(row[5]) > 2**63 for row in data)
    assert any(int(row[4]) - int(row[3]) > 3600 for row in data)  # uploaded late by offline devices
    again = _get(
        sandbox,
        "events",
        "csv",
        date_since="2026-10-02 00:00:00",
        date_until="2026-10-04 23:59:59",
        fields=FIELDS,
    )
    assert again.status_code == 200 and again.content == r.content  # cached file


def test_json_is_one_object_with_string_values(sandbox: Sandbox) -> None:
    r = _ready(
        sandbox,
        "installations",
        "json",
        date_since="2026-10-01",
        date_until="2026-10-11",
        fields="installation_id,appmetrica_device_id,click_datetime,click_timestamp,publisher_name,tracker_name,is_reinstallation",
    )
    data = r.json()["data"]
    assert data and all(isinstance(v, str) for row in data for v in row.values())
    organic = [d for d in data if not d["publisher_name"]]
    paid = [d for d in data if d["publisher_name"]]
    assert organic and paid
    assert all(d["click_datetime"] == "1970-01-01 03:00:00" and d["click_timestamp"] == "0" for d in organic)
    assert {d["publisher_name"] for d in paid} <= {"Yandex.Direct", "VK Ads", "myTarget"}


def test_receive_dimension_filters_and_no_cache(sandbox: Sandbox) -> None:
    params = dict(
        date_since="2026-10-05 00:00:00",
        date_until="2026-10-05 23:59:59",
        fields="session_id,session_start_receive_datetime,os_name",
        date_dimension="receive",
        os_name="ios",
    )
    rows = list(csv.reader(io.StringIO(_ready(sandbox, "sessions_starts", "csv", **params).text)))[1:]
    assert rows and all(r[1].startswith("2026-10-05") and r[2] == "ios" for r in rows)
    fresh = _get(sandbox, "sessions_starts", "csv", headers={"Cache-Control": "no-cache"}, **params)
    assert fresh.status_code == 202  # regeneration requested
    assert _get(sandbox, "sessions_starts", "csv", **params).status_code == 200


def test_errors_and_queue_limit(sandbox: Sandbox) -> None:
    assert (
        _get(
            sandbox,
            "events",
            "csv",
            headers={"Authorization": ""},
            date_since="2026-10-01",
            date_until="2026-10-01",
            fields="event_name",
        ).status_code
        == 401
    )
    assert (
        _get(
            sandbox,
            "events",
            "csv",
            headers={"Authorization": "OAuth nope"},
            date_since="2026-10-01",
            date_until="2026-10-01",
            fields="event_name",
        ).status_code
        == 403
    )
    r = _get(
        sandbox, "events", "csv", date_since="2026-10-01", date_until="2026-10-01", fields="event_name,bogus"
    )
    assert r.status_code == 400 and "bogus" in r.text
    codes = [
        _get(
            sandbox,
            "events",
            "csv",
            date_since=f"2026-09-{d:02d}",
            date_until=f"2026-09-{d:02d}",
            fields="event_name",
        ).status_code
        for d in range(10, 15)
    ]
    assert codes[:3] == [202, 202, 202] and codes[3] == 429
    r = _get(sandbox, "events", "csv", date_since="2026-09-20", date_until="2026-09-20", fields="event_name")
    assert r.status_code == 429 and r.text == QUEUE_TEXT
    # completing a queued export frees a slot
    assert (
        _get(
            sandbox, "events", "csv", date_since="2026-09-10", date_until="2026-09-10", fields="event_name"
        ).status_code
        == 200
    )
    assert (
        _get(
            sandbox, "events", "csv", date_since="2026-09-20", date_until="2026-09-20", fields="event_name"
        ).status_code
        == 202
    )
    for d in (11, 12, 20):  # drain the queue for other tests
        _get(
            sandbox,
            "events",
            "csv",
            date_since=f"2026-09-{d:02d}",
            date_until=f"2026-09-{d:02d}",
            fields="event_name",
        )
