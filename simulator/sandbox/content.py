"""Content catalogue REST API (the platform's own CMS).

    GET /api/v1/content?updated_since=<ISO-8601>&content_type=<film|series|season|episode>
                       &page=<1..>&per_page=<1..500, default 100>
        -> {"items": [...], "page": 1, "per_page": 100, "total": N, "next_page": 2 | null}
       ordered by (updated_at, content_id); updated_since is inclusive.
    GET /api/v1/content/{content_id}
Auth: ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import datetime as dt

import orjson

from simulator.sandbox.http import Request, Response, ServiceApp
from simulator.sandbox.store import WorldStore, ts_ms
from simulator.world.person import iso_ms


class ContentApp(ServiceApp):
    name = "content"

    def __init__(self, store: WorldStore, token: str = "sandbox-content-token") -> None:
        super().__init__()
        self.store = store
        self.token = token
        self._items: list[tuple[int, int, dict]] | None = None
        self.route("GET", r"/api/v1/content", self.list)
        self.route("GET", r"/api/v1/content/(?P<id>[^/]+)", self.one)

    def error_response(self, status: int, message: str) -> Response:
        return Response.json({"error": {"status": status, "message": message}}, status)

    def _auth(self, req: Request) -> Response | None:
        auth = req.header("authorization") or ""
        if auth != f"Bearer {self.token}":
            return self.error_response(401, "invalid or missing bearer token")
        return None

    def items(self) -> list[tuple[int, int, dict]]:
        if self._items is None:
            t = self.store.table("content")
            upd = ts_ms(t["updated_at"])
            created = ts_ms(t["created_at"])
            out = []
            for u, c, row in zip(upd, created, t.to_pylist(), strict=True):
                for k in ("licence_start", "licence_end"):
                    row[k] = row[k].isoformat() if row[k] is not None else None
                row["created_at"] = iso_ms(c)
                row["updated_at"] = iso_ms(u)
                out.append((u, row["content_id"], row))
            by_id = {cid: row for _, cid, row in out}
            for b in self.store.malformed("content"):
                src = by_id.get(orjson.loads(b["payload"])["copy_of"])
                if src is not None:
                    bad = {**src, "content_id": int(b["key"]), "duration_sec": "abc"}
                    out.append((_parse(bad["updated_at"]), bad["content_id"], bad))
            out.sort(key=lambda x: (x[0], x[1]))
            self._items = out
        return self._items

    def list(self, req: Request) -> Response:
        err = self._auth(req)
        if err:
            return err
        since = req.arg("updated_since")
        lower = None
        if since:
            lower = _parse(since)
            if lower is None:
                return self.error_response(400, "updated_since must be ISO-8601")
        ctype = req.arg("content_type")
        try:
            page = int(req.arg("page", "1") or 1)
            per_page = int(req.arg("per_page", "100") or 100)
        except ValueError:
            return self.error_response(400, "page and per_page must be integers")
        if page < 1 or not 1 <= per_page <= 500:
            return self.error_response(400, "page >= 1 and 1 <= per_page <= 500")
        rows = [
            r
            for u, _, r in self.items()
            if (lower is None or u >= lower) and (ctype is None or r["content_type"] == ctype)
        ]
        chunk = rows[(page - 1) * per_page : page * per_page]
        has_next = page * per_page < len(rows)
        return Response.json(
            {
                "items": chunk,
                "page": page,
                "per_page": per_page,
                "total": len(rows),
                "next_page": page + 1 if has_next else None,
            }
        )

    def one(self, req: Request) -> Response:
        err = self._auth(req)
        if err:
            return err
        for _, cid, row in self.items():
            if str(cid) == req.params["id"]:
                return Response.json(row)
        return self.error_response(404, "content not found")


def _parse(value: str) -> int | None:
    try:
        d = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.UTC)
    return int(d.timestamp() * 1000)
