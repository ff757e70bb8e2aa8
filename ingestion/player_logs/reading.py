"""Reading many log files in parallel while keeping their order and line numbers.

Each worker thread takes the next file, decompresses it chunk by chunk and parses each chunk
right away, so a chunk is parsed while it is still in that core's cache (handing decompressed
chunks from one thread to another measured ~40 % more CPU per event). Results go to the file's
own bounded queue; this thread drains the files' queues in file order. Workers take files in
order too, so at most `workers` files are open and memory stays bounded whatever their size.
"""

from __future__ import annotations

import logging
import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ingestion.quarantine import quarantine

from .helpers import LogFile, read_chunks
from .parsing import ParsedChunk, parse_chunk
from .settings import RESOURCE_NAME

log = logging.getLogger("predicto.ingestion.player_logs")

_QUEUE_CHUNKS = 2  # parsed chunks a worker may hold ahead of the reader


@dataclass
class _End:
    """The last message of a file: whether it was read to its end (then it can be marked loaded)."""

    complete: bool
    error: BaseException | None = None


def read_in_parallel(
    files: list[LogFile], content_schema: str, workers: int, chunk_bytes: int
) -> Iterator[tuple[LogFile | None, list[Any]]]:
    """Items of every file, in file and line order.

    Yields `(None, items)` per chunk (Arrow tables and quarantine items) and `(file, [])` once a
    file has been read to its end, so the caller can mark it loaded. A file whose gzip stream
    stops early (still being written) or cannot be decompressed gets no end marker.
    """
    if not files:
        return
    queues = [queue.Queue[Any](maxsize=_QUEUE_CHUNKS) for _ in files]
    stop = threading.Event()
    next_file = iter(range(len(files)))
    lock = threading.Lock()

    def work() -> None:
        while not stop.is_set():
            with lock:
                index = next(next_file, None)
            if index is None:
                return
            _read_one(files[index], queues[index], stop, content_schema, chunk_bytes)

    threads = [
        threading.Thread(target=work, name=f"player-logs-{i}", daemon=True)
        for i in range(min(workers, len(files)))
    ]
    for thread in threads:
        thread.start()
    try:
        for file, results in zip(files, queues, strict=True):
            lines_before = 0
            while True:
                message = results.get()
                if isinstance(message, _End):
                    if message.error is not None:
                        raise message.error
                    if message.complete:
                        yield file, []
                    break
                if isinstance(message, ParsedChunk):
                    items = _items(file, message, lines_before)
                    lines_before += message.newlines
                    yield None, items
                else:  # a quarantine item for the whole file
                    yield None, [message]
    finally:
        stop.set()
        for results in queues:  # unblock workers waiting to put
            while not results.empty():
                results.get_nowait()
        for thread in threads:
            thread.join(timeout=30)


def _read_one(
    file: LogFile, results: queue.Queue[Any], stop: threading.Event, content_schema: str, chunk_bytes: int
) -> None:
    """Decompress and parse one file into its queue; always ends with an `_End`."""

    def put(message: Any) -> bool:
        while not stop.is_set():
            try:
                results.put(message, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    try:
        for chunk in read_chunks(file, chunk_bytes):
            if not put(parse_chunk(chunk, file.rel, content_schema)):
                return
    except EOFError:
        # What was read is loaded; the whole file is read again once it is complete.
        log.warning("player logs: %s ends mid-stream (still being written?)", file.rel)
        put(_End(complete=False))
        return
    except (OSError, zlib.error) as exc:
        # No end marker: a repaired file is read again on a later run.
        put(quarantine(RESOURCE_NAME, file.rel, f"file cannot be decompressed: {exc}", b""))
        put(_End(complete=False))
        return
    except BaseException as exc:  # a bug: surface it in the reading thread
        put(_End(complete=False, error=exc))
        return
    put(_End(complete=True))


def _items(file: LogFile, parsed: ParsedChunk, lines_before: int) -> list[Any]:
    items: list[Any] = [
        quarantine(RESOURCE_NAME, f"{file.rel}:{lines_before + bad.line_no}", bad.reason, bad.text)
        for bad in parsed.bad
    ]
    if parsed.bad:
        log.warning("player logs: %s has %s lines that are not events", file.rel, len(parsed.bad))
    if parsed.table is not None:
        items.insert(0, parsed.table)
    return items
