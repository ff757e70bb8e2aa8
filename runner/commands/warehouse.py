"""`predicto warehouse …`: run the embedded ClickHouse-compatible warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Run the embedded warehouse (chDB behind the ClickHouse HTTP interface).", no_args_is_help=True
)

Host = Annotated[
    str | None, typer.Option(help="Address to listen on [env PREDICTO_WAREHOUSE_HOST; default 127.0.0.1]")
]
Port = Annotated[
    int | None,
    typer.Option(help="HTTP port [env PREDICTO_WAREHOUSE_PORT, else CLICKHOUSE_PORT; default 8123]"),
]
DataDir = Annotated[
    Path | None, typer.Option(help="Data directory [env PREDICTO_WAREHOUSE_DATA_DIR; default .warehouse]")
]


@app.command()
def serve(host: Host = None, port: Port = None, data_dir: DataDir = None) -> None:
    """Serve in the foreground until interrupted."""
    from runner.embedded.run import run_foreground
    from runner.settings import embedded_target

    raise typer.Exit(run_foreground(embedded_target(host, port, data_dir)))


@app.command()
def start(host: Host = None, port: Port = None, data_dir: DataDir = None) -> None:
    """Start in the background (pid and log files in the data directory)."""
    from runner import warehouse
    from runner.settings import embedded_target

    target = embedded_target(host, port, data_dir)
    try:
        state = warehouse.start(target)
    except warehouse.WarehouseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"warehouse running at {state.url} (pid {state.pid}, data {target.data_dir})")


@app.command()
def stop(data_dir: DataDir = None) -> None:
    """Stop the background server of a data directory."""
    from runner import warehouse
    from runner.settings import embedded_target

    target = embedded_target(data_dir=data_dir)
    state = warehouse.stop(target.data_dir)
    typer.echo(
        f"stopped warehouse pid {state.pid}" if state else f"no warehouse running for {target.data_dir}"
    )


@app.command()
def status(host: Host = None, port: Port = None, data_dir: DataDir = None) -> None:
    """Show whether the server runs, where, and what it holds."""
    from runner import warehouse
    from runner.settings import embedded_target

    target = embedded_target(host, port, data_dir)
    state = warehouse.running_state(target.data_dir)
    if state is None:
        typer.echo(f"not running (data {target.data_dir})")
        raise typer.Exit(3)
    alive = warehouse.ping(state.url)
    typer.echo(
        f"running at {state.url} (pid {state.pid}, data {target.data_dir}, ping {'ok' if alive else 'FAILED'})"
    )
    raise typer.Exit(0 if alive else 1)
