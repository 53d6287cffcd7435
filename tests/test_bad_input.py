"""Bad input: every damaged trace raises a TraceError that says where, and
none crashes, hangs or allocates far beyond the size of its input."""

from __future__ import annotations

import ctypes
import functools
import random
import re
import sys
import tracemalloc

import numpy as np
import pytest

import fastrace
from fastrace import TraceFormatError, UnsupportedVersionError, _varint
from tests import FIXTURES
from tests.memory import RSS_METER, peak_rss_growth
from tests.tracebuild import (END_OF_GENERATION, NO_M, batch, ev, header, minimal, stacks,
                              strings, sync, uv)

pytestmark = pytest.mark.damage


def decode(data):
    return fastrace.decode_wire(data)


def raises(data, cls=TraceFormatError, match=None):
    with pytest.raises(cls, match=match) as info:
        decode(data)
    return info.value


# --- Hand-made inputs with one thing wrong, checked for class, message and place.

def test_empty_input():
    e = raises(b"", match=r"^empty input")
    assert e.offset == 0


@pytest.mark.parametrize("data", [
    b"hello", b"go 1.22 trac", b"go 1.22 trace\x00\x00", b"go 1.x trace\x00\x00\x00",
    b"GO 1.22 trace\x00\x00\x00", b"\x00" * 32,
])
def test_wrong_header(data):
    e = raises(data, match=r"^bad file format: not a Go execution trace \(at offset 0\)$")
    assert e.offset == 0


@pytest.mark.parametrize("version,match", [
    (24, r"unknown or unsupported trace version go 1\.24"),
    (99, r"unknown or unsupported trace version go 1\.99"),
    (21, r"go 1\.21 trace: the format of Go 1\.11-1\.21 is not supported yet"),
    (11, r"go 1\.11 trace"),
])
def test_unsupported_version(version, match):
    e = raises(header(version), UnsupportedVersionError, match=match)
    assert isinstance(e, ValueError)


def _sync_batch(v, gen=1):
    return batch(gen, NO_M, 1, sync(v, 100, (0, 0, 0, 0) if v >= 25 else None))


def test_batch_too_big():
    t = header(22) + _sync_batch(22) + batch(1, 3, 1, b"", size=70000)
    e = raises(t, match=r"batch declares 70000 bytes, more than the maximum of 65536")
    assert e.batch == 1 and e.generation == 1 and e.offset == len(header(22) + _sync_batch(22))


def test_absurd_batch_size_does_not_allocate():
    t = header(22) + _sync_batch(22) + batch(1, 3, 1, b"", size=2**63)
    raises(t, match=r"batch declares 9223372036854775808 bytes")


def test_batch_past_end_of_file():
    t = header(22) + _sync_batch(22) + batch(1, 3, 1, b"\x0b\x01", size=100)
    e = raises(t, match=r"truncated batch: it declares 100 bytes but only 2 remain in the file")
    assert e.batch == 1


def test_string_too_long():
    payload = bytes([4, 5]) + uv(1) + uv(2**40)
    e = raises(header(22) + _sync_batch(22) + batch(1, NO_M, 1, payload),
               match=r"string of 1099511627776 bytes is longer than the maximum of 1024")
    assert e.event == 0 and e.batch == 1


def test_string_past_end_of_batch():
    payload = bytes([4, 5]) + uv(1) + uv(500) + b"abc"
    raises(header(22) + _sync_batch(22) + batch(1, NO_M, 1, payload),
           match=r"truncated string: 500 bytes declared but only 3 remain in the batch")


def test_too_many_frames():
    payload = bytes([2, 3]) + uv(1) + uv(2**60)
    raises(header(22) + _sync_batch(22) + batch(1, NO_M, 1, payload),
           match=r"stack of 1152921504606846976 frames is longer than the maximum of 128")


def test_unknown_event_type():
    t = header(26) + _sync_batch(26) + batch(1, 3, 1, ev(11, 1) + bytes([200, 1]))
    e = raises(t, match=r"invalid event type 200 for a go 1\.26 trace")
    assert (e.batch, e.event, e.generation) == (1, 1, 1)
    # Batch header: type, gen, m, time, size = 5 bytes; then ProcStop = 2 bytes.
    assert e.offset == len(header(26) + _sync_batch(26)) + 5 + 2


