"""`raw._loads`: one row per load job attempt, loaded or failed.

The journal answers "what did the last ingest do": rows received, inserted and skipped as
duplicates per table and job, and the error of every failed attempt. dlt's own `_dlt_loads`
never reaches a custom destination, so this is the warehouse-side record of loads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from .ddl import quote_ident
from .targets import LOADS

UNKNOWN_TABLE_CODES = frozenset({60, 81})  # UNKNOWN_TABLE, UNKNOWN_DATABASE

COLUMNS = {
    "load_id": "LowCardinality(String)",
    "source": "LowCardinality(String)",
    "table": "LowCardinality(String)",
    "job_id": "String",
    "attempt": "UInt16",
    "disposition": "LowCardinality(String)",
    "rows_received": "UInt64",
    "rows_inserted": "UInt64",
    "rows_skipped_duplicate": "UInt64",
    "started_at": "DateTime64(3, 'UTC')",
    "finished_at": "DateTime64(3, 'UTC')",
    "status": "LowCardinality(String)",
    "error": "String",
}


@dataclass(frozen=True)
class JobRecord:
    """One attempt of one load job."""

    load_id: str
    source: str
    table: str
    job_id: str
    attempt: int
    disposition: str
    rows_received: int
    rows_inserted: int
    rows_skipped_duplicate: int
    started_at: datetime
    finished_at: datetime
    status: str  # 'loaded' | 'failed'
    error: str = ""


def create_sql(database: str) -> str:
    columns = ",\n".join(f"    {quote_ident(n)} {t}" for n, t in COLUMNS.items())
    return (
        f"CREATE TABLE IF NOT EXISTS {quote_ident(database)}.{quote_ident(LOADS)}\n(\n{columns}\n)\n"
        "ENGINE = MergeTree\nORDER BY (source, table, started_at)\n"
        "COMMENT 'One row per load job attempt of the ingestion sink'"
    )


def record(client: Any, database: str, rec: JobRecord) -> None:
    """Append `rec`, creating the journal table on first use."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    try:
        _insert(client, database, rec)
    except DatabaseError as exc:
        if getattr(exc, "code", None) not in UNKNOWN_TABLE_CODES:
            raise
        client.command(f"CREATE DATABASE IF NOT EXISTS {quote_ident(database)}")
        client.command(create_sql(database))
        _insert(client, database, rec)


def _insert(client: Any, database: str, rec: JobRecord) -> None:
    values = asdict(rec)
    names = ", ".join(quote_ident(n) for n in COLUMNS)
    params = ", ".join(f"{{{n}:{_param_type(t)}}}" for n, t in COLUMNS.items())
    client.command(
        f"INSERT INTO {quote_ident(database)}.{quote_ident(LOADS)} ({names}) SELECT {params}",
        parameters=values,
    )


def _param_type(column_type: str) -> str:
    return (
        column_type.removeprefix("LowCardinality(").removesuffix(")")
        if "LowCardinality" in column_type
        else column_type
    )
