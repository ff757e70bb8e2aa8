"""Output formats: which ones stream chunk by chunk, and the Content-Type of each.

chDB's streaming API formats every chunk as a complete result of its own. For plain row
formats (TSV, CSV, JSONEachRow, Native, RowBinary…) that is exactly a slice of the whole
output. Every other format has a header, a footer or a document structure (CSVWithNames,
JSON, Parquet, Arrow…), and a chunked result would repeat or lose them — an empty result
would even lose the header. Those are written by chDB to a spool file and sent from there.
"""

from __future__ import annotations

_STREAMABLE = {
    "tabseparated",
    "tsv",
    "tabseparatedraw",
    "tsvraw",
    "raw",
    "tskv",
    "csv",
    "jsoneachrow",
    "jsonlines",
    "ndjson",
    "jsonstringseachrow",
    "jsoncompacteachrow",
    "jsoncompactstringseachrow",
    "native",
    "rowbinary",
    "lineasstring",
    "rawblob",
    "null",
    "bsoneachrow",
    "msgpack",
}


def is_streamable(fmt: str) -> bool:
    """Whether chDB's per-chunk output in `fmt` concatenates into the exact whole output."""
    return fmt.lower() in _STREAMABLE


def content_type(fmt: str) -> str:
    """The Content-Type ClickHouse sends for a result in `fmt`."""
    key = fmt.lower()
    if key.startswith(("tabseparated", "tsv", "raw")) or key == "tskv":
        return "text/tab-separated-values; charset=UTF-8"
    if key.startswith("csv"):
        header = "present" if "withnames" in key else "absent"
        return f"text/csv; charset=UTF-8; header={header}"
    if key.startswith("json"):
        return "application/json; charset=UTF-8"
    if key == "xml":
        return "application/xml; charset=UTF-8"
    if (
        key.startswith(("pretty", "vertical", "values", "markdown", "sqlinsert", "lineasstring"))
        or key == "null"
    ):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"
