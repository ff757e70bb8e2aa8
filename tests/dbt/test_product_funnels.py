"""Product marts, funnels: the funnel marts and the funnel macro against an exhaustive Python search.

The reference (product_reference.funnel_unit) enumerates every attempt and every way of
matching the steps, then picks the documented best; the macro computes the same with arrays in
ClickHouse. Ad-hoc funnels come from dbt_project/analyses/product, compiled here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from .pipeline import dbt_environment
from .product_reference import DAY_MS, Exclusion, Step, funnel_frame

pytestmark = pytest.mark.usefixtures("built")

ACQUISITION = [
    Step("visit", ("visit",)),
    Step("registration", ("registration",)),
    Step("trial_start", ("trial_start",), optional=True),
    Step("first_payment", ("first_payment",)),
    Step("renewal", ("renewal",), max_gap_ms=35 * DAY_MS),
]
ACQUISITION_EXCLUSIONS = [Exclusion(("refund",), 4, 5)]
CONTENT = [Step("title_page", ("title_page",)), Step("play", ("play",)), Step("complete", ("complete",))]
RESULT_COLUMNS = [
    "furthest_step",
    "steps_completed",
    "is_converted",
    "is_in_progress",
    "entered_ms",
    "furthest_ms",
]


def compile_nodes(built, selection: list[str]) -> dict[str, str]:
    """Compiled SQL of dbt nodes (analyses here) against the built warehouse, by node name."""
    from dbt.cli.main import dbtRunner

    from runner.dbt import PROJECT_DIR

    env = dbt_environment(built.settings, built.schema)
    project = str(Path(os.environ.get("PREDICTO_DBT_PROJECT_DIR", PROJECT_DIR)))
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        result = dbtRunner().invoke(
            [
                "compile",
                "--select",
                *selection,
                "--project-dir",
                project,
                "--profiles-dir",
                project,
                "--quiet",
            ]
        )
    assert result.success, result.exception
    return {r.node.name: r.node.compiled_code for r in result.result.results}


@pytest.fixture(scope="module")
def events(built) -> pd.DataFrame:
    df = built.client.query_df(
        f"""
        select person_id, content_id, toUnixTimestamp64Milli(event_at) as ts, event_seq as seq,
            toString(event_type) as event_type, toString(platform) as platform,
            ifNull(toString(channel), '') as channel
        from {built.db("intermediate")}.int_events
        """
    )
    df["seq"] = df["seq"].astype(object)
    return df


@pytest.fixture(scope="module")
def as_of_ms(events) -> int:
    return int(events["ts"].max())


@pytest.fixture(scope="module")
def analyses(built) -> dict[str, str]:
    return compile_nodes(built, ["path:analyses/product"])


def _persons(built, sql: str, keys: list[str], steps: list[Step]) -> pd.DataFrame:
    names = ", ".join(f"toUnixTimestamp64Milli(step_at[{i + 1}]) as s{i + 1}" for i in range(len(steps)))
    df = built.client.query_df(
        f"""
        select {", ".join(keys)}, furthest_step, steps_completed, is_converted, is_in_progress,
            toUnixTimestamp64Milli(entered_at) as entered_ms, {names}
        from ({sql})
        """
    )
    df["furthest_ms"] = [
        row[f"s{row['furthest_step']}"] if pd.notna(row[f"s{row['furthest_step']}"]) else None
        for _, row in df.iterrows()
    ]
    return df


def _expected(reference: pd.DataFrame, steps: list[Step]) -> pd.DataFrame:
    for i in range(len(steps)):
        reference[f"s{i + 1}"] = [t[i] for t in reference["step_ms"]]
    return reference.drop(columns="step_ms")


def _assert_same(expected: pd.DataFrame, actual: pd.DataFrame, keys: list[str], columns: list[str]) -> None:
    assert len(expected) > 0
    merged = expected.merge(actual, on=keys, how="outer", suffixes=("_py", "_sql"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head(10)
    for column in columns:
        left = merged[f"{column}_py"].astype("Float64")
        right = merged[f"{column}_sql"].astype("Float64")
        bad = ~((left == right).fillna(False) | (left.isna() & right.isna()))
        assert not bad.any(), merged.loc[bad, [*keys, f"{column}_py", f"{column}_sql"]].head(10)


def test_acquisition_persons_match_reference(built, events, as_of_ms):
    """fct_funnel_acquisition_persons: every person's furthest step, steps done, step times,
    conversion and in-progress flag equal the exhaustive search; breakdowns come from the
    right events (first touch, the registration step)."""
    relevant = events[
        events.event_type.isin(["visit", "registration", "trial_start", "first_payment", "renewal", "refund"])
    ]
    reference = funnel_frame(
        relevant,
        ["person_id"],
        as_of_ms,
        steps=ACQUISITION,
        window_ms=45 * DAY_MS,
        anchor="first",
        exclusions=ACQUISITION_EXCLUSIONS,
    )
    expected = _expected(reference, ACQUISITION)
    actual = built.client.query_df(
        f"""
        select person_id, furthest_step, steps_completed, is_converted, is_in_progress,
            toUnixTimestamp64Milli(entered_at) as entered_ms,
            toUnixTimestamp64Milli(visit_at) as s1, toUnixTimestamp64Milli(registration_at) as s2,
            toUnixTimestamp64Milli(trial_start_at) as s3, toUnixTimestamp64Milli(first_payment_at) as s4,
            toUnixTimestamp64Milli(renewal_at) as s5, toString(entry_platform) as entry_platform,
            toString(entry_channel) as entry_channel, toString(registration_platform) as registration_platform
        from {built.db("marts")}.fct_funnel_acquisition_persons
        """
    )
    columns = [
        "furthest_step",
        "steps_completed",
        "is_converted",
        "is_in_progress",
        "entered_ms",
        "s1",
        "s2",
        "s3",
        "s4",
        "s5",
    ]
    _assert_same(expected, actual, ["person_id"], columns)

    # Breakdown values: the entry visit's platform and channel, the registration's platform.
    visits = relevant[relevant.event_type == "visit"].set_index(["person_id", "ts"])
    registrations = relevant[relevant.event_type == "registration"].set_index(["person_id", "ts"])
    checked = actual.merge(expected[["person_id", "s1", "s2"]], on="person_id", suffixes=("", "_py"))
    for row in checked.itertuples():
        visit = visits.loc[(row.person_id, row.s1_py)]
        visit = visit.iloc[0] if isinstance(visit, pd.DataFrame) else visit
        assert row.entry_platform == visit.platform
        assert row.entry_channel == (visit.channel or "unknown")
        if pd.notna(row.s2_py):
            registration = registrations.loc[(row.person_id, row.s2_py)]
            registration = registration.iloc[0] if isinstance(registration, pd.DataFrame) else registration
            assert row.registration_platform == registration.platform
        else:
            assert row.registration_platform == "not registered"
    # The funnel has somebody at every stage, including people in progress and people who left.
    assert set(actual["furthest_step"]) >= {1, 2, 4}
    assert actual["is_in_progress"].astype(bool).any()
    assert (~actual["is_in_progress"].astype(bool) & (actual["furthest_step"] < 5)).any()


def test_content_persons_match_reference(built, events, as_of_ms):
    """fct_funnel_content_persons: each (person, title) funnel equals the exhaustive search."""
    relevant = events[events.event_type.isin(["title_page", "play", "complete"]) & events.content_id.notna()]
    reference = funnel_frame(
        relevant, ["person_id", "content_id"], as_of_ms, steps=CONTENT, window_ms=30 * DAY_MS
    )
    expected = _expected(reference, CONTENT)
    actual = built.client.query_df(
        f"""
        select person_id, content_id, furthest_step, is_converted, is_in_progress,
            toUnixTimestamp64Milli(entered_at) as entered_ms, toUnixTimestamp64Milli(title_page_at) as s1,
            toUnixTimestamp64Milli(play_at) as s2, toUnixTimestamp64Milli(complete_at) as s3
        from {built.db("marts")}.fct_funnel_content_persons
        """
    )
    columns = ["furthest_step", "is_converted", "is_in_progress", "entered_ms", "s1", "s2", "s3"]
    _assert_same(expected, actual, ["person_id", "content_id"], columns)


def test_acquisition_summary_matches_reference(built, events, as_of_ms):
    """fct_funnel_acquisition: people per step, dropped, in progress and time to convert per
    acquisition channel, summed over entry days, equal the reference's."""
    relevant = events[
        events.event_type.isin(["visit", "registration", "trial_start", "first_payment", "renewal", "refund"])
    ]
    reference = _expected(
        funnel_frame(
            relevant,
            ["person_id"],
            as_of_ms,
            steps=ACQUISITION,
            window_ms=45 * DAY_MS,
            anchor="first",
            exclusions=ACQUISITION_EXCLUSIONS,
        ),
        ACQUISITION,
    )
    channels = built.client.query_df(
        f"select person_id, toString(acquisition_channel) as channel from {built.db('intermediate')}.int_persons"
    ).set_index("person_id")["channel"]
    reference["breakdown_value"] = reference["person_id"].map(channels).fillna("unknown")
    rows = []
    for value, group in reference.groupby("breakdown_value"):
        for index, step in enumerate(ACQUISITION, start=1):
            reached = group[f"s{index}"].notna() if step.optional else group["furthest_step"] >= index
            stopped = group["furthest_step"] == index
            rows.append(
                {
                    "breakdown_value": value,
                    "step_index": index,
                    "persons_entered": len(group),
                    "persons": int(reached.sum()),
                    "persons_dropped": int((stopped & ~group["is_in_progress"]).sum()) if index < 5 else 0,
                    "persons_in_progress": int((stopped & group["is_in_progress"]).sum()),
                }
            )
    expected = pd.DataFrame(rows)
    actual = built.client.query_df(
        f"""
        select toString(breakdown_value) as breakdown_value, toInt64(step_index) as step_index,
            sum(persons_entered) as persons_entered, sum(persons) as persons,
            sum(persons_dropped) as persons_dropped, sum(persons_in_progress) as persons_in_progress
        from {built.db("marts")}.fct_funnel_acquisition
        where breakdown = 'acquisition_channel'
        group by breakdown_value, step_index
        """
    )
    _assert_same(
        expected,
        actual,
        ["breakdown_value", "step_index"],
        ["persons_entered", "persons", "persons_dropped", "persons_in_progress"],
    )

    # Time to convert, all people of one entry day: the median from the previous step done.
    day = reference.assign(entry_date=pd.to_datetime(reference["entered_ms"], unit="ms").dt.date)
    busiest = day["entry_date"].value_counts().idxmax()
    on_day = day[day["entry_date"] == busiest]
    median_registration = ((on_day["s2"] - on_day["s1"]).dropna() / 1000).median()
    median_payment = (
        ((on_day["s4"] - on_day["s3"].fillna(on_day["s2"])).dropna() / 1000)
        .sort_values()
        .reset_index(drop=True)
    )
    mart = built.client.query_df(
        f"""
        select step_index, median_seconds_from_previous
        from {built.db("marts")}.fct_funnel_acquisition
        where breakdown = 'total' and entry_date = toDate('{busiest}')
        """
    ).set_index("step_index")["median_seconds_from_previous"]
    if pd.notna(median_registration):
        # medianExact takes the lower middle of an even count.
        lower = ((on_day["s2"] - on_day["s1"]).dropna() / 1000).sort_values().reset_index(drop=True)
        assert mart[2] == lower[(len(lower) - 1) // 2]
    if len(median_payment):
        assert mart[4] == median_payment[(len(median_payment) - 1) // 2]


@pytest.mark.parametrize(
    ("analysis", "steps", "args"),
    [
        (
            "funnel_with_step_gaps",
            [
                Step("visit", ("visit",)),
                Step("registration", ("registration",), max_gap_ms=3_600_000),
                Step("trial_start", ("trial_start",), optional=True),
                Step("first_payment", ("first_payment",), min_gap_ms=6 * DAY_MS, max_gap_ms=8 * DAY_MS),
            ],
            {"window_ms": 30 * DAY_MS, "exclusions": [Exclusion(("cancellation",), 3, 4)]},
        ),
        (
            "funnel_strict_order",
            [Step("visit", ("visit",)), Step("title_page", ("title_page",)), Step("play", ("play",))],
            {"window_ms": 30 * DAY_MS, "mode": "strict", "anchor": "first", "journey_only": True},
        ),
        (
            "funnel_any_order",
            [Step("search", ("search",)), Step("title_page", ("title_page",)), Step("play", ("play",))],
            {"window_ms": DAY_MS, "mode": "any"},
        ),
    ],
)
def test_macro_modes_match_reference(built, events, as_of_ms, analyses, analysis, steps, args):
    """The ad-hoc funnels of analyses/product (per-step gaps, an optional step, an exclusion,
    strict order, any order) equal the exhaustive search, person by person."""
    from .test_product_journeys import JOURNEY_TYPES

    args = dict(args)
    relevant = events[events.event_type.isin(JOURNEY_TYPES)] if args.pop("journey_only", False) else events
    reference = _expected(funnel_frame(relevant, ["person_id"], as_of_ms, steps=steps, **args), steps)
    actual = _persons(built, analyses[analysis], ["person_id"], steps)
    columns = [*RESULT_COLUMNS, *[f"s{i + 1}" for i in range(len(steps))]]
    _assert_same(reference, actual, ["person_id"], columns)
    assert actual["furthest_step"].max() > 1


def test_window_funnel_engine_matches_arrays(built, events, as_of_ms, analyses):
    """The windowFunnel engine gives the levels and in-progress flags of the exhaustive search."""
    steps = [Step(name, (name,)) for name in ("visit", "registration", "trial_start", "first_payment")]
    reference = funnel_frame(events, ["person_id"], as_of_ms, steps=steps, window_ms=30 * DAY_MS)
    actual = built.client.query_df(
        f"select person_id, furthest_step, is_in_progress from ({analyses['funnel_window_funnel_engine']})"
    )
    _assert_same(reference, actual, ["person_id"], ["furthest_step", "is_in_progress"])
