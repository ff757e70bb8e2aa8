"""Auth service source defaults and the columns of its raw tables.

The auth service keeps users and their logins in PostgreSQL (`users`, `logins`, both with an
`updated_at` column its application sets on every write). The source reads them with dlt's
`sql_table`, incrementally on `updated_at`.
"""

from __future__ import annotations

from typing import Any

from ingestion.sink import low_cardinality, table_hints

SOURCE_NAME = "auth_service"

LOOKBACK_SECONDS = 600
"""Rows updated this long before the stored cursor are read again: a transaction stamps
`updated_at` when it starts and becomes visible when it commits, so a long one can commit
after a run has already moved the cursor past its timestamp."""

CONNECT_TIMEOUT_SECONDS = 15
CHUNK_SIZE = 50_000

CREDENTIALS_FIX = (
    "Check sources.auth_service.credentials (env SOURCES__AUTH_SERVICE__CREDENTIALS), a "
    "connection string such as postgresql://user:password@host:5432/database"
)


def _col(data_type: str, description: str, *, nullable: bool = True, **extra: Any) -> dict[str, Any]:
    return {"data_type": data_type, "nullable": nullable, "description": description, **extra}


def _text(description: str, *, low: bool = False, nullable: bool = True) -> dict[str, Any]:
    return _col("text", description, nullable=nullable, **(low_cardinality() if low else {}))


def _ts(description: str, *, nullable: bool = True) -> dict[str, Any]:
    # PostgreSQL timestamptz keeps microseconds.
    return _col("timestamp", description, nullable=nullable, precision=6, timezone=True)


USER_COLUMNS: dict[str, dict[str, Any]] = {
    "user_id": _col("bigint", "User id (100001… in registration order)", nullable=False),
    "email_hash": _text("Hash of the e-mail address (identity key)"),
    "birth_year": _col("bigint", "Birth year as entered"),
    "gender": _text("Gender as entered", low=True),
    "city": _text("City as entered", low=True),
    "region": _text("Region of the city", low=True),
    "created_at": _ts("Registration time, UTC"),
    "updated_at": _ts("Last change of the row, UTC", nullable=False),
}

LOGIN_COLUMNS: dict[str, dict[str, Any]] = {
    "login_id": _text("Login id (UUID)", nullable=False),
    "user_id": _col("bigint", "Who logged in (no foreign key: orphans occur)"),
    "logged_in_at": _ts("Login time, UTC"),
    "client_type": _text("web, android, ios or smart_tv", low=True),
    "client_id": _text("Device id: Metrica ClientID, AppMetrica device id or TV id"),
    "auth_method": _text("password, sms, oauth provider, ...", low=True),
    "ip": _text("Client IP address"),
    "user_agent": _text("User agent"),
    "updated_at": _ts("Last change of the row, UTC", nullable=False),
}

# Users: a small dimension, one unpartitioned table with a user's versions side by side.
USER_HINTS = table_hints(order_by=["user_id", "updated_at"])
# Logins: an event log, monthly partitions, time first for the sink's duplicate check.
LOGIN_HINTS = table_hints(order_by=["updated_at", "login_id"], partition_by="toYYYYMM(updated_at)")
