"""Independent Python/pandas implementations of the product marts' rules, for the product tests.

They follow the documented definitions directly (a funnel by exhaustive search over paths, a
journey by walking each person's events), not the SQL's algorithms, so agreement means the SQL
implements the definition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

DAY_MS = 86_400_000
EPOCH = dt.date(1970, 1, 1)
EPOCH_MONDAY = dt.date(1970, 1, 5)


# ---------------------------------------------------------------------------------------- periods
def period_index(day: dt.date, grain: str) -> int:
    """Days since 1970-01-01, ISO weeks since Monday 1970-01-05, or months since January 1970."""
    if grain == "day":
        return (day - EPOCH).days
    if grain == "week":
        return (day - EPOCH_MONDAY).days // 7
    return (day.year - 1970) * 12 + day.month - 1


def period_start(index: int, grain: str) -> dt.date:
    if grain == "day":
        return EPOCH + dt.timedelta(days=index)
    if grain == "week":
        return EPOCH_MONDAY + dt.timedelta(days=7 * index)
    return dt.date(1970 + index // 12, index % 12 + 1, 1)


def period_end(index: int, grain: str) -> dt.date:
    return period_start(index + 1, grain) - dt.timedelta(days=1)


# ---------------------------------------------------------------------------------------- funnels
@dataclass(frozen=True)
class Step:
    name: str
    types: tuple[str, ...]
    optional: bool = False
    min_gap_ms: int | None = None
    max_gap_ms: int | None = None


@dataclass(frozen=True)
class Exclusion:
    types: tuple[str, ...]
    from_step: int  # 1-based
    to_step: int  # 1-based


@dataclass(frozen=True)
class FunnelResult:
    furthest_step: int
    steps_completed: int
    entered_ms: int
    furthest_ms: int
    step_ms: tuple[int | None, ...]
    is_converted: bool
    is_in_progress: bool


def funnel_unit(
    events: Sequence[tuple[int, int, str]],
    steps: Sequence[Step],
    window_ms: int,
    as_of_ms: int,
    mode: str = "ordered",
    anchor: str = "best",
    exclusions: Sequence[Exclusion] = (),
) -> FunnelResult | None:
    """The funnel of one unit from its events (epoch ms, event_seq, event_type).

    Every attempt is enumerated: each allowed start, then every way of matching the following
    steps (optional ones taken or skipped). The reported attempt is the best by furthest step,
    steps done, latest start, then earliest steps, as documented for funnel_persons.
    """
    ev = sorted(events)
    n = len(steps)

    def matches(i: int, s: int) -> bool:
        return ev[i][2] in steps[s].types

    if mode == "any":
        return _funnel_any(ev, steps, window_ms, as_of_ms, anchor)
    starts = [i for i in range(len(ev)) if matches(i, 0)]
    if not starts:
        return None
    if anchor == "first":
        starts = starts[:1]
    best_key: tuple | None = None
    best_path: list[tuple[int, int]] = []

    def excluded_between(last_step: int, next_step: int, a: int, b: int) -> bool:
        # 1-based steps: the transition last_step -> next_step overlaps exclusion [from, to).
        for ex in exclusions:
            overlaps = ex.from_step < next_step and last_step < ex.to_step
            if overlaps and any(ev[q][2] in ex.types for q in range(a + 1, b)):
                return True
        return False

    def walk(path: list[tuple[int, int]]) -> None:
        nonlocal best_key, best_path
        start = path[0][1]
        last_step, last_idx = path[-1]
        positions = [0] * n
        for s, i in path:
            positions[s] = i + 1
        key = (last_step + 1, len(path), start, tuple(-p for p in positions))
        if best_key is None or key > best_key:
            best_key, best_path = key, list(path)
        for t in range(last_step + 1, n):
            if t > last_step + 1 and not steps[t - 1].optional:
                break
            for j in range(last_idx + 1, len(ev)):
                if mode == "strict" and j > last_idx + 1 and not matches(j - 1, last_step):
                    break
                if ev[j][0] - ev[start][0] > window_ms:
                    break
                if not matches(j, t):
                    continue
                gap = ev[j][0] - ev[last_idx][0]
                if steps[t].min_gap_ms is not None and gap < steps[t].min_gap_ms:
                    continue
                if steps[t].max_gap_ms is not None and gap > steps[t].max_gap_ms:
                    continue
                if excluded_between(last_step + 1, t + 1, last_idx, j):
                    continue
                walk([*path, (t, j)])

    for s in starts:
        walk([(0, s)])
    assert best_key is not None
    furthest = best_key[0]
    step_ms: list[int | None] = [None] * n
    for s, i in best_path:
        step_ms[s] = ev[i][0]
    converted = furthest == n
    entered = ev[best_path[0][1]][0]
    last_ms = ev[best_path[-1][1]][0]
    deadline = entered + window_ms
    if not converted:
        following = steps[furthest]
        if following.max_gap_ms is not None and not following.optional:
            deadline = min(deadline, last_ms + following.max_gap_ms)
    return FunnelResult(
        furthest_step=furthest,
        steps_completed=len(best_path),
        entered_ms=entered,
        furthest_ms=last_ms,
        step_ms=tuple(step_ms),
        is_converted=converted,
        is_in_progress=not converted and as_of_ms < deadline,
    )


def _funnel_any(ev, steps, window_ms, as_of_ms, anchor) -> FunnelResult | None:
    n = len(steps)
    starts = [i for i in range(len(ev)) if any(ev[i][2] in s.types for s in steps)]
    if not starts:
        return None
    if anchor == "first":
        starts = starts[:1]
    best_key, best_found = None, []
    for i in starts:
        found = []
        for s in steps:
            hit = next(
                (p for p in range(i, len(ev)) if ev[p][0] - ev[i][0] <= window_ms and ev[p][2] in s.types),
                None,
            )
            if hit is not None:
                found.append(hit)
        found.sort()
        key = (len(found), i, found[-1])
        if best_key is None or key > best_key:
            best_key, best_found = key, found
    assert best_key is not None
    level = best_key[0]
    entered = ev[best_key[1]][0]
    step_ms = tuple([ev[p][0] for p in best_found] + [None] * (n - level))
    converted = level == n
    return FunnelResult(
        furthest_step=level,
        steps_completed=level,
        entered_ms=entered,
        furthest_ms=ev[best_found[-1]][0],
        step_ms=step_ms,
        is_converted=converted,
        is_in_progress=not converted and as_of_ms < entered + window_ms,
    )


def funnel_frame(events: pd.DataFrame, keys: Sequence[str], as_of_ms: int, **funnel_args) -> pd.DataFrame:
    """funnel_unit for every unit of `events` (columns keys + ts, seq, event_type); one row per unit."""
    rows = []
    for key, group in events.groupby(list(keys), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        result = funnel_unit(
            list(zip(group.ts, group.seq, group.event_type, strict=True)), as_of_ms=as_of_ms, **funnel_args
        )
        if result is not None:
            rows.append(dict(zip(keys, key, strict=True)) | result.__dict__)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------- journeys
def journey_paths(
    events: pd.DataFrame, event_types: Iterable[str], anchors: Sequence[str], max_depth: int, window_ms: int
) -> pd.DataFrame:
    """Per person and anchor: the collapsed path from the anchor (max_depth + 1 nodes) and to it."""
    wanted = set(event_types)
    rows = []
    for person, group in events[events.event_type.isin(wanted)].groupby("person_id", sort=False):
        ordered = sorted(zip(group.ts, group.seq, group.event_type, strict=True))
        nodes: list[tuple[int, str]] = []
        for ts, _, event_type in ordered:
            if not nodes or nodes[-1][1] != event_type:
                nodes.append((ts, event_type))
        for anchor in anchors:
            index = (
                0 if anchor == "(start)" else next((i for i, n in enumerate(nodes) if n[1] == anchor), None)
            )
            if index is None:
                continue
            at = nodes[index][0]
            after = [n for n in nodes[index : index + max_depth + 1] if n[0] - at <= window_ms]
            before = [n for n in nodes[max(0, index - max_depth + 1) : index + 1] if at - n[0] <= window_ms]
            rows.append(
                {"person_id": person, "anchor_event": anchor, "from_nodes": after, "to_nodes": before}
            )
    return pd.DataFrame(rows)
