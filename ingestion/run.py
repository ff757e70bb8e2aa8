"""Run sources into `raw`: one pipeline per source, each independent of the others' failures."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse.settings import ClickHouseSettings

from .errors import SourceConfigurationError
from .registry import SOURCES, source_factory

log = logging.getLogger("predicto.ingestion")


@dataclass
class SourceRun:
    """What one source's run did."""

    source: str
    status: str = "pending"  # loaded | failed
    seconds: float = 0.0
    load_ids: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> received/inserted/duplicate
    quarantined: int = 0
    error: str | None = None

    @property
    def rows_received(self) -> int:
        return sum(t["received"] for t in self.tables.values())

    @property
    def rows_inserted(self) -> int:
        return sum(t["inserted"] for t in self.tables.values())


def ingest(
    names: Iterable[str] | None = None,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    full_refresh: bool = False,
    settings: ClickHouseSettings | None = None,
    pipelines_dir: Path | None = None,
    source_kwargs: dict[str, dict[str, Any]] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[SourceRun], None] | None = None,
) -> list[SourceRun]:
    """Load each named source (all by default); a failing source does not stop the others.

    Args:
        names: sources to run, in order; unknown names raise ValueError before anything runs.
        since: first date to (re)load, overriding each source's stored cursor.
        until: last date to load.
        full_refresh: drop the sources' raw tables and state first, then load everything.
        settings: the warehouse; default the shared CLICKHOUSE_* settings.
        pipelines_dir: dlt's working directory.
        source_kwargs: extra arguments per source factory (tests, the demo's sandbox wiring).
        on_start: called with a source name when it starts.
        on_done: called with each finished SourceRun.

    Returns:
        One SourceRun per source, in order.
    """
    from .pipelines import full_refresh as drop_source
    from .pipelines import make_pipeline

    chosen = list(names) if names else list(SOURCES)
    for name in chosen:
        if name not in SOURCES:
            raise ValueError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}")
    settings = settings or ClickHouseSettings()
    runs = []
    for name in chosen:
        run = SourceRun(name)
        if on_start:
            on_start(name)
        started = time.perf_counter()
        try:
            if full_refresh:
                drop_source(name, pipelines_dir=pipelines_dir, settings=settings)
            pipeline = make_pipeline(name, pipelines_dir=pipelines_dir, settings=settings)
            source = _build_source(name, since, until, (source_kwargs or {}).get(name, {}))
            info = pipeline.run(source)
            run.load_ids = list(info.loads_ids)
            run.status = "loaded"
        except Exception as exc:  # one source's failure is reported, the others still run
            run.status = "failed"
            run.error = describe_error(exc)
            log.error("source %s failed: %s", name, run.error)
        run.seconds = time.perf_counter() - started
        if run.load_ids:
            _fill_counts(run, settings)
        runs.append(run)
        if on_done:
            on_done(run)
    return runs


def _build_source(name: str, since: dt.date | None, until: dt.date | None, extra: dict[str, Any]) -> Any:
    factory = source_factory(name)
    kwargs = dict(extra)
    accepted = inspect.signature(factory).parameters
    if since is not None and "start_date" in accepted:
        kwargs["start_date"] = since
    if until is not None and "end_date" in accepted:
        kwargs["end_date"] = until
    return factory(**kwargs)


def describe_error(exc: BaseException) -> str:
    """The most useful message in an exception chain (dlt wraps a source's error in its own)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        if isinstance(current, SourceConfigurationError):
            return str(current)
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    root = seen[-1]
    return f"{type(root).__name__}: {root}"


def _fill_counts(run: SourceRun, settings: ClickHouseSettings) -> None:
    """Rows per table of this run, from the sink's journal (after deduplication)."""
    from warehouse.client import get_client

    client = get_client(settings, autogenerate_session_id=False)
    try:
        rows = client.query(
            "SELECT table, sum(rows_received), sum(rows_inserted), sum(rows_skipped_duplicate) "
            "FROM raw._loads WHERE load_id IN {ids:Array(String)} AND status = 'loaded' GROUP BY table ORDER BY table",
            parameters={"ids": run.load_ids},
        ).result_rows
    except Exception as exc:  # the journal is informative; a missing one must not fail the run
        log.warning("cannot read raw._loads: %s", exc)
        return
    finally:
        client.close()
    for table, received, inserted, duplicate in rows:
        if table.endswith("_dlt_pipeline_state"):
            continue
        if table == "_quarantine":
            run.quarantined += int(inserted)
            continue
        run.tables[table] = {
            "received": int(received),
            "inserted": int(inserted),
            "duplicate": int(duplicate),
        }
