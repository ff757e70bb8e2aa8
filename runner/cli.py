"""The `predicto` command: a thin root that wires the packages together."""

from __future__ import annotations

import typer

from runner.commands import dbt, demo, ingest, sandbox, simulate, warehouse

app = typer.Typer(help="Predicto end-to-end analytics.", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(warehouse.app, name="warehouse")
app.add_typer(sandbox.app, name="sandbox")
app.command(name="simulate")(simulate.simulate)
app.command(name="ingest")(ingest.ingest)
app.command(name="demo")(demo.demo)
app.command(
    name="dbt",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)(dbt.dbt)
