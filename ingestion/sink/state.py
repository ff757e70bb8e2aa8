"""dlt pipeline state kept in the warehouse (`raw._dlt_pipeline_state`).

dlt keeps incremental cursors in a local state file and, for SQL destinations, restores it
from the destination. A custom destination cannot do that, so the sink stores every state row
dlt hands it (the `_dlt_pipeline_state` table, in the same load package as the data it
describes) and `ingestion.pipelines` reconciles the local file with it when a pipeline is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .ddl import quote_ident
from .targets import PIPELINE_STATE

MISSING_CODES = frozenset({60, 81})  # UNKNOWN_TABLE, UNKNOWN_DATABASE


@dataclass(frozen=True)
class StoredState:
    """The newest state row of a pipeline."""

    version: int
    engine_version: int
    state: str  # dlt's compressed state document
    version_hash: str | None
    created_at: datetime


def latest_state(client: Any, database: str, pipeline_name: str) -> StoredState | None:
    """The highest state version stored for `pipeline_name`, or None if there is none."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    sql = (
        f"SELECT version, engine_version, state, version_hash, created_at "
        f"FROM {quote_ident(database)}.{quote_ident(PIPELINE_STATE)} "
        "WHERE pipeline_name = {name:String} ORDER BY version DESC, created_at DESC LIMIT 1"
    )
    try:
        rows = client.query(sql, parameters={"name": pipeline_name}).result_rows
    except DatabaseError as exc:
        if getattr(exc, "code", None) in MISSING_CODES:
            return None
        raise
    return StoredState(*rows[0]) if rows else None


def delete_state(client: Any, database: str, pipeline_name: str) -> None:
    """Forget a pipeline's stored state (its next run starts from the initial values)."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    try:
        client.command(
            f"DELETE FROM {quote_ident(database)}.{quote_ident(PIPELINE_STATE)} "
            "WHERE pipeline_name = {name:String}",
            parameters={"name": pipeline_name},
        )
    except DatabaseError as exc:
        if getattr(exc, "code", None) not in MISSING_CODES:
            raise
