"""The chDB engine owned by the server process, and HTTP sessions on top of it.

chDB allows one process per data directory; inside it, every `chdb.connect(path)` shares the
persistent tables but has its own temporary tables, settings and current database. So a
request without a session gets a fresh connection (nothing it sets can leak into another
client), and an HTTP `session_id` owns one connection for its lifetime.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ClickHouseError
from .sql import quote_string

DEFAULT_SESSION_TIMEOUT = 60
MAX_SESSION_TIMEOUT = 3600


class DataDirInUse(RuntimeError):
    """Another process already serves this data directory."""


class Engine:
    """Owns the data directory: its lock, the chDB instance and the spool area."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._acquire_lock()
        self.db_path = self.data_dir / "db"
        self.spool_dir = self.data_dir / "spool"
        shutil.rmtree(self.spool_dir, ignore_errors=True)  # leftovers of a killed server
        self.spool_dir.mkdir()
        import chdb  # heavy: loaded only by the process that serves the data

        self._chdb = chdb
        self._connect_lock = threading.Lock()
        # Held for the life of the server: it keeps the embedded instance up between requests.
        self._root = chdb.connect(str(self.db_path))
        row = self._root.query("SELECT version(), timezone()", "TabSeparated").bytes().decode().rstrip("\n")
        self.version, self.timezone = row.split("\t")

    def _acquire_lock(self) -> Any:
        path = self.data_dir / "server.lock"
        handle = open(path, "a+")  # noqa: SIM115 - held open for the life of the process
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise DataDirInUse(
                f"data directory {self.data_dir} is already served by another warehouse process "
                f"(pid {owner}); stop it with `predicto warehouse stop --data-dir {self.data_dir}` "
                "or choose another --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return handle

    def connect(self) -> Any:
        with self._connect_lock:
            return self._chdb.connect(str(self.db_path))

    def spool_path(self, suffix: str) -> Path:
        return self.spool_dir / f"{threading.get_ident()}-{time.monotonic_ns()}{suffix}"

    def close(self) -> None:
        try:
            self._root.close()
        finally:
            self._lock_file.close()


def set_statement(changes: dict[str, str | None]) -> str:
    """`SET a = 'x', b = DEFAULT` — values are sent as strings, as the HTTP interface does."""
    parts = [
        f"{name} = {'DEFAULT' if value is None else quote_string(value)}" for name, value in changes.items()
    ]
    return "SET " + ", ".join(parts)


@dataclass
class Session:
    """One client's connection that keeps its SET settings, temporary tables and database.

    URL settings and `database` apply to one request only, as in ClickHouse, so they are
    tracked here and rolled back lazily: a request with the same settings as the previous
    one costs no extra statement.
    """

    session_id: str
    conn: Any
    timeout: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    expires_at: float = 0.0
    base_database: str = "default"  # as the session's own USE statements left it
    current_database: str = "default"  # what the connection has right now
    baseline: dict[str, str | None] = field(default_factory=dict)  # None: setting was at its default
    applied: dict[str, str] = field(default_factory=dict)  # per-request settings in effect now

    def touch(self) -> None:
        self.expires_at = time.monotonic() + self.timeout

    def use_database(self, database: str | None) -> None:
        wanted = database or self.base_database
        if wanted != self.current_database:
            self.conn.query(f"USE {_quote_identifier(wanted)}")
            self.current_database = wanted

    def apply_settings(self, settings: dict[str, str]) -> None:
        """Make exactly `settings` (on top of the session's own) be in effect."""
        unknown = [name for name in settings if name not in self.baseline]
        if unknown:
            names = ", ".join(quote_string(n) for n in unknown)
            rows = (
                self.conn.query(
                    f"SELECT name, value, changed FROM system.settings WHERE name IN ({names})",
                    "TabSeparatedRaw",
                )
                .bytes()
                .decode()
            )
            for line in rows.splitlines():
                name, value, changed = line.split("\t")
                self.baseline[name] = value if changed == "1" else None
        changes: dict[str, str | None] = {}
        for name in list(self.applied):
            if name not in settings:
                changes[name] = self.baseline.get(name)
                del self.applied[name]
        for name, value in settings.items():
            if self.applied.get(name) != value:
                changes[name] = value
        if changes:
            try:
                self.conn.query(set_statement(changes))
            except Exception:
                self._force_baseline(set(changes) | set(self.applied))
                raise
        self.applied = dict(settings)

    def _force_baseline(self, names: set[str]) -> None:
        """After a rejected SET, put every setting we touched back to the session's own value."""
        self.applied = {}
        known = {name: self.baseline[name] for name in names if name in self.baseline}
        if known:
            self.conn.query(set_statement(known))

    def reset_request_state(self) -> None:
        """Undo per-request settings (before a statement that changes the session itself)."""
        self.apply_settings({})
        self.use_database(None)

    def after_statement(self, kind: str) -> None:
        if kind == "USE":
            db = self.conn.query("SELECT currentDatabase()", "TabSeparatedRaw").bytes().decode().strip()
            self.base_database = self.current_database = db
        elif kind == "SET":
            self.baseline.clear()

    def changed_settings(self) -> dict[str, str]:
        """The session's own SET settings, without per-request ones."""
        self.apply_settings({})
        rows = self.conn.query("SELECT name, value FROM system.settings WHERE changed", "TabSeparatedRaw")
        return dict(line.split("\t", 1) for line in rows.bytes().decode().splitlines())


def _quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class SessionStore:
    """Named HTTP sessions: created on first use, locked while a request runs, expired when idle."""

    def __init__(self, engine: Engine, max_sessions: int = 1000) -> None:
        self._engine = engine
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._max = max_sessions

    def acquire(self, session_id: str, timeout: float, check: bool) -> Session:
        self._expire()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                if check:
                    raise ClickHouseError.named("SESSION_NOT_FOUND", f"Session {session_id} not found")
                if len(self._sessions) >= self._max:
                    raise ClickHouseError.named(
                        "TOO_MANY_SIMULTANEOUS_QUERIES", f"Too many sessions (maximum {self._max})"
                    )
                session = Session(session_id, self._engine.connect(), timeout)
                self._sessions[session_id] = session
            if not session.lock.acquire(blocking=False):
                raise ClickHouseError.named(
                    "SESSION_IS_LOCKED", f"Session {session_id} is locked by a concurrent client"
                )
            session.timeout = timeout
            session.touch()
            return session

    def release(self, session: Session, close: bool = False) -> None:
        session.touch()
        if close:
            with self._lock:
                self._sessions.pop(session.session_id, None)
            _close_quietly(session.conn)
        session.lock.release()

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            idle = [s for s in self._sessions.values() if s.expires_at < now and not s.lock.locked()]
            for s in idle:
                del self._sessions[s.session_id]
        for s in idle:
            _close_quietly(s.conn)

    def close_all(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for s in sessions:
            _close_quietly(s.conn)

    def __len__(self) -> int:
        return len(self._sessions)


def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):  # closing a connection that already failed is best effort
        conn.close()


def parse_session_timeout(value: str | None) -> float:
    if value is None or value == "":
        return DEFAULT_SESSION_TIMEOUT
    try:
        seconds = int(value)
    except ValueError:
        raise ClickHouseError.named(
            "INVALID_SESSION_TIMEOUT", f"Invalid session timeout: '{value}'"
        ) from None
    if seconds < 0 or seconds > MAX_SESSION_TIMEOUT:
        raise ClickHouseError.named(
            "INVALID_SESSION_TIMEOUT",
            f"Session timeout '{value}' is larger than max_session_timeout: {MAX_SESSION_TIMEOUT}. "
            "Maximum session timeout could be modified in configuration file",
        )
    return float(seconds)
