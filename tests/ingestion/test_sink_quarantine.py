"""Rows a source cannot parse go to the one `raw._quarantine`, exactly once."""

from __future__ import annotations

import json

import dlt

from ingestion.quarantine import quarantine
from ingestion.sink import table_hints

from .helpers import rows


def _player_lines():
    return ['{"event_id": "e1", "ts": 1}', "{not json", '{"event_id": "e2", "ts": 2}', b"\xff\xfe broken"]


def test_quarantined_rows_land_in_raw_quarantine(ch, pipeline_factory, source_of, source_name):
    @dlt.resource(
        primary_key="event_id",
        columns={"ts": {"data_type": "bigint", "nullable": False}},
    )
    def player_events(
        cursor=dlt.sources.incremental("ts", initial_value=0, on_cursor_value_missing="include"),  # noqa: B008
    ):
        for line_no, line in enumerate(_player_lines(), 1):
            try:
                yield json.loads(line)
            except ValueError as exc:
                yield quarantine("player_events", f"events.jsonl:{line_no}", str(exc), line)

    resource = player_events().apply_hints(additional_table_hints=table_hints(order_by="ts"))
    pipeline = pipeline_factory()
    info = pipeline.run(source_of(resource))

    assert rows(ch, f"SELECT event_id FROM raw.{source_name}__player_events ORDER BY event_id") == [
        ("e1",),
        ("e2",),
    ]
    got = rows(
        ch,
        "SELECT source, resource, load_id, location, reason, payload FROM raw._quarantine "
        "WHERE source = {s:String} ORDER BY location",
        s=source_name,
    )
    assert [r[:4] for r in got] == [
        (source_name, "player_events", info.loads_ids[0], "events.jsonl:2"),
        (source_name, "player_events", info.loads_ids[0], "events.jsonl:4"),
    ]
    assert got[0][4].startswith("Expecting property name") and got[0][5] == "{not json"
    assert got[1][5] == "\\xff\\xfe broken"  # undecodable bytes kept, escaped
    # no per-source quarantine table
    assert not rows(
        ch,
        "SELECT name FROM system.tables WHERE database = 'raw' AND name = {t:String}",
        t=f"{source_name}___quarantine",
    )

    # the same bad rows read again (a re-run over the same files) are not added twice
    pipeline_factory().run(
        source_of(player_events().apply_hints(additional_table_hints=table_hints(order_by="ts")))
    )
    assert rows(ch, "SELECT count() FROM raw._quarantine WHERE source = {s:String}", s=source_name) == [(2,)]
