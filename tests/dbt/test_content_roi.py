"""Content marts, ROI: the revenue credited to titles splits the revenue pool exactly, follows
the documented split (recomputed in pandas without the kopeck rounding) and the cost is
amortised on a straight line."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.usefixtures("built")

ACQUISITION_SHARE = 0.5
ORIGINAL_AMORTISATION_DAYS = 1095
UNATTRIBUTED = "(unattributed)"


@pytest.fixture(scope="module")
def roi(built) -> pd.DataFrame:
    return built.client.query_df(f"select * from {built.db('marts')}.fct_content_roi")


def analysed_range(roi: pd.DataFrame) -> tuple[str, str]:
    """The mart's analysed range as ISO dates."""
    return (
        pd.Timestamp(roi["analysed_start_date"].iloc[0]).date().isoformat(),
        pd.Timestamp(roi["analysed_end_date"].iloc[0]).date().isoformat(),
    )


def money_events(client, inter: str, staging: str, start, end) -> pd.DataFrame:
    """Money of the range with the period each amount pays for (a refund: its payment's)."""
    money = client.query_df(
        f"""
        select event_id, person_id, toString(event_type) as event_type, event_at, toFloat64(value) as value
        from {inter}.int_events
        where value != 0 and event_date between '{start}' and '{end}'
        """
    )
    charges = client.query_df(
        f"""
        select payment_id, subscription_id, created_at
        from {staging}.stg_billing__payments where is_succeeded and not is_test
        """
    ).sort_values(["subscription_id", "created_at", "payment_id"])
    subscriptions = client.query_df(
        f"select subscription_id, current_period_end_at, ended_at from {staging}.stg_billing__subscriptions"
    ).set_index("subscription_id")
    refunds = client.query_df(f"select refund_id, payment_id from {staging}.stg_billing__refunds")
    charges["next_at"] = charges.groupby("subscription_id")["created_at"].shift(-1)
    latest_end = charges["subscription_id"].map(subscriptions["current_period_end_at"])
    latest_end = latest_end.fillna(charges["subscription_id"].map(subscriptions["ended_at"]))
    charges["until"] = charges["next_at"].fillna(latest_end)
    charges = charges.set_index("payment_id")
    refund_payment = refunds.set_index("refund_id")["payment_id"]
    source_id = money["event_id"].str.split(":").str[2]
    payment_id = np.where(money["event_type"] == "refund", source_id.map(refund_payment), source_id)
    money["covered_from"] = pd.Series(payment_id).map(charges["created_at"]).to_numpy()
    money["covered_until"] = pd.Series(payment_id).map(charges["until"]).to_numpy()
    assert money["covered_from"].notna().all() and money["covered_until"].notna().all()
    return money


def title_views(client, inter: str, staging: str) -> pd.DataFrame:
    return client.query_df(
        f"""
        select views.person_id as person_id, views.started_at as started_at,
            if(catalogue.content_type = 'episode', catalogue.series_id, views.content_id) as title_id,
            views.unique_watched_sec as watched
        from {inter}.int_player_views as views
        left join {staging}.stg_content_catalog__content as catalogue
            on views.content_id = catalogue.content_id
        """
    )


def split(amount: float, weights: pd.Series, credit: dict[str, list[float]]) -> None:
    """Credit `amount` over titles in proportion to weights; nothing to split over -> unattributed.
    Keeps per title [credited, number of parts] (each part may be a kopeck off in the mart)."""
    weights = weights[weights > 0]
    shares = pd.Series({UNATTRIBUTED: 1.0}) if weights.empty else weights / weights.sum()
    for title, share in shares.items():
        entry = credit.setdefault(title, [0.0, 0])
        entry[0] += amount * share
        entry[1] += 1


