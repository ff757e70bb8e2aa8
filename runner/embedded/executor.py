"""Runs one HTTP query request against chDB, the way ClickHouse's HTTP handler would.

The request text is the `query` URL parameter, a line break, then the body. An INSERT's
inline data (after `FORMAT <name>` or `VALUES`) is never held in memory: it is spooled to a
file and loaded with `INSERT … FROM INFILE`, which also lets chDB decompress it natively.
Results in row formats are streamed chunk by chunk; other formats are written by chDB to a
spool file and streamed from there, so memory stays bounded either way.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from . import compression
from .engine import Engine, Session, SessionStore, set_statement
from .errors import ClickHouseError
from .formats import is_streamable
from .multipart import ExternalTable
from .sql import (
    InsertSplit,
    NeedMoreText,
    SqlSyntaxError,
    analyse,
    first_keyword,
    quote_string,
    replace_input,
    split_insert,
    tokens,
)

READ_SIZE = 1 << 20
HEAD_PROBE = 64 << 10  # enough text to see the first keyword of any query
MAX_INSERT_HEAD = 16 << 20  # an INSERT's text before its data
MAX_QUERY_SIZE = 256 << 20  # a non-INSERT query is held in memory; refuse absurd ones
BUFFER_IN_MEMORY = 8 << 20  # wait_end_of_query results spill to disk beyond this


@dataclass
class QueryRequest:
    method: str
    query_param: str
    body: Iterable[bytes]  # raw request body, still compressed
    content_encoding: str | None = None
    database: str | None = None
    default_format: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    query_params: dict[str, str] = field(default_factory=dict)
    session_id: str | None = None
    session_timeout: float = 60.0
    session_check: bool = False
    close_session: bool = False
    wait_end_of_query: bool = False
    external_tables: list[ExternalTable] = field(default_factory=list)


@dataclass
class QueryResult:
    """A successful start: headers can be sent, then `chunks` (which may still fail)."""

    format: str | None
    chunks: Iterator[bytes]
    summary: dict[str, int]
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        while self._cleanup:
            with contextlib.suppress(Exception):
                self._cleanup.pop()()


@dataclass
class _Prepared:
    """The request text, and the INSERT data file when there is one."""

    sql: str
    insert: InsertSplit | None = None
    data_path: Path | None = None
    data_compression: str | None = None


def _utf8(raw: bytes | str) -> str:
    if isinstance(raw, str):  # latin-1 view used for lexing: map back to the original bytes
        raw = raw.encode("latin-1")
    return raw.decode("utf-8", errors="replace")


class Executor:
    def __init__(self, engine: Engine, sessions: SessionStore) -> None:
        self.engine = engine
        self.sessions = sessions

    # ------------------------------------------------------------------ request text
    def _prepare(self, req: QueryRequest) -> _Prepared:
        method = compression.request_method(req.content_encoding)
        prefix = req.query_param
        if prefix and first_keyword(prefix) == "INSERT":
            joined = prefix + "\n"
            try:
                split = split_insert(joined.encode().decode("latin-1"), complete=False)
            except NeedMoreText:
                split = None
            except SqlSyntaxError as exc:
                raise ClickHouseError.named("SYNTAX_ERROR", f"Syntax error: {exc}") from None
            if split is not None and split.data_offset == len(joined.encode()):
                # The usual client insert: query in the URL, the whole body is data. chDB reads it
                # straight from the spool file, decompressing it itself.
                path = self._spool(req.body)
                return _Prepared(_utf8(split.head), split, path, method)
        body = compression.decompress_stream(method, req.body)
        head = bytearray((prefix + "\n").encode() if prefix else b"")
        chunks = iter(body)
        exhausted = False

        def read_more() -> bool:
            nonlocal exhausted
            for chunk in chunks:
                if chunk:
                    head.extend(chunk)
                    return True
            exhausted = True
            return False

        while len(head) < HEAD_PROBE and read_more():
            pass
        if first_keyword(bytes(head[:HEAD_PROBE]).decode("latin-1")) == "INSERT":
            while True:
                try:
                    split = split_insert(head.decode("latin-1"), complete=exhausted)
                    break
                except NeedMoreText:
                    if len(head) > MAX_INSERT_HEAD:
                        raise ClickHouseError.named(
                            "QUERY_IS_TOO_LARGE", "The INSERT query before its data is larger than 16 MiB"
                        ) from None
                    read_more()
                except SqlSyntaxError as exc:
                    raise ClickHouseError.named("SYNTAX_ERROR", f"Syntax error: {exc}") from None
            if split is not None:
                rest = bytes(head[split.data_offset :])
                path = self._spool(_chain([rest], chunks))
                return _Prepared(_utf8(split.head), split, path, None)
        while read_more():
            if len(head) > MAX_QUERY_SIZE:
                raise ClickHouseError.named("QUERY_IS_TOO_LARGE", "Query is larger than 256 MiB")
        return _Prepared(_utf8(bytes(head)))

    def _spool(self, chunks: Iterable[bytes]) -> Path:
        path = self.engine.spool_path(".data")
        try:
            with open(path, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    # ------------------------------------------------------------------ execution
    def execute(self, req: QueryRequest) -> QueryResult:
        """Run the request; raises ClickHouseError before any output is produced."""
        started = time.perf_counter_ns()
        cleanup: list[Callable[[], None]] = []
        try:
            prepared = self._prepare(req)
            if prepared.data_path is not None:
                cleanup.append(lambda p=prepared.data_path: p.unlink(missing_ok=True))
            conn, session = self._connection(req, cleanup)
            kind = "INSERT" if prepared.insert else _kind(prepared.sql)
            if session is not None and kind in ("SET", "USE"):
                # These change the session itself; per-request settings would only muddy what
                # the session keeps (in ClickHouse they live in the query's context, not the session's).
                session.reset_request_state()
            else:
                self._apply_context(conn, session, req)
            for table in req.external_tables:
                self._load_external(conn, table, cleanup)
            result = self._run(conn, prepared, req, cleanup, started)
            if session is not None:
                session.after_statement(kind)
            result._cleanup = cleanup
            return result
        except BaseException:
            for fn in reversed(cleanup):
                with contextlib.suppress(Exception):
                    fn()
            raise

    def _connection(self, req: QueryRequest, cleanup: list[Callable[[], None]]) -> tuple[Any, Session | None]:
        if req.session_id is None:
            conn = self.engine.connect()
            cleanup.append(conn.close)
            return conn, None
        session = self.sessions.acquire(req.session_id, req.session_timeout, req.session_check)
        cleanup.append(lambda: self.sessions.release(session, close=req.close_session))
        if req.method != "GET":
            return session.conn, session
        # GET is read-only, and `readonly` cannot be lowered again on a shared connection: run it
        # on a fresh connection carrying the session's database and settings (not its temporary
        # tables).
        try:
            own = session.changed_settings()
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from None
        conn = self.engine.connect()
        cleanup.append(conn.close)
        _run_quietly(conn, f"USE `{session.base_database}`")
        if own:
            _run_quietly(conn, set_statement(dict(own)))
        return conn, None

    def _apply_context(self, conn: Any, session: Session | None, req: QueryRequest) -> None:
        try:
            if session is not None:
                session.use_database(req.database)
                session.apply_settings(req.settings)
                return
            if req.method == "GET":
                conn.query("SET readonly = 2")  # as ClickHouse does for every GET request
            if req.database:
                conn.query(f"USE `{req.database.replace('`', '``')}`")
            if req.settings:
                conn.query(set_statement(req.settings))
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from None

    def _load_external(self, conn: Any, table: ExternalTable, cleanup: list[Callable[[], None]]) -> None:
        """A temporary table for this request only, filled from the form's file."""
        path = self.engine.spool_path(".ext")
        path.write_bytes(table.data)
        cleanup.append(lambda: path.unlink(missing_ok=True))
        name = "`" + table.name.replace("`", "``") + "`"
        _run_quietly(conn, f"CREATE TEMPORARY TABLE {name} ({table.columns})")
        cleanup.append(lambda: conn.query(f"DROP TEMPORARY TABLE IF EXISTS {name}"))
        _run_quietly(conn, f"INSERT INTO {name} FROM INFILE {quote_string(str(path))} FORMAT {table.format}")

    def _run(
        self,
        conn: Any,
        prepared: _Prepared,
        req: QueryRequest,
        cleanup: list[Callable[[], None]],
        started: int,
    ) -> QueryResult:
        params = req.query_params or None
        if prepared.insert is not None:
            return self._run_insert(conn, prepared, params, started)
        try:
            stmt = analyse(prepared.sql)
        except SqlSyntaxError as exc:
            raise ClickHouseError.named("SYNTAX_ERROR", f"Syntax error: {exc}") from None
        if stmt.has_outfile:
            raise ClickHouseError.named("INTO_OUTFILE_NOT_ALLOWED", "INTO OUTFILE is not allowed")
        if stmt.has_infile:
            raise ClickHouseError.named(
                "UNKNOWN_TYPE_OF_QUERY", "Query has infile and was send directly to server"
            )
        fmt = stmt.format_name or req.default_format or "TabSeparated"
        if not stmt.is_select:
            # DDL, SET, SHOW, DESCRIBE…: small or no output, and chDB streams only SELECTs.
            res = _query(conn, prepared.sql, fmt, params)
            return QueryResult(
                fmt if stmt.returns_rows else None, iter([res.bytes()]), _summary(res, started)
            )
        if is_streamable(fmt):
            return self._stream(conn, prepared.sql, fmt, params, req, cleanup, started)
        return self._via_file(conn, prepared.sql, stmt.format_span, fmt, params, cleanup, started)

    def _run_insert(
        self, conn: Any, prepared: _Prepared, params: dict[str, str] | None, started: int
    ) -> QueryResult:
        split = prepared.insert
        assert split is not None and prepared.data_path is not None
        if split.select:
            # ClickHouse's input() reads the request's data; here that data is a spool file.
            sql = replace_input(
                prepared.sql, str(prepared.data_path), split.format_name, prepared.data_compression
            )
        else:
            sql = f"{prepared.sql} FROM INFILE {quote_string(str(prepared.data_path))}"
            if prepared.data_compression:
                sql += f" COMPRESSION '{prepared.data_compression}'"
            if split.settings:
                sql += f" {_utf8(split.settings)}"
            sql += f" FORMAT {split.format_name}"
        res = _query(conn, sql, "TabSeparated", params)
        return QueryResult(None, iter(()), _summary(res, started))

    def _stream(
        self,
        conn: Any,
        sql: str,
        fmt: str,
        params: dict[str, str] | None,
        req: QueryRequest,
        cleanup: list[Callable[[], None]],
        started: int,
    ) -> QueryResult:
        try:
            stream = conn.send_query(sql, fmt, params=params) if params else conn.send_query(sql, fmt)
        except Exception as exc:
            raise ClickHouseError.from_engine(exc) from None
        cleanup.append(lambda: _cancel_quietly(stream))
        stats = {"rows": 0, "bytes": 0}

        def chunks() -> Iterator[bytes]:
            while True:
                try:
                    chunk = stream.fetch()
                except Exception as exc:
                    raise ClickHouseError.from_engine(exc) from None
                if chunk is None:
                    return
                data = chunk.bytes()
                stats["rows"] += chunk.rows_read()
                stats["bytes"] += len(data)
                yield data

        it = chunks()
        # Fetch the first chunk before answering: errors found while starting the query get a
        # proper error status instead of a 200 followed by an exception in the body.
        first = next(it, None)
        if req.wait_end_of_query:
            spool = tempfile.SpooledTemporaryFile(BUFFER_IN_MEMORY, dir=self.engine.spool_dir)  # noqa: SIM115
            cleanup.append(spool.close)
            if first is not None:
                spool.write(first)
                for data in it:
                    spool.write(data)
            spool.seek(0)
            summary = _empty_summary(started, stats["rows"], stats["bytes"])
            return QueryResult(fmt, _read_file(spool), summary)
        body = _chain([first] if first is not None else [], it)
        return QueryResult(fmt, body, _empty_summary(started, stats["rows"], stats["bytes"]))

    def _via_file(
        self,
        conn: Any,
        sql: str,
        span: tuple[int, int] | None,
        fmt: str,
        params: dict[str, str] | None,
        cleanup: list[Callable[[], None]],
        started: int,
    ) -> QueryResult:
        path = self.engine.spool_path(".out")
        cleanup.append(lambda: path.unlink(missing_ok=True))
        outfile = f" INTO OUTFILE {quote_string(str(path))} TRUNCATE FORMAT {fmt} "
        if span is not None:
            rewritten = sql[: span[0]] + outfile + sql[span[1] :]
        else:
            toks = [t for t in tokens(sql) if t.text != ";" or t.depth]
            end = toks[-1].end if toks else len(sql)
            rewritten = sql[:end] + outfile
        res = _query(conn, rewritten, fmt, params)
        handle = open(path, "rb")  # noqa: SIM115 - closed by the result's cleanup
        cleanup.append(handle.close)
        summary = _summary(res, started)
        summary["result_bytes"] = os.fstat(handle.fileno()).st_size
        return QueryResult(fmt, _read_file(handle), summary)


