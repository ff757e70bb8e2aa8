"""One connection config for every package, and the `predicto demo` / `predicto dbt` commands."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from runner import warehouse as embedded
from runner.cli import app
from tests.conftest import free_port
from warehouse.settings import ClickHouseSettings


def test_settings_default_to_the_embedded_warehouse(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    for key in ("CLICKHOUSE_HOST", "CLICKHOUSE_PORT", "CLICKHOUSE_SECURE", "CLICKHOUSE_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    s = ClickHouseSettings()
    assert s.embedded and s.url == "http://127.0.0.1:8123"
    assert s.sqlalchemy_url() == "clickhousedb://default@127.0.0.1:8123/default"


def test_settings_from_env_and_dotenv(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CLICKHOUSE_HOST=ch.example.net\nCLICKHOUSE_PASSWORD=p@ss:word\n")
    monkeypatch.setenv("CLICKHOUSE_SECURE", "true")
    monkeypatch.setenv("CLICKHOUSE_USER", "analyst")
    s = ClickHouseSettings()
    assert not s.embedded
    assert s.url == "https://ch.example.net:8443"
    assert s.client_kwargs()["password"] == "p@ss:word"
    assert (
        s.sqlalchemy_url("marts")
        == "clickhousedb://analyst:p%40ss%3Aword@ch.example.net:8443/marts?protocol=https"
    )


@pytest.fixture
def isolated_embedded(monkeypatch, tmp_path):
    """The embedded warehouse of a command, on a free port and a temporary data dir."""
    import uuid

    for key in ("CLICKHOUSE_HOST", "CLICKHOUSE_PORT", "CLICKHOUSE_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PREDICTO_WAREHOUSE_PORT", str(free_port()))
    monkeypatch.setenv("PREDICTO_WAREHOUSE_DATA_DIR", str(tmp_path / "wh"))
    monkeypatch.setenv("PREDICTO_DLT_DIR", str(tmp_path / "dlt"))
    monkeypatch.setenv("DBT_SCHEMA", "demo_test")
    database = f"predicto_test_demo_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PREDICTO_SANDBOX_PG_DATABASE", database)
    monkeypatch.chdir(tmp_path)
    yield tmp_path / "wh"
    embedded.stop(tmp_path / "wh")
    from runner.demo import PG_SERVER_DSN
    from simulator.sandbox.auth_pg import drop_database

    drop_database(PG_SERVER_DSN, database)


def test_demo_runs_the_whole_pipeline(isolated_embedded):
    import importlib

    import runner.demo

    importlib.reload(runner.demo)  # picks up the test's sandbox database name
    result = CliRunner().invoke(app, ["demo", "--people", "120", "--days", "4"])
    assert result.exit_code == 0, result.output
    for source in ("yandex_metrica", "appmetrica", "yandex_direct", "auth_service", "billing", "player_logs"):
        assert f"ok {source}:" in result.output
    assert "all passed" in result.output
    assert "demo_test_marts.dim_channels" in result.output
    assert "headline numbers:" in result.output and "dau_per_mau" in result.output
    state = embedded.running_state(isolated_embedded)
    assert state is not None and embedded.ping(state.url)
    client = __import__("clickhouse_connect").get_client(host="127.0.0.1", port=state.port)
    assert client.command("SELECT count() FROM raw.player_logs__events") > 0
    # A second demo run finds everything already loaded: no new rows anywhere.
    first_run_end = client.command("SELECT max(finished_at) FROM raw._loads")
    again = CliRunner().invoke(app, ["demo", "--people", "120", "--days", "4"])
    assert again.exit_code == 0, again.output
    assert "(reused)" in again.output
    new_rows = client.query(
        "SELECT count(), sum(rows_inserted) FROM raw._loads WHERE started_at > {t:DateTime64(3)} AND status = 'loaded' AND table != '_dlt_pipeline_state'",
        parameters={"t": first_run_end},
    ).first_row
    assert new_rows[0] > 0 and new_rows[1] == 0  # jobs ran, and inserted nothing


def test_dbt_passthrough_uses_a_configured_server(warehouse, monkeypatch, tmp_path):
    monkeypatch.setenv("CLICKHOUSE_HOST", warehouse.host)
    monkeypatch.setenv("CLICKHOUSE_PORT", str(warehouse.port))
    monkeypatch.setenv("DBT_SCHEMA", "passthrough")
    monkeypatch.setenv("PREDICTO_WAREHOUSE_DATA_DIR", str(tmp_path / "never"))
    result = CliRunner().invoke(app, ["dbt", "seed"])
    assert result.exit_code == 0, result.output
    assert warehouse.client().command("SELECT count() FROM passthrough_seeds.channel_groups") > 0
    assert not (tmp_path / "never").exists()  # nothing embedded was started
