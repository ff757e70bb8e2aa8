"""Content catalogue: titles, genres, licence and production costs from the platform's CMS API.

    pipeline = make_pipeline("content_catalog")
    pipeline.run(content_catalog_source())

Table `raw.content_catalog__content`, one row per version of a title (staging keeps the newest
`updated_at`); items that cannot be typed go to `raw._quarantine`. See README.md.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.quarantine import quarantine

from .helpers import UntypableError, content_pages, content_row, iso, parse_timestamp
from .settings import (
    COLUMNS,
    DEFAULT_BASE_URL,
    INITIAL_UPDATED_SINCE,
    LOOKBACK_SECONDS,
    RESOURCE_NAME,
    SOURCE_NAME,
    TABLE_HINTS,
)

log = logging.getLogger("predicto.ingestion.content_catalog")

__all__ = ["content_catalog_source"]


@dlt.source(name=SOURCE_NAME)
def content_catalog_source(
    token: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    lookback_seconds: int = LOOKBACK_SECONDS,
    max_attempts: int = 6,
    backoff_factor: float = 1.0,
    request_timeout: float = 60.0,
) -> DltResource:
    """The catalogue, incrementally by `updated_at`.

    Args:
        token: bearer token of the CMS API (secret `sources.content_catalog.token`).
        base_url: API root (`sources.content_catalog.base_url`).
        start_date: first update day to read instead of the stored cursor; with it (or
            `end_date`) the run is a backfill that leaves the cursor alone.
        end_date: last update day to read (inclusive).
        lookback_seconds: titles updated this long before the cursor are read again.
        max_attempts: tries per request (429, 5xx, connection errors, cut bodies).
        backoff_factor: base of the exponential backoff, seconds.
        request_timeout: seconds per request.

    Returns:
        The `content` resource.
    """
    start = dt.datetime.combine(start_date, dt.time(), dt.UTC) if start_date else None
    end = dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time(), dt.UTC) if end_date else None
    backfill = start is not None or end is not None

    cursor = dlt.sources.incremental(
        "updated_at",
        initial_value=start or parse_timestamp(INITIAL_UPDATED_SINCE),
        # With an explicit window dlt filters between the two values and stores no state.
        end_value=(end or dt.datetime.now(dt.UTC)) if backfill else None,
        lag=None if backfill else lookback_seconds,
        on_cursor_value_missing="include",  # quarantined items carry no cursor
    )

    @dlt.resource(name=RESOURCE_NAME, primary_key="content_id", write_disposition="append", columns=COLUMNS)
    def content(updated_at: Any = cursor) -> Iterator[Any]:
        pages = content_pages(
            base_url,
            token,
            iso(updated_at.start_value),
            max_attempts=max_attempts,
            backoff_factor=backoff_factor,
            timeout=request_timeout,
        )
        for items, url in pages:
            rows = []
            for position, item in enumerate(items, 1):
                try:
                    rows.append(content_row(item))
                except UntypableError as exc:
                    item_id = item.get("content_id") if isinstance(item, dict) else None
                    # The item's id, not the page: pages shift as titles are edited.
                    where = f"content_id={item_id}" if isinstance(item_id, int) else f"{url} item {position}"
                    log.warning("content catalogue: %s quarantined: %s", where, exc)
                    yield quarantine(RESOURCE_NAME, where, str(exc), json.dumps(item, ensure_ascii=False))
            if rows:
                yield rows

    content.apply_hints(additional_table_hints=TABLE_HINTS)
    return content
