"""Staging: every raw table has a documented source with freshness, keys are deduplicated to the
latest version, times are UTC, and test traffic is flagged — checked against the world's tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from runner.dbt import PROJECT_DIR

from .pipeline import dbt

STAGING = Path(PROJECT_DIR) / "models" / "staging"

# staging model -> (raw table, natural key expression over raw)
KEYS = {
    "stg_yandex_metrica__visits": ("yandex_metrica__visits", "(counter_id, visit_id)"),
    "stg_yandex_metrica__hits": ("yandex_metrica__hits", "(counter_id, watch_id)"),
    "stg_appmetrica__sessions_starts": (
        "appmetrica__sessions_starts",
        "(application_id, appmetrica_device_id, session_id)",
    ),
    "stg_appmetrica__installations": ("appmetrica__installations", "(application_id, installation_id)"),
    "stg_auth_service__users": ("auth_service__users", "user_id"),
    "stg_auth_service__logins": ("auth_service__logins", "login_id"),
    "stg_billing__payments": ("billing__payments", "id"),
    "stg_billing__refunds": ("billing__refunds", "id"),
    "stg_billing__subscriptions": ("billing__subscriptions", "subscription_id"),
    "stg_content_catalog__content": ("content_catalog__content", "content_id"),
    "stg_player_logs__events": ("player_logs__events", "event_id"),
    "stg_yandex_direct__campaign_stats": (
        "yandex_direct__campaign_stats",
        "(client_login, date, campaign_id, ad_network_type, device)",
    ),
    "stg_ad_cost_files__ad_costs": ("ad_cost_files__ad_costs", "(network, date, campaign_id)"),
}


def declared_sources() -> dict[str, dict]:
    tables = {}
    for path in STAGING.glob("*/_*__sources.yml"):
        for source in yaml.safe_load(path.read_text())["sources"]:
            for table in source["tables"]:
                tables[table["identifier"]] = {"source": source, "table": table}
    return tables


def test_every_raw_table_is_a_documented_source_with_freshness(built):
    raw = built.client.query_df(
        "select name from system.tables where database = 'raw' and name not like '\\_%'"
    )
    declared = declared_sources()
    assert set(raw["name"]) == set(declared)
    for identifier, entry in declared.items():
        assert entry["table"].get("description"), identifier
        config = entry["source"]["config"]
        assert config["loaded_at_field"] == "_loaded_at"
        assert {"warn_after", "error_after"} <= set(config["freshness"]), identifier


def test_source_freshness_passes_right_after_a_load(built):
    outcome = dbt(["source", "freshness"], built.settings, built.schema)
    assert outcome.success, [(r["unique_id"], r["status"]) for r in outcome.results]


def test_staging_keeps_one_row_per_natural_key(built):
    for model, (raw_table, key) in KEYS.items():
        staged = built.client.command(f"select count() from {built.db('staging')}.{model}")
        keys = built.client.command(f"select uniqExact({key}) from raw.{raw_table}")
        assert staged == keys, model


def test_staging_keeps_the_latest_version(built):
    """A payment loaded again with another status: staging shows the newest load."""
    rows = built.client.query_df(
        f"""
        select stg.payment_id, stg.status, latest.status as latest_status
        from {built.db("staging")}.stg_billing__payments as stg
        inner join (
            select id, argMax(status, _loaded_at) as status from raw.billing__payments group by id
        ) as latest on stg.payment_id = latest.id
        """
    )
    assert (rows["status"] == rows["latest_status"]).all()


def test_times_are_utc(built):
    visits = built.client.query_df(
        f"select visit_id, started_at from {built.db('staging')}.stg_yandex_metrica__visits"
    )
    truth = pd.read_parquet(
        built.world_dir / "tables" / "metrica_visits.parquet", columns=["visitID", "start_ms"]
    )
    truth["visit_id"] = truth["visitID"].astype(str)
    both = truth.merge(visits, on="visit_id")
    assert len(both) == len(visits)
    started = pd.to_datetime(both["started_at"], utc=True)
    truth_started = pd.to_datetime(both["start_ms"], utc=True)
    assert ((started - truth_started).abs() < pd.Timedelta("1s")).all()

    events = built.client.query_df(
        f"select count() as n, min(event_at) as first_at, max(event_at) as last_at "
        f"from {built.db('staging')}.stg_appmetrica__events"
    )
    app_truth = pd.read_parquet(
        built.world_dir / "tables" / "appmetrica_events.parquet", columns=["event_ms"]
    )
    assert pd.to_datetime(events["first_at"][0], utc=True) == pd.to_datetime(
        app_truth["event_ms"].min(), utc=True
    ).floor("s")


def test_test_payments_are_flagged(built):
    flagged = built.client.command(
        f"select countIf(is_test) from {built.db('staging')}.stg_billing__payments"
    )
    truth = pd.read_parquet(built.world_dir / "tables" / "billing_payments.parquet", columns=["test"])
    assert flagged == int(truth["test"].sum())
    assert flagged > 0
