"""Limits: traces larger than memory, inputs held in memory (pipes,
decompression bombs), files still being written, numbers past int64.

Memory is made scarce with FASTRACE_MEMORY_LIMIT (or a patched
fastrace.limits.available_memory), so every case runs on small committed
fixtures.  Expected sizes come from the format (56-byte rows, the fixtures'
own row counts), not from the code under test.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import fastrace
from fastrace import _order, limits
from fastrace.errors import TraceTooLargeError

FIX = Path(__file__).parent / "fixtures" / "traces"
ALLOCFREE = FIX / "go1.27" / "allocfree.trace"      # one generation, 3,797 rows
LONG = FIX / "go1.27" / "long.trace"                # three generations

pytestmark = pytest.mark.damage


@pytest.fixture
def limit(monkeypatch):
    def set_limit(value):
        monkeypatch.setenv(limits.ENV, str(value))
    return set_limit


def test_row_size_is_the_event_dtype():
    # The check multiplies rows by the event table's row size.
    assert _order.EVENT_DTYPE.itemsize == 56


def test_read_refuses_a_table_larger_than_the_limit_before_ordering(limit, monkeypatch):
    rows = len(fastrace.read(ALLOCFREE).events)
    limit(rows * 56 // 2)
    calls = []
    real = _order.order_trace
    monkeypatch.setattr(_order, "order_trace", lambda *a, **k: calls.append(1) or real(*a, **k))
    for on_error in ("raise", "truncate"):        # not damage: never truncated silently
        with pytest.raises(TraceTooLargeError) as info:
            fastrace.read(ALLOCFREE, on_error=on_error)
        e = info.value
        assert isinstance(e, MemoryError) and isinstance(e, fastrace.TraceError)
        assert "fastrace.iter_generations" in str(e) and limits.ENV in str(e)
        assert e.needed == rows * 56 and e.available == rows * 56 // 2
        assert e.generation == 1 and e.offset is not None
        assert not hasattr(e, "partial")
    assert calls == []                            # refused before any row was ordered
    # Pieces of bounded memory are never refused.
    pieces = list(fastrace.iter_generations(ALLOCFREE, max_events=1024))
    assert sum(len(p.events) for p in pieces) == rows


def test_available_memory_is_the_default_limit(monkeypatch):
    monkeypatch.delenv(limits.ENV, raising=False)
    have = limits.available_memory()
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert have is not None and 0 < have <= total + (64 << 30)   # RAM plus some swap
    monkeypatch.setattr(limits, "available_memory", lambda: 1000)
    with pytest.raises(TraceTooLargeError):
        fastrace.read(ALLOCFREE)
    # workers=2 checks the same (it falls back to one worker and checks each generation).
    with pytest.raises(TraceTooLargeError):
        fastrace.read(LONG, workers=2)


def test_exact_count_when_only_the_bound_is_too_large(limit):
    # The free bound (one row per byte of event data) is several times the
    # real row count; a limit between the two needs the exact count, and
    # the trace fits.
    whole = fastrace.read(ALLOCFREE)
    rows = len(whole.events)
    wire = fastrace.decode_wire(ALLOCFREE)
    b = wire.batches
    bound = int(b["size"][b["kind"] == 0].sum())
    assert bound > 2 * rows
    limit((rows + 8) * 56)
    t = fastrace.read(ALLOCFREE)
    assert np.array_equal(t.events, whole.events)
    limit((rows - 1) * 56)
    with pytest.raises(TraceTooLargeError):
        fastrace.read(ALLOCFREE)


def test_limit_off_and_bad_values(limit):
    limit("off")
    assert limits.memory_limit() is None
    assert len(fastrace.read(ALLOCFREE).events) > 0
    limit("2G")
    assert limits.memory_limit() == 2 << 30
    limit("1.5k")
    assert limits.memory_limit() == 1536
    limit("lots")
    with pytest.raises(ValueError, match="FASTRACE_MEMORY_LIMIT"):
        limits.memory_limit()


def test_check_room(limit):
    limit("1M")
    limits.check_room(1 << 20, "x", "y")                  # exactly the limit: fits
    with pytest.raises(TraceTooLargeError, match=r"^the thing needs about 1\.0 MB and only "
                       r"1\.0 MB of memory is available: do less \(set FASTRACE") as e:
        limits.check_room((1 << 20) + 1, "the thing", "do less")
    assert (e.value.needed, e.value.available) == ((1 << 20) + 1, 1 << 20)
    with pytest.raises(TraceTooLargeError) as e:            # sizes from damaged values
        limits.check_room(2.0**70, "x", "y")
    assert e.value.needed == 2**63
    limit("off")
    limits.check_room(2.0**70, "x", "y")


def test_allocfree_lookups_checked_before_they_take_memory(limit):
    # The span lookups take one entry per (span life, segment): refused
    # with TraceTooLargeError, before the memory is taken, under a limit
    # too small for them.
    t = fastrace.read(ALLOCFREE)
    limit("4k")             # its 115 span rows cover a few hundred segments
    with pytest.raises(TraceTooLargeError, match="AllocFree: checking the spans' lifetimes"):
        t.experiment("AllocFree")
    limit("off")
    assert len(t.experiment("AllocFree").spans) > 0


def test_pipe_input_is_capped(limit):
    data = ALLOCFREE.read_bytes()
    whole = fastrace.read(ALLOCFREE)
    r, w = os.pipe()

    def feed():
        with os.fdopen(w, "wb") as f:
            try:
                f.write(data)
            except BrokenPipeError:
                pass

    limit(len(data) // 3)
    writer = threading.Thread(target=feed)
    writer.start()
    try:
        with os.fdopen(r, "rb") as f, pytest.raises(TraceTooLargeError) as info:
            fastrace.read(f)
    finally:
        writer.join()
    assert "save it to a file" in str(info.value)
    # Under the cap the same pipe reads as the file does (the limit covers
    # the event table too: 56 bytes a row).
    limit(len(data) + 56 * len(whole.events) + 4096)
    r, w = os.pipe()
    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(r, "rb") as f:
        t = fastrace.read(f)
    writer.join()
    assert np.array_equal(t.events, whole.events)


def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(data)


CODECS = {
    "gzip": (lambda d: gzip.compress(d, compresslevel=1), "gunzip -k"),
    "bzip2": (bz2.compress, "bunzip2 -k"),
    "xz": (lambda d: lzma.compress(d, preset=0), "xz -dk"),
    "zstd": (_zstd, "zstd -d"),
}


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_decompression_bomb_stops_at_the_cap(codec, limit):
    compress, command = CODECS[codec]
    # A trace header and 64 MiB of zeros: compresses to a few kB.
    bomb = compress(b"go 1.27 trace\x00\x00\x00" + bytes(64 << 20))
    assert len(bomb) < (1 << 20)
    limit("8M")
    with pytest.raises(TraceTooLargeError) as info:
        fastrace.read(io.BytesIO(bomb))
    assert command in str(info.value)
    assert info.value.available == 8 << 20
    assert (8 << 20) < info.value.needed <= (8 << 20) + (1 << 24)   # stopped one block past


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_compressed_trace_under_the_cap(codec, limit):
    data = LONG.read_bytes()
    limit(len(data) + 56 * len(fastrace.read(LONG).events) + 4096)
    t = fastrace.read(CODECS[codec][0](data))
    assert np.array_equal(t.events, fastrace.read(LONG).events)


def _generation_offsets(path: Path) -> list[int]:
    g = fastrace.decode_wire(path).generations
    return [int(x) for x in g["offset"]]


def test_growing_file_read(tmp_path, monkeypatch):
    # A writer appends to the trace after read() has opened (mapped) it:
    # read() sees the size at opening, which ends inside a generation.
    data = LONG.read_bytes()
    cut = _generation_offsets(LONG)[2] + 10
    path = tmp_path / "growing.trace"
    path.write_bytes(data[:cut])
    real = fastrace.trace.open_source

    def open_then_append(source):
        out = real(source)
        with open(path, "ab") as f:
            f.write(data[cut:])
        return out

    monkeypatch.setattr(fastrace.trace, "open_source", open_then_append)
    with pytest.raises(fastrace.TraceFormatError) as info:
        fastrace.read(path)
    text = str(info.value)
    assert f"the file grew from {cut:,} to {len(data):,} bytes" in text
    assert "on_error='truncate'" in text
    path.write_bytes(data[:cut])
    t = fastrace.read(path, on_error="truncate")
    assert "still being written" in t.warnings[0].reason
    assert len(t.generations) == 2
    # Read again once complete: the whole trace.
    monkeypatch.setattr(fastrace.trace, "open_source", real)
    assert np.array_equal(fastrace.read(path).events, fastrace.read(LONG).events)


def test_growing_file_iter_generations(tmp_path):
    data = LONG.read_bytes()
    cut = _generation_offsets(LONG)[2] + 10
    path = tmp_path / "growing.trace"
    path.write_bytes(data[:cut])
    pieces = fastrace.iter_generations(path)
    first = next(pieces)
    assert len(first.events)
    with open(path, "ab") as f:
        f.write(data[cut:])
    with pytest.raises(fastrace.TraceFormatError, match="the file grew from"):
        list(pieces)


def test_wire_error_in_generation_past_int64():
    # Generation numbers are uint64 on the wire: the wire decoder's error
    # must carry 2**64-1, not lose it (it said None before).
    u64_max = b"\xff" * 9 + b"\x01"
    data = (
        b"go 1.23 trace\x00\x00\x00"
        # EventBatch gen=2**64-1 m=none time=1000 size=5: Frequency 15625000
        + b"\x01" + u64_max + u64_max + b"\xe8\x07" + b"\x05" + b"\x08\xa8\xd6\xb9\x07"
        # EventBatch gen=2**64-1 m=7 time=1010 size=1: event type 0xff (none such)
        + b"\x01" + u64_max + b"\x07" + b"\xf2\x07" + b"\x01" + b"\xff"
    )
    with pytest.raises(fastrace.TraceFormatError) as info:
        fastrace.decode_wire(data)
    assert info.value.generation == 2**64 - 1
    assert info.value.batch == 1


def test_workers_count_exactly_when_only_the_bound_is_too_large(limit):
    # read(workers=2) checks all the generations at once: past the free
    # bound it counts them exactly, so a trace that fits is still read
    # (in parallel where the generations allow), and one that does not
    # is refused before any generation is ordered, naming the first that
    # passes the limit.
    whole = fastrace.read(LONG)
    rows = len(whole.events)
    wire = fastrace.decode_wire(LONG)
    b = wire.batches
    assert int(b["size"][b["kind"] == 0].sum()) > 2 * rows
    limit((rows + 8) * 56)
    assert np.array_equal(fastrace.read(LONG, workers=2).events, whole.events)
    limit(56 * 10)
    with pytest.raises(TraceTooLargeError) as info:
        fastrace.read(LONG, workers=2)
    assert info.value.generation == 1


def test_corrupt_xz_after_its_start_is_a_format_error():
    # The start decompresses (a trace header), the rest does not: lzma
    # raises LZMAError, which is not an OSError; it must still come out as
    # a TraceFormatError saying the compressed input is broken.
    data = lzma.compress(LONG.read_bytes() * 8)
    bad = bytearray(data)
    bad[len(bad) * 3 // 4] ^= 0xFF
    with pytest.raises(fastrace.TraceFormatError, match="xz-compressed but does not decompress"):
        fastrace.read(bytes(bad))
