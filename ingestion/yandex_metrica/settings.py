"""Defaults of the Yandex Metrica Logs API source: endpoint, field lists, field types, windows.

Field types follow the Logs API reference (ClickHouse types of `ym:s:*` / `ym:pv:*`). A field
that is requested but not listed here is loaded as text, so adding fields in config never
breaks a load.
"""

from __future__ import annotations

BASE_URL = "https://api-metrika.yandex.net"
"""Real endpoint; `api-metrika.yandex.ru` serves the same API."""

TIMEZONE = "Europe/Moscow"
"""Counter time zone: `ym:*:date`/`dateTime` are local to it, and so is the API's "today"."""

LOOKBACK_DAYS = 3
"""Every run starts this many days before the latest loaded date: visits stay open and keep
changing after their start ("99 % of visits end within 3 days", Logs API docs)."""

INITIAL_DAYS = 30
"""Days loaded by the first run when no `initial_date` is configured."""

POLL_INTERVAL_SECONDS = 20.0
"""Pause between status calls (Yandex's own loader waits 20 s)."""

POLL_TIMEOUT_SECONDS = 7200.0
"""Give up (and cancel the request) when it is not processed after this long."""

MAX_ATTEMPTS = 6
BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 120.0
REQUEST_TIMEOUT_SECONDS = 300.0
MAX_RECREATES = 2
"""`processing_failed` is terminal for a request: create it again this many times."""

PREFIX = {"visits": "ym:s:", "hits": "ym:pv:"}

# Traffic-source fields, available un-prefixed and with an attribution prefix
# (`ym:s:lastsignUTMSource`); docs: logs/param.md.
SOURCE_FIELDS = (
    "TrafficSource",
    "AdvEngine",
    "ReferalSource",
    "SearchEngineRoot",
    "SearchEngine",
    "SocialNetwork",
    "SocialNetworkProfile",
    "DirectClickOrder",
    "DirectBannerGroup",
    "DirectClickBanner",
    "DirectClickOrderName",
    "DirectPhraseOrCond",
    "DirectPlatformType",
    "DirectPlatform",
    "DirectConditionType",
    "CurrencyID",
    "UTMCampaign",
    "UTMContent",
    "UTMMedium",
    "UTMSource",
    "UTMTerm",
    "RecommendationSystem",
    "Messenger",
)
ATTRIBUTIONS = (
    "first",
    "last",
    "lastsign",
    "last_yandex_direct_click",
    "cross_device_last",
    "cross_device_first",
    "cross_device_last_significant",
    "cross_device_last_yandex_direct_click",
    "automatic",
)

_VISIT_BASE = (
    "visitID",
    "counterID",
    "watchIDs",
    "date",
    "dateTime",
    "dateTimeUTC",
    "isNewUser",
    "startURL",
    "endURL",
    "pageViews",
    "visitDuration",
    "bounce",
    "ipAddress",
    "regionCountry",
    "regionCity",
    "regionCountryID",
    "regionCityID",
    "clientID",
    "counterUserIDHash",
    "goalsID",
    "goalsSerialNumber",
    "goalsDateTime",
    "goalsPrice",
    "goalsOrder",
    "goalsCurrency",
    "purchaseID",
    "purchaseRevenue",
    "purchaseCurrency",
    "referer",
    "from",
    "deviceCategory",
    "operatingSystemRoot",
    "browser",
    "parsedParamsKey1",
    "parsedParamsKey2",
)
# Explicitly prefixed source fields, so the attribution model of every column is in its name
# (the meaning of the un-prefixed form is not documented): `lastsign` for channel reports,
# `last` for the visit's own source, `first` for acquisition.
_FIRST = ("TrafficSource", "AdvEngine", "SearchEngine", "UTMCampaign", "UTMMedium", "UTMSource")
VISIT_FIELDS: tuple[str, ...] = (
    *(f"ym:s:{f}" for f in _VISIT_BASE),
    *(f"ym:s:lastsign{f}" for f in SOURCE_FIELDS),
    *(f"ym:s:last{f}" for f in SOURCE_FIELDS),
    *(f"ym:s:first{f}" for f in _FIRST),
)

