"""Defaults of the AppMetrica Logs API source: endpoint, exports, field lists and types, windows."""

from __future__ import annotations

from dataclasses import dataclass

BASE_URL = "https://api.appmetrica.yandex.ru"

TIMEZONE = "Europe/Moscow"
"""Time zone of `date_since`/`date_until` and of the `*_datetime` fields (the application's
time zone in AppMetrica settings; Moscow by default)."""

LOOKBACK_DAYS = 2
"""Each run starts this many receive days before the latest loaded one: the Logs API keeps
adding rows to a receive day for a while after it ended."""

INITIAL_DAYS = 30
"""Receive days loaded by the first run when no `initial_date` is configured."""

POLL_INTERVAL_SECONDS = 10.0
"""First pause after `202 Accepted`; it grows ×1.5 per poll up to `MAX_POLL_INTERVAL_SECONDS`."""
MAX_POLL_INTERVAL_SECONDS = 120.0
POLL_TIMEOUT_SECONDS = 3 * 3600.0

MAX_ATTEMPTS = 6
BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 120.0
REQUEST_TIMEOUT_SECONDS = 600.0

MAX_PARTS = 64
"""Upper bound when the API answers 400 "Try to use more parts." and the day is split further."""

_DEVICE_FIELDS = (
    "city",
    "country_iso_code",
    "device_locale",
    "device_manufacturer",
    "device_model",
    "device_type",
    "google_aid",
    "ios_ifa",
    "ios_ifv",
    "mcc",
    "mnc",
    "operator_name",
    "original_device_model",
    "os_name",
    "os_version",
    "windows_aid",
    "app_build_number",
    "app_package_name",
    "app_version_name",
)
_IDS = ("application_id", "installation_id", "appmetrica_device_id", "profile_id")


@dataclass(frozen=True)
class Export:
    """One Logs API export and the raw table it lands in."""

    resource: str
    fields: tuple[str, ...]
    receive_datetime: str
    """Field whose local date is the receive day (the cursor and the request window)."""
    cursor: str
    """Derived Date column: the receive day."""
    primary_key: tuple[str, ...]
    order_by: tuple[str, ...]


EXPORTS: dict[str, Export] = {
    "events": Export(
        "events",
        (
            *_IDS,
            "session_id",
            "event_name",
            "event_json",
            "event_datetime",
            "event_timestamp",
            "event_receive_datetime",
            "event_receive_timestamp",
            "connection_type",
            "device_ipv6",
            *_DEVICE_FIELDS,
        ),
        "event_receive_datetime",
        "event_receive_date",
        # No event id exists. A row is identified by its whole content (the sink's `_row_hash`):
        # a re-read day adds nothing, and the only rows it cannot tell apart (same device,
        # session, second, name and attributes) carry no information a count would miss.
        (),
        ("event_receive_date", "event_name", "appmetrica_device_id", "event_timestamp"),
    ),
    "sessions_starts": Export(
        "sessions_starts",
        (
            *_IDS,
            "session_id",
            "session_start_datetime",
            "session_start_timestamp",
            "session_start_receive_datetime",
            "session_start_receive_timestamp",
            "connection_type",
            "device_ipv6",
            *_DEVICE_FIELDS,
        ),
        "session_start_receive_datetime",
        "session_start_receive_date",
        # session ids are unique per device
        ("application_id", "appmetrica_device_id", "session_id"),
        ("session_start_receive_date", "application_id", "appmetrica_device_id", "session_id"),
    ),
    "installations": Export(
        "installations",
        (
            *_IDS,
            "attributed_touch_type",
            "click_datetime",
            "click_timestamp",
            "click_id",
            "click_ipv6",
            "click_url_parameters",
            "click_user_agent",
            "publisher_id",
            "publisher_name",
            "tracker_name",
            "tracking_id",
            "install_datetime",
            "install_timestamp",
            "install_receive_datetime",
            "install_receive_timestamp",
            "install_ipv6",
            "is_reattribution",
            "is_reinstallation",
            "match_type",
            *_DEVICE_FIELDS,
        ),
        "install_receive_datetime",
        "install_receive_date",
        # a reinstall gets a new installation_id
        ("application_id", "installation_id"),
        ("install_receive_date", "application_id", "installation_id"),
    ),
}

# Kinds (see `parsing.CONVERTERS`); fields not listed are text.
KINDS: dict[str, str] = {
    "application_id": "int",
    "appmetrica_device_id": "uint64",
    "session_id": "uint64",
    "publisher_id": "int",
    "tracking_id": "uint64",
    "app_build_number": "int",
    "is_reattribution": "bool",
    "is_reinstallation": "bool",
}
REQUIRED = {"application_id", "appmetrica_device_id"}

ENUMS = {
    "event_name",
    "city",
    "country_iso_code",
    "device_locale",
    "device_manufacturer",
    "device_model",
    "device_type",
    "mcc",
    "mnc",
    "operator_name",
    "original_device_model",
    "os_name",
    "os_version",
    "app_package_name",
    "app_version_name",
    "connection_type",
    "attributed_touch_type",
    "publisher_name",
    "tracker_name",
    "match_type",
}


def field_kind(name: str) -> str:
    if name in KINDS:
        return KINDS[name]
    if name.endswith("_timestamp"):
        return "int"  # Unix seconds
    if name.endswith("_datetime"):
        return "datetime"  # application-local wall time
    return "text"


def required(export: Export) -> set[str]:
    """Fields that may never be empty: the ids, the key, the sort key and the receive time."""
    return (
        REQUIRED
        | set(export.primary_key)
        | set(export.order_by) - {export.cursor}
        | {export.receive_datetime}
    )
