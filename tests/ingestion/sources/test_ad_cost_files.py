"""Ad cost CSV files source against the simulator's cost files and the embedded warehouse."""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.ad_cost_files import ad_cost_files_source
from ingestion.ad_cost_files.parsing import parse_file
from ingestion.pipelines import make_pipeline

from .marketing_helpers import column_types, extended_world, last_day, malformed_world, quarantined, scalar

SOURCE = "ad_cost_files"
TABLE = "raw.ad_cost_files__ad_costs"


def world_rows(costs_dir: Path) -> dict[tuple, tuple]:
    """(network, date, campaign_id) → (impressions, clicks, cost) of every well-formed CSV row."""
    out = {}
    for path in sorted(costs_dir.glob("*/*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                out[(path.parent.name, dt.date.fromisoformat(r["date"]), r["campaign_id"])] = (
                    int(r["impressions"]),
                    int(r["clicks"]),
                    Decimal(r["cost"]),
                )
    return out


def loaded(ch) -> dict[tuple, tuple]:
    rows = ch.query(f"SELECT network, date, campaign_id, impressions, clicks, cost FROM {TABLE}").result_rows
    out = {tuple(r[:3]): tuple(r[3:]) for r in rows}
    assert len(out) == len(rows), "duplicate keys"
    return out


def received(ch, pipeline) -> int:
    """Rows the sink received for the cost table in the pipeline's last load."""
    loads = pipeline.last_trace.last_load_info.loads_ids
    if not loads:  # nothing extracted, nothing loaded
        return 0
    load_id = loads[-1]
    return (
        scalar(
            ch,
            "SELECT sum(rows_received) FROM raw._loads WHERE load_id = {l:String} AND table = 'ad_cost_files__ad_costs'",
            l=load_id,
        )
        or 0
    )


@pytest.fixture
def costs(world_dir, tmp_path) -> Path:
    """A copy of the world's cost files the test may change."""
    target = tmp_path / "ad_costs"
    shutil.copytree(world_dir / "ad_costs", target)
    return target


def test_every_row_lands_typed_and_a_rerun_reads_nothing(clean_source, costs, warehouse, monkeypatch) -> None:
    pipeline = clean_source(SOURCE)
    monkeypatch.setenv("SOURCES__AD_COST_FILES__DIRECTORY", str(costs))  # config as in production
    pipeline.run(ad_cost_files_source())
    ch = warehouse.client()
    assert loaded(ch) == world_rows(costs)
    assert {k[0] for k in loaded(ch)} == {"vk_ads", "mytarget"}
    types = column_types(ch, "ad_cost_files__ad_costs")
    assert types["cost"] == "Nullable(Decimal(18, 6))" and types["date"] == "Date32"
    assert types["network"] == "LowCardinality(String)" and types["campaign_id"] == "String"
    assert (
        types["impressions"] == "Nullable(Int64)" and types["currency"] == "LowCardinality(Nullable(String))"
    )
    assert (
        scalar(
            ch, f"SELECT countIf(source_file != concat(network, '/', toString(date), '.csv')) FROM {TABLE}"
        )
        == 0
    )
    manifest = pipeline.state["sources"][SOURCE]["resources"]["ad_costs"]["files"]
    assert sorted(manifest) == sorted(p.relative_to(costs).as_posix() for p in costs.glob("*/*.csv"))

    # again: every file unchanged, none is read, nothing is sent
    pipeline.run(ad_cost_files_source())
    assert received(ch, pipeline) == 0
    ch.close()


def test_a_changed_file_is_read_again_and_a_touched_one_is_not(clean_source, costs, warehouse) -> None:
    pipeline = clean_source(SOURCE)
    pipeline.run(ad_cost_files_source(directory=str(costs)))
    ch = warehouse.client()
    before = scalar(ch, f"SELECT count() FROM {TABLE}")

    # same bytes, new modification time (a re-sync): hashed, not loaded
    touched = costs / "vk_ads" / "2026-10-01.csv"
    os.utime(touched, (1_900_000_000, 1_900_000_000))
    # new bytes: the network corrected yesterday's cost
    changed = costs / "mytarget" / "2026-10-05.csv"
    lines = changed.read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    cells[8] = "999.99"
    changed.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")

    pipeline.run(ad_cost_files_source(directory=str(costs)))
    assert received(ch, pipeline) == len(lines) - 1  # only the changed file was read
    # its unchanged rows are already stored; the corrected row is a new version of its key
    assert scalar(ch, f"SELECT count() FROM {TABLE}") == before + 1
    latest = ch.query(
        f"SELECT argMax(cost, _loaded_at) FROM {TABLE} WHERE network = 'mytarget' AND campaign_id = {{c:String}} "
        "AND date = '2026-10-05'",
        parameters={"c": cells[1]},
    ).result_rows[0][0]
    assert latest == Decimal("999.99")
    ch.close()


def test_next_run_reads_only_the_new_days_files(
    clean_source, world_dir, world_config, warehouse, ch_settings, tmp_path
) -> None:
    pipeline = clean_source(SOURCE)
    pipeline.run(ad_cost_files_source(directory=str(world_dir / "ad_costs")))
    bigger = extended_world(world_config)
    # a fresh machine, and the files re-exported elsewhere (new paths on disk, new mtimes)
    again = make_pipeline(SOURCE, pipelines_dir=tmp_path / "elsewhere", settings=ch_settings)
    again.run(ad_cost_files_source(directory=str(bigger / "ad_costs")))
    ch = warehouse.client()
    new_day = last_day(bigger).isoformat()
    new_files = sorted((bigger / "ad_costs").glob(f"*/{new_day}.csv"))
    assert len(new_files) == 2
    assert received(ch, again) == sum(len(p.read_text().splitlines()) - 1 for p in new_files)
    assert loaded(ch) == world_rows(bigger / "ad_costs")
    ch.close()


def test_bad_rows_and_files_are_quarantined_and_good_rows_load(
    clean_source, costs, world_dir, warehouse
) -> None:
    (costs / "vk_ads" / "2026-10-02.csv").open("a", encoding="utf-8").write(
        "2026-10-02,999,Bad cost,vk,cpc,x,10,1,n/a,RUB\n2026-10-02,998,Extra,vk,cpc,x,10,1,5.00,RUB,oops\n"
    )
    (costs / "other").mkdir()
    (costs / "other" / "2026-10-03.csv").write_text("day,spend\n2026-10-03,12.5\n", encoding="utf-8")
    (costs / "other" / "2026-10-04.csv").write_bytes(b"date,campaign_id,cost\n2026-10-04,1,\xff\xfe\n")
    pipeline = clean_source(SOURCE)
    pipeline.run(ad_cost_files_source(directory=str(costs)))
    ch = warehouse.client()
    assert loaded(ch) == world_rows(world_dir / "ad_costs")  # every good row, nothing else
    bad = {b["location"]: b["reason"] for b in quarantined(ch, SOURCE)}
    assert bad["vk_ads/2026-10-02.csv line 3"] == "cost: not a decimal amount: 'n/a'"
    assert bad["vk_ads/2026-10-02.csv line 4"] == "expected 10 columns (header), got 11"
    assert bad["other/2026-10-03.csv"].startswith("required column(s) date, campaign_id, cost missing")
    assert bad["other/2026-10-04.csv"].startswith("not utf-8 text")
    payloads = {b["location"]: b["payload"] for b in quarantined(ch, SOURCE)}
    assert "n/a" in payloads["vk_ads/2026-10-02.csv line 3"]

    # the simulator's own malformed cost rows
    pipeline = clean_source(SOURCE)
    world = malformed_world()
    pipeline.run(ad_cost_files_source(directory=str(world / "ad_costs")))
    reasons = sorted(b["reason"] for b in quarantined(ch, SOURCE))
    assert len(reasons) == 2 and "cost: not a decimal amount: 'n/a'" in reasons, reasons
    assert any(r.startswith("expected 10 columns (header), got 11") for r in reasons)
    assert (
        scalar(ch, f"SELECT count() FROM {TABLE}")
        == sum(len(p.read_text().splitlines()) - 1 for p in (world / "ad_costs").glob("*/*.csv")) - 2
    )
    ch.close()


def test_an_explicit_date_range_reads_only_those_files_even_if_unchanged(
    clean_source, costs, warehouse
) -> None:
    pipeline = clean_source(SOURCE)
    pipeline.run(ad_cost_files_source(directory=str(costs)))
    day = dt.date(2026, 10, 3)
    pipeline.run(ad_cost_files_source(directory=str(costs), start_date=day, end_date=day))
    ch = warehouse.client()
    assert received(ch, pipeline) == sum(
        len(p.read_text().splitlines()) - 1 for p in costs.glob(f"*/{day}.csv")
    )
    assert loaded(ch) == world_rows(costs)  # re-read, nothing duplicated
    ch.close()


def test_semicolons_and_decimal_commas() -> None:
    parsed = parse_file(
        "\ufeffDate;Campaign_ID;Cost;Clicks\n2026-10-01;a-1;141,26;3\n2026-10-01;a-2;1.234,5;1\n"
    )
    assert parsed.rows == [
        {"date": dt.date(2026, 10, 1), "campaign_id": "a-1", "cost": Decimal("141.26"), "clicks": 3}
    ]
    assert parsed.bad[0].line == 3 and parsed.bad[0].reason.startswith("cost: not a decimal amount")
