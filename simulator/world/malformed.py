"""Planned bad rows: each source gets ``malformed_rows`` broken records in its own wire format.

Bad rows are *added* next to good ones (copies of a real record with one field broken, or junk
lines), so the clean data still equals the truth. Every one is listed in
``truth/malformed_rows.parquet`` with where it is and why it is bad. Their placement depends on the
window, so worlds with ``malformed_rows > 0`` are deliberately not prefix-stable.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from simulator.config import DAY_MS, WorldConfig
from simulator.rng import np_rng, uuid_from
from simulator.world.reference import MSK_OFFSET_MS
from simulator.world.tables import read_parquet

MALFORMED_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("kind", pa.string()),
        ("key", pa.string()),
        ("day", pa.date32()),
        ("payload", pa.string()),
        ("location", pa.string()),
        ("reason", pa.string()),
    ]
)

REASONS = {
    "wrong_tab_count": "row has one field fewer than the header (tab count differs)",
    "non_numeric_id": "UInt64 id column holds a non-numeric value",
    "bad_timestamp": "timestamp column is not a number",
    "wrong_column_count": "CSV row has an extra column",
    "non_numeric_cost": "money column is not a number",
    "bad_amount": "amount.value is not a decimal string",
    "bad_duration": "duration_sec is not an integer",
    "orphan_user": "login references a user_id that does not exist",
    "truncated_json": "JSON line is cut off mid-object",
    "not_json": "line is not JSON at all",
}


def plan_player_lines(cfg: WorldConfig, n_chunks: int) -> dict[tuple[int, int], list[tuple[int, bytes]]]:
    """Junk lines for player logs, keyed by (day, chunk); positions are hints clipped to the file."""
    out: dict[tuple[int, int], list[tuple[int, bytes]]] = {}
    if cfg.malformed_rows <= 0:
        return out
    rng = np_rng(cfg.seed, "malformed", 1)
    for k in range(cfg.malformed_rows):
        day = int(rng.integers(cfg.first_day, cfg.days))
        chunk = int(rng.integers(0, n_chunks))
        line = int(rng.integers(0, 2000))
        if k % 2 == 0:
            junk = (
                b'{"event_id":"'
                + uuid_from(cfg.seed, "badline", k).encode()
                + b'","app_id":"kino-web","platform":"web","event_name":"play_ev\n'
            )
        else:
            junk = b"\x00\x00<html><body>502 Bad Gateway</body></html>\n"
        out.setdefault((day, chunk), []).append((line, junk))
    return out


def player_reason(junk: bytes) -> str:
    return "truncated_json" if junk.startswith(b"{") else "not_json"


def _pick(table: pa.Table, n: int, rng: np.random.Generator) -> list[int]:
    if table.num_rows == 0:
        return []
    return sorted(int(i) for i in rng.choice(table.num_rows, size=min(n, table.num_rows), replace=False))


def msk_date(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp((ms + MSK_OFFSET_MS) / 1000, dt.UTC).date()


def utc_date(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date()


def plan_table_rows(
    cfg: WorldConfig, tables_dir, ad_stats: pa.Table, content: pa.Table, max_user_id: int
) -> list[dict]:
    """Malformed records for the API-served sources, drawn from rows that really exist."""
    n = cfg.malformed_rows
    if n <= 0:
        return []
    rng = np_rng(cfg.seed, "malformed", 2)
    rows: list[dict] = []

    def add(source: str, kind: str, key: str, day: dt.date, payload: object, location: str) -> None:
        rows.append(
            dict(
                source=source,
                kind=kind,
                key=key,
                day=day,
                payload=orjson.dumps(payload).decode(),
                location=location,
                reason=REASONS[kind],
            )
        )

    visits = read_parquet(tables_dir / "metrica_visits.parquet", columns=["visitID", "start_ms"])
    for k, i in enumerate(_pick(visits, n, rng)):
        vid = visits["visitID"][i].as_py()
        d = msk_date(int(visits["start_ms"][i].value))
        kind = "wrong_tab_count" if k % 2 == 0 else "non_numeric_id"
        add("metrica_visits", kind, str(vid), d, {}, f"ym:s:date={d} ym:s:visitID={vid} (extra copy)")
    hits = read_parquet(tables_dir / "metrica_hits.parquet", columns=["watchID", "hit_ms"])
    for k, i in enumerate(_pick(hits, n, rng)):
        wid = hits["watchID"][i].as_py()
        d = msk_date(int(hits["hit_ms"][i].value))
        kind = "wrong_tab_count" if k % 2 == 0 else "non_numeric_id"
        add("metrica_hits", kind, str(wid), d, {}, f"ym:pv:date={d} ym:pv:watchID={wid} (extra copy)")
    events = read_parquet(
        tables_dir / "appmetrica_events.parquet",
        columns=["session_id", "event_name", "event_ms", "event_receive_ms"],
    )
    for k, i in enumerate(_pick(events, n, rng)):
        r = {c: events[c][i].as_py() for c in ("session_id", "event_name")}
        ev_ms = int(events["event_ms"][i].value)
        key = f"{r['session_id']}|{r['event_name']}|{ev_ms}"
        d = msk_date(ev_ms)
        kind = "bad_timestamp" if k % 2 == 0 else "wrong_column_count"
        add(
            "appmetrica_events",
            kind,
            key,
            d,
            {},
            f"event_date={d} session_id={r['session_id']} event_name={r['event_name']} (extra copy)",
        )
    installs = read_parquet(
        tables_dir / "appmetrica_installations.parquet", columns=["installation_id", "install_ms"]
    )
    for i in _pick(installs, n, rng):
        iid = installs["installation_id"][i].as_py()
        d = msk_date(int(installs["install_ms"][i].value))
        add(
            "appmetrica_installations",
            "bad_timestamp",
            iid,
            d,
            {},
            f"install_date={d} installation_id={iid} (extra copy)",
        )
    direct = ad_stats.filter(pc.equal(ad_stats["network"], "yandex_direct"))
    for i in _pick(direct, n, rng):
        cid = direct["campaign_id"][i].as_py()
        d = utc_date(int(direct["date_ms"][i].value))
        add(
            "direct_stats",
            "non_numeric_cost",
            str(cid),
            d,
            {"ad_network_type": direct["ad_network_type"][i].as_py(), "device": direct["device"][i].as_py()},
            f"Date={d} CampaignId={cid} (extra row)",
        )
    payments = read_parquet(
        tables_dir / "billing_payments.parquet", columns=["id", "created_at", "doc", "test"]
    )
    for k, i in enumerate(_pick(payments, n, rng)):
        doc = orjson.loads(payments["doc"][i].as_py())
        doc["id"] = doc["id"][:-12] + f"{k:012x}"[::-1].replace("0", "b")
        doc["amount"] = {"value": "abc", "currency": "RUB"}
        created = int(payments["created_at"][i].value)
        add("billing_payments", "bad_amount", doc["id"], utc_date(created), doc, f"payment id={doc['id']}")
    for k, i in enumerate(_pick(content, n, rng)):
        cid = content["content_id"][i].as_py()
        add(
            "content",
            "bad_duration",
            str(900_000 + k),
            utc_date(int(content["updated_at"][i].value)),
            {"copy_of": cid},
            f"content_id={900_000 + k} (copy of {cid})",
        )
    for k in range(n):
        lid = uuid_from(cfg.seed, "orphan-login", k)
        t = cfg.data_start_ms + int(rng.integers(0, (cfg.days - cfg.first_day) * DAY_MS))
        add(
            "auth_logins",
            "orphan_user",
            lid,
            utc_date(t),
            {"login_id": lid, "user_id": max_user_id + 1000 + k, "logged_in_at": t},
            f"logins.login_id={lid}",
        )
    return rows


def malformed_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=MALFORMED_SCHEMA)
