"""Marketing marts, spend and ROMI: against cost rows and billing computed independently in pandas."""

from __future__ import annotations

import pandas as pd
import pytest

from .marketing_reference import MODELS, NETWORK_TO_CHANNEL, attribute, billing_conversions

pytestmark = pytest.mark.usefixtures("built")


def _month(ms: pd.Series) -> pd.Series:
    return pd.to_datetime(ms, unit="ms").dt.to_period("M").dt.start_time.dt.date


@pytest.fixture(scope="module")
def cost_rows(built) -> pd.DataFrame:
    """Every cost row of both sources, channel by the hand-written network mapping."""
    stg = built.db("staging")
    rows = built.client.query_df(
        f"""
        select 'yandex_direct' as network, stat_date, toFloat64(cost) as spend, clicks, impressions
        from {stg}.stg_yandex_direct__campaign_stats
        union all
        select network, stat_date, toFloat64(cost), clicks, impressions
        from {stg}.stg_ad_cost_files__ad_costs
        """
    )
    assert set(rows.network) <= set(NETWORK_TO_CHANNEL), set(rows.network)
    rows["channel"] = rows.network.map(NETWORK_TO_CHANNEL)
    rows["stat_date"] = pd.to_datetime(rows.stat_date).dt.date
    rows["month"] = pd.to_datetime(rows.stat_date).dt.to_period("M").dt.start_time.dt.date
    return rows


@pytest.fixture(scope="module")
def revenue(built) -> pd.DataFrame:
    """Billing conversions attributed in pandas: month, model, channel, revenue, new customers."""
    stg, inter = built.db("staging"), built.db("intermediate")
    payments = built.client.query_df(
        f"""
        select payment_id, user_id, toUnixTimestamp64Milli(created_at) as created_ms,
            toFloat64(amount) as amount, toBool(is_succeeded) as is_succeeded, toBool(is_test) as is_test,
            payment_kind
        from {stg}.stg_billing__payments
        """
    )
    refunds = built.client.query_df(
        f"""
        select refund_id, payment_id, toUnixTimestamp64Milli(created_at) as created_ms,
            toFloat64(amount) as amount, toBool(is_succeeded) as is_succeeded
        from {stg}.stg_billing__refunds
        """
    )
    sessions = built.client.query_df(
        f"""
        select session_id, person_id, toUnixTimestamp64Milli(started_at) as started_ms, toString(channel) as channel
        from {inter}.int_sessions
        """
    )
    conversions = billing_conversions(payments, refunds)
    credited = attribute(conversions, sessions).merge(conversions, on="conversion_id")
    credited["month"] = _month(credited.conversion_ms)
    credited["revenue"] = credited.credit * credited.value
    credited["new_customers"] = credited.credit * credited.is_first_payment
    return credited.groupby(["month", "attribution_model", "channel"], as_index=False)[
        ["revenue", "new_customers"]
    ].sum()


@pytest.fixture(scope="module")
def romi(built) -> pd.DataFrame:
    frame = built.client.query_df(
        f"""
        select month, toString(attribution_model) as attribution_model, toString(channel) as channel,
            toFloat64(spend) as spend, clicks, impressions, new_paying_customers, net_revenue,
            toFloat64(cumulative_spend) as cumulative_spend, cumulative_net_revenue,
            cac, romi, cumulative_romi, drr
        from {built.db("marts")}.fct_romi
        where campaign = 'all'
        """
    )
    frame["month"] = pd.to_datetime(frame.month).dt.date
    return frame


