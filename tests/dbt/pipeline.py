"""Helpers for warehouse tests: load a simulated world into raw, run dbt on the project."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ingestion.run import SourceRun
from runner import simulation
from runner.simulation import overridden_environment
from warehouse.settings import ClickHouseSettings

PG_SERVER_DSN = os.environ.get("PREDICTO_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
_PRIVATE_DBT_DIR = Path(tempfile.gettempdir()) / f"predicto-test-dbt-{os.getpid()}"


def ingest_world(world_dir: Path, settings: ClickHouseSettings, pipelines_dir: Path) -> list[SourceRun]:
    """Serve `world_dir` on free ports and ingest every source of it into `settings`' raw layer."""
    return simulation.ingest_world(world_dir, settings, pipelines_dir, PG_SERVER_DSN)


def dbt(args: list[str], settings: ClickHouseSettings, schema: str, project_dir: Path | None = None) -> Any:
    """Run dbt on the project against `settings` with base schema `schema`; returns the outcome."""
    from runner.dbt import PROJECT_DIR, run_dbt

    with overridden_environment(dbt_environment(settings, schema)):
        return run_dbt(args, project_dir or PROJECT_DIR)


def dbt_environment(settings: ClickHouseSettings, schema: str) -> dict[str, str]:
    """Variables that point dbt at `settings` with base schema `schema`."""
    return {
        "CLICKHOUSE_HOST": settings.effective_host,
        "CLICKHOUSE_PORT": str(settings.effective_port),
        "CLICKHOUSE_PASSWORD": settings.password,
        "DBT_SCHEMA": schema,
        # dbt's target/ and logs/ per test process: parallel runs on one checkout must not
        # overwrite each other's manifest and compiled SQL.
        "DBT_TARGET_PATH": os.environ.get("DBT_TARGET_PATH", str(_PRIVATE_DBT_DIR / "target")),
        "DBT_LOG_PATH": os.environ.get("DBT_LOG_PATH", str(_PRIVATE_DBT_DIR / "logs")),
    }


def failures(outcome: Any) -> list[str]:
    return [
        f"{r['unique_id']}: {r['status']} {r['message']}"
        for r in outcome.results
        if r["status"] not in ("success", "pass")
    ]
