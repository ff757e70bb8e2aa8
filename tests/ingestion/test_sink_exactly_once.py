"""Exactly once per distinct row content: re-runs, changed rows, duplicates, dispositions."""

from __future__ import annotations

import datetime as dt
import re

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ingestion.sink import table_hints, volatile
from ingestion.sink.ddl import TableSpec
from ingestion.sink.insert import describe, range_sql

from .helpers import journal, rows


def _events(n: int, start: int = 0, value: int = 0) -> pa.Table:
    """Player-event-like rows e<start>…, one second apart."""
    ids = pa.array(range(start, start + n), pa.int64())
    base = int(dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
    at = pc.add(pc.multiply(ids, 1_000_000), base).cast(pa.timestamp("us", tz="UTC"))
    return pa.table(
        {
            "event_id": pc.binary_join_element_wise("e", ids.cast(pa.string()), ""),
            "event_at": at,
            "value": pa.array([value] * n, pa.int64()),
        }
    )


def test_same_data_twice_adds_nothing(ch, pipeline_factory, source_of, source_name):
    @dlt.resource(primary_key="event_id")
    def events():
        yield _events(1000)

    pipeline = pipeline_factory()
    pipeline.run(source_of(events))
    pipeline.run(source_of(events))

    table = f"raw.{source_name}__events"
    assert rows(ch, f"SELECT count(), uniqExact(event_id) FROM {table}") == [(1000, 1000)]
    data_jobs = [j for j in journal(ch, source_name) if j["table"] == f"{source_name}__events"]
    assert [(j["rows_received"], j["rows_inserted"], j["rows_skipped_duplicate"]) for j in data_jobs] == [
        (1000, 1000, 0),
        (1000, 0, 1000),
    ]


def test_overlapping_window_and_changed_rows(ch, pipeline_factory, source_of, source_name):
    """A source re-reading a trailing window: only new rows and changed versions are added."""
    windows = [_events(100, 0), pa.concat_tables([_events(50, 50), _events(10, 100)])]
    windows[1] = windows[1].set_column(2, "value", pa.array([1] * 5 + [0] * 55))  # e50..e54 changed

    @dlt.resource(primary_key="event_id")
    def events(window: int):
        yield windows[window]

    pipeline = pipeline_factory()
    pipeline.run(source_of(events(0)))
    pipeline.run(source_of(events(1)))

    table = f"raw.{source_name}__events"
    assert rows(ch, f"SELECT count(), uniqExact(event_id) FROM {table}") == [(115, 110)]
    versions = rows(
        ch,
        f"SELECT event_id, groupArray(value) FROM (SELECT * FROM {table} ORDER BY _loaded_at) "
        "GROUP BY event_id HAVING count() > 1 ORDER BY event_id",
    )
    assert versions == [(f"e{i}", [0, 1]) for i in range(50, 55)]


def test_duplicates_within_a_batch_are_inserted_once(ch, pipeline_factory, source_of, source_name):
    @dlt.resource(primary_key="event_id")
    def events():
        yield _events(10)
        yield _events(10)  # the same rows again in the same load
        yield _events(3).set_column(2, "value", pa.array([7, 7, 7]))  # three new versions

    pipeline_factory().run(source_of(events))
    assert rows(ch, f"SELECT count() FROM raw.{source_name}__events") == [(13,)]


def test_table_without_primary_key_uses_the_row_hash(ch, pipeline_factory, source_of, source_name):
    @dlt.resource(columns={"fetched_at": volatile()})
    def costs(fetched_at: str):
        yield [
            {"campaign": "c1", "day": "2026-10-01", "cost": 10.0, "fetched_at": fetched_at},
            {"campaign": "c1", "day": "2026-10-01", "cost": 10.0, "fetched_at": fetched_at},
            {"campaign": "c2", "day": "2026-10-01", "cost": 5.0, "fetched_at": fetched_at},
        ]

    pipeline = pipeline_factory()
    pipeline.run(source_of(costs("2026-10-02T00:00:00Z")))
    # a later re-read differs only in a volatile column: not a new version
    pipeline.run(source_of(costs("2026-10-03T00:00:00Z")))
    assert rows(ch, f"SELECT campaign, cost FROM raw.{source_name}__costs ORDER BY campaign") == [
        ("c1", 10.0),
        ("c2", 5.0),
    ]


def test_existence_check_reads_only_the_batch_range(ch, pipeline_factory, source_of, source_name):
    """With a time-first sort key, the duplicate check of a new day does not scan old days."""

    @dlt.resource(primary_key="event_id")
    def events(start: int, n: int):
        yield _events(n, start)

    resource_hints = table_hints(order_by=["event_at", "event_id"])
    pipeline = pipeline_factory()
    pipeline.run(source_of(events(0, 200_000).apply_hints(additional_table_hints=resource_hints)))
    pipeline.run(source_of(events(200_000, 100).apply_hints(additional_table_hints=resource_hints)))
    pipeline.run(source_of(events(200_050, 100).apply_hints(additional_table_hints=resource_hints)))
    assert rows(ch, f"SELECT count(), uniqExact(event_id) FROM raw.{source_name}__events") == [
        (200_150, 200_150)
    ]
    # The check the sink runs, for a batch of the last 100 rows: the primary index keeps
    # only the granules the batch's time range overlaps.
    spec = TableSpec("raw", f"{source_name}__events", (), ("event_at", "event_id"))
    scope = range_sql(spec, describe(ch, "raw", spec.name))
    plan = ch.command(
        "EXPLAIN indexes = 1 WITH prepared AS (SELECT event_at FROM "
        f"{spec.qualified} ORDER BY event_at DESC LIMIT 100) SELECT count() FROM {spec.qualified} WHERE {scope}"
    )
    granules = re.findall(r"Granules: (\d+)/(\d+)", plan if isinstance(plan, str) else "\n".join(plan))
    selected, total = map(int, granules[-1])
    assert total >= 20 and selected <= 2


def test_replace_keeps_only_the_latest_load(ch, pipeline_factory, source_of, source_name):
    @dlt.resource(primary_key="code", write_disposition="replace")
    def plans(codes: list[str]):
        yield [{"code": c, "price": 100} for c in codes]

    pipeline = pipeline_factory()
    pipeline.run(source_of(plans(["basic", "premium", "family"])))
    info = pipeline.run(source_of(plans(["basic", "premium"])))
    got = rows(ch, f"SELECT code, _dlt_load_id FROM raw.{source_name}__plans ORDER BY code")
    assert got == [("basic", info.loads_ids[0]), ("premium", info.loads_ids[0])]
    # a full refresh that returns nothing empties the table (dlt sends an empty job)
    pipeline.run(source_of(plans([])))
    assert rows(ch, f"SELECT count() FROM raw.{source_name}__plans") == [(0,)]


def test_merge_disposition_appends_versions(ch, pipeline_factory, source_of, source_name):
    @dlt.resource(primary_key="user_id", write_disposition="merge")
    def users(plan: str):
        yield [{"user_id": 1, "plan": plan}, {"user_id": 2, "plan": "basic"}]

    pipeline = pipeline_factory()
    pipeline.run(source_of(users("basic")))
    pipeline.run(source_of(users("premium")))
    pipeline.run(source_of(users("premium")))
    assert rows(ch, f"SELECT user_id, plan FROM raw.{source_name}__users ORDER BY user_id, _loaded_at") == [
        (1, "basic"),
        (1, "premium"),
        (2, "basic"),
    ]


@pytest.mark.parametrize("window", [100])
def test_insert_deduplication_token_in_chdb(ch, scratch_db, window):
    """The engine honours insert_deduplication_token with non_replicated_deduplication_window.

    The sink does not rely on it: a token makes ClickHouse drop a retried block even when its
    rows differ, and after a partly completed INSERT … SELECT the retry's filtered rows form
    different blocks under the same token — they would be lost. The (key, _row_hash) check
    already makes a retry insert exactly what is missing.
    """
    ch.command(
        f"CREATE TABLE {scratch_db}.t (a Int64) ENGINE = MergeTree ORDER BY a "
        f"SETTINGS non_replicated_deduplication_window = {window}"
    )
    token = {"insert_deduplication_token": "load-1/job-1"}
    ch.command(f"INSERT INTO {scratch_db}.t SELECT number FROM numbers(3)", settings=token)
    ch.command(f"INSERT INTO {scratch_db}.t SELECT number FROM numbers(3)", settings=token)
    assert rows(ch, f"SELECT count() FROM {scratch_db}.t") == [(3,)]
    # different rows, same token: silently dropped too
    ch.command(f"INSERT INTO {scratch_db}.t SELECT number + 10 FROM numbers(3)", settings=token)
    assert rows(ch, f"SELECT count() FROM {scratch_db}.t") == [(3,)]
