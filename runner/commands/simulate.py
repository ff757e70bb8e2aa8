"""`predicto simulate`: write a simulated streaming platform to a directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer


def simulate(
    out: Annotated[Path, typer.Option(help="Directory to write the world to")] = Path(".sim/world"),
    people: Annotated[int, typer.Option(help="People arriving over the window")] = 3000,
    days: Annotated[int, typer.Option(help="Days simulated; 'now' is start + days")] = 30,
    start_date: Annotated[str, typer.Option(help="First simulated day (UTC)")] = "2026-10-01",
    seed: Annotated[int, typer.Option(help="Master seed: same seed, same world")] = 42,
    titles: Annotated[int, typer.Option(help="Catalogue size")] = 300,
    campaigns: Annotated[int, typer.Option(help="Ad campaigns per paid channel")] = 3,
    malformed_rows: Annotated[int, typer.Option(help="Bad rows injected per source")] = 0,
) -> None:
    """Generate the world (deterministic; ground truth in <out>/truth)."""
    from runner.simulation import simulate_world

    config = dict(
        people=people,
        days=days,
        start_date=dt.date.fromisoformat(start_date),
        seed=seed,
        titles=titles,
        campaigns_per_channel=campaigns,
        malformed_rows=malformed_rows,
    )
    typer.echo(simulate_world(out, **config).summary())
