"""The exactly-once insert: a parquet file from dlt into a raw table, over HTTP.

One load job, one HTTP session:

1. the parquet file goes to the server as the body of `INSERT … FORMAT Parquet` into a session
   temporary table (Memory engine) typed like the target, so ClickHouse parses it, not Python;
2. for `replace`, rows of other loads are removed (TRUNCATE when the load has none yet);
3. `INSERT … SELECT` copies the batch into the target, computing `_row_hash`, skipping every row
   whose (key, `_row_hash`) is already stored and keeping one of each within the batch.

Why this shape (measured on 10M player-event rows, see ingestion/README.md): ClickHouse reads
the parquet file at a few million rows/s; hashing the natural key to UInt64 for the existence
check makes the check ~3x cheaper than comparing (string key, hash) tuples; restricting the
check to the batch's range of the first sort-key column keeps it proportional to the batch, not
to the table. Every step is safe to repeat, so a retried or re-run job inserts only what is
missing: nothing when the first attempt finished, the rest when it stopped half-way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .ddl import (
    DLT_COLUMNS,
    DLT_LOAD_ID,
    LOADED_AT,
    ROW_HASH,
    TableSpec,
    is_nullable,
    quote_ident,
    quote_literal,
    references,
)
from .targets import Target

BATCH = "predicto_batch"


class UnknownColumnError(ValueError):
    """The file has a column the target table does not (a bug upstream, not a transient)."""


@dataclass(frozen=True)
class Batch:
    """A parquet file dlt handed over: its path, columns and row count (from the footer)."""

    path: str
    columns: tuple[str, ...]
    rows: int

    @classmethod
    def read(cls, path: str) -> Batch:
        import pyarrow.parquet as pq

        meta = pq.read_metadata(path)
        return cls(path, tuple(meta.schema.to_arrow_schema().names), meta.num_rows)


@dataclass(frozen=True)
class InsertOutcome:
    """Rows in the file, and rows the INSERT added (the rest were already stored or repeated)."""

    rows_received: int
    rows_inserted: int


def describe(client: Any, database: str, table: str) -> dict[str, str]:
    """Stored columns of a table, name → type, in table order (empty if it does not exist)."""
    result = client.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} "
        "ORDER BY position",
        parameters={"db": database, "t": table},
    )
    return dict(result.result_rows)


def ensure_table(client: Any, spec: TableSpec) -> dict[str, str]:
    """Create the table (and its database) or add the columns it lacks; returns stored columns."""
    stored = describe(client, spec.database, spec.name)
    if not stored:
        client.command(f"CREATE DATABASE IF NOT EXISTS {quote_ident(spec.database)}")
        client.command(spec.create_sql())
        return describe(client, spec.database, spec.name)
    alter = spec.add_columns_sql(stored)
    if alter:
        client.command(alter)
        stored = describe(client, spec.database, spec.name)
    return stored


def insert_batch(
    session: Any,
    target: Target,
    stored: Mapping[str, str],
    batch: Batch,
    *,
    load_id: str,
    replace: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> InsertOutcome:
    """Insert the rows of `batch` the target does not hold yet.

    Args:
        session: a clickhouse-connect client bound to its own HTTP session.
        target: where the rows go and what identifies a row.
        stored: the target's stored columns (name → type), after `ensure_table`.
        batch: the parquet file.
        load_id: dlt's load id, for `_dlt_load_id` when the file has none (arrow items).
        replace: drop rows of other loads first (write disposition `replace`).
        settings: ClickHouse settings for the final INSERT … SELECT.

    Returns:
        Rows received and rows inserted (the rest were already stored or repeated in the batch).

    Raises:
        UnknownColumnError: the file has a column the target cannot store.
    """
    batch_types = _batch_types(target, stored, batch)
    columns_sql = ", ".join(f"{quote_ident(n)} {t}" for n, t in batch_types.items())
    session.command(f"CREATE TEMPORARY TABLE {BATCH} ({columns_sql}) ENGINE = Memory")
    try:
        with open(batch.path, "rb") as body:
            session.raw_insert(BATCH, list(batch_types), insert_block=body, fmt="Parquet")
        if replace:
            clear_other_loads(session, target.spec, load_id)
        summary = session.command(
            insert_sql(target, stored, set(batch_types), load_id),
            settings={**(settings or {}), "wait_end_of_query": 1},
        )
        inserted = int(getattr(summary, "written_rows", 0) or 0)
    finally:
        # Free the batch's memory now rather than when the session expires.
        session.command(f"DROP TEMPORARY TABLE IF EXISTS {BATCH}")
    return InsertOutcome(batch.rows, inserted)


def _batch_types(target: Target, stored: Mapping[str, str], batch: Batch) -> dict[str, str]:
    """Temporary-table columns: the file's columns, typed as the target stores them."""
    source_of = {target.renames.get(c, c): c for c in stored}
    types: dict[str, str] = {}
    unknown = []
    for name in batch.columns:
        if name in source_of:
            types[name] = stored[source_of[name]]
        elif name in DLT_COLUMNS:
            types[name] = "String"  # read only to be renamed or dropped (quarantine)
        elif target.kind == "data":
            unknown.append(name)
        # other tables keep the columns they define and ignore the rest
    if unknown:
        raise UnknownColumnError(f"{target.spec.qualified} has no column(s) {unknown} found in {batch.path}")
    return types


