"""Daily ad cost exports of networks without an API connector (VK Ads, myTarget, …) as CSV files.

    pipeline = make_pipeline("ad_cost_files")
    pipeline.run(ad_cost_files_source(directory="/data/ad_costs"))   # or s3://bucket/prefix

Every `<network>/<file>.csv` under the directory or prefix lands in `raw.ad_cost_files__ad_costs`,
one row per (network, date, campaign_id). A file is read again when its content changes. See
README.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.quarantine import quarantine
from ingestion.sink.hints import LOW_CARDINALITY, VOLATILE, table_hints

from . import settings
from .helpers import CostFile, Seen, iter_changed, list_files
from .parsing import BadHeader, parse_file

log = logging.getLogger("predicto.ingestion.ad_cost_files")

RESOURCE = "ad_costs"
_DLT_TYPES: dict[str, dict[str, Any]] = {
    "date": {"data_type": "date"},
    "int": {"data_type": "bigint"},
    "money": {"data_type": "decimal", "precision": 18, "scale": settings.MONEY_SCALE},
    "text": {"data_type": "text"},
    "enum": {"data_type": "text", LOW_CARDINALITY: True},
}


@dlt.source(name="ad_cost_files")
def ad_cost_files_source(
    directory: str = dlt.config.value,
    file_glob: str = settings.FILE_GLOB,
    storage_options: dict[str, Any] | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    encoding: str = "utf-8",
) -> DltResource:
    """Cost rows of every changed CSV under `directory`.

    Args:
        directory: a local directory or an fsspec URL (`s3://bucket/prefix`; S3 needs `s3fs`)
            holding `<network>/<YYYY-MM-DD>.csv` (`sources.ad_cost_files.directory`).
        file_glob: which files, relative to `directory`.
        storage_options: fsspec options of the protocol, e.g. `{"key", "secret",
            "endpoint_url"}` for S3-compatible storage (keep them in secrets.toml); without them
            the protocol's default chain (AWS_* variables for s3fs) applies.
        start_date / end_date: only files whose name carries a date in this range (files
            without a date in their name are always considered); such a run reads them even
            when unchanged.
        encoding: text encoding of the files.

    Returns:
        The `ad_costs` resource.
    """
    forced = start_date is not None or end_date is not None

    def ad_costs() -> Iterator[Any]:
        manifest = dlt.current.resource_state().setdefault("files", {})
        seen = Seen(manifest)
        files = [
            f for f in list_files(directory, file_glob, storage_options) if _in_range(f, start_date, end_date)
        ]
        read = 0
        for f, content, digest in iter_changed(files, seen, force=forced):
            read += 1
            yield from read_file(f, content, encoding)
            seen.remember(f, digest)
        log.info("ad_costs: %d of %d file(s) new or changed", read, len(files))

    resource = dlt.resource(
        ad_costs,
        name=RESOURCE,
        write_disposition="append",
        primary_key=list(settings.PRIMARY_KEY),
        columns=column_hints(),
    )
    # small table: sorted by day, no partitions
    resource.apply_hints(additional_table_hints=table_hints(order_by=["date", "network", "campaign_id"]))
    return resource


def read_file(f: CostFile, content: bytes, encoding: str) -> Iterator[Any]:
    """Typed rows (one list per file) and quarantined rows of one file."""
    try:
        parsed = parse_file(content.decode(encoding))
    except UnicodeDecodeError as exc:
        yield quarantine(RESOURCE, f.relative_path, f"not {encoding} text: {exc}", content)
        return
    except BadHeader as exc:
        yield quarantine(RESOURCE, f.relative_path, str(exc), content)
        return
    if parsed.bad:
        log.warning("ad_costs: %d row(s) of %s quarantined", len(parsed.bad), f.relative_path)
    for bad in parsed.bad:
        yield quarantine(RESOURCE, f"{f.relative_path} line {bad.line}", bad.reason, bad.payload)
    if parsed.rows:
        # the directory names the network; a `network` column in the file does not override it
        yield [{**row, "network": f.network, "source_file": f.relative_path} for row in parsed.rows]


def column_hints() -> dict[str, dict[str, Any]]:
    hints: dict[str, dict[str, Any]] = {
        "network": {
            "data_type": "text",
            "nullable": False,
            LOW_CARDINALITY: True,
            "description": "Directory of the file",
        },
    }
    for name, kind in settings.COLUMNS.items():
        hints[name] = {**_DLT_TYPES[kind], "nullable": name not in settings.PRIMARY_KEY}
    hints["source_file"] = {
        "data_type": "text",
        "nullable": False,
        # where a row was read is not part of its content: the same row in a re-exported
        # file under another name is not a new version
        VOLATILE: True,
        "description": "Path of the file the row was read from, relative to directory",
    }
    return hints


def _in_range(f: CostFile, start: dt.date | None, end: dt.date | None) -> bool:
    day = f.name_date
    if day is None:
        return True
    return (start is None or day >= start) and (end is None or day <= end)


__all__ = ["ad_cost_files_source"]
