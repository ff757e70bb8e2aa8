"""Generated worlds: determinism, prefix stability, referential and truth consistency."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sim_helpers import contexts, read_player_events, rebuild_view, sessions

from simulator import WorldConfig, generate_world
from simulator.world.player import KINDS


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _tab(world: Path, name: str, truth: bool = False) -> pa.Table:
    return pq.read_table(world / ("truth" if truth else "tables") / f"{name}.parquet")


def _ms(col: pa.ChunkedArray) -> list[int]:
    return col.cast(pa.int64()).to_pylist()


TINY = WorldConfig(seed=3, people=150, days=5, history_days=3, chunk_people=60, titles=80, malformed_rows=2)


def test_same_config_gives_identical_bytes_whatever_the_workers(tmp_path: Path) -> None:
    a = generate_world(dataclasses.replace(TINY, workers=1), tmp_path / "a")
    b = generate_world(dataclasses.replace(TINY, workers=2), tmp_path / "b")
    da, db = _digest(a), _digest(b)
    assert da == db
    manifest = orjson.loads((a / "world.json").read_bytes())
    assert WorldConfig.from_dict(manifest["config"]) == dataclasses.replace(TINY, workers=2)
    assert manifest["config"] == TINY.to_dict()  # lets callers recognise an existing world
    assert any(k.startswith("player_logs/") for k in da)
    c = generate_world(dataclasses.replace(TINY, seed=4, workers=2), tmp_path / "c")
    assert _digest(c) != da


def test_extending_the_window_keeps_the_past(tmp_path: Path) -> None:
    old_cfg = WorldConfig(seed=5, people=360, days=6, history_days=10, chunk_people=150, titles=120)
    new_cfg = old_cfg.extended(2)
    assert new_cfg.total_people > old_cfg.total_people
    old = generate_world(old_cfg, tmp_path / "old")
    new = generate_world(new_cfg, tmp_path / "new")
    horizon = old_cfg.now_ms
    # Immutable events: identical sets before the old horizon.
    for name, col in {
        "metrica_visits": "start_ms",
        "metrica_hits": "hit_ms",
        "appmetrica_events": "event_receive_ms",
        "appmetrica_sessions_starts": "session_start_receive_ms",
        "appmetrica_installations": "install_receive_ms",
        "auth_logins": "logged_in_at",
        "billing_refunds": "created_at",
    }.items():
        ta, tb = _tab(old, name), _tab(new, name)
        tb = tb.filter(pc.less(tb[col].cast(pa.int64()), horizon))
        assert ta.num_rows == tb.num_rows, name
        assert sorted(map(repr, ta.to_pylist())) == sorted(map(repr, tb.to_pylist())), name

    # Payments: same documents; only refund bookkeeping may change later.
    def docs(world: Path) -> list[bytes]:
        t = _tab(world, "billing_payments")
        t = t.filter(pc.less(t["created_at"].cast(pa.int64()), horizon))
        out = []
        for d in t["doc"].to_pylist():
            doc = orjson.loads(d)
            doc.pop("refunded_amount", None)
            doc.pop("refundable", None)
            out.append(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))
        return sorted(out)

    assert docs(old) == docs(new)
    # State snapshots: every record last updated before the old horizon is unchanged.
    for name, key in {
        "billing_subscriptions": "subscription_id",
        "auth_users": "user_id",
        "content": "content_id",
    }.items():
        ta, tb = _tab(old, name), _tab(new, name)
        old_rows = {r[key]: r for r in ta.to_pylist()}
        for r in tb.filter(pc.less(tb["updated_at"].cast(pa.int64()), horizon)).to_pylist():
            assert old_rows[r[key]] == r, (name, r[key])
        changed = set(old_rows) - {
            r[key] for r in tb.filter(pc.less(tb["updated_at"].cast(pa.int64()), horizon)).to_pylist()
        }
        upd = dict(zip(tb[key].to_pylist(), _ms(tb["updated_at"]), strict=True))
        assert all(upd[k] >= horizon for k in changed), name
    # Files: every old player-log part and ad-cost file is byte-identical in the new world.
    for rel, digest in _digest(old).items():
        if rel.startswith(("player_logs/", "ad_costs/")):
            assert _digest(new)[rel] == digest, rel
    sa, sb = _tab(old, "ad_stats"), _tab(new, "ad_stats")
    assert sa.equals(sb.filter(pc.less(sb["date_ms"].cast(pa.int64()), horizon)))


def test_nothing_exists_at_or_after_now(world: Path) -> None:
    cfg = WorldConfig.from_dict(orjson.loads((world / "world.json").read_bytes())["config"])
    now = cfg.now_ms
    for name, col in {
        "metrica_visits": "start_ms",
        "metrica_hits": "hit_ms",
        "appmetrica_events": "event_receive_ms",
        "auth_logins": "logged_in_at",
        "billing_payments": "created_at",
        "billing_subscriptions": "updated_at",
        "auth_users": "updated_at",
        "content": "updated_at",
    }.items():
        assert max(_ms(_tab(world, name)[col])) < now, name
    for e in read_player_events(world):
        assert e["collector_tstamp"] < cfg.now.strftime("%Y-%m-%dT%H:%M:%S")


def test_payments_subscriptions_and_logins_belong_to_known_users(world: Path) -> None:
    users = set(_tab(world, "auth_users")["user_id"].to_pylist())
    assert users
    subs = _tab(world, "billing_subscriptions")
    assert set(subs["user_id"].to_pylist()) <= users
    sub_ids = set(subs["subscription_id"].to_pylist())
    pays = _tab(world, "billing_payments")
    for doc, test in zip(pays["doc"].to_pylist(), pays["test"].to_pylist(), strict=True):
        d = orjson.loads(doc)
        assert int(d["metadata"]["user_id"]) in users
        assert (
            d["amount"]["currency"] == "RUB" and f"{float(d['amount']['value']):.2f}" == d["amount"]["value"]
        )
        assert d["created_at"].endswith("Z") and len(d["created_at"]) == 24
        assert d["metadata"]["kind"] in ("trial", "first", "renewal", "reactivation")
        if not test:
            assert d["metadata"]["subscription_id"] in sub_ids
        if d["status"] == "canceled":
            assert d["cancellation_details"]["reason"]
    refunds = _tab(world, "billing_refunds")
    pay_ids = set(pays["id"].to_pylist())
    assert set(refunds["payment_id"].to_pylist()) <= pay_ids
    assert set(_tab(world, "auth_logins")["user_id"].to_pylist()) <= users


def test_identifiers_are_where_truth_says(world: Path) -> None:
    ident = _tab(world, "identity", truth=True).to_pylist()
    owners: dict[tuple[str, str], set[int]] = defaultdict(set)
    for r in ident:
        owners[(r["id_type"], r["id_value"])].add(r["person_id"])
    visits = _tab(world, "metrica_visits")
    for cid, pid in zip(visits["clientID"].to_pylist(), visits["_person_id"].to_pylist(), strict=True):
        assert pid in owners[("metrica_client_id", str(cid))]
    ev = _tab(world, "appmetrica_events")
    for did, pid in zip(ev["appmetrica_device_id"].to_pylist(), ev["_person_id"].to_pylist(), strict=True):
        assert pid in owners[("appmetrica_device_id", str(did))]
    users = _tab(world, "auth_users")
    uid_person = dict(zip(users["user_id"].to_pylist(), users["_person_id"].to_pylist(), strict=True))
    for uid, pid in uid_person.items():
        assert owners[("user_id", str(uid))] == {pid}
    logins = _tab(world, "auth_logins")
    kinds = {
        "web": "metrica_client_id",
        "android": "appmetrica_device_id",
        "ios": "appmetrica_device_id",
        "smart_tv": "tv_device_id",
    }
    for ct, cid, uid in zip(
        logins["client_type"].to_pylist(),
        logins["client_id"].to_pylist(),
        logins["user_id"].to_pylist(),
        strict=True,
    ):
        assert uid_person[uid] in owners[(kinds[ct], cid)]
    assert max(int(v) for (t, v) in owners if t == "metrica_client_id") > 2**63
    shared = [k for k, v in owners.items() if len(v) > 1]
    assert shared, "some devices are shared by two people of one household"
    flagged = {(r["id_type"], r["id_value"]) for r in ident if r["is_shared"]}
    assert flagged == set(shared)


def test_paid_arrivals_carry_campaign_utms_and_clicks_cover_them(world: Path) -> None:
    people = _tab(world, "people", truth=True).to_pylist()
    camps = {r["campaign_id"]: r for r in _tab(world, "campaigns").to_pylist()}
    visits = _tab(world, "metrica_visits").sort_by("start_ms").to_pylist()
    first = {}
    for v in visits:
        first.setdefault(v["_person_id"], v)
    checked = 0
    for p in people:
        if p["first_campaign_id"] is None or p["acquisition_platform"] != "web":
            continue
        q = parse_qs(urlsplit(first[p["person_id"]]["startURL"]).query)
        assert q["utm_campaign"] == [camps[p["first_campaign_id"]]["utm_campaign"]]
        assert ("yclid" in q) == (p["channel"] == "yandex_direct")
        checked += 1
    assert checked > 10
    stats = _tab(world, "ad_stats")
    clicks = Counter()
    for r in stats.to_pylist():
        clicks[(r["campaign_id"], r["date"])] += r["clicks"]
    arrivals = Counter((p["first_campaign_id"], p["arrival_date"]) for p in people if p["first_campaign_id"])
    for key, n in arrivals.items():
        assert clicks[key] >= n


def test_player_events_are_well_formed_and_match_truth(world: Path) -> None:
    events = read_player_events(world)
    assert len(events) > 5000
    content = {r["content_id"]: r for r in _tab(world, "content").to_pylist()}
    by_session = sessions(events)
    assert len({e["event_id"] for e in events}) == len(events)
    for e in events:
        assert e["event_name"] in KINDS
        assert e["unstruct_event"]["data"]["schema"].endswith(f"/{e['event_name']}/jsonschema/1-0-0")
        ctx = contexts(e)
        c = content[ctx["content"]["content_id"]]
        mp = ctx["media_player"]
        assert mp["duration"] == c["duration_sec"]
        assert 0 <= mp["currentTime"] <= mp["duration"]
        assert mp["ended"] == (e["event_name"] == "end_event")
        if e["event_name"] == "end_event":
            assert mp["currentTime"] == mp["duration"]
        assert e["collector_tstamp"] >= e["dvce_created_tstamp"]
    truth = {r["view_id"]: r for r in _tab(world, "views", truth=True).to_pylist()}
    assert set(by_session) <= set(truth)
    compared = 0
    rewatched = 0
    for vid, row in truth.items():
        if not row["received_complete"]:
            continue
        got = rebuild_view(by_session[vid])
        assert got["unique"] == row["unique_watched_sec"], vid
        assert got["furthest"] == row["furthest_position_sec"], vid
        assert got["paused"] == row["paused_sec"], vid
        assert got["buffering"] == row["buffering_sec"], vid
        assert got["events"] == row["events"], vid
        assert row["completed"] == (row["furthest_position_sec"] >= row["credits_start_sec"])
        rewatched += row["played_sec"] > row["unique_watched_sec"]
        compared += 1
    assert compared > 100 and rewatched > 0


def test_daily_activity_covers_every_session(world: Path) -> None:
    daily = {
        (r["person_id"], r["date"], r["platform"])
        for r in _tab(world, "daily_activity", truth=True).to_pylist()
    }
    for v in _tab(world, "metrica_visits").to_pylist():
        assert (v["_person_id"], v["start_ms"].date(), "web") in daily
    for r in _tab(world, "views", truth=True).to_pylist():
        assert (r["person_id"], r["started_at"].date(), r["platform"]) in daily


def test_subscription_truth_adds_up(world: Path) -> None:
    subs = _tab(world, "subscriptions", truth=True).to_pylist()
    events = _tab(world, "subscription_events", truth=True).to_pylist()
    pays = [orjson.loads(d) for d in _tab(world, "billing_payments")["doc"].to_pylist()]
    by_sub = defaultdict(float)
    for d in pays:
        if d["status"] == "succeeded" and not d["test"]:
            by_sub[d["metadata"]["subscription_id"]] += float(d["amount"]["value"])
    refunds = _tab(world, "billing_refunds").to_pylist()
    pay_sub = {d["id"]: d["metadata"]["subscription_id"] for d in pays}
    refunded = defaultdict(float)
    for r in refunds:
        refunded[pay_sub[r["payment_id"]]] += float(r["amount"])
    for s in subs:
        assert s["gross_revenue"] == pytest.approx(by_sub[s["subscription_id"]])
        assert s["net_revenue"] == pytest.approx(
            by_sub[s["subscription_id"]] - refunded[s["subscription_id"]]
        )
    kinds = Counter(e["event"] for e in events)
    for kind in (
        "trial_started",
        "converted",
        "renewed",
        "payment_failed",
        "recovered",
        "cancelled",
        "access_ended",
        "reactivated",
    ):
        assert kinds[kind] > 0, kind
    state = {r["subscription_id"]: r for r in _tab(world, "billing_subscriptions").to_pylist()}
    for s in subs:
        assert state[s["subscription_id"]]["status"] == s["status"]


def test_people_truth_matches_auth_users(world: Path) -> None:
    people = _tab(world, "people", truth=True)
    users = _tab(world, "auth_users")
    registered = people.filter(pc.is_valid(people["user_id"]))
    assert sorted(registered["user_id"].to_pylist()) == sorted(users["user_id"].to_pylist())
    reg = dict(zip(registered["user_id"].to_pylist(), _ms(registered["registered_at"]), strict=True))
    for uid, created in zip(users["user_id"].to_pylist(), _ms(users["created_at"]), strict=True):
        assert reg[uid] == created
    channels = set(people["channel"].to_pylist())
    assert {"yandex_direct", "vk_ads", "organic_search", "direct"} <= channels
    assert people.filter(pc.is_null(people["user_id"])).num_rows > 0  # some never register
    first_day = min(people["arrival_date"].to_pylist())
    assert first_day == dt.date(2026, 9, 1)  # 30 history days before the window
    assert sum(d >= dt.date(2026, 10, 1) for d in people["arrival_date"].to_pylist()) == 480


def test_behaviour_leaves_findable_signals(world: Path) -> None:
    """Trial conversion rises with viewing; channels differ in registration; free and paid both exist."""
    subs = _tab(world, "subscriptions", truth=True).to_pylist()
    views = defaultdict(list)
    for v in _tab(world, "views", truth=True).to_pylist():
        views[v["person_id"]].append(v)
    decided = []
    for s in subs:
        if s["had_trial"] and s["converted"] is not None:
            # viewing in the first 3 days of the trial, before the keep-or-cancel decision
            end = s["started_at"] + dt.timedelta(days=3)
            watched = sum(
                v["played_sec"] for v in views[s["person_id"]] if s["started_at"] <= v["started_at"] < end
            )
            decided.append((watched, s["converted"]))
    idle = [c for w, c in decided if w == 0]
    watching = [c for w, c in decided if w > 0]
    assert len(idle) >= 10 and len(watching) >= 10
    assert sum(watching) / len(watching) > sum(idle) / len(idle) + 0.15
    people = _tab(world, "people", truth=True).to_pylist()
    reg = defaultdict(list)
    for p in people:
        reg[p["channel"]].append(p["user_id"] is not None)
    rate = {ch: sum(v) / len(v) for ch, v in reg.items()}
    assert rate["direct"] > rate["other_paid"] + 0.1
