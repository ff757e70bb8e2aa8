"""int_events: the unified touch stream, checked against the world's truth files."""

from __future__ import annotations

import pandas as pd
import pytest

VOCABULARY = {
    "visit", "page_view", "screen_view", "title_page", "search", "app_install", "registration", "login",
    "trial_start", "first_payment", "renewal", "reactivation", "payment_failed", "refund", "cancellation",
    "subscription_end", "play", "valid_play", "complete",
}  # fmt: skip


@pytest.fixture(scope="module")
def events(built) -> pd.DataFrame:
    return built.client.query_df(
        f"select event_id, person_id, event_at, event_seq, source, platform, event_type, session_id, value "
        f"from {built.db('intermediate')}.int_events"
    )


def test_event_types_and_platforms_are_the_agreed_vocabulary(events):
    types = set(events["event_type"])
    assert types <= VOCABULARY
    # Every kind the world produces shows up (reactivations and failures need enough history).
    assert VOCABULARY - {"reactivation", "renewal", "refund", "payment_failed"} <= types
    assert set(events["platform"]) <= {"web", "android", "ios", "smart_tv"}
    assert set(events["source"]) == {"metrica", "appmetrica", "auth", "billing", "player"}


def test_order_is_total_and_deterministic(events):
    assert events["event_id"].is_unique
    assert not events.duplicated(["person_id", "event_at", "event_seq"]).any()


def test_billing_touches_match_truth_subscription_events(events, built):
    truth = pd.read_parquet(built.world_dir / "truth" / "subscription_events.parquet")
    counts = events["event_type"].value_counts()
    assert counts.get("trial_start", 0) == (truth["event"] == "trial_started").sum()
    assert counts.get("cancellation", 0) == (truth["event"] == "cancelled").sum()
    assert counts.get("refund", 0) == (truth["event"] == "refunded").sum()
    paid = {"converted", "subscribed", "reactivated", "renewed", "recovered"}
    charges = counts.get("first_payment", 0) + counts.get("renewal", 0) + counts.get("reactivation", 0)
    assert charges == truth["event"].isin(paid).sum()


def test_net_revenue_per_person_equals_truth(events, built):
    """Summed per person, `value` is the person's net revenue (test payments excluded)."""
    truth = pd.read_parquet(built.world_dir / "truth" / "subscriptions.parquet")
    expected = truth.groupby("user_id")["net_revenue"].sum().round(2)
    expected.index = "u" + expected.index.astype("int64").astype(str)
    billing = events[events["source"] == "billing"]
    actual = billing.groupby("person_id")["value"].sum().astype(float).round(2)
    joined = pd.concat([expected.rename("truth"), actual.rename("warehouse")], axis=1).fillna(0)
    assert (joined["truth"] - joined["warehouse"]).abs().max() < 0.005, joined[
        joined["truth"] != joined["warehouse"]
    ]


def test_first_payment_once_per_paying_person(events):
    first = events[events["event_type"] == "first_payment"]
    assert first["person_id"].is_unique
    paying = set(
        events.loc[events["event_type"].isin(["first_payment", "renewal", "reactivation"]), "person_id"]
    )
    assert paying == set(first["person_id"])


def test_plays_are_the_truth_views(events, built):
    views = pd.read_parquet(built.world_dir / "truth" / "views.parquet")
    plays = events[events["event_type"] == "play"]
    assert len(plays) == len(views)
    assert (events["event_type"] == "valid_play").sum() <= len(plays)


def test_registrations_and_logins_match_auth(events, built):
    people = pd.read_parquet(built.world_dir / "truth" / "people.parquet")
    assert (events["event_type"] == "registration").sum() == people["user_id"].notna().sum()
    registrations = events[events["event_type"] == "registration"]
    assert registrations["person_id"].str.startswith("u").all()


def test_only_billing_touches_lack_a_session(events):
    assert (events["session_id"].isna() == (events["source"] == "billing")).all()
