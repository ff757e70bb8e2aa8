"""AppMetrica Logs API client: one export per receive day, polled through `202 Accepted`.

The first request of a window carries `Cache-Control: no-cache`, so the file is prepared anew
rather than served from the 24-hour cache; the API then answers 202 until the file is ready
and the identical request gets 200 with the CSV (polls send `max-age` instead: `no-cache`
would restart the preparation). Transient failures (429 "enqueued queries", 5xx, resets, a body shorter than
its Content-Length) are retried with capped exponential backoff honouring `Retry-After`;
permanent ones raise `SourceConfigurationError` naming the setting to fix.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from dlt.sources.helpers.requests import Client

from ingestion.errors import SourceConfigurationError

from . import settings

log = logging.getLogger("predicto.ingestion.appmetrica")

SOURCE = "appmetrica"
TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
TOKEN_FIX = (
    "Set an OAuth token with the appmetrica:read scope in sources.appmetrica.token "
    "(env SOURCES__APPMETRICA__TOKEN)"
)
MORE_PARTS = "Try to use more parts"


class AppMetricaApiError(RuntimeError):
    """A transient failure that outlasted the retries, or an export that never got ready."""


class NeedMoreParts(AppMetricaApiError):
    """HTTP 400 "Try to use more parts.": the window is too big for one file."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = settings.MAX_ATTEMPTS
    backoff_seconds: float = settings.BACKOFF_SECONDS
    max_backoff_seconds: float = settings.MAX_BACKOFF_SECONDS
    timeout_seconds: float = settings.REQUEST_TIMEOUT_SECONDS


def incomplete_reason(response: requests.Response) -> str | None:
    """Why a 200 body is not the whole file (urllib3 catches most short reads itself)."""
    length = response.headers.get("Content-Length")
    if (
        response.status_code == 200
        and length
        and not response.headers.get("Content-Encoding")
        and len(response.content) != int(length)
    ):
        return f"body has {len(response.content)} of {length} bytes"
    return None


def should_retry(response: requests.Response | None, exc: BaseException | None) -> bool:
    """The retry predicate: transient statuses and broken transfers; 202 is polled, not retried."""
    if exc is not None:
        if isinstance(exc, TRANSIENT_EXCEPTIONS):
            log.warning("Logs API call failed (%s: %s), retrying", type(exc).__name__, exc)
            return True
        return False
    if response is None:
        return False
    if response.status_code == 429 or response.status_code >= 500:
        log.warning("Logs API answered %s (%s), retrying", response.status_code, response.text[:200])
        return True
    reason = incomplete_reason(response)
    if reason:
        log.warning("Logs API answer incomplete (%s), retrying", reason)
        return True
    return False


