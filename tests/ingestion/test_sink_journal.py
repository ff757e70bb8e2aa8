"""`raw._loads` journals every job attempt; failures map to dlt's retry/stop exceptions."""

from __future__ import annotations

import dlt
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from dlt.common.destination.exceptions import DestinationTerminalException, DestinationTransientException
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.sink import table_hints
from ingestion.sink.errors import for_dlt, is_transient

from .helpers import journal


def test_loaded_jobs_are_journaled(ch, pipeline_factory, source_of, source_name):
    @dlt.resource(primary_key="id")
    def items():
        yield [{"id": i} for i in range(5)]

    info = pipeline_factory().run(source_of(items))
    entries = {j["table"]: j for j in journal(ch, source_name)}
    assert set(entries) == {f"{source_name}__items", "_dlt_pipeline_state"}
    job = entries[f"{source_name}__items"]
    assert job["load_id"] == info.loads_ids[0]
    assert job["job_id"].startswith("items.") and job["job_id"].endswith(".parquet")
    assert (job["status"], job["error"], job["disposition"], job["attempt"]) == ("loaded", "", "append", 0)
    assert (job["rows_received"], job["rows_inserted"], job["rows_skipped_duplicate"]) == (5, 5, 0)
    assert job["started_at"] <= job["finished_at"]


def test_terminal_failure_is_journaled_and_stops_the_load(ch, pipeline_factory, source_of, source_name):
    @dlt.resource(primary_key="id")
    def items():
        yield [{"id": 1}]

    broken = items().apply_hints(additional_table_hints=table_hints(partition_by="no_such_function(id)"))
    with pytest.raises(PipelineStepFailed) as failure:
        pipeline_factory().run(source_of(broken))
    # terminal: dlt did not retry the job
    assert "LoadClientJobFailed" in repr(failure.value.exception) or "terminal" in str(failure.value).lower()
    failed = [j for j in journal(ch, source_name) if j["status"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["table"] == f"{source_name}__items"
    assert "UNKNOWN_FUNCTION" in failed[0]["error"]


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (DatabaseError("Code: 62. Syntax error", code=62), False),  # SYNTAX_ERROR
        (DatabaseError("Code: 53. Type mismatch", code=53), False),  # TYPE_MISMATCH
        (DatabaseError("Code: 516. Authentication failed", code=516), False),
        (DatabaseError("Code: 241. Memory limit exceeded", code=241), True),
        (DatabaseError("Code: 373. Session is locked", code=373), True),
        (OperationalError("Error executing HTTP request: connection refused"), True),
        (DatabaseError("HTTP driver received HTTP status 503"), True),
        (DatabaseError("HTTP driver received HTTP status 403"), False),
        (ConnectionResetError("reset by peer"), True),
        (ValueError("a bug"), False),
    ],
)
def test_errors_map_to_dlt_retry_or_stop(exc, transient):
    assert is_transient(exc) is transient
    wrapped = for_dlt(exc)
    expected = DestinationTransientException if transient else DestinationTerminalException
    assert isinstance(wrapped, expected)
