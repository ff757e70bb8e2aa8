"""AppMetrica Logs API export (events, sessions_starts, installations) over a generated world.

The first request for a URL answers ``202 Wait for result``; repeating the identical URL answers 200
with the file once ``ready_after_polls`` repeats have been made. ``Cache-Control: no-cache``
restarts preparation. More than 3 queued exports per application gives 429. Local times are
rendered in Moscow time; ``*_timestamp`` fields are Unix seconds.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
import time
from collections.abc import Callable

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from simulator.sandbox.http import Request, Response, ServiceApp
from simulator.sandbox.store import MSK_MS, WorldStore, msk_str, ts_ms
from simulator.world.tables import DEVICE_FIELDS

WAIT_TEXT = "Wait for result"
QUEUE_TEXT = "There are already 3 enqueued queries for given application_id. Wait until they are completed."
EPOCH_CLICK = "1970-01-01 03:00:00"  # organic installs: zero click time rendered in Moscow time

Getter = Callable[[pa.Table], list[str]]


def _s(col: str) -> Getter:
    return lambda t: ["" if v is None else str(v) for v in t[col].to_pylist()]


def _dt(col: str) -> Getter:
    return lambda t: [msk_str(v) if v else EPOCH_CLICK for v in ts_ms(t[col])]


def _ts(col: str) -> Getter:
    return lambda t: [str(v // 1000) for v in ts_ms(t[col])]


def _const(v: str) -> Getter:
    return lambda t: [v] * t.num_rows


_COMMON: dict[str, Getter] = {
    "application_id": _s("application_id"),
    "installation_id": _s("installation_id"),
    "appmetrica_device_id": _s("appmetrica_device_id"),
    "profile_id": _s("profile_id"),
    **{f: _s(f) for f in DEVICE_FIELDS},
}

RESOURCES: dict[str, dict] = {
    "events": {
        "table": "appmetrica_events",
        "default_col": "event_ms",
        "receive_col": "event_receive_ms",
        "fields": {
            **_COMMON,
            "event_datetime": _dt("event_ms"),
            "event_json": _s("event_json"),
            "event_name": _s("event_name"),
            "event_receive_datetime": _dt("event_receive_ms"),
            "event_receive_timestamp": _ts("event_receive_ms"),
            "event_timestamp": _ts("event_ms"),
            "session_id": _s("session_id"),
            "connection_type": _s("connection_type"),
            "device_ipv6": _s("device_ipv6"),
        },
    },
    "sessions_starts": {
        "table": "appmetrica_sessions_starts",
        "default_col": "session_start_ms",
        "receive_col": "session_start_receive_ms",
        "fields": {
            **_COMMON,
            "session_id": _s("session_id"),
            "session_start_datetime": _dt("session_start_ms"),
            "session_start_receive_datetime": _dt("session_start_receive_ms"),
            "session_start_receive_timestamp": _ts("session_start_receive_ms"),
            "session_start_timestamp": _ts("session_start_ms"),
            "connection_type": _s("connection_type"),
            "device_ipv6": _s("device_ipv6"),
        },
    },
    "installations": {
        "table": "appmetrica_installations",
        "default_col": "install_ms",
        "receive_col": "install_receive_ms",
        "fields": {
            **_COMMON,
            "attributed_touch_type": _s("attributed_touch_type"),
            "click_datetime": _dt("click_ms"),
            "click_id": _s("click_id"),
            "click_ipv6": _s("click_ipv6"),
            "click_timestamp": _ts("click_ms"),
            "click_url_parameters": _s("click_url_parameters"),
            "click_user_agent": _s("click_user_agent"),
            "publisher_id": _s("publisher_id"),
            "publisher_name": _s("publisher_name"),
            "tracker_name": _s("tracker_name"),
            "tracking_id": _s("tracking_id"),
            "install_datetime": _dt("install_ms"),
            "install_ipv6": _s("install_ipv6"),
            "install_receive_datetime": _dt("install_receive_ms"),
            "install_receive_timestamp": _ts("install_receive_ms"),
            "install_timestamp": _ts("install_ms"),
            "is_reattribution": _s("is_reattribution"),
            "is_reinstallation": _s("is_reinstallation"),
            "match_type": _s("match_type"),
        },
    },
}
_CONTROL_PARAMS = {
    "application_id",
    "date_since",
    "date_until",
    "fields",
    "date_dimension",
    "limit",
    "use_utf8_bom",
    "skip_unavailable_shards",
    "parts_count",
    "part_number",
    "oauth_token",
}


def _parse_dt(value: str, end: bool) -> int | None:
    """``yyyy-mm-dd hh:mm:ss`` (or a date) in Moscow time -> UTC epoch ms."""
    try:
        if len(value) == 10:
            d = dt.datetime.fromisoformat(value) + (
                dt.timedelta(hours=23, minutes=59, seconds=59) if end else dt.timedelta()
            )
        else:
            d = dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return int(d.replace(tzinfo=dt.UTC).timestamp() * 1000) - MSK_MS


class AppMetricaApp(ServiceApp):
    name = "appmetrica"

    def __init__(
        self,
        store: WorldStore,
        token: str = "sandbox-appmetrica-token",
        ready_after_polls: int = 1,
        max_queue: int = 3,
        prepare_seconds: float = 30.0,
    ) -> None:
        super().__init__()
        self.store = store
        self.token = token
        self.ready_after_polls = ready_after_polls
        self.max_queue = max_queue
        # An export nobody polls again is finished in the background after this long, so abandoned
        # requests do not hold queue slots forever.
        self.prepare_seconds = prepare_seconds
        self.jobs: dict[str, dict] = {}
        self.state_lock = threading.Lock()
        self.route("GET", r"/logs/v1/export/(?P<resource>[a-z_0-9]+)\.(?P<fmt>csv|json)", self.export)
        self.route("GET", r"/logs/v1/availability", self.availability)

    def error_response(self, status: int, message: str) -> Response:
        return Response.text(message, status)

    def _auth(self, req: Request) -> Response | None:
        auth = req.header("authorization") or ""
        if not auth:
            return Response.json(
                {
                    "errors": [{"error_type": "unauthorized", "message": "Authorization required"}],
                    "code": 401,
                    "message": "Authorization required",
                },
                401,
            )
        if not auth.startswith("OAuth ") or auth[6:].strip() != self.token:
            return Response.json(
                {
                    "errors": [{"error_type": "invalid_token", "message": "Invalid oauth_token"}],
                    "code": 403,
                    "message": "Invalid oauth_token",
                },
                403,
            )
        app = req.arg("application_id")
        if not app:
            return Response.text("Missing required parameter: application_id", 400)
        if app != str(self.store.cfg.application_id):
            return Response.json(
                {
                    "errors": [{"error_type": "access_denied", "message": "Access denied"}],
                    "code": 403,
                    "message": "Access denied",
                },
                403,
            )
        return None

    def availability(self, req: Request) -> Response:
        err = self._auth(req)
        return err or Response.json({"logs_api_availability_status": "enabled"})

    def export(self, req: Request) -> Response:
        err = self._auth(req)
        if err:
            return err
        resource, fmt = req.params["resource"], req.params["fmt"]
        spec = RESOURCES.get(resource)
        if spec is None:
            return Response.text(f"Unsupported resource: {resource}", 400)
        for name in ("date_since", "date_until", "fields"):
            if not req.arg(name):
                return Response.text(f"Missing required parameter: {name}", 400)
        since = _parse_dt(req.arg("date_since") or "", end=False)
        until = _parse_dt(req.arg("date_until") or "", end=True)
        if since is None or until is None:
            return Response.text("Invalid date format, expected yyyy-mm-dd hh:mm:ss", 400)
        fields = [f.strip() for f in (req.arg("fields") or "").split(",") if f.strip()]
        unknown = [f for f in fields if f not in spec["fields"]]
        if unknown:
            return Response.text(f"Unknown fields: {','.join(unknown)}", 400)
        dim = req.arg("date_dimension", "default")
        if dim not in ("default", "receive"):
            return Response.text(f"Invalid date_dimension: {dim}", 400)
        filters = {k: v[-1] for k, v in req.query.items() if k not in _CONTROL_PARAMS}
        bad_filter = [k for k in filters if k not in spec["fields"]]
        if bad_filter:
            return Response.text(f"Unknown filter fields: {','.join(bad_filter)}", 400)
        key = f"{resource}.{fmt}?" + "&".join(
            f"{k}={v}" for k, v in sorted((k, v[-1]) for k, v in req.query.items() if k != "oauth_token")
        )
        no_cache = "no-cache" in (req.header("cache-control") or "")
        with self.state_lock:
            now = time.monotonic()
            for j in self.jobs.values():
                if not j["ready"] and now - j["created"] >= self.prepare_seconds:
                    j["ready"] = True
            job = self.jobs.get(key)
            if job is not None and job["ready"] and no_cache:
                job = None  # the client asked for a freshly prepared file
            if job is None:
                if sum(1 for j in self.jobs.values() if not j["ready"]) >= self.max_queue:
                    return Response.text(QUEUE_TEXT, 429)
                self.jobs[key] = {"polls": 0, "ready": self.ready_after_polls <= 0, "created": now}
                if self.ready_after_polls > 0:
                    return Response.text(WAIT_TEXT, 202)
            elif not job["ready"]:
                job["polls"] += 1
                if job["polls"] < self.ready_after_polls:
                    return Response.text(WAIT_TEXT, 202)
                job["ready"] = True
        return self._render(spec, resource, fmt, fields, dim, since, until, filters, req)

    def _render(
        self,
        spec: dict,
        resource: str,
        fmt: str,
        fields: list[str],
        dim: str,
        since: int,
        until: int,
        filters: dict[str, str],
        req: Request,
    ) -> Response:
        table = self.store.table(spec["table"])
        if any(f in DEVICE_FIELDS for f in [*fields, *filters]):
            devices = self.store.table("appmetrica_devices").drop_columns(["_person_id"])
            table = table.join(devices, "appmetrica_device_id", join_type="left outer")
        col = spec["default_col"] if dim == "default" else spec["receive_col"]
        ts = table[col].cast(pa.int64())
        t = table.filter(pc.and_(pc.greater_equal(ts, since), pc.less_equal(ts, until + 999)))
        t = t.sort_by([(col, "ascending"), ("appmetrica_device_id", "ascending")])
        getters = spec["fields"]
        for name, value in filters.items():
            vals = getters[name](t)
            t = t.filter(pa.array([v == value for v in vals], pa.bool_()))
        parts_count = int(req.arg("parts_count", "1") or 1)
        part_number = int(req.arg("part_number", "0") or 0)
        cols = {f: getters[f](t) for f in fields}
        n = t.num_rows
        rows = [
            [cols[f][i] for f in fields]
            for i in range(n)
            if parts_count <= 1 or i % parts_count == part_number
        ]
        rows = self._inject_bad(resource, t, rows, fields, since, until, dim, spec)
        limit = req.arg("limit")
        if limit and limit.isdigit():
            rows = rows[: int(limit)]
        if fmt == "json":
            body = orjson.dumps({"data": [dict(zip(fields, r, strict=False)) for r in rows]})
            return Response(200, body, "application/json; charset=utf-8")
        buf = io.StringIO()
        if req.arg("use_utf8_bom") == "true":
            buf.write("\ufeff")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(fields)
        w.writerows(rows)
        return Response(200, buf.getvalue().encode(), "text/csv; charset=utf-8")

    def _inject_bad(
        self,
        resource: str,
        t: pa.Table,
        rows: list[list[str]],
        fields: list[str],
        since: int,
        until: int,
        dim: str,
        spec: dict,
    ) -> list[list[str]]:
        bad = self.store.malformed("appmetrica_" + resource)
        if not bad or not rows:
            return rows
        out = list(rows)
        for b in bad:
            if resource == "events":
                session_id, name, ev_ms = b["key"].split("|")
                match = [
                    i
                    for i, (s, e, m) in enumerate(
                        zip(
                            t["session_id"].to_pylist(),
                            t["event_name"].to_pylist(),
                            ts_ms(t["event_ms"]),
                            strict=True,
                        )
                    )
                    if s == session_id and e == name and str(m) == ev_ms
                ]
            else:
                match = [i for i, v in enumerate(t["installation_id"].to_pylist()) if v == b["key"]]
            if not match or match[0] >= len(out):
                continue
            row = list(out[match[0]])
            if b["kind"] == "wrong_column_count":
                row = [*row, "unexpected"]
            else:
                ts_fields = [i for i, f in enumerate(fields) if f.endswith("_timestamp")]
                if ts_fields:
                    row[ts_fields[0]] = "abc"
                else:
                    row = [*row, "unexpected"]
            out.insert(match[0] + 1, row)
        return out
