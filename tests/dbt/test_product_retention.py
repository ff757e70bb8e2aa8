"""Product marts, cohorts: the retention and revenue triangles against pandas on int_events / int_persons."""

from __future__ import annotations

import pandas as pd
import pytest

from .product_reference import period_end, period_index, period_start

pytestmark = pytest.mark.usefixtures("built")

MAX_PERIODS = {"day": 35, "week": 26, "month": 12}
PAYMENTS = ("first_payment", "renewal", "reactivation")


@pytest.fixture(scope="module")
def inputs(built):
    inter = built.db("intermediate")
    events = built.client.query_df(
        f"""
        select person_id, event_date as day, toString(platform) as platform,
            countIf(event_type in {PAYMENTS}) as payments, toFloat64(sum(value)) as revenue
        from {inter}.int_events
        group by person_id, day, platform
        """
    )
    events["day"] = pd.to_datetime(events["day"]).dt.date
    persons = built.client.query_df(
        f"""
        select person_id, first_seen_date, toDate(first_paid_at) as first_paid_date,
            toString(acquisition_channel) as acquisition_channel, toString(first_platform) as first_platform
        from {inter}.int_persons
        """
    )
    persons["first_seen_date"] = pd.to_datetime(persons["first_seen_date"]).dt.date
    persons["first_paid_date"] = [
        d.date() if pd.notna(d) else None for d in pd.to_datetime(persons["first_paid_date"])
    ]
    return events, persons.set_index("person_id")