def test_daily_spend_matches_cost_rows(built, cost_rows):
    """Spend, clicks and impressions per day and channel equal the raw cost rows summed in pandas
    (channel by network, written by hand), so the seed's rules route every cost row right."""
    expected = cost_rows.groupby(["stat_date", "channel"], as_index=False)[
        ["spend", "clicks", "impressions"]
    ].sum()
    mart = built.client.query_df(
        f"""
        select spend_date as stat_date, toString(channel) as channel, toFloat64(sum(spend)) as spend,
            sum(clicks) as clicks, sum(impressions) as impressions
        from {built.db("marts")}.fct_marketing_spend_daily
        group by stat_date, channel
        """
    )
    mart["stat_date"] = pd.to_datetime(mart.stat_date).dt.date
    merged = expected.merge(mart, on=["stat_date", "channel"], how="outer", indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"].head()
    assert ((merged.spend_x - merged.spend_y).abs() < 0.005).all()
    assert (merged.clicks_x == merged.clicks_y).all() and (merged.impressions_x == merged.impressions_y).all()
    assert set(expected.channel) == {"yandex_direct", "vk_ads", "other_paid"}


def _expected_romi(cost_rows: pd.DataFrame, revenue: pd.DataFrame, months: list) -> pd.DataFrame:
    spend = cost_rows.groupby(["month", "channel"], as_index=False).spend.sum()
    channels = sorted(set(spend.channel) | set(revenue.channel))
    grid = pd.MultiIndex.from_product(
        [months, MODELS, channels], names=["month", "attribution_model", "channel"]
    )
    frame = grid.to_frame(index=False)
    frame = frame.merge(spend, on=["month", "channel"], how="left").merge(
        revenue, on=["month", "attribution_model", "channel"], how="left"
    )
    frame = frame.fillna({"spend": 0.0, "revenue": 0.0, "new_customers": 0.0}).sort_values("month")
    running = frame.groupby(["attribution_model", "channel"])
    frame["cumulative_spend"] = running.spend.cumsum()
    frame["cumulative_revenue"] = running.revenue.cumsum()
    frame["cac"] = (frame.spend / frame.new_customers).where(frame.new_customers > 1e-9)
    frame["romi"] = ((frame.revenue - frame.spend) / frame.spend).where(frame.spend > 0)
    frame["cumulative_romi"] = (
        (frame.cumulative_revenue - frame.cumulative_spend) / frame.cumulative_spend
    ).where(frame.cumulative_spend > 0)
    frame["drr"] = (frame.spend / frame.revenue).where(frame.revenue > 1e-9)
    return frame


def _close(left: pd.Series, right: pd.Series, tolerance: float) -> pd.Series:
    both_null = left.isna() & right.isna()
    return both_null | ((left - right).abs() <= tolerance * (1 + right.abs().fillna(0)))


def test_romi_and_cac_match_pandas(romi, cost_rows, revenue):
    """Channel totals of fct_romi for every model and month: spend from cost rows, revenue and
    new paying customers from billing attributed in pandas, and CAC, ROMI, cumulative ROMI and
    ДРР recomputed from them."""
    expected = _expected_romi(cost_rows, revenue, sorted(romi.month.unique()))
    keys = ["month", "attribution_model", "channel"]
    merged = expected.merge(romi, on=keys, how="outer", suffixes=("_pandas", "_mart"), indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"][keys].head(10)
    pairs = {
        "spend": ("spend_pandas", "spend_mart"),
        "revenue": ("revenue", "net_revenue"),
        "new customers": ("new_customers", "new_paying_customers"),
        "cumulative revenue": ("cumulative_revenue", "cumulative_net_revenue"),
        "cac": ("cac_pandas", "cac_mart"),
        "romi": ("romi_pandas", "romi_mart"),
        "cumulative romi": ("cumulative_romi_pandas", "cumulative_romi_mart"),
        "drr": ("drr_pandas", "drr_mart"),
    }
    for name, (left, right) in pairs.items():
        ok = _close(merged[left].astype(float), merged[right].astype(float), 1e-6)
        assert ok.all(), (name, merged.loc[~ok, [*keys, left, right]].head(10))
    paid = merged[merged.spend_mart > 0]
    assert paid.romi_mart.notna().any() and paid.cac_mart.notna().any()


def test_payback_cohorts_match_pandas(built, cost_rows):
    """Each cohort's spend, running net revenue and payback month, recomputed from int_persons,
    billing touches of int_events and the cost rows."""
    inter = built.db("intermediate")
    persons = built.client.query_df(
        f"select person_id, toStartOfMonth(first_seen_date) as acquisition_month, "
        f"toString(acquisition_channel) as channel from {inter}.int_persons"
    )
    events = built.client.query_df(
        f"select person_id, toStartOfMonth(event_date) as month, toFloat64(value) as value "
        f"from {inter}.int_events where value != 0"
    )
    revenue = (
        events.merge(persons, on="person_id").groupby(["acquisition_month", "channel", "month"]).value.sum()
    )
    mart = built.client.query_df(
        f"""
        select acquisition_month, toString(channel) as channel, month, toFloat64(spend) as spend,
            toFloat64(cumulative_net_revenue) as cumulative_net_revenue, payback_months
        from {built.db("marts")}.fct_marketing_payback_cohorts
        order by channel, acquisition_month, months_since_acquisition
        """
    )
    spend = cost_rows.groupby(["month", "channel"]).spend.sum()
    for (month, channel), cohort in mart.groupby(["acquisition_month", "channel"]):
        expected_spend = spend.get((pd.Timestamp(month).date(), channel), 0.0)
        assert abs(cohort.spend.iloc[0] - expected_spend) < 0.005, (month, channel)
        monthly = [revenue.get((month, channel, m), 0.0) for m in cohort.month]
        running = pd.Series(monthly).cumsum()
        assert (running - cohort.cumulative_net_revenue.to_numpy()).abs().max() < 0.005, (month, channel)
        paid_back = [i for i, r in enumerate(running) if expected_spend > 0 and r >= expected_spend - 1e-9]
        expected_payback = paid_back[0] if paid_back else None
        actual = cohort.payback_months.iloc[0]
        assert (None if pd.isna(actual) else int(actual)) == expected_payback, (month, channel)
