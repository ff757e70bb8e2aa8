"""Yandex Metrica Logs API client: evaluate → create → poll → download every part → clean.

Transient failures (HTTP 429 and 5xx, connection resets, timeouts, a part cut short) are retried
with exponential backoff, honouring `Retry-After`, up to `max_attempts`. Answers that retrying
cannot fix (401, 403, 400 `invalid_parameter`, an unknown counter) raise
`SourceConfigurationError` naming the setting to change.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from dlt.sources.helpers.requests import Client

from ingestion.errors import SourceConfigurationError

from . import settings
from .tsv import TruncatedPart, check_complete

log = logging.getLogger("predicto.ingestion.yandex_metrica")

SOURCE = "yandex_metrica"
TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
TOKEN_FIX = (
    "Set an OAuth token with the metrika:read scope in sources.yandex_metrica.token "
    "(env SOURCES__YANDEX_METRICA__TOKEN)"
)


class MetricaApiError(RuntimeError):
    """A transient failure that outlasted the retries, or a log request that failed for good."""


class ProcessingFailed(MetricaApiError):
    """The log request ended in `processing_failed`: terminal for it, so it is created anew."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = settings.MAX_ATTEMPTS
    backoff_seconds: float = settings.BACKOFF_SECONDS
    max_backoff_seconds: float = settings.MAX_BACKOFF_SECONDS
    timeout_seconds: float = settings.REQUEST_TIMEOUT_SECONDS


def incomplete_reason(response: requests.Response) -> str | None:
    """Why a 200 body is not the whole answer, or None.

    urllib3 already fails a body shorter than its Content-Length; this also catches a body that
    arrived whole by length but is not a whole TSV part (no final newline).
    """
    if response.status_code != 200:
        return None
    length = response.headers.get("Content-Length")
    if length and not response.headers.get("Content-Encoding") and len(response.content) != int(length):
        return f"body has {len(response.content)} of {length} bytes"
    if response.request is not None and str(response.request.url).split("?")[0].endswith("/download"):
        try:
            check_complete(response.content)
        except TruncatedPart as exc:
            return str(exc)
    return None


def should_retry(response: requests.Response | None, exc: BaseException | None) -> bool:
    """The retry predicate: transient statuses, broken transfers and incomplete parts."""
    if exc is not None:
        if isinstance(exc, TRANSIENT_EXCEPTIONS):
            log.warning("Logs API call failed (%s: %s), retrying", type(exc).__name__, exc)
            return True
        return False
    if response is None:
        return False
    what = f"{response.request.method} {response.request.path_url.split('?')[0]}" if response.request else ""
    if response.status_code == 429 or response.status_code >= 500:
        log.warning("Logs API answered %s to %s, retrying", response.status_code, what)
        return True
    reason = incomplete_reason(response)
    if reason:
        log.warning("Logs API download %s incomplete (%s), retrying", what, reason)
        return True
    return False


def make_client(policy: RetryPolicy) -> Client:
    """dlt's retrying requests client, retrying per `should_retry` with capped exponential backoff."""
    return Client(
        request_timeout=policy.timeout_seconds,
        raise_for_status=False,
        status_codes=(),
        exceptions=(),
        request_max_attempts=policy.max_attempts,
        retry_condition=should_retry,
        request_backoff_factor=policy.backoff_seconds,
        request_max_retry_delay=policy.max_backoff_seconds,
        respect_retry_after_header=True,
    )


