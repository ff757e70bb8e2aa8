"""Just enough of ClickHouse's SQL lexer to route an HTTP request.

The server never interprets queries itself (chDB does); it only needs to know what kind of
statement arrived, where an INSERT's inline data starts, and which output format the client
asked for. All of that is decided on top-level tokens, so a small lexer that understands
comments, string literals, quoted identifiers and brackets is enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?)")
_HEREDOC = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_SPACE = " \t\n\r\f\v"


class SqlSyntaxError(ValueError):
    """The text ends inside a literal or comment, so its structure cannot be known."""


@dataclass(frozen=True)
class Token:
    kind: str  # word | quoted | string | number | punct
    text: str
    start: int
    end: int
    depth: int  # bracket depth before the token

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def name(self) -> str:
        """The identifier a word or quoted identifier stands for."""
        if self.kind == "quoted":
            return self.text[1:-1].replace(self.text[0] * 2, self.text[0])
        return self.text


def tokens(sql: str, stop_after: int | None = None) -> list[Token]:
    """Split `sql` into tokens, skipping whitespace and comments.

    Args:
        sql: query text.
        stop_after: stop once this many top-level words were seen (a cheap prefix scan).

    Raises:
        SqlSyntaxError: when the text ends inside a string, quoted identifier or comment.
    """
    out: list[Token] = []
    i, n, depth, words = 0, len(sql), 0, 0
    while i < n:
        ch = sql[i]
        if ch in _SPACE:
            i += 1
        elif sql.startswith("--", i) or (ch == "#" and (i + 1 == n or sql[i + 1] in " !")):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif ch in "'\"`":
            j = _skip_quoted(sql, i, ch)
            out.append(Token("string" if ch == "'" else "quoted", sql[i:j], i, j, depth))
            i = j
        elif ch == "$" and (m := _HEREDOC.match(sql, i)):
            close = sql.find(m.group(0), m.end())
            if close < 0:
                raise SqlSyntaxError("unterminated heredoc")
            j = close + len(m.group(0))
            out.append(Token("string", sql[i:j], i, j, depth))
            i = j
        elif m := _WORD.match(sql, i):
            out.append(Token("word", m.group(0), i, m.end(), depth))
            i = m.end()
            if depth == 0:
                words += 1
                if stop_after is not None and words >= stop_after:
                    break
        elif m := _NUMBER.match(sql, i):
            out.append(Token("number", m.group(0), i, m.end(), depth))
            i = m.end()
        else:
            if ch in ")]}":
                depth = max(0, depth - 1)
            out.append(Token("punct", ch, i, i + 1, depth))
            if ch in "([{":
                depth += 1
            i += 1
    return out


def _skip_block_comment(sql: str, i: int) -> int:
    level, i = 0, i
    while i < len(sql):
        if sql.startswith("/*", i):
            level, i = level + 1, i + 2
        elif sql.startswith("*/", i):
            level, i = level - 1, i + 2
            if level == 0:
                return i
        else:
            i += 1
    raise SqlSyntaxError("unterminated comment")


def _skip_quoted(sql: str, i: int, quote: str) -> int:
    j = i + 1
    while j < len(sql):
        c = sql[j]
        if c == "\\":
            j += 2
        elif c == quote:
            if j + 1 < len(sql) and sql[j + 1] == quote:
                j += 2
            else:
                return j + 1
        else:
            j += 1
    raise SqlSyntaxError("unterminated quoted literal or identifier")


# Statements whose result is a table (they take FORMAT and INTO OUTFILE clauses).
RESULT_STATEMENTS = frozenset(
    {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK", "FROM"}
)


@dataclass(frozen=True)
class Statement:
    """What the server needs to know about one query."""

    kind: str  # first keyword, upper case ("" for an empty query)
    format_name: str | None = None  # explicit FORMAT clause of a result statement
    format_span: tuple[int, int] | None = None  # [start, end) of "FORMAT <name>"
    has_outfile: bool = False
    has_infile: bool = False

    @property
    def returns_rows(self) -> bool:
        return self.kind in RESULT_STATEMENTS

    @property
    def is_select(self) -> bool:
        return self.kind in ("SELECT", "WITH", "FROM")


def analyse(sql: str) -> Statement:
    """Classify a complete non-INSERT query and find its FORMAT clause."""
    toks = tokens(sql)
    kind = next((t.upper for t in toks if t.kind == "word"), "")
    fmt, span, outfile, infile = None, None, False, False
    for k, t in enumerate(toks):
        if t.depth or t.kind != "word":
            continue
        up = t.upper
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        if up == "INTO" and nxt is not None and nxt.upper == "OUTFILE":
            outfile = True
        elif up == "FROM" and nxt is not None and nxt.upper == "INFILE":
            infile = True
        elif up == "FORMAT" and nxt is not None and nxt.kind in ("word", "quoted") and nxt.depth == 0:
            after = toks[k + 2] if k + 2 < len(toks) else None
            # A FORMAT clause is the tail of a query: only SETTINGS or ';' may follow it.
            # This tells `SELECT format FROM t` (a column) from `... FORMAT JSON`.
            if after is None or after.upper == "SETTINGS" or after.text == ";":
                fmt, span = nxt.name, (t.start, nxt.end)
    return Statement(kind, fmt, span, outfile, infile)


@dataclass(frozen=True)
class InsertSplit:
    """An INSERT whose data follows the query text (FORMAT <name> or VALUES)."""

    head: str  # the query up to the data clause, without SETTINGS
    settings: str  # "SETTINGS ..." clause of the INSERT, or ""
    format_name: str
    data_offset: int  # index in the analysed text where the data starts
    select: bool = False  # INSERT … SELECT … FROM input(…) FORMAT x: the SELECT reads the data


class NeedMoreText(Exception):
    """The INSERT's data clause was not found in the text seen so far."""


