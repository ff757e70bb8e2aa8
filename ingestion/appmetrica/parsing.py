"""AppMetrica Logs API CSV → typed arrow tables, bad rows set aside with the reason.

The CSV has a header line of the requested field names and RFC 4180 quoting; columns are
mapped by header name. Every value is typed explicitly (`settings.field_kind`): UInt64 ids as
Decimal(20, 0), `*_timestamp` as Int64 Unix seconds, `*_datetime` from the application's time
zone to UTC, 0/1 flags as Bool. Conversion is column-wise with pyarrow.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from . import settings

UINT64_MAX = 2**64 - 1
UINT64 = pa.decimal128(20, 0)
TIMESTAMP = pa.timestamp("s", tz="UTC")

Errors = dict[int, str]
Converter = Callable[[pa.StringArray, str, bool, str], tuple[pa.Array, Errors]]

# Validation runs as RE2 regexes over whole columns; Python only formats the refusals.
_RE_UINT64 = r"^\d{1,20}$"
_RE_INT = r"^-?\d{1,19}$"
_RE_FLAG = r"^(?:0|1|true|false|True|False)$"
_RE_DATETIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
_NULL_STRING = pa.scalar(None, pa.string())


def _indices(mask: pa.Array) -> list[int]:
    return pc.indices_nonzero(mask).to_pylist() if pc.any(mask).as_py() else []


def _checked(
    arr: pa.StringArray, pattern: str, name: str, what: str, required: bool
) -> tuple[pa.StringArray, pa.Array, Errors]:
    """(values matching `pattern` else NULL, mask of those values, errors of the others)."""
    empty = pc.equal(arr, "")
    good = pc.match_substring_regex(arr, pattern)
    errors: Errors = {
        i: f"{name}: not {what}: {arr[i].as_py()[:40]!r}" for i in _indices(pc.invert(pc.or_(good, empty)))
    }
    if required:
        errors.update({i: f"{name}: required value is empty" for i in _indices(empty)})
    return pc.if_else(good, arr, _NULL_STRING), good, errors


def _text(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
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
    values, good, errors = _checked(arr, _RE_INT, name, "an integer", required)
    try:
        return values.cast(pa.int64()), errors
    except pa.ArrowInvalid:  # a 19-digit value beyond Int64
        out = []
        for i, v in enumerate(values.to_pylist()):
            if v is not None and not -(2**63) <= int(v) < 2**63:
                errors[i] = f"{name}: not an integer (out of Int64 range): {v!r}"
                v = None
            out.append(v)
        return pa.array(out, pa.string()).cast(pa.int64()), errors


def _bool(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
    values, good, errors = _checked(arr, _RE_FLAG, name, "a 0/1 flag", required)
    truthy = pc.is_in(values, pa.array(["1", "true", "True"]))
    return pc.if_else(good, truthy, pa.scalar(None, pa.bool_())), errors


def _datetime(arr: pa.StringArray, name: str, required: bool, tz: str) -> tuple[pa.Array, Errors]:
    values, good, errors = _checked(arr, _RE_DATETIME, name, "a date-time (yyyy-mm-dd hh:mm:ss)", required)
    parsed = pc.strptime(values, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    for i in _indices(pc.and_(good, pc.is_null(parsed))):
        errors[i] = f"{name}: not a date-time (yyyy-mm-dd hh:mm:ss): {arr[i].as_py()!r}"
    # application-local wall time → UTC; in a DST fold the earlier instant is taken
    utc = pc.assume_timezone(parsed, timezone=tz, ambiguous="earliest", nonexistent="earliest")
    return utc.cast(TIMESTAMP), errors


CONVERTERS: dict[str, Converter] = {
    "text": _text,
    "uint64": _uint64,
    "int": _int,
    "bool": _bool,
    "datetime": _datetime,
}


@dataclass
class BadRow:
    line: int
    reason: str
    payload: str


@dataclass
class ParsedExport:
    table: pa.Table | None
    bad: list[BadRow] = field(default_factory=list)


def parse_csv(text: str, export: settings.Export, timezone: str) -> ParsedExport:
    """Parse one export answer.

    Args:
        text: the CSV body (a leading UTF-8 BOM is ignored).
        export: which export it is (field kinds, required fields, the receive-day column).
        timezone: the application's time zone.

    Returns:
        Typed rows (plus the receive-day column) and the rows set aside.
    """
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    reader = csv.reader(lines, strict=True)
    bad: list[BadRow] = []
    try:
        header = next(reader)
    except StopIteration:
        return ParsedExport(None)
    width = len(header)
    rows: list[list[str]] = []
    spans: list[tuple[int, int]] = []  # physical lines of each row (quoted fields may span lines)
    previous = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            bad.append(
                BadRow(reader.line_num, f"CSV error: {exc}", "".join(lines[previous : reader.line_num]))
            )
            previous = reader.line_num
            continue
        raw = lines[previous : reader.line_num]
        first_line, previous = previous + 1, reader.line_num
        if not row:
            continue
        if len(row) != width:
            bad.append(BadRow(first_line, f"expected {width} columns (header), got {len(row)}", "".join(raw)))
            continue
        rows.append(row)
        spans.append((first_line - 1, previous))
    if not rows:
        return ParsedExport(None, bad)

    required = settings.required(export)
    columns = list(zip(*rows, strict=True))
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    row_errors: dict[int, list[str]] = {}
    for name, values in zip(header, columns, strict=True):
        strings = pa.array(values, pa.string())
        array, errors = CONVERTERS[settings.field_kind(name)](strings, name, name in required, timezone)
        for i, reason in errors.items():
            row_errors.setdefault(i, []).append(reason)
        arrays.append(array)
        fields.append(pa.field(name, array.type, nullable=name not in required))
        if name == export.receive_datetime:
            # the receive day as the application sees it: the request window and the cursor
            day = pc.utf8_slice_codeunits(strings, 0, 10)
            arrays.append(pc.strptime(day, format="%Y-%m-%d", unit="s", error_is_null=True).cast(pa.date32()))
            fields.append(pa.field(export.cursor, pa.date32(), nullable=False))
    if export.cursor not in {f.name for f in fields}:
        raise ValueError(f"{export.resource}: the answer has no {export.receive_datetime} column")
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    if row_errors:
        table = table.filter(pa.array([i not in row_errors for i in range(len(rows))], pa.bool_()))
        for i, reasons in sorted(row_errors.items()):
            start, end = spans[i]
            bad.append(BadRow(start + 1, "; ".join(reasons), "".join(lines[start:end])))
    bad.sort(key=lambda b: b.line)
    return ParsedExport(table if table.num_rows else None, bad)
