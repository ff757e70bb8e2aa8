"""Direct report TSV → typed rows; bad rows set aside with the reason.

A report is: an optional report-name line (`"<ReportName> (<DateFrom> - <DateTo>)"`, absent with
`skipReportHeader: true`), the column-header line, data rows, and a `Total rows: N` summary.
The summary is kept on purpose: a body whose summary is missing or disagrees with the rows it
carries was cut short and is fetched again. `--` means "not applicable" and becomes NULL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from . import settings

NOT_APPLICABLE = "--"
_TOTAL_RE = re.compile(r"Total rows: (\d+)")
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_CENT = Decimal("0.01")


class IncompleteReport(ValueError):
    """The body is not a whole report (no summary line, or fewer rows than it announces)."""


def column_name(field_name: str) -> str:
    """Direct FieldName → column: `AdNetworkType` → `ad_network_type`."""
    return settings.COLUMNS.get(field_name, (_CAMEL_RE.sub("_", field_name).lower(), "text"))[0]


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _int(value: str) -> int:
    if not re.fullmatch(r"-?\d+", value):
        raise ValueError("not an integer")
    return int(value)


def _money(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("not a decimal amount") from None
    if not number.is_finite() or number != number.quantize(_CENT):
        raise ValueError("not an amount with at most 2 decimals (is returnMoneyInMicros off?)")
    return number


def _percent(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("not a percentage") from None
    if not number.is_finite():
        raise ValueError("not a percentage")
    return number


CONVERTERS: dict[str, Callable[[str], Any]] = {
    "date": _date,
    "int": _int,
    "money": _money,
    "percent": _percent,
    "text": str,
    "enum": str,
}


@dataclass
class BadRow:
    line: int
    reason: str
    payload: str


@dataclass
class ParsedReport:
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


def parse_report(text: str, client_login: str) -> ParsedReport:
    """Parse a report body.

    Args:
        text: the TSV body as received.
        client_login: the advertiser the report belongs to (a key column).

    Returns:
        Typed rows (dicts keyed by column name) and the rows set aside.

    Raises:
        IncompleteReport: the summary line is missing or counts other rows than were received.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    start = 0
    if lines and lines[0].startswith('"') and "\t" not in lines[0]:
        start = 1  # the report-name line
    if not lines or not _TOTAL_RE.fullmatch(lines[-1].strip()):
        raise IncompleteReport(f"no 'Total rows' line at the end of a {len(text)}-character report")
    announced = int(_TOTAL_RE.fullmatch(lines[-1].strip()).group(1))
    body = lines[start:-1]
    if not body:
        raise IncompleteReport("no column header line")
    header = body[0].split("\t")
    data = body[1:]
    if len(data) != announced:
        raise IncompleteReport(f"{len(data)} rows received, the report announces {announced}")
    kinds = [settings.COLUMNS.get(name, ("", "text"))[1] for name in header]
    names = [column_name(name) for name in header]
    parsed = ParsedReport()
    for number, line in enumerate(data, start=start + 2):
        values = line.split("\t")
        if len(values) != len(header):
            parsed.bad.append(
                BadRow(
                    number, f"expected {len(header)} tab-separated fields (header), got {len(values)}", line
                )
            )
            continue
        row: dict[str, Any] = {"client_login": client_login}
        errors = []
        for field_name, name, kind, value in zip(header, names, kinds, values, strict=True):
            if value == NOT_APPLICABLE:
                row[name] = None
                continue
            try:
                row[name] = CONVERTERS[kind](value)
            except ValueError as exc:
                errors.append(f"{field_name}: {exc}: {value[:40]!r}")
        missing = [f for f in settings.REQUIRED_FIELDS if f in header and row.get(column_name(f)) is None]
        errors.extend(
            f"{f}: required value is empty" for f in missing if not any(e.startswith(f) for e in errors)
        )
        if errors:
            parsed.bad.append(BadRow(number, "; ".join(errors), line))
        else:
            parsed.rows.append(row)
    return parsed
