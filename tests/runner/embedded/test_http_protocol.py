"""The embedded warehouse speaks ClickHouse's HTTP interface: plain HTTP requests, no client library."""

from __future__ import annotations

import gzip
import http.client
import io
import json
import zlib
from urllib.parse import urlencode

import brotli
import lz4.frame
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard


def request(
    server,
    method: str,
    params: dict | None = None,
    body: bytes | None = None,
    headers: dict | None = None,
    path="/",
):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    url = path + ("?" + urlencode(params) if params else "")
    conn.request(method, url, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def get(server, query: str, **params):
    return request(server, "GET", {"query": query, **params})


def post(server, body: bytes | str, params: dict | None = None, headers: dict | None = None):
    if isinstance(body, str):
        body = body.encode()
    return request(server, "POST", params, body, headers)


def test_ping_and_bare_get(warehouse):
    assert request(warehouse, "GET", path="/ping")[2] == b"Ok.\n"
    assert request(warehouse, "GET")[2] == b"Ok.\n"


def test_get_and_post_queries_answer_with_clickhouse_headers(warehouse):
    status, headers, body = get(warehouse, "SELECT 1 + 1")
    assert (status, body) == (200, b"2\n")
    assert headers["x-clickhouse-format"] == "TabSeparated"
    assert headers["x-clickhouse-timezone"] == "UTC" or headers["x-clickhouse-timezone"].endswith("UTC")
    assert headers["x-clickhouse-server-display-name"]
    assert len(headers["x-clickhouse-exception-tag"]) == 16
    summary = json.loads(headers["x-clickhouse-summary"])
    assert {"read_rows", "written_rows", "result_rows", "elapsed_ns"} <= summary.keys()
    assert headers["content-type"].startswith("text/tab-separated-values")

    status, headers, body = post(warehouse, "SELECT 'a' AS x FORMAT JSONEachRow")
    assert (status, body) == (200, b'{"x":"a"}\n')
    assert headers["x-clickhouse-format"] == "JSONEachRow"


def test_query_id_is_echoed(warehouse):
    _, headers, _ = get(warehouse, "SELECT 1", query_id="my-query-1")
    assert headers["x-clickhouse-query-id"] == "my-query-1"
    _, headers, _ = get(warehouse, "SELECT 1")
    assert len(headers["x-clickhouse-query-id"]) == 36  # a fresh UUID otherwise


def test_query_split_between_url_and_body(warehouse):
    # ClickHouse joins the `query` parameter, a line break and the body.
    assert post(warehouse, "2 AS x", {"query": "SELECT 1 +"})[2] == b"3\n"


def test_database_and_default_format_parameters(warehouse, scratch_db):
    post(warehouse, f"CREATE TABLE {scratch_db}.t (a UInt8) ENGINE = Memory")
    post(warehouse, f"INSERT INTO {scratch_db}.t VALUES (7)")
    status, headers, body = get(
        warehouse, "SELECT a FROM t", database=scratch_db, default_format="JSONCompactEachRow"
    )
    assert (status, body) == (200, b"[7]\n")
    assert headers["x-clickhouse-format"] == "JSONCompactEachRow"
    # The FORMAT clause wins over default_format.
    assert get(warehouse, "SELECT 1 FORMAT CSV", default_format="JSON")[2] == b"1\n"


def test_insert_forms(warehouse, scratch_db):
    t = f"{scratch_db}.t"
    post(warehouse, f"CREATE TABLE {t} (a UInt32, s String) ENGINE = MergeTree ORDER BY a")
    assert (
        post(warehouse, b"1,one\n2,two\n", {"query": f"INSERT INTO {t} FORMAT CSV"})[0] == 200
    )  # data = body
    assert post(warehouse, f"INSERT INTO {t} FORMAT TSV\n3\tthree\n")[0] == 200  # data after the query line
    assert post(warehouse, f"INSERT INTO {t} VALUES (4, 'four'), (5, 'fi\\'ve')")[0] == 200
    assert post(warehouse, b"(6, 'six')", {"query": f"INSERT INTO {t} VALUES"})[0] == 200
    assert post(warehouse, f"INSERT INTO {t} SELECT 7, 'seven'")[0] == 200
    status, headers, _ = post(
        warehouse, b'{"a":8,"s":"eight"}\n', {"query": f"INSERT INTO {t} FORMAT JSONEachRow"}
    )
    assert json.loads(headers["x-clickhouse-summary"])["written_rows"] == "1"
    rows = (
        get(warehouse, f"SELECT a, s FROM {t} ORDER BY a FORMAT JSONCompactEachRow")[2].decode().splitlines()
    )
    assert [json.loads(r) for r in rows] == [
        [1, "one"],
        [2, "two"],
        [3, "three"],
        [4, "four"],
        [5, "fi've"],
        [6, "six"],
        [7, "seven"],
        [8, "eight"],
    ]


def test_chunked_request_body(warehouse, scratch_db):
    t = f"{scratch_db}.t"
    post(warehouse, f"CREATE TABLE {t} (n UInt64) ENGINE = MergeTree ORDER BY n")

    def body():
        for start in range(0, 100_000, 10_000):
            yield "".join(f"{i}\n" for i in range(start, start + 10_000)).encode()

    conn = http.client.HTTPConnection(warehouse.host, warehouse.port)
    conn.request(
        "POST", "/?" + urlencode({"query": f"INSERT INTO {t} FORMAT TSV"}), body=body(), encode_chunked=True
    )
    assert conn.getresponse().status == 200
    assert (
        get(warehouse, f"SELECT count(), sum(n) FROM {t}")[2] == f"100000\t{sum(range(100_000))}\n".encode()
    )


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
        ("lz4", lz4.frame.compress),
        ("br", brotli.compress),
    ],
)
def test_compressed_request_bodies(warehouse, scratch_db, encoding, compress):
    t = f"{scratch_db}.t"
    post(warehouse, f"CREATE TABLE {t} (n UInt32) ENGINE = MergeTree ORDER BY n")
    data = "".join(f"{i}\n" for i in range(1000)).encode()
    headers = {"Content-Encoding": encoding}
    assert post(warehouse, compress(data), {"query": f"INSERT INTO {t} FORMAT TSV"}, headers)[0] == 200
    # The query itself in a compressed body.
    assert (
        post(warehouse, compress(f"INSERT INTO {t} FORMAT TSV\n5000\n".encode()), headers=headers)[0] == 200
    )
    assert post(warehouse, compress(f"SELECT count() FROM {t}".encode()), headers=headers)[2] == b"1001\n"


