"""Defaults of the Yandex Direct Reports API source: endpoint, report fields and types, windows."""

from __future__ import annotations

BASE_URL = "https://api.direct.yandex.com"
"""Real endpoint; the Direct sandbox is `https://api-sandbox.direct.yandex.com`."""
REPORTS_PATH = "/json/v5/reports"
REPORT_TYPE = "CAMPAIGN_PERFORMANCE_REPORT"

TIMEZONE = "Europe/Moscow"
"""Only used for "yesterday", the default end of a run."""

LOOKBACK_DAYS = 7
"""Each run starts this many days before the latest loaded date: Direct adjusts costs and
clicks (fraud filtering, late conversions) for days after the fact."""

INITIAL_DAYS = 30
MAX_DAYS_PER_REPORT = 31
"""Longer ranges are split into several reports (offline reports are limited per account)."""

RETRY_IN_SECONDS = 10.0
"""Pause after 201/202 when the answer carries no `retryIn` header."""
MAX_POLL_INTERVAL_SECONDS = 60.0
POLL_TIMEOUT_SECONDS = 3600.0

MAX_ATTEMPTS = 6
BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 120.0
REQUEST_TIMEOUT_SECONDS = 300.0

FIELD_NAMES: tuple[str, ...] = (
    "Date",
    "CampaignId",
    "CampaignName",
    "CampaignType",
    "AdNetworkType",
    "Device",
    "Impressions",
    "Clicks",
    "Cost",
    "Ctr",
    "AvgCpc",
)
REQUIRED_FIELDS = ("Date", "CampaignId", "AdNetworkType", "Device")
"""Part of the key: always requested."""

# column name, kind (see `parsing.CONVERTERS`); fields not listed load as text
COLUMNS: dict[str, tuple[str, str]] = {
    "Date": ("date", "date"),
    "CampaignId": ("campaign_id", "int"),
    "CampaignName": ("campaign_name", "text"),
    "CampaignType": ("campaign_type", "enum"),
    "AdNetworkType": ("ad_network_type", "enum"),
    "Device": ("device", "enum"),
    "Impressions": ("impressions", "int"),
    "Clicks": ("clicks", "int"),
    "Cost": ("cost", "money"),
    "AvgCpc": ("avg_cpc", "money"),
    "Ctr": ("ctr", "percent"),
    "BounceRate": ("bounce_rate", "percent"),
    "Conversions": ("conversions", "int"),
    "Sessions": ("sessions", "int"),
}
PRIMARY_KEY = ("client_login", "date", "campaign_id", "ad_network_type", "device")

# Errors answered with HTTP 400 that go away by themselves (tapi-yandex-direct's retry matrix):
# 52 server error, 56/506 request rate, 152 not enough units, 1000-1002 internal errors,
# 9000 too many reports in the offline queue.
TRANSIENT_ERROR_CODES = {"52", "56", "152", "506", "1000", "1001", "1002", "9000"}
