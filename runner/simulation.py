"""Simulated worlds and their sandbox servers, wired to the ingestion sources' configuration."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