def test_event_newer_than_the_trace_version():
    # GoSwitch exists from Go 1.23 on.
    raises(header(22) + _sync_batch(22) + batch(1, 3, 1, ev(45, 1, 2, 3)),
           match=r"invalid event type 45 for a go 1\.22 trace")


def test_structural_event_inside_event_batch():
    raises(header(22) + _sync_batch(22) + batch(1, 3, 1, ev(11, 1) + ev(5, 1)),
           match=r"event String \(type 5\) cannot appear in an event batch")


def test_wrong_event_in_string_batch():
    raises(header(22) + _sync_batch(22) + batch(1, NO_M, 1, strings((1, b"a")) + ev(11, 1)),
           match=r"expected a String event, found ProcStop")


def test_not_a_batch():
    e = raises(header(22) + _sync_batch(22) + bytes([13, 1, 2]),
               match=r"expected a batch header, found event type 13")
    assert e.offset == len(header(22) + _sync_batch(22))


def test_truncated_batch_header():
    raises(header(22) + _sync_batch(22) + bytes([1]) + uv(1) + b"\x80",
           match=r"truncated batch header")


def test_generation_zero():
    raises(header(22) + batch(0, NO_M, 1, sync(22, 100)), match=r"invalid generation number 0")


def test_generations_out_of_order():
    t = minimal(22) + batch(3, NO_M, 1, sync(22, 100))
    e = raises(t, match=r"generations out of order: a batch of generation 3 inside generation 1")
    assert e.generation == 1


def test_interleaved_generations_126():
    t = header(26) + _sync_batch(26, gen=1) + _sync_batch(26, gen=2)
    raises(t, match=r"generations out of order: a batch of generation 2 inside generation 1")


def test_missing_frequency():
    t = header(22) + batch(1, 3, 1, ev(11, 1)) + batch(2, NO_M, 1, sync(22, 100))
    e = raises(t, match=r"generation has no frequency event")
    assert e.generation == 1


def test_zero_frequency():
    raises(header(22) + batch(1, NO_M, 1, sync(22, 0)), match=r"frequency of 0 ticks per second")


def test_missing_clock_snapshot_from_125():
    raises(header(25) + batch(1, NO_M, 1, sync(25, 100)), match=r"generation has no clock snapshot")


def test_duplicate_frequency():
    t = header(22) + batch(1, NO_M, 1, sync(22, 100)) + batch(1, NO_M, 2, sync(22, 100))
    e = raises(t, match=r"more than one frequency event in a generation")
    assert e.batch == 1


def test_missing_end_of_generation_126():
    t = minimal(26)[:-1]  # drop the EndOfGeneration byte
    e = raises(t, match=r"incomplete generation: no EndOfGeneration")
    assert e.offset == len(t) and e.generation == 1


def test_varint_overflow_in_event():
    t = header(22) + _sync_batch(22) + batch(1, 3, 1, ev(11, 1) + bytes([11]) + b"\xff" * 10 + b"\x01")
    e = raises(t, match=r"varint overflows 64 bits")
    assert (e.batch, e.event) == (1, 1)


def test_truncated_varint_in_event():
    t = header(22) + _sync_batch(22) + batch(1, 3, 1, ev(11, 1) + bytes([37, 1]) + b"\x80")
    e = raises(t, match=r"truncated varint")
    assert (e.batch, e.event) == (1, 1)


# --- Systematic damage to real and hand-made traces.

def _real_traces():
    out = []
    for d in ("go1.22", "go1.25", "go1.27"):
        p = FIXTURES / d / "sched.trace"
        if p.exists():
            out.append(pytest.param(p.read_bytes(), id=f"{d}-sched"))
    return out


SAMPLES = [pytest.param(minimal(v, gens=2), id=f"minimal-1.{v}") for v in (22, 23, 25, 26)]
SAMPLES += _real_traces()


