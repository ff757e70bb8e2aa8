"""clickhouse-connect, unmodified, against the embedded warehouse."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError


@pytest.fixture
def table(ch, scratch_db):
    name = f"{scratch_db}.events"
    ch.command(
        f"""CREATE TABLE {name} (
            id UInt64, user String, amount Decimal(12, 2), at DateTime64(3, 'UTC'),
            tags Array(String), note Nullable(String), kind LowCardinality(String)
        ) ENGINE = MergeTree ORDER BY id"""
    )
    return name


ROWS = [
    [1, "ann", Decimal("399.00"), dt.datetime(2026, 10, 1, 12, 0, 0, 123000), ["a", "b"], None, "pay"],
    [2, "bob", Decimal("0.01"), dt.datetime(2026, 10, 2, 0, 0), [], "x\ty\n'z'", "refund"],
    [18446744073709551615, "ёлка", Decimal("-5.50"), dt.datetime(2026, 10, 3, 23, 59, 59), ["ü"], "", "pay"],
]
COLUMNS = ["id", "user", "amount", "at", "tags", "note", "kind"]


def test_command_and_server_info(ch):
    assert ch.command("SELECT 1") == 1
    assert ch.server_version.startswith("26.")
    assert ch.command("SELECT currentDatabase()") == "default"


def test_insert_and_query_round_trip(ch, table):
    summary = ch.insert(table, ROWS, column_names=COLUMNS)
    assert summary.written_rows == 3
    result = ch.query(f"SELECT * FROM {table} ORDER BY id")
    assert result.column_names == tuple(COLUMNS)
    assert [list(r) for r in result.result_rows] == ROWS


def test_query_df_and_insert_df(ch, table, scratch_db):
    ch.insert(table, ROWS, column_names=COLUMNS)
    df = ch.query_df(f"SELECT id, user, amount, kind FROM {table} ORDER BY id")
    assert list(df["user"]) == ["ann", "bob", "ёлка"]
    ch.command(
        f"CREATE TABLE {scratch_db}.copy (id UInt64, user String, score Float64) ENGINE = MergeTree ORDER BY id"
    )
    frame = pd.DataFrame({"id": [1, 2, 3], "user": ["a", "b", "c"], "score": [0.5, 1.5, -2.25]})
    assert ch.insert_df(f"{scratch_db}.copy", frame).written_rows == 3
    back = ch.query_df(f"SELECT * FROM {scratch_db}.copy ORDER BY id")
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_query_arrow(ch, table):
    ch.insert(table, ROWS, column_names=COLUMNS)
    arrow = ch.query_arrow(f"SELECT id, user, amount FROM {table} ORDER BY id")
    assert isinstance(arrow, pa.Table)
    assert arrow.column("user").to_pylist() == ["ann", "bob", "ёлка"]
    assert arrow.num_rows == 3


def test_raw_query_and_raw_stream_csv(ch):
    assert (
        ch.raw_query("SELECT number, toString(number) FROM numbers(3)", fmt="CSV") == b'0,"0"\n1,"1"\n2,"2"\n'
    )
    streamed = b"".join(ch.raw_stream("SELECT number FROM numbers(500000)", fmt="CSV"))
    assert streamed == "".join(f"{i}\n" for i in range(500_000)).encode()


def test_large_streamed_query(ch):
    total = 0
    with ch.query_row_block_stream("SELECT number FROM numbers(3000000)") as stream:
        for block in stream:
            total += sum(r[0] for r in block)
    assert total == sum(range(3_000_000))


def test_server_side_parameters(ch):
    result = ch.query(
        "SELECT {n:UInt32} * 2, {s:String}, {d:Date}, {xs:Array(UInt8)}",
        parameters={"n": 21, "s": "it's", "d": dt.date(2026, 1, 2), "xs": [1, 2]},
    )
    assert result.result_rows == [(42, "it's", dt.date(2026, 1, 2), [1, 2])]


def test_per_query_settings(ch):
    assert ch.command("SELECT getSetting('max_threads')", settings={"max_threads": 1}) == 1
    assert ch.command("SELECT getSetting('max_threads')") != 1
    assert ch.query("SELECT getSetting('max_block_size')", settings={"max_block_size": 1234}).result_rows == [
        (1234,)
    ]


def test_syntax_error_has_clickhouse_code(ch):
    with pytest.raises(DatabaseError) as info:
        ch.query("SELECT FROM WHERE")
    assert info.value.code == 62
    with pytest.raises(DatabaseError) as info:
        ch.command("SELECT * FROM missing_db.t")
    assert info.value.code == 81


def test_mid_stream_error_is_raised(ch):
    with pytest.raises(Exception, match="Code: 395"):
        result = ch.query(
            "SELECT throwIf(number = 2000000, 'late failure') FROM numbers(3000000)",
            settings={"max_block_size": 65536, "wait_end_of_query": 0},
        )
        list(result.result_rows)


def test_compressed_transport(warehouse, table):
    for codec in ("lz4", "zstd", "gzip", "br"):
        client = warehouse.client(compress=codec)
        client.insert(table, ROWS, column_names=COLUMNS)
        assert client.command(f"SELECT count() FROM {table}") > 0
        rows = client.query(f"SELECT id FROM {table} ORDER BY id LIMIT 1").result_rows
        assert rows == [(1,)]
        client.close()


def test_sqlalchemy_dialect(warehouse, table):
    import sqlalchemy as sa

    engine = sa.create_engine(f"clickhousedb://default@{warehouse.host}:{warehouse.port}/default")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 41 + 1")).scalar() == 42
        assert table.split(".")[1] in sa.inspect(conn).get_table_names(schema=table.split(".")[0])


def test_long_bind_parameters_go_as_a_form(ch):
    # Over 4 KiB of parameters makes clickhouse-connect send multipart/form-data.
    ids = list(range(5000))
    result = ch.query(
        "SELECT count(), sum(x) FROM (SELECT arrayJoin({ids:Array(UInt32)}) AS x)", parameters={"ids": ids}
    )
    assert result.result_rows == [(5000, sum(ids))]


def test_external_data(ch):
    from clickhouse_connect.driver.external import ExternalData

    data = ExternalData(
        data=b"1\tann\n2\tbob\n3\tcid\n", file_name="people", structure=["id UInt32", "name String"]
    )
    result = ch.query("SELECT name FROM people WHERE id >= 2 ORDER BY id", external_data=data)
    assert result.result_rows == [("bob",), ("cid",)]
    # The external table belonged to that query only.
    with pytest.raises(DatabaseError):
        ch.query("SELECT * FROM people")
