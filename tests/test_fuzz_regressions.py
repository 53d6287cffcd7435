"""Findings of the fuzz harness (tests/fuzz/fuzz_trace.py), each with the
smallest input that showed it, written out by hand, and the seed run of
every fuzz target (a short, fixed random run)."""

from __future__ import annotations

import gc
import importlib
import sys
import weakref

import pytest

import fastrace
import fastrace.experiments as fx
from tests.tracebuild import batch, ev, header, minimal, NO_M, strings, sync

pytestmark = pytest.mark.damage


def _import_harness():
    """tests/fuzz/fuzz_trace.py as ``tests.fuzz.fuzz_trace``.  The harness
    is a script too: at import it puts the repository root and tests/ in
    front of sys.path for its own command-line use.  That is undone here,
    so no later test can come to rely on it (a bare ``import gotool`` would
    load a second copy of a helper, beside ``tests.gotool``)."""
    saved = list(sys.path)
    try:
        return importlib.import_module("tests.fuzz.fuzz_trace")
    finally:
        sys.path[:] = saved


fuzz_trace = _import_harness()


def _collected(make) -> bool:
    ref = make()
    gc.collect()
    return ref() is None


def test_interpreted_trace_is_freed():
    # Finding (target "experiment"): the per-trace cache of interpretations
    # was a WeakKeyDictionary keyed by the trace whose values (the
    # interpreters' results) refer back to the trace, so no interpreted
    # trace was ever freed: peak RSS grew by 0.9 MB per AllocFree trace.
    fx.register("experiment42", lambda raw: raw)   # a result that holds its RawExperiment
    try:
        def make():
            t = fastrace.read(minimal(26))
            assert t.experiment("experiment42").trace is t
            assert t.experiment("experiment42") is t.experiment("experiment42")  # still cached
            return weakref.ref(t)
        assert _collected(make)
    finally:
        fx.unregister("experiment42")


def test_trace_without_interpretation_is_freed():
    def make():
        t = fastrace.read(minimal(26, gens=2))
        t.goroutines()
        return weakref.ref(t)
    assert _collected(make)


@pytest.mark.parametrize("target", sorted(fuzz_trace.TARGETS))
def test_fuzz_target_short_run(target, tmp_path):
    # Each target, on its seeds and a few hundred structure-aware mutations
    # of them (fixed seed): every input decodes or raises a TraceError,
    # within the time and memory budgets.
    corpus = tmp_path / target
    assert fuzz_trace.replay([target], tmp_path, timeout=30) == 0
    assert fuzz_trace.random_loop(target, corpus, seconds=2, timeout=30, seed=7) == 0


def test_mutators_keep_framing():
    # The wire mutator rewrites batch headers consistently: with no
    # mutation applied, splitting and joining gives the input back.
    data = minimal(26, gens=2)
    head, batches, rest = fuzz_trace.split(data)
    assert rest == b"" and len(batches) == 10
    assert head + b"".join(b.encode() for b in batches) == data
    assert fuzz_trace.put_uvarint(1, 3) == b"\x81\x80\x00"
    assert fuzz_trace.uvarint(b"\x81\x80\x00", 0) == (1, 3)


def test_handmade_pieces_of_minimal_trace():
    # Hand-made inputs the harness's mutations produce often: every one
    # decodes or raises a TraceError.
    v = 26
    cases = [
        header(v),
        header(v) + batch(1, NO_M, 1000, sync(v, 15625000, (5, 777, 1, 2))),
        header(v) + batch(1, NO_M, 1000, strings((1, b"x")), size=1 << 40),
        header(v) + batch((1 << 64) - 1, 7, 1000, ev(13, 3, 0, 1)),
        header(v) + batch(1, 7, (1 << 64) - 1, ev(13, 3, 0, 1) + ev(37, (1 << 64) - 1, 1)),
    ]
    for data in cases:
        for target in fuzz_trace.TARGETS.values():
            fuzz_trace.check(target, data)


