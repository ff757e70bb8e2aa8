"""Every source Predicto can ingest, by name, and the factory that builds it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# name -> "module:factory". Imported lazily: a source's dependencies load only when it runs.
SOURCES: dict[str, str] = {
    "yandex_metrica": "ingestion.yandex_metrica:yandex_metrica_source",
    "appmetrica": "ingestion.appmetrica:appmetrica_source",
    "yandex_direct": "ingestion.yandex_direct:yandex_direct_source",
    "ad_cost_files": "ingestion.ad_cost_files:ad_cost_files_source",
    "auth_service": "ingestion.auth_service:auth_service_source",
    "billing": "ingestion.billing:billing_source",
    "content_catalog": "ingestion.content_catalog:content_catalog_source",
    "player_logs": "ingestion.player_logs:player_logs_source",
}


def source_factory(name: str) -> Callable[..., Any]:
    """The `@dlt.source` function of `name`."""
    try:
        module_name, attr = SOURCES[name].split(":")
    except KeyError:
        raise ValueError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}") from None
    return getattr(importlib.import_module(module_name), attr)
