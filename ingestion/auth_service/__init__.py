"""Auth service: users and logins from its PostgreSQL database.

    pipeline = make_pipeline("auth_service")
    pipeline.run(auth_service_source())

Tables `raw.auth_service__users` and `raw.auth_service__logins`, read with dlt's `sql_table`
incrementally on `updated_at`; a changed row becomes a new version (staging keeps the newest).
See README.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import dlt
from dlt.common.configuration.specs import ConnectionStringCredentials
from dlt.sources import DltResource

from .helpers import connect
from .settings import (
    CHUNK_SIZE,
    LOGIN_COLUMNS,
    LOGIN_HINTS,
    LOOKBACK_SECONDS,
    SOURCE_NAME,
    USER_COLUMNS,
    USER_HINTS,
)

log = logging.getLogger("predicto.ingestion.auth_service")

__all__ = ["auth_service_source"]


@dlt.source(name=SOURCE_NAME)
def auth_service_source(
    credentials: ConnectionStringCredentials = dlt.secrets.value,
    schema: str | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    lookback_seconds: int = LOOKBACK_SECONDS,
    chunk_size: int = CHUNK_SIZE,
) -> list[DltResource]:
    """Users and logins of the auth service.

    Args:
        credentials: connection string of the auth database (secret
            `sources.auth_service.credentials`, env `SOURCES__AUTH_SERVICE__CREDENTIALS`).
        schema: database schema of the tables (default: the connection's search path).
        start_date: first `updated_at` day to read instead of the stored cursor; with it (or
            `end_date`) the run is a backfill that leaves the cursor alone.
        end_date: last `updated_at` day to read (inclusive).
        lookback_seconds: rows updated this long before the cursor are read again.
        chunk_size: rows fetched per batch.

    Returns:
        The `users` and `logins` resources.

    Raises:
        SourceConfigurationError: the database cannot be reached or refuses the credentials.
    """
    from dlt.sources.sql_database import sql_table

    engine = connect(credentials)
    start = dt.datetime.combine(start_date, dt.time(), dt.UTC) if start_date else None
    end = dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time(), dt.UTC) if end_date else None
    backfill = start is not None or end is not None

    def updated_at() -> Any:
        return dlt.sources.incremental(
            "updated_at",
            # None: the first run reads the whole table.
            initial_value=start or (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) if backfill else None),
            # With an explicit window the query is bounded on both sides and no state is stored.
            end_value=(end or dt.datetime.now(dt.UTC)) if backfill else None,
            lag=None if backfill else lookback_seconds,
        )

    resources = []
    for table, key, columns, hints in (
        ("users", "user_id", USER_COLUMNS, USER_HINTS),
        ("logins", "login_id", LOGIN_COLUMNS, LOGIN_HINTS),
    ):
        resource = sql_table(
            engine,
            table=table,
            schema=schema,
            incremental=updated_at(),
            chunk_size=chunk_size,
            # Types come from the columns below, not from reflection: the raw table's types
            # do not change when the service alters its own.
            reflection_level="minimal",
            write_disposition="append",
            primary_key=key,
        )
        resource.apply_hints(columns=columns, additional_table_hints=hints)
        resources.append(resource)
    return resources
