"""Product marts, journeys: paths and Sankey transitions against pandas, and against funnels."""

from __future__ import annotations

import pandas as pd
import pytest

from .product_reference import DAY_MS, Step, funnel_frame, journey_paths

pytestmark = pytest.mark.usefixtures("built")

# The defaults of macros/product/journeys.sql (journey_default_event_types / _anchors).
JOURNEY_TYPES = [
    "visit",
    "app_install",
    "search",
    "title_page",
    "registration",
    "login",
    "trial_start",
    "first_payment",
    "renewal",
    "reactivation",
    "payment_failed",
    "refund",
    "cancellation",
    "subscription_end",
    "play",
    "complete",
]
ANCHORS = ["(start)", "visit", "title_page", "registration", "first_payment", "cancellation"]
MAX_DEPTH = 6
WINDOW_MS = 30 * DAY_MS


@pytest.fixture(scope="module")
def events(built) -> pd.DataFrame:
    df = built.client.query_df(
        f"""
        select person_id, toUnixTimestamp64Milli(event_at) as ts, event_seq as seq,
            toString(event_type) as event_type
        from {built.db("intermediate")}.int_events
        """
    )
    df["seq"] = df["seq"].astype(object)
    return df


@pytest.fixture(scope="module")
def paths(events) -> pd.DataFrame:
    return journey_paths(events, JOURNEY_TYPES, ANCHORS, MAX_DEPTH, WINDOW_MS)


def test_paths_match_pandas(built, paths):
    """fct_journey_paths: people per (direction, anchor, depth, path) equal the paths pandas walks."""
    rows = []
    for row in paths.itertuples():
        for depth in range(1, min(len(row.from_nodes), MAX_DEPTH) + 1):
            rows.append(("from", row.anchor_event, depth, " > ".join(n[1] for n in row.from_nodes[:depth])))
        if row.anchor_event != "(start)":
            for depth in range(1, len(row.to_nodes) + 1):
                rows.append(("to", row.anchor_event, depth, " > ".join(n[1] for n in row.to_nodes[-depth:])))
    keys = ["direction", "anchor_event", "path_depth", "path"]
    expected = pd.DataFrame(rows, columns=keys).groupby(keys).size().rename("persons").reset_index()
    actual = built.client.query_df(
        f"""
        select toString(direction) as direction, toString(anchor_event) as anchor_event,
            toInt64(path_depth) as path_depth, path, persons, path_rank
        from {built.db("marts")}.fct_journey_paths
        """
    )
    merged = expected.merge(actual, on=keys, how="outer", suffixes=("_pandas", "_mart"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head(10)
    assert (merged["persons_pandas"] == merged["persons_mart"]).all()
    # Ranks: 1 is the most taken path of its direction, anchor and depth.
    top = actual[actual.path_rank == 1].set_index(["direction", "anchor_event", "path_depth"])["persons"]
    most = actual.groupby(["direction", "anchor_event", "path_depth"])["persons"].max()
    assert top.sort_index().equals(most.sort_index())


def test_transitions_match_pandas(built, paths):
    """fct_journey_transitions: Sankey edges (with '(end)' for journeys that stop) equal pandas."""
    rows = []
    for row in paths.itertuples():
        nodes = row.from_nodes
        for step in range(1, min(len(nodes), MAX_DEPTH) + 1):
            if step < len(nodes):
                rows.append(
                    (
                        row.anchor_event,
                        step,
                        nodes[step - 1][1],
                        nodes[step][1],
                        nodes[step][0] - nodes[step - 1][0],
                    )
                )
            elif len(nodes) <= MAX_DEPTH:
                rows.append((row.anchor_event, step, nodes[step - 1][1], "(end)", None))
    keys = ["anchor_event", "step_number", "from_event", "to_event"]
    edges = pd.DataFrame(rows, columns=[*keys, "ms"])
    expected = edges.groupby(keys).agg(persons=("ms", "size"), mean_ms=("ms", "mean")).reset_index()
    actual = built.client.query_df(
        f"""
        select toString(anchor_event) as anchor_event, toInt64(step_number) as step_number,
            toString(from_event) as from_event, toString(to_event) as to_event, persons, mean_seconds
        from {built.db("marts")}.fct_journey_transitions
        """
    )
    merged = expected.merge(actual, on=keys, how="outer", suffixes=("_pandas", "_mart"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head(10)
    assert (merged["persons_pandas"] == merged["persons_mart"]).all()
    timed = merged[merged["to_event"] != "(end)"]
    assert ((timed["mean_ms"] / 1000 - timed["mean_seconds"]).abs() < 1e-6).all()


def test_paths_reconcile_with_funnels(built, events, paths):
    """Journeys and funnels tell one story.

    - The `from` paths beginning with s1..sk count exactly the people a strict funnel s1..sk
      (anchored at the first s1, over the journey event types and window) counts at step k.
    - Everyone with a visit starts a `from visit` path and enters the acquisition funnel.
    """
    journey_events = events[events.event_type.isin(JOURNEY_TYPES)]
    as_of = int(events["ts"].max())
    path_persons = built.client.query_df(
        f"""
        select toString(anchor_event) as anchor_event, path, persons
        from {built.db("marts")}.fct_journey_paths where direction = 'from'
        """
    ).set_index(["anchor_event", "path"])["persons"]
    for sequence in (
        ["visit", "title_page", "play", "complete"],
        ["registration", "trial_start", "title_page"],
    ):
        steps = [Step(f"s{i}", (t,)) for i, t in enumerate(sequence)]
        funnel = funnel_frame(
            journey_events,
            ["person_id"],
            as_of,
            steps=steps,
            window_ms=WINDOW_MS,
            mode="strict",
            anchor="first",
        )
        for k in range(1, len(sequence) + 1):
            counted = int((funnel["furthest_step"] >= k).sum())
            on_path = int(path_persons.get((sequence[0], " > ".join(sequence[:k])), 0))
            assert counted == on_path, (sequence[:k], counted, on_path)
        assert counted > 0

    entered = built.client.query_df(
        f"""
        select sum(persons_entered) as persons from {built.db("marts")}.fct_funnel_acquisition
        where breakdown = 'total' and step_index = 1
        """
    )["persons"][0]
    assert (
        entered
        == path_persons[("visit", "visit")]
        == events[events.event_type == "visit"].person_id.nunique()
    )
