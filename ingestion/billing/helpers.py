"""YooKassa over HTTP (retries, errors, pages) and typing its objects into raw rows."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from ingestion.errors import SourceConfigurationError

from .settings import MONEY_SCALE, SOURCE_NAME

log = logging.getLogger("predicto.ingestion.billing")


class ApiClient:
    """GET requests to one base URL with HTTP Basic auth.

    Retries (exponential backoff, `Retry-After` honoured) cover 429, 5xx, connection errors and
    bodies cut short; what retrying cannot fix raises `SourceConfigurationError` naming the key.
    """

    def __init__(
        self,
        base_url: str,
        auth: tuple[str, str],
        *,
        url_fix: str,
        auth_fix: str,
        max_attempts: int,
        backoff_factor: float,
        timeout: float,
    ) -> None:
        from dlt.sources.helpers.requests import Client

        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.url_fix = url_fix
        self.auth_fix = auth_fix
        self.max_attempts = max_attempts
        # dlt's retrying session: 429/5xx statuses, connection errors, timeouts and truncated
        # bodies (ChunkedEncodingError) are retried with exponential backoff and Retry-After.
        self.session = Client(
            request_timeout=timeout,
            request_max_attempts=max_attempts,
            request_backoff_factor=backoff_factor,
            request_max_retry_delay=120,
            respect_retry_after_header=True,
            raise_for_status=False,
        ).session

    def get(self, path: str, params: Mapping[str, Any]) -> Any:
        """The decoded JSON body of `GET base_url + path?params`."""
        from requests.exceptions import RequestException

        url = self.base_url + path
        try:
            response = self.session.get(url, params=params, auth=self.auth)
        except RequestException as exc:
            raise SourceConfigurationError(
                SOURCE_NAME,
                f"GET {url} failed after {self.max_attempts} attempts: {exc}",
                self.url_fix,
            ) from exc
        status = response.status_code
        if status in (401, 403):
            raise SourceConfigurationError(
                SOURCE_NAME, f"GET {path} answered {status}: {_error_text(response)}", self.auth_fix
            )
        if status == 404:
            raise SourceConfigurationError(
                SOURCE_NAME, f"GET {url} answered 404: {_error_text(response)}", self.url_fix
            )
        if status >= 400:
            # 400 is our bug (a bad parameter); 5xx/429 are left after the last retry.
            response.raise_for_status()
        try:
            return response.json()
        except ValueError as exc:
            raise RuntimeError(f"GET {url}: the body is not JSON ({exc}): {response.text[:200]!r}") from exc

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[tuple[list[Any], str]]:
        """Items of every page of a YooKassa list, following `next_cursor`.

        Yields:
            (items, location) where location names the request, for quarantined items.
        """
        cursor = None
        page = 1
        while True:
            query = dict(params)
            if cursor:
                query["cursor"] = cursor
            body = self.get(path, query)
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise RuntimeError(f"GET {path}: expected a list object, got {str(body)[:200]!r}")
            yield body["items"], f"GET {path}?{urlencode(params)} page {page}"
            cursor = body.get("next_cursor")
            if not cursor:
                return
            page += 1


def _error_text(response: Any) -> str:
    """YooKassa's error `code: description`, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and ("code" in body or "description" in body):
        return f"{body.get('code')}: {body.get('description')}"
    return str(body)[:200]


# -- typing -------------------------------------------------------------------------------------


class UntypableError(ValueError):
    """A value of an object cannot be given its column's type; the object goes to quarantine."""


def payment_row(doc: Any) -> dict[str, Any]:
    """A payment object as a raw row (see settings.PAYMENT_COLUMNS).

    Raises:
        UntypableError: a value has the wrong type or format.
    """
    doc = _object(doc, "payment")
    method = _object(doc.get("payment_method"), "payment_method", optional=True) or {}
    card = _object(method.get("card"), "payment_method.card", optional=True) or {}
    cancel = _object(doc.get("cancellation_details"), "cancellation_details", optional=True) or {}
    meta = _object(doc.get("metadata"), "metadata", optional=True) or {}
    recipient = _object(doc.get("recipient"), "recipient", optional=True) or {}
    auth = _object(doc.get("authorization_details"), "authorization_details", optional=True) or {}
    tds = _object(auth.get("three_d_secure"), "three_d_secure", optional=True) or {}
    amount, currency = _money(doc, "amount", required=True)
    income, income_currency = _money(doc, "income_amount")
    refunded, refunded_currency = _money(doc, "refunded_amount")
    return {
        "id": _string(doc, "id", required=True),
        "created_at": _timestamp(doc, "created_at", required=True),
        "status": _string(doc, "status", required=True),
        "amount_value": amount,
        "amount_currency": currency,
        "income_amount_value": income,
        "income_amount_currency": income_currency,
        "refunded_amount_value": refunded,
        "refunded_amount_currency": refunded_currency,
        "paid": _bool(doc, "paid"),
        "refundable": _bool(doc, "refundable"),
        "test": _bool(doc, "test"),
        "captured_at": _timestamp(doc, "captured_at"),
        "expires_at": _timestamp(doc, "expires_at"),
        "description": _string(doc, "description"),
        "payment_method_type": _string(method, "type"),
        "payment_method_id": _string(method, "id"),
        "payment_method_saved": _bool(method, "saved"),
        "payment_method_title": _string(method, "title"),
        "card_first6": _string(card, "first6"),
        "card_last4": _string(card, "last4"),
        "card_expiry_year": _string(card, "expiry_year"),
        "card_expiry_month": _string(card, "expiry_month"),
        "card_type": _string(card, "card_type"),
        "card_issuer_country": _string(card, "issuer_country"),
        "card_issuer_name": _string(card, "issuer_name"),
        "cancellation_party": _string(cancel, "party"),
        "cancellation_reason": _string(cancel, "reason"),
        "metadata_user_id": _string(meta, "user_id"),
        "metadata_subscription_id": _string(meta, "subscription_id"),
        "metadata_plan_id": _string(meta, "plan_id"),
        "metadata_kind": _string(meta, "kind"),
        "metadata": _json(meta) if meta else None,
        "recipient_account_id": _string(recipient, "account_id"),
        "recipient_gateway_id": _string(recipient, "gateway_id"),
        "receipt_registration": _string(doc, "receipt_registration"),
        "merchant_customer_id": _string(doc, "merchant_customer_id"),
        "authorization_rrn": _string(auth, "rrn"),
        "authorization_auth_code": _string(auth, "auth_code"),
        "three_d_secure_applied": _bool(tds, "applied"),
        "raw": _json(doc),
    }


