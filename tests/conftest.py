"""Shared fixtures: an embedded warehouse server per test session, on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class WarehouseProcess:
    """A `predicto warehouse serve` child process."""

    host: str
    port: int
    data_dir: Path
    proc: subprocess.Popen
    password: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment that points every Predicto component at this server."""
        env = dict(os.environ)
        env.update(
            CLICKHOUSE_HOST=self.host, CLICKHOUSE_PORT=str(self.port), CLICKHOUSE_PASSWORD=self.password
        )
        return env

    def client(self, **kwargs):
        import clickhouse_connect

        return clickhouse_connect.get_client(host=self.host, port=self.port, password=self.password, **kwargs)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_warehouse(
    data_dir: Path, port: int | None = None, password: str = "", wait: float = 60
) -> WarehouseProcess:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKHOUSE_", "PREDICTO_WAREHOUSE_"))}
    env["CLICKHOUSE_PASSWORD"] = password
    log = open(data_dir.parent / f"{data_dir.name}-{port}.log", "ab")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "warehouse",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = WarehouseProcess("127.0.0.1", port, data_dir, proc, password)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"warehouse exited with {proc.returncode}: {Path(log.name).read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(server.url + "/ping", timeout=1) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("warehouse did not start in time")


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarehouseProcess]:
    """One embedded warehouse shared by the whole test session."""
    data_dir = tmp_path_factory.mktemp("warehouse") / "data"
    server = start_warehouse(data_dir)
    yield server
    server.stop()


@pytest.fixture
def ch(warehouse: WarehouseProcess):
    """A clickhouse-connect client of the session warehouse."""
    client = warehouse.client()
    yield client
    client.close()


@pytest.fixture
def scratch_db(ch, request) -> Iterator[str]:
    """A database of the test's own, dropped afterwards."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60].lower()
    ch.command(f"DROP DATABASE IF EXISTS {name}")
    ch.command(f"CREATE DATABASE {name}")
    yield name
    ch.command(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(scope="session")
def local_chdb():
    """chDB in the test process (in memory): the engine's own output, to compare the server with."""
    import chdb

    conn = chdb.connect(":memory:")
    yield conn
    conn.close()
