"""Progress and summary of an ingest run on the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def run_with_progress(sources: list[str] | None, console: Console | None = None, **kwargs: Any) -> list:
    from ingestion.run import ingest

    console = console or Console(stderr=False)
    status = console.status("")

    def started(name: str) -> None:
        status.update(f"loading [bold]{name}[/bold]…")

    def done(run) -> None:
        mark = "[green]ok[/green]" if run.status == "loaded" else "[red]FAILED[/red]"
        console.print(
            f"  {mark} {run.source}: {run.rows_inserted:,} new rows in {run.seconds:.1f}s"
            + (f" — {run.error}" if run.error else "")
        )

    with status:
        runs = ingest(sources, on_start=started, on_done=done, **kwargs)
    console.print(summary_table(runs))
    return runs


def summary_table(runs: list) -> Table:
    table = Table(title="ingest summary")
    for column, justify in (
        ("source", "left"),
        ("status", "left"),
        ("rows received", "right"),
        ("new rows", "right"),
        ("duplicates", "right"),
        ("quarantined", "right"),
        ("seconds", "right"),
    ):
        table.add_column(column, justify=justify)
    for r in runs:
        duplicates = sum(t["duplicate"] for t in r.tables.values())
        table.add_row(
            r.source,
            r.status if r.status == "loaded" else f"[red]{r.status}[/red]",
            f"{r.rows_received:,}",
            f"{r.rows_inserted:,}",
            f"{duplicates:,}",
            f"{r.quarantined:,}",
            f"{r.seconds:.1f}",
        )
    return table


def summary_lines(runs: list) -> list[str]:
    """The summary as plain text lines (for logs and the demo's report)."""
    if not runs:
        return []
    header = f"{'source':<16} {'status':<8} {'received':>10} {'new rows':>10} {'duplicates':>10} {'quarantined':>11} {'seconds':>8}"
    lines = ["ingest summary:", "  " + header]
    for r in runs:
        duplicates = sum(t["duplicate"] for t in r.tables.values())
        lines.append(
            f"  {r.source:<16} {r.status:<8} {r.rows_received:>10,} {r.rows_inserted:>10,} {duplicates:>10,} "
            f"{r.quarantined:>11,} {r.seconds:>8.1f}"
        )
        if r.error:
            lines.append(f"    error: {r.error}")
    return lines
