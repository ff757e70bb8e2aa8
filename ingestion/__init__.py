"""Ingestion: dlt sources for every upstream system and the ClickHouse HTTP sink they load into.

- `ingestion.pipelines` builds a dlt pipeline for a source (`make_pipeline`), keeps its state in
  the warehouse next to the data, and drops a source for a full reload (`full_refresh`).
- `ingestion.sink` is the dlt destination that lands every source in the `raw` database over
  ClickHouse's HTTP interface, exactly once per distinct row.
- `ingestion.quarantine` marks rows a source cannot parse so they land in `raw._quarantine`.

Nothing here runs at import time; configuration is read when a pipeline is made.
"""
