"""Pipeline factory: every source loads into `raw` through the ClickHouse HTTP sink.

    pipeline = make_pipeline("yandex_metrica")
    pipeline.run(yandex_metrica_source())

The pipeline is named after the source, so its state, its raw tables (`raw.<source>__*`) and
its journal rows share one name. dlt keeps incremental cursors in a local state file; a custom
destination cannot restore it from the warehouse, so `make_pipeline` reconciles the local state
with the state rows the sink stores in `raw._dlt_pipeline_state`:

- local state, nothing in the warehouse (the warehouse was wiped or replaced): the local state
  is dropped, so the next run loads everything again;
- state in the warehouse, none locally (a new machine, a fresh container) or a newer version
  there (another machine ran the pipeline): the warehouse's state is installed locally.

Configuration is dlt's: `ingestion/.dlt/config.toml` (committed defaults, registered here so it
applies wherever the process starts), `ingestion/.dlt/secrets.toml` (git-ignored), a `.dlt/`
folder in the working directory and environment variables override it. The ClickHouse
connection comes from the shared `warehouse` settings (CLICKHOUSE_*), never from dlt config.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import dlt

from warehouse.settings import ClickHouseSettings

from .sink import DEFAULT_DATABASE, SINK_NAME, clickhouse_http
from .sink.ddl import quote_ident, quote_literal
from .sink.state import MISSING_CODES, StoredState, delete_state, latest_state
from .sink.targets import QUARANTINE

log = logging.getLogger("predicto.ingestion")

DATASET = "raw"
PIPELINES_DIR_ENV = "PREDICTO_DLT_DIR"
DEFAULT_PIPELINES_DIR = ".dlt_pipelines"
CONFIG_DIR = Path(__file__).resolve().parent / ".dlt"


def make_pipeline(
    source_name: str,
    *,
    pipelines_dir: Path | None = None,
    settings: ClickHouseSettings | None = None,
    dev_mode: bool = False,
) -> dlt.Pipeline:
    """A dlt pipeline for `source_name` that loads into `raw` over HTTP.

    Args:
        source_name: the dlt source (schema) name; also the pipeline name.
        pipelines_dir: where dlt keeps working state; default `$PREDICTO_DLT_DIR` or
            `.dlt_pipelines`.
        settings: the warehouse connection; default the shared settings (CLICKHOUSE_*).
        dev_mode: dlt's dev mode (fresh local state on every creation); the warehouse state is
            then neither restored nor required.

    Returns:
        The pipeline, with its local state reconciled with the warehouse.
    """
    use_ingestion_config()
    settings = settings or ClickHouseSettings()
    pipeline = _pipeline(source_name, pipelines_dir, settings, dev_mode)
    if dev_mode:
        return pipeline
    from warehouse.client import get_client

    client = get_client(settings, autogenerate_session_id=False)
    try:
        stored = latest_state(client, sink_database(), pipeline.pipeline_name)
    finally:
        client.close()
    return reconcile_state(
        pipeline, stored, lambda: _pipeline(source_name, pipelines_dir, settings, dev_mode)
    )


def full_refresh(
    source_name: str,
    *,
    pipelines_dir: Path | None = None,
    settings: ClickHouseSettings | None = None,
) -> dlt.Pipeline:
    """Drop a source's raw tables, its quarantined rows and its state, here and in the warehouse.

    The journal (`raw._loads`) keeps its history. The next run of the returned pipeline loads
    everything from the sources' initial values.
    """
    use_ingestion_config()
    settings = settings or ClickHouseSettings()
    pipeline = _pipeline(source_name, pipelines_dir, settings, dev_mode=False)
    database = sink_database()
    schemas = {source_name, *pipeline.schema_names}
    from clickhouse_connect.driver.exceptions import DatabaseError

    from warehouse.client import get_client

    client = get_client(settings, autogenerate_session_id=False)
    try:
        for table in _source_tables(client, database, schemas):
            client.command(f"DROP TABLE IF EXISTS {quote_ident(database)}.{quote_ident(table)}")
        try:
            names = ", ".join(quote_literal(s) for s in sorted(schemas))
            client.command(
                f"DELETE FROM {quote_ident(database)}.{quote_ident(QUARANTINE)} WHERE source IN ({names})"
            )
        except DatabaseError as exc:
            if getattr(exc, "code", None) not in MISSING_CODES:
                raise
        delete_state(client, database, pipeline.pipeline_name)
    finally:
        client.close()
    log.info("full refresh of %s: raw tables and state dropped", source_name)
    return pipeline.drop()


def reconcile_state(pipeline: dlt.Pipeline, stored: StoredState | None, reopen: Any) -> dlt.Pipeline:
    """Make the local state agree with the warehouse (see the module docstring).

    Args:
        pipeline: the freshly made pipeline.
        stored: the newest state row in the warehouse, or None.
        reopen: makes the pipeline again (after its state file was replaced).

    Returns:
        The pipeline to use.
    """
    local = local_state(pipeline)
    if local is not None and stored is None:
        log.warning(
            "pipeline %s has local state but the warehouse has none: dropping the local state "
            "so every source loads again",
            pipeline.pipeline_name,
        )
        return pipeline.drop()
    if stored is None or (local is not None and stored.version <= local["_state_version"]):
        return pipeline
    if local is not None and pipeline.has_pending_data:
        log.warning(
            "pipeline %s: the warehouse holds state version %s (local %s) but local load packages "
            "are pending; keeping the local state until they are loaded",
            pipeline.pipeline_name,
            stored.version,
            local["_state_version"],
        )
        return pipeline
    log.info(
        "pipeline %s: restoring state version %s from the warehouse", pipeline.pipeline_name, stored.version
    )
    _install_state(pipeline, stored)
    return reopen()


def local_state(pipeline: dlt.Pipeline) -> dict[str, Any] | None:
    """The pipeline's local state, or None when it has never extracted anything."""
    if not Path(pipeline.working_dir, dlt.Pipeline.STATE_FILE).exists():
        return None
    state = pipeline.state
    return state if state.get("_state_version", 0) > 0 else None


