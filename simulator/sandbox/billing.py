"""Billing: a YooKassa v3 style payments/refunds API plus the merchant's subscription-state API.

YooKassa part (Basic auth ``shopId:secretKey``):
    GET /v3/payments   created_at.gte|gt|lte|lt, status, limit (1..100, default 10), cursor
    GET /v3/payments/{id}
    GET /v3/refunds    same filters (+ payment_id); GET /v3/refunds/{id}
Lists are newest first: {"type": "list", "items": [...], "next_cursor": "..."} (no next_cursor on the
last page). The merchant's own service (same credentials; YooKassa has no subscription object):
    GET /merchant/v1/subscriptions   updated_at.gte|gt, limit (1..1000, default 100), cursor
oldest update first, the cursor continues after the last (updated_at, subscription_id).
"""

from __future__ import annotations

import base64
import datetime as dt

import orjson

from simulator.rng import uuid_from
from simulator.sandbox.http import Request, Response, ServiceApp
from simulator.sandbox.store import WorldStore, ts_ms
from simulator.world.person import iso_ms


def _parse_iso(value: str) -> int | None:
    try:
        d = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.UTC)
    return int(d.timestamp() * 1000)


def _encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode().rstrip("=")


def _decode_cursor(value: str) -> list | None:
    try:
        return orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None


