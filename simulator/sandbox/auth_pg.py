"""Load the auth service's tables (users, logins) into a real PostgreSQL database.

The sandbox auth service *is* a PostgreSQL database, as the production one is: ingestion reads it
with SQL. Loading is idempotent (tables are dropped and recreated in one transaction) and creates
the database if it is missing. Orphan logins injected as malformed rows are loaded too: like many
real services, the table has no foreign key, so the warehouse has to cope.

    users(user_id bigint pk, email_hash text, birth_year int, gender text, city text, region text,
          created_at timestamptz, updated_at timestamptz)
    logins(login_id uuid pk, user_id bigint, logged_in_at timestamptz, client_type text,
           client_id text, auth_method text, ip inet, user_agent text, updated_at timestamptz)
"""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from simulator.sandbox.store import WorldStore, ts_ms

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE = "predicto_sandbox_auth"

SCHEMA_SQL = """
DROP TABLE IF EXISTS logins;
DROP TABLE IF EXISTS users;
CREATE TABLE users (
    user_id     bigint PRIMARY KEY,
    email_hash  text NOT NULL,
    birth_year  integer,
    gender      text,
    city        text,
    region      text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX users_updated_at_idx ON users (updated_at);
CREATE TABLE logins (
    login_id     uuid PRIMARY KEY,
    user_id      bigint NOT NULL,
    logged_in_at timestamptz NOT NULL,
    client_type  text NOT NULL,
    client_id    text NOT NULL,
    auth_method  text NOT NULL,
    ip           inet,
    user_agent   text,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX logins_updated_at_idx ON logins (updated_at);
"""


def database_dsn(server_dsn: str, database: str) -> str:
    """The DSN of ``database`` on the server of ``server_dsn`` (URL or key=value form)."""
    if "://" in server_dsn:
        parts = urlsplit(server_dsn)
        return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))
    kv = [p for p in server_dsn.split() if not p.startswith("dbname=")]
    return " ".join([*kv, f"dbname={database}"])


def ensure_database(server_dsn: str, database: str) -> None:
    conn = psycopg2.connect(server_dsn)
    try:
        conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    finally:
        conn.close()


def drop_database(server_dsn: str, database: str) -> None:
    conn = psycopg2.connect(server_dsn)
    try:
        conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    finally:
        conn.close()


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def _copy_text(rows: list[list[object]]) -> io.StringIO:
    def cell(v: object) -> str:
        if v is None:
            return "\\N"
        return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    return io.StringIO("".join("\t".join(cell(v) for v in r) + "\n" for r in rows))


def load_auth_db(
    store: WorldStore, server_dsn: str = DEFAULT_DSN, database: str = DEFAULT_DATABASE
) -> dict[str, int]:
    """(Re)load users and logins of the world into ``database``; returns row counts."""
    ensure_database(server_dsn, database)
    users = store.table("auth_users")
    logins = store.table("auth_logins")
    u_rows = [
        [uid, eh, by, g, c, r, _iso(ca), _iso(ua)]
        for uid, eh, by, g, c, r, ca, ua in zip(
            users["user_id"].to_pylist(),
            users["email_hash"].to_pylist(),
            users["birth_year"].to_pylist(),
            users["gender"].to_pylist(),
            users["city"].to_pylist(),
            users["region"].to_pylist(),
            ts_ms(users["created_at"]),
            ts_ms(users["updated_at"]),
            strict=True,
        )
    ]
    l_rows = [
        [lid, uid, _iso(t), ct, cid, am, ip, ua, _iso(up)]
        for lid, uid, t, ct, cid, am, ip, ua, up in zip(
            logins["login_id"].to_pylist(),
            logins["user_id"].to_pylist(),
            ts_ms(logins["logged_in_at"]),
            logins["client_type"].to_pylist(),
            logins["client_id"].to_pylist(),
            logins["auth_method"].to_pylist(),
            logins["ip"].to_pylist(),
            logins["user_agent"].to_pylist(),
            ts_ms(logins["updated_at"]),
            strict=True,
        )
    ]
    for b in store.malformed("auth_logins"):
        p = orjson.loads(b["payload"])
        l_rows.append(
            [
                p["login_id"],
                p["user_id"],
                _iso(p["logged_in_at"]),
                "web",
                "0",
                "password",
                None,
                "Mozilla/5.0",
                _iso(p["logged_in_at"]),
            ]
        )
    conn = psycopg2.connect(database_dsn(server_dsn, database))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(SCHEMA_SQL)
            cur.copy_expert("COPY users FROM STDIN", _copy_text(u_rows))
            cur.copy_expert("COPY logins FROM STDIN", _copy_text(l_rows))
    finally:
        conn.close()
    return {"users": len(u_rows), "logins": len(l_rows)}
