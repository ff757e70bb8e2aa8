"""Yandex Direct Reports API: daily campaign cost, impressions and clicks of one advertiser.

    pipeline = make_pipeline("yandex_direct")
    pipeline.run(yandex_direct_source())             # token and client login from config/env

The `campaign_stats` resource lands in `raw.yandex_direct__campaign_stats`, one row per
(client_login, date, campaign_id, ad_network_type, device). See README.md.
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
from .helpers import ReportsApi, RetryPolicy
from .parsing import column_name, parse_report

log = logging.getLogger("predicto.ingestion.yandex_direct")

_DLT_TYPES: dict[str, dict[str, Any]] = {
    "date": {"data_type": "date"},
    "int": {"data_type": "bigint"},
    "money": {"data_type": "decimal", "precision": 18, "scale": 2},
    "percent": {"data_type": "decimal", "precision": 9, "scale": 2, "description": "Percent"},
    "text": {"data_type": "text"},
    "enum": {"data_type": "text", LOW_CARDINALITY: True},
}


@dlt.source(name="yandex_direct")
def yandex_direct_source(
    token: str = dlt.secrets.value,
    client_login: str = "",
    base_url: str = settings.BASE_URL,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    initial_date: dt.date | None = None,
    lookback_days: int = settings.LOOKBACK_DAYS,
    field_names: list[str] | None = None,
    include_vat: bool = False,
    max_days_per_report: int = settings.MAX_DAYS_PER_REPORT,
    timezone: str = settings.TIMEZONE,
    max_poll_interval_seconds: float = settings.MAX_POLL_INTERVAL_SECONDS,
    poll_timeout_seconds: float = settings.POLL_TIMEOUT_SECONDS,
    max_attempts: int = settings.MAX_ATTEMPTS,
    backoff_seconds: float = settings.BACKOFF_SECONDS,
    max_backoff_seconds: float = settings.MAX_BACKOFF_SECONDS,
) -> DltResource:
    """Campaign statistics by day, from CAMPAIGN_PERFORMANCE_REPORT.

    Args:
        token: Direct API OAuth token (`sources.yandex_direct.token`).
        client_login: the advertiser's login (`Client-Login`; required with an agency token).
        base_url: Reports API root; the real endpoint by default.
        start_date: first date, ignoring the stored cursor (a backfill that neither uses nor
            moves it).
        end_date: last date; default yesterday in `timezone`.
        initial_date: where the first run starts; default `end - 30 days`.
        lookback_days: each run starts this many days before the latest loaded date.
        field_names: report FieldNames; the key fields are always added.
        include_vat: money with VAT (`IncludeVAT: YES`); default without, like other cost sources.
        max_days_per_report: longer ranges are split into several reports.
        timezone: where "yesterday" is.
        max_poll_interval_seconds / poll_timeout_seconds: the 201/202 `retryIn` loop.
        max_attempts / backoff_seconds / max_backoff_seconds: retries of transient failures.

    Returns:
        The `campaign_stats` resource.
    """
    api = ReportsApi(
        base_url,
        token,
        client_login or "",
        RetryPolicy(max_attempts, backoff_seconds, max_backoff_seconds),
        max_poll_interval_seconds,
        poll_timeout_seconds,
    )
    end = end_date or _yesterday(timezone)
    if start_date is not None and start_date > end:
        raise ValueError(f"yandex_direct: start_date {start_date} is after the end date {end}")
    initial = initial_date or end - dt.timedelta(days=settings.INITIAL_DAYS)
    fields = [f for f in settings.REQUIRED_FIELDS if f not in (field_names or ())] + list(
        field_names or settings.FIELD_NAMES
    )
    if start_date is not None:
        cursor = dlt.sources.incremental(
            "date",
            initial_value=start_date,
            end_value=end + dt.timedelta(days=1),
            primary_key=(),
            on_cursor_value_missing="include",
        )
    else:
        cursor = dlt.sources.incremental(
            "date",
            initial_value=initial,
            lag=lookback_days,  # dlt starts (and filters) this many days before the last value
            primary_key=(),  # the sink deduplicates
            on_cursor_value_missing="include",  # quarantined rows have no date
        )

    def campaign_stats(date: dlt.sources.incremental[dt.date] = cursor) -> Iterator[Any]:
        first = start_date or date.start_value
        for date_from, date_to in chunks(first, end, max_days_per_report):
            yield from read_report(api, date_from, date_to, fields, include_vat)

    resource = dlt.resource(
        campaign_stats,
        name="campaign_stats",
        write_disposition="append",
        primary_key=list(settings.PRIMARY_KEY),
        columns=column_hints(fields),
    )
    # small table (campaigns × days × networks × devices): sorted by day, no partitions
    resource.apply_hints(
        additional_table_hints=table_hints(
            order_by=["date", "campaign_id", "ad_network_type", "device", "client_login"]
        )
    )
    return resource


def read_report(
    api: ReportsApi, date_from: dt.date, date_to: dt.date, fields: Sequence[str], include_vat: bool
) -> Iterator[Any]:
    """Typed rows and quarantined rows of one report."""
    name, text = api.report(date_from, date_to, fields, include_vat)
    parsed = parse_report(text, api.client_login)
    if parsed.bad:
        log.warning("campaign_stats: %d row(s) of report %s quarantined", len(parsed.bad), name)
    for bad in parsed.bad:
        yield quarantine("campaign_stats", f"report {name} line {bad.line}", bad.reason, bad.payload)
    yield from parsed.rows


def chunks(first: dt.date, last: dt.date, days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """first..last in ranges of at most `days` days."""
    while first <= last:
        end = min(last, first + dt.timedelta(days=max(1, days) - 1))
        yield first, end
        first = end + dt.timedelta(days=1)


def column_hints(fields: Sequence[str]) -> dict[str, dict[str, Any]]:
    hints: dict[str, dict[str, Any]] = {
        "client_login": {"data_type": "text", "nullable": False, "description": "Client-Login of the report"}
    }
    for name in fields:
        kind = settings.COLUMNS.get(name, ("", "text"))[1]
        column = column_name(name)
        hints[column] = {**_DLT_TYPES[kind], "nullable": column not in settings.PRIMARY_KEY}
    return hints


def _yesterday(timezone: str) -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


__all__ = ["yandex_direct_source"]
