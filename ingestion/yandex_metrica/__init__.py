"""Yandex Metrica Logs API: raw visits and hits of one counter.

    pipeline = make_pipeline("yandex_metrica")
    pipeline.run(yandex_metrica_source())           # counter and token from config/env

Resources `visits` and `hits` land in `raw.yandex_metrica__visits` / `__hits`, one row per visit
(`counter_id`, `visit_id`) and per hit (`counter_id`, `watch_id`). See README.md for the cursor
and the trailing window.
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
from .tsv import column_name, parse_part

log = logging.getLogger("predicto.ingestion.yandex_metrica")

_DLT_TYPES: dict[str, dict[str, Any]] = {
    "text": {"data_type": "text"},
    "uint64": {"data_type": "decimal", "precision": 20, "scale": 0, "description": "UInt64, exact"},
    "int": {"data_type": "bigint"},
    "bool": {"data_type": "bool"},
    "date": {"data_type": "date", "description": "Date in the counter's time zone"},
    "datetime": {
        "data_type": "timestamp",
        "precision": 0,
        "description": "Sent in the counter's time zone, stored as UTC",
    },
    "datetime_utc": {"data_type": "timestamp", "precision": 0},
    # text, not dlt's json type: the value is already JSON, nothing should re-encode it
    "array": {"data_type": "text", "description": "JSON array parsed from the Logs API array literal"},
}
_REQUIRED_FIELDS = {"visits": ("visitID", "counterID", "date"), "hits": ("watchID", "counterID", "date")}


@dlt.source(name="yandex_metrica")
def yandex_metrica_source(
    counter_id: int = dlt.config.value,
    token: str = dlt.secrets.value,
    base_url: str = settings.BASE_URL,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    initial_date: dt.date | None = None,
    lookback_days: int = settings.LOOKBACK_DAYS,
    visit_fields: list[str] | None = None,
    hit_fields: list[str] | None = None,
    attribution: str | None = None,
    timezone: str = settings.TIMEZONE,
    poll_interval_seconds: float = settings.POLL_INTERVAL_SECONDS,
    poll_timeout_seconds: float = settings.POLL_TIMEOUT_SECONDS,
    max_attempts: int = settings.MAX_ATTEMPTS,
    backoff_seconds: float = settings.BACKOFF_SECONDS,
    max_backoff_seconds: float = settings.MAX_BACKOFF_SECONDS,
) -> list[DltResource]:
    """Visits and hits of one counter, incrementally by date.

    Args:
        counter_id: Metrica counter id (`sources.yandex_metrica.counter_id`).
        token: OAuth token with `metrika:read` (`sources.yandex_metrica.token`).
        base_url: Logs API root; the real endpoint by default.
        start_date: load from this date, ignoring the stored cursor (a backfill; the cursor is
            neither used nor moved).
        end_date: last date to load; default and upper bound: yesterday in `timezone` (the
            API has no data for its "today").
        initial_date: where the first run starts; default `end - 30 days`.
        lookback_days: each run starts this many days before the latest loaded date.
        visit_fields / hit_fields: Logs API field names; defaults in `settings`.
        attribution: Logs API `attribution` parameter (API default LASTSIGN).
        timezone: the counter's time zone (dates, `dateTime`, "today").
        poll_interval_seconds / poll_timeout_seconds: status polling.
        max_attempts / backoff_seconds / max_backoff_seconds: retries of transient failures.

    Returns:
        The `visits` and `hits` resources.
    """
    api = LogsApi(
        base_url,
        int(counter_id),
        token,
        RetryPolicy(max_attempts, backoff_seconds, max_backoff_seconds),
        poll_interval_seconds,
        poll_timeout_seconds,
    )
    end = _end_date(end_date, timezone)
    if start_date is not None and start_date > end:
        raise ValueError(f"yandex_metrica: start_date {start_date} is after the end date {end}")
    initial = initial_date or end - dt.timedelta(days=settings.INITIAL_DAYS)
    return [
        _resource(api, source, fields, start_date, initial, end, lookback_days, attribution, timezone)
        for source, fields in (
            ("visits", visit_fields or settings.VISIT_FIELDS),
            ("hits", hit_fields or settings.HIT_FIELDS),
        )
    ]


def _resource(
    api: LogsApi,
    source: str,
    fields: Sequence[str],
    start_date: dt.date | None,
    initial: dt.date,
    end: dt.date,
    lookback_days: int,
    attribution: str | None,
    timezone: str,
) -> DltResource:
    fields = _with_required(source, fields)
    if start_date is not None:
        # An explicit range: dlt keeps this run's cursor out of the state.
        cursor = dlt.sources.incremental(
            "date",
            initial_value=start_date,
            end_value=end + dt.timedelta(days=1),
            primary_key=(),
            on_cursor_value_missing="include",
        )
    else:
        # `lag` makes dlt start (and filter) `lookback_days` before the stored last value.
        cursor = dlt.sources.incremental(
            "date",
            initial_value=initial,
            lag=lookback_days,
            primary_key=(),  # the sink deduplicates; dlt's boundary dedup would cost a hash per row
            on_cursor_value_missing="include",  # quarantined rows have no date
        )

    def rows(date: dlt.sources.incremental[dt.date] = cursor) -> Iterator[Any]:
        date1 = start_date or date.start_value
        if date1 > end:
            log.info("%s: nothing to load (%s is after %s)", source, date1, end)
            return
        yield from read_log(api, source, fields, date1, end, attribution, timezone)

    resource = dlt.resource(
        rows,
        name=source,
        # visits and hits are prepared by the API side by side (3 parallel requests allowed)
        parallelized=True,
        write_disposition="append",
        primary_key=list(settings.PRIMARY_KEY[source]),
        columns=column_hints(source, fields),
    )
    # Sorted by day first (the sink's duplicate check reads only the batch's day range);
    # monthly partitions: hits are the biggest table of the warehouse.
    key = settings.PRIMARY_KEY[source]
    resource.apply_hints(
        additional_table_hints=table_hints(order_by=["date", *key], partition_by="toYYYYMM(date)")
    )
    return resource


def read_log(
    api: LogsApi,
    source: str,
    fields: Sequence[str],
    date1: dt.date,
    date2: dt.date,
    attribution: str | None,
    timezone: str,
) -> Iterator[Any]:
    """Arrow tables of typed rows, and quarantined rows, for date1..date2."""
    prefix = settings.PREFIX[source]
    for location, body in api.export(source, fields, date1, date2, attribution):
        parsed = parse_part(body, prefix, timezone)
        if parsed.bad:
            log.warning("%s: %d row(s) of %s quarantined", source, len(parsed.bad), location)
        for bad in parsed.bad:
            yield quarantine(source, f"{location} line {bad.line}", bad.reason, bad.payload)
        if parsed.table is not None:
            yield parsed.table


def column_hints(source: str, fields: Sequence[str]) -> dict[str, dict[str, Any]]:
    """dlt column schemas for the requested fields, in request order."""
    prefix = settings.PREFIX[source]
    hints: dict[str, dict[str, Any]] = {}
    for api_field in fields:
        short = api_field.removeprefix(prefix)
        kind = settings.field_kind(short)
        hint: dict[str, Any] = {**_DLT_TYPES[kind], "nullable": short not in settings.REQUIRED}
        if kind == "text" and settings.is_enum(short):
            hint[LOW_CARDINALITY] = True
        hints[column_name(api_field)] = hint
    return hints


def _with_required(source: str, fields: Sequence[str]) -> list[str]:
    """The key and cursor fields are always requested, whatever the configured list says."""
    prefix = settings.PREFIX[source]
    missing = [prefix + f for f in _REQUIRED_FIELDS[source] if prefix + f not in fields]
    return [*missing, *fields]


def _end_date(end_date: dt.date | None, timezone: str) -> dt.date:
    """The last date to request: never the counter's today (the Logs API refuses it)."""
    from zoneinfo import ZoneInfo

    yesterday = dt.datetime.now(ZoneInfo(timezone)).date() - dt.timedelta(days=1)
    if end_date is None:
        return yesterday
    if end_date > yesterday:
        log.warning("yandex_metrica: end date %s moved back to %s (no data for today)", end_date, yesterday)
        return yesterday
    return end_date


__all__ = ["yandex_metrica_source"]