@pytest.mark.parametrize(
    ("accept", "decompress"),
    [
        ("gzip", gzip.decompress),
        ("deflate", zlib.decompress),
        ("zstd", lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b)),
        ("lz4", lz4.frame.decompress),
        ("br", brotli.decompress),
    ],
)
def test_compressed_responses_when_enabled(warehouse, accept, decompress):
    query = "SELECT number FROM numbers(100000)"
    expected = "".join(f"{i}\n" for i in range(100_000)).encode()
    params = {"query": query, "enable_http_compression": "1"}
    status, headers, body = request(warehouse, "GET", params, headers={"Accept-Encoding": accept})
    assert headers["content-encoding"] == accept
    assert decompress(body) == expected
    # Without enable_http_compression the response stays plain, as in ClickHouse.
    _, headers, body = request(warehouse, "GET", {"query": query}, headers={"Accept-Encoding": accept})
    assert "content-encoding" not in headers and body == expected


def test_unknown_content_encoding_is_refused(warehouse):
    status, headers, body = post(warehouse, b"SELECT 1", headers={"Content-Encoding": "snappy-ish"})
    assert status == 500 and headers["x-clickhouse-exception-code"] == "89"


FORMATS_QUERY = (
    "SELECT number AS n, toString(number) AS s, toDate('2024-01-01') + number % 30 AS d, "
    "if(number % 3 = 0, NULL, number / 7) AS f FROM numbers({rows})"
)


@pytest.mark.parametrize("rows", [0, 3, 300_000])
@pytest.mark.parametrize(
    "fmt",
    [
        "TabSeparated",
        "TSVWithNames",
        "TSVWithNamesAndTypes",
        "CSV",
        "CSVWithNames",
        "JSONEachRow",
        "JSONCompactEachRow",
        "JSONCompactEachRowWithNamesAndTypes",
        "RowBinaryWithNamesAndTypes",
        "Native",
        "Values",
    ],
)
def test_row_formats_are_byte_identical_to_the_engine(warehouse, fmt, rows, local_chdb):
    query = FORMATS_QUERY.format(rows=rows) + f" FORMAT {fmt}"
    status, headers, body = get(warehouse, query)
    assert status == 200
    assert headers["x-clickhouse-format"] == fmt
    assert body == local_chdb.query(query, fmt).bytes()


