"""`dbt docs generate` works on the built project, and every mart documents its grain and every
column it really has (read from the warehouse's catalogue, not from the YAML)."""

from __future__ import annotations

import json
from pathlib import Path

from .pipeline import dbt, dbt_environment, failures


def test_docs_generate_and_every_mart_column_is_documented(built):
    outcome = dbt(["docs", "generate"], built.settings, built.schema)
    assert outcome.success, failures(outcome) or outcome.error
    target = Path(dbt_environment(built.settings, built.schema)["DBT_TARGET_PATH"])
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    marts = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["original_file_path"].startswith("models/marts/")
    }
    assert len(marts) >= 25  # product, marketing, subscriptions, content, users
    undocumented = []
    for uid, node in marts.items():
        if len(node["description"].strip()) < 40 or "one row per" not in node["description"].lower():
            undocumented.append(f"{node['name']}: no grain in its description")
        built_columns = catalog["nodes"][uid]["columns"]
        for column in built_columns:
            if not node["columns"].get(column, {}).get("description", "").strip():
                undocumented.append(f"{node['name']}.{column}")
    assert not undocumented, undocumented
