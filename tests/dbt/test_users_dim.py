"""Users marts, dim_users: against the simulator's truth and pandas computations on staging and int_*."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from simulator.world.reference import CITIES

pytestmark = pytest.mark.usefixtures("built")

PAID_TYPES = ("first_payment", "renewal", "reactivation")
STATE_RANK = {"active": 4, "trial": 3, "cancelled_active": 2, "churned": 1}


def _frame(built, sql: str) -> pd.DataFrame:
    return built.client.query_df(sql)


def _truth(built, name: str) -> pd.DataFrame:
    return pd.read_parquet(built.world_dir / "truth" / f"{name}.parquet")


def _user_id_text(series: pd.Series) -> pd.Series:
    """Truth user ids are floats (NaN for people who never registered); the warehouse keeps text."""
    return series.dropna().astype("int64").astype(str)


@pytest.fixture(scope="module")
def dim(built) -> pd.DataFrame:
    df = _frame(built, f"select * from {built.db('marts')}.dim_users")
    df["lifetime_net_revenue"] = df["lifetime_net_revenue"].astype(float)
    return df.set_index("person_id")


@pytest.fixture(scope="module")
def events(built) -> pd.DataFrame:
    df = _frame(
        built,
        f"select person_id, event_date, toString(event_type) as event_type, toString(source) as source, "
        f"toFloat64(value) as value from {built.db('intermediate')}.int_events",
    )
    df["event_date"] = pd.to_datetime(df["event_date"]).dt.date
    return df


@pytest.fixture(scope="module")
def as_of(events) -> dt.date:
    return max(events["event_date"])


def test_one_row_per_person(built, dim):
    """dim_users has exactly the people of int_persons, each once."""
    persons = _frame(built, f"select person_id from {built.db('intermediate')}.int_persons")["person_id"]
    assert dim.index.is_unique
    assert set(dim.index) == set(persons)
    assert len(dim) == len(persons)


def _billing_net_by_person(built) -> pd.Series:
    """Net revenue per person from staging billing: customer charges − refunds, via identity."""
    stg, inter = built.db("staging"), built.db("intermediate")
    payments = _frame(
        built,
        f"select payment_id, user_id, toFloat64(amount) as amount from {stg}.stg_billing__payments "
        f"where is_succeeded and not is_test and user_id is not null",
    )
    refunds = _frame(
        built,
        f"select payment_id, toFloat64(amount) as refunded from {stg}.stg_billing__refunds where is_succeeded",
    )
    customers = _frame(
        built,
        f"select id_value as user_id, person_id from {inter}.int_identity__ids "
        f"where id_type = 'billing_customer_id'",
    )
    refunded = refunds.groupby("payment_id")["refunded"].sum()
    payments["net"] = payments["amount"] - payments["payment_id"].map(refunded).fillna(0.0)
    merged = payments.merge(customers, on="user_id", how="left")
    assert merged["person_id"].notna().all(), "a billing customer is missing from identity"
    return merged.groupby("person_id")["net"].sum()


def test_lifetime_net_revenue_matches_billing(built, dim):
    """Per person and in total, lifetime net revenue equals charges − refunds from staging billing."""
    expected = _billing_net_by_person(built)
    actual = dim["lifetime_net_revenue"]
    joined = pd.concat([expected.rename("billing"), actual.rename("mart")], axis=1).fillna(0.0)
    diff = joined[(joined["billing"] - joined["mart"]).abs() > 0.005]
    assert diff.empty, diff.head()
    assert expected.sum() == pytest.approx(actual.sum(), abs=0.005)
    assert actual.sum() > 0


def test_lifetime_net_revenue_matches_truth(built, dim):
    """Per registered user, lifetime net revenue equals the truth's subscriptions' net revenue."""
    subs = _truth(built, "subscriptions")
    subs["user_id"] = _user_id_text(subs["user_id"])
    truth = subs.groupby("user_id")["net_revenue"].sum()
    mart = dim.dropna(subset=["user_id"]).set_index("user_id")["lifetime_net_revenue"]
    joined = pd.concat([truth.rename("truth"), mart.rename("mart")], axis=1).fillna(0.0)
    diff = joined[(joined["truth"] - joined["mart"]).abs() > 0.005]
    assert diff.empty, diff.head()
    assert truth.sum() == pytest.approx(dim["lifetime_net_revenue"].sum(), abs=0.005)


def _age_band(age: float) -> str:
    for limit, band in ((18, "under_18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54")):
        if age < limit:
            return band
    return "55+"


def test_demographics_match_truth(built, dim, as_of):
    """Birth year, gender and age band equal the truth for every registered user; the city too,
    translated, for users who never edited their profile (an edit may move them)."""
    people = _truth(built, "people").dropna(subset=["user_id"])
    people["user_id"] = _user_id_text(people["user_id"])
    users = dim[dim["is_registered"]].reset_index().merge(people, on="user_id", suffixes=("", "_truth"))
    assert len(users) == int(dim["is_registered"].sum()) == len(people)
    assert (users["birth_year"].astype(int) == users["birth_year_truth"].astype(int)).all()
    assert (users["gender"] == users["gender_truth"]).all()
    expected_band = (as_of.year - users["birth_year_truth"]).map(_age_band)
    assert (users["age_band"] == expected_band).all()

    unedited = _frame(
        built,
        f"select user_id from {built.db('staging')}.stg_auth_service__users where updated_at = registered_at",
    )["user_id"]
    to_ru = {c.name_en: (c.name_ru or None) for c in CITIES}
    stable = users[users["user_id"].isin(unedited)]
    assert len(stable) > len(users) / 2
    expected_city = stable["city_truth"].map(lambda c: to_ru.get(c or ""))
    mismatched = stable[stable["city"].fillna("") != expected_city.fillna("")]
    assert mismatched.empty, mismatched[["user_id", "city", "city_truth"]].head()


def test_watch_time_matches_player_views(built, dim):
    """Plays, valid/complete plays and watch hours per person equal int_player_views summed in
    pandas; the total watch time equals the truth's played seconds."""
    views = _frame(
        built,
        f"select person_id, played_sec, is_valid_play, is_complete from {built.db('intermediate')}.int_player_views",
    )
    per_person = views.groupby("person_id").agg(
        plays=("played_sec", "size"),
        valid_plays=("is_valid_play", "sum"),
        complete_plays=("is_complete", "sum"),
        hours=("played_sec", lambda s: s.sum() / 3600),
    )
    joined = dim[["plays", "valid_plays", "complete_plays", "watch_hours"]].join(
        per_person, rsuffix="_pandas"
    )
    joined = joined.fillna(0)
    for column in ("plays", "valid_plays", "complete_plays"):
        assert (joined[column] == joined[f"{column}_pandas"]).all(), column
    assert np.allclose(joined["watch_hours"], joined["hours"], atol=1e-4)
    truth_hours = _truth(built, "views")["played_sec"].sum() / 3600
    assert dim["watch_hours"].sum() == pytest.approx(truth_hours, rel=1e-3)