def expected_credit(money: pd.DataFrame, views: pd.DataFrame) -> dict[str, list[float]]:
    by_person = dict(tuple(views.groupby("person_id")))
    empty = views.iloc[:0]
    credit: dict[str, list[float]] = {}
    for event in money.itertuples():
        own = by_person.get(event.person_id, empty)
        in_period = own[(own["started_at"] >= event.covered_from) & (own["started_at"] < event.covered_until)]
        period_weights = in_period.groupby("title_id")["watched"].sum()
        amount = event.value
        if event.event_type == "first_payment":
            before = own[own["started_at"] < event.event_at].groupby("title_id")["watched"].sum()
            if (before > 0).any():
                acquisition = round(amount * 100 * ACQUISITION_SHARE) / 100
                split(acquisition, before, credit)
                amount -= acquisition
        split(amount, period_weights, credit)
    return credit


def test_credited_revenue_sums_to_the_pool(built, roi):
    """Across titles and (unattributed), credited revenue equals to the kopeck the net money of
    int_events in the analysed range, which is the truth's net revenue of every subscription."""
    start, end = analysed_range(roi)
    pool = built.client.query(
        f"""select toString(sum(value)) from {built.db("intermediate")}.int_events
        where event_date between '{start}' and '{end}'"""
    ).result_rows[0][0]
    credited = sum((Decimal(str(v)) for v in roi["credited_revenue"]), Decimal("0"))
    assert credited == Decimal(pool)
    truth = pd.read_parquet(built.world_dir / "truth" / "subscriptions.parquet")["net_revenue"].sum()
    assert abs(float(credited) - truth) < 0.005
    unattributed = roi.loc[roi["content_id"] == UNATTRIBUTED, "credited_revenue"].sum()
    print(f"content ROI: {credited} RUB credited = pool = truth net revenue; unattributed {unattributed}")


def test_split_follows_the_rule(built, roi):
    """Each title's credited revenue equals the documented split recomputed in pandas (floats;
    the mart rounds each part to kopecks, so at most a kopeck per part credited apart)."""
    inter, staging = built.db("intermediate"), built.db("staging")
    start, end = analysed_range(roi)
    money = money_events(built.client, inter, staging, start, end)
    credit = expected_credit(money, title_views(built.client, inter, staging))
    mart = roi.set_index("content_id")["credited_revenue"].astype(float)
    assert set(credit) <= set(mart.index)
    for title in mart.index:
        amount, parts = credit.get(title, [0.0, 0])
        assert abs(mart[title] - amount) <= 0.01 * parts + 1e-6, (title, mart[title], amount)
    worst = max(abs(mart[t] - credit.get(t, [0.0])[0]) for t in mart.index)
    assert (roi["acquisition_revenue"].astype(float) > 0).any()
    print(f"content ROI: split equals pandas for {len(mart)} titles, worst gap {worst:.4f} RUB")


def test_cost_is_amortised_on_a_straight_line(built, roi):
    catalogue = built.client.query_df(
        f"""
        select content_id, toFloat64(ifNull(licence_cost, 0)) as licence_cost,
            toFloat64(ifNull(production_cost, 0)) as production_cost,
            licence_start_date, licence_end_date, toDate(created_at) as created_date
        from {built.db("staging")}.stg_content_catalog__content where content_type in ('film', 'series')
        """
    ).set_index("content_id")
    rows = roi[roi["content_id"].isin(catalogue.index)]
    assert len(rows) == len(catalogue)
    for row in rows.itertuples():
        item = catalogue.loc[row.content_id]
        if item.licence_cost > 0:
            cost, first, last = item.licence_cost, item.licence_start_date, item.licence_end_date
        elif item.production_cost > 0:
            cost, first = item.production_cost, item.created_date
            last = first + pd.Timedelta(days=ORIGINAL_AMORTISATION_DAYS - 1)
        else:
            assert float(row.amortised_cost) == 0 and pd.isna(row.roi)
            continue
        first, last = pd.Timestamp(first), pd.Timestamp(last)
        start, end = pd.Timestamp(row.analysed_start_date), pd.Timestamp(row.analysed_end_date)
        days = max(0, (min(last, end) - max(first, start)).days + 1)
        assert row.amortised_days == days
        expected = cost * days / ((last - first).days + 1)
        assert abs(float(row.amortised_cost) - expected) <= 0.006, row.content_id
        if expected > 0.005:
            roi_value = (float(row.credited_revenue) - float(row.amortised_cost)) / float(row.amortised_cost)
            assert abs(row.roi - roi_value) < 1e-9