@pytest.mark.parametrize("rows", [0, 5, 200_000])
def test_document_formats(warehouse, rows, local_chdb):
    query = FORMATS_QUERY.format(rows=rows)
    expected = local_chdb.query(query + " FORMAT Arrow", "Arrow").bytes()
    expected_table = pa.ipc.open_file(pa.BufferReader(expected)).read_all()
    for fmt in ("Parquet", "Arrow", "ArrowStream"):
        status, headers, body = get(warehouse, f"{query} FORMAT {fmt}")
        assert status == 200 and headers["content-type"] == "application/octet-stream"
        if fmt == "Parquet":
            table = pq.read_table(io.BytesIO(body))
        elif fmt == "Arrow":
            table = pa.ipc.open_file(pa.BufferReader(body)).read_all()
        else:
            table = pa.ipc.open_stream(pa.BufferReader(body)).read_all()
        assert table.num_rows == rows
        assert table.column("n").to_pylist() == expected_table.column("n").to_pylist()
        assert table.column("f").to_pylist() == expected_table.column("f").to_pylist()
    for fmt in ("JSON", "JSONCompact", "JSONColumns"):
        status, headers, body = get(warehouse, f"{query} FORMAT {fmt}")
        doc = json.loads(body)
        if fmt == "JSON":
            assert doc["rows"] == rows and [m["name"] for m in doc["meta"]] == ["n", "s", "d", "f"]
            assert [r["s"] for r in doc["data"]] == [str(i) for i in range(rows)]
        elif fmt == "JSONCompact":
            assert [r[0] for r in doc["data"]] == list(range(rows))
        else:
            assert doc["n"] == list(range(rows))


def test_pretty_and_show_statements(warehouse):
    status, _, body = get(warehouse, "SELECT 1 AS x FORMAT PrettyCompactMonoBlock")
    assert status == 200 and b"x" in body and b"1" in body
    status, headers, body = get(warehouse, "SHOW DATABASES FORMAT JSONEachRow")
    assert status == 200 and b'"name":"system"' in body
    status, _, body = get(warehouse, "DESCRIBE TABLE system.one FORMAT TSV")
    assert body.startswith(b"dummy\tUInt8")
    assert get(warehouse, "EXISTS TABLE system.one")[2] == b"1\n"


def test_query_parameters(warehouse):
    status, _, body = get(
        warehouse, "SELECT {a:UInt32} + {b:UInt32}, {s:String}", param_a="40", param_b="2", param_s="x'y"
    )
    assert body == b"42\tx\\'y\n"
    status, headers, body = get(warehouse, "SELECT {missing:UInt8}")
    assert status != 200 and headers["x-clickhouse-exception-code"] == "456"


def test_settings_in_url_apply_to_that_request(warehouse):
    assert get(warehouse, "SELECT getSetting('max_threads')", max_threads="1")[2] == b"1\n"
    assert get(warehouse, "SELECT getSetting('max_threads')")[2] != b"1\n"
    status, headers, body = get(warehouse, "SELECT 1", no_such_setting="1")
    assert status == 404 and headers["x-clickhouse-exception-code"] == "115"


def test_errors_look_like_clickhouse(warehouse):
    status, headers, body = get(warehouse, "SELEC 1")
    assert status == 400 and headers["x-clickhouse-exception-code"] == "62"
    assert body.startswith(b"Code: 62. DB::Exception: Syntax error")
    status, headers, body = get(warehouse, "SELECT * FROM no_such_db.t")
    assert status == 404 and headers["x-clickhouse-exception-code"] == "81"
    assert b"UNKNOWN_DATABASE" in body
    status, headers, _ = request(warehouse, "GET", {"query": "SELECT 1"}, path="/nope")
    assert status == 404


def test_error_after_first_rows_is_marked_in_the_body(warehouse):
    query = "SELECT throwIf(number = 1500000, 'boom') FROM numbers(3000000) SETTINGS max_block_size = 65536"
    status, headers, body = get(warehouse, query)
    assert status == 200  # rows were already sent
    tag = headers["x-clickhouse-exception-tag"].encode()
    assert b"__exception__\r\n" + tag in body
    assert b"Code: 395" in body and body.rstrip().endswith(b"__exception__")
    # With wait_end_of_query the server buffers, so the error gets its status.
    status, headers, body = get(warehouse, query, wait_end_of_query="1")
    assert status == 500 and headers["x-clickhouse-exception-code"] == "395"


