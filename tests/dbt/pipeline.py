"""Helpers for warehouse tests: load a simulated world into raw, run dbt on the project."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingestion.run import SourceRun, ingest
from runner.simulation import sandbox_environment
from warehouse.settings import ClickHouseSettings

PG_SERVER_DSN = os.environ.get("PREDICTO_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVICES = ("metrica", "appmetrica", "direct", "billing", "content")
DATED = ("yandex_metrica", "appmetrica", "yandex_direct")


@contextmanager
def _env(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def ingest_world(world_dir: Path, settings: ClickHouseSettings, pipelines_dir: Path) -> list[SourceRun]:
    """Serve `world_dir` on free ports and ingest every source of it into `settings`' raw layer."""
    from simulator.sandbox import serve_all
    from simulator.sandbox.auth_pg import drop_database

    database = f"predicto_test_dbt_{uuid.uuid4().hex[:8]}"
    sandbox = serve_all(world_dir, ports={n: 0 for n in SERVICES}, pg_dsn=PG_SERVER_DSN, pg_database=database)
    try:
        meta = json.loads((world_dir / "world.json").read_text())
        first = dt.date.fromisoformat(meta["data_start"][:10])
        last = dt.date.fromisoformat(meta["now"][:10]) - dt.timedelta(days=1)
        kwargs = {name: {"initial_date": first, "end_date": last} for name in DATED}
        env = sandbox_environment(sandbox.urls, world_dir, sandbox.auth_db["dsn"])
        with _env(env):
            runs = ingest(settings=settings, pipelines_dir=pipelines_dir, source_kwargs=kwargs)
    finally:
        sandbox.stop()
        drop_database(PG_SERVER_DSN, database)
    failed = {r.source: r.error for r in runs if r.status != "loaded"}
    assert not failed, f"ingest failed: {failed}"
    return runs


def dbt(args: list[str], settings: ClickHouseSettings, schema: str, project_dir: Path | None = None) -> Any:
    """Run dbt on the project against `settings` with base schema `schema`; returns the outcome."""
    from runner.dbt import PROJECT_DIR, run_dbt

    env = {
        "CLICKHOUSE_HOST": settings.effective_host,
        "CLICKHOUSE_PORT": str(settings.effective_port),
        "CLICKHOUSE_PASSWORD": settings.password,
        "DBT_SCHEMA": schema,
    }
    with _env(env):
        return run_dbt(args, project_dir or PROJECT_DIR)


def failures(outcome: Any) -> list[str]:
    return [
        f"{r['unique_id']}: {r['status']} {r['message']}"
        for r in outcome.results
        if r["status"] not in ("success", "pass")
    ]
