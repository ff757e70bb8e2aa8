"""World configuration: every knob that shapes a generated world.

A world is fully determined by its ``WorldConfig``: the same config always produces byte-identical
files. Arrivals are driven by a daily rate (``people_per_day``), so a world extended by more days
with the same rate and seed keeps everything dated before the old horizon unchanged
(see ``WorldConfig.extended``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

DAY_MS = 86_400_000
HISTORY_RATE_SHARE = 0.25  # arrivals per day before start_date, relative to the window's rate


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    """Parameters of one synthetic streaming platform.

    Attributes:
        seed: master seed; every random stream is keyed by (seed, stream name, index).
        people: expected number of people arriving over ``days`` (ignored if ``people_per_day`` is set).
        days: length of the simulated window; simulated "now" is ``start_date + days`` at 00:00 UTC.
        start_date: first simulated day (UTC).
        people_per_day: arrival rate; set it explicitly to extend a world by more days.
        history_days: days before ``start_date`` during which a pre-existing audience arrives at
            0.25x the daily rate, so the window opens with subscribers who renew, fail autopayments
            and churn. Their data (visits, payments, views...) is generated from their arrival on,
            so sources hold data from ``start_date - history_days``. 0 disables it.
        titles: catalogue size (films + series).
        campaigns_per_channel: ad campaigns for each paid channel.
        malformed_rows: bad rows injected per source (listed in truth/malformed_rows.parquet).
        shared_device_share: share of people who also use a device of an earlier household member.
        chunk_people: people simulated per work unit; also numbers the player-log part files,
            so it must stay fixed between a world and its extension.
        workers: processes used for generation (1 = in-process).
        player_compresslevel: gzip level of player logs (1 is ~2x faster than 6, files ~15 % larger).
        counter_id / application_id / direct_client_login: identities the sandbox servers expose.
    """

    seed: int = 42
    people: int = 3000
    days: int = 30
    start_date: dt.date = dt.date(2026, 10, 1)
    people_per_day: float | None = None
    history_days: int = 35
    titles: int = 300
    campaigns_per_channel: int = 3
    malformed_rows: int = 0
    shared_device_share: float = 0.03
    chunk_people: int = 250
    workers: int = 2
    player_compresslevel: int = 1
    counter_id: int = 44147844
    application_id: int = 4567890
    direct_client_login: str = "kino-example"

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.rate <= 0:
            raise ValueError("people (or people_per_day) must be > 0")
        if self.history_days < 0:
            raise ValueError("history_days must be >= 0")
        if self.chunk_people < 1:
            raise ValueError("chunk_people must be >= 1")

    @property
    def rate(self) -> float:
        """Arrivals per day."""
        return self.people_per_day if self.people_per_day is not None else self.people / self.days

    @property
    def start_ms(self) -> int:
        """Epoch milliseconds of ``start_date`` 00:00 UTC."""
        return int(dt.datetime.combine(self.start_date, dt.time(), dt.UTC).timestamp() * 1000)

    @property
    def now_ms(self) -> int:
        """Simulated "now": nothing in the world is dated at or after it."""
        return self.start_ms + self.days * DAY_MS

    @property
    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now_ms / 1000, dt.UTC)

    @property
    def history_rate(self) -> float:
        return self.rate * HISTORY_RATE_SHARE

    @property
    def first_day(self) -> int:
        """Index of the first simulated day (negative when there is a history period)."""
        return -self.history_days

    @property
    def data_start_ms(self) -> int:
        return self.start_ms + self.first_day * DAY_MS

    def arrivals_before_day(self, day: int) -> int:
        """People who arrive before day index ``day`` (0 = start_date); depends only on the rates."""
        hist = int(math.floor(self.history_rate * (min(day, 0) + self.history_days) + 0.5))
        return hist + int(math.floor(self.rate * max(day, 0) + 0.5))

    @property
    def total_people(self) -> int:
        return self.arrivals_before_day(self.days)

    def extended(self, extra_days: int) -> WorldConfig:
        """The same world observed ``extra_days`` later (same seed and daily arrival rate)."""
        return dataclasses.replace(self, days=self.days + extra_days, people_per_day=self.rate)

    def to_dict(self) -> dict[str, Any]:
        """What identifies the world (as stored in world.json): ``workers`` is left out because it
        only changes how fast a world is built, never its content."""
        out = dataclasses.asdict(self)
        out.pop("workers")
        out["start_date"] = self.start_date.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorldConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if isinstance(kwargs.get("start_date"), str):
            kwargs["start_date"] = dt.date.fromisoformat(kwargs["start_date"])
        return cls(**kwargs)
