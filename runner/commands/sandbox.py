"""`predicto sandbox serve`: the simulated world over the real source protocols, on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Local servers that speak the real source APIs, fed by a simulated world.", no_args_is_help=True
)


@app.command()
def serve(
    world: Annotated[Path, typer.Option(help="World directory written by `predicto simulate`")] = Path(
        ".sim/world"
    ),
    pg_dsn: Annotated[str, typer.Option(help="PostgreSQL server for the auth service's database")] = (
        "postgresql://postgres@127.0.0.1:5432/postgres"
    ),
) -> None:
    """Serve until Ctrl-C, and print the settings that point `predicto ingest` at it."""
    from runner.simulation import serve_sandbox_forever

    raise typer.Exit(serve_sandbox_forever(world, pg_dsn, echo=typer.echo))
