"""Simulated worlds and their sandbox servers, wired to the ingestion sources' configuration."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SANDBOX_SERVICES = ("metrica", "appmetrica", "direct", "billing", "content")
# Sources cut at "yesterday" by date: for a simulated world, the day before its now.
DATED_SOURCES = ("yandex_metrica", "appmetrica", "yandex_direct")


@dataclass
class SimulatedWorld:
    path: Path
    config: dict[str, Any]
    counts: dict[str, int]
    seconds: float
    reused: bool = False

    def summary(self) -> str:
        verb = "reused" if self.reused else f"generated in {self.seconds:.1f}s"
        lines = [
            f"world {self.path} ({verb}): {self.config['people']} people, {self.config['days']} days "
            f"from {self.config['start_date']}, seed {self.config['seed']}"
        ]
        lines += [f"  {name:<28} {count:>12,}" for name, count in sorted(self.counts.items())]
        return "\n".join(lines)


def simulate_world(out: Path, *, reuse: bool = False, **config: Any) -> SimulatedWorld:
    """Generate a world into `out`; with `reuse`, keep an existing world of the same config."""
    from simulator import WorldConfig, generate_world

    cfg = WorldConfig(**config)
    meta_path = out / "world.json"
    if reuse and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("config") == cfg.to_dict():
            return SimulatedWorld(out, meta["config"], meta["counts"], 0.0, reused=True)
    started = time.perf_counter()
    generate_world(cfg, out)
    meta = json.loads(meta_path.read_text())
    return SimulatedWorld(out, meta["config"], meta["counts"], time.perf_counter() - started)


@contextmanager
def overridden_environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (dlt and dbt read their settings there)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextmanager
def serving_world(
    world: Path, pg_dsn: str | None, pg_database: str
) -> Iterator[tuple[dict[str, str], dict[str, dict[str, Any]]]]:
    """Sandbox servers of `world` on free ports; yields the source settings that point at them
    (environment variables) and the ingest kwargs that cut dated sources at the world's now."""
    from simulator.sandbox import serve_all

    sandbox = serve_all(
        world, ports={name: 0 for name in SANDBOX_SERVICES}, pg_dsn=pg_dsn, pg_database=pg_database
    )
    try:
        meta = json.loads((world / "world.json").read_text())
        first = dt.date.fromisoformat(meta["data_start"][:10])
        last = dt.date.fromisoformat(meta["now"][:10]) - dt.timedelta(days=1)
        kwargs = {name: {"initial_date": first, "end_date": last} for name in DATED_SOURCES}
        auth_dsn = sandbox.auth_db["dsn"] if sandbox.auth_db else None
        yield sandbox_environment(sandbox.urls, world, auth_dsn), kwargs
    finally:
        sandbox.stop()


def ingest_world(world: Path, settings: Any, pipelines_dir: Path, pg_dsn: str) -> list[Any]:
    """Serve `world` (auth tables in a throwaway PostgreSQL database) and load every source of it
    into `settings`' raw layer; dlt state in `pipelines_dir` makes a later world load only what
    is new. Raises if any source fails."""
    import uuid

    from ingestion.run import ingest
    from simulator.sandbox.auth_pg import drop_database

    database = f"predicto_world_{uuid.uuid4().hex[:8]}"
    try:
        with serving_world(world, pg_dsn, database) as (env, kwargs), overridden_environment(env):
            runs = ingest(settings=settings, pipelines_dir=pipelines_dir, source_kwargs=kwargs)
    finally:
        drop_database(pg_dsn, database)
    failed = {r.source: r.error for r in runs if r.status != "loaded"}
    if failed:
        raise RuntimeError(f"ingest failed: {failed}")
    return runs


def sandbox_environment(urls: dict[str, str], world: Path, auth_dsn: str | None) -> dict[str, str]:
    """dlt configuration (as environment variables) that points every source at a sandbox.

    The credentials are the sandbox's fixed test credentials (simulator/sandbox/README.md).
    """
    from simulator.sandbox import SandboxOptions

    meta = json.loads((world / "world.json").read_text())["config"]
    o = SandboxOptions()
    env = {
        "SOURCES__YANDEX_METRICA__BASE_URL": urls["metrica"],
        "SOURCES__YANDEX_METRICA__TOKEN": o.metrica_token,
        "SOURCES__YANDEX_METRICA__COUNTER_ID": str(meta["counter_id"]),
        "SOURCES__APPMETRICA__BASE_URL": urls["appmetrica"],
        "SOURCES__APPMETRICA__TOKEN": o.appmetrica_token,
        "SOURCES__APPMETRICA__APPLICATION_ID": str(meta["application_id"]),
        "SOURCES__YANDEX_DIRECT__BASE_URL": urls["direct"],
        "SOURCES__YANDEX_DIRECT__TOKEN": o.direct_token,
        "SOURCES__YANDEX_DIRECT__CLIENT_LOGIN": meta["direct_client_login"],
        "SOURCES__BILLING__BASE_URL": urls["billing"],
        "SOURCES__BILLING__SHOP_ID": o.billing_shop_id,
        "SOURCES__BILLING__SECRET_KEY": o.billing_secret_key,
        "SOURCES__CONTENT_CATALOG__BASE_URL": urls["content"],
        "SOURCES__CONTENT_CATALOG__TOKEN": o.content_token,
        # The sandbox prepares exports in a poll or two; the real APIs' pacing would only wait.
        "SOURCES__YANDEX_METRICA__POLL_INTERVAL_SECONDS": "0.1",
        "SOURCES__APPMETRICA__POLL_INTERVAL_SECONDS": "0.05",
        "SOURCES__APPMETRICA__MAX_POLL_INTERVAL_SECONDS": "0.5",
        "SOURCES__PLAYER_LOGS__DIRECTORY": str((world / "player_logs").resolve()),
        "SOURCES__AD_COST_FILES__DIRECTORY": str((world / "ad_costs").resolve()),
    }
    if auth_dsn:
        env["SOURCES__AUTH_SERVICE__CREDENTIALS"] = auth_dsn
    return env


def serve_sandbox_forever(world: Path, pg_dsn: str | None, echo=print) -> int:
    """Serve `world` on the default sandbox ports until interrupted."""
    import signal
    import threading

    from simulator.sandbox import serve_all

    if not (world / "world.json").exists():
        echo(f"error: no world at {world}; run `predicto simulate --out {world}` first")
        return 1
    sandbox = serve_all(world, pg_dsn=pg_dsn)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        echo("sandbox servers:")
        for name, url in sandbox.urls.items():
            echo(f"  {name:<12} {url}")
        if sandbox.auth_db:
            echo(f"  {'auth (pg)':<12} {sandbox.auth_db['dsn']}")
        echo("\npoint `predicto ingest` at them with:")
        env = sandbox_environment(sandbox.urls, world, sandbox.auth_db["dsn"] if sandbox.auth_db else None)
        for key, value in env.items():
            echo(f"  export {key}={value}")
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0
