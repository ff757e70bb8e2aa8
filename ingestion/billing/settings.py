"""Billing source defaults and the columns of its raw tables.

YooKassa API v3 lists payments and refunds newest first with `created_at.*` filters and cursor
pagination (SOURCES.md section 4.1). Statuses change after creation (pending → succeeded or
canceled, refunds lower `refundable`), so every run re-reads the last days; a changed object
becomes a new version of its row in raw and staging keeps the latest. YooKassa has no
subscription object: the merchant's own service exposes subscription states, oldest update first.
"""

from __future__ import annotations

from typing import Any

from ingestion.sink import low_cardinality, table_hints

SOURCE_NAME = "billing"

DEFAULT_BASE_URL = "https://api.yookassa.ru"
PAYMENTS_PATH = "/v3/payments"
REFUNDS_PATH = "/v3/refunds"
SUBSCRIPTIONS_PATH = "/merchant/v1/subscriptions"

LOOKBACK_DAYS = 7
"""Payments and refunds created this many days before the stored cursor are read again."""

SUBSCRIPTIONS_LOOKBACK_SECONDS = 3600
"""Subscription states updated this long before the cursor are read again (late commits)."""

HISTORY_DAYS = 3 * 365
"""First run: YooKassa lists objects of the last three years."""

WINDOW_DAYS = 30
"""Length of one `created_at.gte/lt` window; each window is paged with its own cursors."""

PAGE_LIMIT = 100  # YooKassa's maximum
SUBSCRIPTIONS_PAGE_LIMIT = 1000

MONEY_SCALE = 2
"""Decimal places of amounts (RUB and the other currencies YooKassa settles in)."""

KEYS_FIX = (
    "Check sources.billing.shop_id and sources.billing.secret_key "
    "(env SOURCES__BILLING__SHOP_ID, SOURCES__BILLING__SECRET_KEY)"
)
URL_FIX = "Check sources.billing.base_url (env SOURCES__BILLING__BASE_URL)"
MERCHANT_URL_FIX = (
    "Check sources.billing.merchant_base_url (env SOURCES__BILLING__MERCHANT_BASE_URL); "
    "it defaults to base_url"
)


def _col(data_type: str, description: str, *, nullable: bool = True, **extra: Any) -> dict[str, Any]:
    return {"data_type": data_type, "nullable": nullable, "description": description, **extra}


def _text(description: str, *, low: bool = False, nullable: bool = True) -> dict[str, Any]:
    return _col("text", description, nullable=nullable, **(low_cardinality() if low else {}))


def _money(description: str) -> dict[str, Any]:
    return _col("decimal", description, precision=18, scale=MONEY_SCALE)


def _ts(description: str, *, nullable: bool = True) -> dict[str, Any]:
    return _col("timestamp", description, nullable=nullable, precision=3, timezone=True)


