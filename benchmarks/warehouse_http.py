"""The embedded warehouse's HTTP interface against chDB in-process, on the same rows.

- insert: 5M rows in Native over HTTP from clickhouse-connect, vs `INSERT … FROM INFILE` of
  the same Native file in-process (target >= 0.7 of in-process throughput);
- aggregation: a GROUP BY over a 100M-row MergeTree table, through HTTP vs in-process
  (target >= 0.9);
- `SELECT 1` round trip through clickhouse-connect (target median <= 5 ms).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from .common import Metric, Report, median, peak_rss_mb, start_server, timed

INSERT_ROWS = int(os.environ.get("BENCH_INSERT_ROWS", 5_000_000))
AGG_ROWS = int(os.environ.get("BENCH_AGG_ROWS", 100_000_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 5))
TABLE_DDL = (
    "CREATE TABLE {name} (id UInt64, user_id UInt32, event_at DateTime, event LowCardinality(String), "
    "value Float64, note String) ENGINE = MergeTree ORDER BY (user_id, event_at)"
)
ROWS_SQL = (
    "SELECT number AS id, toUInt32(cityHash64(number) % 1000000) AS user_id, "
    "toDateTime('2026-10-01 00:00:00') + intDiv(number, 50) AS event_at, "
    "['play', 'pause', 'seek', 'ping', 'complete'][number % 5 + 1] AS event, "
    "(number % 1000) / 7 AS value, concat('n', toString(number % 9973)) AS note FROM numbers({rows})"
)
AGG_DDL = "CREATE TABLE {name} (k UInt32, v Float64) ENGINE = MergeTree ORDER BY k"
AGG_FILL = (
    "INSERT INTO {name} SELECT toUInt32(cityHash64(number) % 100000), number % 997 FROM numbers({rows})"
)
AGG_QUERY = (
    "SELECT k % 1000 AS g, count(), sum(v), avg(v), max(v) FROM {name} GROUP BY g ORDER BY g FORMAT Native"
)


def run() -> Report:
    import chdb
    import clickhouse_connect

    report = Report("warehouse_http")
    work = Path(tempfile.mkdtemp(prefix="predicto-bench-"))
    local = chdb.connect(str(work / "inprocess"))
    proc, port = start_server(work / "server")
    try:
        client = clickhouse_connect.get_client(host="127.0.0.1", port=port, send_receive_timeout=3600)

        # ---------------------------------------------------------------- insert
        native = work / "rows.native"
        native.write_bytes(local.query(ROWS_SQL.format(rows=INSERT_ROWS), "Native").bytes())
        size_mb = native.stat().st_size / 1e6
        payload = native.read_bytes()

        def local_insert() -> None:
            local.query("DROP TABLE IF EXISTS ins")
            local.query(TABLE_DDL.format(name="ins"))
            t = time.perf_counter()
            local.query(f"INSERT INTO ins FROM INFILE '{native}' FORMAT Native")
            times.append(time.perf_counter() - t)

        def http_insert(compress: bool) -> None:
            c = clickhouse_connect.get_client(host="127.0.0.1", port=port, compress=compress)
            c.command("DROP TABLE IF EXISTS ins")
            c.command(TABLE_DDL.format(name="ins"))
            t = time.perf_counter()
            c.raw_insert("ins", insert_block=payload, fmt="Native")
            times.append(time.perf_counter() - t)
            c.close()

        times: list[float] = []
        for _ in range(REPEAT):
            local_insert()
        local_s = median(times)
        ceiling = INSERT_ROWS / local_s
        for compress, label in ((False, "uncompressed"), (True, "client default compression")):
            times = []
            for _ in range(REPEAT):
                http_insert(compress)
            assert client.command("SELECT count() FROM ins") == INSERT_ROWS
            m = report.add(
                Metric(
                    f"insert {INSERT_ROWS:,} rows Native ({size_mb:.0f} MB), {label}",
                    INSERT_ROWS / median(times),
                    "rows/s",
                    ceiling,
                    ">= 0.7 of in-process",
                )
            )
            m.ok = m.ratio >= 0.7

        # The same rows from Python columns: clickhouse-connect also serialises them (client CPU).
        df = local.query(ROWS_SQL.format(rows=INSERT_ROWS), "DataFrame")
        client.command("DROP TABLE IF EXISTS ins")
        client.command(TABLE_DDL.format(name="ins"))
        t = time.perf_counter()
        client.insert_df("ins", df)
        df_s = time.perf_counter() - t
        report.add(
            Metric(
                "insert_df of the same rows (client serialises)",
                INSERT_ROWS / df_s,
                "rows/s",
                ceiling,
                "info",
            )
        )
        del df

        # ---------------------------------------------------------------- aggregation
        for target in (local, None):
            sql = [
                AGG_DDL.format(name="agg"),
                AGG_FILL.format(name="agg", rows=AGG_ROWS),
                "OPTIMIZE TABLE agg FINAL",
            ]
            for statement in ["DROP TABLE IF EXISTS agg", *sql]:
                if target is None:
                    client.command(statement, settings={"max_execution_time": 3600})
                else:
                    target.query(statement)
        query = AGG_QUERY.format(name="agg")
        local.query(query, "Native")  # warm both page caches
        client.raw_query(query)
        local_agg = timed(lambda: local.query(query, "Native"), REPEAT)
        http_agg = timed(lambda: client.raw_query(query), REPEAT)
        assert local.query(query, "Native").bytes() == client.raw_query(query)
        m = report.add(
            Metric(
                f"aggregation over {AGG_ROWS:,} rows (median)",
                median(http_agg) * 1000,
                "ms",
                median(local_agg) * 1000,
                ">= 0.9 of in-process",
            )
        )
        m.ok = m.ratio >= 0.9

        # ---------------------------------------------------------------- round trip
        for _ in range(20):
            client.command("SELECT 1")
        rt = timed(lambda: client.command("SELECT 1"), 300)
        local_rt = timed(lambda: local.query("SELECT 1"), 300)
        m = report.add(
            Metric(
                "SELECT 1 round trip, clickhouse-connect (median)",
                median(rt) * 1000,
                "ms",
                median(local_rt) * 1000,
                "median <= 5 ms",
            )
        )
        m.ok = median(rt) * 1000 <= 5
        report.add(
            Metric("SELECT 1 round trip p95", statistics.quantiles(rt, n=20)[-1] * 1000, "ms", None, "info")
        )
        report.notes.append(f"server peak RSS {peak_rss_mb(proc.pid):.0f} MB; cores {os.cpu_count()}")
        client.close()
    finally:
        proc.terminate()
        proc.wait(60)
        local.close()
        shutil.rmtree(work, ignore_errors=True)
    return report


if __name__ == "__main__":
    r = run()
    r.print()
    r.save()
