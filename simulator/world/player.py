"""Video player sessions and their Snowplow media (v2) events.

A view is simulated in whole seconds of wall time and media position, so positions are exact:
``currentTime`` moves with playing time, seeks jump, buffering and pauses hold it, and ``end`` is
sent only when the position reaches the duration. Every state change emits an event, pings fire
every 10 s of playing time strictly inside a play segment, so the played intervals can be rebuilt
exactly from the events (the rule is in simulator/README.md, and tests check it against truth).

Events are kept in flat arrays per work chunk and rendered to JSON lines with per-session byte
templates: only the few fields that change per event are formatted, which is what makes ~10M
events a minute feasible.
"""

from __future__ import annotations

import array
import dataclasses
import random
import zlib
from pathlib import Path

import numpy as np
import orjson

from simulator.config import DAY_MS
from simulator.rng import uuid_array

KINDS = (
    "ready_event",
    "play_event",
    "pause_event",
    "seek_start_event",
    "seek_end_event",
    "ping_event",
    "percent_progress_event",
    "buffer_start_event",
    "buffer_end_event",
    "quality_change_event",
    "end_event",
)
READY, PLAY, PAUSE, SEEK_START, SEEK_END, PING, PERCENT, BUFFER_START, BUFFER_END, QUALITY, END = range(11)
_PAUSED = (
    b"true",
    b"false",
    b"true",
    b"false",
    b"false",
    b"false",
    b"false",
    b"false",
    b"false",
    b"false",
    b"true",
)
_ENDED = (b"false",) * 10 + (b"true",)
QUALITIES = ("360p", "480p", "720p", "1080p", "2160p")
_BITRATE = (800, 1400, 2800, 5000, 16000)
PERCENTS = (10, 25, 50, 75, 90)
PING_INTERVAL = 10
# Unstructured-event payloads by index: 0 = empty, 1..5 = percent boundaries, then quality changes.
_UD: list[bytes] = [b"{}"] + [b'{"percentProgress":%d}' % p for p in PERCENTS]
_QUALITY_UD: dict[tuple[int, int], int] = {}
for _a in range(len(QUALITIES)):
    for _b in range(len(QUALITIES)):
        if _a != _b:
            _QUALITY_UD[(_a, _b)] = len(_UD)
            _UD.append(
                orjson.dumps(
                    {
                        "previousQuality": QUALITIES[_a],
                        "newQuality": QUALITIES[_b],
                        "bitrate": _BITRATE[_b],
                        "framesPerSecond": 25,
                        "automatic": True,
                    }
                )
            )
_PERCENT_UD = {p: i + 1 for i, p in enumerate(PERCENTS)}

APP_IDS = {"web": "kino-web", "android": "kino-android", "ios": "kino-ios", "smart_tv": "kino-tv"}
SP_PLATFORM = {"web": "web", "android": "mob", "ios": "mob", "smart_tv": "tv"}
PLAYER_TYPES = {
    "web": "html5",
    "android": "android-exoplayer",
    "ios": "ios-avplayer",
    "smart_tv": "tv-native",
}


@dataclasses.dataclass
class ViewResult:
    end_sec: int  # wall seconds from the ready event to the last event
    intervals: list[tuple[int, int]]  # played position intervals [from, to)
    played: int
    paused: int
    buffering: int
    furthest: int
    n_events: int


