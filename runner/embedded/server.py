"""The ClickHouse HTTP interface in front of the embedded chDB engine.

One thread per client connection (chDB releases the GIL while a query runs, so queries run
in parallel and `/ping` answers during a long one). HTTP/1.1 keep-alive, chunked request and
response bodies, and the headers, status codes and error bodies ClickHouse sends.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import socketserver
import string
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from . import compression
from .engine import Engine, SessionStore, parse_session_timeout
from .errors import ClickHouseError
from .executor import Executor, QueryRequest, QueryResult
from .formats import content_type
from .multipart import external_tables, parse_form

log = logging.getLogger("predicto.warehouse")

# URL parameters that are not settings (ClickHouse's reserved names, plus the ones it reads itself).
RESERVED_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "compress",
        "decompress",
        "user",
        "password",
        "quota_key",
        "query_id",
        "stacktrace",
        "buffer_size",
        "wait_end_of_query",
        "session_id",
        "session_timeout",
        "session_check",
        "client_protocol_version",
        "close_session",
        "role",
    }
)
MAX_DRAIN = 16 << 20  # after an error, read at most this much of an unread body to keep the connection
_TAG_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8123
    user: str = "default"
    password: str = ""
    display_name: str = ""

    def check_exposure(self) -> None:
        """Refuse to serve a non-loopback address without a password."""
        if not self.password and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} without a password: anyone on the network could "
                "read and change the warehouse. Set CLICKHOUSE_PASSWORD (or --password), or bind 127.0.0.1"
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Body:
    """The request body as an iterator of chunks (Content-Length or chunked)."""

    def __init__(self, rfile, length: int | None, chunked: bool) -> None:
        self._rfile = rfile
        self._left = length or 0
        self._chunked = chunked
        self._done = not chunked and not length
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        while not self._done:
            data = self._read_chunked() if self._chunked else self._read_length()
            if data:
                self.bytes_read += len(data)
                yield data

    def _read_length(self) -> bytes:
        data = self._rfile.read1(min(self._left, 1 << 20)) if hasattr(self._rfile, "read1") else b""
        if not data:
            data = self._rfile.read(min(self._left, 1 << 20))
        if not data:
            raise ClickHouseError.named(
                "CANNOT_READ_ALL_DATA",
                f"Cannot read all data: the request body ended {self._left} bytes early",
            )
        self._left -= len(data)
        self._done = self._left == 0
        return data

    def _read_chunked(self) -> bytes:
        line = self._rfile.readline(1024)
        if not line:
            raise ClickHouseError.named(
                "CANNOT_READ_ALL_DATA", "Cannot read all data: chunked body ended early"
            )
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ClickHouseError.named(
                "CANNOT_READ_ALL_DATA", "Malformed chunk size in the request body"
            ) from None
        if size == 0:
            while self._rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            self._done = True
            return b""
        data = self._rfile.read(size)
        self._rfile.readline(1024)
        if len(data) < size:
            raise ClickHouseError.named(
                "CANNOT_READ_ALL_DATA", "Cannot read all data: chunked body ended early"
            )
        return data

    @property
    def finished(self) -> bool:
        return self._done

    def drain(self) -> bool:
        """Read and drop what is left; False if too much was left to keep the connection."""
        budget = MAX_DRAIN
        try:
            for data in self:
                budget -= len(data)
                if budget < 0:
                    return False
        except (ClickHouseError, OSError):
            return False
        return True


class WarehouseServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, config: ServerConfig, engine: Engine) -> None:
        config.check_exposure()
        self.config = config
        self.engine = engine
        self.sessions = SessionStore(engine)
        self.executor = Executor(engine, self.sessions)
        self.display_name = config.display_name or socket.gethostname()
        self._active = 0
        self._idle = threading.Condition()
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        self.address_family = family
        super().__init__((config.host, config.port), _Handler)

    def server_bind(self) -> None:
        # SO_REUSEADDR lets a restarted server bind at once; the data-dir lock, not the port,
        # is what stops two servers from sharing data.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.socket.getsockname()[:2]

    def request_started(self) -> None:
        with self._idle:
            self._active += 1

    def request_finished(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being processed (idle keep-alive connections do not count)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def shutdown_all(self) -> None:
        self.shutdown()
        self.server_close()
        self.sessions.close_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ClickHouse"
    sys_version = ""
    timeout = 300  # idle keep-alive connections and stalled uploads
    # Small responses go out in one segment: no Nagle delay against the client's delayed ACK.
    disable_nagle_algorithm = True
    wbufsize = 64 << 10
    server: WarehouseServer

    # ----------------------------------------------------------------- dispatch
    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle()

    def do_OPTIONS(self) -> None:  # noqa: N802
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header(
            "Access-Control-Allow-Headers",
            "origin, x-requested-with, x-clickhouse-format, x-clickhouse-user, x-clickhouse-key, Authorization",
        )
        self.send_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base class
        log.debug("%s %s", self.address_string(), format % args)

    def _handle(self) -> None:
        self.server.request_started()
        try:
            self._handle_request()
        finally:
            self.server.request_finished()

    def _handle_request(self) -> None:
        started = time.perf_counter()
        self._query_id = ""
        url = urlsplit(self.path)
        self._exception_tag = "".join(secrets.choice(_TAG_ALPHABET) for _ in range(16))
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header else None
        except ValueError:
            length = None
        body = _Body(self.rfile, length, chunked)
        status = 200
        try:
            if url.path in ("/ping", "/replicas_status") and self.command in ("GET", "HEAD"):
                self._send_plain(200, b"Ok.\n")
                return
            if url.path not in ("/", "/query", ""):
                raise ClickHouseError.named(
                    "UNKNOWN_TYPE_OF_QUERY",
                    f"There is no handle {url.path}. Use / or /query for queries, /ping for health checks",
                )
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            if self.command == "POST" and length is None and not chunked:
                raise ClickHouseError.named(
                    "HTTP_LENGTH_REQUIRED",
                    "The Transfer-Encoding is not chunked and there is no Content-Length header for POST request",
                )
            self._authenticate(params)
            if self.command in ("GET", "HEAD") and not params.get("query") and body.finished:
                self._send_plain(200, b"Ok.\n")  # a bare GET / is ClickHouse's health check too
                return
            self._query_id = (
                params.get("query_id") or self.headers.get("X-ClickHouse-Query-Id") or str(uuid.uuid4())
            )
            req = self._build_request(params, body)
            status = self._run(req, body)
        except ClickHouseError as err:
            status = err.http_status
            self._send_error(err, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            log.info(
                "%s %s %s %.1fms",
                self.command,
                url.path,
                status,
                (time.perf_counter() - started) * 1000,
            )

    # ----------------------------------------------------------------- request
    def _authenticate(self, params: dict[str, str]) -> None:
        header_user = self.headers.get("X-ClickHouse-User")
        header_key = self.headers.get("X-ClickHouse-Key")
        auth = self.headers.get("Authorization")
        in_params = "user" in params or "password" in params
        if (header_user or header_key) and (auth or in_params):
            raise ClickHouseError.named(
                "AUTHENTICATION_FAILED",
                "Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers and other authentication methods simultaneously",
            )
        if auth and in_params:
            raise ClickHouseError.named(
                "AUTHENTICATION_FAILED",
                "Invalid authentication: it is not allowed to use Authorization HTTP header and authentication via parameters simultaneously",
            )
        if header_user or header_key:
            user, password = header_user or "default", header_key or ""
        elif auth:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() != "basic":
                raise ClickHouseError.named(
                    "AUTHENTICATION_FAILED",
                    f"Invalid authentication: '{scheme}' HTTP Authorization scheme is not supported",
                )
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ClickHouseError.named(
                    "AUTHENTICATION_FAILED", "Invalid authentication: malformed Basic credentials"
                ) from None
        else:
            user, password = params.get("user", "default"), params.get("password", "")
        cfg = self.server.config
        user_ok = hmac.compare_digest(user.encode(), cfg.user.encode())
        password_ok = hmac.compare_digest(password.encode(), cfg.password.encode())
        if not (user_ok and password_ok):
            raise ClickHouseError.named(
                "AUTHENTICATION_FAILED",
                f"{user}: Authentication failed: password is incorrect, or there is no user with such name",
            )

    def _build_request(self, params: dict[str, str], body: _Body) -> QueryRequest:
        if params.get("compress") in ("1", "true") or params.get("decompress") in ("1", "true"):
            raise ClickHouseError.named(
                "NOT_IMPLEMENTED",
                "ClickHouse's native block compression over HTTP (compress/decompress=1) is not supported by the "
                "embedded warehouse; use HTTP compression (Content-Encoding, or enable_http_compression=1 with Accept-Encoding)",
            )
        content_type = self.headers.get("Content-Type", "")
        query, externals, form_fields, request_body = params.get("query", ""), [], {}, body
        if content_type.startswith("multipart/form-data"):
            # The query and its parameters come as form fields, external tables as files.
            form = parse_form(
                content_type,
                compression.decompress_stream(
                    compression.request_method(self.headers.get("Content-Encoding")), body
                ),
            )
            form_fields = form.fields
            query += form.fields.get("query", "")
            externals = external_tables(form.files, {**params, **form.fields})
            request_body = iter(())
        settings, query_params = {}, {}
        for key, value in {**params, **form_fields}.items():
            if key.startswith("param_"):
                query_params[key[len("param_") :]] = value
            elif key in form_fields or not key or key in RESERVED_PARAMS:
                continue
            elif externals and key.endswith(("_structure", "_types", "_format")):
                continue  # describes an external table, as in ClickHouse
            else:
                settings[key] = value
        session_id = params.get("session_id") or None
        return QueryRequest(
            method=self.command,
            query_param=query,
            body=request_body,
            external_tables=externals,
            content_encoding=None if externals or form_fields else self.headers.get("Content-Encoding"),
            database=self.headers.get("X-ClickHouse-Database") or params.get("database") or None,
            default_format=self.headers.get("X-ClickHouse-Format") or params.get("default_format") or None,
            settings=settings,
            query_params=query_params,
            session_id=session_id,
            session_timeout=parse_session_timeout(params.get("session_timeout")) if session_id else 60.0,
            session_check=params.get("session_check") == "1",
            close_session=params.get("close_session") in ("1", "true"),
            wait_end_of_query=params.get("wait_end_of_query") in ("1", "true"),
        )

    # ----------------------------------------------------------------- response
    def _run(self, req: QueryRequest, body: _Body) -> int:
        result = self.server.executor.execute(req)
        try:
            if not body.finished and not body.drain():
                self.close_connection = True
            encoding = None
            if req.settings.get("enable_http_compression") in ("1", "true"):
                encoding = compression.response_method(self.headers.get("Accept-Encoding"))
            self.send_response(200)
            self._common_headers()
            if result.format:
                self.send_header("Content-Type", content_type(result.format))
                self.send_header("X-ClickHouse-Format", result.format)
            else:
                self.send_header("Content-Type", "text/plain; charset=UTF-8")
            self.send_header("X-ClickHouse-Timezone", self.server.engine.timezone)
            self.send_header(
                "X-ClickHouse-Summary",
                json.dumps({k: str(v) for k, v in result.summary.items()}, separators=(",", ":")),
            )
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self._stream_body(result, encoding)
        finally:
            result.close()
        return 200

    def _common_headers(self) -> None:
        self.send_header("X-ClickHouse-Server-Display-Name", self.server.display_name)
        self.send_header("X-ClickHouse-Query-Id", getattr(self, "_query_id", "") or str(uuid.uuid4()))
        self.send_header("X-ClickHouse-Exception-Tag", self._exception_tag)
        self.send_header(
            "Access-Control-Expose-Headers",
            "X-ClickHouse-Query-Id,X-ClickHouse-Summary,X-ClickHouse-Server-Display-Name,X-ClickHouse-Format,"
            "X-ClickHouse-Timezone,X-ClickHouse-Exception-Code,X-ClickHouse-Exception-Tag",
        )
        if self.close_connection:
            self.send_header("Connection", "close")
        else:
            self.send_header("Keep-Alive", "timeout=10, max=10000")

    def _stream_body(self, result: QueryResult, encoding: str | None) -> None:
        chunked = self.request_version == "HTTP/1.1"
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            return
        write = self.wfile.write
        encoder = compression.response_encoder(encoding)

        def send(data: bytes) -> None:
            if data:
                write(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)
                if len(data) >= 4096:
                    self.wfile.flush()  # a result chunk goes out now; tiny pieces ride with the end

        try:
            for data in result.chunks:
                send(encoder.process(data))
        except ClickHouseError as err:
            # The 200 status is already sent: report in the body, marked the way ClickHouse 25.11+
            # does, inside the same (possibly compressed) stream.
            log.warning("query failed mid-result: %s", err.message)
            tag = self._exception_tag.encode()
            message = err.message.encode() + b"\n"
            send(
                encoder.process(
                    b"__exception__\r\n%b\r\n%b%d %b\r\n__exception__\r\n" % (tag, message, len(message), tag)
                )
            )
            self.close_connection = True
        send(encoder.finish())
        if chunked:
            write(b"0\r\n\r\n")

    def _send_plain(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_error(self, err: ClickHouseError, body: _Body) -> None:
        if not body.finished and not body.drain():
            self.close_connection = True
        payload = err.body()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(err.http_status)
            self._common_headers()
            self.send_header("Content-Type", "text/plain; charset=UTF-8")
            self.send_header("X-ClickHouse-Exception-Code", str(err.code))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)


def serve(config: ServerConfig, data_dir: Path) -> WarehouseServer:
    """Open the data directory and bind the port; call serve_forever() on the result."""
    config.check_exposure()
    engine = Engine(data_dir)
    try:
        return WarehouseServer(config, engine)
    except BaseException:
        engine.close()
        raise
