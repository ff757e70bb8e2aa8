"""Send rows a source cannot parse or type to `raw._quarantine`, with the reason.

A resource yields `quarantine(...)` instead of the row it could not make sense of:

    for line_no, line in enumerate(lines, 1):
        try:
            yield parse(line)
        except ValueError as exc:
            yield quarantine("player_events", f"{path}:{line_no}", str(exc), line)

The marked item goes to a `_quarantine` table of the source's own schema; the sink routes every
schema's `_quarantine` into the one `raw._quarantine` (source = schema name), exactly once per
distinct (source, resource, location, reason, payload).

The item is a table *variant* with its own hints, so the resource's primary key, column
definitions and table hints do not apply to it. One thing a resource must do itself: an
incremental cursor that quarantines rows needs `on_cursor_value_missing="include"`, because
a quarantined row carries no cursor value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

QUARANTINE_TABLE = "_quarantine"


def quarantine(resource: str, location: str, reason: str, payload: str | bytes) -> Any:
    """Mark a raw row as quarantined.

    Args:
        resource: name of the resource that read the row.
        location: where it was read (file and line, URL and page, object key and offset).
        reason: why it could not be parsed or typed.
        payload: the raw text as received (bytes are decoded as UTF-8, invalid bytes escaped).

    Returns:
        A dlt item to `yield` from the resource.
    """
    import dlt

    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", errors="backslashreplace")
    row = {
        "resource": resource,
        "location": location,
        "reason": reason,
        "payload": payload,
        "received_at": datetime.now(UTC),
    }
    hints = dlt.mark.make_hints(
        table_name=QUARANTINE_TABLE,
        write_disposition="append",
        primary_key=[],
        merge_key=[],
        columns={},  # reset the resource's columns for this variant
        additional_table_hints={},  # and its table hints
    )
    return dlt.mark.with_hints(row, hints, create_table_variant=True)
