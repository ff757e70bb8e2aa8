"""Yandex Direct Reports API v5 client: the offline 201/202 `retryIn` loop and report naming.

A report is requested with `POST /json/v5/reports`; `201` (queued) and `202` (being built)
mean "send the identical request again after `retryIn` seconds", `200` carries the TSV.
Transient failures (5xx, 429, resets, a cut body, HTTP 400 with a rate/queue/units error code)
are retried with capped exponential backoff; permanent ones raise `SourceConfigurationError`
naming the setting to fix.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from dlt.sources.helpers.requests import Client

from ingestion.errors import SourceConfigurationError

from . import settings
from .parsing import IncompleteReport, parse_report

log = logging.getLogger("predicto.ingestion.yandex_direct")

SOURCE = "yandex_direct"
TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
TOKEN_FIX = "Set a Direct API OAuth token in sources.yandex_direct.token (env SOURCES__YANDEX_DIRECT__TOKEN)"
LOGIN_FIX = (
    "Check sources.yandex_direct.client_login (env SOURCES__YANDEX_DIRECT__CLIENT_LOGIN): the advertiser's "
    "login, required for agency tokens"
)


class DirectApiError(RuntimeError):
    """A transient failure that outlasted the retries, or a report that never got ready."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = settings.MAX_ATTEMPTS
    backoff_seconds: float = settings.BACKOFF_SECONDS
    max_backoff_seconds: float = settings.MAX_BACKOFF_SECONDS
    timeout_seconds: float = settings.REQUEST_TIMEOUT_SECONDS


