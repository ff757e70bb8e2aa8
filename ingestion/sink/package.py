"""What dlt tells a custom destination about the job it is running.

Verified on dlt 1.31 with `@dlt.destination(batch_size=0, loader_file_format="parquet")`:

- the callable gets `(items, table)`: `items` is the path of one parquet file in the load
  package (`…/load/normalized/<load_id>/started_jobs/<table>.<file_id>.<retry>.parquet`),
  `table` the prepared dlt table schema (columns with data_type, nullable, primary_key,
  precision/scale, description and any `x-` hints; write_disposition; table-level `x-` hints);
- the load id is in the load-package context (`dlt.current.load_package_state()["load_id"]`);
- the schema (source) name is not passed; it is the name of the schema stored in the load
  package, which the package storage in the same context reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class JobContext:
    """The facts about one load job the sink records and routes by."""

    load_id: str
    schema_name: str
    job_id: str
    attempt: int
    file_path: str

    @classmethod
    def current(cls, file_path: str) -> JobContext:
        """Read the job's context from dlt while it runs the destination callable."""
        from dlt.common.configuration.container import Container
        from dlt.common.storages.load_package import LoadPackageStateInjectableContext
        from dlt.common.storages.load_storage import ParsedLoadJobFileName

        context = Container()[LoadPackageStateInjectableContext]
        parsed = ParsedLoadJobFileName.parse(file_path)
        return cls(
            load_id=context.load_id,
            schema_name=_schema_name(context.storage, context.load_id),
            job_id=parsed.job_id(),
            attempt=parsed.retry_count,
            file_path=file_path,
        )


@lru_cache(maxsize=64)
def _schema_name(storage: object, load_id: str) -> str:
    return storage.load_schema(load_id).name  # type: ignore[attr-defined]
