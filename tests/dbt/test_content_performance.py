"""Content marts, performance: fct_content_performance against the simulator's truth views and
against pandas recomputations of its definitions from int_player_views and the catalogue."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.usefixtures("built")

CONTINUATION_WINDOW = pd.Timedelta(days=7)
COUNTS = ["viewers", "plays", "valid_plays", "complete_plays", "continuation_viewers", "continued_viewers"]


def load_views(client, inter: str) -> pd.DataFrame:
    views = client.query_df(
        f"""
        select view_id, person_id, content_id, view_date, started_at, duration_sec,
            unique_watched_sec, furthest_position_sec, is_valid_play, is_complete
        from {inter}.int_player_views
        """
    )
    views["view_date"] = pd.to_datetime(views["view_date"]).dt.date
    views["duration_sec"] = views["duration_sec"].fillna(0.0)
    return views


def load_catalogue(client, staging: str) -> pd.DataFrame:
    return client.query_df(
        f"""
        select content_id, toString(content_type) as content_type, ifNull(parent_id, '') as parent_id,
            ifNull(series_id, '') as series_id, season_number, episode_number
        from {staging}.stg_content_catalog__content
        """
    )


def load_performance(client, marts: str) -> pd.DataFrame:
    mart = client.query_df(f"select * from {marts}.fct_content_performance")
    mart["view_date"] = pd.to_datetime(mart["view_date"]).dt.date
    mart["level"] = mart["level"].astype(str)
    return mart


def next_episodes(catalogue: pd.DataFrame) -> dict[str, str]:
    """Episode -> the following episode of its series in (season, episode, id) order."""
    episodes = catalogue[catalogue["content_type"] == "episode"].sort_values(
        ["series_id", "season_number", "episode_number", "content_id"]
    )
    following = {}
    for _, group in episodes.groupby("series_id"):
        ids = list(group["content_id"])
        following.update(zip(ids[:-1], ids[1:], strict=True))
    return following


def continuation_pairs(views: pd.DataFrame, following: dict[str, str]) -> pd.DataFrame:
    """One row per person, episode with a next episode, and day: whether the person started the
    next episode after the day's first start of this one and within the window."""
    starts = views.groupby(["person_id", "content_id"])["started_at"].apply(list).to_dict()
    firsts = (
        views[views["content_id"].isin(following)]
        .groupby(["person_id", "content_id", "view_date"], as_index=False)["started_at"]
        .min()
    )
    firsts["is_continued"] = [
        any(t < s <= t + CONTINUATION_WINDOW for s in starts.get((p, following[c]), []))
        for p, c, t in zip(firsts["person_id"], firsts["content_id"], firsts["started_at"], strict=True)
    ]
    return firsts


