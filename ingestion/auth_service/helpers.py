"""Connecting to the auth database, with errors that say which setting to fix."""

from __future__ import annotations

from typing import Any

from dlt.common.configuration.specs import ConnectionStringCredentials

from ingestion.errors import SourceConfigurationError

from .settings import CONNECT_TIMEOUT_SECONDS, CREDENTIALS_FIX, SOURCE_NAME


def connect(credentials: ConnectionStringCredentials | str) -> Any:
    """A SQLAlchemy engine for the auth database, after checking that it answers.

    Raises:
        SourceConfigurationError: the server cannot be reached, the database does not exist or
            the credentials are refused. The message shows the URL without its password.
    """
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(credentials, str):
        credentials = ConnectionStringCredentials(credentials)
    url = credentials.to_url()
    shown = url.render_as_string(hide_password=True)
    connect_args = (
        {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if url.get_backend_name() == "postgresql" else {}
    )
    try:
        engine = sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise SourceConfigurationError(
            SOURCE_NAME, f"invalid connection string {shown}: {exc}", CREDENTIALS_FIX
        ) from exc
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except DBAPIError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise SourceConfigurationError(
            SOURCE_NAME, f"cannot connect to {shown}: {reason}", CREDENTIALS_FIX
        ) from exc
    return engine
