"""A load that stops half-way — an error after the insert, a dead process, a SIGKILL — re-runs
to exactly the rows that were sent: nothing twice, nothing missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.sink.faults import EXIT_CODE, FAULT_ENV
from tests.conftest import ROOT

from .helpers import journal, rows
from .pipeline_runner import chunk, run

CHUNK = 500


def _assert_complete(ch, source: str, expected: int) -> None:
    assert rows(ch, f"SELECT count(), uniqExact(event_id) FROM raw.{source}__events") == [
        (expected, expected)
    ]


def _events_resource(chunks: int):
    @dlt.resource(primary_key="event_id")
    def events():
        for i in range(chunks):
            yield chunk(i * CHUNK, CHUNK)

    return events


@pytest.fixture
def small_files(monkeypatch):
    """One load job per arrow chunk."""
    monkeypatch.setenv("DATA_WRITER__FILE_MAX_ITEMS", str(CHUNK))


def test_error_after_insert_is_retried_in_the_same_run(
    ch, small_files, monkeypatch, pipeline_factory, source_of, source_name
):
    monkeypatch.setenv(FAULT_ENV, "after_insert:2:raise")
    pipeline_factory().run(source_of(_events_resource(4)))

    _assert_complete(ch, source_name, 4 * CHUNK)
    jobs = [j for j in journal(ch, source_name) if j["table"] == f"{source_name}__events"]
    failed = [j for j in jobs if j["status"] == "failed"]
    assert len(failed) == 1 and "SimulatedCrash" in failed[0]["error"]
    retried = [j for j in jobs if j["job_id"] == failed[0]["job_id"] and j["status"] == "loaded"]
    # the retry found every row of its file already stored
    assert [(j["attempt"], j["rows_inserted"], j["rows_skipped_duplicate"]) for j in retried] == [
        (1, 0, CHUNK)
    ]
    assert sum(j["rows_inserted"] for j in jobs) == 4 * CHUNK


def test_failed_load_is_finished_by_the_next_run(
    ch, small_files, monkeypatch, pipeline_factory, source_of, source_name
):
    monkeypatch.setenv(FAULT_ENV, "after_insert:2:raise")
    monkeypatch.setenv("LOAD__RAISE_ON_MAX_RETRIES", "1")  # give up at the first transient error
    with pytest.raises(PipelineStepFailed):
        pipeline_factory().run(source_of(_events_resource(4)))
    assert rows(ch, f"SELECT count() FROM raw.{source_name}__events")[0][0] < 4 * CHUNK

    monkeypatch.delenv(FAULT_ENV)
    pipeline_factory().run(source_of(_events_resource(4)))
    _assert_complete(ch, source_name, 4 * CHUNK)


def _runner(warehouse, source: str, pipelines_dir, chunks: int, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.ingestion.pipeline_runner",
            source,
            str(pipelines_dir),
            str(chunks),
            str(CHUNK),
        ],
        cwd=ROOT,
        env={**warehouse.env(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_process_dying_after_an_insert(ch, warehouse, small_files, ch_settings, pipelines_dir, source_name):
    first = _runner(warehouse, source_name, pipelines_dir, 3, **{FAULT_ENV: "after_insert:2:exit"})
    assert first.wait(120) == EXIT_CODE, first.stdout.read()
    assert rows(ch, f"SELECT count() FROM raw.{source_name}__events")[0][0] == 2 * CHUNK

    run(source_name, pipelines_dir, 3, CHUNK, settings=ch_settings)  # the next run, here
    _assert_complete(ch, source_name, 3 * CHUNK)


def test_sigkill_while_loading(ch, warehouse, small_files, ch_settings, pipelines_dir, source_name):
    chunks = 16
    table = f"{source_name}__events"
    proc = _runner(warehouse, source_name, pipelines_dir, chunks)
    loaded = 0
    deadline = time.monotonic() + 120
    try:
        while loaded < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
            loaded = (
                rows(
                    ch,
                    "SELECT count() FROM raw._loads WHERE source = {s:String} AND table = {t:String} "
                    "AND status = 'loaded'",
                    s=source_name,
                    t=table,
                )[0][0]
                if _exists(ch, "_loads")
                else 0
            )
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "the pipeline finished before it could be killed"
    assert rows(ch, f"SELECT count() FROM raw.{table}")[0][0] < chunks * CHUNK

    run(source_name, pipelines_dir, chunks, CHUNK, settings=ch_settings)
    _assert_complete(ch, source_name, chunks * CHUNK)


def _exists(ch, table: str) -> bool:
    return bool(rows(ch, "SELECT 1 FROM system.tables WHERE database = 'raw' AND name = {t:String}", t=table))
