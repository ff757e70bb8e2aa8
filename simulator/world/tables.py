"""Column layouts of the world's internal tables and a small columnar row buffer.

Columns whose names start with ``_`` are ground truth kept beside the data for tests and are never
served by the sandbox. Metrica columns are named after the Logs API field without its prefix so
the sandbox can map ``ym:s:<name>`` straight to a column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

TS = pa.timestamp("ms", tz="UTC")

DEVICE_FIELDS = (
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

SCHEMAS: dict[str, pa.Schema] = {
    "metrica_visits": pa.schema(
        [
            ("visitID", pa.uint64()),
            ("counterID", pa.int64()),
            ("watchIDs", pa.list_(pa.uint64())),
            ("start_ms", TS),
            ("isNewUser", pa.int8()),
            ("startURL", pa.string()),
            ("endURL", pa.string()),
            ("pageViews", pa.int32()),
            ("visitDuration", pa.int32()),
            ("bounce", pa.int8()),
            ("ipAddress", pa.string()),
            ("regionCity", pa.string()),
            ("regionCityID", pa.int32()),
            ("clientID", pa.uint64()),
            ("counterUserIDHash", pa.uint64()),
            ("goalsID", pa.list_(pa.int64())),
            ("goals_ms", pa.list_(TS)),
            ("purchaseID", pa.list_(pa.string())),
            ("purchaseRevenue", pa.list_(pa.float64())),
            ("referer", pa.string()),
            ("deviceCategory", pa.int8()),
            ("operatingSystemRoot", pa.string()),
            ("browser", pa.string()),
            ("touch_last", pa.int32()),
            ("touch_lastsign", pa.int32()),
            ("touch_first", pa.int32()),
            ("params_user_id", pa.string()),
            ("_person_id", pa.int64()),
        ]
    ),
    "metrica_hits": pa.schema(
        [
            ("watchID", pa.uint64()),
            ("pageViewID", pa.uint64()),
            ("counterID", pa.int64()),
            ("clientID", pa.uint64()),
            ("counterUserIDHash", pa.uint64()),
            ("hit_ms", TS),
            ("title", pa.string()),
            ("URL", pa.string()),
            ("referer", pa.string()),
            ("touch_last", pa.int32()),
            ("isPageView", pa.int8()),
            ("notBounce", pa.int8()),
            ("goalsID", pa.list_(pa.int64())),
            ("deviceCategory", pa.int8()),
            ("operatingSystemRoot", pa.string()),
            ("browser", pa.string()),
            ("ipAddress", pa.string()),
            ("regionCity", pa.string()),
            ("regionCityID", pa.int32()),
            ("params_user_id", pa.string()),
            ("_visit_id", pa.uint64()),
            ("_person_id", pa.int64()),
        ]
    ),
    "appmetrica_devices": pa.schema(
        [("appmetrica_device_id", pa.uint64())]
        + [(f, pa.string()) for f in DEVICE_FIELDS]
        + [("_person_id", pa.int64())]
    ),
    "appmetrica_installations": pa.schema(
        [
            ("application_id", pa.int64()),
            ("installation_id", pa.string()),
            ("appmetrica_device_id", pa.uint64()),
            ("attributed_touch_type", pa.string()),
            ("click_ms", TS),
            ("click_id", pa.string()),
            ("click_ipv6", pa.string()),
            ("click_url_parameters", pa.string()),
            ("click_user_agent", pa.string()),
            ("profile_id", pa.string()),
            ("publisher_id", pa.string()),
            ("publisher_name", pa.string()),
            ("tracker_name", pa.string()),
            ("tracking_id", pa.string()),
            ("install_ms", TS),
            ("install_receive_ms", TS),
            ("install_ipv6", pa.string()),
            ("is_reattribution", pa.string()),
            ("is_reinstallation", pa.string()),
            ("match_type", pa.string()),
            ("_person_id", pa.int64()),
        ]
    ),
    "appmetrica_sessions_starts": pa.schema(
        [
            ("application_id", pa.int64()),
            ("session_id", pa.string()),
            ("session_start_ms", TS),
            ("session_start_receive_ms", TS),
            ("installation_id", pa.string()),
            ("appmetrica_device_id", pa.uint64()),
            ("profile_id", pa.string()),
            ("connection_type", pa.string()),
            ("device_ipv6", pa.string()),
            ("_person_id", pa.int64()),
        ]
    ),
    "appmetrica_events": pa.schema(
        [
            ("application_id", pa.int64()),
            ("event_name", pa.string()),
            ("event_json", pa.string()),
            ("event_ms", TS),
            ("event_receive_ms", TS),
            ("session_id", pa.string()),
            ("installation_id", pa.string()),
            ("appmetrica_device_id", pa.uint64()),
            ("profile_id", pa.string()),
            ("connection_type", pa.string()),
            ("device_ipv6", pa.string()),
            ("_person_id", pa.int64()),
        ]
    ),
    "auth_logins": pa.schema(
        [
            ("login_id", pa.string()),
            ("user_id", pa.int64()),
            ("logged_in_at", TS),
            ("client_type", pa.string()),
            ("client_id", pa.string()),
            ("auth_method", pa.string()),
            ("ip", pa.string()),
            ("user_agent", pa.string()),
            ("updated_at", TS),
            ("_person_id", pa.int64()),
        ]
    ),
    "billing_payments": pa.schema(
        [
            ("id", pa.string()),
            ("created_at", TS),
            ("status", pa.string()),
            ("user_id", pa.int64()),
            ("subscription_id", pa.string()),
            ("kind", pa.string()),
            ("amount", pa.string()),
            ("test", pa.bool_()),
            ("doc", pa.string()),
            ("_person_id", pa.int64()),
        ]
    ),
    "billing_refunds": pa.schema(
        [
            ("id", pa.string()),
            ("payment_id", pa.string()),
            ("created_at", TS),
            ("amount", pa.string()),
            ("doc", pa.string()),
            ("_person_id", pa.int64()),
        ]
    ),
    "billing_subscriptions": pa.schema(
        [
            ("subscription_id", pa.string()),
            ("user_id", pa.int64()),
            ("plan_id", pa.string()),
            ("status", pa.string()),
            ("started_at", TS),
            ("trial_end_at", TS),
            ("current_period_start", TS),
            ("current_period_end", TS),
            ("cancelled_at", TS),
            ("cancel_reason", pa.string()),
            ("ended_at", TS),
            ("payment_method_id", pa.string()),
            ("created_at", TS),
            ("updated_at", TS),
            ("_person_id", pa.int64()),
        ]
    ),
    "truth_views": pa.schema(
        [
            ("view_id", pa.string()),
            ("person_id", pa.int64()),
            ("user_id", pa.int64()),
            ("content_id", pa.int64()),
            ("platform", pa.string()),
            ("device_id", pa.string()),
            ("started_at", TS),
            ("ended_at", TS),
            ("start_position_sec", pa.int32()),
            ("unique_watched_sec", pa.int32()),
            ("played_sec", pa.int32()),
            ("paused_sec", pa.int32()),
            ("buffering_sec", pa.int32()),
            ("furthest_position_sec", pa.int32()),
            ("duration_sec", pa.int32()),
            ("credits_start_sec", pa.int32()),
            ("completed", pa.bool_()),
            ("events", pa.int32()),
            ("received_complete", pa.bool_()),
        ]
    ),
    "truth_daily_activity": pa.schema(
        [("person_id", pa.int64()), ("date", pa.date32()), ("platform", pa.string())]
    ),
    "truth_subscriptions": pa.schema(
        [
            ("subscription_id", pa.string()),
            ("person_id", pa.int64()),
            ("user_id", pa.int64()),
            ("plan_id", pa.string()),
            ("started_at", TS),
            ("first_kind", pa.string()),
            ("had_trial", pa.bool_()),
            ("converted", pa.bool_()),
            ("status", pa.string()),
            ("ended_at", TS),
            ("churn_type", pa.string()),
            ("cancel_reason", pa.string()),
            ("payments_succeeded", pa.int32()),
            ("payments_failed", pa.int32()),
            ("gross_revenue", pa.float64()),
            ("refunded", pa.float64()),
            ("net_revenue", pa.float64()),
        ]
    ),
    "truth_subscription_events": pa.schema(
        [
            ("subscription_id", pa.string()),
            ("person_id", pa.int64()),
            ("user_id", pa.int64()),
            ("event_at", TS),
            ("event", pa.string()),
            ("amount", pa.float64()),
            ("payment_id", pa.string()),
            ("reason", pa.string()),
        ]
    ),
    "truth_identity_raw": pa.schema(
        [("id_type", pa.string()), ("id_value", pa.string()), ("person_id", pa.int64())]
    ),
}


class Rows:
    """Append-only columnar buffer for one table."""

    __slots__ = ("names", "cols")

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.cols: list[list[Any]] = [[] for _ in self.names]

    def add(self, *values: Any) -> None:
        for col, v in zip(self.cols, values, strict=True):
            col.append(v)

    def __len__(self) -> int:
        return len(self.cols[0])

    def to_arrow(self, schema: pa.Schema) -> pa.Table:
        arrays = {
            n: pa.array(c, type=schema.field(n).type) for n, c in zip(self.names, self.cols, strict=True)
        }
        return pa.table([arrays[f.name] for f in schema], schema=schema)


def read_parquet(path: object, columns: list[str] | None = None) -> pa.Table:
    """Read one parquet file without the dataset layer (which would import pandas: ~1 s)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).read(columns=columns)


def new_rows(name: str) -> Rows:
    return Rows(SCHEMAS[name].names)