def leveled(frame: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Each row once per level it rolls up to: its title, its season, its series."""
    parents = catalogue.set_index("content_id")
    is_episode = frame["content_id"].map(parents["content_type"]).eq("episode")
    parts = [frame.assign(level="title", level_id=frame["content_id"])]
    episodes = frame[is_episode]
    parts.append(episodes.assign(level="season", level_id=episodes["content_id"].map(parents["parent_id"])))
    parts.append(episodes.assign(level="series", level_id=episodes["content_id"].map(parents["series_id"])))
    return pd.concat(parts, ignore_index=True)


def expected_performance(views: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    rows = leveled(views, catalogue)
    rows["share"] = np.where(
        rows["duration_sec"] > 0, rows["unique_watched_sec"] / rows["duration_sec"], np.nan
    )
    for k in range(1, 11):
        rows[f"reached_{k}"] = np.where(
            rows["duration_sec"] > 0, rows["furthest_position_sec"] * 10 >= rows["duration_sec"] * k, np.nan
        )
    keys = ["level", "level_id", "view_date"]
    expected = rows.groupby(keys, as_index=False).agg(
        viewers=("person_id", "nunique"),
        plays=("view_id", "size"),
        valid_plays=("is_valid_play", "sum"),
        complete_plays=("is_complete", "sum"),
        watched_sec=("unique_watched_sec", "sum"),
        avg_share_watched=("share", "mean"),
        **{f"reached_{k}": (f"reached_{k}", "mean") for k in range(1, 11)},
    )
    pairs = leveled(continuation_pairs(views, next_episodes(catalogue)), catalogue)
    continuation = pairs.groupby(keys, as_index=False).agg(
        continuation_viewers=("is_continued", "size"), continued_viewers=("is_continued", "sum")
    )
    expected = expected.merge(continuation, on=keys, how="left").fillna(
        {"continuation_viewers": 0, "continued_viewers": 0}
    )
    expected["watch_hours"] = expected["watched_sec"] / 3600
    expected = expected.sort_values(
        ["level", "view_date", "viewers", "plays", "watched_sec", "level_id"],
        ascending=[True, True, False, False, False, True],
    )
    expected["popularity_rank"] = expected.groupby(["level", "view_date"]).cumcount() + 1
    return expected.rename(columns={"level_id": "content_id"})


@pytest.fixture(scope="module")
def performance(built) -> pd.DataFrame:
    return load_performance(built.client, built.db("marts"))


@pytest.fixture(scope="module")
def expected(built) -> pd.DataFrame:
    views = load_views(built.client, built.db("intermediate"))
    return expected_performance(views, load_catalogue(built.client, built.db("staging")))


def test_completion_and_watch_hours_match_truth(built, performance):
    """Per title and day, plays, complete plays (int_player_views' rule: the credits or 90 % of
    the duration) and watch hours equal the truth views'. Truth `completed` means "reached the
    credits" only, so it may only count fewer. Views not fully received are compared only as
    upper bounds: the warehouse has seen part of their events."""
    truth = pd.read_parquet(built.world_dir / "truth" / "views.parquet")
    truth["content_id"] = truth["content_id"].astype(str)
    truth["view_date"] = truth["started_at"].dt.date
    truth["complete"] = truth["furthest_position_sec"] >= np.minimum(
        truth["credits_start_sec"], 0.9 * truth["duration_sec"]
    )
    keys = ["content_id", "view_date"]
    by_title = truth.groupby(keys, as_index=False).agg(
        truth_plays=("view_id", "size"),
        truth_complete=("complete", "sum"),
        truth_credits_reached=("completed", "sum"),
        truth_hours=("unique_watched_sec", lambda s: s.sum() / 3600),
        fully_received=("received_complete", "all"),
    )
    mart = performance[performance["level"] == "title"]
    merged = by_title.merge(mart, on=keys, how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    full = merged[merged["fully_received"]]
    assert len(full) > 50
    assert (full["plays"] == full["truth_plays"]).all()
    assert (full["complete_plays"] == full["truth_complete"]).all(), full[
        full["complete_plays"] != full["truth_complete"]
    ][[*keys, "complete_plays", "truth_complete"]]
    assert (full["truth_credits_reached"] <= full["complete_plays"]).all()
    hours_diff = (full["watch_hours"] - full["truth_hours"]).abs()
    assert (hours_diff <= 0.5 * full["plays"] / 3600).all(), full.loc[hours_diff.idxmax()]
    partial = merged[~merged["fully_received"]]
    assert (partial["watch_hours"] <= partial["truth_hours"] + 1e-9).all()
    print(
        f"content performance: {len(full)} title-days equal the truth "
        f"({int(full['complete_plays'].sum())} complete plays, {full['watch_hours'].sum():.1f} h; "
        f"truth credits-reached {int(full['truth_credits_reached'].sum())}); {len(partial)} partly received"
    )


def test_every_measure_matches_pandas(performance, expected):
    """Counts, watch hours, share watched, drop-off curve, continuation and rank of every level,
    item and day equal a pandas recomputation from int_player_views and the catalogue."""
    keys = ["level", "content_id", "view_date"]
    merged = expected.merge(performance, on=keys, how="outer", suffixes=("_pandas", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][keys].head()
    for column in [*COUNTS, "popularity_rank"]:
        bad = merged[f"{column}_pandas"].astype(int) != merged[column].astype(int)
        assert not bad.any(), merged.loc[bad, [*keys, f"{column}_pandas", column]].head()
    for column in ["watch_hours", "avg_share_watched"]:
        diff = (merged[f"{column}_pandas"].astype(float) - merged[column].astype(float)).abs()
        assert (diff.fillna(0) < 1e-9).all(), column
    curve = np.vstack(merged["drop_off_curve"].to_numpy())
    reference = merged[[f"reached_{k}" for k in range(1, 11)]].fillna(0).to_numpy(dtype=float)
    assert np.allclose(curve, reference, atol=1e-12)
    # A curve never rises: reaching 60 % means having reached 50 %.
    assert (np.diff(curve, axis=1) <= 1e-12).all()
    print(f"content performance: {len(merged)} rows equal pandas on every measure")


def test_continuation_is_measured(performance):
    """The world's series are binge-watched: some viewers go on to the next episode, and the
    rate is a share."""
    series = performance[performance["level"] == "series"]
    assert series["continuation_viewers"].sum() > 20
    rate = series["continued_viewers"].sum() / series["continuation_viewers"].sum()
    assert 0 < rate < 1
    films = performance[(performance["content_type"] == "film")]
    assert (films["continuation_viewers"] == 0).all() and films["continuation_rate"].isna().all()
    print(f"content performance: next-episode continuation within 7 days {rate:.1%}")


def test_ranks_start_at_one_each_day(performance):
    for (_level, _day), group in performance.groupby(["level", "view_date"]):
        assert sorted(group["popularity_rank"]) == list(range(1, len(group) + 1))
    assert isinstance(performance["view_date"].iloc[0], dt.date)