PAYMENT_COLUMNS: dict[str, dict[str, Any]] = {
    "id": _text("YooKassa payment id", nullable=False),
    "created_at": _ts("When the payment was created, UTC", nullable=False),
    "status": _text("pending, waiting_for_capture, succeeded or canceled", low=True, nullable=False),
    "amount_value": _money("Amount charged"),
    "amount_currency": _text("Currency of amount_value (ISO 4217)", low=True),
    "income_amount_value": _money("Amount after YooKassa's fee"),
    "income_amount_currency": _text("Currency of income_amount_value", low=True),
    "refunded_amount_value": _money("Amount refunded so far"),
    "refunded_amount_currency": _text("Currency of refunded_amount_value", low=True),
    "paid": _col("bool", "The payment was paid"),
    "refundable": _col("bool", "Can still be refunded"),
    "test": _col("bool", "Test payment (exclude from analytics)"),
    "captured_at": _ts("When the payment was captured, UTC"),
    "expires_at": _ts("Until when a waiting_for_capture payment can be captured, UTC"),
    "description": _text("Payment description shown to the payer"),
    "payment_method_type": _text("bank_card, sbp, yoo_money, ...", low=True),
    "payment_method_id": _text("Payment method id (the same across autopayments of a saved card)"),
    "payment_method_saved": _col("bool", "Saved for autopayments"),
    "payment_method_title": _text("Payment method title, e.g. Bank card *1234"),
    "card_first6": _text("Card BIN"),
    "card_last4": _text("Last four card digits"),
    "card_expiry_year": _text("Card expiry year"),
    "card_expiry_month": _text("Card expiry month"),
    "card_type": _text("MasterCard, Visa, Mir, ...", low=True),
    "card_issuer_country": _text("Card issuer country (ISO 3166)", low=True),
    "card_issuer_name": _text("Card issuer bank", low=True),
    "cancellation_party": _text("Who canceled: yoo_money, payment_network, merchant", low=True),
    "cancellation_reason": _text("Why it was canceled, e.g. insufficient_funds", low=True),
    "metadata_user_id": _text("metadata.user_id: the merchant's user id"),
    "metadata_subscription_id": _text("metadata.subscription_id"),
    "metadata_plan_id": _text("metadata.plan_id", low=True),
    "metadata_kind": _text("metadata.kind: trial, first, renewal, retry, reactivation, ...", low=True),
    "metadata": _text("All metadata keys as JSON"),
    "recipient_account_id": _text("Shop id that received the payment"),
    "recipient_gateway_id": _text("Gateway (subaccount) id"),
    "receipt_registration": _text("Receipt registration status", low=True),
    "merchant_customer_id": _text("Merchant's customer id, if sent"),
    "authorization_rrn": _text("Retrieval reference number of the card authorisation"),
    "authorization_auth_code": _text("Authorisation code"),
    "three_d_secure_applied": _col("bool", "3-D Secure was applied"),
    "raw": _text("The payment object as YooKassa sent it (JSON)", nullable=False),
}

REFUND_COLUMNS: dict[str, dict[str, Any]] = {
    "id": _text("YooKassa refund id", nullable=False),
    "payment_id": _text("Refunded payment", nullable=False),
    "created_at": _ts("When the refund was created, UTC", nullable=False),
    "status": _text("pending, succeeded or canceled", low=True, nullable=False),
    "amount_value": _money("Amount refunded"),
    "amount_currency": _text("Currency of amount_value", low=True),
    "description": _text("Refund reason shown to the payer"),
    "receipt_registration": _text("Receipt registration status", low=True),
    "cancellation_party": _text("Who canceled the refund", low=True),
    "cancellation_reason": _text("Why the refund was canceled", low=True),
    "raw": _text("The refund object as YooKassa sent it (JSON)", nullable=False),
}

SUBSCRIPTION_COLUMNS: dict[str, dict[str, Any]] = {
    "subscription_id": _text("Merchant subscription id", nullable=False),
    "updated_at": _ts("Last change of the state, UTC", nullable=False),
    "user_id": _col("bigint", "Subscriber (auth service user id)"),
    "plan_id": _text("monthly, annual, premium_monthly, ...", low=True),
    "status": _text("trial, active, past_due, cancelled or expired", low=True),
    "started_at": _ts("Subscription start, UTC"),
    "trial_end_at": _ts("End of the trial, UTC"),
    "current_period_start": _ts("Start of the paid (or trial) period, UTC"),
    "current_period_end": _ts("End of the current period, UTC"),
    "cancelled_at": _ts("When the subscriber cancelled, UTC"),
    "cancel_reason": _text("Why it was cancelled", low=True),
    "ended_at": _ts("When access ended, UTC (null while it lasts)"),
    "payment_method_id": _text("Saved payment method used for renewals"),
    "created_at": _ts("When the subscription was created, UTC"),
    "raw": _text("The state as the merchant service sent it (JSON)", nullable=False),
}

# Monthly partitions by creation, sorted by time then id: the sink's duplicate check reads only
# the days a batch covers, and staging's "latest version per id" reads one id's rows together.
PAYMENT_HINTS = table_hints(order_by=["created_at", "id"], partition_by="toYYYYMM(created_at)")
REFUND_HINTS = table_hints(order_by=["created_at", "id"], partition_by="toYYYYMM(created_at)")
# A few rows per subscriber: one unpartitioned table, newest states by update time.
SUBSCRIPTION_HINTS = table_hints(order_by=["updated_at", "subscription_id"])
