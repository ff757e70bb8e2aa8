"""Connection settings shared by every Predicto package.

This package imports none of the others: ingestion, exports, flows and the runner all take
their ClickHouse connection from here, so one set of environment variables moves the whole
product between the embedded warehouse, a server, a managed service or a cluster.
"""

from .settings import ClickHouseSettings, EmbeddedSettings, load_settings

__all__ = ["ClickHouseSettings", "EmbeddedSettings", "load_settings"]
