"""Listing cost files (a local directory or any fsspec URL such as `s3://bucket/prefix`) and
deciding which of them changed since they were last read.

The manifest (dlt resource state) remembers per relative path the size, modification time and
SHA-256 of the content that was loaded. A file whose size and mtime are unchanged is skipped
without reading it; otherwise its content hash decides: a copied or touched file with the same
bytes is not loaded again, a file with new bytes is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
import re
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class CostFile:
    """One listed file."""

    relative_path: str
    size: int | None
    modified_at: dt.datetime
    item: Any  # dlt FileItemDict: knows how to read itself

    @property
    def network(self) -> str:
        """The first directory level: `vk_ads/2026-10-01.csv` → `vk_ads`."""
        head = self.relative_path.split("/", 1)[0]
        return head if "/" in self.relative_path else ""

    @property
    def name_date(self) -> dt.date | None:
        """The date in the file name (`2026-10-01.csv`), if any."""
        match = _DATE_IN_NAME.search(posixpath.basename(self.relative_path))
        if not match:
            return None
        try:
            return dt.date.fromisoformat(match.group(1))
        except ValueError:
            return None

    def read(self) -> bytes:
        return self.item.read_bytes()


def list_files(
    directory: str, file_glob: str, storage_options: dict[str, Any] | None = None
) -> list[CostFile]:
    """Files under `directory` matching `file_glob`, sorted by relative path."""
    import fsspec
    from dlt.common.storages.fsspec_filesystem import FileItemDict, glob_files

    # no options: local paths, or the protocol's own default chain (AWS_* variables for s3fs)
    fs = fsspec.core.url_to_fs(directory, **(storage_options or {}))[0]
    files = []
    for item in glob_files(fs, directory, file_glob):
        files.append(
            CostFile(
                relative_path=item["relative_path"],
                size=item.get("size_in_bytes"),
                modified_at=item["modification_date"],
                item=FileItemDict(item, fs),
            )
        )
    return sorted(files, key=lambda f: f.relative_path)


@dataclass(frozen=True)
class Seen:
    """What the manifest says about a file; `changed` decides whether to read it."""

    manifest: MutableMapping[str, dict[str, Any]]

    def unchanged_by_stat(self, f: CostFile) -> bool:
        entry = self.manifest.get(f.relative_path)
        return (
            bool(entry)
            and entry.get("size") == f.size
            and entry.get("modified_at") == f.modified_at.isoformat()
        )

    def same_content(self, f: CostFile, digest: str) -> bool:
        entry = self.manifest.get(f.relative_path)
        return bool(entry) and entry.get("sha256") == digest

    def remember(self, f: CostFile, digest: str) -> None:
        self.manifest[f.relative_path] = {
            "size": f.size,
            "modified_at": f.modified_at.isoformat(),
            "sha256": digest,
        }


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def iter_changed(
    files: list[CostFile], seen: Seen, force: bool = False
) -> Iterator[tuple[CostFile, bytes, str]]:
    """(file, content, digest) of every file whose content was not loaded yet (all if `force`)."""
    for f in files:
        if not force and seen.unchanged_by_stat(f):
            continue
        content = f.read()
        digest = sha256(content)
        if not force and seen.same_content(f, digest):
            seen.remember(f, digest)  # touched or copied, same bytes: note the new mtime only
            continue
        yield f, content, digest
