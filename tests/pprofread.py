"""A small, independent reader of pprof profiles (profile.proto), for tests.

It decodes the protobuf wire format field by field (no code shared with
fastrace.analysis.pprof) and resolves every sample to its values and its
frames as (function name, file name, line), innermost first, so profiles
written by Go and by fastrace can be compared as multisets.
"""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Profile", "parse", "sample_multiset"]


def _varint(b: bytes, i: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7
        if shift >= 70:
            raise ValueError("varint too long")


def _fields(b: bytes):
    """(field number, wire type, value) for each field of a message; value is
    an int for varints and fixed ints, bytes for length-delimited fields."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v = int.from_bytes(b[i:i + 8], "little")
            i += 8
        elif wt == 2:
            n, i = _varint(b, i)
            v = b[i:i + n]
            if len(v) != n:
                raise ValueError("truncated field")
            i += n
        elif wt == 5:
            v = int.from_bytes(b[i:i + 4], "little")
            i += 4
        else:
            raise ValueError(f"wire type {wt}")
        yield num, wt, v


def _ints(wt: int, v) -> list[int]:
    """A repeated integer field occurrence: packed (bytes) or one varint."""
    if wt == 2:
        out, i = [], 0
        while i < len(v):
            x, i = _varint(v, i)
            out.append(x)
        return out
    return [v]


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclass
class Profile:
    sample_types: list[tuple[str, str]] = field(default_factory=list)
    samples: list[tuple[tuple[int, ...], tuple[tuple[str, str, int], ...]]] = \
        field(default_factory=list)           # (values, frames)
    period_type: tuple[str, str] | None = None
    period: int = 0
    duration: int = 0
    n_locations: int = 0
    n_functions: int = 0


def parse(data: bytes) -> Profile:
    """Decode a profile (gzip-compressed or not)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    raw_types, raw_samples, locs, funcs, strings = [], [], {}, {}, []
    period_type = None
    prof = Profile()
    for num, wt, v in _fields(data):
        if num == 1:
            d = {n: x for n, _, x in _fields(v)}
            raw_types.append((d.get(1, 0), d.get(2, 0)))
        elif num == 2:
            ids, vals = [], []
            for n, w, x in _fields(v):
                if n == 1:
                    ids += _ints(w, x)
                elif n == 2:
                    vals += [_signed(y) for y in _ints(w, x)]
            raw_samples.append((ids, vals))
        elif num == 4:
            lid, lines = 0, []
            for n, w, x in _fields(v):
                if n == 1:
                    lid = x
                elif n == 4:
                    d = {m: y for m, _, y in _fields(x)}
                    lines.append((d.get(1, 0), _signed(d.get(2, 0))))
            locs[lid] = lines
        elif num == 5:
            d = {n: x for n, _, x in _fields(v)}
            funcs[d.get(1, 0)] = (d.get(2, 0), d.get(4, 0))
        elif num == 6:
            strings.append(v)
        elif num == 10:
            prof.duration = _signed(v)
        elif num == 11:
            d = {n: x for n, _, x in _fields(v)}
            period_type = (d.get(1, 0), d.get(2, 0))
        elif num == 12:
            prof.period = _signed(v)

    def s(i: int) -> str:
        return strings[i].decode("utf-8", "surrogateescape")

    prof.sample_types = [(s(a), s(b)) for a, b in raw_types]
    prof.period_type = (s(period_type[0]), s(period_type[1])) if period_type else None
    prof.n_locations, prof.n_functions = len(locs), len(funcs)
    for ids, vals in raw_samples:
        frames = []
        for lid in ids:
            # Inlined calls would be several lines, innermost first.
            for fid, line in locs[lid]:
                name, file = funcs[fid]
                frames.append((s(name), s(file), line))
        prof.samples.append((tuple(vals), tuple(frames)))
    return prof


def sample_multiset(p: Profile) -> Counter:
    """The samples as a multiset of (values, frames)."""
    return Counter(p.samples)
