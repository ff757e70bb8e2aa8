"""Billing: YooKassa payments and refunds (API v3) and the merchant's subscription states.

    pipeline = make_pipeline("billing")
    pipeline.run(billing_source())

Tables: `raw.billing__payments`, `raw.billing__refunds`, `raw.billing__subscriptions`. Objects
that cannot be typed (an amount "abc") go to `raw._quarantine`. See README.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.quarantine import quarantine

from .helpers import (
    ApiClient,
    UntypableError,
    iso,
    payment_row,
    refund_row,
    subscription_row,
)
from .settings import (
    DEFAULT_BASE_URL,
    HISTORY_DAYS,
    KEYS_FIX,
    LOOKBACK_DAYS,
    MERCHANT_URL_FIX,
    PAGE_LIMIT,
    PAYMENT_COLUMNS,
    PAYMENT_HINTS,
    PAYMENTS_PATH,
    REFUND_COLUMNS,
    REFUND_HINTS,
    REFUNDS_PATH,
    SOURCE_NAME,
    SUBSCRIPTION_COLUMNS,
    SUBSCRIPTION_HINTS,
    SUBSCRIPTIONS_LOOKBACK_SECONDS,
    SUBSCRIPTIONS_PAGE_LIMIT,
    SUBSCRIPTIONS_PATH,
    URL_FIX,
    WINDOW_DAYS,
)

log = logging.getLogger("predicto.ingestion.billing")

__all__ = ["billing_source"]


@dlt.source(name=SOURCE_NAME)
def billing_source(
    shop_id: str = dlt.secrets.value,
    secret_key: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    merchant_base_url: str | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    lookback_days: int = LOOKBACK_DAYS,
    window_days: int = WINDOW_DAYS,
    history_days: int = HISTORY_DAYS,
    max_attempts: int = 6,
    backoff_factor: float = 1.0,
    request_timeout: float = 60.0,
) -> list[DltResource]:
    """YooKassa payments and refunds, and the merchant's subscription states.

    Args:
        shop_id: YooKassa shop id (secret `sources.billing.shop_id`).
        secret_key: YooKassa secret key (secret `sources.billing.secret_key`).
        base_url: YooKassa API root (`sources.billing.base_url`).
        merchant_base_url: root of the merchant's subscription service; default `base_url`.
        start_date: first creation (payments, refunds) or update (subscriptions) day to read,
            instead of the stored cursor; with it the run is a backfill that leaves the cursor alone.
        end_date: last day to read (inclusive); also makes the run a backfill.
        lookback_days: payments and refunds created this many days before the cursor are read
            again, because their status changes after creation.
        window_days: length of one `created_at` window.
        history_days: how far back the first run reads.
        max_attempts: tries per request (429, 5xx, connection errors, cut bodies).
        backoff_factor: base of the exponential backoff, seconds.
        request_timeout: seconds per request.

    Returns:
        The `payments`, `refunds` and `subscriptions` resources.
    """
    now = dt.datetime.now(dt.UTC)
    start = _day_start(start_date) if start_date else None
    end = _day_start(end_date + dt.timedelta(days=1)) if end_date else None
    backfill = start is not None or end is not None
    first_run = now - dt.timedelta(days=history_days)
    common = {"max_attempts": max_attempts, "backoff_factor": backoff_factor, "timeout": request_timeout}
    yookassa = ApiClient(base_url, (shop_id, secret_key), url_fix=URL_FIX, auth_fix=KEYS_FIX, **common)
    merchant = ApiClient(
        merchant_base_url or base_url,
        (shop_id, secret_key),
        url_fix=MERCHANT_URL_FIX,
        auth_fix=KEYS_FIX,
        **common,
    )

    def created_cursor() -> Any:
        # With an explicit window dlt filters between the two values and stores no state.
        return dlt.sources.incremental(
            "created_at",
            initial_value=start or first_run,
            end_value=(end or now) if backfill else None,
            # A backfill reads exactly its window; ordinary runs step back to re-read statuses.
            lag=None if backfill else lookback_days * 86400,
            on_cursor_value_missing="include",  # quarantined objects carry no cursor
        )

    payments_cursor, refunds_cursor = created_cursor(), created_cursor()
    subscriptions_cursor = dlt.sources.incremental(
        "updated_at",
        initial_value=start or first_run,
        end_value=(end or now) if backfill else None,
        lag=None if backfill else SUBSCRIPTIONS_LOOKBACK_SECONDS,
        on_cursor_value_missing="include",
    )

    @dlt.resource(name="payments", primary_key="id", write_disposition="append", columns=PAYMENT_COLUMNS)
    def payments(created_at: Any = payments_cursor) -> Iterator[Any]:
        yield from _created_windows(
            yookassa, PAYMENTS_PATH, "payments", payment_row, created_at, end or now, window_days
        )

    @dlt.resource(name="refunds", primary_key="id", write_disposition="append", columns=REFUND_COLUMNS)
    def refunds(created_at: Any = refunds_cursor) -> Iterator[Any]:
        yield from _created_windows(
            yookassa, REFUNDS_PATH, "refunds", refund_row, created_at, end or now, window_days
        )

    @dlt.resource(
        name="subscriptions",
        primary_key="subscription_id",
        write_disposition="append",
        columns=SUBSCRIPTION_COLUMNS,
    )
    def subscriptions(updated_at: Any = subscriptions_cursor) -> Iterator[Any]:
        # The service filters on the lower bound only; dlt drops states past end_value.
        params = {"updated_at.gte": iso(updated_at.start_value), "limit": SUBSCRIPTIONS_PAGE_LIMIT}
        for items, location in merchant.pages(SUBSCRIPTIONS_PATH, params):
            yield from _typed(items, SUBSCRIPTIONS_PATH, location, "subscriptions", subscription_row)

    payments.apply_hints(additional_table_hints=PAYMENT_HINTS)
    refunds.apply_hints(additional_table_hints=REFUND_HINTS)
    subscriptions.apply_hints(additional_table_hints=SUBSCRIPTION_HINTS)
    return [payments, refunds, subscriptions]


def _created_windows(
    client: ApiClient,
    path: str,
    resource: str,
    to_row: Callable[[Any], dict[str, Any]],
    cursor: Any,
    end: dt.datetime,
    window_days: int,
) -> Iterator[Any]:
    """Every object created in [cursor start (lookback applied), end), window by window."""
    lower = cursor.start_value
    step = dt.timedelta(days=window_days)
    while lower < end:
        upper = min(lower + step, end)
        params = {"created_at.gte": iso(lower), "created_at.lt": iso(upper), "limit": PAGE_LIMIT}
        for items, location in client.pages(path, params):
            yield from _typed(items, path, location, resource, to_row)
        lower = upper


def _typed(
    items: list[Any], path: str, location: str, resource: str, to_row: Callable[[Any], dict[str, Any]]
) -> Iterator[Any]:
    """Rows for the objects that type, quarantine items for the others."""
    import json

    rows = []
    for position, item in enumerate(items, 1):
        try:
            rows.append(to_row(item))
        except UntypableError as exc:
            payload = json.dumps(item, ensure_ascii=False)
            object_id = (item.get("id") or item.get("subscription_id")) if isinstance(item, dict) else None
            # The object's id when it has one: the same bad object read again (the next run's
            # windows differ) is then the same quarantined row, not a new one.
            where = f"{path} id={object_id}" if isinstance(object_id, str) else f"{location} item {position}"
            log.warning("billing: %s quarantined: %s", where, exc)
            yield quarantine(resource, where, str(exc), payload)
    if rows:
        yield rows


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)
