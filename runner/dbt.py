"""Runs dbt in-process (dbtRunner) on the project's dbt_project/ against the resolved warehouse."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(
    os.environ.get("PREDICTO_DBT_PROJECT_DIR", Path(__file__).resolve().parents[1] / "dbt_project")
)


@dataclass
class DbtOutcome:
    success: bool
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def run_dbt(args: list[str], project_dir: Path = PROJECT_DIR) -> DbtOutcome:
    """`dbt <args>` with the project's profile (profiles.yml beside dbt_project.yml)."""
    from dbt.cli.main import dbtRunner

    full = [*args]
    if "--project-dir" not in full:
        full += ["--project-dir", str(project_dir)]
    if "--profiles-dir" not in full and not os.environ.get("DBT_PROFILES_DIR"):
        full += ["--profiles-dir", str(project_dir)]
    res = dbtRunner().invoke(full)
    rows = []
    for r in getattr(res.result, "results", None) or []:
        node = getattr(r, "node", None)
        rows.append(
            {
                "unique_id": getattr(node, "unique_id", ""),
                "resource_type": str(getattr(node, "resource_type", "")),
                "relation": getattr(node, "relation_name", None),
                "status": str(r.status),
                "seconds": getattr(r, "execution_time", 0.0),
                "message": r.message,
            }
        )
    return DbtOutcome(bool(res.success), rows, str(res.exception) if res.exception else None)
