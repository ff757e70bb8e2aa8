"""Helpers shared by the marketing source tests (Metrica, AppMetrica, Direct, ad cost files).

Worlds beyond the session's own are generated once per test process and cached here, because
generation takes seconds: the session world extended by one day (incremental tests) and a
tiny world with malformed rows (quarantine tests). Sandboxes over them are started per test
(they start in milliseconds).
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import requests

from simulator import WorldConfig, generate_world
from simulator.sandbox import Sandbox, SandboxOptions, serve_all

MSK = dt.timezone(dt.timedelta(hours=3))
MALFORMED_WORLD = WorldConfig(
    people=60, days=4, history_days=0, titles=20, campaigns_per_channel=1, workers=1, malformed_rows=2
)

_tmp_root: Path | None = None


def _tmp() -> Path:
    global _tmp_root
    if _tmp_root is None:
        _tmp_root = Path(tempfile.mkdtemp(prefix="predicto-marketing-worlds-"))
        atexit.register(shutil.rmtree, _tmp_root, True)
    return _tmp_root


@functools.cache
def extended_world(config: WorldConfig, days: int = 1) -> Path:
    """`config` observed `days` later (same seed and rate), generated once per process."""
    return Path(generate_world(config.extended(days), _tmp() / f"extended-{days}"))


@functools.cache
def malformed_world() -> Path:
    """A small world whose sources carry injected bad rows (truth/malformed_rows.parquet)."""
    return Path(generate_world(MALFORMED_WORLD, _tmp() / "malformed"))


@contextmanager
def serve(world: Path, service: str, options: SandboxOptions | None = None) -> Iterator[Sandbox]:
    """One sandbox service over `world` on a free port."""
    sb = serve_all(world, ports={service: 0}, services=(service,), options=options)
    try:
        yield sb
    finally:
        sb.stop()


def world_config(world: Path) -> WorldConfig:
    import orjson

    return WorldConfig.from_dict(orjson.loads((world / "world.json").read_bytes())["config"])


def last_day(world: Path) -> dt.date:
    """The last complete day of a world (the day before its "now", UTC = Moscow date of now − 1)."""
    cfg = world_config(world)
    return cfg.start_date + dt.timedelta(days=cfg.days - 1)


def first_day(world: Path) -> dt.date:
    cfg = world_config(world)
    return cfg.start_date - dt.timedelta(days=cfg.history_days)


def table(world: Path, name: str) -> pa.Table:
    return pq.read_table(world / "tables" / f"{name}.parquet")


def msk_dates(column: pa.ChunkedArray) -> pa.Array:
    """Moscow calendar dates of a UTC timestamp column."""
    return pc.cast(
        pc.add(column.cast(pa.timestamp("ms")), pa.scalar(3 * 3600 * 1000, pa.duration("ms"))), pa.date32()
    )


def until(t: pa.Table, ts_column: str, last: dt.date) -> pa.Table:
    """Rows whose Moscow date is on or before `last`."""
    return t.filter(pc.less_equal(msk_dates(t[ts_column]), pa.scalar(last, pa.date32())))


# --------------------------------------------------------------------------- sandbox control
def faults(base_url: str, *rules: dict[str, Any]) -> None:
    r = requests.post(f"{base_url}/_sandbox/faults", json={"rules": list(rules)}, timeout=10)
    assert r.status_code == 201, r.text


def reset(base_url: str) -> None:
    """Drop fault rules and the request log of one service."""
    requests.delete(f"{base_url}/_sandbox/faults", timeout=10)
    requests.delete(f"{base_url}/_sandbox/requests", timeout=10)


def request_log(base_url: str) -> list[dict[str, Any]]:
    return requests.get(f"{base_url}/_sandbox/requests", timeout=10).json()["requests"]


def query_args(entry: dict[str, Any]) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(entry["query"], keep_blank_values=True))


# --------------------------------------------------------------------------- warehouse
def column_types(ch: Any, table_name: str) -> dict[str, str]:
    rows = ch.query(
        "SELECT name, type FROM system.columns WHERE database = 'raw' AND table = {t:String}",
        parameters={"t": table_name},
    ).result_rows
    return dict(rows)


def scalar(ch: Any, sql: str, **params: Any) -> Any:
    return ch.query(sql, parameters=params).result_rows[0][0]


def quarantined(ch: Any, source: str) -> list[dict[str, Any]]:
    if not ch.command("EXISTS TABLE raw._quarantine"):
        return []
    result = ch.query(
        "SELECT resource, location, reason, payload FROM raw._quarantine WHERE source = {s:String} "
        "ORDER BY resource, location",
        parameters={"s": source},
    )
    return [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]


def find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` in a chain (dlt wraps a resource's error in its own)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return None
