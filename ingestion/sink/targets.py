"""Where each dlt table lands, and what makes two of its rows the same row.

Three kinds of tables reach the sink:

- a source's data table `t` of schema `s` → `raw.s__t`, typed from dlt's schema;
- every schema's `_quarantine` table → the one shared `raw._quarantine`;
- dlt's `_dlt_pipeline_state` → the shared `raw._dlt_pipeline_state` (pipeline state kept with
  the warehouse, see `ingestion.pipelines`).

dlt hands no other tables of its own to a custom destination (`_dlt_loads` and `_dlt_version`
never arrive as load jobs); any that did would be skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import hints
from .ddl import (
    DLT_COLUMNS,
    DLT_ID,
    DLT_LOAD_ID,
    LOADED_AT,
    ROW_HASH,
    SINK_COLUMNS,
    Column,
    TableSpec,
    clickhouse_type,
    is_nullable,
    quote_ident,
    quote_literal,
    references,
    split_order_by,
)

QUARANTINE = "_quarantine"
PIPELINE_STATE = "_dlt_pipeline_state"
LOADS = "_loads"
DLT_TABLE_PREFIX = "_dlt"

SINK_TAIL = (
    Column(DLT_LOAD_ID, "LowCardinality(String)"),
    Column(DLT_ID, "String"),
    Column(
        ROW_HASH, "UInt64", comment="Hash of the row's content: every column but dlt's ids and volatile ones"
    ),
    Column(LOADED_AT, "DateTime64(3, 'UTC')", default="now64(3)", comment="When the sink inserted the row"),
)


@dataclass(frozen=True)
class Target:
    """A raw table plus the rules the exactly-once insert needs."""

    spec: TableSpec
    hash_columns: tuple[str, ...]
    """Columns whose values make up `_row_hash` (the row's content)."""
    key_columns: tuple[str, ...] = ()
    """Natural key: a row is new unless (key, `_row_hash`) is already stored."""
    constants: Mapping[str, str] = field(default_factory=dict)
    """Target column → SQL expression the sink fills in (e.g. the source name)."""
    renames: Mapping[str, str] = field(default_factory=dict)
    """Target column → batch column it is read from, when the names differ."""
    kind: str = "data"


def raw_table_name(schema_name: str, table_name: str) -> str:
    """`<schema>__<table>`: dlt's schema name is the source name."""
    return f"{schema_name}__{table_name}"


def is_dlt_table(table_name: str) -> bool:
    return table_name.startswith(DLT_TABLE_PREFIX)


def resolve(database: str, schema_name: str, table: Mapping[str, Any]) -> Target | None:
    """The target of one dlt table, or None for dlt tables the sink does not keep."""
    name = table["name"]
    if name == QUARANTINE:
        return quarantine_target(database, schema_name)
    if name == PIPELINE_STATE:
        return state_target(database, schema_name, table)
    if is_dlt_table(name):
        return None
    return data_target(database, schema_name, table)


def data_target(database: str, schema_name: str, table: Mapping[str, Any]) -> Target:
    """A source table: dlt's columns typed, then dlt's ids and the sink's columns."""
    dlt_columns = {
        n: c
        for n, c in table.get("columns", {}).items()
        if c.get("data_type") and n not in DLT_COLUMNS and n not in SINK_COLUMNS
    }
    primary_key = tuple(n for n, c in dlt_columns.items() if c.get("primary_key"))
    columns = (
        tuple(
            Column(n, clickhouse_type(c, key=n in primary_key), comment=c.get("description"))
            for n, c in dlt_columns.items()
        )
        + SINK_TAIL
    )
    order_by = split_order_by(table.get(hints.ORDER_BY)) or [
        quote_ident(c) for c in primary_key or (ROW_HASH,)
    ]
    partition_by = table.get(hints.PARTITION_BY) or None
    nullable = {c.name for c in columns if is_nullable(c.type)}
    key_exprs = [*order_by, partition_by or ""]
    settings = {"allow_nullable_key": 1} if any(references(e, nullable) for e in key_exprs) else {}
    spec = TableSpec(
        database=database,
        name=raw_table_name(schema_name, table["name"]),
        columns=columns,
        order_by=tuple(order_by),
        partition_by=partition_by,
        settings=settings,
        comment=table.get("description"),
    )
    content = tuple(n for n, c in dlt_columns.items() if not c.get(hints.VOLATILE))
    return Target(spec=spec, hash_columns=content, key_columns=primary_key)


def quarantine_target(database: str, schema_name: str) -> Target:
    """`raw._quarantine`: rows any source could not parse, with the reason and the raw text."""
    spec = TableSpec(
        database=database,
        name=QUARANTINE,
        columns=(
            Column("source", "LowCardinality(String)", comment="dlt schema (source) name"),
            Column("resource", "LowCardinality(String)", comment="Resource that read the row"),
            Column("load_id", "LowCardinality(String)", comment="dlt load id"),
            Column("location", "String", comment="Where the row was read: file:line, URL, page"),
            Column("reason", "String", comment="Why it could not be parsed or typed"),
            Column("payload", "String", comment="The raw text as received"),
            Column("received_at", "DateTime64(3, 'UTC')", comment="When the source read it"),
            Column(ROW_HASH, "UInt64"),
            Column(LOADED_AT, "DateTime64(3, 'UTC')", default="now64(3)"),
        ),
        order_by=("source", "resource", "received_at"),
        comment="Rows sources could not parse or type, one table for all sources",
    )
    return Target(
        spec=spec,
        # received_at is when this read happened: a re-read of the same bad row is not new.
        hash_columns=("source", "resource", "location", "reason", "payload"),
        constants={"source": quote_literal(schema_name), "received_at": "now64(3)"},
        renames={"load_id": DLT_LOAD_ID},
        kind="quarantine",
    )


def state_target(database: str, schema_name: str, table: Mapping[str, Any]) -> Target:
    """`raw._dlt_pipeline_state`: dlt's state rows of every pipeline, with the source name."""
    dlt_columns = {
        n: c for n, c in table.get("columns", {}).items() if c.get("data_type") and n not in DLT_COLUMNS
    }
    columns = (
        Column("source", "LowCardinality(String)", comment="dlt schema (source) name"),
        *(Column(n, clickhouse_type(c), comment=c.get("description")) for n, c in dlt_columns.items()),
        *SINK_TAIL,
    )
    spec = TableSpec(
        database=database,
        name=PIPELINE_STATE,
        columns=columns,
        order_by=("pipeline_name", "created_at"),
        comment="dlt pipeline state (incremental cursors) of every pipeline, newest version wins",
    )
    return Target(
        spec=spec,
        hash_columns=("source", *dlt_columns),
        constants={"source": quote_literal(schema_name)},
        kind="state",
    )
