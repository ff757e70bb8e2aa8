"""Fixtures for warehouse (dbt) tests: a world loaded into its own embedded warehouse, then built.

The warehouse here is separate from the session one other tests use, so nothing they drop or
load can change what these tests read. dbt builds into databases `<schema>_staging`, …
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulator import WorldConfig, generate_world
from tests.conftest import WarehouseProcess, start_warehouse
from warehouse.settings import ClickHouseSettings

from .pipeline import dbt, failures, ingest_world

SCHEMA = "t"
DBT_WORLD = WorldConfig(people=900, days=28, history_days=21, titles=80, campaigns_per_channel=2, workers=1)


@dataclass
class Built:
    """The warehouse after ingest + `dbt build`: a client, the world's files, the dbt schema."""

    server: WarehouseProcess
    settings: ClickHouseSettings
    world_dir: Path
    schema: str
    outcome: Any
    client: Any

    def db(self, folder: str) -> str:
        return f"{self.schema}_{folder}"


@pytest.fixture(scope="session")
def dbt_world_config() -> WorldConfig:
    return DBT_WORLD


@pytest.fixture(scope="session")
def dbt_world_dir(tmp_path_factory, dbt_world_config) -> Path:
    return Path(generate_world(dbt_world_config, tmp_path_factory.mktemp("dbt_world") / "w"))


@pytest.fixture(scope="session")
def dbt_warehouse(tmp_path_factory) -> Iterator[WarehouseProcess]:
    server = start_warehouse(tmp_path_factory.mktemp("dbt_warehouse") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def built(dbt_warehouse, dbt_world_dir, tmp_path_factory) -> Iterator[Built]:
    """The world ingested and the whole dbt project built once per test session."""
    settings = ClickHouseSettings(host=dbt_warehouse.host, port=dbt_warehouse.port)
    ingest_world(dbt_world_dir, settings, tmp_path_factory.mktemp("dbt_pipelines"))
    # PREDICTO_TEST_DBT_SELECT narrows the build while working on one area (e.g.
    # "+path:models/marts/content"); unset, the whole project is built, as CI does.
    select = os.environ.get("PREDICTO_TEST_DBT_SELECT", "").split()
    narrowed = ["--select", *select, "--indirect-selection", "cautious"] if select else []
    outcome = dbt(["build", *narrowed], settings, SCHEMA)
    assert outcome.success, failures(outcome) or outcome.error
    client = dbt_warehouse.client()
    yield Built(dbt_warehouse, settings, dbt_world_dir, SCHEMA, outcome, client)
    client.close()