def simulate_view(
    rng: random.Random,
    duration: int,
    start_pos: int,
    target: int,
    bad_conn: bool,
    limit_sec: int,
    quality: int,
    ev: EventSink,
    sess: int,
) -> ViewResult:
    """Simulate one playback from ``start_pos`` until ``target`` (or ``limit_sec`` of wall time)."""
    t = 0
    pos = start_pos
    played = paused = buffering = 0
    n = 0
    fired: set[int] = {p for p in PERCENTS if pos >= duration * p // 100}
    intervals: list[tuple[int, int]] = []

    def emit(kind: int, at: int, p: int, extra: int = 0) -> None:
        nonlocal n
        ev.buf.extend((sess, n, at, kind, p, played, paused, buffering, extra, quality))
        n += 1

    emit(READY, 0, pos)
    t = 1 + rng.randrange(3) + (2 if bad_conn else 0)
    if rng.random() < (0.35 if bad_conn else 0.08):
        emit(BUFFER_START, t, pos)
        b = 1 + rng.randrange(8 if bad_conn else 3)
        t += b
        buffering += b
        emit(BUFFER_END, t, pos)
        t += 1
    emit(PLAY, t, pos)
    p_interrupt_buffer = 0.55 if bad_conn else 0.2
    ext = ev.buf.extend
    while True:
        seg = int(rng.expovariate(1 / 420)) + 5
        seg = min(seg, target - pos, limit_sec - t - 2)
        if seg <= 0:
            seg = 0
        seg_start_pos, seg_start_t, seg_start_played = pos, t, played
        if seg > 0:
            # Rare marks (percent boundaries, quality switches) at offsets strictly inside the segment.
            marks: list[tuple[int, int, int]] = []
            for pc in PERCENTS:
                if pc in fired:
                    continue
                b = -(-duration * pc // 100)
                if seg_start_pos < b < seg_start_pos + seg:
                    fired.add(pc)
                    marks.append((b - seg_start_pos, PERCENT, _PERCENT_UD[pc]))
            new_q = quality
            if seg > 2 and rng.random() < (0.3 if bad_conn else 0.06):
                new_q = max(0, quality - 1) if bad_conn or quality == len(QUALITIES) - 1 else quality + 1
                if new_q != quality:
                    marks.append((1 + rng.randrange(seg - 1), QUALITY, _QUALITY_UD[(quality, new_q)]))
            marks.sort()
            marks.append((seg, -1, 0))  # sentinel
            # Pings every PING_INTERVAL s of playing time, strictly inside the segment (one on the
            # boundary would share a timestamp with the state change that ends it).
            off = (seg_start_played // PING_INTERVAL + 1) * PING_INTERVAL - seg_start_played
            mi = 0
            while True:
                m_off, m_kind, m_extra = marks[mi]
                if off < seg and off <= m_off:
                    ext(
                        (
                            sess,
                            n,
                            seg_start_t + off,
                            PING,
                            seg_start_pos + off,
                            seg_start_played + off,
                            paused,
                            buffering,
                            0,
                            quality,
                        )
                    )
                    n += 1
                    off += PING_INTERVAL
                elif m_kind >= 0:
                    ext(
                        (
                            sess,
                            n,
                            seg_start_t + m_off,
                            m_kind,
                            seg_start_pos + m_off,
                            seg_start_played + m_off,
                            paused,
                            buffering,
                            m_extra,
                            quality,
                        )
                    )
                    n += 1
                    if m_kind == QUALITY:
                        quality = new_q
                    mi += 1
                else:
                    break
            pos = seg_start_pos + seg
            t = seg_start_t + seg
            played = seg_start_played + seg
            intervals.append((seg_start_pos, pos))
        if pos >= duration:
            emit(END, t, duration)
            break
        if pos >= target or t >= limit_sec - 3:
            emit(PAUSE, t, pos)  # the viewer stops: the player reports a final pause
            break
        u = rng.random()
        if u < p_interrupt_buffer:
            emit(BUFFER_START, t, pos)
            b = 1 + int(rng.expovariate(1 / (9 if bad_conn else 3)))
            t += b
            buffering += b
            emit(BUFFER_END, t, pos)
        elif u < p_interrupt_buffer + 0.22:
            emit(PAUSE, t, pos)
            d = 5 + int(rng.expovariate(1 / 120))
            t += d
            paused += d
            emit(PLAY, t, pos)
        else:
            emit(SEEK_START, t, pos)
            if rng.random() < 0.45:  # jump back and re-watch
                new_pos = max(0, pos - 10 - rng.randrange(170))
            else:
                new_pos = min(duration - 1, pos + 15 + rng.randrange(300))
            t += 1
            pos = new_pos
            emit(SEEK_END, t, pos)
    furthest = max([start_pos, *(b for _, b in intervals)])
    ev.n += n
    return ViewResult(t, intervals, played, paused, buffering, furthest, n)


def union_length(intervals: list[tuple[int, int]]) -> int:
    total = 0
    cur_a = cur_b = None
    for a, b in sorted(intervals):
        if cur_b is None or a > cur_b:
            if cur_b is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_b is not None:
        total += cur_b - cur_a
    return total


class EventSink:
    """Flat per-chunk buffers of player events plus per-session render templates."""

    # One flat int64 buffer, _FIELDS values per event: cheaper than a list or array per column.
    _FIELDS = 10

    def __init__(self) -> None:
        self.buf = array.array("q")
        self.n = 0
        self.templates: list[bytes] = []
        self.start_ms: list[int] = []
        self.delay_ms: list[int] = []
        self.keys: list[int] = []

    def add(
        self,
        sess: int,
        idx: int,
        t: int,
        kind: int,
        pos: int,
        played: int,
        paused: int,
        buffering: int,
        extra: int,
        quality: int,
    ) -> None:
        self.buf.extend((sess, idx, t, kind, pos, played, paused, buffering, extra, quality))
        self.n += 1  # simulate_view writes to ``buf`` directly and adds its count at the end

    def new_session(
        self,
        *,
        key: int,
        start_ms: int,
        delay_ms: int,
        session_id: str,
        platform: str,
        domain_userid: str,
        user_id: str | None,
        page_url: str | None,
        duration: int,
        label: str,
        volume: int,
        fullscreen: bool,
        content: dict[str, object],
        started_at: str,
    ) -> int:
        """Register a media session; returns its index for ``add``."""

        def esc(value: object) -> bytes:
            # Literal % survives two rounds of %-formatting (per kind, then per event).
            return orjson.dumps(value).replace(b"%", b"%%%%")

        head = (
            b'{"event_id":"%s","app_id":'
            + esc(APP_IDS[platform])
            + b',"platform":'
            + esc(SP_PLATFORM[platform])
            + b',"event":"unstruct","event_vendor":"com.snowplowanalytics.snowplow.media","event_name":"%s"'
            + b',"event_format":"jsonschema","event_version":"1-0-0","dvce_created_tstamp":"%sZ"'
            + b',"collector_tstamp":"%sZ","domain_userid":'
            + esc(domain_userid)
            + b',"user_id":'
            + esc(user_id)
            + b',"page_url":'
            + esc(page_url)
            + b',"unstruct_event":{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"'
            + b',"data":{"schema":"iglu:com.snowplowanalytics.snowplow.media/%s/jsonschema/1-0-0","data":%s}}'
            + b',"contexts":{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":['
            + b'{"schema":"iglu:com.snowplowanalytics.snowplow/media_player/jsonschema/2-0-0","data":'
            + b'{"currentTime":%s,"duration":'
            + str(duration).encode()
            + b',"ended":%s,"paused":%s,"playbackRate":1,"quality":"%s","volume":'
            + str(volume).encode()
            + b',"muted":false,"fullscreen":'
            + (b"true" if fullscreen else b"false")
            + b',"livestream":false,"mediaType":"video","playerType":'
            + esc(PLAYER_TYPES[platform])
            + b',"label":'
            + esc(label)
            + b"}},"
            + b'{"schema":"iglu:com.snowplowanalytics.snowplow.media/session/jsonschema/1-0-0","data":'
            + b'{"mediaSessionId":'
            + esc(session_id)
            + b',"startedAt":'
            + esc(started_at)
            + b',"pingInterval":10,"timePlayed":%s,"timePaused":%s,"timeBuffering":%s}},'
            + b'{"schema":"iglu:ru.kinoexample/content/jsonschema/1-0-0","data":'
            + esc(content)
            + b"}]}}\n"
        )
        self.templates.append(head)
        self.start_ms.append(start_ms)
        self.delay_ms.append(delay_ms)
        self.keys.append(key)
        return len(self.templates) - 1

    def __len__(self) -> int:
        return self.n

    def write_days(
        self,
        out_dir: Path,
        chunk: int,
        start_ms: int,
        now_ms: int,
        level: int,
        bad_lines: dict[tuple[int, int], list[tuple[int, bytes]]] | None = None,
    ) -> tuple[dict[int, int], list[tuple[str, int, bytes]]]:
        """Write this chunk's events received before ``now_ms`` as one part file per collector day.

        Returns (events written per day index, placed bad lines as (relative path, 1-based line,
        junk)). ``bad_lines`` maps (day, chunk) to (position hint, junk line) pairs to splice in.
        """
        placed: list[tuple[str, int, bytes]] = []
        bad = {k: v for k, v in (bad_lines or {}).items() if k[1] == chunk}
        counts: dict[int, int] = {}

        def flush(d: int, lines: list[bytes]) -> None:
            for hint, junk in sorted(bad.pop((d, chunk), [])):
                pos = min(hint, len(lines))
                lines.insert(pos, junk)
                rel = part_path(Path("player_logs"), start_ms + d * DAY_MS, chunk).as_posix()
                placed.append((rel, pos + 1, junk))
            write_gzip_lines(out_dir, start_ms + d * DAY_MS, chunk, lines, level)

        if self.n:
            self._render(start_ms, now_ms, counts, flush)
        for d, _ in sorted(bad):
            flush(d, [])
        return counts, placed

    def _render(self, start_ms: int, now_ms: int, counts: dict[int, int], flush) -> None:
        cols = np.frombuffer(self.buf, dtype=np.int64).reshape(-1, self._FIELDS)
        sess = cols[:, 0]
        idx = cols[:, 1]
        t_sec = cols[:, 2]
        s_start = np.asarray(self.start_ms, dtype=np.int64)
        s_delay = np.asarray(self.delay_ms, dtype=np.int64)
        dvce = s_start[sess] + t_sec * 1000
        # Collector time: the session's network delay plus per-event jitter. Both the jitter and
        # the tie-break use the session's stable key, never its position in this chunk, which
        # shifts when a longer window adds sessions.
        keys = np.asarray(self.keys, dtype=np.uint64)
        skey = keys[sess]
        jitter = ((skey % np.uint64(1000)).astype(np.int64) + idx * 7919) % 900 + 40
        coll = dvce + s_delay[sess] + jitter
        keep = np.flatnonzero(coll < now_ms)
        if not len(keep):
            return
        order = keep[np.lexsort((idx[keep], skey[keep], coll[keep]))]
        day = (coll[order] - start_ms) // DAY_MS
        with np.errstate(over="ignore"):
            ev_keys = keys[sess[order]] ^ (idx[order].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        eids = uuid_array(ev_keys).tolist()
        dv_s = iso_ms_bytes(dvce[order])
        co_s = iso_ms_bytes(coll[order])
        names = [k.encode() for k in KINDS]
        quals = [q.encode() for q in QUALITIES]
        tmpls = self.templates
        by_kind: dict[tuple[int, int], bytes] = {}
        s_l = sess[order].tolist()
        k_l = cols[order, 3].tolist()
        p_l = cols[order, 4].tolist()
        pl_l = cols[order, 5].tolist()
        pa_l = cols[order, 6].tolist()
        bu_l = cols[order, 7].tolist()
        ex_l = cols[order, 8].tolist()
        q_l = cols[order, 9].tolist()
        bounds = np.flatnonzero(np.diff(day)) + 1
        starts = [0, *bounds.tolist()]
        ends = [*bounds.tolist(), len(order)]
        for a, b in zip(starts, ends, strict=True):
            d = int(day[a])
            lines = []
            for j in range(a, b):
                key = (s_l[j], k_l[j])
                tmpl = by_kind.get(key)
                if tmpl is None:
                    k = k_l[j]
                    # Fill the per-kind slots once; per-event slots stay as %s / %d.
                    tmpl = tmpls[s_l[j]] % (
                        b"%s",
                        names[k],
                        b"%s",
                        b"%s",
                        names[k],
                        b"%s",
                        b"%d",
                        _ENDED[k],
                        _PAUSED[k],
                        b"%s",
                        b"%d",
                        b"%d",
                        b"%d",
                    )
                    by_kind[key] = tmpl
                lines.append(
                    tmpl
                    % (
                        eids[j],
                        dv_s[j],
                        co_s[j],
                        _UD[ex_l[j]],
                        p_l[j],
                        quals[q_l[j]],
                        pl_l[j],
                        pa_l[j],
                        bu_l[j],
                    )
                )
            counts[d] = b - a
            flush(d, lines)


_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def iso_ms_bytes(ms: np.ndarray) -> list[bytes]:
    """``YYYY-MM-DDTHH:MM:SS.mmm`` for epoch-ms values, built with integer maths (few distinct days)."""
    ms = ms.astype(np.int64)
    days = ms // DAY_MS
    rem = ms - days * DAY_MS
    uniq, inv = np.unique(days, return_inverse=True)
    day_txt = np.frombuffer(
        "".join(np.datetime_as_string(uniq.astype("datetime64[D]"))).encode(), dtype=np.uint8
    ).reshape(-1, 10)
    out = np.empty((len(ms), 23), dtype=np.uint8)
    out[:, :10] = day_txt[inv]
    out[:, 10] = ord("T")
    out[:, 13] = out[:, 16] = ord(":")
    out[:, 19] = ord(".")
    parts = (
        (11, rem // 3_600_000, 2),
        (14, rem // 60_000 % 60, 2),
        (17, rem // 1000 % 60, 2),
        (20, rem % 1000, 3),
    )
    for pos, value, width in parts:
        for k in range(width):
            out[:, pos + width - 1 - k] = _DIGITS[value // 10**k % 10]
    return out.view("S23").ravel().tolist()


def part_path(out_dir: Path, day_ms: int, chunk: int) -> Path:
    d = np.datetime64(day_ms, "ms").astype("datetime64[D]").astype(str)
    y, m, dd = d.split("-")
    return out_dir / y / m / dd / f"part-{chunk:04d}.jsonl.gz"


def write_gzip_lines(out_dir: Path, day_ms: int, chunk: int, lines: list[bytes], level: int) -> None:
    """Deterministic gzip (no file name, mtime 0) so identical content gives identical bytes."""
    path = part_path(out_dir, day_ms, chunk)
    path.parent.mkdir(parents=True, exist_ok=True)
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        step = 20000
        for i in range(0, len(lines), step):
            f.write(comp.compress(b"".join(lines[i : i + step])))
        f.write(comp.flush())
