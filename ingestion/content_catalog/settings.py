"""Content catalogue source defaults and the columns of its raw table.

The platform's CMS lists titles (films, series, seasons, episodes) by `updated_at`, page by page:
`GET /api/v1/content?updated_since=<ISO>&page=N&per_page=M` → `{"items", "page", "per_page",
"total", "next_page"}` ordered by (updated_at, content_id), `updated_since` inclusive.
"""

from __future__ import annotations

from typing import Any

from ingestion.sink import low_cardinality, table_hints

SOURCE_NAME = "content_catalog"
RESOURCE_NAME = "content"

DEFAULT_BASE_URL = "https://cms.kino.example"
CONTENT_PATH = "/api/v1/content"
PER_PAGE = 500  # the API's maximum

LOOKBACK_SECONDS = 3600
"""Titles updated this long before the stored cursor are read again (edits committed late)."""

INITIAL_UPDATED_SINCE = "2000-01-01T00:00:00Z"
"""First run: the whole catalogue."""

MONEY_SCALE = 2

TOKEN_FIX = "Check sources.content_catalog.token (env SOURCES__CONTENT_CATALOG__TOKEN)"
URL_FIX = "Check sources.content_catalog.base_url (env SOURCES__CONTENT_CATALOG__BASE_URL)"


def _col(data_type: str, description: str, *, nullable: bool = True, **extra: Any) -> dict[str, Any]:
    return {"data_type": data_type, "nullable": nullable, "description": description, **extra}


def _text(description: str, *, low: bool = False, nullable: bool = True) -> dict[str, Any]:
    return _col("text", description, nullable=nullable, **(low_cardinality() if low else {}))


COLUMNS: dict[str, dict[str, Any]] = {
    "content_id": _col("bigint", "Catalogue id", nullable=False),
    "updated_at": _col(
        "timestamp", "Last edit of the title, UTC", nullable=False, precision=3, timezone=True
    ),
    "content_type": _text("film, series, season or episode", low=True),
    "parent_id": _col("bigint", "Season of an episode, series of a season"),
    "series_id": _col("bigint", "Series of a season or an episode"),
    "season_number": _col("bigint", "Season number"),
    "episode_number": _col("bigint", "Episode number within the season"),
    "title": _text("Title"),
    "genres": _text('Genres as a JSON array of strings, e.g. ["drama","comedy"]'),
    "duration_sec": _col("bigint", "Running time, s"),
    "credits_start_sec": _col("bigint", "Where the end credits start, s (completion threshold)"),
    "release_year": _col("bigint", "Release year"),
    "is_original": _col("bool", "Produced by the platform"),
    "is_free": _col("bool", "Watchable without a subscription"),
    "age_rating": _text("Age rating (0+ ... 18+)", low=True),
    "production_cost": _col(
        "decimal", "Production cost of an original, RUB", precision=18, scale=MONEY_SCALE
    ),
    "licence_cost": _col("decimal", "Licence cost of a licensed title, RUB", precision=18, scale=MONEY_SCALE),
    "licence_start": _col("date", "First day of the licence"),
    "licence_end": _col("date", "Last day of the licence"),
    "created_at": _col("timestamp", "When the title was added, UTC", precision=3, timezone=True),
    "raw": _text("The item as the API sent it (JSON)", nullable=False),
}

# A small dimension (thousands of rows): no partitions; versions of one title side by side.
TABLE_HINTS = table_hints(order_by=["content_id", "updated_at"])