def _compare(expected: pd.DataFrame, actual: pd.DataFrame, keys: list[str], measures: list[str]) -> None:
    merged = expected.merge(actual, on=keys, how="outer", suffixes=("_pandas", "_mart"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head(10)
    for measure in measures:
        left, right = merged[f"{measure}_pandas"], merged[f"{measure}_mart"]
        if left.dtype.kind == "f" or right.dtype.kind == "f":
            bad = (left.astype(float) - right.astype(float)).abs() > 0.005
        else:
            bad = left != right
        assert not bad.any(), merged.loc[bad, [*keys, f"{measure}_pandas", f"{measure}_mart"]].head(10)


def test_retention_triangle_matches_pandas(built, inputs):
    """Every cell of fct_retention_cohorts (both cohort types, first-time and recurring, day /
    week / month, "on" and "on or after") equals the same definition computed in pandas."""
    events, persons = inputs
    last_day = events["day"].max()
    active = events.groupby("person_id")["day"].apply(set)
    paid = events[events["payments"] > 0].groupby("person_id")["day"].apply(set)
    rows = []
    for grain, max_period in MAX_PERIODS.items():
        last = period_index(last_day, grain)
        for person, days in active.items():
            periods = {period_index(d, grain) for d in days}
            paid_periods = {period_index(d, grain) for d in paid.get(person, set())}
            cohorts = [
                ("first_seen", "first_time", period_index(persons.at[person, "first_seen_date"], grain))
            ]
            if persons.at[person, "first_paid_date"] is not None:
                cohorts.append(
                    ("first_paid", "first_time", period_index(persons.at[person, "first_paid_date"], grain))
                )
            cohorts += [("first_seen", "recurring", p) for p in periods]
            cohorts += [("first_paid", "recurring", p) for p in paid_periods]
            latest = max(periods)
            for cohort_type, retention_type, cohort in cohorts:
                for n in range(min(max_period, last - cohort) + 1):
                    rows.append(
                        (
                            cohort_type,
                            retention_type,
                            grain,
                            cohort,
                            n,
                            person,
                            cohort + n in periods,
                            latest >= cohort + n,
                        )
                    )
    cells = pd.DataFrame(
        rows,
        columns=[
            "cohort_type",
            "retention_type",
            "period_grain",
            "cohort",
            "period_number",
            "person_id",
            "on",
            "after",
        ],
    )
    cells["acquisition_channel"] = cells["person_id"].map(persons["acquisition_channel"])
    cells["first_platform"] = cells["person_id"].map(persons["first_platform"])
    keys = [
        "cohort_type",
        "retention_type",
        "period_grain",
        "cohort",
        "period_number",
        "acquisition_channel",
        "first_platform",
    ]
    expected = (
        cells.groupby(keys)
        .agg(
            cohort_persons=("person_id", "size"),
            persons_active_on=("on", "sum"),
            persons_active_on_or_after=("after", "sum"),
        )
        .reset_index()
    )
    expected["cohort_start"] = [
        period_start(c, g) for c, g in zip(expected.cohort, expected.period_grain, strict=True)
    ]
    expected["is_period_complete"] = [
        period_end(c + n, g) <= last_day
        for c, n, g in zip(expected.cohort, expected.period_number, expected.period_grain, strict=True)
    ]
    actual = built.client.query_df(
        f"""
        select toString(cohort_type) as cohort_type, toString(retention_type) as retention_type,
            toString(period_grain) as period_grain, cohort_start, toInt64(period_number) as period_number,
            toString(acquisition_channel) as acquisition_channel, toString(first_platform) as first_platform,
            cohort_persons, persons_active_on, persons_active_on_or_after, is_period_complete
        from {built.db("marts")}.fct_retention_cohorts
        """
    )
    actual["cohort_start"] = pd.to_datetime(actual["cohort_start"]).dt.date
    actual["is_period_complete"] = actual["is_period_complete"].astype(bool)
    keys = [k if k != "cohort" else "cohort_start" for k in keys]
    _compare(
        expected.drop(columns="cohort"),
        actual,
        keys,
        ["cohort_persons", "persons_active_on", "persons_active_on_or_after", "is_period_complete"],
    )
    # Sanity of the triangle: nobody is more retained "on" N than "on or after" N, period 0 of a
    # first-seen cohort is everyone.
    assert (actual["persons_active_on"] <= actual["persons_active_on_or_after"]).all()
    first = actual[(actual.cohort_type == "first_seen") & (actual.period_number == 0)]
    assert (first["persons_active_on"] == first["cohort_persons"]).all()


def test_revenue_triangle_matches_pandas(built, inputs):
    """Every cell of fct_revenue_cohorts equals pandas: net revenue by cohort and period N,
    paying people, cumulative revenue and revenue per person; all of it adds up to int_events."""
    events, persons = inputs
    last_day = events["day"].max()
    rows = []
    for grain in ("week", "month"):
        last = period_index(last_day, grain)
        for cohort_type, column in (("first_seen", "first_seen_date"), ("first_paid", "first_paid_date")):
            members = persons[persons[column].notna()]
            cohort_of = members[column].map(lambda d, g=grain: period_index(d, g))
            money = events[events["revenue"] != 0]
            money = money[money["person_id"].isin(cohort_of.index)]
            offsets = money["day"].map(lambda d, g=grain: period_index(d, g)) - money["person_id"].map(
                cohort_of
            )
            money = money.assign(period_number=offsets)
            money = money[money["period_number"] >= 0]
            groups = members.assign(cohort=cohort_of).groupby(
                ["cohort", "acquisition_channel", "first_platform"]
            )
            for (cohort, channel, platform), group in groups:
                in_group = money[money["person_id"].isin(group.index)]
                cumulative = 0.0
                for n in range(min(MAX_PERIODS[grain], last - cohort) + 1):
                    cell = in_group[in_group["period_number"] == n]
                    revenue = round(cell["revenue"].sum(), 2)
                    cumulative = round(cumulative + revenue, 2)
                    rows.append(
                        {
                            "cohort_type": cohort_type,
                            "period_grain": grain,
                            "cohort_start": period_start(cohort, grain),
                            "period_number": n,
                            "acquisition_channel": channel,
                            "first_platform": platform,
                            "cohort_persons": len(group),
                            "paying_persons": cell.loc[cell["revenue"] > 0, "person_id"].nunique(),
                            "revenue": revenue,
                            "cumulative_revenue": cumulative,
                            "revenue_per_person": round(cumulative / len(group), 2),
                        }
                    )
    expected = pd.DataFrame(rows)
    actual = built.client.query_df(
        f"""
        select toString(cohort_type) as cohort_type, toString(period_grain) as period_grain, cohort_start,
            toInt64(period_number) as period_number, toString(acquisition_channel) as acquisition_channel,
            toString(first_platform) as first_platform, cohort_persons, paying_persons,
            toFloat64(revenue) as revenue, toFloat64(cumulative_revenue) as cumulative_revenue, revenue_per_person
        from {built.db("marts")}.fct_revenue_cohorts
        """
    )
    actual["cohort_start"] = pd.to_datetime(actual["cohort_start"]).dt.date
    keys = [
        "cohort_type",
        "period_grain",
        "cohort_start",
        "period_number",
        "acquisition_channel",
        "first_platform",
    ]
    _compare(
        expected,
        actual,
        keys,
        ["cohort_persons", "paying_persons", "revenue", "cumulative_revenue", "revenue_per_person"],
    )
    # All first-seen revenue inside the triangle's reach is int_events' revenue.
    total = events["revenue"].sum()
    monthly = actual[(actual.cohort_type == "first_seen") & (actual.period_grain == "month")]
    assert abs(monthly["revenue"].sum() - total) < 0.01
