"""Log files: finding them in the dated layout, remembering what was loaded, reading them in chunks."""

from __future__ import annotations

import datetime as dt
import gzip
import os
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .settings import FILE_SUFFIXES


@dataclass(frozen=True)
class LogFile:
    """One log file: where it is, which collector day its folder is, and its current stat."""

    path: Path
    rel: str  # relative to the log root, with forward slashes: the ledger key
    day: dt.date
    size: int
    mtime_ns: int

    @property
    def signature(self) -> list[int]:
        """What makes a file "the same file" between runs: a grown or rewritten file differs."""
        return [self.size, self.mtime_ns]


def list_files(root: Path, start: dt.date | None = None, end: dt.date | None = None) -> list[LogFile]:
    """Log files under `root/YYYY/MM/DD/`, oldest day first, within [start, end] (inclusive).

    Folders that are not a date, and files with other suffixes, are ignored: a bucket often
    holds marker or temporary files next to the logs.
    """
    files: list[LogFile] = []
    for year in _numbered_dirs(root, 4):
        if (start and int(year.name) < start.year) or (end and int(year.name) > end.year):
            continue
        for month in _numbered_dirs(year, 2):
            for day_dir in _numbered_dirs(month, 2):
                try:
                    day = dt.date(int(year.name), int(month.name), int(day_dir.name))
                except ValueError:
                    continue
                if (start and day < start) or (end and day > end):
                    continue
                for entry in sorted(os.scandir(day_dir), key=lambda e: e.name):
                    if not entry.is_file() or not entry.name.endswith(FILE_SUFFIXES):
                        continue
                    stat = entry.stat()
                    rel = f"{year.name}/{month.name}/{day_dir.name}/{entry.name}"
                    files.append(LogFile(Path(entry.path), rel, day, stat.st_size, stat.st_mtime_ns))
    files.sort(key=lambda f: (f.day, f.rel))
    return files


def _numbered_dirs(parent: Path, width: int) -> list[Path]:
    return sorted(
        Path(e.path) for e in os.scandir(parent) if e.is_dir() and len(e.name) == width and e.name.isdigit()
    )


class Ledger:
    """Which files are loaded, kept in the resource's dlt state.

    State shape: `{"files": {rel: [size, mtime_ns]}, "newest_day": "YYYY-MM-DD"}`. Day folders
    more than `rescan_days` before `newest_day` are final: they are not listed again and their
    entries are dropped, so the state stays small however many days the logs cover.
    """

    def __init__(self, state: MutableMapping[str, Any], rescan_days: int) -> None:
        self.state = state
        self.files: dict[str, list[int]] = state.setdefault("files", {})
        self.rescan_days = rescan_days

    @property
    def newest_day(self) -> dt.date | None:
        value = self.state.get("newest_day")
        return dt.date.fromisoformat(value) if value else None

    def listing_start(self) -> dt.date | None:
        """First day folder to list on an ordinary run (None: everything)."""
        newest = self.newest_day
        return newest - dt.timedelta(days=self.rescan_days) if newest else None

    def is_loaded(self, file: LogFile) -> bool:
        return self.files.get(file.rel) == file.signature

    def mark_loaded(self, file: LogFile) -> None:
        self.files[file.rel] = file.signature

    def advance(self, listed: list[LogFile]) -> None:
        """Move `newest_day` to the newest listed folder and forget folders that became final."""
        if listed:
            newest = max(f.day for f in listed)
            if self.newest_day is None or newest > self.newest_day:
                self.state["newest_day"] = newest.isoformat()
        start = self.listing_start()
        if start is None:
            return
        cutoff = start.isoformat().replace("-", "/")
        for rel in [r for r in self.files if r[:10] < cutoff]:
            del self.files[rel]


def read_chunks(file: LogFile, chunk_bytes: int) -> Iterator[bytes]:
    """The file's decompressed text in chunks of whole lines.

    A final line without a newline (a file cut off while being written) is the last chunk's
    last line; the reader then reports it if it is not valid JSON.
    """
    rest = b""
    with _open(file.path) as fh:
        while True:
            block = fh.read(chunk_bytes)
            if not block:
                break
            data = rest + block if rest else block
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # a line longer than the chunk: keep reading
                rest = data
                continue
            chunk, rest = data[:cut], data[cut:]
            yield chunk
    if rest:
        yield rest


def _open(path: Path) -> BinaryIO:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 - closed by the caller's with block
