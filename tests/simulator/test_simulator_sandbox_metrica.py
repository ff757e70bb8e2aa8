"""Metrica Logs API sandbox over real HTTP: lifecycle, TSV format, errors."""

from __future__ import annotations

import datetime as dt

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sim_helpers import split_tsv_array, tsv_unescape

from simulator.sandbox import Sandbox
from simulator.sandbox.metrica import str_array, tsv_escape

COUNTER = 44147844
H = {"Authorization": "OAuth sandbox-metrica-token"}
VISIT_FIELDS = (
    "ym:s:visitID,ym:s:date,ym:s:dateTime,ym:s:clientID,ym:s:watchIDs,ym:s:goalsID,ym:s:goalsDateTime,"
    "ym:s:lastTrafficSource,ym:s:lastsignTrafficSource,ym:s:UTMSource,ym:s:lastUTMCampaign,"
    "ym:s:counterUserIDHash,ym:s:parsedParamsKey1,ym:s:parsedParamsKey2,ym:s:startURL,ym:s:regionCity"
)


def _base(sb: Sandbox) -> str:
    return f"{sb.urls['metrica']}/management/v1/counter/{COUNTER}"


def _fetch(sb: Sandbox, source: str, fields: str, d1: str, d2: str) -> tuple[list[str], list[list[str]], int]:
    base = _base(sb)
    params = {"date1": d1, "date2": d2, "source": source, "fields": fields}
    ev = httpx.get(f"{base}/logrequests/evaluate", params=params, headers=H)
    assert ev.status_code == 200 and ev.json()["log_request_evaluation"]["possible"] is True
    r = httpx.post(f"{base}/logrequests", params=params, headers=H)
    assert r.status_code == 200, r.text
    lr = r.json()["log_request"]
    assert lr["status"] == "created" and lr["fields"] == fields.split(",")
    rid = lr["request_id"]
    statuses = []
    for _ in range(5):
        st = httpx.get(f"{base}/logrequest/{rid}", headers=H).json()["log_request"]
        statuses.append(st["status"])
        if st["status"] == "processed":
            break
    assert statuses[0] == "created" and statuses[-1] == "processed"
    header = None
    rows: list[list[str]] = []
    for part in st["parts"]:
        body = httpx.get(f"{base}/logrequest/{rid}/part/{part['part_number']}/download", headers=H)
        assert body.status_code == 200
        assert len(body.content) == part["size"]
        lines = body.text.split("\n")
        assert lines[-1] == ""  # rows end with \n, last line empty
        assert lines[0] == "\t".join(fields.split(","))  # every part has its own header
        header = lines[0].split("\t")
        rows += [ln.split("\t") for ln in lines[1:-1]]
    cleaned = httpx.post(f"{base}/logrequest/{rid}/clean", headers=H)
    assert cleaned.json()["log_request"]["status"] == "cleaned_by_user"
    return header or [], rows, len(st["parts"])


def test_visits_lifecycle_and_rows_match_the_world(sandbox: Sandbox, world) -> None:
    header, rows, n_parts = _fetch(sandbox, "visits", VISIT_FIELDS, "2026-10-01", "2026-10-10")
    assert n_parts > 1
    visits = pq.read_table(world / "tables" / "metrica_visits.parquet")
    lo = int(dt.datetime(2026, 9, 30, 21, tzinfo=dt.UTC).timestamp() * 1000)  # 2026-10-01 00:00 MSK
    hi = int(dt.datetime(2026, 10, 10, 21, tzinfo=dt.UTC).timestamp() * 1000)
    ts = visits["start_ms"].cast(pa.int64())
    expected = visits.filter(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi)))
    assert len(rows) == expected.num_rows
    col = {name: i for i, name in enumerate(header)}
    assert {r[col["ym:s:visitID"]] for r in rows} == {str(v) for v in expected["visitID"].to_pylist()}
    assert any(int(r[col["ym:s:visitID"]]) > 2**63 for r in rows)
    for r in rows:
        assert len(r) == len(header)
        assert "2026-10-01" <= r[col["ym:s:date"]] <= "2026-10-10"
        assert r[col["ym:s:dateTime"]].startswith(r[col["ym:s:date"]])
        watch = split_tsv_array(r[col["ym:s:watchIDs"]])
        assert watch and all(w.isdigit() for w in watch)
        goals = split_tsv_array(r[col["ym:s:goalsID"]])
        assert len(goals) == len(split_tsv_array(r[col["ym:s:goalsDateTime"]]))
        if r[col["ym:s:counterUserIDHash"]] != "0":
            assert split_tsv_array(r[col["ym:s:parsedParamsKey1"]]) == ["user_id"]
    sources = {r[col["ym:s:lastTrafficSource"]] for r in rows}
    assert {"ad", "organic", "direct"} <= sources
    # lastsign never reports a plain "direct" visit once the client had a significant source
    assert sum(r[col["ym:s:lastsignTrafficSource"]] == "direct" for r in rows) < sum(
        r[col["ym:s:lastTrafficSource"]] == "direct" for r in rows
    )


