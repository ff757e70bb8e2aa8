"""`clickhouse_http`: the dlt destination that lands every source in ClickHouse over HTTP.

dlt's own ClickHouse destination needs the native TCP protocol; the embedded warehouse and
managed services expose HTTP. This custom destination receives each load job as one typed
parquet file (`batch_size=0`) with its table schema — dlt's pipeline-state table included
(`skip_dlt_columns_and_tables=False`) — and per job:

1. routes it (`targets.resolve`): `raw.<schema>__<table>`, `raw._quarantine` or
   `raw._dlt_pipeline_state`;
2. creates the table from dlt's schema or adds new columns (`ddl`);
3. inserts exactly once per distinct row content (`insert`);
4. journals the attempt in `raw._loads` (`loads`), 'failed' with the error before re-raising
   it as the dlt exception that makes the loader retry or stop (`errors`).

Jobs of one table run one after another (`loader_parallelism_strategy="table-sequential"`):
the duplicate check of a job must see what the previous job of the same table inserted.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.common.schema import TTableSchema

from . import faults
from .errors import for_dlt
from .insert import Batch, ensure_table, insert_batch
from .loads import JobRecord, record
from .package import JobContext
from .targets import resolve

log = logging.getLogger("predicto.ingestion.sink")

SINK_NAME = "clickhouse_http"
DEFAULT_DATABASE = "raw"


@dlt.destination(
    name=SINK_NAME,
    batch_size=0,
    loader_file_format="parquet",
    skip_dlt_columns_and_tables=False,
    naming_convention="snake_case",
    max_table_nesting=0,
    loader_parallelism_strategy="table-sequential",
)
def clickhouse_http(
    items: str,
    table: TTableSchema,
    connection: Any | None = None,
    database: str = DEFAULT_DATABASE,
    insert_threads: int = 0,
    send_receive_timeout: int = 3600,
) -> None:
    """Load one parquet job file into its raw table.

    Args:
        items: path of the job's parquet file (batch_size=0).
        table: dlt's table schema for the file.
        connection: a `warehouse.ClickHouseSettings`; None reads the shared settings (env).
        database: database of the raw tables (dlt config `destination.clickhouse_http.database`).
        insert_threads: `max_insert_threads` of the copy into the target; 0 = server default.
        send_receive_timeout: HTTP timeout in seconds for one statement.
    """
    from warehouse.settings import ClickHouseSettings

    run_job(
        JobContext.current(items),
        table,
        connection or ClickHouseSettings(),
        database=database,
        insert_threads=insert_threads,
        timeout=send_receive_timeout,
    )


def run_job(
    job: JobContext,
    table: TTableSchema,
    connection: Any,
    *,
    database: str = DEFAULT_DATABASE,
    insert_threads: int = 0,
    timeout: int = 3600,
) -> None:
    """Route, create or evolve, insert and journal one job; raise a dlt exception on failure."""
    target = resolve(database, job.schema_name, table)
    if target is None:
        log.debug("skipping dlt table %s (%s)", table["name"], job.job_id)
        return
    disposition = str(table.get("write_disposition") or "append")
    started = _now()
    rows_received = 0
    rows_inserted: int | None = None  # known once the INSERT returned
    session = None
    try:
        session = _client(connection, timeout, session=True)
        stored = ensure_table(session, target.spec)
        batch = Batch.read(job.file_path)
        rows_received = batch.rows
        settings = {"max_insert_threads": insert_threads} if insert_threads else {}
        outcome = insert_batch(
            session,
            target,
            stored,
            batch,
            load_id=job.load_id,
            replace=disposition == "replace" and target.kind == "data",
            settings=settings,
        )
        rows_inserted = outcome.rows_inserted
        if target.kind == "data":
            faults.after_insert(job.load_id)
        record(
            session,
            database,
            _record(
                job, target.spec.name, disposition, started, outcome.rows_received, outcome.rows_inserted
            ),
        )
        log.info(
            "%s: %s rows received, %s inserted (%s)",
            target.spec.qualified,
            outcome.rows_received,
            outcome.rows_inserted,
            job.job_id,
        )
    except Exception as exc:
        failed = _record(job, target.spec.name, disposition, started, rows_received, rows_inserted, exc)
        _record_failure(connection, timeout, database, failed)
        raise for_dlt(exc) from exc
    finally:
        if session is not None:
            session.close()


def _record(
    job: JobContext,
    table_name: str,
    disposition: str,
    started: datetime,
    received: int,
    inserted: int | None,
    error: Exception | None = None,
) -> JobRecord:
    """A journal row; `inserted` is None when a failure came before the INSERT finished."""
    return JobRecord(
        load_id=job.load_id,
        source=job.schema_name,
        table=table_name,
        job_id=job.job_id,
        attempt=job.attempt,
        disposition=disposition,
        rows_received=received,
        rows_inserted=inserted or 0,
        rows_skipped_duplicate=0 if inserted is None else received - inserted,
        started_at=started,
        finished_at=_now(),
        status="failed" if error else "loaded",
        error=f"{type(error).__name__}: {error}" if error else "",
    )


def _record_failure(connection: Any, timeout: int, database: str, rec: JobRecord) -> None:
    """Journal a failed attempt on a fresh connection; never hide the original error."""
    try:
        client = _client(connection, min(timeout, 30), session=False)
        try:
            record(client, database, rec)
        finally:
            client.close()
    except Exception:  # the warehouse may be what failed; the job's own error is what matters
        log.warning("could not journal the failure of %s", rec.job_id, exc_info=True)


def _client(connection: Any, timeout: int, *, session: bool) -> Any:
    from warehouse.client import get_client

    overrides: dict[str, Any] = {"send_receive_timeout": timeout}
    if session:
        # One HTTP session per job: its temporary batch table is invisible to other jobs.
        overrides["session_id"] = f"predicto-sink-{uuid.uuid4()}"
    else:
        overrides["autogenerate_session_id"] = False
    return get_client(connection, **overrides)


def _now() -> datetime:
    return datetime.now(UTC)
