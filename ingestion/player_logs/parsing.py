"""Snowplow media events: JSON lines → typed Arrow tables, without a Python object per event.

The fast path hands a whole chunk of lines to Arrow's JSON reader with an explicit schema (keys
we do not flatten are skipped by the reader), picks each entity out of `contexts` with vectorised
index arithmetic, and slices the original lines out of the chunk for `raw_event`. Only a chunk
the reader rejects is read again line by line, so one bad line costs its chunk, not the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from .settings import (
    ARROW_SCHEMA,
    CONTENT_FIELDS,
    EVENT_FIELDS,
    JSON_SCHEMA,
    MEDIA_PLAYER_FIELDS,
    MEDIA_PLAYER_SCHEMA,
    MEDIA_SESSION_FIELDS,
    MEDIA_SESSION_SCHEMA,
    TIMESTAMPS,
    TOP_LEVEL,
)

_PARSE_OPTIONS = pj.ParseOptions(explicit_schema=JSON_SCHEMA, unexpected_field_behavior="ignore")
_UTC_US = pa.timestamp("us", tz="UTC")


@dataclass
class BadLine:
    """A line that could not be read as an event."""

    line_no: int
    reason: str
    text: bytes


@dataclass
class ParsedChunk:
    """Events of one chunk (None when every line was bad) and the lines sent to quarantine.

    Line numbers are relative to the chunk (its first line is 1): the reader knows where the
    chunk starts in its file only once the chunks before it are counted.
    """

    table: pa.Table | None
    newlines: int
    bad: list[BadLine] = field(default_factory=list)
    slow: bool = False  # the chunk needed the line-by-line path


def parse_chunk(buf: bytes, source_file: str, content_schema: str) -> ParsedChunk:
    """Parse a chunk of complete JSON lines.

    Args:
        buf: the lines, each ending in a newline (the last one may not).
        source_file: the file's path relative to the log root (kept on every row).
        content_schema: Iglu URI prefix of the content entity.

    Returns:
        The typed events and the lines that are not events (with the reason).
    """
    newlines = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
    starts, ends = line_bounds(buf, newlines)
    try:
        parsed = pj.read_json(
            pa.py_buffer(buf),
            read_options=pj.ReadOptions(use_threads=False, block_size=max(len(buf), 1 << 16)),
            parse_options=_PARSE_OPTIONS,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        parsed = None
    if parsed is None or parsed.num_rows != len(starts):
        # A broken line, or a whitespace-only line the reader skipped: rows and lines no longer
        # pair up, so find out line by line.
        chunk = _parse_line_by_line(buf, source_file, content_schema)
    else:
        # 1-based line number of each line (empty lines count too).
        line_nos = 1 + np.searchsorted(newlines, starts)
        chunk = _finish(parsed, buf, starts, ends, line_nos, source_file, content_schema)
    chunk.newlines = len(newlines)
    return chunk


def line_bounds(buf: bytes, newlines: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the non-empty lines of `buf` (newline and trailing CR excluded)."""
    data = np.frombuffer(buf, dtype=np.uint8)
    if newlines is None:
        newlines = np.flatnonzero(data == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    if len(data):
        # A CRLF line keeps its CR off the raw text.
        cr = (ends > starts) & (data[np.maximum(ends - 1, 0)] == 13)
        ends = ends - cr
    keep = ends > starts
    return starts[keep], ends[keep]


def raw_lines(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The lines as one string array, copied out of the chunk without per-line Python objects.

    Usually every line is followed by exactly one newline: then the offsets [s0, s1, …, end+1]
    describe the lines with their newline, and a byte slice drops it. Otherwise (blank lines,
    CRLF) offsets [s0, e0, s1, e1, …] describe line, gap, line, gap…, and every other element
    is taken. Chunks are far below 2 GiB, so 32-bit offsets do.
    """
    n = len(starts)
    if n == 0:
        return pa.array([], pa.string())
    data = pa.py_buffer(buf)
    if ends[-1] < len(buf) and np.array_equal(starts[1:], ends[:-1] + 1) and buf[ends[-1]] == 10:
        offsets = np.append(starts, ends[-1] + 1).astype(np.int32)
        with_newline = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), data])
        lines = pc.binary_slice(with_newline, 0, -1)
    else:
        offsets = np.empty(2 * n, dtype=np.int32)
        offsets[0::2] = starts
        offsets[1::2] = ends
        alternating = pa.Array.from_buffers(pa.binary(), 2 * n - 1, [None, pa.py_buffer(offsets), data])
        lines = alternating.take(pa.array(np.arange(0, 2 * n - 1, 2, dtype=np.int32)))
    # The JSON reader accepted these bytes, so they are UTF-8: no need to validate them again.
    return lines.view(pa.string())


def _finish(
    parsed: pa.Table,
    buf: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    line_nos: np.ndarray,
    source_file: str,
    content_schema: str,
) -> ParsedChunk:
    table = flatten(parsed, raw_lines(buf, starts, ends), source_file, content_schema)
    event_id = table.column("event_id")
    problem = pc.if_else(
        pc.or_kleene(pc.is_null(event_id), pc.equal(event_id, "")),
        "event_id is missing",
        pc.if_else(pc.is_null(table.column("collector_tstamp")), "collector_tstamp is missing", None),
    )
    bad_mask = pc.is_valid(problem)
    if not pc.any(bad_mask).as_py():
        return ParsedChunk(table, 0)
    bad_rows = np.flatnonzero(bad_mask.to_numpy(zero_copy_only=False))
    reasons = problem.to_pylist()
    bad = [BadLine(int(line_nos[i]), str(reasons[i]), bytes(buf[starts[i] : ends[i]])) for i in bad_rows]
    good = table.filter(pc.invert(bad_mask))
    return ParsedChunk(good if good.num_rows else None, 0, bad)


def flatten(parsed: pa.Table, raw: pa.Array, source_file: str, content_schema: str) -> pa.Table:
    """The raw table's columns from the reader's nested table."""
    n = parsed.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in TOP_LEVEL:
        columns[name] = parsed.column(name)
    for name in TIMESTAMPS:
        columns[name] = parsed.column(name).cast(_UTC_US)
    event = pc.struct_field(parsed.column("unstruct_event").combine_chunks(), "data")
    columns["event_schema"] = pc.struct_field(event, "schema")
    payload = pc.struct_field(event, "data")
    for column, key in EVENT_FIELDS:
        columns[column] = pc.struct_field(payload, key)
    contexts = pc.struct_field(parsed.column("contexts").combine_chunks(), "data")
    for prefix, fields in (
        (MEDIA_PLAYER_SCHEMA, MEDIA_PLAYER_FIELDS),
        (MEDIA_SESSION_SCHEMA, MEDIA_SESSION_FIELDS),
        (content_schema, CONTENT_FIELDS),
    ):
        columns.update(entity_columns(contexts, prefix, fields, n))
    columns["media_session_started_at"] = columns["media_session_started_at"].cast(_UTC_US)
    columns["raw_event"] = raw
    columns["source_file"] = pa.repeat(pa.scalar(source_file, pa.string()), n)
    return pa.Table.from_arrays([columns[name] for name in ARROW_SCHEMA.names], schema=ARROW_SCHEMA)


def entity_columns(
    contexts: pa.ListArray, prefix: str, fields: tuple[tuple[str, str], ...], n: int
) -> dict[str, pa.Array]:
    """Columns of the first entity whose schema starts with `prefix` (null where absent).

    Entities are found by schema, not position: trackers attach them in any order.
    """
    flat = pc.list_flatten(contexts)
    schemas = pc.struct_field(flat, "schema")
    matches = pc.starts_with(schemas, prefix)
    # and_kleene(null, false) is false, so entities without a schema never match (measured
    # several times cheaper than fill_null on these arrays).
    hit = pc.and_kleene(matches, pc.is_valid(matches)).to_numpy(zero_copy_only=False)
    positions = np.flatnonzero(hit)
    rows = pc.list_parent_indices(contexts).to_numpy()[positions]
    index = np.full(n, -1, dtype=np.int64)
    # Reversed so that the first matching entity of a row wins (later writes win in numpy).
    index[rows[::-1]] = positions[::-1]
    take = pa.array(index, mask=index < 0)
    data = pc.struct_field(flat, "data")
    return {column: pc.struct_field(data, key).take(take) for column, key in fields}


def _parse_line_by_line(buf: bytes, source_file: str, content_schema: str) -> ParsedChunk:
    """Slow path: keep the lines that parse, quarantine the others with the reader's reason."""
    good: list[tuple[int, bytes]] = []
    bad: list[BadLine] = []
    for offset, line in enumerate(buf.split(b"\n")):
        text = line.rstrip(b"\r")
        if not text.strip():
            continue
        line_no = 1 + offset
        reason = _json_problem(text)
        if reason:
            bad.append(BadLine(line_no, reason, text))
        else:
            good.append((line_no, text))
    tables = []
    for batch in _arrow_readable(good, bad):
        body = b"\n".join(text for _, text in batch) + b"\n"
        starts, ends = line_bounds(body)
        parsed = pj.read_json(
            pa.py_buffer(body),
            read_options=pj.ReadOptions(use_threads=False, block_size=max(len(body), 1 << 16)),
            parse_options=_PARSE_OPTIONS,
        )
        line_nos = np.array([n for n, _ in batch], dtype=np.int64)
        done = _finish(parsed, body, starts, ends, line_nos, source_file, content_schema)
        bad.extend(done.bad)
        if done.table is not None:
            tables.append(done.table)
    bad.sort(key=lambda b: b.line_no)
    table = pa.concat_tables(tables) if tables else None
    return ParsedChunk(table, 0, bad, slow=True)


def _json_problem(text: bytes) -> str | None:
    try:
        value = json.loads(text)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        return f"not valid JSON: {exc}"
    if not isinstance(value, dict):
        return f"not a JSON object but {type(value).__name__}"
    return None


def _arrow_readable(good: list[tuple[int, bytes]], bad: list[BadLine]) -> list[list[tuple[int, bytes]]]:
    """The good lines in batches Arrow's reader accepts; lines it rejects move to `bad`.

    Valid JSON can still fail the explicit schema (a string where a number belongs): the
    batch is halved until the offending lines are alone.
    """
    if not good:
        return []
    body = b"\n".join(text for _, text in good) + b"\n"
    try:
        pj.read_json(
            pa.py_buffer(body),
            read_options=pj.ReadOptions(use_threads=False, block_size=max(len(body), 1 << 16)),
            parse_options=_PARSE_OPTIONS,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        if len(good) == 1:
            line_no, text = good[0]
            bad.append(BadLine(line_no, f"does not fit the event schema: {exc}", text))
            return []
        half = len(good) // 2
        return _arrow_readable(good[:half], bad) + _arrow_readable(good[half:], bad)
    return [good]
