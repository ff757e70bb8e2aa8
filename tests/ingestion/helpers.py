"""Queries the sink tests share."""

from __future__ import annotations


def rows(ch, sql: str, **params) -> list[tuple]:
    return ch.query(sql, parameters=params).result_rows


def journal(ch, source: str) -> list[dict]:
    """`raw._loads` rows of a source, oldest first."""
    result = ch.query(
        "SELECT * FROM raw._loads WHERE source = {s:String} ORDER BY started_at, job_id",
        parameters={"s": source},
    )
    return [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
