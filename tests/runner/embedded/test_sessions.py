"""HTTP sessions: what persists within one, and what never leaks out of a request."""

from __future__ import annotations

import threading
import uuid

from .test_http_protocol import request


def q(server, query: str, method: str = "POST", **params) -> tuple[int, dict, bytes]:
    if method == "GET":
        return request(server, "GET", {"query": query, **params})
    return request(server, "POST", params, query.encode())


def test_session_keeps_settings_temporary_tables_and_database(warehouse, scratch_db):
    sid = str(uuid.uuid4())
    assert q(warehouse, "SET max_threads = 3", session_id=sid)[0] == 200
    assert q(warehouse, "CREATE TEMPORARY TABLE tmp (a UInt8)", session_id=sid)[0] == 200
    assert q(warehouse, "INSERT INTO tmp VALUES (1), (2)", session_id=sid)[0] == 200
    assert q(warehouse, f"USE {scratch_db}", session_id=sid)[0] == 200
    assert q(
        warehouse,
        "SELECT getSetting('max_threads'), (SELECT count() FROM tmp), currentDatabase()",
        session_id=sid,
    )[2] == (f"3\t2\t{scratch_db}\n".encode())
    # Other clients see none of it.
    assert q(warehouse, "SELECT getSetting('max_threads') = 3")[2] == b"0\n"
    assert q(warehouse, "SELECT count() FROM tmp")[0] == 404
    assert q(warehouse, "SELECT currentDatabase()")[2] == b"default\n"


def test_url_settings_and_database_apply_to_one_request_of_a_session(warehouse, scratch_db):
    sid = str(uuid.uuid4())
    q(warehouse, "SET max_block_size = 777", session_id=sid)
    assert (
        q(warehouse, "SELECT getSetting('max_block_size')", session_id=sid, max_block_size="5")[2] == b"5\n"
    )
    assert q(warehouse, "SELECT getSetting('max_block_size')", session_id=sid)[2] == b"777\n"
    assert q(warehouse, "SELECT getSetting('max_threads')", session_id=sid, max_threads="1")[2] == b"1\n"
    assert q(warehouse, "SELECT getSetting('max_threads') = 1", session_id=sid)[2] == b"0\n"
    assert (
        q(warehouse, "SELECT currentDatabase()", session_id=sid, database=scratch_db)[2]
        == f"{scratch_db}\n".encode()
    )
    assert q(warehouse, "SELECT currentDatabase()", session_id=sid)[2] == b"default\n"
    # A SET inside the session after a per-request override still sticks.
    q(warehouse, "SELECT 1", session_id=sid, max_block_size="9")
    q(warehouse, "SET max_block_size = 888", session_id=sid, max_block_size="9")
    assert q(warehouse, "SELECT getSetting('max_block_size')", session_id=sid)[2] == b"888\n"


def test_rejected_setting_leaves_the_session_intact(warehouse):
    sid = str(uuid.uuid4())
    q(warehouse, "SET max_block_size = 4321", session_id=sid)
    status, headers, _ = q(warehouse, "SELECT 1", session_id=sid, max_block_size="6", no_such_setting="1")
    assert headers["x-clickhouse-exception-code"] == "115"
    assert q(warehouse, "SELECT getSetting('max_block_size')", session_id=sid)[2] == b"4321\n"


def test_get_in_a_session_is_read_only_but_sees_its_settings(warehouse, scratch_db):
    sid = str(uuid.uuid4())
    q(warehouse, f"CREATE TABLE {scratch_db}.t (a UInt8) ENGINE = MergeTree ORDER BY a", session_id=sid)
    q(warehouse, "SET max_block_size = 999", session_id=sid)
    q(warehouse, f"USE {scratch_db}", session_id=sid)
    assert q(warehouse, "SELECT getSetting('max_block_size'), currentDatabase()", "GET", session_id=sid)[
        2
    ] == (f"999\t{scratch_db}\n".encode())
    status, headers, _ = q(warehouse, "INSERT INTO t VALUES (1)", "GET", session_id=sid)
    assert headers["x-clickhouse-exception-code"] == "164"
    assert q(warehouse, "INSERT INTO t VALUES (1)", session_id=sid)[0] == 200  # POST still writes


def test_session_check_lock_and_close(warehouse):
    sid = str(uuid.uuid4())
    status, headers, _ = q(warehouse, "SELECT 1", session_id=sid, session_check="1")
    assert headers["x-clickhouse-exception-code"] == "372"
    assert q(warehouse, "SELECT 1", session_id=sid)[0] == 200
    assert q(warehouse, "SELECT 1", session_id=sid, session_check="1")[0] == 200

    slow = threading.Thread(target=q, args=(warehouse, "SELECT sleep(1.5)"), kwargs={"session_id": sid})
    slow.start()
    import time

    time.sleep(0.4)
    status, headers, _ = q(warehouse, "SELECT 1", session_id=sid)
    slow.join()
    assert headers["x-clickhouse-exception-code"] == "373"

    assert q(warehouse, "SELECT 1", session_id=sid, close_session="1")[0] == 200
    status, headers, _ = q(warehouse, "SELECT 1", session_id=sid, session_check="1")
    assert headers["x-clickhouse-exception-code"] == "372"


def test_invalid_session_timeout(warehouse):
    status, headers, _ = q(warehouse, "SELECT 1", session_id="s", session_timeout="abc")
    assert headers["x-clickhouse-exception-code"] == "374"
