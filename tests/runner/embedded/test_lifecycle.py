"""Starting, stopping and restarting the embedded warehouse; one server per data directory; auth."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from runner.cli import app
from tests.conftest import ROOT, free_port, start_warehouse

from .test_http_protocol import request


def test_restart_keeps_data(tmp_path):
    data = tmp_path / "wh"
    server = start_warehouse(data)
    try:
        client = server.client()
        client.command("CREATE TABLE kept (a UInt32) ENGINE = MergeTree ORDER BY a")
        client.insert("kept", [[1], [2], [3]], column_names=["a"])
    finally:
        assert server.stop() == 0  # SIGTERM is a clean shutdown
    server = start_warehouse(data)
    try:
        assert server.client().command("SELECT sum(a) FROM kept") == 6
    finally:
        server.stop()


def test_second_server_on_one_data_dir_fails_clearly(tmp_path):
    data = tmp_path / "wh"
    first = start_warehouse(data)
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "runner",
                "warehouse",
                "serve",
                "--port",
                str(free_port()),
                "--data-dir",
                str(data),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 1
        assert "already served by another warehouse process" in proc.stderr
        assert f"pid {first.proc.pid}" in proc.stderr
        assert first.client().command("SELECT 1") == 1  # the first one is unharmed
    finally:
        first.stop()


def test_cli_start_status_stop(tmp_path, monkeypatch):
    monkeypatch.delenv("CLICKHOUSE_HOST", raising=False)
    runner = CliRunner()
    port = str(free_port())
    args = ["--data-dir", str(tmp_path / "wh")]
    result = runner.invoke(app, ["warehouse", "start", "--port", port, *args])
    assert result.exit_code == 0, result.output
    try:
        assert f"127.0.0.1:{port}" in result.output
        result = runner.invoke(app, ["warehouse", "status", *args])
        assert result.exit_code == 0 and "ping ok" in result.output
        assert (
            request(type("S", (), {"host": "127.0.0.1", "port": int(port)}), "GET", {"query": "SELECT 5"})[2]
            == b"5\n"
        )
        again = runner.invoke(app, ["warehouse", "start", "--port", port, *args])  # idempotent
        assert again.exit_code == 0
    finally:
        result = runner.invoke(app, ["warehouse", "stop", *args])
    assert result.exit_code == 0 and "stopped" in result.output
    result = runner.invoke(app, ["warehouse", "status", *args])
    assert result.exit_code == 3 and "not running" in result.output
    assert (tmp_path / "wh" / "server.log").exists()


def test_refuses_public_address_without_password(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            "warehouse",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "wh"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 1
    assert "without a password" in proc.stderr


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    server = start_warehouse(tmp_path_factory.mktemp("guarded") / "wh", password="s3cret")
    yield server
    server.stop()


def test_password_is_required_and_checked(guarded):
    status, headers, body = request(guarded, "GET", {"query": "SELECT 1"})
    assert headers["x-clickhouse-exception-code"] == "516" and status == 403
    assert (
        request(guarded, "GET", {"query": "SELECT 1", "password": "wrong"})[1]["x-clickhouse-exception-code"]
        == "516"
    )
    assert (
        request(guarded, "GET", {"query": "SELECT 1", "user": "default", "password": "s3cret"})[2] == b"1\n"
    )
    basic = "Basic " + base64.b64encode(b"default:s3cret").decode()
    assert request(guarded, "GET", {"query": "SELECT 2"}, headers={"Authorization": basic})[2] == b"2\n"
    headers = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": "s3cret"}
    assert request(guarded, "GET", {"query": "SELECT 3"}, headers=headers)[2] == b"3\n"
    bad = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": "nope"}
    assert (
        request(guarded, "POST", {"query": "CREATE TABLE x (a UInt8) ENGINE = Memory"}, headers=bad)[0] == 403
    )
    assert guarded.client().command("EXISTS TABLE x") == 0  # nothing was done by the refused request
    assert request(guarded, "GET", path="/ping")[2] == b"Ok.\n"  # health checks need no password


def test_clickhouse_connect_with_password(guarded):
    assert guarded.client().command("SELECT 1") == 1
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import DatabaseError

    with pytest.raises(DatabaseError) as info:
        clickhouse_connect.get_client(host=guarded.host, port=guarded.port, password="wrong")
    assert info.value.code == 516


def test_stop_lets_running_queries_finish(tmp_path):
    import threading
    import time

    server = start_warehouse(tmp_path / "wh")
    outcome = {}

    def slow() -> None:
        outcome["reply"] = request(server, "POST", {"query": "SELECT sleep(2), 'finished'"})

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.5)
    assert server.stop() == 0  # SIGTERM while the query runs
    worker.join()
    assert outcome["reply"][0] == 200 and outcome["reply"][2].endswith(b"finished\n")