class LogsApi:
    """One counter's Logs API.

    Args:
        base_url: API root, e.g. `https://api-metrika.yandex.net`.
        counter_id: the Metrica counter.
        token: OAuth token (`metrika:read`).
        policy: retries and timeouts.
        poll_interval: seconds between status calls.
        poll_timeout: seconds to wait for a request to be processed.
    """

    def __init__(
        self,
        base_url: str,
        counter_id: int,
        token: str,
        policy: RetryPolicy,
        poll_interval: float = settings.POLL_INTERVAL_SECONDS,
        poll_timeout: float = settings.POLL_TIMEOUT_SECONDS,
    ) -> None:
        self.base = f"{base_url.rstrip('/')}/management/v1/counter/{counter_id}"
        self.counter_id = counter_id
        self.token = token
        self.policy = policy
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        self._client: Client | None = None

    @property
    def session(self) -> requests.Session:
        """The calling thread's session (visits and hits are read in parallel threads)."""
        if self._client is None:
            self._client = make_client(self.policy)
        return self._client.session

    # ------------------------------------------------------------------ calls
    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        """One API call with retries; raises unless the final answer is 200 and complete."""
        url = self.base + path
        headers = {
            "Authorization": f"OAuth {self.token}",
            # An ex-Metrica engineer reports broken gzip on Logs API downloads: ask for identity.
            "Accept-Encoding": "identity",
        }
        try:
            response = self.session.request(method, url, params=params, headers=headers)
        except TRANSIENT_EXCEPTIONS as exc:
            raise MetricaApiError(
                f"{method} {path} failed after {self.policy.max_attempts} attempts: {exc}"
            ) from exc
        if response.status_code != 200:
            self._raise_for_error(response, method, path)
        reason = incomplete_reason(response)
        if reason:
            raise MetricaApiError(f"{method} {path}: {reason} after {self.policy.max_attempts} attempts")
        return response

    def _raise_for_error(self, response: requests.Response, method: str, path: str) -> None:
        status = response.status_code
        error_type, message, location = _error_details(response)
        said = f"{method} {path} answered {status} {error_type or ''}: {message}".strip()
        if status == 429 or status >= 500:
            raise MetricaApiError(f"{said} (still failing after {self.policy.max_attempts} attempts)")
        if status == 401 or error_type in ("unauthorized", "invalid_token"):
            raise SourceConfigurationError(SOURCE, f"the OAuth token was rejected ({said})", TOKEN_FIX)
        if status == 403:
            raise SourceConfigurationError(
                SOURCE,
                f"no access to counter {self.counter_id} ({said})",
                "Check sources.yandex_metrica.counter_id (env SOURCES__YANDEX_METRICA__COUNTER_ID) "
                "or give the token's user access to that counter",
            )
        if status == 404:
            raise SourceConfigurationError(
                SOURCE,
                f"the Logs API was not found ({said})",
                "Check sources.yandex_metrica.base_url (env SOURCES__YANDEX_METRICA__BASE_URL)",
            )
        fix = {
            "counterId": "Check sources.yandex_metrica.counter_id (env SOURCES__YANDEX_METRICA__COUNTER_ID)",
            "fields": "Check sources.yandex_metrica.visit_fields / hit_fields against the Logs API field list",
            "date1": "Check the start date (--since, sources.yandex_metrica.initial_date)",
            "date2": "Check the end date (--until): the API's today and later are not available",
            "attribution": "Check sources.yandex_metrica.attribution",
        }.get(location or "", "Check the yandex_metrica source configuration")
        raise SourceConfigurationError(SOURCE, f"the request was rejected ({said})", fix)

    # ------------------------------------------------------------------ lifecycle
    def evaluate(
        self, source: str, fields: Sequence[str], date1: dt.date, date2: dt.date
    ) -> tuple[bool, int]:
        params = _request_params(source, fields, date1, date2, None)
        body = self.call("GET", "/logrequests/evaluate", params).json()["log_request_evaluation"]
        return bool(body["possible"]), int(body.get("max_possible_day_quantity") or 0)

    def windows(
        self, source: str, fields: Sequence[str], date1: dt.date, date2: dt.date
    ) -> Iterator[tuple[dt.date, dt.date]]:
        """Date ranges, each one Logs request, split as `evaluate` says they must be."""
        possible, max_days = self.evaluate(source, fields, date1, date2)
        if possible:
            yield date1, date2
            return
        days = (date2 - date1).days + 1
        if days == 1 or max_days < 1:
            raise MetricaApiError(
                f"the Logs API cannot prepare {source} for {date1}..{date2} (max_possible_day_quantity="
                f"{max_days}): the counter's log storage may be full; clean old log requests"
            )
        step = max(1, min(max_days, days // 2 if max_days >= days else max_days))
        start = date1
        while start <= date2:
            end = min(date2, start + dt.timedelta(days=step - 1))
            yield from self.windows(source, fields, start, end)
            start = end + dt.timedelta(days=1)

    def create(
        self, source: str, fields: Sequence[str], date1: dt.date, date2: dt.date, attribution: str | None
    ) -> int:
        params = _request_params(source, fields, date1, date2, attribution)
        # Parameters go in the query string with an empty body, as the API expects.
        body = self.call("POST", "/logrequests", params).json()["log_request"]
        log.info("created log request %s: %s %s..%s", body["request_id"], source, date1, date2)
        return int(body["request_id"])

    def wait_processed(self, request_id: int) -> list[int]:
        """Poll until processed; returns the part numbers."""
        deadline = time.monotonic() + self.poll_timeout
        while True:
            body = self.call("GET", f"/logrequest/{request_id}").json()["log_request"]
            status = body["status"]
            if status == "processed":
                return sorted(int(p["part_number"]) for p in body.get("parts") or [])
            if status == "processing_failed":
                raise ProcessingFailed(f"log request {request_id} ended in processing_failed")
            if status not in ("created", "awaiting_retry"):
                raise MetricaApiError(f"log request {request_id} is {status}, not processed")
            if time.monotonic() > deadline:
                raise MetricaApiError(
                    f"log request {request_id} not processed after {self.poll_timeout:.0f} s "
                    "(raise sources.yandex_metrica.poll_timeout_seconds if the queue is long)"
                )
            time.sleep(self.poll_interval)

    def download(self, request_id: int, part: int) -> bytes:
        return self.call("GET", f"/logrequest/{request_id}/part/{part}/download").content

    def release(self, request_id: int, processed: bool) -> None:
        """Clean a processed request (frees the 10 GB quota) or cancel a pending one; never raises."""
        action = "clean" if processed else "cancel"
        try:
            self.call("POST", f"/logrequest/{request_id}/{action}")
        except Exception as exc:  # releasing is housekeeping: the load's own outcome matters more
            log.warning("could not %s log request %s: %s", action, request_id, exc)

    def export(
        self,
        source: str,
        fields: Sequence[str],
        date1: dt.date,
        date2: dt.date,
        attribution: str | None = None,
        max_recreates: int = settings.MAX_RECREATES,
    ) -> Iterator[tuple[str, bytes]]:
        """Every part of `source` for date1..date2, as (location, complete TSV body).

        Each request is cleaned after its last part was handed over, also when the consumer
        stops early or fails.
        """
        for start, end in self.windows(source, fields, date1, date2):
            for attempt in range(max_recreates + 1):
                request_id = self.create(source, fields, start, end, attribution)
                state = "pending"
                try:
                    parts = self.wait_processed(request_id)
                    state = "processed"
                    for part in parts:
                        # no request id: the same row read again has the same location,
                        # so a re-run does not quarantine it twice
                        location = f"logrequest {source} {start}..{end} part {part}"
                        yield location, self.download(request_id, part)
                    break
                except ProcessingFailed:
                    state = "failed"  # nothing to clean or cancel
                    if attempt == max_recreates:
                        raise
                    log.warning("log request %s failed on the server; creating it again", request_id)
                finally:
                    if state != "failed":
                        self.release(request_id, processed=state == "processed")


def _request_params(
    source: str, fields: Sequence[str], date1: dt.date, date2: dt.date, attribution: str | None
) -> dict[str, str]:
    params = {
        "date1": date1.isoformat(),
        "date2": date2.isoformat(),
        "source": source,
        "fields": ",".join(fields),
    }
    if attribution:
        params["attribution"] = attribution
    return params


def _error_details(response: requests.Response) -> tuple[str | None, str, str | None]:
    """(error_type, message, location) from Metrica's JSON error body, or the raw text."""
    try:
        body = response.json()
        first = (body.get("errors") or [{}])[0]
        return (
            first.get("error_type"),
            str(first.get("message") or body.get("message") or ""),
            first.get("location"),
        )
    except ValueError:
        return None, response.text[:300], None
