"""Settings of the runner: the shared connection settings plus where the embedded server lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warehouse.settings import ClickHouseSettings, EmbeddedSettings


@dataclass(frozen=True)
class EmbeddedTarget:
    """Where the embedded warehouse listens and keeps its data."""

    host: str
    port: int
    data_dir: Path
    user: str
    password: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def embedded_target(
    host: str | None = None, port: int | None = None, data_dir: Path | None = None
) -> EmbeddedTarget:
    """Resolve CLI options over PREDICTO_WAREHOUSE_* over CLICKHOUSE_* over defaults."""
    ch, emb = ClickHouseSettings(), EmbeddedSettings()
    return EmbeddedTarget(
        host=host or emb.host,
        port=port or emb.port or ch.port or 8123,
        data_dir=(data_dir or emb.data_dir).resolve(),
        user=ch.user,
        password=ch.password,
    )
