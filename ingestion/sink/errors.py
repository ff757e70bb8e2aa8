"""ClickHouse and HTTP failures → the exceptions dlt's loader acts on.

dlt 1.31 runs each load job through `RunnableLoadJob.run_managed`: an exception deriving from
`TerminalException` (e.g. `DestinationTerminalException`) fails the job for good; any other
exception, `DestinationTransientException` included, puts the job in "retry" and the loader
runs it again (up to `load.raise_on_max_retries` times in one run, then the package stays
pending for the next run). The sink's jobs are idempotent, so retrying is always safe; the
question is only whether it can help.
"""

from __future__ import annotations

import re

from dlt.common.destination.exceptions import (
    DestinationTerminalException,
    DestinationTransientException,
)

# ClickHouse error codes worth retrying: load, timeouts, lost sessions, cluster hiccups.
TRANSIENT_CODES = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        160,  # TOO_SLOW
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        236,  # ABORTED
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS
        285,  # TOO_FEW_LIVE_REPLICAS
        319,  # UNKNOWN_STATUS_OF_INSERT
        372,  # SESSION_NOT_FOUND
        373,  # SESSION_IS_LOCKED
        394,  # QUERY_WAS_CANCELLED
        425,  # SYSTEM_ERROR
        439,  # CANNOT_SCHEDULE_TASK
        999,  # KEEPER_EXCEPTION
        1000,  # POCO_EXCEPTION
    }
)
_HTTP_STATUS = re.compile(r"HTTP status (\d{3})")
_RETRYABLE_HTTP = frozenset({408, 425, 429})


class SinkTransientError(DestinationTransientException):
    """Worth retrying: the network, an overloaded or restarting server."""


class SinkTerminalError(DestinationTerminalException):
    """Retrying cannot help: bad SQL, a type the table cannot take, bad credentials."""


def is_transient(exc: BaseException) -> bool:
    """Whether a failure of a load job may pass if the job runs again."""
    from clickhouse_connect.driver.exceptions import Error as ClickHouseDriverError

    if isinstance(exc, DestinationTransientException):
        return True
    if isinstance(exc, DestinationTerminalException):
        return False
    if isinstance(exc, ClickHouseDriverError):
        code = getattr(exc, "code", None)
        if code is not None:
            return code in TRANSIENT_CODES
        status = _HTTP_STATUS.search(str(exc))
        if status:
            value = int(status.group(1))
            return value >= 500 or value in _RETRYABLE_HTTP
        return True  # no server answer at all: connection refused, reset, timed out
    return isinstance(exc, (ConnectionError, TimeoutError))


def for_dlt(exc: BaseException) -> Exception:
    """Wrap `exc` in the dlt exception class that makes the loader retry it or give up."""
    if isinstance(exc, (SinkTransientError, SinkTerminalError)):
        return exc
    kind = SinkTransientError if is_transient(exc) else SinkTerminalError
    return kind(f"{type(exc).__name__}: {exc}")
