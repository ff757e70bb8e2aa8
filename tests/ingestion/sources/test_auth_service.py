"""Auth service: users and logins from a real PostgreSQL database, incrementally on updated_at."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg2
import pytest

from ingestion.auth_service import auth_service_source
from ingestion.errors import SourceConfigurationError
from ingestion.run import describe_error
from simulator.sandbox.auth_pg import database_dsn, drop_database, load_auth_db
from simulator.sandbox.store import WorldStore

from .conftest import PG_SERVER_DSN
from .platform_helpers import (
    column_types,
    count,
    extended_world,
    latest,
    loads,
    malformed_truth,
    malformed_world,
    rows,
    table,
)

SOURCE = "auth_service"
USER_COLUMNS = "email_hash, birth_year, gender, city, region, created_at, updated_at"
LOGIN_COLUMNS = "user_id, logged_in_at, client_type, client_id, auth_method, ip, user_agent, updated_at"


def naive(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=None)


def expected_users(world) -> dict[int, tuple]:
    return {
        u["user_id"]: (
            u["email_hash"],
            u["birth_year"],
            u["gender"],
            u["city"],
            u["region"],
            naive(u["created_at"]),
            naive(u["updated_at"]),
        )
        for u in table(world, "auth_users").to_pylist()
    }


def expected_logins(world) -> dict[str, tuple]:
    return {
        r["login_id"]: (
            r["user_id"],
            naive(r["logged_in_at"]),
            r["client_type"],
            r["client_id"],
            r["auth_method"],
            r["ip"],
            r["user_agent"],
            naive(r["updated_at"]),
        )
        for r in table(world, "auth_logins").to_pylist()
    }


@pytest.fixture
def scratch_auth_db():
    """A database of the test's own, loaded from a world by the test, dropped afterwards."""
    name = f"predicto_test_auth_{uuid.uuid4().hex[:8]}"
    yield name
    drop_database(PG_SERVER_DSN, name)


def test_every_user_and_login_lands_typed(ch, clean_source, sandbox, world_dir):
    clean_source(SOURCE).run(auth_service_source(credentials=sandbox.auth_db["dsn"]))

    assert count(ch, "auth_service__users") == sandbox.auth_db["users"]
    assert count(ch, "auth_service__logins") == sandbox.auth_db["logins"]
    assert latest(ch, "auth_service__users", "user_id", USER_COLUMNS) == expected_users(world_dir)
    assert latest(ch, "auth_service__logins", "login_id", LOGIN_COLUMNS) == expected_logins(world_dir)
    users, logins = column_types(ch, "auth_service__users"), column_types(ch, "auth_service__logins")
    assert users["user_id"] == "Int64"
    assert users["updated_at"] == "DateTime64(6, 'UTC')"
    assert users["gender"] == "LowCardinality(Nullable(String))"
    assert logins["login_id"] == "String"
    assert logins["user_id"] == "Nullable(Int64)"
    assert logins["logged_in_at"] == "Nullable(DateTime64(6, 'UTC'))"
    assert logins["client_type"] == "LowCardinality(Nullable(String))"


def test_rerun_adds_nothing_and_increment_reads_only_changed_rows(
    ch, clean_source, world_dir, world_config, scratch_auth_db
):
    load_auth_db(WorldStore(world_dir), PG_SERVER_DSN, scratch_auth_db)
    dsn = database_dsn(PG_SERVER_DSN, scratch_auth_db)
    pipeline = clean_source(SOURCE)
    pipeline.run(auth_service_source(credentials=dsn))
    info = pipeline.run(auth_service_source(credentials=dsn))
    journal = loads(ch, SOURCE, info.loads_ids[0]) if info.loads_ids else {}
    assert all(inserted == 0 for t, (_, inserted) in journal.items() if t.startswith("auth_service__"))

    # the service moves on a day: the same database now holds the extended world's rows
    later = extended_world(world_config)
    load_auth_db(WorldStore(later), PG_SERVER_DSN, scratch_auth_db)
    cursors = {
        t: max(naive(v) for v in table(world_dir, f"auth_{t}")["updated_at"].to_pylist())
        for t in ("users", "logins")
    }
    info = pipeline.run(auth_service_source(credentials=dsn))
    journal = loads(ch, SOURCE, info.loads_ids[0])
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            for name, since in cursors.items():
                # only rows updated within the lookback of the cursor were fetched
                cur.execute(
                    f"SELECT count(*) FROM {name} WHERE updated_at >= %s",
                    (since.replace(tzinfo=dt.UTC) - dt.timedelta(seconds=600),),
                )
                assert journal[f"auth_service__{name}"][0] == cur.fetchone()[0]
    finally:
        conn.close()
    assert latest(ch, "auth_service__users", "user_id", USER_COLUMNS) == expected_users(later)
    assert latest(ch, "auth_service__logins", "login_id", LOGIN_COLUMNS) == expected_logins(later)


