"""Product marts, activity: DAU/WAU/MAU and lifecycle against pandas on int_* and against the truth."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from .product_reference import period_end, period_index, period_start

pytestmark = pytest.mark.usefixtures("built")


def _frame(built, sql: str) -> pd.DataFrame:
    return built.client.query_df(sql)


@pytest.fixture(scope="module")
def person_days(built) -> pd.DataFrame:
    """Distinct (person, day, platform) of int_events, with the person's channel and first day."""
    inter = built.db("intermediate")
    df = _frame(
        built,
        f"""
        select distinct e.person_id as person_id, e.event_date as day, toString(e.platform) as platform,
            e.source = 'billing' as is_billing
        from {inter}.int_events as e
        """,
    )
    persons = _frame(
        built,
        f"select person_id, toString(acquisition_channel) as channel, first_seen_date "
        f"from {inter}.int_persons",
    )
    df["day"] = pd.to_datetime(df["day"]).dt.date
    df["is_billing"] = df["is_billing"].astype(bool)
    persons["first_seen_date"] = pd.to_datetime(persons["first_seen_date"]).dt.date
    return df.merge(persons, on="person_id", how="left").fillna({"channel": "unknown"})


def _windows(days: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """DAU / WAU / MAU (trailing 1, 7, 30 days) per day and `keys`, from (person, day, keys...) rows."""
    last = days["day"].max()
    rows = []
    for back in range(30):
        shifted = days.assign(report=days["day"] + dt.timedelta(days=back), back=back)
        rows.append(shifted[shifted["report"] <= last])
    expanded = pd.concat(rows)
    grouped = expanded.groupby(["report", *keys])
    out = pd.DataFrame(
        {
            "dau": grouped.apply(lambda g: g.loc[g.back == 0, "person_id"].nunique(), include_groups=False),
            "wau": grouped.apply(lambda g: g.loc[g.back < 7, "person_id"].nunique(), include_groups=False),
            "mau": grouped["person_id"].nunique(),
        }
    )
    return out.reset_index().rename(columns={"report": "activity_date"})


def test_active_users_match_pandas(built, person_days):
    """Every row of fct_active_users_daily equals DAU/WAU/MAU computed by pandas from int_events."""
    frames = []
    base = person_days[["person_id", "day", "platform", "channel"]]
    for platform_all in (False, True):
        for channel_all in (False, True):
            days = base.copy()
            if platform_all:
                days["platform"] = "all"
            if channel_all:
                days["channel"] = "all"
            frames.append(_windows(days.drop_duplicates(), ["platform", "channel"]))
    expected = pd.concat(frames).rename(columns={"channel": "acquisition_channel"})
    actual = _frame(
        built,
        f"select activity_date, toString(platform) as platform, toString(acquisition_channel) as "
        f"acquisition_channel, dau, wau, mau from {built.db('marts')}.fct_active_users_daily",
    )
    actual["activity_date"] = pd.to_datetime(actual["activity_date"]).dt.date
    keys = ["activity_date", "platform", "acquisition_channel"]
    merged = expected.merge(actual, on=keys, how="outer", suffixes=("_pandas", "_mart"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    for measure in ("dau", "wau", "mau"):
        diff = merged[merged[f"{measure}_pandas"] != merged[f"{measure}_mart"]]
        assert diff.empty, diff.head()


# Warehouse anchor types -> the truth's identifier types with the same values.
TRUTH_ID_TYPES = {
    "metrica_client_id": ["metrica_client_id"],
    "metrica_user_id_hash": ["metrica_user_id_hash"],
    "appmetrica_device_id": ["appmetrica_device_id"],
    "user_id": ["user_id"],
    "player_user_id": ["user_id"],
    "appmetrica_profile_id": ["user_id"],
    "billing_customer_id": ["user_id"],
    "player_device_id": ["metrica_client_id", "appmetrica_device_id", "tv_device_id"],
}


def _truth_person_of(built) -> pd.Series:
    """Warehouse person -> truth person, through the identifiers their touches carry."""
    anchors = _frame(
        built,
        f"select distinct person_id, toString(anchor_id_type) as anchor_type, anchor_id_value "
        f"from {built.db('intermediate')}.int_events",
    )
    identity = pd.read_parquet(built.world_dir / "truth" / "identity.parquet")
    identity = identity[~identity["is_shared"]].rename(columns={"person_id": "truth_person_id"})
    rows = [
        (person, id_type, value)
        for person, anchor_type, value in zip(
            anchors.person_id, anchors.anchor_type, anchors.anchor_id_value, strict=True
        )
        for id_type in TRUTH_ID_TYPES.get(anchor_type, [])
    ]
    pairs = pd.DataFrame(rows, columns=["person_id", "id_type", "id_value"]).merge(
        identity, on=["id_type", "id_value"]
    )
    per_person = pairs.groupby("person_id")["truth_person_id"].nunique()
    unique = pairs[pairs["person_id"].isin(per_person[per_person == 1].index)]
    return unique.drop_duplicates("person_id").set_index("person_id")["truth_person_id"]


def test_active_users_match_truth(built):
    """DAU/WAU/MAU per day against truth/daily_activity.parquet (a person is active on a day
    with a session there).

    The mart's person-days with a session, re-keyed from warehouse people to the truth's people
    (through the identifiers of their touches), give the truth's daily, weekly and monthly
    actives. Re-keying matters: identity resolution cannot join the devices of someone who never
    logs in, so warehouse counts run above the truth over longer windows (checked separately).
    """
    truth = pd.read_parquet(built.world_dir / "truth" / "daily_activity.parquet")
    truth["day"] = pd.to_datetime(truth["date"]).dt.date
    truth = truth[["person_id", "day"]].drop_duplicates()

    person_days = _frame(
        built,
        f"select person_id, activity_date as day, sessions from {built.db('marts')}.fct_person_activity_daily",
    )
    person_days["day"] = pd.to_datetime(person_days["day"]).dt.date
    with_session = person_days[person_days["sessions"] > 0]
    truth_person = with_session["person_id"].map(_truth_person_of(built))
    assert truth_person.notna().mean() >= 0.97
    ours = (
        with_session.assign(person_id=truth_person)
        .dropna(subset=["person_id"])[["person_id", "day"]]
        .drop_duplicates()
    )

    found = set(zip(ours.person_id, ours.day, strict=True))
    expected = set(zip(truth.person_id, truth.day, strict=True))
    assert len(found & expected) >= 0.97 * len(expected)
    assert len(found - expected) <= 0.01 * len(expected)

    windows = _windows(ours.assign(platform="all"), ["platform"]).set_index("activity_date")
    truth_windows = _windows(truth.assign(platform="all"), ["platform"]).set_index("activity_date")
    both = windows.merge(truth_windows, left_index=True, right_index=True, suffixes=("", "_truth"))
    assert len(both) == len(truth_windows)
    for measure in ("dau", "wau", "mau"):
        ratio = both[measure].sum() / both[f"{measure}_truth"].sum()
        assert 0.97 <= ratio <= 1.01, (measure, ratio)
        off = (both[measure] - both[f"{measure}_truth"]).abs() > 0.1 * both[f"{measure}_truth"] + 2
        assert not off.any(), both[off]

    # Without re-keying: DAU stays close; split anonymous people inflate WAU and MAU a little.
    mart = _frame(
        built,
        f"select activity_date, dau, wau, mau from {built.db('marts')}.fct_active_users_daily "
        f"where platform = 'all' and acquisition_channel = 'all'",
    )
    mart["activity_date"] = pd.to_datetime(mart["activity_date"]).dt.date
    raw = mart.set_index("activity_date").merge(
        truth_windows, left_index=True, right_index=True, suffixes=("", "_truth")
    )
    assert 1.0 <= raw["dau"].sum() / raw["dau_truth"].sum() <= 1.15
    assert 1.0 <= raw["mau"].sum() / raw["mau_truth"].sum() <= 1.3


def test_any_event_counts_as_activity(built, person_days):
    """The mart's DAU counts any event (an automatic renewal too): int_events' people per day."""
    mart = _frame(
        built,
        f"select activity_date, dau from {built.db('marts')}.fct_active_users_daily "
        f"where platform = 'all' and acquisition_channel = 'all'",
    )
    mart["activity_date"] = pd.to_datetime(mart["activity_date"]).dt.date
    any_event = person_days.groupby("day")["person_id"].nunique()
    assert mart.set_index("activity_date")["dau"].to_dict() == any_event.to_dict()


def test_lifecycle_matches_pandas(built, person_days):
    """fct_user_lifecycle: new / returning / resurrecting / dormant per period, as pandas finds them."""
    last_day = person_days["day"].max()
    persons = person_days.drop_duplicates("person_id").set_index("person_id")
    inter = built.db("intermediate")
    attrs = _frame(
        built, f"select person_id, toString(first_platform) as first_platform from {inter}.int_persons"
    ).set_index("person_id")
    rows = []
    for grain in ("day", "week", "month"):
        active = person_days.assign(period=[period_index(d, grain) for d in person_days["day"]])
        by_person = active.groupby("person_id")["period"].apply(lambda s: sorted(set(s)))
        last_period = period_index(last_day, grain)
        for person, periods in by_person.items():
            first = period_index(persons.at[person, "first_seen_date"], grain)
            owned = set(periods)
            for p in periods:
                status = "new" if p == first else ("returning" if p - 1 in owned else "resurrecting")
                rows.append((grain, p, status, person))
                if p + 1 not in owned and p + 1 <= last_period:
                    rows.append((grain, p + 1, "dormant", person))
    expected = pd.DataFrame(rows, columns=["period_grain", "period", "lifecycle_status", "person_id"])
    expected["acquisition_channel"] = expected["person_id"].map(persons["channel"])
    expected["first_platform"] = expected["person_id"].map(attrs["first_platform"]).fillna("unknown")
    expected["period_start"] = [
        period_start(p, g) for p, g in zip(expected.period, expected.period_grain, strict=True)
    ]
    keys = ["period_grain", "period_start", "lifecycle_status", "acquisition_channel", "first_platform"]
    expected = expected.groupby(keys).size().rename("persons").reset_index()
    expected["is_period_complete"] = [
        period_end(period_index(s, g), g) <= last_day
        for s, g in zip(expected.period_start, expected.period_grain, strict=True)
    ]
    actual = _frame(
        built,
        f"select toString(period_grain) as period_grain, period_start, toString(lifecycle_status) as "
        f"lifecycle_status, toString(acquisition_channel) as acquisition_channel, toString(first_platform) "
        f"as first_platform, persons, is_period_complete from {built.db('marts')}.fct_user_lifecycle",
    )
    actual["period_start"] = pd.to_datetime(actual["period_start"]).dt.date
    merged = expected.merge(actual, on=keys, how="outer", suffixes=("_pandas", "_mart"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert (merged["persons_pandas"] == merged["persons_mart"]).all()
    assert (merged["is_period_complete_pandas"] == merged["is_period_complete_mart"].astype(bool)).all()
