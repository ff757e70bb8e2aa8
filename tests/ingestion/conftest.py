"""Fixtures for the sink tests: a unique source per test, pipelines against the session warehouse.

Every test names its own source (`src_<test>_<n>`), so tables (`raw.<source>__*`) and rows in
the shared tables (`raw._loads`, `raw._quarantine`, `raw._dlt_pipeline_state`) never collide.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path

import dlt
import pytest

from ingestion.pipelines import make_pipeline
from warehouse.settings import ClickHouseSettings

_counter = itertools.count()


@pytest.fixture
def ch_settings(warehouse) -> ClickHouseSettings:
    """Shared settings pointing at the test session's warehouse."""
    return ClickHouseSettings(host=warehouse.host, port=warehouse.port, password=warehouse.password)


@pytest.fixture
def source_name(request) -> str:
    """A source (schema and pipeline) name of the test's own."""
    base = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    return f"src_{base}_{next(_counter)}"


@pytest.fixture
def pipelines_dir(tmp_path: Path) -> Path:
    return tmp_path / "pipelines"


@pytest.fixture
def pipeline_factory(ch_settings, pipelines_dir, source_name) -> Callable[..., dlt.Pipeline]:
    """`pipeline_factory()` → a Predicto pipeline for this test's source."""

    def make(**kwargs) -> dlt.Pipeline:
        kwargs.setdefault("pipelines_dir", pipelines_dir)
        kwargs.setdefault("settings", ch_settings)
        return make_pipeline(source_name, **kwargs)

    return make


@pytest.fixture
def source_of(source_name) -> Callable[..., object]:
    """`source_of(resource, ...)` → a dlt source named after the test holding the resources."""

    def build(*resources):
        @dlt.source(name=source_name)
        def test_source():
            return list(resources)

        return test_source()

    return build
