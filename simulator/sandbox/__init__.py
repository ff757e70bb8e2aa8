"""Local sandbox servers that serve a generated world over the real source protocols.

    from simulator.sandbox import serve_all
    with serve_all(world_dir, ports={"metrica": 0}) as sb:   # 0 = any free port
        sb.urls["metrica"]  # -> "http://127.0.0.1:54321"

Each service listens on its own loopback port so a client only swaps its base URL. See
simulator/sandbox/README.md for endpoints, credentials and fault rules.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from types import TracebackType

from simulator.sandbox.appmetrica import AppMetricaApp
from simulator.sandbox.billing import BillingApp
from simulator.sandbox.content import ContentApp
from simulator.sandbox.direct import DirectApp
from simulator.sandbox.http import SandboxServer, ServiceApp
from simulator.sandbox.metrica import MetricaApp
from simulator.sandbox.store import WorldStore

DEFAULT_PORTS = {"metrica": 18081, "appmetrica": 18082, "direct": 18083, "billing": 18084, "content": 18085}


@dataclasses.dataclass
class SandboxOptions:
    """Credentials and lifecycle knobs (defaults are what simulator/sandbox/README.md lists)."""

    metrica_token: str = "sandbox-metrica-token"
    metrica_noaccess_token: str = "sandbox-noaccess-token"
    metrica_ready_after_polls: int = 1
    metrica_part_rows: int = 50_000
    metrica_max_days: int = 366
    appmetrica_token: str = "sandbox-appmetrica-token"
    appmetrica_ready_after_polls: int = 1
    appmetrica_prepare_seconds: float = 30.0
    direct_token: str = "sandbox-direct-token"
    direct_ready_after_polls: int = 1
    direct_retry_in: int = 1
    billing_shop_id: str = "123456"
    billing_secret_key: str = "sandbox-secret-key"
    content_token: str = "sandbox-content-token"


class Sandbox:
    """Running sandbox servers; ``stop()`` (or leaving the ``with`` block) shuts them down."""

    def __init__(self, servers: dict[str, SandboxServer], store: WorldStore, auth_db: dict | None) -> None:
        self.servers = servers
        self.store = store
        self.auth_db = auth_db  # {"dsn": ..., "database": ..., "users": n, "logins": n} when loaded

    @property
    def urls(self) -> dict[str, str]:
        return {name: s.url for name, s in self.servers.items()}

    def app(self, name: str) -> ServiceApp:
        return self.servers[name].app

    def stop(self) -> None:
        for s in self.servers.values():
            s.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def build_apps(store: WorldStore, options: SandboxOptions) -> dict[str, ServiceApp]:
    o = options
    return {
        "metrica": MetricaApp(
            store,
            o.metrica_token,
            o.metrica_noaccess_token,
            o.metrica_ready_after_polls,
            o.metrica_part_rows,
            o.metrica_max_days,
        ),
        "appmetrica": AppMetricaApp(
            store,
            o.appmetrica_token,
            o.appmetrica_ready_after_polls,
            prepare_seconds=o.appmetrica_prepare_seconds,
        ),
        "direct": DirectApp(store, o.direct_token, o.direct_ready_after_polls, o.direct_retry_in),
        "billing": BillingApp(store, o.billing_shop_id, o.billing_secret_key),
        "content": ContentApp(store, o.content_token),
    }


def serve_all(
    world_dir: str | Path,
    ports: dict[str, int] | None = None,
    pg_dsn: str | None = None,
    pg_database: str | None = None,
    host: str = "127.0.0.1",
    options: SandboxOptions | None = None,
    services: tuple[str, ...] | None = None,
) -> Sandbox:
    """Start the sandbox servers for ``world_dir`` in background threads and return their handles.

    Args:
        world_dir: output of ``generate_world``.
        ports: service -> port; missing services use DEFAULT_PORTS, 0 picks a free port.
        pg_dsn: a PostgreSQL server DSN (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``);
            when given, the auth service's users and logins are loaded into ``pg_database``.
        pg_database: database for the auth service (default ``predicto_sandbox_auth``).
        host: interface to bind; loopback by default.
        options: credentials and lifecycle knobs.
        services: subset of services to start (default all).
    """
    store = WorldStore(world_dir)
    apps = build_apps(store, options or SandboxOptions())
    wanted = services or tuple(apps)
    servers: dict[str, SandboxServer] = {}
    try:
        for name in wanted:
            port = (ports or {}).get(name, DEFAULT_PORTS[name])
            servers[name] = SandboxServer(apps[name], host, port).start()
    except OSError:
        for s in servers.values():
            s.stop()
        raise
    auth_db = None
    if pg_dsn:
        from simulator.sandbox.auth_pg import DEFAULT_DATABASE, database_dsn, load_auth_db

        database = pg_database or DEFAULT_DATABASE
        counts = load_auth_db(store, pg_dsn, database)
        auth_db = {"dsn": database_dsn(pg_dsn, database), "database": database, **counts}
    return Sandbox(servers, store, auth_db)


def run_forever(world_dir: str | Path, **kwargs: object) -> None:
    """Blocking variant for a CLI: serve until interrupted (Ctrl-C)."""
    sb = serve_all(world_dir, **kwargs)  # type: ignore[arg-type]
    for name, url in sb.urls.items():
        print(f"{name:<11} {url}")
    if sb.auth_db:
        print(
            f"{'auth (pg)':<11} {sb.auth_db['dsn']}  users={sb.auth_db['users']} logins={sb.auth_db['logins']}"
        )
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()


__all__ = ["DEFAULT_PORTS", "Sandbox", "SandboxOptions", "run_forever", "serve_all"]
