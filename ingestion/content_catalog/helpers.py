"""The content API over dlt's REST client, and typing its items into raw rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ingestion.errors import SourceConfigurationError

from .settings import CONTENT_PATH, MONEY_SCALE, PER_PAGE, SOURCE_NAME, TOKEN_FIX, URL_FIX


def content_pages(
    base_url: str,
    token: str,
    updated_since: str,
    *,
    max_attempts: int,
    backoff_factor: float,
    timeout: float,
) -> Iterator[tuple[list[Any], str]]:
    """Every page of `GET /api/v1/content?updated_since=…`, as (items, request URL).

    Retries (exponential backoff, `Retry-After` honoured) cover 429, 5xx, connection errors and
    bodies cut short; 401/403 and a 404 on the listing raise `SourceConfigurationError`.
    """
    from dlt.sources.helpers.requests import Client
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
    from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
    from requests.exceptions import HTTPError, RequestException

    session = Client(
        request_timeout=timeout,
        request_max_attempts=max_attempts,
        request_backoff_factor=backoff_factor,
        request_max_retry_delay=120,
        respect_retry_after_header=True,
        raise_for_status=False,
    ).session
    client = RESTClient(
        base_url=base_url.rstrip("/"),
        auth=BearerTokenAuth(token),
        # `next_page` holds the number of the next page, null on the last one.
        paginator=JSONResponseCursorPaginator(cursor_path="next_page", cursor_param="page"),
        data_selector="items",
        session=session,
    )
    params = {"updated_since": updated_since, "per_page": PER_PAGE}
    pages = client.paginate(CONTENT_PATH, params=params)
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except HTTPError as exc:
            permanent = _permanent(exc, base_url)
            if permanent is not None:
                raise permanent from exc
            raise
        except RequestException as exc:
            raise SourceConfigurationError(
                SOURCE_NAME,
                f"GET {base_url}{CONTENT_PATH} failed after {max_attempts} attempts: {exc}",
                URL_FIX,
            ) from exc
        yield list(page), page.request.url if page.request is not None else CONTENT_PATH


def _permanent(exc: Any, base_url: str) -> SourceConfigurationError | None:
    response = exc.response
    status = getattr(response, "status_code", None)
    if status in (401, 403):
        return SourceConfigurationError(
            SOURCE_NAME, f"GET {CONTENT_PATH} answered {status}: {_error_text(response)}", TOKEN_FIX
        )
    if status == 404:
        return SourceConfigurationError(
            SOURCE_NAME, f"GET {base_url}{CONTENT_PATH} answered 404: {_error_text(response)}", URL_FIX
        )
    return None


def _error_text(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message"))
    return str(body)[:200]


class UntypableError(ValueError):
    """A value cannot be given its column's type; the item goes to quarantine."""


def content_row(item: Any) -> dict[str, Any]:
    """A content item as a raw row (see settings.COLUMNS).

    Raises:
        UntypableError: a value has the wrong type or format.
    """
    if not isinstance(item, dict):
        raise UntypableError(f"item is not an object: {_short(item)}")
    genres = item.get("genres")
    if genres is not None and not (isinstance(genres, list) and all(isinstance(g, str) for g in genres)):
        raise UntypableError(f"genres is not a list of strings: {_short(genres)}")
    return {
        "content_id": _integer(item, "content_id", required=True),
        "updated_at": _timestamp(item, "updated_at", required=True),
        "content_type": _string(item, "content_type"),
        "parent_id": _integer(item, "parent_id"),
        "series_id": _integer(item, "series_id"),
        "season_number": _integer(item, "season_number"),
        "episode_number": _integer(item, "episode_number"),
        "title": _string(item, "title"),
        "genres": json.dumps(genres, ensure_ascii=False, separators=(",", ":"))
        if genres is not None
        else None,
        "duration_sec": _integer(item, "duration_sec"),
        "credits_start_sec": _integer(item, "credits_start_sec"),
        "release_year": _integer(item, "release_year"),
        "is_original": _bool(item, "is_original"),
        "is_free": _bool(item, "is_free"),
        "age_rating": _string(item, "age_rating"),
        "production_cost": _money(item, "production_cost"),
        "licence_cost": _money(item, "licence_cost"),
        "licence_start": _date(item, "licence_start"),
        "licence_end": _date(item, "licence_end"),
        "created_at": _timestamp(item, "created_at"),
        "raw": json.dumps(item, ensure_ascii=False, separators=(",", ":")),
    }


def parse_timestamp(value: str) -> dt.datetime:
    """An ISO-8601 time (`…Z`, an offset, or none meaning UTC) as an aware UTC datetime."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _integer(item: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
    value = item.get(key)
    if value is None:
        if required:
            raise UntypableError(f"{key} is missing")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise UntypableError(f"{key} is not an integer: {_short(value)}")


def _string(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None or isinstance(value, str):
        return value
    raise UntypableError(f"{key} is not a string: {_short(value)}")


def _bool(item: Mapping[str, Any], key: str) -> bool | None:
    value = item.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise UntypableError(f"{key} is not a boolean: {_short(value)}")


def _money(item: Mapping[str, Any], key: str) -> Decimal | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UntypableError(f"{key} is not a number: {_short(value)}")
    try:
        # str() first: a float's shortest repr is the decimal the API meant (59472956.47).
        amount = Decimal(str(value))
    except InvalidOperation:
        raise UntypableError(f"{key} is not a number: {_short(value)}") from None
    if not amount.is_finite():
        raise UntypableError(f"{key} is not a finite number: {_short(value)}")
    return amount.quantize(Decimal(1).scaleb(-MONEY_SCALE))


def _date(item: Mapping[str, Any], key: str) -> dt.date | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise UntypableError(f"{key} is not an ISO date: {_short(value)}")


def _timestamp(item: Mapping[str, Any], key: str, *, required: bool = False) -> dt.datetime | None:
    value = item.get(key)
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


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