def test_allocfree_info_batch_with_page_size_zero():
    # Finding (target "experiment"): an info batch giving a page size of 0
    # made the span lookup divide by zero (numpy: a warning and page 0 for
    # every address).  Kind 1 = info: min heap address, page size, heap and
    # stack alignment.
    from fastrace.experiments.allocfree import parse_batches

    data = bytes([1]) + bytes([0x80, 0x80, 0x80, 0x80, 0x01]) + bytes([0]) + bytes([8, 8])
    with pytest.raises(fastrace.TraceFormatError, match="page size of 0"):
        parse_batches([(1, 7, data, 100)])
    info, _ = parse_batches([(1, 7, data[:6] + bytes([0x80, 0x40]) + data[7:], 100)])
    assert info["page_size"].tolist() == [8192]


@pytest.mark.parametrize("at, what", [(2, "heap alignment"), (3, "stack alignment")])
def test_allocfree_info_batch_with_an_alignment_of_zero(at, what):
    # Finding (target "experiment", 2026-11-29): an info batch giving a
    # stack alignment of 0 made the goroutine stack table divide by zero
    # (numpy: a warning, and cell 0 for every stack).  A heap alignment of
    # 0 put every object at the same address.  The runtime writes neither.
    from fastrace.experiments.allocfree import parse_batches

    vals = [0x10, 0x80, 0x40, 8, 0x80, 0x10]   # min 16, page 8192, heap 8, stack 2048
    good = bytes([1] + vals)
    info, _ = parse_batches([(1, 7, good, 100)])
    assert info[["page_size", "heap_align", "stack_align"]].tolist() == [(8192, 8, 2048)]
    bad = [[0x10], [0x80, 0x40], [8], [0x80, 0x10]]
    bad[at] = [0]
    with pytest.raises(fastrace.TraceFormatError, match=f"{what} of 0") as e:
        parse_batches([(1, 7, bytes([1] + sum(bad, [])), 100)])
    assert e.value.offset == 100


