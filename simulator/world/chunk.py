"""A work unit: simulate a contiguous block of people and collect their rows.

Chunks are independent (shared-device partners are looked up through pure id functions), so they
can run in parallel processes; the parent writes their tables in chunk order, which keeps output
deterministic whatever the number of workers.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from simulator.config import WorldConfig
from simulator.world.campaigns import Marketing
from simulator.world.catalogue import CatalogueIndex
from simulator.world.person import PersonSim
from simulator.world.player import EventSink
from simulator.world.population import Population
from simulator.world.tables import DEVICE_FIELDS, SCHEMAS, new_rows

# internal table name -> attribute on ChunkSim
CHUNK_TABLES = {
    "metrica_visits": "visits",
    "metrica_hits": "hits",
    "appmetrica_devices": "am_devices",
    "appmetrica_installations": "am_installs",
    "appmetrica_sessions_starts": "am_sessions",
    "appmetrica_events": "am_events",
    "auth_logins": "logins",
    "billing_payments": "payments",
    "billing_refunds": "refunds",
    "billing_subscriptions": "subscriptions",
    "truth_views": "views",
    "truth_daily_activity": "daily",
    "truth_subscriptions": "truth_subs",
    "truth_subscription_events": "sub_events",
    "truth_identity_raw": "identity",
}


RECEIVED_AT = {
    "appmetrica_events": "event_receive_ms",
    "appmetrica_sessions_starts": "session_start_receive_ms",
    "appmetrica_installations": "install_receive_ms",
}


@dataclasses.dataclass
class Context:
    """Everything a chunk needs that is shared by the whole world."""

    cfg: WorldConfig
    pop: Population
    mk: Marketing
    cidx: CatalogueIndex
    out_dir: Path
    bad_player_lines: dict[tuple[int, int], list[tuple[int, bytes]]]


@dataclasses.dataclass
class ChunkResult:
    index: int
    tables: dict[str, pa.Table]
    player_events_per_day: dict[int, int]
    bad_player_lines: list[tuple[str, int, bytes]]


class ChunkSim:
    def __init__(self, ctx: Context, index: int) -> None:
        self.cfg = ctx.cfg
        self.pop = ctx.pop
        self.mk = ctx.mk
        self.cidx = ctx.cidx
        self.ctx = ctx
        self.index = index
        self.device_fields = DEVICE_FIELDS
        for name, attr in CHUNK_TABLES.items():
            setattr(self, attr, new_rows(name))
        self.player = EventSink()

    def run(self) -> ChunkResult:
        lo = self.index * self.cfg.chunk_people
        hi = min(len(self.pop), lo + self.cfg.chunk_people)
        for pid in range(lo + 1, hi + 1):
            PersonSim(self, pid).run()
        counts, placed = self.player.write_days(
            self.ctx.out_dir / "player_logs",
            self.index,
            self.cfg.start_ms,
            self.cfg.now_ms,
            self.cfg.player_compresslevel,
            self.ctx.bad_player_lines,
        )
        tables = {name: getattr(self, attr).to_arrow(SCHEMAS[name]) for name, attr in CHUNK_TABLES.items()}
        # App data reaches AppMetrica when the device uploads it; what arrives after "now" does not exist yet.
        for name, col in RECEIVED_AT.items():
            t = tables[name]
            tables[name] = t.filter(pc.less(t[col].cast(pa.int64()), self.cfg.now_ms))
        return ChunkResult(self.index, tables, counts, placed)
