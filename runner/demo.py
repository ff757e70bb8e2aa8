"""`predicto demo`: simulate a platform, serve it over the real APIs, ingest, build, summarise."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse.client import get_client

from .connection import connect_warehouse
from .dbt import PROJECT_DIR, DbtOutcome, run_dbt
from .simulation import SimulatedWorld, overridden_environment, serving_world, simulate_world

DEMO_WORLD = Path(".sim/world")
DEMO_SCALE = {"people": 3000, "days": 30}
PG_SERVER_DSN = os.environ.get("PREDICTO_SANDBOX_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DATABASE = os.environ.get("PREDICTO_SANDBOX_PG_DATABASE", "predicto_sandbox_auth")


@dataclass
class DemoReport:
    warehouse_url: str
    world: SimulatedWorld | None = None
    ingest: list[Any] = field(default_factory=list)
    dbt: DbtOutcome | None = None
    seconds: float = 0.0
    tables: list[tuple[str, str, int]] = field(default_factory=list)  # database, table, rows
    notes: list[str] = field(default_factory=list)
    headlines: list[str] = field(default_factory=list)  # formatted headline tables

    @property
    def success(self) -> bool:
        return bool(self.dbt and self.dbt.success) and all(r.status == "loaded" for r in self.ingest)


def run_demo(echo: Callable[[str], None] = print, world_dir: Path = DEMO_WORLD, **scale: Any) -> DemoReport:
    """The whole pipeline at demo scale; each stage reports as it finishes."""
    from ingestion.run import ingest

    started = time.perf_counter()
    settings = connect_warehouse()
    report = DemoReport(settings.url)
    echo(f"warehouse: {settings.url}")
    report.world = simulate_world(world_dir, reuse=True, **{**DEMO_SCALE, **scale})
    echo(report.world.summary().splitlines()[0])
    pg_dsn = PG_SERVER_DSN if _postgres_reachable(PG_SERVER_DSN) else None
    if pg_dsn is None:
        report.notes.append(f"PostgreSQL not reachable at {PG_SERVER_DSN}: the auth service was not loaded")
    with (
        serving_world(report.world.path, pg_dsn, PG_DATABASE) as (env, source_kwargs),
        overridden_environment(env),
    ):
        names = [n for n in _all_sources() if n != "auth_service" or pg_dsn]
        echo(f"ingesting {len(names)} sources from the sandbox servers…")
        report.ingest = ingest(
            names,
            settings=settings,
            source_kwargs=source_kwargs,
            on_done=lambda r: echo(
                f"  {'ok' if r.status == 'loaded' else 'FAILED'} {r.source}: {r.rows_inserted:,} new rows, "
                f"{r.quarantined} quarantined, {r.seconds:.1f}s" + (f" — {r.error}" if r.error else "")
            ),
        )
    echo("dbt build…")
    report.dbt = run_dbt(["build", "--quiet"])
    if report.dbt.success:
        report.tables = _built_tables(settings, report.dbt)
        report.headlines = _headlines(settings, report.dbt)
    report.seconds = time.perf_counter() - started
    return report


def _all_sources() -> list[str]:
    from ingestion.registry import SOURCES

    return list(SOURCES)


def _postgres_reachable(dsn: str) -> bool:
    import psycopg2

    try:
        psycopg2.connect(dsn, connect_timeout=3).close()
    except psycopg2.Error:
        return False
    return True


def _built_tables(settings: Any, outcome: DbtOutcome) -> list[tuple[str, str, int]]:
    client = get_client(settings)
    tables = []
    for r in outcome.results:
        if r["relation"] and r["resource_type"] in ("model", "seed", "snapshot"):
            db, table = (part.strip('`"') for part in r["relation"].split("."))
            tables.append((db, table, int(client.command(f"SELECT count() FROM `{db}`.`{table}`"))))
    client.close()
    return tables


def _headlines(settings: Any, outcome: DbtOutcome) -> list[str]:
    from . import headlines

    marts = headlines.marts_database(outcome)
    if marts is None:
        return []
    client = get_client(settings)
    try:
        lines: list[str] = []
        for title, result in headlines.collect(client, marts):
            lines += [*headlines.format_result(title, result), ""]
        return lines
    finally:
        client.close()


def format_report(report: DemoReport) -> str:
    from .ingest_view import summary_lines

    lines = ["", *summary_lines(report.ingest), ""]
    if report.dbt is None or not report.dbt.success:
        failed = [
            r for r in (report.dbt.results if report.dbt else []) if r["status"] not in ("success", "pass")
        ]
        lines.append("dbt build FAILED:")
        lines += [f"  {r['unique_id']}: {r['status']} {r['message']}" for r in failed]
        if report.dbt and report.dbt.error:
            lines.append(f"  {report.dbt.error}")
        return "\n".join(lines)
    counts: dict[str, int] = {}
    for r in report.dbt.results:
        counts[r["resource_type"]] = counts.get(r["resource_type"], 0) + 1
    lines.append(
        "dbt build: " + ", ".join(f"{n} {kind}s" for kind, n in sorted(counts.items())) + " — all passed"
    )
    width = max((len(f"{d}.{t}") for d, t, _ in report.tables), default=10)
    lines += [f"  {f'{d}.{t}':<{width}}  {rows:>12,} rows" for d, t, rows in report.tables]
    lines += [f"note: {n}" for n in report.notes]
    if report.headlines:
        lines += ["", "headline numbers:", "", *report.headlines]
    lines += [
        "",
        "where to look:",
        f"  raw data:   curl '{report.warehouse_url}/?query=SHOW+TABLES+FROM+raw'",
        f"  bad rows:   curl '{report.warehouse_url}/?query=SELECT+source,reason,count()+FROM+raw._quarantine"
        "+GROUP+BY+ALL+FORMAT+PrettyCompact'",
        f"  any ClickHouse client or BI tool: {report.warehouse_url} (user default)",
        f"  dbt:        cd {PROJECT_DIR.name} && ../.venv/bin/dbt docs generate && ../.venv/bin/dbt docs serve",
        "  warehouse:  .venv/bin/predicto warehouse status | stop",
        f"done in {report.seconds:.0f}s",
    ]
    return "\n".join(lines)
