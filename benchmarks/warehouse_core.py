"""The warehouse core on a simulated platform of about 10M player events: build times and the
latency of the queries a product dashboard sends.

- build: a world is ingested into a fresh embedded warehouse and `dbt build` (every model and
  data test; unit tests are CI's) runs from scratch; then the same world one day later (the
  simulator's prefix-stable extension) is ingested on top and `dbt build` runs again,
  incrementally. Target: incremental <= 0.15 of the full build, both measured in this run.
  The product marts' share: the summed execution time of their models in each of the two builds.
- queries: p50 / p95 over 20 runs of each dashboard query (funnels and retention read from the
  marts; one ad-hoc funnel computed live with the funnel macro over int_events), beside the
  HTTP round trip of `SELECT 1` in the same run as the floor. Target p95 <= 1 s per mart query.

Worlds are cached in benchmarks/results/worlds (generation is not what is measured).
Environment: BENCH_CORE_PEOPLE (default 29,000 arrivals over 30 days, about 10M player events),
BENCH_CORE_REPEAT (20), BENCH_CORE_SELECT (a dbt selection; default the whole project), PREDICTO_TEST_PG_DSN (the auth service sandbox's PostgreSQL).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from runner.simulation import overridden_environment

from .common import ROOT, Metric, Report, peak_rss_mb, start_server, timed

PEOPLE = int(os.environ.get("BENCH_CORE_PEOPLE", 29_000))
DAYS = 30
REPEAT = int(os.environ.get("BENCH_CORE_REPEAT", 20))
PG_DSN = os.environ.get("PREDICTO_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
CACHE = ROOT / "benchmarks" / "results" / "worlds"
SCHEMA = "bench"
BUILD = ["build", "--exclude-resource-type", "unit_test", "--quiet"]
# BENCH_CORE_SELECT narrows both builds to a dbt selection (e.g. "+path:models/marts/product").
if os.environ.get("BENCH_CORE_SELECT"):
    BUILD += ["--select", *os.environ["BENCH_CORE_SELECT"].split(), "--indirect-selection", "cautious"]
PRODUCT_MODELS = (
    "fct_person_activity_daily",
    "fct_active_users_daily",
    "fct_user_lifecycle",
    "fct_retention_cohorts",
    "fct_revenue_cohorts",
    "fct_funnel_acquisition_persons",
    "fct_funnel_acquisition",
    "fct_funnel_content_persons",
    "fct_funnel_content",
    "fct_journey_paths",
    "fct_journey_transitions",
)

# What a product dashboard sends: funnel and retention charts over the marts ({marts} = database).
DASHBOARD_QUERIES = {
    "funnel by channel, last 28 entry days": """
        select breakdown_value, step_index, any(step_name), sum(persons), sum(persons_dropped),
            sum(persons_in_progress), sum(persons) / max(persons_entered_total) as conversion
        from (
            select *, sum(persons_entered) over (partition by breakdown_value, step_index) as persons_entered_total
            from {marts}.fct_funnel_acquisition
            where breakdown = 'acquisition_channel'
                and entry_date >= (select max(entry_date) from {marts}.fct_funnel_acquisition) - 27
        )
        group by breakdown_value, step_index order by breakdown_value, step_index
    """,
    "funnel time to convert by platform (persons)": """
        select entry_platform, count(), countIf(furthest_step >= 2), countIf(furthest_step >= 4),
            quantileExactIf(0.5)(dateDiff('second', visit_at, registration_at), registration_at is not null),
            quantileExactIf(0.5)(dateDiff('second', visit_at, first_payment_at), first_payment_at is not null)
        from {marts}.fct_funnel_acquisition_persons
        where entry_date >= (select max(entry_date) from {marts}.fct_funnel_acquisition_persons) - 27
        group by entry_platform order by entry_platform
    """,
    "content funnel by platform": """
        select breakdown_value, step_index, sum(persons), sum(persons_in_progress)
        from {marts}.fct_funnel_content
        where breakdown = 'entry_platform'
        group by breakdown_value, step_index order by breakdown_value, step_index
    """,
    "retention triangle, weekly first-seen cohorts": """
        select cohort_start, period_number, sum(cohort_persons), sum(persons_active_on),
            round(sum(persons_active_on) / sum(cohort_persons), 4)
        from {marts}.fct_retention_cohorts
        where cohort_type = 'first_seen' and retention_type = 'first_time' and period_grain = 'week'
        group by cohort_start, period_number order by cohort_start, period_number
    """,
    "D1/D7/D30 retention by channel": """
        select acquisition_channel, period_number, sum(persons_active_on) / sum(cohort_persons),
            sum(persons_active_on_or_after) / sum(cohort_persons)
        from {marts}.fct_retention_cohorts
        where cohort_type = 'first_seen' and retention_type = 'first_time' and period_grain = 'day'
            and period_number in (1, 7, 30) and is_period_complete
        group by acquisition_channel, period_number order by acquisition_channel, period_number
    """,
    "LTV triangle, monthly paid cohorts": """
        select cohort_start, period_number, sum(cumulative_revenue) / sum(cohort_persons)
        from {marts}.fct_revenue_cohorts
        where cohort_type = 'first_paid' and period_grain = 'month'
        group by cohort_start, period_number order by cohort_start, period_number
    """,
    "DAU / WAU / MAU chart": """
        select activity_date, dau, wau, mau, stickiness from {marts}.fct_active_users_daily
        where platform = 'all' and acquisition_channel = 'all' order by activity_date
    """,
}


def _world(config, name: str) -> Path:
    from simulator import generate_world

    path = CACHE / name
    if not (path / "world.json").exists():
        generate_world(config, path)
    return path


def _ingest(world: Path, settings, pipelines_dir: Path) -> None:
    from runner.simulation import ingest_world

    ingest_world(world, settings, pipelines_dir, PG_DSN)


def _dbt(args: list[str], port: int) -> tuple[float, float]:
    """Wall seconds of `dbt <args>`, and the summed execution seconds of the product marts in it."""
    from runner.dbt import run_dbt

    with overridden_environment(
        {"CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": str(port), "DBT_SCHEMA": SCHEMA}
    ):
        started = time.perf_counter()
        outcome = run_dbt(args)
        seconds = time.perf_counter() - started
    if not outcome.success:
        bad = [
            f"{r['unique_id']}: {r['message']}"
            for r in outcome.results
            if r["status"] not in ("success", "pass")
        ]
        raise RuntimeError(f"dbt {' '.join(args)} failed: {bad[:5] or outcome.error}")
    product = sum(
        r["seconds"]
        for r in outcome.results
        if r["unique_id"] in {f"model.predicto.{m}" for m in PRODUCT_MODELS}
    )
    return seconds, product


def _compiled_adhoc_funnel(port: int) -> str:
    """The ad-hoc funnel of analyses/product/funnel_summary_by_channel, compiled for this schema."""
    from dbt.cli.main import dbtRunner

    from runner.dbt import PROJECT_DIR

    with overridden_environment(
        {"CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": str(port), "DBT_SCHEMA": SCHEMA}
    ):
        result = dbtRunner().invoke(
            [
                "compile",
                "--select",
                "funnel_summary_by_channel",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--quiet",
            ]
        )
    if not result.success:
        raise RuntimeError(f"dbt compile failed: {result.exception}")
    return result.result.results[0].node.compiled_code


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=20, method="inclusive")
    return statistics.median(samples) * 1000, cuts[-1] * 1000


def run() -> Report:
    import clickhouse_connect

    from simulator import WorldConfig
    from warehouse.settings import ClickHouseSettings

    report = Report("warehouse_core")
    base_config = WorldConfig(people=PEOPLE, days=DAYS)
    base = _world(base_config, f"core-people{PEOPLE}-days{DAYS}")
    later = _world(base_config.extended(1), f"core-people{PEOPLE}-days{DAYS}-plus1")
    events = json.loads((base / "world.json").read_text())["counts"]["player_events"]
    work = Path(tempfile.mkdtemp(prefix="predicto-core-bench-"))
    proc, port = start_server(work / "server")
    try:
        settings = ClickHouseSettings(host="127.0.0.1", port=port)
        client = clickhouse_connect.get_client(host="127.0.0.1", port=port, send_receive_timeout=3600)
        started = time.perf_counter()
        _ingest(base, settings, work / "dlt")
        ingest_s = time.perf_counter() - started

        full_s, product_full_s = _dbt(BUILD, port)
        marts = f"{SCHEMA}_marts"
        int_events = client.command(f"select count() from {SCHEMA}_intermediate.int_events")

        # ------------------------------------------------------------ queries (on the full build)
        client.command("SELECT 1")
        floor = _percentiles(timed(lambda: client.command("SELECT 1"), REPEAT))
        for name, sql in DASHBOARD_QUERIES.items():
            query = sql.format(marts=marts)
            client.query(query)  # warm
            p50, p95 = _percentiles(timed(lambda q=query: client.query(q), REPEAT))
            m = report.add(Metric(f"{name}, p50", p50, "ms", floor[0], "info"))
            m = report.add(Metric(f"{name}, p95", p95, "ms", floor[1], "p95 <= 1000 ms"))
            m.ok = p95 <= 1000
        adhoc = _compiled_adhoc_funnel(port)
        client.query(adhoc)
        p50, p95 = _percentiles(timed(lambda: client.query(adhoc), REPEAT))
        report.add(Metric("ad-hoc funnel via the macro over int_events, p50", p50, "ms", floor[0], "info"))
        report.add(Metric("ad-hoc funnel via the macro over int_events, p95", p95, "ms", floor[1], "info"))

        # ------------------------------------------------------------ one day later, incrementally
        started = time.perf_counter()
        _ingest(later, settings, work / "dlt")
        ingest_day_s = time.perf_counter() - started
        incremental_s, product_incremental_s = _dbt(BUILD, port)

        report.add(Metric(f"dbt build, full ({events:,} player events)", full_s, "s", None, "reported"))
        m = report.add(
            Metric(
                "dbt build, incremental after one new day",
                incremental_s,
                "s",
                full_s,
                "<= 0.15 of full (ratio >= 6.7)",
            )
        )
        m.ok = incremental_s <= 0.15 * full_s
        report.add(
            Metric(
                "product marts in the full build (summed model time)", product_full_s, "s", None, "reported"
            )
        )
        m = report.add(
            Metric(
                "product marts in the incremental build (summed model time)",
                product_incremental_s,
                "s",
                product_full_s,
                "<= 0.15 of full (ratio >= 6.7)",
            )
        )
        m.ok = product_incremental_s <= 0.15 * product_full_s
        report.notes.append(
            f"world: {PEOPLE:,} arrivals over {DAYS} days + history, {events:,} player events, "
            f"{int_events:,} rows in int_events; ingest {ingest_s:.0f}s, one more day {ingest_day_s:.0f}s"
        )
        report.notes.append(
            "ratio column: for times, ceiling/value: full build / incremental run; for queries, the "
            "SELECT 1 round trip (p50 or p95) / the query's"
        )
        report.notes.append(f"server peak RSS {peak_rss_mb(proc.pid):.0f} MB; cores {os.cpu_count()}")
        client.close()
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(work, ignore_errors=True)
    return report


if __name__ == "__main__":
    r = run()
    r.print()
    r.save()