def _install_state(pipeline: dlt.Pipeline, stored: StoredState) -> None:
    """Write the warehouse's state as the pipeline's local state file."""
    from dlt.common.versioned_state import decompress_state, json_encode_state
    from dlt.pipeline.state_sync import mark_state_extracted, migrate_state_to_current

    state = migrate_state_to_current(pipeline.pipeline_name, decompress_state(stored.state))
    state["_local"] = {**pipeline.state["_local"], "first_run": False}
    state["dataset_name"] = pipeline.dataset_name
    # dlt rebuilds the source's schema on the next extract; none is stored in the warehouse.
    state["schema_names"] = []
    state.pop("default_schema_name", None)
    # Already in the warehouse: do not extract it again as a new state row.
    mark_state_extracted(state, state["_version_hash"])
    Path(pipeline.working_dir).mkdir(parents=True, exist_ok=True)
    Path(pipeline.working_dir, dlt.Pipeline.STATE_FILE).write_text(json_encode_state(state), encoding="utf-8")


def sink_database() -> str:
    """The raw database, as the sink resolves it from dlt config."""
    value = dlt.config.get(f"destination.{SINK_NAME}.database", str)
    return value or DEFAULT_DATABASE


def use_ingestion_config() -> None:
    """Let dlt read `ingestion/.dlt/config.toml` and `secrets.toml` wherever the process starts.

    They are registered after dlt's own providers, so the environment and a `.dlt/` folder in
    the working directory still override them.
    """
    from dlt.common.configuration.providers.toml import SettingsTomlProvider

    present = {p.name for p in dlt.config.config_providers}
    for file_name, secret in (("config.toml", False), ("secrets.toml", True)):
        name = f"ingestion/.dlt/{file_name}"
        if name not in present:
            dlt.config.register_provider(SettingsTomlProvider(name, secret, file_name, [str(CONFIG_DIR)]))


def default_pipelines_dir() -> Path:
    return Path(os.environ.get(PIPELINES_DIR_ENV) or DEFAULT_PIPELINES_DIR)


def _pipeline(
    source_name: str, pipelines_dir: Path | None, settings: ClickHouseSettings, dev_mode: bool
) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=source_name,
        pipelines_dir=str(pipelines_dir or default_pipelines_dir()),
        destination=clickhouse_http(connection=settings),
        dataset_name=DATASET,
        dev_mode=dev_mode,
    )


def _source_tables(client: Any, database: str, schemas: set[str]) -> list[str]:
    prefixes = ", ".join(quote_literal(f"{s}__") for s in sorted(schemas))
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} "
        f"AND arrayExists(p -> startsWith(name, p), [{prefixes}])",
        parameters={"db": database},
    ).result_rows
    return [r[0] for r in rows]
