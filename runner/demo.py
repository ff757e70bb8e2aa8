"""`predicto demo`: the whole pipeline on simulated data, then a summary of what was built."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from warehouse.client import get_client

from .connection import connect_warehouse
from .dbt import PROJECT_DIR, DbtOutcome, run_dbt


@dataclass
class DemoReport:
    warehouse_url: str
    dbt: DbtOutcome
    seconds: float
    tables: list[tuple[str, str, int]] = field(default_factory=list)  # database, table, rows


def run_demo() -> DemoReport:
    started = time.perf_counter()
    settings = connect_warehouse()
    outcome = run_dbt(["build"])
    tables: list[tuple[str, str, int]] = []
    if outcome.success:
        client = get_client(settings)
        relations = [
            r["relation"]
            for r in outcome.results
            if r["relation"] and r["resource_type"] in ("model", "seed", "snapshot")
        ]
        for relation in relations:
            db, table = (part.strip('`"') for part in relation.split("."))
            rows = client.command(f"SELECT count() FROM `{db}`.`{table}`")
            tables.append((db, table, int(rows)))
        client.close()
    return DemoReport(settings.url, outcome, time.perf_counter() - started, tables)


def format_report(report: DemoReport) -> str:
    lines = [f"warehouse: {report.warehouse_url}  (dbt project: {PROJECT_DIR})", ""]
    if not report.dbt.success:
        failed = [r for r in report.dbt.results if r["status"] not in ("success", "pass")]
        lines.append("dbt build FAILED:")
        lines += [f"  {r['unique_id']}: {r['status']} {r['message']}" for r in failed] or [
            f"  {report.dbt.error}"
        ]
        return "\n".join(lines)
    counts: dict[str, int] = {}
    for r in report.dbt.results:
        counts[r["resource_type"]] = counts.get(r["resource_type"], 0) + 1
    lines.append(
        "dbt build: " + ", ".join(f"{n} {kind}s" for kind, n in sorted(counts.items())) + " — all passed"
    )
    lines.append("")
    lines.append("built:")
    width = max((len(f"{d}.{t}") for d, t, _ in report.tables), default=10)
    lines += [f"  {f'{d}.{t}':<{width}}  {rows:>10,} rows" for d, t, rows in report.tables]
    lines += [
        "",
        "where to look:",
        f"  curl '{report.warehouse_url}/?query=SHOW+TABLES+FROM+analytics_marts'",
        f"  any ClickHouse client or BI tool: {report.warehouse_url} (ClickHouse HTTP, user default)",
        "  cd dbt_project && ../.venv/bin/dbt docs generate && ../.venv/bin/dbt docs serve",
        "  predicto warehouse status | stop",
        f"done in {report.seconds:.1f}s",
    ]
    return "\n".join(lines)
