"""Logs API download parts → typed arrow tables, bad rows set aside with the reason.

A part is UTF-8 TSV in ClickHouse `TabSeparated` escaping with its own header line of field
names, every row ending in `\\n`. Columns are mapped by header name, never by request order.
Rows are split by pyarrow's CSV reader and typed column-wise (RE2 validation and pyarrow casts
over whole columns): per-row Python over ~100 fields would cap a load at ~15k rows/s.

Arrays are ClickHouse literals (`[1,2]`, `['a\\'b','c']`); they are tokenised quote-aware, each
element unescaped on its own, and stored as JSON arrays: numbers as numbers, everything else
(strings, quoted or bare date-times) as strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import settings

UINT64_MAX = 2**64 - 1
UINT64 = pa.decimal128(20, 0)
TIMESTAMP = pa.timestamp("s", tz="UTC")

_ESCAPES = {
    "b": "\b",
    "f": "\f",
    "r": "\r",
    "n": "\n",
    "t": "\t",
    "0": "\0",
    "'": "'",
    "\\": "\\",
    "a": "\a",
    "v": "\v",
}
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)
_NUMBER = r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(_NUMBER)
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class TruncatedPart(ValueError):
    """A part that does not end with a newline after its last row: the transfer was cut."""


def column_name(api_field: str) -> str:
    """`ym:s:lastsignUTMSource` → `lastsign_utm_source`, `ym:s:watchIDs` → `watch_ids`."""
    name = api_field.split(":")[-1]
    name = name.replace("IDs", "Ids")
    return _CAMEL_RE.sub("_", name).lower()


def unescape(value: str) -> str:
    """Undo TabSeparated escaping (`\\t`, `\\n`, `\\\\`, `\\'` …); unknown escapes keep the char."""
    if "\\" not in value:
        return value
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), value)


def parse_array(literal: str) -> list[str | int | float]:
    """Tokenise a ClickHouse array literal; quotes and escapes are honoured before unescaping.

    Raises:
        ValueError: not a well-formed array literal.
    """
    if len(literal) < 2 or literal[0] != "[" or literal[-1] != "]":
        raise ValueError("not an array literal")
    body, items, i, n = literal[1:-1], [], 0, len(literal) - 2
    if not body:
        return items
    while True:
        if i < n and body[i] == "'":
            j, raw = i + 1, []
            while j < n and body[j] != "'":
                if body[j] == "\\" and j + 1 < n:
                    raw.append(body[j : j + 2])
                    j += 2
                else:
                    raw.append(body[j])
                    j += 1
            if j >= n:
                raise ValueError("unterminated quoted element")
            items.append(unescape("".join(raw)))
            i = j + 1
        else:
            j = body.find(",", i)
            j = n if j < 0 else j
            token = body[i:j].strip()
            if not token:
                raise ValueError("empty array element")
            items.append(_number(token) if _NUMBER_RE.fullmatch(token) else unescape(token))
            i = j
        if i >= n:
            return items
        if body[i] != ",":
            raise ValueError(f"unexpected {body[i]!r} after an element")
        i += 1


def _number(token: str) -> int | float:
    return int(token) if token.lstrip("-").isdigit() else float(token)


# --------------------------------------------------------------------------- typed columns
# Each converter takes the column as an arrow string array and returns the typed array plus
# {row index: reason} for values it refused; a refused value is NULL in the typed array and its
# row is set aside. Validation runs as RE2 regexes over the whole column; Python only touches
# the (rare) values that need unescaping or a tokenizer.
Errors = dict[int, str]
Converter = Callable[[pa.StringArray, str, bool, str], tuple[pa.Array, Errors]]

_EMPTY = ("", "\\N")
_RE_UINT64 = r"^\d{1,20}$"
_RE_INT = r"^-?\d{1,19}$"
_RE_FLAG = r"^[01]$"
_RE_DATE = r"^\d{4}-\d{2}-\d{2}$"
_RE_DATETIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
_RE_NUMERIC_ARRAY = rf"^\[(?:{_NUMBER}(?:,{_NUMBER})*)?\]$"
_RE_SIMPLE_STRING_ARRAY = r"^\['[^'\\\"]*'(?:,'[^'\\\"]*')*\]$"
_NULL_STRING = pa.scalar(None, pa.string())


def _indices(mask: pa.Array) -> list[int]:
    return pc.indices_nonzero(mask).to_pylist() if pc.any(mask).as_py() else []


def _checked(
    arr: pa.StringArray, pattern: str, name: str, what: str, required: bool, empty: Sequence[str] = _EMPTY
) -> tuple[pa.StringArray, pa.Array, Errors]:
    """(values matching `pattern` else NULL, mask of those values, errors of the others)."""
    is_empty = pc.is_in(arr, pa.array(list(empty), pa.string()))
    good = pc.match_substring_regex(arr, pattern)
    errors: Errors = {
        i: f"{name}: not {what}: {arr[i].as_py()[:40]!r}" for i in _indices(pc.invert(pc.or_(good, is_empty)))
    }
    if required:
        errors.update({i: f"{name}: required value is empty" for i in _indices(is_empty)})
    return pc.if_else(good, arr, _NULL_STRING), good, errors


def _text(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
    escaped = pc.match_substring(arr, "\\")
    if pc.any(escaped).as_py():
        values = [None if v == "\\N" else unescape(v) for v in arr.to_pylist()]
        arr = pa.array(values, pa.string())
    errors = {i: f"{name}: required value is empty" for i in _indices(pc.equal(arr, ""))} if required else {}
    return arr, errors


def _uint64(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
    values, good, errors = _checked(arr, _RE_UINT64, name, "a UInt64", required)
    typed = values.cast(UINT64)
    too_big = pc.fill_null(pc.greater(typed, pa.scalar(Decimal(UINT64_MAX), UINT64)), False)
    for i in _indices(too_big):
        errors[i] = f"{name}: not a UInt64 (too big): {arr[i].as_py()!r}"
    return typed, errors


def _int(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
    values, good, errors = _checked(arr, _RE_INT, name, "an Int64", required)
    try:
        return values.cast(pa.int64()), errors
    except pa.ArrowInvalid:  # a 19-digit value beyond Int64
        out = []
        for i, v in enumerate(values.to_pylist()):
            if v is not None and not -(2**63) <= int(v) < 2**63:
                errors[i] = f"{name}: not an Int64 (out of range): {v!r}"
                v = None
            out.append(v)
        return pa.array(out, pa.string()).cast(pa.int64()), errors


def _bool(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
    values, good, errors = _checked(arr, _RE_FLAG, name, "a 0/1 flag", required)
    return pc.equal(values, "1"), errors


def _date(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
    values, good, errors = _checked(arr, _RE_DATE, name, "a date (YYYY-MM-DD)", required)
    parsed = pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True)
    for i in _indices(pc.and_(good, pc.is_null(parsed))):  # e.g. 2024-02-30
        errors[i] = f"{name}: not a date (YYYY-MM-DD): {arr[i].as_py()!r}"
    return parsed.cast(pa.date32()), errors


def _datetime(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
    values, good, errors = _checked(
        arr,
        _RE_DATETIME,
        name,
        "a date-time (YYYY-MM-DD hh:mm:ss)",
        required,
        (*_EMPTY, "0000-00-00 00:00:00"),
    )
    parsed = pc.strptime(values, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    for i in _indices(pc.and_(good, pc.is_null(parsed))):
        errors[i] = f"{name}: not a date-time (YYYY-MM-DD hh:mm:ss): {arr[i].as_py()!r}"
    # wall time in `tz` → UTC; in a DST fold the earlier instant is taken
    utc = pc.assume_timezone(parsed, timezone=tz, ambiguous="earliest", nonexistent="earliest")
    return utc.cast(TIMESTAMP), errors


def _datetime_utc(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
    return _datetime(arr, name, required, "UTC")


def _array(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
    # a numeric ClickHouse literal (`[]`, `[1,2]`) is already a JSON array: kept as is;
    # strings without quotes, backslashes or double quotes (`['user_id']`) only swap quotes
    simple = pc.match_substring_regex(arr, _RE_SIMPLE_STRING_ARRAY)
    arr = pc.if_else(simple, pc.replace_substring(arr, "'", '"'), arr)
    other = pc.invert(pc.or_(simple, pc.match_substring_regex(arr, _RE_NUMERIC_ARRAY)))
    rows = _indices(other)
    if not rows:
        return arr, {}
    errors: Errors = {}
    replacements: list[str | None] = []
    for i, literal in zip(rows, pc.take(arr, pa.array(rows)).to_pylist(), strict=True):
        try:
            replacements.append(json.dumps(parse_array(literal), ensure_ascii=False, separators=(",", ":")))
        except ValueError as exc:
            replacements.append(None)
            if literal not in _EMPTY or required:
                errors[i] = f"{name}: {exc}: {literal[:60]!r}"
    return pc.replace_with_mask(arr, other, pa.array(replacements, pa.string())), errors


CONVERTERS: dict[str, Converter] = {
    "text": _text,
    "uint64": _uint64,
    "int": _int,
    "bool": _bool,
    "date": _date,
    "datetime": _datetime,
    "datetime_utc": _datetime_utc,
    "array": _array,
}


# --------------------------------------------------------------------------- parts
@dataclass
class BadRow:
    """A row that could not be typed: where, why, and the raw text."""

    line: int
    reason: str
    payload: str | bytes


@dataclass
class ParsedPart:
    table: pa.Table | None
    bad: list[BadRow] = field(default_factory=list)
    header: list[str] = field(default_factory=list)


def check_complete(body: bytes) -> None:
    """Raise TruncatedPart unless the body is a header line plus rows, each ending in a newline."""
    if not body or not body.endswith(b"\n"):
        raise TruncatedPart(f"part of {len(body)} bytes does not end with a newline")


def parse_part(body: bytes, prefix: str, timezone: str, block_size: int = 1 << 24) -> ParsedPart:
    """Parse one downloaded part.

    Args:
        body: the complete part (see `check_complete`).
        prefix: `ym:s:` or `ym:pv:`; header names without it are taken as they are.
        timezone: the counter's time zone, for `dateTime` fields.
        block_size: bytes pyarrow parses at a time.

    Returns:
        The typed rows as an arrow table (None when no row survived) and the rows set aside.
    """
    check_complete(body)
    bad: list[BadRow] = []
    body = _drop_undecodable_lines(body, bad)
    header = body[: body.index(b"\n")].decode("utf-8").split("\t")
    raw = _split(body, header, bad, block_size)
    if raw.num_rows == 0:
        return ParsedPart(None, sorted(bad, key=lambda b: b.line), header)

    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    row_errors: dict[int, list[str]] = {}
    for api_field, column in zip(header, raw.columns, strict=True):
        short = api_field.removeprefix(prefix)
        required = short in settings.REQUIRED
        values = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        array, errors = CONVERTERS[settings.field_kind(short)](values, api_field, required, timezone)
        for i, reason in errors.items():
            row_errors.setdefault(i, []).append(reason)
        arrays.append(array)
        # rows with an empty required value are dropped below, so the column is never null
        fields.append(pa.field(column_name(api_field), array.type, nullable=not required))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    if row_errors:
        table = table.filter(pa.array([i not in row_errors for i in range(raw.num_rows)], pa.bool_()))
        lines = _line_numbers(raw.num_rows, sorted(b.line for b in bad))
        for i, reasons in sorted(row_errors.items()):
            payload = "\t".join(raw.column(j)[i].as_py() for j in range(raw.num_columns))
            bad.append(BadRow(lines[i], "; ".join(reasons), payload))
    bad.sort(key=lambda b: b.line)
    return ParsedPart(table if table.num_rows else None, bad, header)


def _drop_undecodable_lines(body: bytes, bad: list[BadRow]) -> bytes:
    """Set aside lines that are not UTF-8, leaving them empty so line numbers stay right."""
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        pass
    lines = body.split(b"\n")
    for number, line in enumerate(lines[1:-1], start=2):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append(BadRow(number, f"not UTF-8: {exc}", line))
            lines[number - 1] = b""
    return b"\n".join(lines)


def _split(body: bytes, header: list[str], bad: list[BadRow], block_size: int) -> pa.Table:
    """Rows as string columns; rows whose tab count differs from the header are set aside.

    No quoting and no escape processing: in TabSeparated a tab or newline inside a value is
    always escaped, so every raw tab separates and every raw newline ends a row.
    """
    import io

    import pyarrow.csv as pacsv

    width = len(header)

    def invalid(row: Any) -> str:
        if row.text:  # an emptied undecodable line is already set aside
            bad.append(
                BadRow(
                    row.number,
                    f"expected {width} tab-separated fields (header), got {row.actual_columns}",
                    row.text,
                )
            )
        return "skip"

    return pacsv.read_csv(
        io.BytesIO(body),
        read_options=pacsv.ReadOptions(use_threads=False, block_size=block_size),
        parse_options=pacsv.ParseOptions(
            delimiter="\t",
            quote_char=False,
            double_quote=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
            invalid_row_handler=invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _line_numbers(rows: int, skipped: list[int]) -> list[int]:
    """Line of each parsed row: data starts on line 2, minus the lines set aside."""
    out, line, k = [], 2, 0
    for _ in range(rows):
        while k < len(skipped) and skipped[k] == line:
            line += 1
            k += 1
        out.append(line)
        line += 1
    return out
