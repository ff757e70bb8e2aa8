"""Player events through the whole ingest path vs the HTTP endpoint's own parquet insert.

- path: gzip JSONL files → player_logs source → dlt → ClickHouse HTTP sink → raw table,
  in a child process (its peak memory is reported);
- ceiling: the same rows, exported from the raw table as one parquet file and inserted over
  the same HTTP endpoint into a table of the same structure.
Targets: >= 0.3 of the ceiling and >= 50,000 events/s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, Metric, Report, start_server

PEOPLE = int(os.environ.get("BENCH_INGEST_PEOPLE", 6000))
DAYS = int(os.environ.get("BENCH_INGEST_DAYS", 30))
CACHE = ROOT / "benchmarks" / "results" / "worlds"


def world(people: int, days: int) -> Path:
    """A simulated world (cached between benchmark runs: generation is not what is measured)."""
    from simulator import WorldConfig, generate_world

    path = CACHE / f"people{people}-days{days}"
    if not (path / "world.json").exists():
        generate_world(WorldConfig(people=people, days=days), path)
    return path


def run() -> Report:
    import clickhouse_connect

    report = Report("ingest_player_events")
    world_dir = world(PEOPLE, DAYS)
    events = json.loads((world_dir / "world.json").read_text())["counts"]["player_events"]
    work = Path(tempfile.mkdtemp(prefix="predicto-ingest-bench-"))
    proc, port = start_server(work / "server")
    try:
        started = time.perf_counter()
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.ingest_worker",
                str(world_dir / "player_logs"),
                str(port),
                str(work / "dlt"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - started
        inside = json.loads(child.stdout.strip().splitlines()[-1])
        client = clickhouse_connect.get_client(host="127.0.0.1", port=port, send_receive_timeout=3600)
        loaded = client.command("SELECT count() FROM raw.player_logs__events")
        assert loaded == events, f"loaded {loaded} of {events} events"

        parquet = work / "events.parquet"
        columns = [
            name
            for (name,) in client.query(
                "SELECT name FROM system.columns WHERE database = 'raw' AND table = 'player_logs__events' "
                "AND name NOT IN ('_row_hash', '_loaded_at') ORDER BY position"
            ).result_rows
        ]
        column_list = ", ".join(f"`{c}`" for c in columns)
        with open(parquet, "wb") as out:
            for chunk in client.raw_stream(
                f"SELECT {column_list} FROM raw.player_logs__events", fmt="Parquet"
            ):
                out.write(chunk)
        client.command("CREATE DATABASE IF NOT EXISTS bench")
        client.command("CREATE TABLE bench.ceiling AS raw.player_logs__events")
        data = parquet.read_bytes()
        t = time.perf_counter()
        client.raw_insert("bench.ceiling", columns, insert_block=data, fmt="Parquet")
        ceiling_s = time.perf_counter() - t
        assert client.command("SELECT count() FROM bench.ceiling") == events

        m = report.add(
            Metric(
                f"player events, files → dlt → sink → ClickHouse ({events:,} events)",
                events / wall,
                "rows/s",
                events / ceiling_s,
                ">= 0.3 of parquet over HTTP",
            )
        )
        m.ok = m.ratio >= 0.3
        m = report.add(
            Metric("player events/s end to end", events / wall, "events/s", None, ">= 50,000 events/s")
        )
        m.ok = m.value >= 50_000
        report.add(Metric("ingest process peak RSS", inside["peak_rss_mb"], "MB", None, "reported"))
        report.notes.append(
            f"ceiling: {parquet.stat().st_size / 1e6:.0f} MB parquet inserted in {ceiling_s:.2f}s; "
            f"path: {wall:.1f}s wall ({inside['seconds']:.1f}s inside the pipeline)"
        )
        client.close()
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(work, ignore_errors=True)
    return report
