"""Player event logs: Snowplow media events in gzip JSON-lines files, by collector day.

    pipeline = make_pipeline("player_logs")
    pipeline.run(player_logs_source())                    # new and changed files only
    pipeline.run(player_logs_source(start_date=date(2026, 10, 1), end_date=date(2026, 10, 3)))

Files live under `<directory>/YYYY/MM/DD/*.jsonl.gz`. Each file is read once; a file that grew
or was rewritten is read again (the sink keeps one row per event and content, so nothing is
duplicated). Events land in `raw.player_logs__events`, lines that are not events in
`raw._quarantine` with their file and line number. See README.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from ingestion.errors import SourceConfigurationError

from .helpers import Ledger, list_files
from .reading import read_in_parallel
from .settings import (
    COLUMNS,
    DEFAULT_BATCH_ROWS,
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CONTENT_SCHEMA,
    DEFAULT_RESCAN_DAYS,
    RESOURCE_NAME,
    SOURCE_NAME,
    TABLE_HINTS,
)

log = logging.getLogger("predicto.ingestion.player_logs")

__all__ = ["player_logs_source"]


@dlt.source(name=SOURCE_NAME)
def player_logs_source(
    directory: str = dlt.config.value,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    rescan_days: int = DEFAULT_RESCAN_DAYS,
    content_schema: str = DEFAULT_CONTENT_SCHEMA,
    workers: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> DltResource:
    """Snowplow media events from a folder of dated JSON-lines files.

    Args:
        directory: the log root holding `YYYY/MM/DD/*.jsonl.gz` (config
            `sources.player_logs.directory`, env `SOURCES__PLAYER_LOGS__DIRECTORY`).
        start_date: first collector day to (re)read; every file from that day on is read again,
            whatever was loaded before. None: new and changed files only.
        end_date: last collector day to read (inclusive).
        rescan_days: day folders behind the newest loaded one that are still listed for late or
            growing files.
        content_schema: Iglu URI prefix of the entity carrying the catalogue `content_id`.
        workers: threads reading files in parallel, each decompressing and parsing its own file
            (default: the CPU count, at most 4).
        chunk_bytes: decompressed bytes parsed at a time.
        batch_rows: events handed to dlt per item.

    Returns:
        The `events` resource.
    """
    return player_events(
        Path(directory),
        start_date=start_date,
        end_date=end_date,
        rescan_days=rescan_days,
        content_schema=content_schema,
        workers=workers or min(os.cpu_count() or 1, 4),
        chunk_bytes=chunk_bytes,
        batch_rows=batch_rows,
    )


def player_events(
    root: Path,
    *,
    start_date: dt.date | None,
    end_date: dt.date | None,
    rescan_days: int,
    content_schema: str,
    workers: int,
    chunk_bytes: int,
    batch_rows: int,
) -> DltResource:
    """The events resource over `root` (see `player_logs_source` for the arguments)."""

    @dlt.resource(
        name=RESOURCE_NAME,
        primary_key="event_id",
        write_disposition="append",
        columns=COLUMNS,
    )
    def events() -> Iterator[Any]:
        if not root.is_dir():
            raise SourceConfigurationError(
                SOURCE_NAME,
                f"log directory {root} does not exist or is not a folder",
                "Set sources.player_logs.directory (env SOURCES__PLAYER_LOGS__DIRECTORY) to the "
                "folder that holds YYYY/MM/DD/*.jsonl.gz",
            )
        ledger = Ledger(dlt.current.resource_state(), rescan_days)
        backfill = start_date is not None
        listed = list_files(root, start_date if backfill else ledger.listing_start(), end_date)
        todo = listed if backfill else [f for f in listed if not ledger.is_loaded(f)]
        log.info("player logs: %s files listed, %s to read", len(listed), len(todo))
        batch: list[pa.Table] = []
        rows = 0
        for file, items in read_in_parallel(todo, content_schema, workers, chunk_bytes):
            for item in items:
                if isinstance(item, pa.Table):
                    batch.append(item)
                    rows += item.num_rows
                else:
                    yield item
            if rows >= batch_rows:
                # dlt computes and validates the table schema once per item (tens of ms for
                # these columns), so chunks are handed over in batches; concatenation does
                # not copy the data.
                yield pa.concat_tables(batch)
                batch, rows = [], 0
            if file is not None:
                # dlt commits resource state only when the whole extract succeeds.
                ledger.mark_loaded(file)
        if batch:
            yield pa.concat_tables(batch)
        if not backfill:
            ledger.advance(listed)

    events.apply_hints(additional_table_hints=TABLE_HINTS)
    return events
