"""Hints a source puts on its resources to shape the raw tables the sink creates.

dlt carries any `x-` key it is given on a column or a table through to the destination, so
these are plain dlt hints, declared next to the data they describe:

    @dlt.resource(
        primary_key="event_id",
        write_disposition="append",
        columns={"event_type": low_cardinality(), "fetched_at": volatile()},
    )
    def player_events(): ...

    # table hints cannot be passed to @dlt.resource; apply them to the resource instead
    player_events.apply_hints(additional_table_hints=table_hints(order_by=["event_date", "event_id"]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ORDER_BY = "x-clickhouse-order-by"
"""Table hint: the MergeTree sort key, a list of column names/expressions or one SQL string."""

PARTITION_BY = "x-clickhouse-partition-by"
"""Table hint: the MergeTree partition expression, e.g. `toYYYYMM(event_date)`."""

LOW_CARDINALITY = "x-clickhouse-low-cardinality"
"""Column hint: store a text column as LowCardinality(String) (enums, countries, devices)."""

VOLATILE = "x-predicto-volatile"
"""Column hint: the value changes on every read of the same row (a fetch timestamp, a request
id); it is stored but left out of `_row_hash`, so a re-read does not count as a new version."""


def table_hints(
    *, order_by: str | Sequence[str] | None = None, partition_by: str | None = None
) -> dict[str, Any]:
    """Table hints for `resource.apply_hints(additional_table_hints=...)`.

    Args:
        order_by: the sort key. Put a low-cardinality or time column first: the sink's
            duplicate check reads only the range of the first key that a batch covers.
        partition_by: a coarse partition expression (monthly for big event tables), or None.

    Returns:
        A dict of `x-clickhouse-*` hints.
    """
    hints: dict[str, Any] = {}
    if order_by:
        hints[ORDER_BY] = [order_by] if isinstance(order_by, str) else list(order_by)
    if partition_by:
        hints[PARTITION_BY] = partition_by
    return hints


def low_cardinality() -> dict[str, Any]:
    """Column hint for a text column with few distinct values."""
    return {LOW_CARDINALITY: True}


def volatile() -> dict[str, Any]:
    """Column hint for a value that is not part of the row's content (see `VOLATILE`)."""
    return {VOLATILE: True}
