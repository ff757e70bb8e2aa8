"""AppMetrica Logs API: app events, session starts and installations of one application.

    pipeline = make_pipeline("appmetrica")
    pipeline.run(appmetrica_source())                # application and token from config/env

Resources `events`, `sessions_starts` and `installations` land in `raw.appmetrica__<resource>`,
loaded by receive day (one export per day and resource). See README.md for keys and windows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.quarantine import quarantine
from ingestion.sink.hints import LOW_CARDINALITY, table_hints

from . import settings
from .helpers import LogsApi, RetryPolicy
from .parsing import parse_csv

log = logging.getLogger("predicto.ingestion.appmetrica")

_DLT_TYPES: dict[str, dict[str, Any]] = {
    "text": {"data_type": "text"},
    "uint64": {"data_type": "decimal", "precision": 20, "scale": 0, "description": "UInt64, exact"},
    "int": {"data_type": "bigint"},
    "bool": {"data_type": "bool"},
    "datetime": {
        "data_type": "timestamp",
        "precision": 0,
        "description": "Sent in the application's time zone, stored as UTC",
    },
}


@dlt.source(name="appmetrica")
def appmetrica_source(
    application_id: int = dlt.config.value,
    token: str = dlt.secrets.value,
    base_url: str = settings.BASE_URL,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    initial_date: dt.date | None = None,
    lookback_days: int = settings.LOOKBACK_DAYS,
    events_fields: list[str] | None = None,
    sessions_starts_fields: list[str] | None = None,
    installations_fields: list[str] | None = None,
    timezone: str = settings.TIMEZONE,
    parts_count: int = 1,
    poll_interval_seconds: float = settings.POLL_INTERVAL_SECONDS,
    max_poll_interval_seconds: float = settings.MAX_POLL_INTERVAL_SECONDS,
    poll_timeout_seconds: float = settings.POLL_TIMEOUT_SECONDS,
    max_attempts: int = settings.MAX_ATTEMPTS,
    backoff_seconds: float = settings.BACKOFF_SECONDS,
    max_backoff_seconds: float = settings.MAX_BACKOFF_SECONDS,
) -> list[DltResource]:
    """Events, session starts and installations by receive day.

    Args:
        application_id: AppMetrica application id (`sources.appmetrica.application_id`).
        token: OAuth token with `appmetrica:read` (`sources.appmetrica.token`).
        base_url: Logs API root; the real endpoint by default.
        start_date: first receive day, ignoring the stored cursor (a backfill that neither
            uses nor moves it).
        end_date: last receive day; default yesterday in `timezone` (today is still filling).
        initial_date: where the first run starts; default `end - 30 days`.
        lookback_days: each run starts this many days before the latest loaded receive day.
        events_fields / sessions_starts_fields / installations_fields: Logs API field lists;
            defaults in `settings.EXPORTS`.
        timezone: the application's time zone (request windows and `*_datetime` fields).
        parts_count: files per export and day (`parts_count`/`part_number`, as the official
            loader sends them); doubled automatically when the API asks for more parts.
        poll_interval_seconds / max_poll_interval_seconds / poll_timeout_seconds: the 202 loop.
        max_attempts / backoff_seconds / max_backoff_seconds: retries of transient failures.

    Returns:
        The three export resources.
    """
    api = LogsApi(
        base_url,
        int(application_id),
        token,
        RetryPolicy(max_attempts, backoff_seconds, max_backoff_seconds),
        poll_interval_seconds,
        max_poll_interval_seconds,
        poll_timeout_seconds,
    )
    end = end_date or _yesterday(timezone)
    if start_date is not None and start_date > end:
        raise ValueError(f"appmetrica: start_date {start_date} is after the end date {end}")
    initial = initial_date or end - dt.timedelta(days=settings.INITIAL_DAYS)
    configured = {
        "events": events_fields,
        "sessions_starts": sessions_starts_fields,
        "installations": installations_fields,
    }
    return [
        _resource(
            api, export, configured[name], start_date, initial, end, lookback_days, timezone, parts_count
        )
        for name, export in settings.EXPORTS.items()
    ]


def _resource(
    api: LogsApi,
    export: settings.Export,
    fields: Sequence[str] | None,
    start_date: dt.date | None,
    initial: dt.date,
    end: dt.date,
    lookback_days: int,
    timezone: str,
    parts_count: int,
) -> DltResource:
    fields = _with_required(export, fields or export.fields)
    if start_date is not None:
        cursor = dlt.sources.incremental(
            export.cursor,
            initial_value=start_date,
            end_value=end + dt.timedelta(days=1),
            primary_key=(),
            on_cursor_value_missing="include",
        )
    else:
        cursor = dlt.sources.incremental(
            export.cursor,
            initial_value=initial,
            lag=lookback_days,  # dlt starts (and filters) this many days before the last value
            primary_key=(),  # the sink deduplicates
            on_cursor_value_missing="include",  # quarantined rows have no receive day
        )

    def rows(receive_date: dlt.sources.incremental[dt.date] = cursor) -> Iterator[Any]:
        day = start_date or receive_date.start_value
        while day <= end:
            yield from read_day(api, export, fields, day, timezone, parts_count)
            day += dt.timedelta(days=1)

    resource = dlt.resource(
        rows,
        name=export.resource,
        # one export in preparation per resource: three at once, the API's per-application limit
        parallelized=True,
        write_disposition="append",
        primary_key=list(export.primary_key),
        columns=column_hints(export, fields),
    )
    # receive day first: the sink's duplicate check reads only the batch's days;
    # monthly partitions for the event-sized tables
    resource.apply_hints(
        additional_table_hints=table_hints(
            order_by=list(export.order_by), partition_by=f"toYYYYMM({export.cursor})"
        )
    )
    return resource


def read_day(
    api: LogsApi, export: settings.Export, fields: Sequence[str], day: dt.date, timezone: str, parts: int = 1
) -> Iterator[Any]:
    """Typed rows (arrow) and quarantined rows of one receive day."""
    for location, text in api.export_day(export.resource, fields, day, parts):
        parsed = parse_csv(text, export, timezone)
        if parsed.bad:
            log.warning("%s: %d row(s) of %s quarantined", export.resource, len(parsed.bad), location)
        for bad in parsed.bad:
            yield quarantine(export.resource, f"{location} line {bad.line}", bad.reason, bad.payload)
        if parsed.table is not None:
            yield parsed.table


def column_hints(export: settings.Export, fields: Sequence[str]) -> dict[str, dict[str, Any]]:
    """dlt column schemas: the requested fields in order, the receive day after its datetime."""
    required = settings.required(export)
    hints: dict[str, dict[str, Any]] = {}
    for name in fields:
        kind = settings.field_kind(name)
        hint: dict[str, Any] = {**_DLT_TYPES[kind], "nullable": name not in required}
        if kind == "text" and name in settings.ENUMS:
            hint[LOW_CARDINALITY] = True
        hints[name] = hint
        if name == export.receive_datetime:
            hints[export.cursor] = {
                "data_type": "date",
                "nullable": False,
                "description": f"Receive day in the application's time zone (date of {name})",
            }
    return hints


def _with_required(export: settings.Export, fields: Sequence[str]) -> list[str]:
    """The key and receive-time fields are always requested, whatever the configured list says."""
    missing = [f for f in export.fields if f in settings.required(export) and f not in fields]
    return [*missing, *fields]


def _yesterday(timezone: str) -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


__all__ = ["appmetrica_source"]
