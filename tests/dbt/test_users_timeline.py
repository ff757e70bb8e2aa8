"""Users marts, fct_user_timeline: every touch of int_events once, numbered and labelled in order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.usefixtures("built")


def _frame(built, sql: str) -> pd.DataFrame:
    return built.client.query_df(sql)


@pytest.fixture(scope="module")
def timeline(built) -> pd.DataFrame:
    """The timeline beside int_events' own columns for the same touch."""
    marts, inter = built.db("marts"), built.db("intermediate")
    mart = _frame(
        built,
        f"select person_id, seq, event_id, toString(event_type) as event_type, label, "
        f"seconds_since_previous, toFloat64(value) as value from {marts}.fct_user_timeline",
    )
    events = _frame(
        built,
        f"select event_id, person_id as event_person_id, toUnixTimestamp64Milli(event_at) as event_ms, "
        f"event_seq from {inter}.int_events",
    )
    return events.merge(mart, on="event_id", how="outer", indicator=True)


def test_every_touch_once(timeline):
    """Exactly the touches of int_events, each once, with the same person."""
    assert (timeline["_merge"] == "both").all(), timeline[timeline["_merge"] != "both"].head()
    assert timeline["event_id"].is_unique
    assert (timeline["person_id"] == timeline["event_person_id"]).all()


def test_rows_per_person_match_events(built, timeline):
    """As many rows per person as int_events has touches."""
    counts = _frame(
        built,
        f"select person_id, count() as touches from {built.db('intermediate')}.int_events group by person_id",
    ).set_index("person_id")["touches"]
    rows = timeline.groupby("person_id").size()
    pd.testing.assert_series_equal(
        rows.sort_index(), counts.sort_index(), check_dtype=False, check_names=False, check_index_type=False
    )


def test_seq_is_gap_free_and_in_event_order(timeline):
    """seq is 1..n per person and follows pandas' sort by (event_at, event_seq)."""
    ordered = timeline.sort_values(["person_id", "event_ms", "event_seq"]).copy()
    ordered["expected_seq"] = ordered.groupby("person_id").cumcount() + 1
    wrong = ordered[ordered["seq"] != ordered["expected_seq"]]
    assert wrong.empty, wrong[["person_id", "event_id", "seq", "expected_seq"]].head()


def test_seconds_since_previous(timeline):
    """Seconds since the person's previous touch; NULL for the first."""
    ordered = timeline.sort_values(["person_id", "seq"]).copy()
    expected = ordered.groupby("person_id")["event_ms"].diff() / 1000
    first = ordered["seq"] == 1
    assert ordered.loc[first, "seconds_since_previous"].isna().all()
    assert np.allclose(ordered.loc[~first, "seconds_since_previous"], expected[~first], atol=1e-3)


def test_labels_say_what_happened(built, timeline):
    """Every touch has a label of its own (not the bare event type); payments name their amount
    and plays their title's played minutes."""
    assert (timeline["label"].str.len() > 0).all()
    assert (timeline["label"] != timeline["event_type"]).all(), timeline.loc[
        timeline["label"] == timeline["event_type"], "event_type"
    ].unique()
    paid = timeline[timeline["event_type"].isin(["first_payment", "renewal", "reactivation"])]
    assert len(paid) > 0
    assert all(f"Paid {v:.2f} RUB" in label for v, label in zip(paid["value"], paid["label"], strict=True))

    views = _frame(
        built,
        f"select concat('player:play:', view_id) as event_id, played_sec, is_complete "
        f"from {built.db('intermediate')}.int_player_views where played_sec >= 60",
    )
    plays = timeline.merge(views, on="event_id")
    assert len(plays) > 0
    minutes = plays["played_sec"].map(lambda s: f" {int(np.floor(s / 60 + 0.5))} min")
    has_minutes = [m in label for m, label in zip(minutes, plays["label"], strict=True)]
    assert all(has_minutes), plays.loc[
        ~pd.Series(has_minutes, index=plays.index), ["label", "played_sec"]
    ].head()
    assert (plays["label"].str.endswith("(complete)") == plays["is_complete"]).all()
