"""int_sessions against an independent pandas sessionisation of int_events, and against the
simulator's daily activity truth (person, day, platform with any session)."""

from __future__ import annotations

import pandas as pd
import pytest

TIMEOUT = pd.Timedelta(minutes=30)


@pytest.fixture(scope="module")
def touches(built) -> pd.DataFrame:
    return built.client.query_df(
        f"select event_id, person_id, platform, event_at, event_seq, activity_end_at, session_id "
        f"from {built.db('intermediate')}.int_events where source != 'billing'"
    )


@pytest.fixture(scope="module")
def sessions(built) -> pd.DataFrame:
    return built.client.query_df(f"select * from {built.db('intermediate')}.int_sessions")


def pandas_sessions(touches: pd.DataFrame) -> pd.Series:
    """Session number per touch: a new one when 30 min passed since the end of all earlier activity."""
    ordered = touches.sort_values(["person_id", "platform", "event_at", "event_seq"])
    numbers = []
    last_key, last_end, number = None, None, 0
    for key, start, end in zip(
        zip(ordered["person_id"], ordered["platform"], strict=True),
        ordered["event_at"],
        ordered["activity_end_at"],
        strict=True,
    ):
        if key != last_key or start >= last_end + TIMEOUT:
            number += 1
            last_key, last_end = key, end
        else:
            last_end = max(last_end, end)
        numbers.append(number)
    return pd.Series(numbers, index=ordered.index)


def test_sessions_equal_an_independent_pandas_sessionisation(touches, sessions):
    touches = touches.assign(pandas_session=pandas_sessions(touches))
    assert touches["pandas_session"].nunique() == len(sessions)
    groups = touches.groupby("session_id")["pandas_session"].nunique()
    assert (groups == 1).all(), "a warehouse session spans several pandas sessions"
    assert touches.groupby("pandas_session")["session_id"].nunique().eq(1).all()
    per_person = sessions.groupby("person_id").size()
    expected = touches.groupby("person_id")["pandas_session"].nunique()
    assert per_person.sort_index().equals(expected.sort_index())


def test_session_attributes(touches, sessions):
    first = touches.sort_values(["event_at", "event_seq"]).groupby("session_id").first()
    joined = sessions.set_index("session_id").join(first, rsuffix="_first")
    assert (joined["started_at"] == joined["event_at"]).all()
    assert (joined["ended_at"] >= joined["started_at"]).all()
    assert (joined["session_date"].astype("datetime64[ns]") == joined["started_at"].dt.floor("D")).all()
    counts = touches.groupby("session_id").size()
    assert joined["events"].sort_index().equals(counts.sort_index().astype(joined["events"].dtype))
    web = sessions[sessions["platform"] == "web"]
    assert web["channel"].notna().all() and (web["first_event_type"] == "visit").mean() > 0.99


def test_person_days_match_truth_daily_activity(built, sessions):
    ids = built.client.query_df(
        f"select id_type, id_value, person_id as wh_person from {built.db('intermediate')}.int_identity__ids"
    )
    truth_ids = pd.read_parquet(built.world_dir / "truth" / "identity.parquet")
    truth_ids["id_value"] = truth_ids["id_value"].astype(str)
    own = truth_ids[~truth_ids["is_shared"]].merge(ids, on=["id_type", "id_value"])
    stands_for = (
        own.groupby(["wh_person", "person_id"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["n", "person_id"], ascending=[False, True])
        .drop_duplicates("wh_person")
        .set_index("wh_person")["person_id"]
    )
    mine = sessions.assign(true_person=sessions["person_id"].map(stands_for)).dropna(subset=["true_person"])
    mine_days = set(
        zip(
            mine["true_person"].astype("int64"),
            pd.to_datetime(mine["session_date"]).dt.date,
            mine["platform"],
            strict=True,
        )
    )
    activity = pd.read_parquet(built.world_dir / "truth" / "daily_activity.parquet")
    truth_days = set(
        zip(
            activity["person_id"], pd.to_datetime(activity["date"]).dt.date, activity["platform"], strict=True
        )
    )
    agreement = len(mine_days & truth_days) / len(truth_days | mine_days)
    print(f"sessions: person-day-platform agreement with truth daily activity {agreement:.4f}")
    # What differs is anonymous touches on shared devices (given to the device's owner).
    assert agreement >= 0.97