def test_backfill_window_reads_only_its_days(ch, clean_source, sandbox, world_dir):
    logins = table(world_dir, "auth_logins").to_pylist()
    day = naive(logins[len(logins) // 2]["updated_at"]).date()
    pipeline = clean_source(SOURCE)
    pipeline.run(auth_service_source(credentials=sandbox.auth_db["dsn"], start_date=day, end_date=day))
    assert rows(ch, "SELECT count() FROM raw.auth_service__logins")[0][0] == sum(
        1 for r in logins if naive(r["updated_at"]).date() == day
    )
    # a backfill leaves the cursor alone: the next ordinary run reads everything
    pipeline.run(auth_service_source(credentials=sandbox.auth_db["dsn"]))
    assert count(ch, "auth_service__logins") == sandbox.auth_db["logins"]


@pytest.mark.parametrize(
    "broken",
    [
        lambda dsn: dsn.replace("postgres@", "nobody:secret@"),  # unknown role / bad password
        lambda dsn: dsn.rsplit("/", 1)[0] + "/no_such_database",
        lambda dsn: dsn.replace(":5432", ":1"),  # nothing listens there
    ],
)
def test_unreachable_database_or_bad_credentials_name_the_setting(clean_source, sandbox, broken):
    dsn = broken(sandbox.auth_db["dsn"])
    with pytest.raises(Exception) as caught:
        clean_source(SOURCE).run(auth_service_source(credentials=dsn))
    message = describe_error(caught.value)
    assert (
        message.startswith("auth_service: cannot connect") and "sources.auth_service.credentials" in message
    )
    assert "secret" not in message  # the password is not shown
    error = caught.value
    while error is not None and not isinstance(error, SourceConfigurationError):
        error = getattr(error, "exception", None) or error.__cause__ or error.__context__
    assert isinstance(error, SourceConfigurationError)


def test_configured_through_the_environment(ch, clean_source, sandbox, ch_settings, tmp_path, monkeypatch):
    """The CLI's path: the registry builds the source, dlt reads the connection string from the env."""
    from ingestion.run import ingest

    clean_source(SOURCE)
    monkeypatch.setenv("SOURCES__AUTH_SERVICE__CREDENTIALS", sandbox.auth_db["dsn"])
    [run] = ingest(["auth_service"], settings=ch_settings, pipelines_dir=tmp_path / "pipelines")
    assert run.status == "loaded", run.error
    assert count(ch, "auth_service__users") == sandbox.auth_db["users"]


def test_orphan_logins_land_as_they_are(ch, clean_source, scratch_auth_db):
    """The service has no foreign key: logins of unknown users are loaded, not dropped."""
    world = malformed_world()
    orphans = {t["key"] for t in malformed_truth(world, "auth_logins")}
    counts = load_auth_db(WorldStore(world), PG_SERVER_DSN, scratch_auth_db)
    clean_source(SOURCE).run(auth_service_source(credentials=database_dsn(PG_SERVER_DSN, scratch_auth_db)))

    assert (
        count(ch, "auth_service__logins")
        == counts["logins"]
        == table(world, "auth_logins").num_rows + len(orphans)
    )
    users = {r[0] for r in rows(ch, "SELECT user_id FROM raw.auth_service__users")}
    got = rows(ch, "SELECT login_id, user_id FROM raw.auth_service__logins")
    assert {login for login, user in got if user not in users} == orphans
