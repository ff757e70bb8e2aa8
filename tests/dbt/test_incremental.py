"""Incremental models: build on a world, extend the world by days (crossing a month), ingest the
new days, run dbt incrementally, and compare every table with a full-refresh build of the same
raw data. They must hold identical rows.

Runs in its own warehouse (the session's `built` warehouse stays as the other tests expect it).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulator import WorldConfig, generate_world
from tests.conftest import WarehouseProcess, start_warehouse
from warehouse.settings import ClickHouseSettings

from .pipeline import dbt, failures, ingest_world

# Data from 25 August to 20 September; the extension adds days into October.
BASE = WorldConfig(
    people=240,
    days=20,
    start_date=dt.date(2026, 9, 1),
    history_days=7,
    titles=40,
    campaigns_per_channel=1,
    workers=1,
)
EXTRA_DAYS = 14
# Only tests whose every parent is built here (of the marts, the incremental ones).
SELECT = [
    "--select",
    "models/staging",
    "models/intermediate",
    "channel_groups",
    "fct_person_activity_daily",
    "fct_active_users_daily",
    "--indirect-selection",
    "cautious",
]
PARTS = (
    "select name from system.parts where active and database = 'inc_intermediate' "
    "and table in ('int_events', 'int_sessions', 'int_player_views')"
)


@dataclass
class IncrementalRun:
    client: object
    incremental_schema: str
    full_schema: str
    reattributed: int
    seconds: float
    kept_parts: list[str]


@pytest.fixture(scope="module")
def incremental_run(tmp_path_factory) -> Iterator[IncrementalRun]:
    root = tmp_path_factory.mktemp("incremental")
    server: WarehouseProcess = start_warehouse(root / "data")
    try:
        settings = ClickHouseSettings(host=server.host, port=server.port)
        client = server.client()
        pipelines = root / "pipelines"
        ingest_world(Path(generate_world(BASE, root / "base")), settings, pipelines)
        built = dbt(["build", *SELECT], settings, "inc")
        assert built.success, failures(built) or built.error
        before = client.query_df("select event_id, person_id from inc_intermediate.int_events")
        parts_before = set(client.query_df(PARTS)["name"])

        ingest_world(Path(generate_world(BASE.extended(EXTRA_DAYS), root / "extended")), settings, pipelines)
        started = time.monotonic()
        # No margin for late commits: only rows of the second load count as new, so the run
        # really leaves the earlier months (August) as they were unless something drifted.
        incremental = dbt(["run", *SELECT, "--vars", '{"late_load_margin_hours": 0}'], settings, "inc")
        seconds = time.monotonic() - started
        assert incremental.success, failures(incremental) or incremental.error
        seeded = dbt(["seed"], settings, "full")
        assert seeded.success, failures(seeded) or seeded.error
        full = dbt(["run", "--full-refresh", *SELECT], settings, "full")
        assert full.success, failures(full) or full.error

        after = client.query_df("select event_id, person_id from inc_intermediate.int_events")
        kept_parts = parts_before & set(client.query_df(PARTS)["name"])
        moved = before.merge(after, on="event_id", suffixes=("_before", "_after"))
        reattributed = int((moved["person_id_before"] != moved["person_id_after"]).sum())
        yield IncrementalRun(
            client, "inc_intermediate", "full_intermediate", reattributed, seconds, sorted(kept_parts)
        )
        client.close()
    finally:
        server.stop()


INCREMENTAL_MODELS = ["int_events", "int_sessions", "int_player_views"]
TABLES = [
    *INCREMENTAL_MODELS,
    "int_identity__ids",
    "int_identity__devices",
    "int_persons",
    # incremental marts: identity drift and late loads change days older than the lookback
    "marts.fct_person_activity_daily",
    "marts.fct_active_users_daily",
]


def test_the_incremental_models_are_incremental(incremental_run):
    engines = incremental_run.client.query_df(
        f"select name, engine, partition_key from system.tables "
        f"where database = '{incremental_run.incremental_schema}' and name in {tuple(INCREMENTAL_MODELS)}"
    )
    assert len(engines) == len(INCREMENTAL_MODELS)
    assert (engines["engine"] == "MergeTree").all()
    assert engines["partition_key"].str.contains("toYYYYMM").all()


@pytest.mark.parametrize("table", TABLES)
def test_incremental_run_equals_full_refresh(incremental_run, table):
    client, inc, full = (
        incremental_run.client,
        incremental_run.incremental_schema,
        incremental_run.full_schema,
    )
    if "." in table:  # another folder than intermediate
        folder, table = table.split(".")
        inc, full = inc.replace("intermediate", folder), full.replace("intermediate", folder)
    rows = client.command(f"select count() from {inc}.{table}")
    assert rows > 0
    assert rows == client.command(f"select count() from {full}.{table}")
    only_incremental = client.command(
        f"select count() from (select * from {inc}.{table} except select * from {full}.{table})"
    )
    only_full = client.command(
        f"select count() from (select * from {full}.{table} except select * from {inc}.{table})"
    )
    assert (only_incremental, only_full) == (0, 0)


def test_the_extension_reached_a_new_month_and_reattributed_touches(incremental_run):
    months = incremental_run.client.command(
        f"select uniqExact(toYYYYMM(event_date)) from {incremental_run.incremental_schema}.int_events"
    )
    assert months >= 3
    print(
        f"incremental: run took {incremental_run.seconds:.1f} s; "
        f"{incremental_run.reattributed} earlier touches moved to another person; "
        f"parts left as they were: {incremental_run.kept_parts}"
    )