class LogsApi:
    """One application's Logs API exports.

    Args:
        base_url: API root, e.g. `https://api.appmetrica.yandex.ru`.
        application_id: the AppMetrica application.
        token: OAuth token (`appmetrica:read`).
        policy: retries and timeouts.
        poll_interval / max_poll_interval / poll_timeout: the 202 loop.
    """

    def __init__(
        self,
        base_url: str,
        application_id: int,
        token: str,
        policy: RetryPolicy,
        poll_interval: float = settings.POLL_INTERVAL_SECONDS,
        max_poll_interval: float = settings.MAX_POLL_INTERVAL_SECONDS,
        poll_timeout: float = settings.POLL_TIMEOUT_SECONDS,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.application_id = application_id
        self.token = token
        self.policy = policy
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.poll_timeout = poll_timeout
        self._client: Client | None = None

    @property
    def session(self) -> requests.Session:
        """The calling thread's session (resources run in parallel threads)."""
        if self._client is None:
            self._client = Client(
                request_timeout=self.policy.timeout_seconds,
                raise_for_status=False,
                status_codes=(),
                exceptions=(),
                request_max_attempts=self.policy.max_attempts,
                retry_condition=should_retry,
                request_backoff_factor=self.policy.backoff_seconds,
                request_max_retry_delay=self.policy.max_backoff_seconds,
                respect_retry_after_header=True,
            )
        return self._client.session

    def export_day(
        self, resource: str, fields: Sequence[str], day: dt.date, parts: int = 1
    ) -> Iterator[tuple[str, str]]:
        """The CSV files of one receive day, as (location, text).

        The day is asked for in `parts` files, and in twice as many when the API answers
        "Try to use more parts." (up to `settings.MAX_PARTS`).
        """
        while True:
            try:
                # fetch every part before handing any over: a retry with more parts restarts the day
                texts = [self._export(resource, fields, day, parts, n) for n in range(parts)]
            except NeedMoreParts:
                if parts * 2 > settings.MAX_PARTS:
                    raise
                parts *= 2
                log.info("%s %s: the API asks for more parts, trying %d", resource, day, parts)
                continue
            for n, text in enumerate(texts):
                suffix = f" part {n + 1}/{parts}" if parts > 1 else ""
                yield f"export/{resource}.csv receive date {day}{suffix}", text
            return

    def _export(self, resource: str, fields: Sequence[str], day: dt.date, parts: int, part: int) -> str:
        params: dict[str, Any] = {
            "application_id": self.application_id,
            "date_since": f"{day.isoformat()} 00:00:00",
            "date_until": f"{day.isoformat()} 23:59:59",
            "date_dimension": "receive",
            "fields": ",".join(fields),
        }
        if parts > 1:
            # not in the public reference; the official loader sends them
            params.update(parts_count=parts, part_number=part)
        url = f"{self.base}/logs/v1/export/{resource}.csv"
        path = f"/logs/v1/export/{resource}.csv ({day})"
        headers = {"Authorization": f"OAuth {self.token}", "Cache-Control": "no-cache"}
        started = time.monotonic()
        deadline = started + self.poll_timeout
        wait = self.poll_interval
        while True:
            try:
                response = self.session.get(url, params=params, headers=headers)
            except TRANSIENT_EXCEPTIONS as exc:
                raise AppMetricaApiError(
                    f"GET {path} failed after {self.policy.max_attempts} attempts: {exc}"
                ) from exc
            if response.status_code == 200:
                reason = incomplete_reason(response)
                if reason:
                    raise AppMetricaApiError(
                        f"GET {path}: {reason} after {self.policy.max_attempts} attempts"
                    )
                response.encoding = "utf-8"
                return response.text
            if response.status_code != 202:
                self._raise_for_error(response, path)
            # Queued: repeat the identical request. `no-cache` again would restart the
            # preparation; no header at all would accept an older cached file. `max-age` =
            # time since our first request accepts exactly the file that request started.
            headers["Cache-Control"] = f"max-age={math.ceil(time.monotonic() - started) + 1}"
            if time.monotonic() + wait > deadline:
                raise AppMetricaApiError(
                    f"GET {path} not ready after {self.poll_timeout:.0f} s "
                    "(raise sources.appmetrica.poll_timeout_seconds if the queue is long)"
                )
            time.sleep(wait)
            wait = min(wait * 1.5, self.max_poll_interval)

    def _raise_for_error(self, response: requests.Response, path: str) -> None:
        status = response.status_code
        error_type, message = _error_details(response)
        said = f"GET {path} answered {status} {error_type or ''}: {message}".replace("  ", " ")
        if status == 429 or status >= 500:
            raise AppMetricaApiError(f"{said} (still failing after {self.policy.max_attempts} attempts)")
        if status == 400 and MORE_PARTS in message:
            raise NeedMoreParts(said)
        if status == 401 or error_type in ("unauthorized", "invalid_token"):
            raise SourceConfigurationError(SOURCE, f"the OAuth token was rejected ({said})", TOKEN_FIX)
        if status == 403:
            raise SourceConfigurationError(
                SOURCE,
                f"no access to application {self.application_id} ({said})",
                "Check sources.appmetrica.application_id (env SOURCES__APPMETRICA__APPLICATION_ID) "
                "or give the token's user access to that application",
            )
        if status == 404:
            raise SourceConfigurationError(
                SOURCE, f"the Logs API was not found ({said})", "Check sources.appmetrica.base_url"
            )
        lowered = message.lower()
        if "field" in lowered:
            fix = "Check sources.appmetrica.<export>_fields (events_fields, sessions_starts_fields, installations_fields)"
        elif "application" in lowered:
            fix = "Check sources.appmetrica.application_id (env SOURCES__APPMETRICA__APPLICATION_ID)"
        else:
            fix = "Check the appmetrica source configuration (dates, timezone, fields)"
        raise SourceConfigurationError(SOURCE, f"the request was rejected ({said})", fix)


def _error_details(response: requests.Response) -> tuple[str | None, str]:
    """(error_type, message) from a JSON error body, or the plain-text body."""
    try:
        body = response.json()
        first = (body.get("errors") or [{}])[0]
        return first.get("error_type"), str(first.get("message") or body.get("message") or "")
    except ValueError:
        return None, response.text[:300].strip()
