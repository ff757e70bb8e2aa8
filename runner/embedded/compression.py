"""HTTP body compression, as ClickHouse negotiates it.

Request bodies: `Content-Encoding` names the method. When the whole body is INSERT data, chDB
decompresses it itself (`FROM INFILE … COMPRESSION`), so only a body that carries query text
is decompressed here. Responses: compressed when the client sends `enable_http_compression=1`
and an `Accept-Encoding` the server supports.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Iterable, Iterator
from typing import Protocol

import brotli
import lz4.frame
import zstandard

from .errors import ClickHouseError

# Content-Encoding value -> name of the method in ClickHouse's COMPRESSION clause.
REQUEST_METHODS = {
    "gzip": "gzip",
    "x-gzip": "gzip",
    "deflate": "deflate",
    "br": "br",
    "zstd": "zstd",
    "lz4": "lz4",
    "xz": "xz",
    "bz2": "bz2",
}

# ClickHouse's order of preference when a client accepts several.
_RESPONSE_PREFERENCE = ("zstd", "br", "lz4", "gzip", "deflate", "xz", "bz2")


class _Codec(Protocol):
    def process(self, data: bytes) -> bytes: ...
    def finish(self) -> bytes: ...


class _Zlib:
    def __init__(self, compress: bool, wbits: int, level: int = 3) -> None:
        self._obj = zlib.compressobj(level, zlib.DEFLATED, wbits) if compress else zlib.decompressobj(wbits)
        self._compress = compress

    def process(self, data: bytes) -> bytes:
        return self._obj.compress(data) if self._compress else self._obj.decompress(data)

    def finish(self) -> bytes:
        return self._obj.flush()


class _Generic:
    def __init__(self, obj: object, process: str, finish: str | None) -> None:
        self._process = getattr(obj, process)
        self._finish = getattr(obj, finish) if finish else (lambda: b"")

    def process(self, data: bytes) -> bytes:
        return self._process(data)

    def finish(self) -> bytes:
        return self._finish()


class _Lz4Encoder:
    """LZ4 frame: the frame header comes from begin(), before the first block."""

    def __init__(self) -> None:
        self._obj = lz4.frame.LZ4FrameCompressor()
        self._head = self._obj.begin()

    def _take_head(self) -> bytes:
        head, self._head = self._head, b""
        return head

    def process(self, data: bytes) -> bytes:
        return self._take_head() + self._obj.compress(data)

    def finish(self) -> bytes:
        return self._take_head() + self._obj.flush()


def _decoder(method: str) -> _Codec:
    if method == "gzip":
        return _Zlib(False, 47)  # gzip or zlib header, auto-detected
    if method == "deflate":
        return _Zlib(False, 15)
    if method == "zstd":
        return _Generic(zstandard.ZstdDecompressor().decompressobj(), "decompress", None)
    if method == "lz4":
        return _Generic(lz4.frame.LZ4FrameDecompressor(), "decompress", None)
    if method == "br":
        return _Generic(brotli.Decompressor(), "process", None)
    if method == "xz":
        return _Generic(lzma.LZMADecompressor(), "decompress", None)
    if method == "bz2":
        return _Generic(bz2.BZ2Decompressor(), "decompress", None)
    raise ClickHouseError.named("UNKNOWN_COMPRESSION_METHOD", f"Unknown compression method: {method}")


def _encoder(method: str) -> _Codec:
    if method == "gzip":
        return _Zlib(True, 31)
    if method == "deflate":
        return _Zlib(True, 15)
    if method == "zstd":
        return _Generic(zstandard.ZstdCompressor(level=1).compressobj(), "compress", "flush")
    if method == "lz4":
        return _Lz4Encoder()
    if method == "br":
        return _Generic(brotli.Compressor(quality=1), "process", "finish")
    if method == "xz":
        return _Generic(lzma.LZMACompressor(), "compress", "flush")
    if method == "bz2":
        return _Generic(bz2.BZ2Compressor(), "compress", "flush")
    raise ValueError(method)


def request_method(content_encoding: str | None) -> str | None:
    """Normalised method of a request body, None when it is not compressed."""
    value = (content_encoding or "").strip().lower()
    if value in ("", "identity", "none"):
        return None
    if value not in REQUEST_METHODS:
        raise ClickHouseError.named("UNKNOWN_COMPRESSION_METHOD", f"Unknown compression method: {value}")
    return REQUEST_METHODS[value]


def decompress_stream(method: str | None, chunks: Iterable[bytes]) -> Iterator[bytes]:
    if method is None:
        yield from chunks
        return
    codec = _decoder(method)
    try:
        for chunk in chunks:
            out = codec.process(chunk)
            if out:
                yield out
        tail = codec.finish()
    except ClickHouseError:
        raise
    except Exception as exc:  # every codec raises its own error type on corrupt input
        raise ClickHouseError.named(
            "CANNOT_DECOMPRESS", f"Cannot decompress the request body as {method}: {exc}"
        ) from exc
    if tail:
        yield tail


def response_method(accept_encoding: str | None) -> str | None:
    offered = (accept_encoding or "").lower()
    return next((m for m in _RESPONSE_PREFERENCE if m in offered), None)


class _Identity:
    def process(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""


def response_encoder(method: str | None) -> _Codec:
    """A streaming compressor for the response body (identity when `method` is None)."""
    return _Identity() if method is None else _encoder(method)
