"""ClickHouse connection settings, read from the environment and an optional `.env` file.

`CLICKHOUSE_HOST` unset means "the embedded warehouse": clients connect to 127.0.0.1 on
`CLICKHOUSE_PORT` (8123), and the embedded server uses the same port, user and password, so
both ends agree without extra configuration.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_HOST = "127.0.0.1"


class ClickHouseSettings(BaseSettings):
    """Where every client finds ClickHouse (env: CLICKHOUSE_*)."""

    model_config = SettingsConfigDict(env_prefix="CLICKHOUSE_", env_file=".env", extra="ignore")

    host: str | None = Field(default=None, description="Server host; unset = the embedded warehouse")
    port: int | None = Field(default=None, description="HTTP(S) port; 8123, or 8443 when secure")
    user: str = "default"
    password: str = ""
    secure: bool = False
    database: str = "default"

    @property
    def embedded(self) -> bool:
        return not self.host

    @property
    def effective_host(self) -> str:
        return self.host or EMBEDDED_HOST

    @property
    def effective_port(self) -> int:
        return self.port or (8443 if self.secure else 8123)

    @property
    def url(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self.effective_host}:{self.effective_port}"

    def sqlalchemy_url(self, database: str | None = None) -> str:
        """URL for clickhouse-connect's SQLAlchemy dialect (`clickhousedb://`)."""
        from urllib.parse import quote

        auth = quote(self.user, safe="") + (":" + quote(self.password, safe="") if self.password else "")
        query = "?protocol=https" if self.secure else ""
        return f"clickhousedb://{auth}@{self.effective_host}:{self.effective_port}/{database or self.database}{query}"

    def client_kwargs(self) -> dict:
        """Arguments for `clickhouse_connect.get_client`."""
        return {
            "host": self.effective_host,
            "port": self.effective_port,
            "username": self.user,
            "password": self.password,
            "secure": self.secure,
            "database": self.database,
        }


class EmbeddedSettings(BaseSettings):
    """How the embedded warehouse server runs (env: PREDICTO_WAREHOUSE_*)."""

    model_config = SettingsConfigDict(env_prefix="PREDICTO_WAREHOUSE_", env_file=".env", extra="ignore")

    host: str = EMBEDDED_HOST
    port: int | None = Field(default=None, description="Defaults to CLICKHOUSE_PORT, else 8123")
    data_dir: Path = Path(".warehouse")


def load_settings() -> ClickHouseSettings:
    return ClickHouseSettings()
