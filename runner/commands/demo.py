"""`predicto demo`."""

from __future__ import annotations

import typer


def demo() -> None:
    """Start the warehouse if needed, build everything on simulated data, print a summary."""
    from runner.demo import format_report, run_demo

    report = run_demo()
    typer.echo(format_report(report))
    raise typer.Exit(0 if report.dbt.success else 1)