def insert_sql(target: Target, stored: Mapping[str, str], batch_columns: set[str], load_id: str) -> str:
    """The INSERT … SELECT that adds only rows not yet stored."""
    table = target.spec.qualified
    pairs = select_list(target, stored, batch_columns, load_id)
    names = [name for name, _ in pairs]
    prepared = ", ".join(f"{expr} AS {quote_ident(name)}" for name, expr in pairs)
    hashed = row_hash_sql(target.hash_columns, names, stored)
    key = key_sql(target.key_columns)
    columns = ", ".join(quote_ident(n) for n in names)
    existing = f"SELECT {key} FROM {table}"
    scope = range_sql(target.spec, stored)
    if scope:
        existing += f" WHERE {scope}"
    return (
        f"INSERT INTO {table} ({columns}, {quote_ident(ROW_HASH)}, {quote_ident(LOADED_AT)})\n"
        f"WITH prepared AS (SELECT *, {hashed} AS {quote_ident(ROW_HASH)} "
        f"FROM (SELECT {prepared} FROM {BATCH}))\n"
        f"SELECT {columns}, {quote_ident(ROW_HASH)}, now64(3) FROM prepared\n"
        f"WHERE ({key}) NOT IN ({existing})\n"
        f"LIMIT 1 BY {key}"
    )


def select_list(
    target: Target, stored: Mapping[str, str], batch_columns: set[str], load_id: str
) -> list[tuple[str, str]]:
    """(target column, SQL expression) for every column the insert fills from the batch.

    A column comes from the file when it has it, else from the target's constants, else (dlt's
    load id) from the load package; any other column is left to its default (NULL).
    """
    pairs = []
    for name in stored:
        if name in (ROW_HASH, LOADED_AT):
            continue
        source = target.renames.get(name, name)
        if source in batch_columns:
            pairs.append((name, quote_ident(source)))
        elif name in target.constants:
            pairs.append((name, target.constants[name]))
        elif source == DLT_LOAD_ID:
            pairs.append((name, quote_literal(load_id)))
    return pairs


def row_hash_sql(hash_columns: tuple[str, ...], available: list[str], stored: Mapping[str, str]) -> str:
    """`_row_hash`: a sum of per-column hashes salted with the column name.

    A NULL contributes nothing, so adding a nullable column to a table (schema evolution) does
    not turn every re-read row into a new version; the salt keeps values that swap columns
    apart; the sum does not depend on column order.
    """
    terms = []
    for name in sorted(c for c in hash_columns if c in available):
        term = f"cityHash64({quote_literal(name)}, {quote_ident(name)})"
        if is_nullable(stored.get(name, "")):
            term = f"ifNull({term}, 0)"
        terms.append(term)
    return " + ".join(terms) if terms else "toUInt64(0)"


def key_sql(key_columns: tuple[str, ...]) -> str:
    """The identity compared against stored rows: (hash of the natural key, `_row_hash`).

    Hashing the key to one UInt64 makes the set lookups ~3x cheaper than comparing string
    tuples; together with `_row_hash` the identity is 128 bits wide.
    """
    if not key_columns:
        return quote_ident(ROW_HASH)
    keys = ", ".join(quote_ident(c) for c in key_columns)
    return f"cityHash64({keys}), {quote_ident(ROW_HASH)}"


def range_sql(spec: TableSpec, stored: Mapping[str, str]) -> str | None:
    """Limit the existence check to the batch's range of the first sort-key expression.

    Scalar subqueries are evaluated before the query runs, so the primary index prunes the
    target to the granules the batch can overlap. No limit when the table is sorted by
    `_row_hash` (no key and no hint): a hash range covers everything.
    """
    first = spec.order_by[0]
    if first.strip("`") == ROW_HASH:
        return None
    scope = f"{first} BETWEEN (SELECT min({first}) FROM prepared) AND (SELECT max({first}) FROM prepared)"
    nullable = {n for n, t in stored.items() if is_nullable(t)}
    if references(first, nullable):
        scope = f"({scope} OR isNull({first}))"
    return scope


def clear_other_loads(client: Any, spec: TableSpec, load_id: str) -> None:
    """For `replace`: keep only rows of this load (a retried job keeps what it already wrote)."""
    literal = quote_literal(load_id)
    total, ours = client.query(
        f"SELECT count(), countIf({DLT_LOAD_ID} = {literal}) FROM {spec.qualified}"
    ).first_row
    if total == ours:
        return
    if ours == 0:
        client.command(f"TRUNCATE TABLE {spec.qualified}")
    else:
        client.command(f"DELETE FROM {spec.qualified} WHERE {DLT_LOAD_ID} != {literal}")
