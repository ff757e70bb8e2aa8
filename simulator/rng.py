"""Keyed random streams and stable identifiers.

Every random decision draws from a stream keyed by (seed, stream name, index...), never from a
shared sequence, so adding people or days cannot shift the draws of anything that already exists.
Identifiers are hashes of such keys for the same reason.
"""

from __future__ import annotations

import hashlib
import random
import zlib

import numpy as np

_MASK64 = (1 << 64) - 1
# 256 two-character hex strings as bytes: used to render many uint64 values at numpy speed.
_HEX_LUT = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype=np.uint8).reshape(256, 2)


def key_hash(*parts: object) -> int:
    """Stable 64-bit hash of a key (independent of PYTHONHASHSEED and platform)."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def py_rng(*parts: object) -> random.Random:
    """A fast scalar stream (Mersenne Twister) keyed by ``parts``."""
    return random.Random(key_hash(*parts))


def np_rng(seed: int, name: str, *index: int) -> np.random.Generator:
    """A vectorised stream keyed by (seed, name, index...)."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(name.encode()), *index]))
    )


def uuid_from(*parts: object) -> str:
    """UUID-v4-shaped id derived from a key."""
    h = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def hex_from(n_chars: int, *parts: object) -> str:
    return hashlib.blake2b(
        "\x1f".join(str(p) for p in parts).encode(), digest_size=(n_chars + 1) // 2
    ).hexdigest()[:n_chars]


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Vectorised SplitMix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hex64(values: np.ndarray) -> np.ndarray:
    """Render uint64 values as 16-char lowercase hex, returned as an ``S16`` array."""
    b = values.astype(">u8").view(np.uint8).reshape(-1, 8)
    return np.ascontiguousarray(_HEX_LUT[b].reshape(-1, 16)).view("S16").ravel()


def uuid_array(keys: np.ndarray) -> np.ndarray:
    """UUID-shaped ids (``S36``) from uint64 keys, two independent 64-bit mixes per key."""
    hi = hex64(splitmix64(keys))
    lo = hex64(splitmix64(keys ^ np.uint64(0xD1B54A32D192ED03)))
    h = np.frombuffer(hi.tobytes(), dtype=np.uint8).reshape(-1, 16)
    lo_b = np.frombuffer(lo.tobytes(), dtype=np.uint8).reshape(-1, 16)
    out = np.empty((len(keys), 36), dtype=np.uint8)
    dash = ord("-")
    out[:, 0:8] = h[:, 0:8]
    out[:, 8] = dash
    out[:, 9:13] = h[:, 8:12]
    out[:, 13] = dash
    out[:, 14] = ord("4")
    out[:, 15:18] = h[:, 13:16]
    out[:, 18] = dash
    out[:, 19] = np.frombuffer(b"89ab", dtype=np.uint8)[lo_b[:, 0] & 3]
    out[:, 20:23] = lo_b[:, 1:4]
    out[:, 23] = dash
    out[:, 24:36] = lo_b[:, 4:16]
    return out.view("S36").ravel()


def to_u64(value: int) -> np.uint64:
    return np.uint64(value & _MASK64)