def test_favourite_genres_match_pandas(built, dim):
    """Top 3 genres by played time, ties alphabetical, recomputed from views and the catalogue."""
    inter, stg = built.db("intermediate"), built.db("staging")
    views = _frame(built, f"select person_id, content_id, played_sec from {inter}.int_player_views")
    genres = _frame(built, f"select content_id, genres from {stg}.stg_content_catalog__content")
    watched = views.merge(genres, on="content_id").explode("genres").dropna(subset=["genres"])
    totals = watched.groupby(["person_id", "genres"])["played_sec"].sum().reset_index()
    totals = totals[totals["played_sec"] > 0].sort_values(
        ["person_id", "played_sec", "genres"], ascending=[True, False, True]
    )
    expected = totals.groupby("person_id")["genres"].apply(lambda g: list(g[:3]))
    actual = dim["favourite_genres"].map(list)
    assert set(actual[actual.map(len) > 0].index) == set(expected.index)
    mismatched = [p for p, top in expected.items() if actual[p] != top]
    assert not mismatched, [(p, actual[p], expected[p]) for p in mismatched[:5]]


def test_days_active_match_pandas(dim, events, as_of):
    """Days active in the last 7/30/90 days (non-billing touches, as of the newest event date)."""
    active = events[events["source"] != "billing"][["person_id", "event_date"]].drop_duplicates()
    assert (dim["as_of_date"].map(lambda d: pd.Timestamp(d).date()) == as_of).all()
    for days in (7, 30, 90):
        window = active[active["event_date"] > as_of - dt.timedelta(days=days)]
        expected = window.groupby("person_id").size().reindex(dim.index, fill_value=0)
        diff = dim[dim[f"days_active_{days}d"] != expected]
        assert diff.empty, (days, diff.head())
    assert dim["days_active_7d"].sum() > 0


