"""Run a Predicto pipeline in a child process (for the crash and kill tests).

    python -m tests.ingestion.pipeline_runner <source> <pipelines_dir> <chunks> <chunk_rows>

Loads `chunks` arrow tables of `chunk_rows` player-event rows each (event ids e0, e1, …, the
same on every run) into `raw.<source>__events`, one load job per chunk. The warehouse comes from
CLICKHOUSE_* in the environment, like any Predicto process.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.pipelines import make_pipeline


def chunk(start: int, n: int) -> pa.Table:
    ids = pa.array(range(start, start + n), pa.int64())
    base = int(dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
    return pa.table(
        {
            "event_id": pc.binary_join_element_wise("e", ids.cast(pa.string()), ""),
            "event_at": pc.add(pc.multiply(ids, 1_000_000), base).cast(pa.timestamp("us", tz="UTC")),
            "position_s": pc.divide(ids.cast(pa.float64()), 3.0),
        }
    )


def run(source: str, pipelines_dir: str | Path, chunks: int, chunk_rows: int, settings=None):
    """Load the chunks; `DATA_WRITER__FILE_MAX_ITEMS=chunk_rows` makes one job per chunk."""

    @dlt.resource(primary_key="event_id", write_disposition="append")
    def events():
        for i in range(chunks):
            yield chunk(i * chunk_rows, chunk_rows)

    @dlt.source(name=source)
    def test_source():
        return events

    return make_pipeline(source, pipelines_dir=Path(pipelines_dir), settings=settings).run(test_source())


def main(source: str, pipelines_dir: str, chunks: int, chunk_rows: int) -> None:
    os.environ["DATA_WRITER__FILE_MAX_ITEMS"] = str(chunk_rows)
    print(run(source, pipelines_dir, chunks, chunk_rows), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