def error_code(response: requests.Response) -> tuple[str | None, str]:
    """(error_code, description) of a Direct error body."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return None, response.text[:300]
    code = error.get("error_code")
    text = " — ".join(str(error[k]) for k in ("error_string", "error_detail") if error.get(k))
    return (str(code) if code is not None else None), text


def incomplete_reason(response: requests.Response) -> str | None:
    if response.status_code != 200:
        return None
    length = response.headers.get("Content-Length")
    if length and not response.headers.get("Content-Encoding") and len(response.content) != int(length):
        return f"body has {len(response.content)} of {length} bytes"
    try:
        response.encoding = "utf-8"
        parse_report(response.text, "")
    except IncompleteReport as exc:
        return str(exc)
    return None


def should_retry(response: requests.Response | None, exc: BaseException | None) -> bool:
    """Retry predicate: transient statuses and error codes, broken transfers, cut reports."""
    if exc is not None:
        if isinstance(exc, TRANSIENT_EXCEPTIONS):
            log.warning("Reports API call failed (%s: %s), retrying", type(exc).__name__, exc)
            return True
        return False
    if response is None:
        return False
    if response.status_code == 429 or response.status_code >= 500:
        log.warning("Reports API answered %s, retrying", response.status_code)
        return True
    if response.status_code == 400:
        code, text = error_code(response)
        if code in settings.TRANSIENT_ERROR_CODES:
            log.warning("Reports API error %s (%s), retrying", code, text)
            return True
    reason = incomplete_reason(response)
    if reason:
        log.warning("Reports API report incomplete (%s), retrying", reason)
        return True
    return False


def report_name(params: dict[str, Any], headers: dict[str, str]) -> str:
    """A name that is the same for the same parameter set and differs otherwise.

    The API matches an offline report by its name and refuses a known name with other
    parameters, so the name carries the dates and a digest of everything else.
    """
    sc = params["SelectionCriteria"]
    digest = hashlib.sha1(
        json.dumps({"params": params, "headers": headers}, sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()[:12]
    return f"predicto_campaign_stats_{sc['DateFrom']}_{sc['DateTo']}_{digest}"


class ReportsApi:
    """The Reports API of one advertiser.

    Args:
        base_url: API root, e.g. `https://api.direct.yandex.com`.
        token: OAuth token.
        client_login: the advertiser (`Client-Login`), or "" for the token's own account.
        policy: retries and timeouts.
        max_poll_interval: cap on `retryIn` waits.
        poll_timeout: seconds to wait for an offline report.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        client_login: str,
        policy: RetryPolicy,
        max_poll_interval: float = settings.MAX_POLL_INTERVAL_SECONDS,
        poll_timeout: float = settings.POLL_TIMEOUT_SECONDS,
    ) -> None:
        self.url = base_url.rstrip("/") + settings.REPORTS_PATH
        self.token = token
        self.client_login = client_login
        self.policy = policy
        self.max_poll_interval = max_poll_interval
        self.poll_timeout = poll_timeout
        self._client: Client | None = None

    @property
    def session(self) -> requests.Session:
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

    def report(
        self, date_from: dt.date, date_to: dt.date, field_names: Sequence[str], include_vat: bool
    ) -> tuple[str, str]:
        """The TSV of one campaign report, as (report name, text)."""
        params: dict[str, Any] = {
            "SelectionCriteria": {"DateFrom": date_from.isoformat(), "DateTo": date_to.isoformat()},
            "FieldNames": list(field_names),
            "OrderBy": [{"Field": "Date", "SortOrder": "ASCENDING"}],
            "ReportType": settings.REPORT_TYPE,
            "DateRangeType": "CUSTOM_DATE",
            "Format": "TSV",
            "IncludeVAT": "YES" if include_vat else "NO",
            "IncludeDiscount": "NO",
        }
        headers = {
            "Accept-Language": "en",
            "processingMode": "auto",
            # money as decimal strings, not integers × 1 000 000
            "returnMoneyInMicros": "false",
            "skipReportHeader": "true",
            # the summary is kept: "Total rows: N" tells a whole report from a cut one
            "skipReportSummary": "false",
        }
        if self.client_login:
            headers["Client-Login"] = self.client_login
        params["ReportName"] = report_name(params, headers)
        body = json.dumps({"params": params}).encode()
        headers = {
            **headers,
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json; charset=utf-8",
        }
        deadline = time.monotonic() + self.poll_timeout
        while True:
            try:
                response = self.session.post(self.url, data=body, headers=headers)
            except TRANSIENT_EXCEPTIONS as exc:
                raise DirectApiError(
                    f"report {params['ReportName']} failed after {self.policy.max_attempts} attempts: {exc}"
                ) from exc
            if response.status_code == 200:
                reason = incomplete_reason(response)
                if reason:
                    raise DirectApiError(
                        f"report {params['ReportName']}: {reason} after {self.policy.max_attempts} attempts"
                    )
                return params["ReportName"], response.text
            if response.status_code not in (201, 202):
                self._raise_for_error(response, params["ReportName"])
            # queued (201) or being built (202): the identical request again after retryIn
            wait = min(_retry_in(response), self.max_poll_interval)
            if time.monotonic() + wait > deadline:
                raise DirectApiError(
                    f"report {params['ReportName']} not ready after {self.poll_timeout:.0f} s "
                    "(raise sources.yandex_direct.poll_timeout_seconds)"
                )
            log.debug(
                "report %s: HTTP %s, retrying in %.1f s", params["ReportName"], response.status_code, wait
            )
            time.sleep(wait)

    def _raise_for_error(self, response: requests.Response, name: str) -> None:
        status = response.status_code
        code, text = error_code(response)
        said = f"report {name}: HTTP {status}, error {code}: {text}"
        if status == 429 or status >= 500 or code in settings.TRANSIENT_ERROR_CODES:
            raise DirectApiError(f"{said} (still failing after {self.policy.max_attempts} attempts)")
        if (status in (401, 403) and code is None) or code in ("53", "58"):
            raise SourceConfigurationError(SOURCE, f"the OAuth token was rejected ({said})", TOKEN_FIX)
        if code in ("54", "513", "8800"):
            raise SourceConfigurationError(SOURCE, f"no access to the advertiser ({said})", LOGIN_FIX)
        if status == 404:
            raise SourceConfigurationError(
                SOURCE, f"the Reports API was not found ({said})", "Check sources.yandex_direct.base_url"
            )
        raise SourceConfigurationError(
            SOURCE,
            f"the report request was rejected ({said})",
            "Check sources.yandex_direct.field_names and include_vat against the Reports API",
        )


def _retry_in(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retryIn", settings.RETRY_IN_SECONDS)))
    except ValueError:
        return settings.RETRY_IN_SECONDS
