"""Every source through `ingestion.run.ingest` at once, checked against the simulator's truth."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
import pytest

from ingestion.registry import SOURCES
from ingestion.run import ingest
from runner.simulation import sandbox_environment

DATED = ("yandex_metrica", "appmetrica", "yandex_direct")

# Where each kind of identifier must show up in raw, by the truth's id_type.
ID_LOCATIONS = {
    "user_id": ["SELECT toString(user_id) FROM raw.auth_service__users"],
    "email_hash": ["SELECT email_hash FROM raw.auth_service__users"],
    "metrica_client_id": [
        "SELECT toString(client_id) FROM raw.yandex_metrica__visits",
        "SELECT toString(client_id) FROM raw.yandex_metrica__hits",
    ],
    "metrica_user_id_hash": ["SELECT toString(counter_user_id_hash) FROM raw.yandex_metrica__visits"],
    "yclid": ["SELECT extractURLParameter(start_url, 'yclid') FROM raw.yandex_metrica__visits"],
    "appmetrica_device_id": [
        f"SELECT toString(appmetrica_device_id) FROM raw.appmetrica__{t}"
        for t in ("events", "sessions_starts", "installations")
    ]
    + ["SELECT client_id FROM raw.auth_service__logins WHERE client_type IN ('android', 'ios')"],
    "appmetrica_installation_id": [
        f"SELECT toString(installation_id) FROM raw.appmetrica__{t}"
        for t in ("events", "sessions_starts", "installations")
    ],
    "google_aid": [
        f"SELECT google_aid FROM raw.appmetrica__{t}" for t in ("events", "sessions_starts", "installations")
    ],
    "ios_ifa": [
        f"SELECT ios_ifa FROM raw.appmetrica__{t}" for t in ("events", "sessions_starts", "installations")
    ],
    "tv_device_id": [
        "SELECT domain_userid FROM raw.player_logs__events",
        "SELECT client_id FROM raw.auth_service__logins",
    ],
    "payment_method_id": [
        "SELECT payment_method_id FROM raw.billing__payments",
        "SELECT payment_method_id FROM raw.billing__subscriptions",
    ],
}


@pytest.fixture(scope="module")
def own_sandbox(world_dir):
    """A sandbox of this module's own: the per-source tests expect fresh server state."""
    import uuid

    from simulator.sandbox import serve_all
    from simulator.sandbox.auth_pg import drop_database

    from .conftest import PG_SERVER_DSN, SERVICES

    database = f"predicto_test_all_{uuid.uuid4().hex[:8]}"
    sb = serve_all(
        world_dir, ports={name: 0 for name in SERVICES}, pg_dsn=PG_SERVER_DSN, pg_database=database
    )
    yield sb
    sb.stop()
    drop_database(PG_SERVER_DSN, database)


@pytest.fixture(scope="module")
def loaded(own_sandbox, world_dir, warehouse, tmp_path_factory, monkeypatch_module):
    """All sources ingested once into clean raw tables; yields (runs, client, …)."""
    from warehouse.settings import ClickHouseSettings

    sandbox = own_sandbox

    client = warehouse.client()
    client.command("DROP DATABASE IF EXISTS raw")
    env = sandbox_environment(sandbox.urls, world_dir, sandbox.auth_db["dsn"])
    for key, value in env.items():
        monkeypatch_module.setenv(key, value)
    meta = json.loads((world_dir / "world.json").read_text())
    first = dt.date.fromisoformat(meta["data_start"][:10])
    last = dt.date.fromisoformat(meta["now"][:10]) - dt.timedelta(days=1)
    kwargs = {name: {"initial_date": first, "end_date": last} for name in DATED}
    settings = ClickHouseSettings(host=warehouse.host, port=warehouse.port)
    pipelines = tmp_path_factory.mktemp("pipelines")
    runs = ingest(settings=settings, pipelines_dir=pipelines, source_kwargs=kwargs)
    yield runs, client, settings, pipelines, kwargs


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_every_source_loads(loaded):
    runs, *_ = loaded
    assert [r.source for r in runs] == list(SOURCES)
    failed = {r.source: r.error for r in runs if r.status != "loaded"}
    assert not failed
    assert all(r.rows_inserted > 0 for r in runs), {r.source: r.rows_inserted for r in runs}


