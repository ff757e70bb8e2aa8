"""Billing sandbox: YooKassa-style lists with cursors, filters, auth; merchant subscription states."""

from __future__ import annotations

import httpx
import pyarrow.parquet as pq

from simulator.sandbox import Sandbox

AUTH = ("123456", "sandbox-secret-key")


def _all(sb: Sandbox, path: str, **params: str) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        q = {**params, **({"cursor": cursor} if cursor else {})}
        r = httpx.get(f"{sb.urls['billing']}{path}", params=q, auth=AUTH)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["type"] == "list"
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return items


def test_payments_pages_newest_first_and_cover_everything(sandbox: Sandbox, world) -> None:
    items = _all(sandbox, "/v3/payments", limit="37")
    table = pq.read_table(world / "tables" / "billing_payments.parquet")
    assert sorted(i["id"] for i in items) == sorted(table["id"].to_pylist())
    created = [i["created_at"] for i in items]
    assert created == sorted(created, reverse=True)
    assert any(i["test"] for i in items)
    assert any(
        i["status"] == "canceled" and i["cancellation_details"]["reason"] == "insufficient_funds"
        for i in items
    )
    saved = [i for i in items if i["metadata"]["kind"] == "renewal" and i["status"] == "succeeded"]
    assert all(i["payment_method"]["saved"] for i in saved)
    window = _all(
        sandbox,
        "/v3/payments",
        **{
            "created_at.gte": "2026-10-05T00:00:00.000Z",
            "created_at.lt": "2026-10-07T00:00:00.000Z",
            "limit": "100",
        },
    )
    assert window and all("2026-10-05" <= i["created_at"] < "2026-10-07" for i in window)
    assert len(window) == sum("2026-10-05" <= i["created_at"] < "2026-10-07" for i in items)
    one = httpx.get(f"{sandbox.urls['billing']}/v3/payments/{items[0]['id']}", auth=AUTH)
    assert one.json() == items[0]


def test_refunds_and_errors(sandbox: Sandbox) -> None:
    refunds = _all(sandbox, "/v3/refunds", limit="100")
    for r in refunds:
        assert r["status"] == "succeeded" and r["payment_id"]
    r = httpx.get(f"{sandbox.urls['billing']}/v3/payments", auth=("123456", "wrong"))
    assert r.status_code == 401 and r.json()["type"] == "error" and r.json()["code"] == "invalid_credentials"
    r = httpx.get(f"{sandbox.urls['billing']}/v3/payments", params={"limit": "500"}, auth=AUTH)
    assert r.status_code == 400 and r.json()["parameter"] == "limit"
    r = httpx.get(f"{sandbox.urls['billing']}/v3/payments/nope", auth=AUTH)
    assert r.status_code == 404


def test_subscription_states_by_updated_at_cursor(sandbox: Sandbox, world) -> None:
    items = _all(sandbox, "/merchant/v1/subscriptions", limit="25")
    table = pq.read_table(world / "tables" / "billing_subscriptions.parquet")
    assert sorted(i["subscription_id"] for i in items) == sorted(table["subscription_id"].to_pylist())
    keys = [(i["updated_at"], i["subscription_id"]) for i in items]
    assert keys == sorted(keys)
    assert {i["status"] for i in items} >= {"trial", "active", "cancelled"}
    later = _all(sandbox, "/merchant/v1/subscriptions", **{"updated_at.gte": "2026-10-08T00:00:00Z"})
    assert later and all(i["updated_at"] >= "2026-10-08" for i in later)
