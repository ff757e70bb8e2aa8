"""Read-only access to a generated world for the sandbox servers (tables are loaded once, lazily)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import orjson
import pyarrow as pa

from simulator.config import DAY_MS, WorldConfig
from simulator.world.tables import read_parquet

MSK_MS = 3 * 3_600_000


class WorldStore:
    def __init__(self, world_dir: str | Path) -> None:
        self.dir = Path(world_dir)
        manifest_path = self.dir / "world.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"{manifest_path} not found: generate a world first")
        self.manifest = orjson.loads(manifest_path.read_bytes())
        self.cfg = WorldConfig.from_dict(self.manifest["config"])
        self.now_ms = self.cfg.now_ms
        self.start_ms = self.cfg.start_ms
        self._tables: dict[str, pa.Table] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> pa.Table:
        with self._lock:
            t = self._tables.get(name)
            if t is None:
                t = read_parquet(self.dir / "tables" / f"{name}.parquet")
                self._tables[name] = t
            return t

    def malformed(self, source: str) -> list[dict]:
        t = self.table("malformed")
        return [r for r in t.to_pylist() if r["source"] == source]

    @property
    def today_msk(self) -> dt.date:
        """The counter's "today" (Europe/Moscow) at simulated now."""
        return msk_datetime(self.now_ms).date()

    @property
    def last_day(self) -> dt.date:
        return dt.datetime.fromtimestamp((self.now_ms - DAY_MS) / 1000, dt.UTC).date()


def msk_datetime(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp((ms + MSK_MS) / 1000, dt.UTC).replace(tzinfo=None)


def msk_str(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in Moscow time (how Metrica and AppMetrica render local times)."""
    return msk_datetime(ms).strftime("%Y-%m-%d %H:%M:%S")


def utc_str(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def date_to_msk_range(d1: dt.date, d2: dt.date) -> tuple[int, int]:
    """UTC epoch-ms half-open range covering Moscow dates d1..d2 inclusive."""
    start = int(dt.datetime.combine(d1, dt.time(), dt.UTC).timestamp() * 1000) - MSK_MS
    end = int(dt.datetime.combine(d2 + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp() * 1000) - MSK_MS
    return start, end


def ts_ms(col: pa.ChunkedArray) -> list[int]:
    """Timestamp column to epoch milliseconds (nulls become 0)."""
    return [0 if v is None else v for v in col.cast(pa.int64()).to_pylist()]
