"""Marketing marts, attribution: credits, revenue against billing, channels against the truth."""

from __future__ import annotations

import pandas as pd
import pytest

from .marketing_reference import MODELS, TRUTH_TO_SEED_CHANNEL, attribute, billing_conversions

pytestmark = pytest.mark.usefixtures("built")

CONVERSION_TYPES = ("registration", "trial_start", "first_payment", "renewal", "reactivation", "refund")


@pytest.fixture(scope="module")
def billing(built) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Payments and refunds from billing staging (test payments still flagged, not dropped)."""
    stg = built.db("staging")
    payments = built.client.query_df(
        f"""
        select payment_id, user_id, toUnixTimestamp64Milli(created_at) as created_ms,
            toFloat64(amount) as amount, is_succeeded, is_test, payment_kind
        from {stg}.stg_billing__payments
        """
    )
    refunds = built.client.query_df(
        f"""
        select refund_id, payment_id, toUnixTimestamp64Milli(created_at) as created_ms,
            toFloat64(amount) as amount, is_succeeded
        from {stg}.stg_billing__refunds
        """
    )
    for frame, flags in ((payments, ["is_succeeded", "is_test"]), (refunds, ["is_succeeded"])):
        frame[flags] = frame[flags].astype(bool)
    return payments, refunds


@pytest.fixture(scope="module")
def attribution(built) -> pd.DataFrame:
    return built.client.query_df(
        f"""
        select conversion_id, toString(conversion_type) as conversion_type, person_id,
            toUnixTimestamp64Milli(conversion_at) as conversion_ms,
            toString(attribution_model) as attribution_model, touchpoint_position,
            ifNull(session_id, '(synthetic)') as session_id, toString(channel) as channel,
            credit, attributed_revenue, is_synthetic_touchpoint
        from {built.db("marts")}.fct_attribution
        """
    )


@pytest.fixture(scope="module")
def sessions(built) -> pd.DataFrame:
    return built.client.query_df(
        f"""
        select session_id, person_id, toUnixTimestamp64Milli(started_at) as started_ms,
            toString(channel) as channel
        from {built.db("intermediate")}.int_sessions
        """
    )


def test_credits_sum_to_one_and_every_conversion_is_credited(built, attribution):
    """Each conversion's credits sum to 1 under each of the six models, and every conversion
    touch of int_events is in the mart under every model."""
    totals = attribution.groupby(["attribution_model", "conversion_id"]).credit.sum()
    assert sorted(attribution.attribution_model.unique()) == sorted(MODELS)
    assert ((totals - 1).abs() < 1e-9).all(), totals[(totals - 1).abs() >= 1e-9].head()
    expected = built.client.query_df(
        f"select event_id from {built.db('intermediate')}.int_events where event_type in {CONVERSION_TYPES}"
    )
    for model, credited in attribution.groupby("attribution_model").conversion_id:
        assert set(credited) == set(expected.event_id), model


def test_attributed_revenue_equals_billing_net_revenue(attribution, billing):
    """Under every model, attributed revenue sums to billing's net revenue: successful customer
    charges less their successful refunds, staff test payments excluded (from staging)."""
    payments, refunds = billing
    customer = payments[payments.is_succeeded & ~payments.is_test & payments.user_id.notna()]
    refunded = refunds[refunds.is_succeeded & refunds.payment_id.isin(customer.payment_id)]
    net_revenue = customer.amount.sum() - refunded.amount.sum()
    assert net_revenue > 0 and len(refunded) > 0
    by_model = attribution.groupby("attribution_model").attributed_revenue.sum()
    assert (by_model - net_revenue).abs().max() < 0.01, (net_revenue, by_model.to_dict())


def test_credits_match_pandas_reference(built, attribution, billing, sessions):
    """Every (conversion, model, touchpoint) credit equals the documented rule computed in pandas
    from billing staging, registrations and int_sessions."""
    payments, refunds = billing
    registrations = built.client.query_df(
        f"""
        select event_id as conversion_id, person_id, toUnixTimestamp64Milli(event_at) as anchor_ms
        from {built.db("intermediate")}.int_events where event_type = 'registration'
        """
    )
    conversions = pd.concat([billing_conversions(payments, refunds), registrations], ignore_index=True)
    expected = attribute(conversions, sessions).fillna({"session_id": "(synthetic)"})
    keys = ["conversion_id", "attribution_model", "session_id"]
    merged = expected.merge(attribution, on=keys, how="outer", suffixes=("_pandas", "_mart"), indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"][keys + ["_merge"]].head(10)
    bad = (merged.credit_pandas - merged.credit_mart).abs() > 1e-9
    bad |= merged.channel_pandas != merged.channel_mart
    assert not bad.any(), merged.loc[bad, [*keys, "credit_pandas", "credit_mart"]].head(10)
    # The fixture world must exercise the interesting cases, or this test proves little.
    per_conversion = attribution[attribution.attribution_model == "linear"].groupby("conversion_id").size()
    assert (per_conversion >= 3).any() and attribution.conversion_type.eq("refund").any()


def _truth_people(built) -> pd.DataFrame:
    truth = pd.read_parquet(built.world_dir / "truth" / "people.parquet")
    assert set(truth.channel) <= set(TRUTH_TO_SEED_CHANNEL), set(truth.channel) - set(TRUTH_TO_SEED_CHANNEL)
    truth = truth[truth.user_id.notna()].copy()
    truth["person_id"] = "u" + truth.user_id.astype("int64").astype(str)
    truth["true_channel"] = truth.channel.map(TRUTH_TO_SEED_CHANNEL)
    return truth[["person_id", "true_channel", "acquisition_platform"]]


def test_first_touch_matches_true_acquisition_channel(built, attribution):
    """For people who converted, the first-touch channel of their first conversion and
    int_persons.acquisition_channel equal the simulator's true channel for ≥ 95 % of people
    whose arrival the data can see: web arrivals and paid (tracked) app installs. An organic
    app install (store search, a friend's link) reaches the data with no referrer and no tags,
    so it is `direct` by definition; those people count in the overall rate only."""
    first_touch = attribution[(attribution.attribution_model == "first_touch") & (attribution.credit == 1)]
    first_touch = (
        first_touch.sort_values(["conversion_ms", "conversion_id"]).groupby("person_id").channel.first()
    )
    persons = built.client.query_df(
        f"select person_id, toString(acquisition_channel) as acquisition_channel "
        f"from {built.db('intermediate')}.int_persons"
    )
    seed_channels = built.client.query_df(
        f"select toString(channel) as channel from {built.db('marts')}.dim_channels"
    )
    assert set(TRUTH_TO_SEED_CHANNEL.values()) <= set(seed_channels.channel)
    people = _truth_people(built).merge(first_touch.rename("first_touch").reset_index(), on="person_id")
    people = people.merge(persons, on="person_id", how="left")
    observable = (people.acquisition_platform == "web") | people.true_channel.isin(
        ["yandex_direct", "vk_ads", "other_paid"]
    )
    rates = {
        (column, scope): (people.loc[mask, column] == people.loc[mask, "true_channel"]).mean()
        for column in ("first_touch", "acquisition_channel")
        for scope, mask in (("observable", observable), ("all", observable | ~observable))
    }
    print("first-touch vs truth:", {f"{c}/{s}": round(r, 4) for (c, s), r in rates.items()}, len(people))
    assert len(people) >= 100 and observable.mean() > 0.5
    assert rates["first_touch", "observable"] >= 0.95, rates
    assert rates["acquisition_channel", "observable"] >= 0.95, rates
    # Everything else the data cannot see is an organic app install credited to direct.
    missed = people[~observable & (people.first_touch != people.true_channel)]
    assert (missed.first_touch == "direct").all(), missed.head()
