"""The ClickHouse HTTP sink: a dlt custom destination writing `raw.*` exactly once.

Use `clickhouse_http(connection=ClickHouseSettings(...))` as a pipeline's destination, or let
`ingestion.pipelines.make_pipeline` wire it. Source authors shape tables with `hints`.
"""

from .destination import DEFAULT_DATABASE, SINK_NAME, clickhouse_http
from .hints import low_cardinality, table_hints, volatile

__all__ = [
    "DEFAULT_DATABASE",
    "SINK_NAME",
    "clickhouse_http",
    "low_cardinality",
    "table_hints",
    "volatile",
]
