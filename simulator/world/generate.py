"""``generate_world``: build every table, log file and truth file of one world.

Layout of the output directory (schemas in simulator/README.md):

    world.json                      config, simulated now, row counts
    tables/<entity>.parquet         what the sandbox servers render into wire formats
    player_logs/YYYY/MM/DD/part-NNNN.jsonl.gz   Snowplow enriched media events (by collector day)
    ad_costs/<network>/<YYYY-MM-DD>.csv         VK Ads and myTarget daily cost exports
    truth/<name>.parquet            ground truth for tests and metric checks
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import datetime as dt
import io
import multiprocessing
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from simulator.config import DAY_MS, WorldConfig
from simulator.rng import np_rng
from simulator.world import malformed as badmod
from simulator.world.campaigns import TOUCH_FIELDS, Marketing, ad_daily_stats, build_marketing
from simulator.world.catalogue import Catalogue, CatalogueIndex, build_catalogue
from simulator.world.chunk import CHUNK_TABLES, ChunkResult, ChunkSim, Context
from simulator.world.population import Population, build_population, email_hash
from simulator.world.reference import CHANNELS, CITIES, GENRES, NETWORKS, PLANS
from simulator.world.tables import SCHEMAS, TS, read_parquet

FORMAT_VERSION = 1
OWNED = ("tables", "truth", "player_logs", "ad_costs", "world.json")
_CTX: Context | None = None  # set in the parent before forking workers


def generate_world(cfg: WorldConfig, out_dir: str | Path) -> Path:
    """Generate the world described by ``cfg`` into ``out_dir`` (replacing a previous world there).

    Returns the output directory. Same config -> byte-identical files.
    """
    global _CTX
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in OWNED:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    (out / "tables").mkdir()
    (out / "truth").mkdir()
    (out / "player_logs").mkdir()
    cat = build_catalogue(cfg)
    mk = build_marketing(cfg)
    pop = build_population(cfg, mk)
    n_chunks = max(1, -(-len(pop) // cfg.chunk_people))
    ctx = Context(cfg, pop, mk, CatalogueIndex(cat, cfg), out, badmod.plan_player_lines(cfg, n_chunks))
    _CTX = ctx
    counts: dict[str, int] = {}
    player_events = 0
    bad_player: list[tuple[str, int, bytes]] = []
    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for res in _run_chunks(ctx, n_chunks):
            for name, table in res.tables.items():
                w = writers.get(name)
                if w is None:
                    w = writers[name] = pq.ParquetWriter(
                        _table_path(out, name), SCHEMAS[name], compression="zstd"
                    )
                if table.num_rows:
                    w.write_table(table, row_group_size=1_000_000)
                counts[name] = counts.get(name, 0) + table.num_rows
            player_events += sum(res.player_events_per_day.values())
            bad_player.extend(res.bad_player_lines)
    finally:
        for w in writers.values():
            w.close()
        _CTX = None
    _finish_identity(out, pop, cfg)
    content = _content_snapshot(cat, cfg)
    _write(content, out / "tables" / "content.parquet")
    _write(_content_truth(cat, cfg), out / "truth" / "content.parquet")
    clicks: dict[tuple[int, int], int] = {}
    for cid, day in zip(pop["campaign_id"].tolist(), pop["arrival_day"].tolist(), strict=True):
        if cid:
            clicks[(cid, day)] = clicks.get((cid, day), 0) + 1
    stats = ad_daily_stats(cfg, mk, clicks)
    ad_stats = pa.table(
        {
            "date": pa.array(stats["date_ms"], TS).cast(pa.date32()),
            "date_ms": pa.array(stats["date_ms"], TS),
            **{
                k: stats[k]
                for k in ("campaign_id", "network", "ad_network_type", "device", "impressions", "clicks")
            },
            "cost": pa.array(stats["cost"], pa.float64()),
        }
    )
    _write(ad_stats, out / "tables" / "ad_stats.parquet")
    _write(_campaigns_table(mk), out / "tables" / "campaigns.parquet")
    _write(_touches_table(mk), out / "tables" / "touches.parquet")
    _write(_plans_table(), out / "tables" / "plans.parquet")
    users = _users_table(pop, cfg)
    _write(users, out / "tables" / "auth_users.parquet")
    _write(_people_truth(pop, mk, cfg), out / "truth" / "people.parquet")
    bad_rows = badmod.plan_table_rows(
        cfg, out / "tables", ad_stats, content, int(pc.max(users["user_id"]).as_py() or 100_000)
    )
    bad_rows += _write_ad_costs(cfg, mk, ad_stats, out)
    _write(badmod.malformed_table(bad_rows), out / "tables" / "malformed.parquet")
    truth_bad = [
        dict(source=r["source"], location=r["location"], reason=r["reason"], kind=r["kind"], key=r["key"])
        for r in bad_rows
    ]
    truth_bad += [
        dict(
            source="player_logs",
            location=f"{path} line {line}",
            reason=badmod.REASONS[badmod.player_reason(j)],
            kind=badmod.player_reason(j),
            key=f"{path}:{line}",
        )
        for path, line, j in bad_player
    ]
    _write(
        pa.Table.from_pylist(
            truth_bad,
            schema=pa.schema(
                [
                    ("source", pa.string()),
                    ("location", pa.string()),
                    ("reason", pa.string()),
                    ("kind", pa.string()),
                    ("key", pa.string()),
                ]
            ),
        ),
        out / "truth" / "malformed_rows.parquet",
    )
    counts.update(
        content=content.num_rows,
        ad_stats=ad_stats.num_rows,
        auth_users=users.num_rows,
        people=len(pop),
        player_events=player_events,
        malformed_rows=len(truth_bad),
    )
    config = cfg.to_dict()
    manifest = {
        "format_version": FORMAT_VERSION,
        "config": config,
        "now": cfg.now.isoformat().replace("+00:00", "Z"),
        "start": dt.datetime.fromtimestamp(cfg.start_ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z"),
        "data_start": dt.datetime.fromtimestamp(cfg.data_start_ms / 1000, dt.UTC)
        .isoformat()
        .replace("+00:00", "Z"),
        "counts": dict(sorted(counts.items())),
    }
    (out / "world.json").write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    )
    return out


def _run_chunk(index: int) -> ChunkResult:
    assert _CTX is not None
    return ChunkSim(_CTX, index).run()


def _run_chunks(ctx: Context, n_chunks: int) -> Iterator[ChunkResult]:
    workers = max(1, min(ctx.cfg.workers, n_chunks))
    if workers == 1:
        for i in range(n_chunks):
            yield _run_chunk(i)
        return
    # pyarrow imports pandas lazily on its first list conversion; doing that once here lets the
    # forked workers inherit it instead of each paying the import (about a second without .pyc files).
    pa.array(["warm-up"])
    # fork: workers inherit the already-built context instead of rebuilding or unpickling it
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as ex:
        yield from ex.map(_run_chunk, range(n_chunks))


def _table_path(out: Path, name: str) -> Path:
    if name.startswith("truth_"):
        return out / "truth" / f"{name[6:]}.parquet"
    return out / "tables" / f"{name}.parquet"


def _write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")


def _finish_identity(out: Path, pop: Population, cfg: WorldConfig) -> None:
    """Merge per-person identifier rows, add yclids and flag identifiers used by several people."""
    raw_path = out / "truth" / "identity_raw.parquet"
    raw = read_parquet(raw_path)
    raw_path.unlink()
    yc = pop["yclid"]
    m = yc > 0
    extra = pa.table(
        {
            "id_type": pa.array(["yclid"] * int(m.sum()), pa.string()),
            "id_value": pa.array([str(v) for v in yc[m].tolist()], pa.string()),
            "person_id": pa.array(pop["person_id"][m], pa.int64()),
        }
    )
    t = _served_only(pa.concat_tables([raw, extra]), out)
    counts = t.group_by(["id_type", "id_value"]).aggregate([("person_id", "count_distinct")])
    shared = counts.filter(pc.greater(counts["person_id_count_distinct"], 1))
    shared_keys = {
        (a, b) for a, b in zip(shared["id_type"].to_pylist(), shared["id_value"].to_pylist(), strict=True)
    }
    is_shared = [
        (a, b) in shared_keys
        for a, b in zip(t["id_type"].to_pylist(), t["id_value"].to_pylist(), strict=True)
    ]
    t = t.append_column("is_shared", pa.array(is_shared, pa.bool_()))
    t = t.sort_by([("id_type", "ascending"), ("id_value", "ascending"), ("person_id", "ascending")])
    _write(t, out / "truth" / "identity.parquet")


# App identifiers are recorded when a device is used, but an offline device's data may be
# received only after "now": keep the ones that some served AppMetrica table carries.
_APP_ID_COLUMNS = {
    "appmetrica_device_id": "appmetrica_device_id",
    "appmetrica_installation_id": "installation_id",
    "google_aid": "google_aid",
    "ios_ifa": "ios_ifa",
}


def _served_only(identity: pa.Table, out: Path) -> pa.Table:
    """Drop app identifiers that no served table of this world contains."""
    seen: dict[str, set[str]] = {kind: set() for kind in _APP_ID_COLUMNS}
    tables = ("appmetrica_events", "appmetrica_sessions_starts", "appmetrica_installations")
    devices = read_parquet(out / "tables" / "appmetrica_devices.parquet")
    by_device = {
        str(d["appmetrica_device_id"]): d
        for d in devices.select(["appmetrica_device_id", "google_aid", "ios_ifa"]).to_pylist()
    }
    for name in tables:
        t = read_parquet(
            out / "tables" / f"{name}.parquet", columns=["appmetrica_device_id", "installation_id"]
        )
        for device, installation in zip(
            t["appmetrica_device_id"].to_pylist(), t["installation_id"].to_pylist(), strict=True
        ):
            seen["appmetrica_device_id"].add(str(device))
            seen["appmetrica_installation_id"].add(str(installation))
            fields = by_device.get(str(device)) or {}
            seen["google_aid"].add(str(fields.get("google_aid") or ""))
            seen["ios_ifa"].add(str(fields.get("ios_ifa") or ""))
    # The auth service also records the app device a login came from.
    logins = read_parquet(out / "tables" / "auth_logins.parquet", columns=["client_type", "client_id"])
    for kind, client_id in zip(
        logins["client_type"].to_pylist(), logins["client_id"].to_pylist(), strict=True
    ):
        if kind in ("android", "ios"):
            seen["appmetrica_device_id"].add(str(client_id))
    keep = [
        kind not in seen or value in seen[kind]
        for kind, value in zip(identity["id_type"].to_pylist(), identity["id_value"].to_pylist(), strict=True)
    ]
    return identity.filter(pa.array(keep, pa.bool_()))


def _ms_to_date(ms: int | None) -> dt.date | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date()


def _content_snapshot(cat: Catalogue, cfg: WorldConfig) -> pa.Table:
    """The catalogue as the content API shows it at simulated now."""
    now = cfg.now_ms
    rows = [i for i in range(len(cat)) if cat.created_ms[i] < now]
    upd = [
        cat.update_ms[i]
        if cat.update_ms[i] is not None and cat.update_ms[i] < now
        else int(cat.created_ms[i])
        for i in rows
    ]
    return pa.table(
        {
            "content_id": pa.array(cat.content_id[rows], pa.int64()),
            "content_type": [cat.content_type[i] for i in rows],
            "parent_id": pa.array([cat.parent_id[i] for i in rows], pa.int64()),
            "series_id": pa.array([cat.series_id[i] for i in rows], pa.int64()),
            "season_number": pa.array([cat.season_number[i] for i in rows], pa.int32()),
            "episode_number": pa.array([cat.episode_number[i] for i in rows], pa.int32()),
            "title": [cat.title[i] for i in rows],
            "genres": pa.array([cat.genres[i] for i in rows], pa.list_(pa.string())),
            "duration_sec": pa.array([cat.duration_sec[i] for i in rows], pa.int32()),
            "credits_start_sec": pa.array([cat.credits_start_sec[i] for i in rows], pa.int32()),
            "release_year": pa.array([cat.release_year[i] for i in rows], pa.int32()),
            "is_original": [cat.is_original[i] for i in rows],
            "is_free": [cat.is_free[i] for i in rows],
            "age_rating": [cat.age_rating[i] for i in rows],
            "production_cost": pa.array([cat.production_cost[i] for i in rows], pa.float64()),
            "licence_cost": pa.array([cat.licence_cost[i] for i in rows], pa.float64()),
            "licence_start": pa.array([_ms_to_date(cat.licence_start_ms[i]) for i in rows], pa.date32()),
            "licence_end": pa.array([_ms_to_date(cat.licence_end_at(i, now - 1)) for i in rows], pa.date32()),
            "created_at": pa.array(cat.created_ms[rows], TS),
            "updated_at": pa.array(upd, TS),
        }
    )


def _content_truth(cat: Catalogue, cfg: WorldConfig) -> pa.Table:
    rows = [i for i in range(len(cat)) if cat.created_ms[i] < cfg.now_ms]
    return pa.table(
        {
            "content_id": pa.array(cat.content_id[rows], pa.int64()),
            "is_churn_saver": [cat.is_original[i] for i in rows],
            "base_completion": pa.array(cat.completion[rows], pa.float64()),
        }
    )


def _campaigns_table(mk: Marketing) -> pa.Table:
    rows = []
    for c in mk.campaigns:
        for ad_id, group_id, content, phrase in c.ads:
            rows.append(
                dict(
                    campaign_id=c.campaign_id,
                    channel=c.channel,
                    network=c.network,
                    campaign_name=c.name,
                    utm_source=c.utm_source,
                    utm_medium=c.utm_medium,
                    utm_campaign=c.utm_campaign,
                    start_day=c.start_day,
                    end_day=c.end_day,
                    ad_id=ad_id,
                    ad_group_id=group_id,
                    utm_content=content,
                    utm_term=phrase,
                )
            )
    return pa.Table.from_pylist(rows)


def _touches_table(mk: Marketing) -> pa.Table:
    t = mk.touches
    cols = {
        "touch_id": pa.array(range(len(t.rows)), pa.int32()),
        "kind": t.kind,
        "channel": t.channel,
        "campaign_id": pa.array(t.campaign_id, pa.int64()),
        "referer": t.referer,
    }
    for f in TOUCH_FIELDS:
        cols[f] = [r[f] for r in t.rows]
    return pa.table(cols)


def _plans_table() -> pa.Table:
    return pa.Table.from_pylist(
        [
            dict(
                plan_id=p.plan_id,
                name=p.name,
                price=p.price,
                currency="RUB",
                period_months=p.period_months,
                trial_days=p.trial_days,
            )
            for p in PLANS
        ]
    )


def _users_table(pop: Population, cfg: WorldConfig) -> pa.Table:
    """Auth-service users as of simulated now (a profile edit may have changed the city)."""
    m = pop["user_id"] > 0
    idx = np.flatnonzero(m)
    order = idx[np.argsort(pop["user_id"][idx], kind="stable")]
    now = cfg.now_ms
    upd = pop["profile_update_ms"][order]
    moved = (upd >= 0) & (upd < now)
    city_idx = np.where(moved, pop["moved_city"][order], pop["city"][order])
    return pa.table(
        {
            "user_id": pa.array(pop["user_id"][order], pa.int64()),
            "email_hash": [email_hash(cfg.seed, int(p)) for p in pop["person_id"][order]],
            "birth_year": pa.array(pop["birth_year"][order], pa.int32()),
            "gender": ["female" if g else "male" for g in pop["gender"][order]],
            "city": [CITIES[c].name_ru or None for c in city_idx],
            "region": [CITIES[c].region_ru or None for c in city_idx],
            "created_at": pa.array(pop["reg_ms"][order], TS),
            "updated_at": pa.array(np.where(moved, upd, pop["reg_ms"][order]), TS),
            "_person_id": pa.array(pop["person_id"][order], pa.int64()),
        }
    )


def _people_truth(pop: Population, mk: Marketing, cfg: WorldConfig) -> pa.Table:
    now = cfg.now_ms
    reg = pop["reg_ms"]
    registered = (reg >= 0) & (reg < now)
    touch = pop["touch_id"]
    camp = pop["campaign_id"]
    t = mk.touches
    return pa.table(
        {
            "person_id": pa.array(pop["person_id"], pa.int64()),
            "user_id": pa.array([int(u) if u > 0 else None for u in pop["user_id"]], pa.int64()),
            "channel": [CHANNELS[c].name for c in pop["channel"]],
            "first_campaign_id": pa.array([int(c) if c else None for c in camp], pa.int64()),
            "first_utm_source": [t.rows[i]["UTMSource"] or None for i in touch],
            "first_utm_campaign": [t.rows[i]["UTMCampaign"] or None for i in touch],
            "first_touch_id": pa.array(touch, pa.int32()),
            "yclid": pa.array([str(v) if v else None for v in pop["yclid"]], pa.string()),
            "arrival_at": pa.array(pop["arrival_ms"], TS),
            "arrival_date": pa.array(pop["arrival_ms"], TS).cast(pa.date32()),
            "acquisition_platform": [("web", "android", "ios")[p] for p in pop["acq_platform"]],
            "registered_at": pa.array(
                [int(r) if ok else None for r, ok in zip(reg, registered, strict=True)], TS
            ),
            "birth_year": pa.array(pop["birth_year"], pa.int32()),
            "gender": ["female" if g else "male" for g in pop["gender"]],
            "city": [CITIES[c].name_en or None for c in pop["city"]],
            "household_partner_id": pa.array(
                [int(p) if p > 0 else None for p in pop["partner_id"]], pa.int64()
            ),
            "is_staff": pa.array(pop["is_staff"], pa.bool_()),
            "bad_connection": pa.array(pop["bad_conn"], pa.bool_()),
            "favourite_genre": [GENRES[g] for g in pop["fav_genre"]],
        }
    )


def _write_ad_costs(cfg: WorldConfig, mk: Marketing, ad_stats: pa.Table, out: Path) -> list[dict]:
    """Daily cost CSVs for the networks without an API here (VK Ads, myTarget)."""
    camp = {c.campaign_id: c for c in mk.campaigns}
    nets = [NETWORKS[ch]["network"] for ch in ("vk_ads", "other_paid")]
    rng = np_rng(cfg.seed, "malformed", 3)
    bad_plan: dict[tuple[str, int], list[str]] = {}
    for k in range(max(0, cfg.malformed_rows)):
        bad_plan.setdefault((nets[k % 2], int(rng.integers(cfg.first_day, cfg.days))), []).append(
            "non_numeric_cost" if k % 2 == 0 else "wrong_column_count"
        )
    rows_by = {}
    for r in ad_stats.filter(pc.is_in(ad_stats["network"], pa.array(nets))).to_pylist():
        rows_by.setdefault((r["network"], r["date"]), []).append(r)
    bad_rows: list[dict] = []
    header = [
        "date",
        "campaign_id",
        "campaign_name",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "impressions",
        "clicks",
        "cost",
        "currency",
    ]
    for net in nets:
        for day in range(cfg.first_day, cfg.days):
            d = dt.date.fromordinal(cfg.start_date.toordinal() + day)
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(header)
            lines = 1
            for r in sorted(rows_by.get((net, d), []), key=lambda x: x["campaign_id"]):
                c = camp[r["campaign_id"]]
                w.writerow(
                    [
                        d.isoformat(),
                        c.campaign_id,
                        c.name,
                        c.utm_source,
                        c.utm_medium,
                        c.utm_campaign,
                        r["impressions"],
                        r["clicks"],
                        f"{r['cost']:.2f}",
                        "RUB",
                    ]
                )
                lines += 1
            rel = f"ad_costs/{net}/{d.isoformat()}.csv"
            for kind in bad_plan.get((net, day), []):
                c = next(x for x in mk.campaigns if x.network == net)
                if kind == "non_numeric_cost":
                    w.writerow(
                        [
                            d.isoformat(),
                            c.campaign_id,
                            c.name,
                            c.utm_source,
                            c.utm_medium,
                            c.utm_campaign,
                            "10",
                            "1",
                            "n/a",
                            "RUB",
                        ]
                    )
                else:
                    w.writerow(
                        [
                            d.isoformat(),
                            c.campaign_id,
                            c.name,
                            c.utm_source,
                            c.utm_medium,
                            c.utm_campaign,
                            "10",
                            "1",
                            "12.50",
                            "RUB",
                            "extra",
                        ]
                    )
                lines += 1
                bad_rows.append(
                    dict(
                        source="ad_costs",
                        kind=kind,
                        key=f"{rel}:{lines}",
                        day=d,
                        payload="{}",
                        location=f"{rel} line {lines}",
                        reason=badmod.REASONS[kind],
                    )
                )
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(buf.getvalue(), encoding="utf-8")
    return bad_rows


__all__ = ["CHUNK_TABLES", "DAY_MS", "generate_world"]
