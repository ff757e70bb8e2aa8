"""Many clients at once: correct answers, no cross-talk, bounded memory, a server that survives."""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import psutil

from .test_http_protocol import request

CLIENTS = 20
ROUNDS = 15


def test_twenty_concurrent_clients_see_only_their_own_parameters_and_settings(warehouse, scratch_db):
    table = f"{scratch_db}.shared"
    admin = warehouse.client()
    admin.command(
        f"CREATE TABLE {table} (client UInt16, round UInt16, value String) ENGINE = MergeTree ORDER BY (client, round)"
    )
    admin.command(f"CREATE DATABASE IF NOT EXISTS {scratch_db}_side")
    admin.command(f"CREATE TABLE {scratch_db}_side.marker (x String) ENGINE = Memory")
    admin.command(f"INSERT INTO {scratch_db}_side.marker VALUES ('side')")
    errors: list[str] = []
    barrier = threading.Barrier(CLIENTS)

    def client_work(n: int) -> None:
        rnd = random.Random(n)
        client = warehouse.client()
        barrier.wait()
        for r in range(ROUNDS):
            token = f"c{n}-r{r}-{rnd.random()}"
            client.insert(table, [[n, r, token]], column_names=["client", "round", "value"])
            threads = 1 + n % 7
            got = client.query(
                "SELECT {token:String}, {n:UInt16} * 1000 + {r:UInt16}, getSetting('max_threads'), getSetting('max_block_size')",
                parameters={"token": token, "n": n, "r": r},
                settings={"max_threads": threads, "max_block_size": 1000 + n},
            ).result_rows[0]
            if got != (token, n * 1000 + r, threads, 1000 + n):
                errors.append(f"client {n} round {r}: {got}")
            # A plain HTTP request with settings and a database, no session at all.
            params = {
                "query": "SELECT getSetting('max_block_size'), currentDatabase(), (SELECT any(x) FROM marker)"
            }
            if n % 2:
                params.update(database=f"{scratch_db}_side", max_block_size=str(5000 + n))
                want = f"{5000 + n}\t{scratch_db}_side\tside\n".encode()
                status, _, body = request(warehouse, "GET", params)
                if body != want:
                    errors.append(f"client {n} round {r}: raw {status} {body!r}")
            mine = client.query(
                f"SELECT value FROM {table} WHERE client = {{n:UInt16}} ORDER BY round", parameters={"n": n}
            )
            if len(mine.result_rows) != r + 1 or mine.result_rows[-1][0] != token:
                errors.append(f"client {n} round {r}: sees {len(mine.result_rows)} own rows")
        client.close()

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client_work, range(CLIENTS)))
    assert not errors, errors[:5]
    assert admin.command(f"SELECT count() FROM {table}") == CLIENTS * ROUNDS
    assert admin.command(f"SELECT uniqExact(value) FROM {table}") == CLIENTS * ROUNDS
    # Nothing any client set is visible to a fresh one.
    assert admin.command("SELECT getSetting('max_block_size')") == 65409
    admin.command(f"DROP DATABASE {scratch_db}_side")


def test_ping_answers_while_a_long_query_runs(warehouse):
    done = threading.Event()

    def long_query() -> None:
        request(warehouse, "GET", {"query": "SELECT sleep(2)"})
        done.set()

    threading.Thread(target=long_query).start()
    time.sleep(0.3)
    started = time.perf_counter()
    assert request(warehouse, "GET", path="/ping")[2] == b"Ok.\n"
    assert request(warehouse, "GET", {"query": "SELECT 1"})[2] == b"1\n"
    assert time.perf_counter() - started < 1.0
    assert not done.is_set()
    done.wait(10)


def test_client_disconnecting_mid_result_does_not_hurt_the_server(warehouse):
    path = "/?" + urlencode({"query": "SELECT number, toString(number) FROM numbers(200000000)"})
    for _ in range(5):
        with socket.create_connection((warehouse.host, warehouse.port)) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            received = 0
            while received < 2_000_000:
                received += len(sock.recv(1 << 16))
    # The server goes on answering, and the abandoned queries were cancelled, not left running.
    assert request(warehouse, "GET", {"query": "SELECT 1"})[2] == b"1\n"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = request(
            warehouse,
            "GET",
            {
                "query": "SELECT count() FROM system.processes WHERE query LIKE '%200000000%' AND query NOT LIKE '%system.processes%'"
            },
        )[2]
        if body == b"0\n":
            break
        time.sleep(0.2)
    assert body == b"0\n"


def _anon_rss(pid: int) -> int:
    """Anonymous resident memory (heap), without file pages the kernel can drop at will."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return psutil.Process(pid).memory_info().rss


def test_large_result_streams_in_bounded_memory(warehouse):
    pid = warehouse.proc.pid
    before = _anon_rss(pid)
    peak = before
    conn = http.client.HTTPConnection(warehouse.host, warehouse.port)
    conn.request(
        "GET", "/?" + urlencode({"query": "SELECT number, repeat('x', 40) FROM numbers(12000000) FORMAT TSV"})
    )
    resp = conn.getresponse()
    total = 0
    while chunk := resp.read(1 << 20):
        total += len(chunk)
        peak = max(peak, _anon_rss(pid))
    assert total > 500_000_000  # ~0.6 GB went through
    assert peak - before < 250_000_000, f"server grew by {(peak - before) / 1e6:.0f} MB"


def test_large_insert_body_is_spooled_to_disk_not_memory(warehouse, scratch_db):
    table = f"{scratch_db}.big"
    warehouse.client().command(f"CREATE TABLE {table} (n UInt64, s String) ENGINE = MergeTree ORDER BY n")
    pid = warehouse.proc.pid
    spool = warehouse.data_dir / "spool"
    before = _anon_rss(pid)
    growth, spooled = [], []
    rows_per_chunk, chunks = 100_000, 50
    line = "x" * 60

    def body():
        # While the body is uploading the server only writes it to its spool file; the engine
        # reads it once complete. Sample the server between chunks.
        for c in range(chunks):
            yield "".join(f"{c * rows_per_chunk + i}\t{line}\n" for i in range(rows_per_chunk)).encode()
            time.sleep(0.01)
            growth.append(_anon_rss(pid) - before)
            spooled.append(sum(f.stat().st_size for f in spool.iterdir()))

    conn = http.client.HTTPConnection(warehouse.host, warehouse.port, timeout=300)
    conn.request(
        "POST",
        "/?" + urlencode({"query": f"INSERT INTO {table} FORMAT TSV"}),
        body=body(),
        encode_chunked=True,
    )
    assert conn.getresponse().status == 200
    assert warehouse.client().command(f"SELECT count() FROM {table}") == rows_per_chunk * chunks
    assert spooled[-2] > 300_000_000  # ~360 MB were on disk before the last chunk
    assert max(growth) < 64_000_000, f"server heap grew by {max(growth) / 1e6:.0f} MB while receiving"
    assert not list(spool.iterdir())  # and the spool file is gone afterwards
