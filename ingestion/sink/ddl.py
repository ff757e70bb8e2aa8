"""dlt table schemas → ClickHouse column types and MergeTree DDL.

Pure functions: nothing here talks to a server, so the mapping is tested on its own and the
SQL the sink runs can be read in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import hints

DEFAULT_DECIMAL = (38, 9)
DEFAULT_TIMESTAMP_PRECISION = 6

# Columns every raw table carries. dlt's two are kept as dlt names them; the sink adds two.
DLT_LOAD_ID = "_dlt_load_id"
DLT_ID = "_dlt_id"
ROW_HASH = "_row_hash"
LOADED_AT = "_loaded_at"
DLT_COLUMNS = (DLT_LOAD_ID, DLT_ID)
SINK_COLUMNS = (ROW_HASH, LOADED_AT)


@dataclass(frozen=True)
class Column:
    """One ClickHouse column of a raw table."""

    name: str
    type: str
    default: str | None = None  # SQL expression
    comment: str | None = None

    def sql(self) -> str:
        text = f"{quote_ident(self.name)} {self.type}"
        if self.default is not None:
            text += f" DEFAULT {self.default}"
        if self.comment:
            text += f" COMMENT {quote_literal(self.comment)}"
        return text


@dataclass(frozen=True)
class TableSpec:
    """A MergeTree table the sink creates and evolves."""

    database: str
    name: str
    columns: tuple[Column, ...]
    order_by: tuple[str, ...]
    partition_by: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    comment: str | None = None

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.database)}.{quote_ident(self.name)}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def create_sql(self) -> str:
        """`CREATE TABLE IF NOT EXISTS` with an explicit sort key (never `tuple()`)."""
        if not self.order_by:
            raise ValueError(f"{self.qualified}: a raw table needs an ORDER BY")
        body = ",\n".join("    " + c.sql() for c in self.columns)
        sql = f"CREATE TABLE IF NOT EXISTS {self.qualified}\n(\n{body}\n)\nENGINE = MergeTree"
        if self.partition_by:
            sql += f"\nPARTITION BY {self.partition_by}"
        sql += f"\nORDER BY ({', '.join(self.order_by)})"
        if self.settings:
            sql += "\nSETTINGS " + ", ".join(f"{k} = {v}" for k, v in self.settings.items())
        if self.comment:
            sql += f"\nCOMMENT {quote_literal(self.comment)}"
        return sql

    def add_columns_sql(self, existing: Iterable[str]) -> str | None:
        """One `ALTER TABLE … ADD COLUMN IF NOT EXISTS …` for the columns the table lacks."""
        present = set(existing)
        missing = [c for c in self.columns if c.name not in present]
        if not missing:
            return None
        clauses = ", ".join(f"ADD COLUMN IF NOT EXISTS {c.sql()}" for c in missing)
        return f"ALTER TABLE {self.qualified} {clauses}"


def clickhouse_type(column: Mapping[str, Any], *, key: bool = False) -> str:
    """The ClickHouse type for a dlt column schema.

    Args:
        column: the dlt column (`data_type`, `nullable`, `precision`, `scale`, `x-…` hints).
        key: the column is part of the primary key: never Nullable.

    Returns:
        A ClickHouse type such as `Nullable(Decimal(12, 2))`.
    """
    data_type = column.get("data_type") or "text"
    base = _base_type(data_type, column)
    # dlt's default is nullable; only an explicit `nullable: False` (or a key) makes it required.
    nullable = column.get("nullable", True) and not key and not column.get("primary_key")
    if nullable:
        base = f"Nullable({base})"
    if data_type == "text" and column.get(hints.LOW_CARDINALITY):
        base = f"LowCardinality({base})"
    return base


def _base_type(data_type: str, column: Mapping[str, Any]) -> str:
    precision = column.get("precision")
    if data_type == "bigint":
        # dlt's bigint precision is in bits (8/16/32/64/128).
        if precision is None or precision > 64:
            return "Int64" if precision is None else "Int128"
        return next(f"Int{bits}" for bits in (8, 16, 32, 64) if precision <= bits)
    if data_type == "decimal":
        p, s = DEFAULT_DECIMAL
        if precision is not None:
            p, s = precision, column.get("scale") or 0
        return f"Decimal({p}, {s})"
    if data_type == "timestamp":
        p = DEFAULT_TIMESTAMP_PRECISION if precision is None else min(max(precision, 0), 9)
        return f"DateTime64({p}, 'UTC')"
    if data_type == "time":
        # Time64 (ClickHouse 25.6+) reads parquet's time64 exactly; Int64 would keep whole seconds.
        p = DEFAULT_TIMESTAMP_PRECISION if precision is None else min(max(precision, 0), 9)
        return f"Time64({p})"
    return {
        "text": "String",
        "double": "Float64",
        "bool": "Bool",
        "date": "Date32",
        "wei": "Decimal(76, 0)",
        "json": "String",  # dlt serialises nested data to a JSON string
        "binary": "String",
    }.get(data_type, "String")


def is_nullable(column_type: str) -> bool:
    """Whether a ClickHouse column type admits NULL (`Nullable(…)`, `LowCardinality(Nullable(…))`)."""
    return column_type.startswith(("Nullable(", "LowCardinality(Nullable("))


def split_order_by(value: str | Sequence[str] | None) -> list[str]:
    """Normalise an order-by hint (a list, or one string with top-level commas) to expressions."""
    if not value:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for part in parts:
        out.extend(p for p in _split_top_level(_strip_wrapping_parens(part.strip())) if p)
    return out


def _strip_wrapping_parens(text: str) -> str:
    """`(a, b)` → `a, b`; `toDate(t)` stays: only parentheses around the whole text go."""
    while text.startswith("(") and _closing_paren(text) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _closing_paren(text: str) -> int:
    """Index of the parenthesis that closes the one at index 0 (-1 if none)."""
    depth = 0
    for index, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return index
    return -1


def _split_top_level(text: str) -> list[str]:
    items, depth, start, quote = [], 0, 0, ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    items.append(text[start:].strip())
    return items


def references(expression: str, names: Iterable[str]) -> set[str]:
    """Which of `names` an SQL expression mentions (a bare or back-quoted identifier)."""
    words = set(re.findall(r"`([^`]+)`|\b([A-Za-z_][A-Za-z0-9_]*)\b", expression))
    found = {a or b for a, b in words}
    return found & set(names)


def quote_ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
