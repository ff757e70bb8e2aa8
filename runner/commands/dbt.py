"""`predicto dbt …`: dbt on the project, against the configured (or embedded) warehouse."""

from __future__ import annotations

import typer


def dbt(ctx: typer.Context) -> None:
    """Run any dbt command, e.g. `predicto dbt build --select marts`."""
    from runner.connection import connect_warehouse
    from runner.dbt import run_dbt

    connect_warehouse()
    outcome = run_dbt(list(ctx.args))
    raise typer.Exit(0 if outcome.success else 1)