def refund_row(doc: Any) -> dict[str, Any]:
    """A refund object as a raw row (see settings.REFUND_COLUMNS)."""
    doc = _object(doc, "refund")
    cancel = _object(doc.get("cancellation_details"), "cancellation_details", optional=True) or {}
    amount, currency = _money(doc, "amount", required=True)
    return {
        "id": _string(doc, "id", required=True),
        "payment_id": _string(doc, "payment_id", required=True),
        "created_at": _timestamp(doc, "created_at", required=True),
        "status": _string(doc, "status", required=True),
        "amount_value": amount,
        "amount_currency": currency,
        "description": _string(doc, "description"),
        "receipt_registration": _string(doc, "receipt_registration"),
        "cancellation_party": _string(cancel, "party"),
        "cancellation_reason": _string(cancel, "reason"),
        "raw": _json(doc),
    }


def subscription_row(doc: Any) -> dict[str, Any]:
    """A merchant subscription state as a raw row (see settings.SUBSCRIPTION_COLUMNS)."""
    doc = _object(doc, "subscription")
    subscription_id = _string(doc, "subscription_id", required=True)
    if not _is_uuid(subscription_id):
        raise UntypableError(f"subscription_id is not a UUID: {subscription_id!r}")
    return {
        "subscription_id": subscription_id,
        "updated_at": _timestamp(doc, "updated_at", required=True),
        "user_id": _integer(doc, "user_id"),
        "plan_id": _string(doc, "plan_id"),
        "status": _string(doc, "status"),
        "started_at": _timestamp(doc, "started_at"),
        "trial_end_at": _timestamp(doc, "trial_end_at"),
        "current_period_start": _timestamp(doc, "current_period_start"),
        "current_period_end": _timestamp(doc, "current_period_end"),
        "cancelled_at": _timestamp(doc, "cancelled_at"),
        "cancel_reason": _string(doc, "cancel_reason"),
        "ended_at": _timestamp(doc, "ended_at"),
        "payment_method_id": _string(doc, "payment_method_id"),
        "created_at": _timestamp(doc, "created_at"),
        "raw": _json(doc),
    }


def parse_timestamp(value: str) -> dt.datetime:
    """An ISO-8601 time (`…Z`, an offset, or none meaning UTC) as an aware UTC datetime."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def iso(value: dt.datetime) -> str:
    """`2026-10-03T18:38:42.231Z`: the format YooKassa documents for filters."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _object(value: Any, what: str, *, optional: bool = False) -> dict[str, Any] | None:
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise UntypableError(f"{what} is not an object: {_short(value)}")
    return value


def _string(obj: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise UntypableError(f"{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise UntypableError(f"{key} is not a string: {_short(value)}")
    if required and value == "":
        raise UntypableError(f"{key} is empty")
    return str(value)


def _bool(obj: Mapping[str, Any], key: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise UntypableError(f"{key} is not a boolean: {_short(value)}")


def _integer(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise UntypableError(f"{key} is not an integer: {_short(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise UntypableError(f"{key} is not an integer: {_short(value)}")


def _timestamp(obj: Mapping[str, Any], key: str, *, required: bool = False) -> dt.datetime | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise UntypableError(f"{key} is missing")
        return None
    if not isinstance(value, str):
        raise UntypableError(f"{key} is not an ISO-8601 time: {_short(value)}")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise UntypableError(f"{key} is not an ISO-8601 time: {_short(value)}") from None


def _money(obj: Mapping[str, Any], key: str, *, required: bool = False) -> tuple[Decimal | None, str | None]:
    """`{"value": "399.00", "currency": "RUB"}` → (Decimal("399.00"), "RUB")."""
    amount = obj.get(key)
    if amount is None:
        if required:
            raise UntypableError(f"{key} is missing")
        return None, None
    if not isinstance(amount, dict):
        raise UntypableError(f"{key} is not an amount object: {_short(amount)}")
    raw = amount.get("value")
    # YooKassa sends amounts as strings; a number would also be exact enough to accept.
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise UntypableError(f"{key}.value is not a decimal string: {_short(raw)}")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise UntypableError(f"{key}.value is not a decimal string: {_short(raw)}") from None
    if not value.is_finite() or value.as_tuple().exponent < -MONEY_SCALE:  # type: ignore[operator]
        raise UntypableError(f"{key}.value has more than {MONEY_SCALE} decimals or is not finite: {raw!r}")
    currency = amount.get("currency")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise UntypableError(f"{key}.currency is not an ISO 4217 code: {_short(currency)}")
    return value.quantize(Decimal(1).scaleb(-MONEY_SCALE)), currency


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