def test_hits_escape_quotes_and_backslashes(sandbox: Sandbox, world) -> None:
    fields = "ym:pv:watchID,ym:pv:date,ym:pv:title,ym:pv:URL,ym:pv:goalsID,ym:pv:clientID"
    header, rows, _ = _fetch(sandbox, "hits", fields, "2026-10-01", "2026-10-10")
    hits = pq.read_table(world / "tables" / "metrica_hits.parquet")
    titles = dict(zip(map(str, hits["watchID"].to_pylist()), hits["title"].to_pylist(), strict=True))
    for r in rows:
        assert tsv_unescape(r[2]) == titles[r[0]]
    for r in rows:
        title = titles[r[0]]
        assert ("\\'" in r[2]) == ("'" in title)
        assert ("\\\\" in r[2]) == ("\\" in title)


def test_escaping_matches_clickhouse_tabseparated() -> None:
    # What ClickHouse itself prints for SELECT ['a\'b', 'c\td', 'x\\y'], 'q\'s\\t\tz' FORMAT TSV
    assert str_array(["a'b", "c\td", "x\\y"]) == "['a\\'b','c\\td','x\\\\y']"
    assert tsv_escape("q's\\t\tz") == "q\\'s\\\\t\\tz"
    assert split_tsv_array(str_array(["a'b", "", "c,d"])) == ["a'b", "", "c,d"]


def test_errors_follow_the_documented_format(sandbox: Sandbox) -> None:
    base = _base(sandbox)
    ok = {"date1": "2026-10-01", "date2": "2026-10-02", "source": "visits", "fields": "ym:s:visitID"}
    r = httpx.post(f"{base}/logrequests", params=ok)
    assert r.status_code == 401 and r.json()["errors"][0]["error_type"] == "unauthorized"
    r = httpx.post(f"{base}/logrequests", params=ok, headers={"Authorization": "OAuth wrong"})
    assert r.status_code == 403 and r.json()["errors"][0]["error_type"] == "invalid_token"
    r = httpx.post(
        f"{base}/logrequests", params=ok, headers={"Authorization": "OAuth sandbox-noaccess-token"}
    )
    assert r.status_code == 403 and r.json()["errors"][0]["error_type"] == "access_denied"
    r = httpx.post(f"{sandbox.urls['metrica']}/management/v1/counter/1/logrequests", params=ok, headers=H)
    assert r.status_code == 403
    r = httpx.post(f"{base}/logrequests", params={**ok, "fields": "ym:s:visitID,ym:s:bogus"}, headers=H)
    body = r.json()
    assert r.status_code == 400 and body["errors"][0]["error_type"] == "invalid_parameter"
    assert body["code"] == 400 and body["errors"][0]["location"] == "fields"
    r = httpx.post(f"{base}/logrequests", params={**ok, "fields": "ym:pv:watchID"}, headers=H)
    assert r.status_code == 400  # hit field in a visits request
    r = httpx.post(f"{base}/logrequests", params={**ok, "date2": "2026-10-13"}, headers=H)  # today (MSK)
    assert r.status_code == 400 and r.json()["errors"][0]["location"] == "date2"
    r = httpx.post(f"{base}/logrequests", params={k: v for k, v in ok.items() if k != "date1"}, headers=H)
    assert r.status_code == 400 and r.json()["errors"][0]["error_type"] == "missing_parameter"
    r = httpx.get(
        f"{base}/logrequests/evaluate", params={**ok, "date1": "2026-09-01", "date2": "2026-10-11"}, headers=H
    )
    ev = r.json()["log_request_evaluation"]
    assert ev["possible"] is False and ev["max_possible_day_quantity"] == 10


def test_cancel_list_and_state_rules(sandbox: Sandbox) -> None:
    base = _base(sandbox)
    params = {"date1": "2026-10-03", "date2": "2026-10-03", "source": "hits", "fields": "ym:pv:watchID"}
    rid = httpx.post(f"{base}/logrequests", params=params, headers=H).json()["log_request"]["request_id"]
    assert httpx.post(f"{base}/logrequest/{rid}/clean", headers=H).status_code == 400  # not processed yet
    assert httpx.get(f"{base}/logrequest/{rid}/part/0/download", headers=H).status_code == 400
    r = httpx.post(f"{base}/logrequest/{rid}/cancel", headers=H)
    assert r.json()["log_request"]["status"] == "canceled"
    listed = httpx.get(f"{base}/logrequests", headers=H).json()["requests"]
    assert any(x["request_id"] == rid and x["status"] == "canceled" for x in listed)
    assert httpx.post(f"{base}/logrequest/{rid}/cancel", headers=H).status_code == 400