def test_raw_counts_equal_the_world(loaded, world_dir):
    _, client, *_ = loaded
    world = json.loads((world_dir / "world.json").read_text())["counts"]

    def count(sql: str) -> int:
        return int(client.command(sql))

    # Metrica dates are the counter's (Moscow) days, and the Logs API never serves "today":
    # visits after 21:00 UTC of the last simulated day wait for the next run.
    today_msk = _moscow_date(json.loads((world_dir / "world.json").read_text())["now"])
    visits = pq.read_table(world_dir / "tables" / "metrica_visits.parquet", columns=["start_ms"])
    hits = pq.read_table(world_dir / "tables" / "metrica_hits.parquet", columns=["hit_ms"])
    assert count("SELECT uniqExact(visit_id) FROM raw.yandex_metrica__visits") == _before(
        visits["start_ms"], today_msk
    )
    assert count("SELECT uniqExact(watch_id) FROM raw.yandex_metrica__hits") == _before(
        hits["hit_ms"], today_msk
    )
    events = pq.read_table(world_dir / "tables" / "appmetrica_events.parquet", columns=["event_receive_ms"])
    assert count("SELECT count() FROM raw.appmetrica__events") == _before(
        events["event_receive_ms"], today_msk
    )
    assert count("SELECT uniqExact(login_id) FROM raw.auth_service__logins") == world["auth_logins"]
    assert count("SELECT uniqExact(user_id) FROM raw.auth_service__users") == world["auth_users"]
    assert count("SELECT uniqExact(id) FROM raw.billing__payments") == world["billing_payments"]
    assert (
        count("SELECT uniqExact(subscription_id) FROM raw.billing__subscriptions")
        == world["billing_subscriptions"]
    )
    assert count("SELECT uniqExact(content_id) FROM raw.content_catalog__content") == world["content"]
    assert count("SELECT uniqExact(event_id) FROM raw.player_logs__events") == world["player_events"]


def _moscow_date(iso: str) -> dt.date:
    return (dt.datetime.fromisoformat(iso.replace("Z", "+00:00")) + dt.timedelta(hours=3)).date()


def _before(times, day: dt.date) -> int:
    """Rows timed before the Moscow day `day` starts (times: UTC timestamps)."""
    limit = dt.datetime.combine(day, dt.time(), dt.UTC) - dt.timedelta(hours=3)
    return sum(1 for v in times.to_pylist() if v.replace(tzinfo=dt.UTC) < limit)


def test_every_identifier_appears_where_the_truth_says(loaded, world_dir):
    _, client, *_ = loaded
    truth = pq.read_table(world_dir / "truth" / "identity.parquet").to_pylist()
    expected: dict[str, set[str]] = {}
    for row in truth:
        expected.setdefault(row["id_type"], set()).add(str(row["id_value"]))
    assert set(expected) <= set(ID_LOCATIONS), (
        f"id types without a raw location: {set(expected) - set(ID_LOCATIONS)}"
    )
    # Web identifiers seen only on the counter's "today" are served by the Logs API tomorrow.
    today_msk = _moscow_date(json.loads((world_dir / "world.json").read_text())["now"])
    limit = dt.datetime.combine(today_msk, dt.time(), dt.UTC) - dt.timedelta(hours=3)
    visits = pq.read_table(world_dir / "tables" / "metrica_visits.parquet").to_pylist()
    served = [v for v in visits if v["start_ms"].replace(tzinfo=dt.UTC) < limit]
    from urllib.parse import parse_qs, urlsplit

    web_ids = {
        "metrica_client_id": lambda v: v["clientID"],
        "metrica_user_id_hash": lambda v: v["counterUserIDHash"],
        "yclid": lambda v: parse_qs(urlsplit(v["startURL"]).query).get("yclid", [None])[0],
    }
    for id_type, get in web_ids.items():
        waiting = {str(get(v)) for v in visits} - {str(get(v)) for v in served}
        expected[id_type] = expected.get(id_type, set()) - waiting
    for id_type, ids in expected.items():
        found: set[str] = set()
        for sql in ID_LOCATIONS[id_type]:
            found |= {str(v) for (v,) in client.query(sql).result_rows if v is not None}
        missing = ids - found
        assert not missing, (
            f"{len(missing)} of {len(ids)} {id_type} missing from raw, e.g. {sorted(missing)[:3]}"
        )


def test_running_again_adds_nothing(loaded):
    _, client, settings, pipelines, kwargs = loaded
    before = client.command("SELECT count() FROM raw._loads")
    runs = ingest(settings=settings, pipelines_dir=pipelines, source_kwargs=kwargs)
    assert all(r.status == "loaded" for r in runs)
    assert sum(r.rows_inserted for r in runs) == 0, {
        r.source: r.rows_inserted for r in runs if r.rows_inserted
    }
    assert client.command("SELECT count() FROM raw._loads") > before  # it did run


def test_a_misconfigured_source_fails_alone(loaded, monkeypatch):
    _, client, settings, pipelines, kwargs = loaded
    monkeypatch.setenv("SOURCES__YANDEX_METRICA__TOKEN", "wrong-token")
    monkeypatch.setenv("SOURCES__BILLING__SECRET_KEY", "wrong-key")
    runs = {r.source: r for r in ingest(settings=settings, pipelines_dir=pipelines, source_kwargs=kwargs)}
    assert runs["yandex_metrica"].status == "failed"
    assert "SOURCES__YANDEX_METRICA__TOKEN" in runs["yandex_metrica"].error
    assert runs["billing"].status == "failed" and "secret" in runs["billing"].error.lower()
    assert all(r.status == "loaded" for name, r in runs.items() if name not in ("yandex_metrica", "billing"))
