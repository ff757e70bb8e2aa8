"""Readers used by the simulator tests: player logs, TSV/array parsing, played-interval rebuild."""

from __future__ import annotations

import gzip
from collections import defaultdict
from pathlib import Path

import orjson

STATE_PLAYING = {
    "play_event",
    "ping_event",
    "percent_progress_event",
    "quality_change_event",
    "buffer_end_event",
    "seek_end_event",
}


def read_player_events(world: Path) -> list[dict]:
    out = []
    for f in sorted((world / "player_logs").rglob("*.jsonl.gz")):
        with gzip.open(f) as fh:
            for line in fh:
                try:
                    out.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
    return out


def contexts(event: dict) -> dict[str, dict]:
    return {c["schema"].split("/")[1]: c["data"] for c in event["contexts"]["data"]}


def sessions(events: list[dict]) -> dict[str, list[dict]]:
    by = defaultdict(list)
    for e in events:
        by[contexts(e)["session"]["mediaSessionId"]].append(e)
    for evs in by.values():
        evs.sort(key=lambda e: e["dvce_created_tstamp"])
    return by


def rebuild_view(evs: list[dict]) -> dict[str, int]:
    """What a consumer can rebuild from one media session's events (rule in simulator/README.md)."""
    playing = False
    last_pos = None
    intervals = []
    paused = buffering = 0
    pause_at = buffer_at = None
    for e in evs:
        ctx = contexts(e)
        pos = ctx["media_player"]["currentTime"]
        ts = _ms(e["dvce_created_tstamp"])
        name = e["event_name"]
        if playing and last_pos is not None and pos > last_pos:
            intervals.append((last_pos, pos))
        if name == "pause_event":
            pause_at = ts
        elif name == "play_event" and pause_at is not None:
            paused += (ts - pause_at) // 1000
            pause_at = None
        if name == "buffer_start_event":
            buffer_at = ts
        elif name == "buffer_end_event" and buffer_at is not None:
            buffering += (ts - buffer_at) // 1000
            buffer_at = None
        playing = name in STATE_PLAYING
        last_pos = pos
    total = 0
    cur = None
    for a, b in sorted(intervals):
        if cur is None or a > cur[1]:
            if cur is not None:
                total += cur[1] - cur[0]
            cur = [a, b]
        else:
            cur[1] = max(cur[1], b)
    if cur is not None:
        total += cur[1] - cur[0]
    start = contexts(evs[0])["media_player"]["currentTime"]
    furthest = max([start, *(b for _, b in intervals)])
    return {
        "unique": total,
        "furthest": furthest,
        "paused": paused,
        "buffering": buffering,
        "events": len(evs),
    }


def _ms(ts: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def split_tsv_array(value: str) -> list[str]:
    """Parse a ClickHouse array literal (``['a\\'b','c']`` or ``[1,2]``) quote-aware."""
    assert value.startswith("[") and value.endswith("]"), value
    body = value[1:-1]
    out, cur, in_q, esc = [], [], False, False
    for ch in body:
        if esc:
            cur.append({"t": "\t", "n": "\n", "\\": "\\", "'": "'"}.get(ch, ch))
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == "'":
            in_q = not in_q
        elif ch == "," and not in_q:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur or body:
        out.append("".join(cur))
    return out


def tsv_unescape(value: str) -> str:
    out, esc = [], False
    for ch in value:
        if esc:
            out.append({"t": "\t", "n": "\n", "\\": "\\", "'": "'", "r": "\r"}.get(ch, ch))
            esc = False
        elif ch == "\\":
            esc = True
        else:
            out.append(ch)
    return "".join(out)