def _batch_starts(data: bytes) -> list[int]:
    w = decode(data)
    return [int(o) for o in w.batches["offset"]] + [len(data)]


def _check_outcome(data: bytes) -> Exception | None:
    """Decode; only success or a TraceFormatError/UnsupportedVersionError
    with a location is acceptable."""
    try:
        decode(data)
    except (TraceFormatError, UnsupportedVersionError) as e:
        assert e.offset is not None and "offset" in str(e), str(e)
        assert e.offset <= len(data)
        return e
    return None


@pytest.mark.parametrize("data", SAMPLES)
def test_truncation_at_every_batch_boundary(data, deadline):
    w = decode(data)
    version = w.version
    bounds = _batch_starts(data)
    for cut in bounds[:-1]:
        e = _check_outcome(data[:cut])
        # From Go 1.26 a cut inside a generation that already holds event
        # batches is always detected.
        if version >= 26 and cut > bounds[0]:
            gens_before = w.batches[w.batches["offset"] < cut]
            last = gens_before[-1]
            if last["kind"] != 6:  # not right after an EndOfGeneration
                open_gen = gens_before[gens_before["generation"] == last["generation"]]
                if (open_gen["kind"] == 0).any():
                    assert e is not None and "incomplete generation" in str(e)


@pytest.mark.parametrize("data", SAMPLES)
def test_truncation_inside_batches(data, deadline):
    bounds = set(_batch_starts(data))
    rng = random.Random(7)
    hdr = 16
    cuts = range(hdr, len(data)) if len(data) < 50000 else rng.sample(range(hdr, len(data)), 20000)
    for cut in cuts:
        e = _check_outcome(data[:cut])
        if cut not in bounds:
            assert e is not None, f"cut at {cut} inside a batch was not detected"
    for cut in range(0, hdr):
        assert _check_outcome(data[:cut]) is not None


@pytest.mark.parametrize("data", SAMPLES)
def test_flipped_bytes(data, deadline):
    rng = random.Random(11)
    positions = range(len(data)) if len(data) < 50000 else rng.sample(range(len(data)), 20000)
    for pos in positions:
        for mask in (0xFF, 0x80, 0x01):
            b = bytearray(data)
            b[pos] ^= mask
            _check_outcome(bytes(b))


@pytest.mark.parametrize("data", SAMPLES)
def test_random_garbage_after_header(data, deadline):
    rng = random.Random(3)
    for n in (1, 2, 5, 17, 100, 1000):
        for _ in range(30):
            _check_outcome(data[:16] + rng.randbytes(n))


# --- Memory: bounded by the input's size, whatever the input claims.
#
# Three meters, because each sees only part of what a decode holds (see
# tests/memory.py): tracemalloc, the bytes asked of Python's and numpy's
# allocators (touched or not); the allocator's own counter of tables that
# moved to a private mapping, which tracemalloc does not see; and the peak
# RSS, every page touched by anyone (libc malloc, mappings, numpy).

# fastrace/_varint.pyx MAP_THRESHOLD: from this size a table lives in its own
# memory mapping (and _varint.mapped_growths() counts it).
MAP_THRESHOLD = 2 << 20
# Pages the interpreter itself may touch during one decode (the error, its
# message and traceback, a fresh malloc arena): a fixed allowance.
RSS_SLACK = 1 << 20


def _table_budget(n: int) -> int:
    """Bytes every table of an n-byte input fits in: event rows are 48 bytes
    for at least 2 input bytes, with up to 2x growth slack, so 48x the
    input; plus fixed overhead."""
    return 48 * n + 65536


