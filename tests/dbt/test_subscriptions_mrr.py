"""Subscription marts: the MRR bridge's identities and the cohorts' LTV against billing in pandas.

LTV is recomputed from the simulator's billing tables (tables/billing_payments, billing_refunds:
what the sandbox serves), not from the warehouse, with staff test payments dropped.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytestmark = pytest.mark.usefixtures("built")

MOVEMENTS = ("new_mrr", "expansion_mrr", "contraction_mrr", "churn_mrr", "reactivation_mrr")


def _query(built, sql: str) -> pd.DataFrame:
    return built.client.query_df(sql.format(marts=built.db("marts")))


@pytest.fixture(scope="module")
def monthly(built) -> pd.DataFrame:
    columns = ", ".join(f"toFloat64({c}) as {c}" for c in ("opening_mrr", *MOVEMENTS, "closing_mrr"))
    frame = _query(
        built, f"select month_start, toString(plan_id) as plan_id, {columns} from {{marts}}.fct_mrr_monthly"
    )
    return frame.sort_values(["plan_id", "month_start"]).reset_index(drop=True)


def test_mrr_bridge_reconciles_month_to_month(monthly):
    """closing = opening + Σ movements; each month opens at the previous close (0 at the start);
    movements have their documented signs; plans add up to 'all' at the opening and the close."""
    assert monthly["month_start"].nunique() >= 2 and monthly["closing_mrr"].sum() > 0
    for plan, rows in monthly.groupby("plan_id"):
        bridged = rows["opening_mrr"] + rows[list(MOVEMENTS)].sum(axis=1)
        assert ((bridged - rows["closing_mrr"]).abs() < 0.005).all(), plan
        previous = rows["closing_mrr"].shift(1, fill_value=0.0)
        assert ((rows["opening_mrr"] - previous).abs() < 0.005).all(), plan
    for column in ("new_mrr", "expansion_mrr", "reactivation_mrr"):
        assert (monthly[column] >= 0).all(), column
    for column in ("contraction_mrr", "churn_mrr"):
        assert (monthly[column] <= 0).all(), column
    plans = monthly[monthly["plan_id"] != "all"].groupby("month_start")[["opening_mrr", "closing_mrr"]].sum()
    total = monthly[monthly["plan_id"] == "all"].set_index("month_start")[["opening_mrr", "closing_mrr"]]
    assert ((plans - total).abs() < 0.005).all().all()


def _billing(world_dir) -> pd.DataFrame:
    """Net revenue movements per user from the billing tables: successful non-test charges and
    their refunds (negative), with the user's first paid charge."""
    payments = pd.read_parquet(world_dir / "tables" / "billing_payments.parquet")
    refunds = pd.read_parquet(world_dir / "tables" / "billing_refunds.parquet")
    payments = payments[(payments["status"] == "succeeded") & ~payments["test"]].copy()
    payments["amount"] = payments["amount"].astype(float)
    refunds = refunds.merge(
        payments[["id", "user_id"]], left_on="payment_id", right_on="id", suffixes=("", "_payment")
    )
    money = pd.concat(
        [
            payments[["user_id", "created_at", "amount"]],
            refunds.assign(amount=-refunds["amount"].astype(float))[["user_id", "created_at", "amount"]],
        ]
    )
    first_paid = payments[payments["kind"] != "trial"].groupby("user_id")["created_at"].min()
    money = money[money["user_id"].isin(first_paid.index)].copy()
    money["cohort"] = money["user_id"].map(first_paid).dt.tz_localize(None).dt.to_period("M")
    money["month"] = money["created_at"].dt.tz_localize(None).dt.to_period("M")
    money["cohort_size"] = money["cohort"].map(
        first_paid.dt.tz_localize(None).dt.to_period("M").value_counts()
    )
    return money


def test_cohort_ltv_matches_billing(built):
    """Cohort size, net revenue per month, cumulative net revenue and LTV (per subscriber) of every
    first-paid month and month since equal pandas on the billing tables; money booked before the
    cohort month counts in month 0."""
    money = _billing(built.world_dir)
    now = pd.Timestamp(json.loads((built.world_dir / "world.json").read_text())["now"])
    last_month = (now - pd.Timedelta(days=1)).tz_localize(None).to_period("M")
    rows = []
    for cohort, group in money.groupby("cohort"):
        size = int(group["cohort_size"].iloc[0])
        since = (group["month"] - cohort).map(lambda offset: max(offset.n, 0))
        for n in range((last_month - cohort).n + 1):
            cumulative = group.loc[since <= n, "amount"].sum()
            rows.append(
                (
                    cohort.start_time.date(),
                    n,
                    size,
                    group.loc[since == n, "amount"].sum(),
                    cumulative,
                    cumulative / size,
                )
            )
    expected = pd.DataFrame(
        rows, columns=["cohort_month", "months_since", "size", "revenue", "cumulative", "ltv"]
    )
    mart = _query(
        built,
        """
        select cohort_month, months_since, sum(cohort_subscribers) as size,
            toFloat64(sum(net_revenue)) as revenue, toFloat64(sum(cumulative_net_revenue)) as cumulative
        from {marts}.fct_subscription_cohorts group by cohort_month, months_since
        """,
    )
    mart["cohort_month"] = pd.to_datetime(mart["cohort_month"]).dt.date
    mart["ltv"] = mart["cumulative"] / mart["size"]
    merged = expected.merge(mart, on=["cohort_month", "months_since"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged
    assert merged["cumulative_x"].sum() > 0
    assert (merged["size_x"] == merged["size_y"]).all()
    for column in ("revenue", "cumulative", "ltv"):
        assert ((merged[f"{column}_x"] - merged[f"{column}_y"]).abs() < 0.005).all(), (column, merged)


def test_cohort_ltv_column_is_cumulative_over_size(built):
    """The per-channel ltv column is cumulative net revenue over the cohort size, rounded."""
    cells = _query(
        built,
        "select toFloat64(cumulative_net_revenue) as cumulative, cohort_subscribers, ltv from {marts}.fct_subscription_cohorts",
    )
    assert len(cells) > 0
    assert ((cells["cumulative"] / cells["cohort_subscribers"] - cells["ltv"]).abs() <= 0.005 + 1e-9).all()
