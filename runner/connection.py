"""The warehouse every `predicto` command talks to: a configured server, or the embedded one."""

from __future__ import annotations

import os

from warehouse.settings import ClickHouseSettings

from . import warehouse
from .settings import embedded_target


def connect_warehouse() -> ClickHouseSettings:
    """Settings of a reachable warehouse; starts the embedded one when CLICKHOUSE_HOST is unset.

    The resolved host and port are exported to this process's environment, so dbt's profile
    (which reads CLICKHOUSE_*) and every client opened afterwards agree with it.
    """
    settings = ClickHouseSettings()
    if settings.embedded:
        target = embedded_target()
        warehouse.ensure_running(target)
        os.environ["CLICKHOUSE_PORT"] = str(target.port)
        settings = ClickHouseSettings(port=target.port)
    return settings
