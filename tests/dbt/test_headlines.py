"""The demo's headline numbers: each query runs on the built marts and the active-user and
retention figures equal an independent computation from int_events."""

from __future__ import annotations

import pandas as pd

from runner import headlines


def _events(built) -> pd.DataFrame:
    return built.client.query_df(
        f"select person_id, toDate(event_at) as day from {built.db('intermediate')}.int_events"
    )


def _headline(built, start: str):
    (h,) = [h for h in headlines.HEADLINES if h.title.startswith(start)]
    return built.client.query(h.sql.format(marts=built.db("marts")))


def test_every_headline_runs_and_formats(built):
    for title, result in headlines.collect(built.client, built.db("marts")):
        assert result.result_rows, title
        text = "\n".join(headlines.format_result(title, result))
        assert title in text


def test_active_users_headline_matches_int_events(built):
    ev = _events(built)
    day, dau, wau, mau, _ = _headline(built, "Active users").first_row
    newest = ev["day"].max()
    assert pd.Timestamp(day) == pd.Timestamp(newest)
    in_window = lambda n: ev[ev["day"] > newest - pd.Timedelta(days=n)]["person_id"].nunique()  # noqa: E731
    assert dau == in_window(1)
    assert wau == in_window(7)
    assert mau == in_window(30)


def test_day_7_retention_headline_matches_int_events(built):
    ev = _events(built)
    ev["day"] = pd.to_datetime(ev["day"])
    newest = ev["day"].max()
    first = ev.groupby("person_id")["day"].min().rename("cohort")
    ev = ev.join(first, on="person_id")
    cohort = first[first + pd.Timedelta(days=7) <= newest]
    active = ev[(ev["day"] - ev["cohort"]).dt.days == 7]["person_id"].nunique()
    rows = {r[0]: r for r in _headline(built, "Retention").result_rows}
    assert rows[7][1] == len(cohort)
    assert rows[7][2] == active
