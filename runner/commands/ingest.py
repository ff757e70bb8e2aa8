"""`predicto ingest`: load sources into the warehouse's raw layer."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer


def ingest(
    sources: Annotated[list[str] | None, typer.Argument(help="Sources to load (default: all)")] = None,
    since: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Reload from this date")
    ] = None,
    until: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Load up to this date")
    ] = None,
    full_refresh: Annotated[bool, typer.Option(help="Drop the sources' raw tables and state first")] = False,
) -> None:
    """Run dlt pipelines (one per source) into raw.<source>__<table>; a failing source does not stop the others."""
    from runner.connection import connect_warehouse
    from runner.ingest_view import run_with_progress

    settings = connect_warehouse()
    runs = run_with_progress(
        sources,
        since=since and since.date(),
        until=until and until.date(),
        full_refresh=full_refresh,
        settings=settings,
    )
    raise typer.Exit(0 if all(r.status == "loaded" for r in runs) else 1)
