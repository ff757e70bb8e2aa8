"""Auth service: users and logins loaded into the machine's PostgreSQL (own database, dropped after)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pyarrow.parquet as pq
import pytest

from simulator.sandbox import serve_all
from simulator.sandbox.auth_pg import database_dsn, drop_database, load_auth_db
from simulator.sandbox.store import WorldStore

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture()
def database() -> Iterator[str]:
    name = f"predicto_sim_test_{uuid.uuid4().hex[:8]}"
    yield name
    drop_database(SERVER, name)


def _query(db: str, sql: str) -> list[tuple]:
    conn = psycopg2.connect(database_dsn(SERVER, db))
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def test_load_is_complete_and_idempotent(world: Path, database: str) -> None:
    store = WorldStore(world)
    counts = load_auth_db(store, SERVER, database)
    users = pq.read_table(world / "tables" / "auth_users.parquet")
    logins = pq.read_table(world / "tables" / "auth_logins.parquet")
    assert counts == {"users": users.num_rows, "logins": logins.num_rows}
    assert load_auth_db(store, SERVER, database) == counts  # reload replaces, never duplicates
    assert _query(database, "SELECT count(*) FROM users")[0][0] == users.num_rows
    assert _query(database, "SELECT count(*) FROM logins")[0][0] == logins.num_rows
    assert (
        _query(
            database,
            "SELECT count(*) FROM logins l LEFT JOIN users u USING (user_id) WHERE u.user_id IS NULL",
        )[0][0]
        == 0
    )
    types = {r[0] for r in _query(database, "SELECT DISTINCT client_type FROM logins")}
    assert types <= {"web", "android", "ios", "smart_tv"} and "web" in types
    first = _query(database, "SELECT min(created_at), max(updated_at) FROM users")[0]
    assert first[0].tzinfo is not None and first[1] >= first[0]


def test_serve_all_loads_orphan_logins_too(bad_world: Path, database: str) -> None:
    with serve_all(
        bad_world, ports={"content": 0}, services=("content",), pg_dsn=SERVER, pg_database=database
    ) as sb:
        assert sb.auth_db and sb.auth_db["database"] == database
        orphans = _query(
            database,
            "SELECT count(*) FROM logins l LEFT JOIN users u USING (user_id) WHERE u.user_id IS NULL",
        )[0][0]
        assert orphans == 3
