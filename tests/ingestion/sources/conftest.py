"""Fixtures for source tests: a small simulated world, its sandbox servers, clean raw tables.

The world is generated once per test session (small: a few hundred people over two weeks);
the sandbox serves it on free loopback ports and loads the auth service's tables into a
PostgreSQL database of the session's own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dlt
import pytest

from ingestion.pipelines import make_pipeline
from simulator import WorldConfig, generate_world
from simulator.sandbox import Sandbox, serve_all

PG_SERVER_DSN = os.environ.get("PREDICTO_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVICES = ("metrica", "appmetrica", "direct", "billing", "content")
SMALL_WORLD = WorldConfig(people=400, days=14, history_days=7, titles=60, campaigns_per_channel=2, workers=1)


@pytest.fixture(scope="session")
def world_config() -> WorldConfig:
    return SMALL_WORLD


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory, world_config) -> Path:
    return Path(generate_world(world_config, tmp_path_factory.mktemp("world") / "w"))


@pytest.fixture(scope="session")
def sandbox(world_dir) -> Iterator[Sandbox]:
    """All sandbox services on free ports, auth tables in a database of this session."""
    database = f"predicto_test_auth_{uuid.uuid4().hex[:8]}"
    sb = serve_all(
        world_dir, ports={name: 0 for name in SERVICES}, pg_dsn=PG_SERVER_DSN, pg_database=database
    )
    yield sb
    sb.stop()
    from simulator.sandbox.auth_pg import drop_database

    drop_database(PG_SERVER_DSN, database)


@pytest.fixture
def clean_source(warehouse, ch_settings, tmp_path) -> Callable[[str], dlt.Pipeline]:
    """`clean_source("yandex_metrica")` → a pipeline for that source with no raw tables and no state."""

    def make(source_name: str, **kwargs) -> dlt.Pipeline:
        client = warehouse.client()
        client.command("CREATE DATABASE IF NOT EXISTS raw")
        for (table,) in client.query(
            "SELECT name FROM system.tables WHERE database = 'raw' AND startsWith(name, {p:String})",
            parameters={"p": f"{source_name}__"},
        ).result_rows:
            client.command(f"DROP TABLE raw.`{table}`")
        for table in ("_dlt_pipeline_state", "_loads", "_quarantine"):
            if client.command(f"EXISTS TABLE raw.{table}"):
                column = "pipeline_name" if table == "_dlt_pipeline_state" else "source"
                client.command(
                    f"DELETE FROM raw.{table} WHERE {column} = {{s:String}}", parameters={"s": source_name}
                )
        client.close()
        kwargs.setdefault("pipelines_dir", tmp_path / "pipelines")
        kwargs.setdefault("settings", ch_settings)
        return make_pipeline(source_name, **kwargs)

    return make