def test_experiment_wire_times_out_of_range():
    # Finding (target "experiment"): the written times of experimental
    # events were converted from ticks with numpy's float -> int64 cast,
    # which warns and depends on the platform for products out of range;
    # now the ordering engine's conversion: the minimum int64, as Go on amd64.
    import warnings

    import numpy as np
    from fastrace.experiments import _truncate

    ticks = np.array([0, 1, 2**62, 2**64 - 1], dtype=np.uint64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ns = _truncate(ticks, 1)      # 1 tick per second
    # Go: ns per tick = 1 / (freq / 1e9) = 999999999.9999999, truncated.
    assert ns.tolist() == [0, 999_999_999, -2**63, -2**63]
    assert _truncate(ticks[:2], 15625000).tolist() == [0, 64]


def test_allocfree_stack_lookup_when_spans_have_no_pages():
    # Finding (target "experiment", 2026-11-29): a 59-byte Go 1.23 trace
    # whose only span has no pages made the goroutine stack table's span
    # lookup index an empty table (IndexError).
    import base64

    data = base64.b64decode("Z28gMS4yMyB0cmFjZQAAAAEBEwECCBkBARMBDIiAgICABQCAAVIAGQ==")
    t = fastrace.read(data)
    af = t.experiment("AllocFree")
    assert af.spans["npages"].tolist() == [0]
    assert af.goroutine_stacks["span"].tolist() == [-1]


# 2**64-1 as a varint: nine 0xff bytes and 0x01.
U64_MAX = b"\xff" * 9 + b"\x01"


@pytest.mark.parametrize("workers", [1, 2])
def test_event_error_in_generation_past_int64(workers):
    # Finding (target "read", with the C code's coverage): a malformed event
    # in a generation numbered past 2**63-1 raised OverflowError from the
    # error path (the generation number went through an int64 argument)
    # instead of the TraceFormatError.
    data = (
        b"go 1.23 trace\x00\x00\x00"
        # EventBatch gen=2**64-1 m=none(2**64-1) time=1000 size=5: Frequency 15625000
        + b"\x01" + U64_MAX + U64_MAX + b"\xe8\x07" + b"\x05" + b"\x08\xa8\xd6\xb9\x07"
        # EventBatch gen=2**64-1 m=7 time=1010 size=1: event type 0xff (none such)
        + b"\x01" + U64_MAX + b"\x07" + b"\xf2\x07" + b"\x01" + b"\xff"
    )
    with pytest.raises(fastrace.TraceFormatError) as info:
        fastrace.read(data, workers=workers)
    assert info.value.generation == 2**64 - 1
    assert info.value.batch == 1 and info.value.offset == len(data) - 1


@pytest.mark.parametrize("version", [25, 26])
def test_workers_when_the_first_generations_have_no_events(version):
    # Finding (target "read2"): generations with nothing but their Sync came
    # first, then a generation whose ProcStatus names a P never seen.  In
    # sequence that generation is the first with events, where Go calls an
    # unknown P's old state Undetermined (go tool trace -d=parsed:
    # "ProcID=0 Undetermined->Running"); read(workers=2) merged a run
    # ordered from an empty state that assumed a later generation and wrote
    # NotExist.  A run is now merged only after an event has been ordered.
    from fastrace import parallel
    from fastrace.kinds import ProcState

    out = bytearray(header(version))
    for g in (1, 2, 3):
        out += batch(g, NO_M, 10 * g, sync(version, 1_000_000_000, (1, 99 + g, 1740755049, 0)))
        if g == 3:
            out += batch(g, 1, 31, ev(13, 1, 0, 1))     # ProcStatus dt=1 p=0 Running
        if version >= 26:
            out += bytes([52])                          # EndOfGeneration
    data = bytes(out)
    one = fastrace.read(data)
    row = one.events[one.events["type"] == 13]
    assert row["from_state"].tolist() == [ProcState.UNDETERMINED]
    assert row["to_state"].tolist() == [ProcState.RUNNING]
    before = dict(parallel.PARALLEL_STATS)
    two = fastrace.read(data, workers=2)
    assert two.events.tobytes() == one.events.tobytes()
    assert parallel.PARALLEL_STATS["reordered"] > before["reordered"]


def test_workers_with_a_task_ended_twice_in_a_later_generation():
    # Finding (target "read2"): a task begun in generation 1 and ended twice
    # in generation 2.  In sequence the first TaskEnd takes the task's
    # parent and name and ends it, so the second finds no task: Go prints
    # `TaskEnd ... ID=2 Parent=18446744073709551615 Type=""` for it.
    # read(workers=2) gave the second end the task's name too.
    from fastrace import parallel

    out = bytearray(header(22))
    out += batch(1, NO_M, 1, sync(22, 15_625_000))
    out += batch(1, NO_M, 2, strings((1, b"my task")))
    # ProcStatus p=0 Running, GoStatus g=1 m=0 Running, TaskBegin task=2 parent=none name=1
    out += batch(1, 0, 10, ev(13, 1, 0, 1) + ev(25, 1, 1, 0, 2) + ev(40, 1, 2, 0, 1, 0))
    out += batch(2, NO_M, 20, sync(22, 15_625_000))
    # ProcStatus, GoStatus, TaskEnd task=2, TaskEnd task=2
    out += batch(2, 0, 30, ev(13, 1, 0, 1) + ev(25, 1, 1, 0, 2) + ev(41, 1, 2, 0) + ev(41, 1, 2, 0))
    data = bytes(out)
    one = fastrace.read(data)
    ends = one.events[one.events["type"] == 41]
    names = [one.strings[int(r)] for r in ends["a"][:, 2]]
    assert names == [b"my task", b""]
    assert ends["a"][:, 1].tolist() == [2**64 - 1, 2**64 - 1]
    before = dict(parallel.PARALLEL_STATS)
    two = fastrace.read(data, workers=2)
    assert two.events.tobytes() == one.events.tobytes()
    assert parallel.PARALLEL_STATS["merged"] > before["merged"]   # the parallel path ran
