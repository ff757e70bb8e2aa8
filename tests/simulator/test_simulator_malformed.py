"""Malformed rows: injected in every source's own format and listed in truth."""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pyarrow.parquet as pq

from simulator.sandbox import Sandbox

SOURCES = (
    "metrica_visits",
    "metrica_hits",
    "appmetrica_events",
    "appmetrica_installations",
    "direct_stats",
    "ad_costs",
    "player_logs",
    "billing_payments",
    "content",
    "auth_logins",
)


def _truth(world: Path) -> list[dict]:
    return pq.read_table(world / "truth" / "malformed_rows.parquet").to_pylist()


def test_every_source_gets_its_bad_rows_listed(bad_world: Path) -> None:
    counts = Counter(r["source"] for r in _truth(bad_world))
    assert {s: counts[s] for s in SOURCES} == {s: 3 for s in SOURCES}
    assert all(r["reason"] and r["location"] for r in _truth(bad_world))


def test_file_sources_have_bad_lines_where_truth_says(bad_world: Path) -> None:
    for r in _truth(bad_world):
        if r["source"] == "player_logs":
            path, line = r["key"].rsplit(":", 1)
            with gzip.open(bad_world / path) as fh:
                lines = fh.read().split(b"\n")
            bad = lines[int(line) - 1]
            try:
                orjson.loads(bad)
                raise AssertionError(f"{r['location']} is valid JSON")
            except orjson.JSONDecodeError:
                pass
        if r["source"] == "ad_costs":
            path, line = r["key"].rsplit(":", 1)
            rows = list(csv.reader((bad_world / path).open(encoding="utf-8")))
            row = rows[int(line) - 1]
            assert len(row) != len(rows[0]) or row[8] == "n/a"


def test_api_sources_serve_their_bad_rows(bad_sandbox: Sandbox) -> None:
    auth = ("123456", "sandbox-secret-key")
    items, cursor = [], None
    while True:
        body = httpx.get(
            f"{bad_sandbox.urls['billing']}/v3/payments",
            params={"limit": "100", **({"cursor": cursor} if cursor else {})},
            auth=auth,
        ).json()
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert sum(i["amount"]["value"] == "abc" for i in items) == 3
    content = httpx.get(
        f"{bad_sandbox.urls['content']}/api/v1/content",
        params={"per_page": 500, "page": 1},
        headers={"Authorization": "Bearer sandbox-content-token"},
    ).json()
    pages = [content]
    while pages[-1]["next_page"]:
        pages.append(
            httpx.get(
                f"{bad_sandbox.urls['content']}/api/v1/content",
                params={"per_page": 500, "page": pages[-1]["next_page"]},
                headers={"Authorization": "Bearer sandbox-content-token"},
            ).json()
        )
    assert sum(i["duration_sec"] == "abc" for p in pages for i in p["items"]) == 3
    base = f"{bad_sandbox.urls['metrica']}/management/v1/counter/44147844"
    h = {"Authorization": "OAuth sandbox-metrica-token"}
    fields = "ym:s:visitID,ym:s:date,ym:s:clientID"
    bad_rows = 0
    for d1, d2 in (("2026-09-20", "2026-09-29"), ("2026-09-30", "2026-10-06"), ("2026-10-07", "2026-10-08")):
        rid = httpx.post(
            f"{base}/logrequests",
            params={"date1": d1, "date2": d2, "source": "visits", "fields": fields},
            headers=h,
        ).json()["log_request"]["request_id"]
        httpx.get(f"{base}/logrequest/{rid}", headers=h)
        st = httpx.get(f"{base}/logrequest/{rid}", headers=h).json()["log_request"]
        for p in st["parts"]:
            text = httpx.get(f"{base}/logrequest/{rid}/part/{p['part_number']}/download", headers=h).text
            for line in text.split("\n")[1:-1]:
                cells = line.split("\t")
                bad_rows += len(cells) != 3 or not cells[0].isdigit()
    assert bad_rows == 3
