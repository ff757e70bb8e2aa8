"""Content catalogue sandbox API: paging, updated_since, auth."""

from __future__ import annotations

import httpx
import pyarrow.parquet as pq

from simulator.sandbox import Sandbox

H = {"Authorization": "Bearer sandbox-content-token"}


def test_paging_and_updated_since(sandbox: Sandbox, world) -> None:
    base = f"{sandbox.urls['content']}/api/v1/content"
    items, page = [], 1
    while page:
        body = httpx.get(base, params={"page": page, "per_page": 250}, headers=H).json()
        items += body["items"]
        page = body["next_page"]
    table = pq.read_table(world / "tables" / "content.parquet")
    assert len(items) == table.num_rows == body["total"]
    types = {i["content_type"] for i in items}
    assert types == {"film", "series", "season", "episode"}
    ep = next(i for i in items if i["content_type"] == "episode")
    assert ep["parent_id"] and ep["series_id"] and isinstance(ep["genres"], list)
    recent = httpx.get(
        base, params={"updated_since": "2026-10-01T00:00:00Z", "per_page": 500}, headers=H
    ).json()
    assert recent["items"] and all(i["updated_at"] >= "2026-10-01" for i in recent["items"])
    assert recent["total"] < len(items)
    one = httpx.get(f"{base}/{ep['content_id']}", headers=H).json()
    assert one == ep


def test_auth_and_not_found(sandbox: Sandbox) -> None:
    base = f"{sandbox.urls['content']}/api/v1/content"
    assert httpx.get(base).status_code == 401
    assert httpx.get(f"{base}/1", headers=H).status_code == 404
    assert httpx.get(base, params={"per_page": 0}, headers=H).status_code == 400