HIT_FIELDS: tuple[str, ...] = tuple(
    f"ym:pv:{f}"
    for f in (
        "watchID",
        "pageViewID",
        "counterID",
        "clientID",
        "counterUserIDHash",
        "date",
        "dateTime",
        "title",
        "URL",
        "referer",
        "UTMCampaign",
        "UTMContent",
        "UTMMedium",
        "UTMSource",
        "UTMTerm",
        "lastTrafficSource",
        "lastSearchEngineRoot",
        "lastSearchEngine",
        "lastAdvEngine",
        "lastSocialNetwork",
        "lastReferalSource",
        "goalsID",
        "isPageView",
        "artificial",
        "link",
        "download",
        "notBounce",
        "iFrame",
        "isTurboPage",
        "ecommerce",
        "params",
        "parsedParamsKey1",
        "parsedParamsKey2",
        "httpError",
        "deviceCategory",
        "operatingSystemRoot",
        "browser",
        "ipAddress",
        "regionCountry",
        "regionCity",
        "regionCountryID",
        "regionCityID",
    )
)

# --------------------------------------------------------------------------- field types
# Kinds (see `tsv.CONVERTERS`): uint64 (Decimal(20, 0), exact), int, bool (UInt8 0/1 flags),
# date, datetime (counter-local, stored as UTC), datetime_utc, array (ClickHouse literal, stored
# as a JSON array), text. Anything else is text.
_KINDS: dict[str, str] = {
    "visitID": "uint64",
    "watchID": "uint64",
    "pageViewID": "uint64",
    "clientID": "uint64",
    "counterUserIDHash": "uint64",
    "counterID": "int",
    "pageViews": "int",
    "visitDuration": "int",
    "regionCountryID": "int",
    "regionCityID": "int",
    "deviceCategory": "int",
    "httpError": "int",
    "isNewUser": "bool",
    "bounce": "bool",
    "isPageView": "bool",
    "artificial": "bool",
    "link": "bool",
    "download": "bool",
    "notBounce": "bool",
    "iFrame": "bool",
    "isTurboPage": "bool",
    "date": "date",
    "dateTime": "datetime",
    "dateTimeUTC": "datetime_utc",
    "watchIDs": "array",
    "goalsID": "array",
    "goalsSerialNumber": "array",
    "goalsDateTime": "array",
    "goalsPrice": "array",
    "goalsOrder": "array",
    "goalsCurrency": "array",
    "purchaseID": "array",
    "purchaseRevenue": "array",
    "purchaseCurrency": "array",
    **{f"parsedParamsKey{i}": "array" for i in range(1, 11)},
}
# Direct ids of a visit: UInt64 in Metrica, empty for visits not from Direct.
_SOURCE_KINDS = {
    "DirectClickOrder": "uint64",
    "DirectBannerGroup": "uint64",
    "DirectClickBanner": "uint64",
    "CurrencyID": "int",
}

# Text fields with few distinct values: stored as LowCardinality(String).
_ENUMS = {
    "regionCountry",
    "regionCity",
    "operatingSystemRoot",
    "browser",
    "from",
    "TrafficSource",
    "AdvEngine",
    "SearchEngineRoot",
    "SearchEngine",
    "SocialNetwork",
    "DirectPlatformType",
    "DirectConditionType",
    "RecommendationSystem",
    "Messenger",
    "UTMSource",
    "UTMMedium",
}

# Required (never NULL): the key and the cursor.
PRIMARY_KEY = {"visits": ("counter_id", "visit_id"), "hits": ("counter_id", "watch_id")}
REQUIRED = {"visitID", "watchID", "counterID", "date"}


def _source_suffix(name: str) -> str | None:
    """`lastsignUTMSource` → `UTMSource`; None when `name` is not a source field."""
    for attribution in sorted(ATTRIBUTIONS, key=len, reverse=True):
        if name.startswith(attribution) and name[len(attribution) :] in SOURCE_FIELDS:
            return name[len(attribution) :]
    return name if name in SOURCE_FIELDS else None


def field_kind(name: str) -> str:
    """The kind of a field name without its `ym:s:`/`ym:pv:` prefix."""
    if name in _KINDS:
        return _KINDS[name]
    suffix = _source_suffix(name)
    return _SOURCE_KINDS.get(suffix or "", "text")


def is_enum(name: str) -> bool:
    return name in _ENUMS or (_source_suffix(name) or "") in _ENUMS
