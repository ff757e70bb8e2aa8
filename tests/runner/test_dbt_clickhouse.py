"""dbt-clickhouse (driver: http) builds every kind of node against the embedded warehouse."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "dbt_features"


def dbt(project: Path, *args: str) -> None:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        [*args, "--project-dir", str(project), "--profiles-dir", str(ROOT / "dbt_project")]
    )
    if not result.success:
        failures = []
        for r in getattr(result.result, "results", None) or []:
            if str(r.status) not in ("success", "pass"):
                failures.append(f"{r.node.unique_id}: {r.status} {r.message}")
        raise AssertionError(f"dbt {' '.join(args)} failed: {result.exception or failures}")


BATCH_1 = [  # event_id, user_id, plan_id, amount, event_at, version
    (1, 10, "monthly", Decimal("399.00"), dt.datetime(2026, 10, 1, 9), 1),
    (2, 11, "annual", Decimal("3990.00"), dt.datetime(2026, 10, 1, 10), 1),
    (3, 10, "monthly", Decimal("399.00"), dt.datetime(2026, 10, 2, 11), 1),
    (4, 12, "monthly", Decimal("199.50"), dt.datetime(2026, 10, 3, 12), 1),
]
BATCH_2 = [
    (3, 10, "monthly", Decimal("0.00"), dt.datetime(2026, 10, 2, 11), 2),  # refunded: new version of 3
    (5, 13, "annual", Decimal("3990.00"), dt.datetime(2026, 10, 3, 13), 2),
    (6, 14, "monthly", Decimal("399.00"), dt.datetime(2026, 10, 4, 8), 2),
]
COLUMNS = ["event_id", "user_id", "plan_id", "amount", "event_at", "version"]


def latest(rows):
    best = {}
    for r in rows:
        if r[0] not in best or r[5] > best[r[0]][5]:
            best[r[0]] = r
    return best


def daily(rows):
    out = defaultdict(lambda: [0, Decimal(0)])
    for r in latest(rows).values():
        out[r[4].date()][0] += 1
        out[r[4].date()][1] += r[3]
    return {d: (n, a) for d, (n, a) in sorted(out.items())}


@pytest.fixture
def project(tmp_path, warehouse, monkeypatch):
    target = tmp_path / "dbt_features"
    shutil.copytree(FIXTURE, target)
    for key, value in warehouse.env().items():
        if key.startswith("CLICKHOUSE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("DBT_SCHEMA", "feat")
    monkeypatch.setenv("DBT_THREADS", "4")
    client = warehouse.client()
    for db in ("feat", "feat_raw"):
        client.command(f"DROP DATABASE IF EXISTS {db}")
    client.command("CREATE DATABASE feat_raw")
    client.command(
        "CREATE TABLE feat_raw.events (event_id UInt32, user_id UInt32, plan_id String, amount Decimal(12, 2), "
        "event_at DateTime, version UInt8) ENGINE = MergeTree ORDER BY event_id"
    )
    client.command(
        "CREATE TABLE feat_raw.users (user_id UInt32, city String, updated_at DateTime) ENGINE = MergeTree ORDER BY user_id"
    )
    monkeypatch.chdir(tmp_path)
    yield target, client
    for db in ("feat", "feat_raw"):
        client.command(f"DROP DATABASE IF EXISTS {db}")


def test_build_then_incremental_build(project):
    path, ch = project
    ch.insert("feat_raw.events", BATCH_1, column_names=COLUMNS)
    ch.insert(
        "feat_raw.users",
        [(10, "Moscow", dt.datetime(2026, 10, 1)), (11, "Kazan", dt.datetime(2026, 10, 1))],
        column_names=["user_id", "city", "updated_at"],
    )
    dbt(
        path,
        "build",
        "--vars",
        "{raw_database: feat_raw}",
        "--event-time-start",
        "2026-10-01",
        "--event-time-end",
        "2026-10-06",
    )

    def check(rows):
        want_latest = {k: (v[1], v[3]) for k, v in latest(rows).items()}
        for model in ("inc_legacy", "inc_delete_insert"):
            got = {
                r[0]: (r[1], r[2])
                for r in ch.query(f"SELECT event_id, user_id, amount FROM feat.{model}").result_rows
            }
            assert got == want_latest, model
        got = sorted(ch.query("SELECT event_id, version, amount FROM feat.inc_append").result_rows)
        assert got == sorted((r[0], r[5], r[3]) for r in rows)
        want_daily = daily(rows)
        for model in ("daily_totals", "inc_insert_overwrite"):
            got = {
                r[0]: (r[1], r[2])
                for r in ch.query(
                    f"SELECT event_date, events, amount FROM feat.{model} ORDER BY event_date"
                ).result_rows
            }
            assert got == want_daily, model
        got = {r[0]: r[1] for r in ch.query("SELECT event_id, amount FROM feat.inc_microbatch").result_rows}
        assert got == {k: v[1] for k, v in want_latest.items()}

    check(BATCH_1)
    assert ch.query("SELECT plan_id, price FROM feat.plans ORDER BY plan_id").result_rows == [
        ("annual", Decimal("3990.00")),
        ("monthly", Decimal("399.00")),
    ]
    assert ch.command("SELECT count() FROM feat.users_snapshot") == 2

    # New raw rows: a changed event, new events, a changed user. The second build must pick them up.
    ch.insert("feat_raw.events", BATCH_2, column_names=COLUMNS)
    ch.insert(
        "feat_raw.users",
        [(10, "Tver", dt.datetime(2026, 10, 5))],
        column_names=["user_id", "city", "updated_at"],
    )
    ch.command("OPTIMIZE TABLE feat_raw.users FINAL")
    dbt(
        path,
        "build",
        "--vars",
        "{raw_database: feat_raw}",
        "--event-time-start",
        "2026-10-01",
        "--event-time-end",
        "2026-10-06",
    )
    check(BATCH_1 + BATCH_2)
    history = ch.query(
        "SELECT user_id, city, dbt_valid_to IS NULL FROM feat.users_snapshot ORDER BY user_id, dbt_valid_from"
    ).result_rows
    assert history == [(10, "Moscow", False), (10, "Tver", True), (11, "Kazan", True)]