def split_insert(sql: str, complete: bool) -> InsertSplit | None:
    """Find where an INSERT's inline data starts.

    Args:
        sql: the query text, possibly followed by the data (only a prefix if not complete).
        complete: whether `sql` is the whole request text.

    Returns:
        An InsertSplit for `INSERT ... FORMAT x <data>`, `INSERT ... VALUES <data>` or
        `INSERT ... SELECT ... FROM input(...) FORMAT x <data>`; None for an INSERT without
        inline data (a plain INSERT ... SELECT).

    Raises:
        NeedMoreText: the prefix ends before the data clause.
    """
    # Lex only up to the data clause: the data itself may be binary or malformed.
    i, n, depth = 0, len(sql), 0
    settings_start: int | None = None
    select = False  # inside INSERT … SELECT: only a trailing FORMAT clause matters
    prev_word = ""  # previous top-level token (upper-cased word or punctuation)
    while i < n:
        ch = sql[i]
        if ch in _SPACE:
            i += 1
            continue
        if sql.startswith("--", i) or (ch == "#" and (i + 1 == n or sql[i + 1] in " !")):
            j = sql.find("\n", i)
            if j < 0:
                if complete:
                    return None
                raise NeedMoreText
            i = j + 1
            continue
        try:
            if sql.startswith("/*", i):
                i = _skip_block_comment(sql, i)
                continue
            if ch in "'\"`":
                i = _skip_quoted(sql, i, ch)
                prev_word = ""
                continue
        except SqlSyntaxError:
            if complete:
                raise
            raise NeedMoreText from None
        m = _WORD.match(sql, i)
        if not m:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            i += 1
            prev_word = ch
            continue
        word, end = m.group(0).upper(), m.end()
        # `INSERT INTO format FORMAT CSV`: a keyword right after INTO/TABLE/a dot is a name.
        if depth == 0 and prev_word not in ("INTO", "TABLE", "FUNCTION", "."):
            if select and word != "FORMAT":
                pass
            elif word == "SETTINGS" and settings_start is None:
                settings_start = i
            elif word in ("SELECT", "WITH") and prev_word != "FORMAT":
                select = True
            elif word == "INFILE" and prev_word == "FROM":
                return None
            elif word == "VALUES":
                head_end = settings_start if settings_start is not None else i
                return InsertSplit(
                    sql[:head_end].rstrip(),
                    sql[settings_start:i].strip() if settings_start else "",
                    "Values",
                    end,
                )
            elif word == "FORMAT":
                fm = _WORD.match(sql, _skip_ws(sql, end))
                if not fm or (fm.end() == n and not complete):
                    if complete:
                        return None
                    raise NeedMoreText
                data = fm.end()
                while data < n and sql[data] in " \t\f":
                    data += 1
                if data < n and sql[data] == "\r":
                    data += 1
                if data < n and sql[data] == "\n":
                    data += 1
                elif data == n and not complete:
                    raise NeedMoreText
                if select:
                    return InsertSplit(sql[:i].rstrip(), "", fm.group(0), data, select=True)
                head_end = settings_start if settings_start is not None else i
                settings = sql[settings_start:i].strip() if settings_start is not None else ""
                return InsertSplit(sql[:head_end].rstrip(), settings, fm.group(0), data)
        prev_word = word
        i = end
    if complete:
        return None
    raise NeedMoreText


def replace_input(sql: str, path: str, fmt: str, compression: str | None) -> str:
    """Point `input(structure)` at a data file: `file(path, fmt, structure[, compression])`."""
    toks = tokens(sql)
    out, last = [], 0
    for k, t in enumerate(toks[:-1]):
        if t.kind == "word" and t.text.lower() == "input" and toks[k + 1].text == "(":
            depth, close = toks[k + 1].depth, None
            for u in toks[k + 2 :]:
                if u.text == ")" and u.depth == depth:
                    close = u
                    break
            if close is None:
                continue
            args = sql[toks[k + 1].end : close.start].strip() or "'auto'"
            extra = f", {quote_string(compression)}" if compression else ""
            out.append(sql[last : t.start])
            out.append(f"file({quote_string(path)}, {quote_string(fmt)}, {args}{extra})")
            last = close.end
    out.append(sql[last:])
    return "".join(out)


def _skip_ws(sql: str, i: int) -> int:
    while i < len(sql) and sql[i] in _SPACE:
        i += 1
    return i


def first_keyword(sql: str) -> str:
    """The statement's first keyword in upper case, or "" when there is none."""
    toks = tokens(sql, stop_after=1)
    return next((t.upper for t in toks if t.kind == "word"), "")


def quote_string(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