class BillingApp(ServiceApp):
    name = "billing"

    def __init__(
        self, store: WorldStore, shop_id: str = "123456", secret_key: str = "sandbox-secret-key"
    ) -> None:
        super().__init__()
        self.store = store
        self.shop_id = shop_id
        self.secret_key = secret_key
        self._docs: dict[str, list[tuple[int, str, str, dict]]] = {}
        self.route("GET", r"/v3/payments", lambda r: self._list(r, "payments"))
        self.route("GET", r"/v3/payments/(?P<id>[^/]+)", lambda r: self._one(r, "payments"))
        self.route("GET", r"/v3/refunds", lambda r: self._list(r, "refunds"))
        self.route("GET", r"/v3/refunds/(?P<id>[^/]+)", lambda r: self._one(r, "refunds"))
        self.route("GET", r"/merchant/v1/subscriptions", self.subscriptions)

    def error_response(
        self, status: int, message: str, code: str | None = None, parameter: str | None = None
    ) -> Response:
        code = code or {
            400: "invalid_request",
            401: "invalid_credentials",
            403: "forbidden",
            404: "not_found",
            429: "too_many_requests",
        }.get(status, "internal_server_error")
        body = {
            "type": "error",
            "id": uuid_from("sandbox-error", status, message),
            "code": code,
            "description": message,
        }
        if parameter:
            body["parameter"] = parameter
        return Response.json(body, status)

    def _auth(self, req: Request) -> Response | None:
        auth = req.header("authorization") or ""
        if auth.startswith("Basic "):
            try:
                user, _, pwd = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                user = pwd = ""
            if user == self.shop_id and pwd == self.secret_key:
                return None
        return self.error_response(
            401, "Login and password for basic authentication are invalid", "invalid_credentials"
        )

    def _rows(self, kind: str) -> list[tuple[int, str, str, dict]]:
        """(created_ms, id, payment_id, document) sorted newest first; malformed payments included."""
        rows = self._docs.get(kind)
        if rows is None:
            t = self.store.table("billing_" + kind)
            docs = [orjson.loads(d) for d in t["doc"].to_pylist()]
            rows = [
                (ms, i, d.get("payment_id", ""), d)
                for ms, i, d in zip(ts_ms(t["created_at"]), t["id"].to_pylist(), docs, strict=True)
            ]
            if kind == "payments":
                for b in self.store.malformed("billing_payments"):
                    doc = orjson.loads(b["payload"])
                    rows.append((_parse_iso(doc["created_at"]) or 0, doc["id"], "", doc))
            rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
            self._docs[kind] = rows
        return rows

    def _list(self, req: Request, kind: str) -> Response:
        err = self._auth(req)
        if err:
            return err
        bounds = {}
        for op in ("gte", "gt", "lte", "lt"):
            value = req.arg(f"created_at.{op}")
            if value is not None:
                ms = _parse_iso(value)
                if ms is None:
                    return self.error_response(
                        400, f"Invalid value of created_at.{op}", parameter=f"created_at.{op}"
                    )
                bounds[op] = ms
        limit_s = req.arg("limit", "10") or "10"
        if not limit_s.isdigit() or not 1 <= int(limit_s) <= 100:
            return self.error_response(400, "limit must be between 1 and 100", parameter="limit")
        limit = int(limit_s)
        after: tuple[int, str] | None = None
        cursor = req.arg("cursor")
        if cursor:
            decoded = _decode_cursor(cursor)
            if not decoded or len(decoded) != 2:
                return self.error_response(400, "Invalid cursor", parameter="cursor")
            after = (int(decoded[0]), str(decoded[1]))
        status = req.arg("status")
        payment_id = req.arg("payment_id")
        items = []
        next_cursor = None
        for ms, oid, pid, doc in self._rows(kind):
            if after is not None and (ms, oid) >= after:
                continue
            if ("gte" in bounds and ms < bounds["gte"]) or ("gt" in bounds and ms <= bounds["gt"]):
                continue
            if ("lte" in bounds and ms > bounds["lte"]) or ("lt" in bounds and ms >= bounds["lt"]):
                continue
            if status and doc.get("status") != status:
                continue
            if payment_id and pid != payment_id:
                continue
            if len(items) == limit:
                last = items[-1]
                next_cursor = _encode_cursor(_parse_iso(last["created_at"]) or 0, last["id"])
                break
            items.append(doc)
        body: dict = {"type": "list", "items": items}
        if next_cursor:
            body["next_cursor"] = next_cursor
        return Response.json(body)

    def _one(self, req: Request, kind: str) -> Response:
        err = self._auth(req)
        if err:
            return err
        for _, oid, _, doc in self._rows(kind):
            if oid == req.params["id"]:
                return Response.json(doc)
        return self.error_response(404, f"{kind[:-1].capitalize()} not found", "not_found")

    def subscriptions(self, req: Request) -> Response:
        err = self._auth(req)
        if err:
            return err
        t = self.store.table("billing_subscriptions").drop_columns(["_person_id"])
        rows = t.to_pylist()
        for r in rows:
            for k, v in r.items():
                if isinstance(v, dt.datetime):
                    r[k] = iso_ms(int(v.timestamp() * 1000))
        upd = ts_ms(t["updated_at"])
        order = sorted(range(len(rows)), key=lambda i: (upd[i], rows[i]["subscription_id"]))
        lower = None
        strict = False
        for op in ("gte", "gt"):
            value = req.arg(f"updated_at.{op}")
            if value is not None:
                lower = _parse_iso(value)
                strict = op == "gt"
                if lower is None:
                    return self.error_response(
                        400, f"Invalid value of updated_at.{op}", parameter=f"updated_at.{op}"
                    )
        limit_s = req.arg("limit", "100") or "100"
        if not limit_s.isdigit() or not 1 <= int(limit_s) <= 1000:
            return self.error_response(400, "limit must be between 1 and 1000", parameter="limit")
        limit = int(limit_s)
        after = None
        if req.arg("cursor"):
            decoded = _decode_cursor(req.arg("cursor") or "")
            if not decoded or len(decoded) != 2:
                return self.error_response(400, "Invalid cursor", parameter="cursor")
            after = (int(decoded[0]), str(decoded[1]))
        items = []
        next_cursor = None
        last_i = -1
        for i in order:
            key = (upd[i], rows[i]["subscription_id"])
            if after is not None and key <= after:
                continue
            if lower is not None and (upd[i] < lower or (strict and upd[i] == lower)):
                continue
            if len(items) == limit:
                next_cursor = _encode_cursor(upd[last_i], rows[last_i]["subscription_id"])
                break
            items.append(rows[i])
            last_i = i
        body: dict = {"type": "list", "items": items}
        if next_cursor:
            body["next_cursor"] = next_cursor
        return Response.json(body)
