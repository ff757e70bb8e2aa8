"""A tiny threaded HTTP server with routing, a request log and fault injection.

Built on ``http.server`` rather than an ASGI stack because the sandbox must misbehave on purpose
(send a Content-Length and cut the body short, stall, corrupt rows), which is easiest with direct
control of the socket; it also starts in milliseconds.

Every service mounts the same control endpoints:

    POST   /_sandbox/faults     {"rules": [{...}]} or a single rule object; appends rules
    GET    /_sandbox/faults     active rules with remaining counts
    DELETE /_sandbox/faults     removes all rules
    GET    /_sandbox/requests   request log (newest last); DELETE clears it
    GET    /_sandbox/health     {"status": "ok", "service": ...}

A rule: {"path": "<regex searched in the path>", "method": "GET" (optional),
"kind": "status" | "429" | "slow" | "truncate" | "malformed", "status": 503, "retry_after": 2,
"delay": 1.5, "rows": 3, "times": 1 (null = every matching request)}.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import http.server
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

FAULT_KINDS = ("status", "429", "slow", "truncate", "malformed")


@dataclasses.dataclass
class Request:
    method: str
    path: str
    raw_query: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = dataclasses.field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        return orjson.loads(self.body or b"null")


@dataclasses.dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(status, orjson.dumps(data), headers=headers or [])

    @classmethod
    def text(
        cls,
        text: str,
        status: int = 200,
        content_type: str = "text/plain; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        return cls(status, text.encode(), content_type, headers or [])


Handler = Callable[[Request], Response]


@dataclasses.dataclass
class FaultRule:
    path: str
    kind: str
    method: str | None = None
    status: int = 503
    retry_after: int = 1
    delay: float = 1.0
    rows: int = 1
    times: int | None = 1
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        self._re = re.compile(self.path)

    def matches(self, req: Request) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method and self.method.upper() != req.method:
            return False
        return self._re.search(req.path) is not None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items()}


class ServiceApp:
    """Routes plus per-service fault rules and request log. Subclasses register routes."""

    name = "service"

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.rules: list[FaultRule] = []
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self.lock = threading.RLock()

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile("^" + pattern + "$"), handler))

    # -- hooks a service overrides
    def error_response(self, status: int, message: str) -> Response:
        return Response.json({"error": message, "code": status}, status)

    def not_found(self, req: Request) -> Response:
        return self.error_response(404, f"no route for {req.method} {req.path}")

    def corrupt(self, resp: Response, rows: int) -> Response:
        return corrupt_body(resp, rows)

    # -- dispatch
    def dispatch(self, req: Request) -> tuple[Response, FaultRule | None]:
        if req.path.startswith("/_sandbox/"):
            return self._control(req), None
        rule = None
        with self.lock:
            for r in self.rules:
                if r.matches(req):
                    rule = r
                    r.hits += 1
                    if r.times is not None:
                        r.times -= 1
                    break
        if rule is not None and rule.kind == "slow":
            time.sleep(rule.delay)
        if rule is not None and rule.kind == "status":
            resp = self.error_response(rule.status, f"injected fault: HTTP {rule.status}")
        elif rule is not None and rule.kind == "429":
            resp = self.error_response(429, "injected fault: too many requests")
            resp.headers.append(("Retry-After", str(rule.retry_after)))
        else:
            resp = self._route(req)
            if rule is not None and rule.kind == "malformed":
                resp = self.corrupt(resp, rule.rows)
        return resp, rule

    def _route(self, req: Request) -> Response:
        for method, pattern, handler in self.routes:
            m = pattern.match(req.path)
            if m and method == req.method:
                req.params = m.groupdict()
                return handler(req)
        return self.not_found(req)

    def _control(self, req: Request) -> Response:
        path = req.path
        if path == "/_sandbox/health":
            return Response.json({"status": "ok", "service": self.name})
        if path == "/_sandbox/faults":
            if req.method == "GET":
                with self.lock:
                    return Response.json({"rules": [r.to_dict() for r in self.rules]})
            if req.method == "DELETE":
                with self.lock:
                    self.rules.clear()
                return Response.json({"rules": []})
            if req.method == "POST":
                try:
                    data = req.json()
                    specs = (
                        data["rules"]
                        if isinstance(data, dict) and "rules" in data
                        else (data if isinstance(data, list) else [data])
                    )
                    new = [FaultRule(**spec) for spec in specs]
                except (TypeError, ValueError, KeyError, re.error) as exc:
                    return Response.json({"error": f"bad fault rule: {exc}"}, 400)
                with self.lock:
                    self.rules.extend(new)
                    return Response.json({"rules": [r.to_dict() for r in self.rules]}, 201)
        if path == "/_sandbox/requests":
            if req.method == "DELETE":
                self.log.clear()
                return Response.json({"requests": []})
            return Response.json({"requests": list(self.log)})
        return Response.json({"error": "unknown control endpoint"}, 404)


def corrupt_body(resp: Response, rows: int) -> Response:
    """Corrupt ``rows`` data rows of a text body (after a header line), or list items of a JSON body."""
    ctype = resp.content_type
    if ctype.startswith("application/json"):
        try:
            data = orjson.loads(resp.body)
        except orjson.JSONDecodeError:
            return resp
        items = None
        if isinstance(data, dict):
            for key in ("items", "data", "requests"):
                if isinstance(data.get(key), list):
                    items = data[key]
                    break
        if items is None:
            resp.body = resp.body[: max(1, len(resp.body) // 2)]  # cut document: invalid JSON
            return resp
        for item in items[:rows]:
            if isinstance(item, dict) and item:
                key = "amount" if "amount" in item else next(iter(item))
                item[key] = "###corrupted###"
        resp.body = orjson.dumps(data)
        return resp
    lines = resp.body.split(b"\n")
    start = 1 if len(lines) > 1 else 0
    n = 0
    for i in range(start, len(lines)):
        if n >= rows:
            break
        if not lines[i]:
            continue
        # drop one separator and garble a value: wrong field count and non-numeric content
        sep = b"\t" if b"\t" in lines[i] else b","
        parts = lines[i].split(sep)
        parts = parts[:-1] if len(parts) > 1 else parts
        parts[0] = b"\x00corrupted" + parts[0][:3]
        lines[i] = sep.join(parts)
        n += 1
    resp.body = b"\n".join(lines)
    return resp


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PredictoSandbox/1.0"
    # Headers and body leave in one segment: without this, Nagle's algorithm against the
    # client's delayed ACK adds ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    wbufsize = 64 << 10
    app: ServiceApp

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature is fixed by the base class
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(
            self.command,
            parts.path,
            parts.query,
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        try:
            resp, rule = self.app.dispatch(req)
        except Exception as exc:  # a sandbox bug must surface as a 500, not a hung client
            resp, rule = self.app.error_response(500, f"sandbox error: {exc!r}"), None
        if not req.path.startswith("/_sandbox/"):
            self.app.log.append(
                {
                    "ts": time.time(),
                    "method": req.method,
                    "path": req.path,
                    "query": req.raw_query,
                    "headers": req.headers,
                    "body": body[:65536].decode("utf-8", "replace"),
                    "status": resp.status,
                    "fault": rule.kind if rule else None,
                }
            )
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for k, v in resp.headers:
            self.send_header(k, v)
        if rule is not None and rule.kind == "truncate":
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class SandboxServer:
    """One service on one loopback port (0 = any free port), served from a background thread."""

    def __init__(self, app: ServiceApp, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type(f"{app.name}Handler", (_Handler,), {"app": app})
        self.app = app
        self.httpd = _Server((host, port), handler)
        self.host, self.port = self.httpd.server_address[:2]
        self.thread = threading.Thread(
            # a short poll interval keeps stop() fast: serve_forever checks for shutdown between polls
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{app.name}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