def test_get_is_read_only(warehouse, scratch_db):
    t = f"{scratch_db}.t"
    post(warehouse, f"CREATE TABLE {t} (a UInt8) ENGINE = MergeTree ORDER BY a")
    status, headers, body = get(warehouse, f"INSERT INTO {t} VALUES (1)")
    assert headers["x-clickhouse-exception-code"] == "164" and b"readonly" in body
    status, headers, _ = get(warehouse, f"DROP TABLE {t}")
    assert headers["x-clickhouse-exception-code"] == "164"
    status, headers, _ = get(warehouse, "SELECT 1", readonly="0")  # cannot be lowered either
    assert headers["x-clickhouse-exception-code"] == "164"
    assert get(warehouse, f"SELECT count() FROM {t}")[2] == b"0\n"


def test_malformed_insert_changes_nothing(warehouse, scratch_db):
    t = f"{scratch_db}.t"
    post(warehouse, f"CREATE TABLE {t} (a UInt32, b Date) ENGINE = MergeTree ORDER BY a")
    post(warehouse, b"1,2024-01-01\n", {"query": f"INSERT INTO {t} FORMAT CSV"})
    status, headers, body = post(
        warehouse, b"2,2024-01-02\nthree,not-a-date\n", {"query": f"INSERT INTO {t} FORMAT CSV"}
    )
    assert status == 400 and headers["x-clickhouse-exception-code"] in ("27", "6", "72", "117")
    status, headers, _ = post(warehouse, f"INSERT INTO {t} VALUES (3, '2024-01-03'), (4, ")
    assert status != 200
    assert get(warehouse, f"SELECT count() FROM {t}")[2] == b"1\n"


def test_truncated_body_writes_nothing(warehouse, scratch_db):
    t = f"{scratch_db}.t"
    post(warehouse, f"CREATE TABLE {t} (a UInt32) ENGINE = MergeTree ORDER BY a")
    import socket

    payload = b"".join(b"%d\n" % i for i in range(1000))
    path = "/?" + urlencode({"query": f"INSERT INTO {t} FORMAT TSV"})
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload) * 2}\r\n\r\n".encode()
    with socket.create_connection((warehouse.host, warehouse.port)) as sock:
        sock.sendall(head + payload)  # promises twice as much, then hangs up
        sock.shutdown(socket.SHUT_WR)
        sock.recv(65536)
    assert get(warehouse, f"SELECT count() FROM {t}")[2] == b"0\n"


def test_into_outfile_and_from_infile_are_refused(warehouse):
    status, headers, _ = get(warehouse, "SELECT 1 INTO OUTFILE '/tmp/predicto-should-not-exist'")
    assert headers["x-clickhouse-exception-code"] == "358"
    status, headers, _ = post(warehouse, "INSERT INTO t FROM INFILE '/etc/passwd' FORMAT LineAsString")
    assert headers["x-clickhouse-exception-code"] == "78"


def test_post_without_length_is_refused(warehouse):
    import socket

    with socket.create_connection((warehouse.host, warehouse.port)) as sock:
        sock.sendall(b"POST /?query=SELECT+1 HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 411") and b"X-ClickHouse-Exception-Code: 381" in reply


def test_keep_alive_connection_serves_many_requests(warehouse):
    conn = http.client.HTTPConnection(warehouse.host, warehouse.port)
    for i in range(50):
        conn.request("POST", "/", body=f"SELECT {i}".encode())
        resp = conn.getresponse()
        assert resp.read() == f"{i}\n".encode()
    conn.request("POST", "/", body=b"SELECT (1")  # an error keeps the connection usable
    assert conn.getresponse().read().startswith(b"Code: 62")
    conn.request("GET", "/?query=SELECT+7")
    assert conn.getresponse().read() == b"7\n"
    conn.close()


def test_insert_select_from_input(warehouse, scratch_db):
    t = f"{scratch_db}.t"
    post(warehouse, f"CREATE TABLE {t} (a UInt32, doubled UInt64) ENGINE = MergeTree ORDER BY a")
    query = f"INSERT INTO {t} SELECT a, a * 2 FROM input('a UInt32') WHERE a != 2 FORMAT CSV"
    assert post(warehouse, b"1\n2\n3\n", {"query": query})[0] == 200  # data = body
    assert (
        post(warehouse, (query.replace("!= 2", "= 2") + "\n2\n").encode())[0] == 200
    )  # data after the query
    compressed = gzip.compress(b"10\n")
    assert post(warehouse, compressed, {"query": query}, {"Content-Encoding": "gzip"})[0] == 200
    assert get(warehouse, f"SELECT a, doubled FROM {t} ORDER BY a FORMAT CSV")[2] == b"1,2\n2,4\n3,6\n10,20\n"
