"""Helpers shared by the platform source tests (player logs, auth service, billing, content).

Worlds beyond the session's own are generated once per test process (generation takes
seconds): the session world extended by one day for the incremental tests, and a world big
enough to hold refunds. Sandboxes over them start per test in milliseconds.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import requests

from simulator import WorldConfig, generate_world
from simulator.sandbox import Sandbox, serve_all

# Tiny, with bad rows the sandbox splices into its answers (listed in truth/malformed_rows).
MALFORMED_WORLD = WorldConfig(
    people=60, days=4, history_days=0, titles=20, campaigns_per_channel=1, workers=1, malformed_rows=2
)
# Big enough for YooKassa refunds (~2.5 % of charges), still generated in a few seconds.
REFUND_WORLD = WorldConfig(
    people=1200, days=14, history_days=7, titles=30, campaigns_per_channel=1, workers=1, seed=7
)

_tmp_root: Path | None = None


def _tmp() -> Path:
    global _tmp_root
    if _tmp_root is None:
        _tmp_root = Path(tempfile.mkdtemp(prefix="predicto-platform-worlds-"))
        atexit.register(shutil.rmtree, _tmp_root, True)
    return _tmp_root


@functools.cache
def extended_world(config: WorldConfig, days: int = 1) -> Path:
    """`config` observed `days` later (same seed and rate), generated once per process."""
    return Path(generate_world(config.extended(days), _tmp() / f"extended-{days}"))


@functools.cache
def refund_world() -> Path:
    return Path(generate_world(REFUND_WORLD, _tmp() / "refunds"))


@functools.cache
def malformed_world() -> Path:
    return Path(generate_world(MALFORMED_WORLD, _tmp() / "malformed"))


def malformed_truth(world: Path, source: str) -> list[dict[str, Any]]:
    """The bad rows the simulator injected into `source`."""
    rows_ = pq.read_table(world / "truth" / "malformed_rows.parquet").to_pylist()
    return [r for r in rows_ if r["source"] == source]


@contextmanager
def serve(world: Path, *services: str) -> Iterator[Sandbox]:
    """Sandbox services over `world` on free ports."""
    sb = serve_all(world, ports={s: 0 for s in services}, services=services)
    try:
        yield sb
    finally:
        sb.stop()


def table(world: Path, name: str) -> pa.Table:
    return pq.read_table(world / "tables" / f"{name}.parquet")


def faults(url: str, *rules: dict[str, Any]) -> None:
    """Replace the service's fault rules with `rules`."""
    requests.delete(f"{url}/_sandbox/faults", timeout=10).raise_for_status()
    if rules:
        requests.post(f"{url}/_sandbox/faults", json={"rules": list(rules)}, timeout=10).raise_for_status()


def requests_log(url: str) -> list[dict[str, Any]]:
    return requests.get(f"{url}/_sandbox/requests", timeout=10).json()["requests"]


def clear_log(url: str) -> None:
    requests.delete(f"{url}/_sandbox/requests", timeout=10).raise_for_status()


def rows(ch: Any, sql: str, **params: Any) -> list[tuple]:
    return ch.query(sql, parameters=params).result_rows


def column_types(ch: Any, table_name: str) -> dict[str, str]:
    return dict(
        rows(
            ch,
            "SELECT name, type FROM system.columns WHERE database = 'raw' AND table = {t:String}",
            t=table_name,
        )
    )


def quarantined(ch: Any, source: str) -> list[tuple[str, str, str, str]]:
    """(resource, location, reason, payload) of a source's quarantined rows."""
    if not ch.command("EXISTS TABLE raw._quarantine"):
        return []
    return rows(
        ch,
        "SELECT resource, location, reason, payload FROM raw._quarantine WHERE source = {s:String} "
        "ORDER BY location",
        s=source,
    )


def loads(ch: Any, source: str, load_id: str) -> dict[str, tuple[int, int]]:
    """table → (rows received, rows inserted) of one load, from the sink's journal."""
    got = rows(
        ch,
        "SELECT table, sum(rows_received), sum(rows_inserted) FROM raw._loads "
        "WHERE source = {s:String} AND load_id = {l:String} AND status = 'loaded' GROUP BY table",
        s=source,
        l=load_id,
    )
    return {t: (int(r), int(i)) for t, r, i in got}


def count(ch: Any, table_name: str) -> int:
    return int(rows(ch, f"SELECT count() FROM raw.`{table_name}`")[0][0])


def latest(ch: Any, table_name: str, key: str, columns: str) -> dict[Any, tuple]:
    """The newest version of each row (by `_loaded_at`, as staging reads it)."""
    got = rows(
        ch,
        f"SELECT {key}, {columns} FROM raw.`{table_name}` ORDER BY _loaded_at DESC, _dlt_load_id DESC "
        f"LIMIT 1 BY {key}",
    )
    return {r[0]: tuple(r[1:]) for r in got}


def docs(world: Path, name: str) -> list[dict[str, Any]]:
    """The JSON documents the sandbox serves for `billing_<name>`."""
    return [json.loads(d) for d in table(world, f"billing_{name}")["doc"].to_pylist()]
