"""Hand-made v2 traces for tests: a tiny writer of the wire format.

Written from the format description (header, batches of varint-encoded
events), independently of fastrace's decoder, so tests can state expected
values by hand.
"""

from __future__ import annotations


def uv(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def header(version: int) -> bytes:
    return f"go 1.{version} trace".encode() + b"\x00\x00\x00"


def batch(gen: int, m: int, time: int, payload: bytes, size: int | None = None) -> bytes:
    size = len(payload) if size is None else size
    return bytes([1]) + uv(gen) + uv(m) + uv(time) + uv(size) + payload


def exp_batch(exp: int, gen: int, m: int, time: int, data: bytes) -> bytes:
    return bytes([49, exp]) + uv(gen) + uv(m) + uv(time) + uv(len(data)) + data


def ev(typ: int, *args: int) -> bytes:
    return bytes([typ]) + b"".join(uv(a) for a in args)


def strings(*items: tuple[int, bytes]) -> bytes:
    return bytes([4]) + b"".join(bytes([5]) + uv(i) + uv(len(s)) + s for i, s in items)


def stacks(*items: tuple[int, list[tuple[int, int, int, int]]]) -> bytes:
    out = bytearray([2])
    for sid, frames in items:
        out += bytes([3]) + uv(sid) + uv(len(frames))
        for f in frames:
            out += b"".join(uv(x) for x in f)
    return bytes(out)


def cpu_samples(*items: tuple[int, int, int, int, int]) -> bytes:
    return bytes([6]) + b"".join(bytes([7]) + b"".join(uv(x) for x in s) for s in items)


def sync(version: int, freq: int | None, clock: tuple[int, int, int, int] | None = None) -> bytes:
    out = bytearray()
    if version >= 25:
        out.append(50)
    if freq is not None:
        out += bytes([8]) + uv(freq)
    if clock is not None:
        out += bytes([51]) + b"".join(uv(x) for x in clock)
    return bytes(out)


END_OF_GENERATION = bytes([52])
NO_M = (1 << 64) - 1


def minimal(version: int, gens: int = 1) -> bytes:
    """A small valid trace: per generation a sync batch, strings, a stack and
    one M with a few events."""
    out = bytearray(header(version))
    for g in range(1, gens + 1):
        base = 1000 * g
        out += batch(g, NO_M, base, sync(version, 15625000, (5, 777, 1700000000, 42) if version >= 25 else None))
        out += batch(g, NO_M, base + 1, strings((1, b"main"), (2, b"main.go")))
        out += batch(g, NO_M, base + 2, stacks((1, [(0x401000, 1, 2, 10)])))
        # ProcStatus(p=0, status=1), GoStatus(g=1, m=NO_M, status=2), HeapAlloc(4096)
        out += batch(g, 7, base + 10, ev(13, 3, 0, 1) + ev(25, 2, 1, NO_M, 2) + ev(37, 5, 4096))
        if version >= 26:
            out += END_OF_GENERATION
    return bytes(out)