def _truth_state(row) -> str:
    if pd.isna(row["ended_at"]):
        if row["status"] == "trial":
            return "trial"
        if row["status"] in ("active", "past_due"):
            return "active"
        if row["status"] == "cancelled":
            return "cancelled_active"
    return "churned"


def test_subscription_state_matches_truth(built, dim):
    """Each registered user's state equals the one derived from the truth's subscription status
    at now (best subscription first); people without a subscription in the truth are `never`."""
    subs = _truth(built, "subscriptions")
    subs["user_id"] = _user_id_text(subs["user_id"])
    subs["state"] = subs.apply(_truth_state, axis=1)
    subs["rank"] = subs["state"].map(STATE_RANK)
    best = subs.sort_values(["user_id", "rank", "started_at"]).groupby("user_id").tail(1).set_index("user_id")
    users = dim[dim["is_registered"]].set_index("user_id")
    expected = best["state"].reindex(users.index).fillna("never")
    mismatched = users[users["subscription_state"] != expected]
    assert mismatched.empty, pd.concat([mismatched["subscription_state"], expected[mismatched.index]], axis=1)
    assert set(expected) > {"never", "active"}
    has_plan = users["subscription_state"].isin(["trial", "active", "cancelled_active"])
    assert (users.loc[has_plan, "current_plan_id"] == best["plan_id"].reindex(users.index)[has_plan]).all()
    assert users.loc[~has_plan, "current_plan_id"].isna().all()


def _quintile(values: pd.Series) -> pd.Series:
    """1 + floor(5 (rank − 1) / n), rank by min over ascending values (worst first)."""
    ranks = values.rank(method="min")
    return (1 + (5 * (ranks - 1)) // len(values)).astype(int)


def test_rfm_scores_match_pandas(dim, events, as_of):
    """RFM recomputed from int_events: payers by paid charges, recency from the last active day,
    quintiles with ties sharing a score; non-payers 0 and `non_payer`."""
    paid = events[events["event_type"].isin(PAID_TYPES)].groupby("person_id").size()
    billing = events[events["source"] == "billing"].groupby("person_id")["value"].sum()
    last_active = events[events["source"] != "billing"].groupby("person_id")["event_date"].max()
    payers = pd.DataFrame({"frequency": paid})
    payers["monetary"] = billing.reindex(payers.index).round(2)
    payers["recency"] = last_active.reindex(payers.index).map(lambda d: (as_of - d).days)
    assert payers["recency"].notna().all()
    expected = pd.DataFrame(
        {
            "recency_score": _quintile(-payers["recency"]),
            "frequency_score": _quintile(payers["frequency"]),
            "monetary_score": _quintile(payers["monetary"]),
        }
    )
    scores = dim[["recency_score", "frequency_score", "monetary_score"]]
    actual = scores.loc[expected.index]
    assert (actual.astype(int) == expected).all().all(), actual.compare(expected).head()
    others = scores.drop(index=expected.index)
    assert (others == 0).all().all()
    assert (dim.loc[others.index, "rfm_segment"] == "non_payer").all()
    assert (dim.loc[expected.index, "rfm_segment"] != "non_payer").all()
