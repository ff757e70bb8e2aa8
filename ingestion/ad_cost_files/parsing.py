"""One daily cost CSV → typed rows; bad rows set aside with the reason.

Columns are mapped by header name (case and surrounding spaces ignored). The delimiter is
the one of `settings.DELIMITERS` found in the header; with `;` or tab a decimal comma
(`141,26`) is read as a decimal point.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from . import settings

_INT_RE = re.compile(r"-?\d+")
_QUANTUM = Decimal(1).scaleb(-settings.MONEY_SCALE)


class BadHeader(ValueError):
    """The file lacks a required column: nothing in it can be typed."""


def header_name(raw: str) -> str:
    return re.sub(r"\s+", "_", raw.strip().lower())


def _date(value: str, decimal_comma: bool) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a date (YYYY-MM-DD)") from None


def _int(value: str, decimal_comma: bool) -> int:
    if not _INT_RE.fullmatch(value):
        raise ValueError("not an integer")
    return int(value)


def _money(value: str, decimal_comma: bool) -> Decimal:
    text = value.replace(",", ".") if decimal_comma else value
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a decimal amount") from None
    if not number.is_finite() or number != number.quantize(_QUANTUM):
        raise ValueError(f"not an amount with at most {settings.MONEY_SCALE} decimals")
    return number


def _text(value: str, decimal_comma: bool) -> str:
    return value


CONVERTERS: dict[str, Callable[[str, bool], Any]] = {
    "date": _date,
    "int": _int,
    "money": _money,
    "text": _text,
    "enum": _text,
}


@dataclass
class BadRow:
    line: int
    reason: str
    payload: str


@dataclass
class ParsedFile:
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def parse_file(text: str) -> ParsedFile:
    """Parse one cost file.

    Args:
        text: the decoded file (a UTF-8 BOM is ignored).

    Returns:
        Typed rows keyed by column name (empty cells are None) and the rows set aside.

    Raises:
        BadHeader: a required column is missing.
    """
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    if not lines:
        return ParsedFile()
    first = lines[0]
    delimiter = max(settings.DELIMITERS, key=first.count)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header = [header_name(h) for h in next(reader)]
    missing = [c for c in settings.REQUIRED_COLUMNS if c not in header]
    if missing:
        raise BadHeader(f"required column(s) {', '.join(missing)} missing from the header {header}")
    kinds = [settings.COLUMNS.get(name, "text") for name in header]
    decimal_comma = delimiter != ","
    parsed = ParsedFile(columns=header)
    previous = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            parsed.bad.append(
                BadRow(reader.line_num, f"CSV error: {exc}", "".join(lines[previous : reader.line_num]))
            )
            previous = reader.line_num
            continue
        number, raw = previous + 1, "".join(lines[previous : reader.line_num])
        previous = reader.line_num
        if not values or not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            parsed.bad.append(
                BadRow(number, f"expected {len(header)} columns (header), got {len(values)}", raw)
            )
            continue
        row: dict[str, Any] = {}
        errors = []
        for name, kind, value in zip(header, kinds, values, strict=True):
            value = value.strip()
            if not value:
                row[name] = None
                if name in settings.REQUIRED_COLUMNS:
                    errors.append(f"{name}: required value is empty")
                continue
            try:
                row[name] = CONVERTERS[kind](value, decimal_comma)
            except ValueError as exc:
                errors.append(f"{name}: {exc}: {value[:40]!r}")
        if errors:
            parsed.bad.append(BadRow(number, "; ".join(errors), raw))
        else:
            parsed.rows.append(row)
    return parsed
