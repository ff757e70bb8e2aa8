"""Headline numbers of the built marts: the few figures `predicto demo` prints after a build.

Each headline is one SELECT over the marts database; "today" is the data's newest day (never the
wall clock), so the same data always prints the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Headline:
    title: str
    sql: str  # `{marts}` is replaced by the marts database


HEADLINES: tuple[Headline, ...] = (
    Headline(
        "Active users on the newest day (all platforms and channels)",
        """
        select activity_date as day, dau, wau, mau, round(stickiness, 3) as dau_per_mau
        from {marts}.fct_active_users_daily
        where platform = 'all' and acquisition_channel = 'all'
        order by activity_date desc
        limit 1
        """,
    ),
    Headline(
        "Retention of daily first-seen cohorts (first-time; only cohorts old enough for day N)",
        """
        select period_number as day_n, sum(cohort_persons) as cohort_size,
            sum(persons_active_on) as active_on_day_n,
            round(sum(persons_active_on) / sum(cohort_persons), 4) as retention_on_day_n,
            round(sum(persons_active_on_or_after) / sum(cohort_persons), 4) as retention_on_or_after
        from {marts}.fct_retention_cohorts
        where cohort_type = 'first_seen' and retention_type = 'first_time' and period_grain = 'day'
            and period_number in (1, 7, 30) and is_period_complete
        group by period_number
        order by period_number
        """,
    ),
    Headline(
        "Acquisition funnel, every entry day (in progress = window still open, not dropped)",
        """
        select step_index as step, any(step_name) as name, sum(persons) as reached,
            sum(persons_dropped) as dropped, sum(persons_in_progress) as in_progress,
            round(sum(persons) / sum(persons_entered), 4) as conversion_from_entry
        from {marts}.fct_funnel_acquisition
        where breakdown = 'total'
        group by step_index
        order by step_index
        """,
    ),
    Headline(
        "Marketing to date by channel (last-non-direct attribution; ROMI = (revenue - spend) / spend)",
        """
        select channel, sum(spend) as total_spend, round(sum(new_paying_customers), 1) as new_payers,
            round(sum(spend) / nullIf(sum(new_paying_customers), 0)) as cac,
            round(sum(net_revenue)) as total_net_revenue,
            round((sum(net_revenue) - sum(spend)) / nullIf(sum(spend), 0), 2) as romi,
            round(sum(spend) / nullIf(sum(net_revenue), 0), 2) as drr
        from {marts}.fct_romi
        where campaign = 'all' and attribution_model = 'last_non_direct'
        group by channel
        order by total_spend desc, total_net_revenue desc
        """,
    ),
    Headline(
        "Subscriptions: MRR bridge and churn by month (all plans)",
        """
        select month_start as month, opening_mrr, new_mrr, reactivation_mrr, churn_mrr, closing_mrr,
            round(churn_rate, 3) as churn_rate, round(renewal_rate, 3) as renewal_rate,
            round(trial_conversion_rate, 3) as trial_to_paid
        from {marts}.fct_mrr_monthly
        where plan_id = 'all'
        order by month_start
        """,
    ),
    Headline(
        "Top titles by ROI (credited revenue vs amortised licence/production cost)",
        """
        select title, content_type as type, credited_revenue, amortised_cost, round(roi, 3) as roi
        from {marts}.fct_content_roi
        where amortised_cost > 0
        order by roi desc, content_id
        limit 5
        """,
    ),
)


def marts_database(outcome: Any) -> str | None:
    """The database the marts were built in, read off the build's results."""
    for r in outcome.results:
        relation = r.get("relation") or ""
        if r["unique_id"].startswith("model.") and "_marts" in relation:
            return relation.split(".")[0].strip('`"')
    return None


def collect(client: Any, marts: str, headlines: tuple[Headline, ...] = HEADLINES) -> list[tuple[str, Any]]:
    """Run every headline whose marts exist; returns (title, result) pairs."""
    out = []
    for h in headlines:
        out.append((h.title, client.query(h.sql.format(marts=marts))))
    return out


def format_result(title: str, result: Any) -> list[str]:
    """A small aligned text table."""
    names = list(result.column_names)
    rows = [[_cell(v) for v in row] for row in result.result_rows]
    widths = [max(len(n), *(len(r[i]) for r in rows)) if rows else len(n) for i, n in enumerate(names)]
    lines = [title, "  " + "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))]
    lines += ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    if not rows:
        lines.append("  (no rows yet)")
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
