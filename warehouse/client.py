"""A clickhouse-connect client built from the shared settings."""

from __future__ import annotations

from typing import Any

from .settings import ClickHouseSettings


def get_client(settings: ClickHouseSettings | None = None, **overrides: Any) -> Any:
    """Open a clickhouse-connect HTTP client for the configured warehouse."""
    import clickhouse_connect

    kwargs = (settings or ClickHouseSettings()).client_kwargs()
    kwargs.update(overrides)
    return clickhouse_connect.get_client(**kwargs)