def _kind(sql: str) -> str:
    try:
        return first_keyword(sql)
    except SqlSyntaxError:
        return ""


def _query(conn: Any, sql: str, fmt: str, params: dict[str, str] | None) -> Any:
    try:
        return conn.query(sql, fmt, params=params) if params else conn.query(sql, fmt)
    except Exception as exc:
        raise ClickHouseError.from_engine(exc) from None


def _run_quietly(conn: Any, sql: str) -> None:
    try:
        conn.query(sql)
    except Exception as exc:
        raise ClickHouseError.from_engine(exc) from None


def _cancel_quietly(stream: Any) -> None:
    with contextlib.suppress(Exception):
        stream.cancel()


def _chain(*parts: Iterable[bytes]) -> Iterator[bytes]:
    for part in parts:
        yield from part


def _read_file(handle: BinaryIO) -> Iterator[bytes]:
    while data := handle.read(READ_SIZE):
        yield data


def _summary(res: Any, started: int) -> dict[str, int]:
    return {
        "read_rows": res.storage_rows_read(),
        "read_bytes": res.storage_bytes_read(),
        "written_rows": res.rows_written(),
        "written_bytes": res.bytes_written(),
        "total_rows_to_read": res.storage_rows_read(),
        "result_rows": res.rows_read(),
        "result_bytes": res.bytes_read(),
        "elapsed_ns": time.perf_counter_ns() - started,
    }


def _empty_summary(started: int, rows: int, size: int) -> dict[str, int]:
    return {
        "read_rows": 0,
        "read_bytes": 0,
        "written_rows": 0,
        "written_bytes": 0,
        "total_rows_to_read": 0,
        "result_rows": rows,
        "result_bytes": size,
        "elapsed_ns": time.perf_counter_ns() - started,
    }
