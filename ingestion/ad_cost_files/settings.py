"""Defaults of the ad cost files source: layout, columns and their types."""

from __future__ import annotations

FILE_GLOB = "*/*.csv"
"""`<network>/<file>.csv` under the configured directory or prefix; the first directory level
names the ad network (`vk_ads/2026-10-01.csv`)."""

DELIMITERS = (",", ";", "\t")
"""Recognised in the header line; exports from Russian tools often use `;` and decimal commas."""

# column → kind (see `parsing.CONVERTERS`). Other columns of a file load as text.
COLUMNS: dict[str, str] = {
    "date": "date",
    "campaign_id": "text",  # networks' ids differ in shape (numbers, UUIDs): kept as text
    "campaign_name": "text",
    "utm_source": "enum",
    "utm_medium": "enum",
    "utm_campaign": "text",
    "impressions": "int",
    "clicks": "int",
    "cost": "money",
    "currency": "enum",
}
REQUIRED_COLUMNS = ("date", "campaign_id", "cost")
PRIMARY_KEY = ("network", "date", "campaign_id")

MONEY_SCALE = 6
"""Digits after the point kept for `cost` (Decimal(18, 6)); more is refused, never rounded."""