def _damaged_copies(data: bytes, count: int, seed: int = 5) -> list[bytes]:
    """Copies of data with lengths, counts and ids maxed out in 4 places."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        b = bytearray(data)
        for _ in range(4):
            pos = rng.randrange(16, len(b))
            b[pos:pos + 3] = b"\xff\xff\x7f"
        out.append(bytes(b))
    return out


def _assert_memory_bounded(copies: list[bytes]) -> None:
    for b in copies:
        budget = _table_budget(len(b))
        assert budget < MAP_THRESHOLD, "inputs this small must keep every table out of a mapping"
        before = _varint.mapped_growths()
        rss = peak_rss_growth(lambda: _check_outcome(b)) if RSS_METER else 0
        tracemalloc.start()
        try:
            _check_outcome(b)
            _, heap = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        moved = _varint.mapped_growths() - before
        assert moved == 0, f"{moved} tables moved to a mapping (>= 2 MiB) for a {len(b)}-byte input"
        assert rss < budget + RSS_SLACK, f"peak RSS rose {rss} bytes for a {len(b)}-byte input"
        assert heap < budget, f"{heap} bytes asked of the heap for a {len(b)}-byte input"


@pytest.mark.parametrize("data", SAMPLES)
def test_memory_stays_proportional_to_input(data):
    # Damaged copies whose lengths, counts and ids are maxed out must not
    # make the decoder allocate for what they claim.
    _assert_memory_bounded(_damaged_copies(data, 200))


def _libc_block(n: int) -> None:
    """Fill and free n bytes from libc's malloc (as C code in fastrace may)."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    p = libc.malloc(n)
    ctypes.memset(p, 1, n)
    libc.free(p)


def _mapped_table(_n: int) -> None:
    """Make fastrace build a table big enough for its own mapping."""
    fastrace.decode_wire(_many_events(60_000))   # 60k rows of 48 bytes: 2.9 MB


@pytest.mark.parametrize("leak, meter", [
    (lambda n: np.zeros(n, np.uint8), "asked of the heap"),    # asked for, never touched
    pytest.param(_libc_block, "peak RSS", marks=pytest.mark.skipif(
        not RSS_METER, reason="needs a peak RSS meter (Linux, not under ASan)")),   # invisible to tracemalloc
    (_mapped_table, "moved to a mapping"),                     # the allocator's counter
], ids=["numpy", "libc-malloc", "mapped-table"])
def test_memory_meters_catch_a_decoder_that_allocates_for_its_claims(monkeypatch, leak, meter):
    """The check above fails when decoding allocates 64 MiB for a small
    input, whichever allocator the memory comes from."""
    def greedy(data):
        leak(64 << 20)
        return fastrace.decode_wire(data)
    monkeypatch.setattr(sys.modules[__name__], "decode", greedy)
    with pytest.raises(AssertionError, match=meter):
        _assert_memory_bounded(_damaged_copies(minimal(26, gens=2), 1))


@functools.cache
def _many_events(n: int) -> bytes:
    """A Go 1.22 trace of one generation: n HeapAlloc metrics on P 0 / M 3."""
    out = bytearray(header(22) + batch(1, NO_M, 1, sync(22, 1_000_000_000)))
    for start in range(0, n, 12_000):
        payload = bytearray(ev(13, 0, 0, 1)) if start == 0 else bytearray()
        for i in range(start, min(n, start + 12_000)):
            payload += ev(37, 1, i)
        out += batch(1, 3, 100 + start, bytes(payload))
    return bytes(out)


@pytest.mark.skipif(not RSS_METER, reason="needs a peak RSS meter (Linux, not under ASan)")
def test_peak_rss_stays_proportional_to_input():
    """The tables of large inputs live in their own memory mappings, which
    tracemalloc does not see: measure the process's peak RSS (VmHWM, reset
    through /proc/self/clear_refs) while damaged copies of a 400k-event
    trace are decoded and ordered."""
    out = _many_events(400_000)
    rng = random.Random(9)
    worst = 0.0
    for k in range(12):
        b = bytearray(out)
        if k:   # the first run is the intact trace
            for _ in range(4):
                pos = rng.randrange(16, len(b))
                b[pos:pos + 3] = b"\xff\xff\x7f"
        data = bytes(b)

        def read():
            try:
                fastrace.read(data)
            except fastrace.TraceError:
                pass
        worst = max(worst, peak_rss_growth(read) / len(data))
    # read() keeps ordered rows of 56 bytes for 5-byte events here (and
    # wire indexes of a few bytes per batch): the intact trace measures
    # ~12x its size; damage must not make it more than a small multiple.
    assert worst < 30, worst
