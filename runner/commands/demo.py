"""`predicto demo`."""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    people: Annotated[int, typer.Option(help="People arriving over the simulated window")] = 3000,
    days: Annotated[int, typer.Option(help="Days simulated")] = 30,
) -> None:
    """Simulate a platform, serve it over the real APIs, ingest everything, build the warehouse, summarise."""
    from runner.demo import format_report, run_demo

    report = run_demo(echo=typer.echo, people=people, days=days)
    typer.echo(format_report(report))
    raise typer.Exit(0 if report.success else 1)
