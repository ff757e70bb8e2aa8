"""Shared fixtures: small generated worlds and running sandbox servers (session scoped)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import WorldConfig, generate_world
from simulator.sandbox import Sandbox, SandboxOptions, serve_all

PG_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
# A pre-start history long enough for monthly renewals (trial at day -30 renews at day +7).
SMALL = WorldConfig(seed=7, people=480, days=12, history_days=30, chunk_people=200, workers=2)
BAD = WorldConfig(seed=11, people=240, days=8, history_days=5, chunk_people=120, workers=2, malformed_rows=3)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_world(SMALL, tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="session")
def bad_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_world(BAD, tmp_path_factory.mktemp("bad_world"))


OPTIONS = SandboxOptions(metrica_part_rows=150, metrica_max_days=10)


@pytest.fixture(scope="session")
def sandbox(world: Path) -> Iterator[Sandbox]:
    with serve_all(
        world,
        ports={n: 0 for n in ("metrica", "appmetrica", "direct", "billing", "content")},
        options=OPTIONS,
    ) as sb:
        yield sb


@pytest.fixture(scope="session")
def bad_sandbox(bad_world: Path) -> Iterator[Sandbox]:
    with serve_all(
        bad_world,
        ports={n: 0 for n in ("metrica", "appmetrica", "direct", "billing", "content")},
        options=OPTIONS,
    ) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _reset_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for name in ("sandbox", "bad_sandbox"):
        if name in request.fixturenames:
            sb = request.getfixturevalue(name)
            for app in (sb.app(n) for n in sb.servers):
                with app.lock:
                    app.rules.clear()
