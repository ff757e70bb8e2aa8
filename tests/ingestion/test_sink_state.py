"""Pipeline state lives with the warehouse: restored on a new machine, dropped with the data."""

from __future__ import annotations

import dlt

from ingestion.pipelines import full_refresh, local_state

from .helpers import journal, rows

DATA = [{"id": i, "value": f"v{i}"} for i in range(1, 9)]


def _source(source_of, upto: int):
    @dlt.resource(primary_key="id")
    def items(cursor=dlt.sources.incremental("id", initial_value=0)):  # noqa: B008
        yield [r for r in DATA[:upto] if r["id"] > (cursor.start_value or 0)]

    return source_of(items)


def _cursor(pipeline: dlt.Pipeline, source_name: str):
    state = local_state(pipeline)
    if state is None:
        return None
    return state["sources"][source_name]["resources"]["items"]["incremental"]["id"]["last_value"]


def _received(ch, source_name: str) -> list[int]:
    return [j["rows_received"] for j in journal(ch, source_name) if j["table"] == f"{source_name}__items"]


def test_state_is_stored_in_the_warehouse(ch, pipeline_factory, source_of, source_name):
    from dlt.common.versioned_state import decompress_state

    pipeline = pipeline_factory()
    pipeline.run(_source(source_of, 5))
    stored = rows(
        ch,
        "SELECT source, version, state FROM raw._dlt_pipeline_state WHERE pipeline_name = {p:String}",
        p=source_name,
    )
    assert [(s, v) for s, v, _ in stored] == [(source_name, pipeline.state["_state_version"])]
    state = decompress_state(stored[0][2])
    assert state["sources"][source_name]["resources"]["items"]["incremental"]["id"]["last_value"] == 5


def test_new_machine_restores_state_from_the_warehouse(ch, ch_settings, tmp_path, source_of, source_name):
    from ingestion.pipelines import make_pipeline

    first = make_pipeline(source_name, pipelines_dir=tmp_path / "machine_a", settings=ch_settings)
    first.run(_source(source_of, 5))
    assert _cursor(first, source_name) == 5

    # another machine: no local state at all
    second = make_pipeline(source_name, pipelines_dir=tmp_path / "machine_b", settings=ch_settings)
    assert _cursor(second, source_name) == 5
    second.run(_source(source_of, 8))
    assert _received(ch, source_name) == [5, 3]  # only ids 6..8 were read again
    assert rows(ch, f"SELECT count() FROM raw.{source_name}__items") == [(8,)]

    # and back on the first machine, its older local state gives way to the warehouse's newer one
    again = make_pipeline(source_name, pipelines_dir=tmp_path / "machine_a", settings=ch_settings)
    assert _cursor(again, source_name) == 8


def test_wiped_warehouse_drops_local_state(ch, pipeline_factory, source_of, source_name):
    pipeline = pipeline_factory()
    pipeline.run(_source(source_of, 5))
    assert _cursor(pipeline, source_name) == 5

    # the warehouse loses everything of this source (a new, empty warehouse)
    ch.command(f"DROP TABLE raw.{source_name}__items")
    ch.command(
        "DELETE FROM raw._dlt_pipeline_state WHERE pipeline_name = {p:String}", parameters={"p": source_name}
    )

    pipeline = pipeline_factory()
    assert _cursor(pipeline, source_name) is None
    pipeline.run(_source(source_of, 5))
    assert rows(ch, f"SELECT count() FROM raw.{source_name}__items") == [(5,)]


def test_full_refresh_drops_tables_quarantine_and_state(
    ch, ch_settings, pipelines_dir, pipeline_factory, source_of, source_name
):
    from ingestion.quarantine import quarantine

    @dlt.resource(primary_key="id")
    def items(cursor=dlt.sources.incremental("id", initial_value=0, on_cursor_value_missing="include")):  # noqa: B008
        yield [r for r in DATA[:5] if r["id"] > (cursor.start_value or 0)]
        yield quarantine("items", "api:page=1", "bad", "{x")

    pipeline_factory().run(source_of(items))
    pipeline = full_refresh(source_name, pipelines_dir=pipelines_dir, settings=ch_settings)

    assert not rows(
        ch,
        "SELECT name FROM system.tables WHERE database = 'raw' AND startsWith(name, {p:String})",
        p=f"{source_name}__",
    )
    assert rows(ch, "SELECT count() FROM raw._quarantine WHERE source = {s:String}", s=source_name) == [(0,)]
    assert rows(
        ch, "SELECT count() FROM raw._dlt_pipeline_state WHERE pipeline_name = {p:String}", p=source_name
    ) == [(0,)]
    assert local_state(pipeline) is None

    pipeline_factory().run(source_of(items))
    assert rows(ch, f"SELECT count() FROM raw.{source_name}__items") == [(5,)]
