"""Trace experiments: the registry (fastrace.experiments) and the AllocFree
interpreter (fastrace.experiments.allocfree).

The AllocFree checks run on the committed allocfree fixtures (Go 1.23, 1.25,
1.26, 1.27) and, marked ``live``, on traces written during the run by Go
1.23.9, 1.25.5 and 1.27.3:

- the experimental events equal those of Go 1.27.3's ``-d=parsed`` dump
  (names, arguments, times, M/P/G), in the same order;
- an independent replay (plain Python, one event at a time) of spans,
  objects and stacks agrees with the vectorised tables: every object lies in
  a live heap span, every free frees something allocated or listed by the
  snapshot, every stack lies in a live stack span, aligned to its size;
- the live-heap curve agrees with the runtime's own heap metric (HeapAlloc,
  ``/memory/classes/heap/objects:bytes``), see ``test_live_heap_matches_runtime_metric``;
- the times the runtime wrote the events (``wire_time``, the order the
  interpreter pairs in) equal those Go's raw reader (``-d=wire``) gives
  each thread's events; a simulated hold of one thread by Go's reader (its
  frees coming out after another thread's reuse of the slots, as Go's
  reader does on a loaded machine) changes nothing, where pairing in the
  reader's order leaves a free unmatched;
- pieces of ``iter_generations`` and traces without the experiment are
  refused with ``WholeTraceRequiredError`` / ``ExperimentMissingError``;
  malformed batches raise ``TraceFormatError`` at the right file offset.
"""

from __future__ import annotations

import functools
import gzip
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import fastrace
import fastrace.experiments as fx
from fastrace.experiments.allocfree import SIZE_CLASS_BYTES, Action, AllocFree, SpanKind
from fastrace.kinds import EventKind

pytestmark = [pytest.mark.unit, pytest.mark.reference]

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"
FIXTURE_VERSIONS = ("1.23", "1.25", "1.26", "1.27")
LIVE_VERSIONS = ("1.23.9", "1.25.5", "1.27.3")

# gcalloc runs: (workers, rounds, objects) and the arguments giving them.
# "allocfree" is gotool's (the fixtures'): -objects 400 -rounds 2, 2 workers.
GCALLOC_RUNS = {
    "allocfree": ((2, 2, 400), ()),
    "2procs": ((3, 3, 1000), ("-workers", "3", "-rounds", "3", "-objects", "1000",
                              "-procs", "2")),
}

# Measured (see heap_metric_check): at each mark termination the runtime's
# heap metric (= bytes marked) exceeds what the trace says is live and
# survives that cycle's sweep by 384 bytes: in all 12 cycles of the four
# fixtures and in all but a handful of the cycles of ~300 live runs
# (1.23.9, 1.25.5, 1.27.3; 1 and 2 Ps), a few at 448 or 552 (memory the
# runtime counts but never reports through the experiment).  The rest (1 in ~40 runs with 2 Ps,
# 1 cycle in ~15 with 4 Ps) is larger by the size of objects allocated just
# before the reset but traced just after it (16 KiB .. 41 KiB seen), which
# heap_metric_check allows for.
MARKED_TOLERANCE = 4096
# At the other HeapAlloc events the metric also counts the unused room of
# the spans each P has cached: (metric - basis) / metric measured +0.0002 ..
# +0.069 on the fixtures, up to +0.098 in the 2-P live runs, and in those
# one stale value in ~250 events (-0.14, -0.22; see heap_metric_check).
METRIC_SLACK = (-0.05, 0.12)


@functools.lru_cache(maxsize=None)
def fixture_trace(version: str) -> fastrace.Trace:
    return fastrace.read(FIXTURES / f"go{version}" / "allocfree.trace")


def fixture_dump(version: str) -> str:
    with gzip.open(FIXTURES / f"go{version}" / "allocfree.parsed.txt.gz", "rt") as f:
        return f.read()


# --- the registry -------------------------------------------------------------


class FakeTrace:
    """Just what the registry reads from a Trace: an unknown experiment (id 9)
    with one batch and no events."""

    def __init__(self):
        real = fixture_trace("1.27")
        self.events = real.events[:3]
        self.generations = real.generations
        self.exp_batches = real.exp_batches[:1].copy()
        self.exp_batches["exp"] = 9

    def exp_batch_data(self, row: int) -> bytes:
        return b"\x07hello"


def test_toy_interpreter_and_cache():
    t = fixture_trace("1.27")
    calls = []

    @fx.register("AllocFree")
    class Toy:
        def __init__(self, raw):
            calls.append(raw)
            names = np.array([fx.event_name(c) for c in raw.events["type"]])
            self.counts = dict(zip(*np.unique(names, return_counts=True)))
            self.batch_bytes = sum(len(b.data) for b in raw.batches)

    try:
        toy = fx.interpret(t, "AllocFree")
        assert isinstance(toy, Toy)
        assert fx.get(t, "AllocFree") is toy and len(calls) == 1   # cached
        raw = calls[0]
        assert raw.name == "AllocFree" and raw.id == 1
        assert np.all(raw.events["kind"] == EventKind.EXPERIMENTAL)
        assert np.array_equal(t.events[raw.rows], raw.events)
        assert toy.counts["HeapObjectAlloc"] == 1679
        assert toy.batch_bytes == sum(int(r["length"]) for r in t.exp_batches)
        assert [(b.generation, b.m) for b in raw.batches] == [(0, -1), (0, -1)]
        assert all(isinstance(b.data, bytes) for b in raw.batches)
        assert raw.generation(0).events.shape == raw.events.shape
        assert len(raw.generation(1).events) == 0
    finally:
        fx.unregister("AllocFree", Toy)
    # Single columns, read from trace.events (a fresh raw, whose events are
    # not copied yet) or from the copy, are those of the copy.
    for fresh in (fx.raw(t, "AllocFree"), raw):
        sel = np.flatnonzero(raw.events["type"] == raw.events["type"][5])
        for name in ("time", "g", "p", "m", "type"):
            assert np.array_equal(fresh.column(name), raw.events[name])
            assert np.array_equal(fresh.column(name, sel), raw.events[name][sel])
        for k in range(3):
            assert np.array_equal(fresh.arg(k), raw.events["a"][:, k])
            assert np.array_equal(fresh.arg(k, sel), raw.events["a"][sel, k])
    assert np.array_equal(fx.raw(t, "AllocFree").generation(0).events, raw.events)
    # The built-in interpreter is back, and the cache noticed the change.
    assert isinstance(fx.interpret(t, "AllocFree"), AllocFree)
    assert fx.registered()["AllocFree"] is AllocFree


def test_register_function_form():
    t = fixture_trace("1.25")
    fx.register("experiment42", lambda raw: ("toy", len(raw.events)))
    try:
        assert fx.interpret(t, "experiment42") == ("toy", 0)
    finally:
        fx.unregister("experiment42")
    assert "experiment42" not in fx.registered()


def test_unknown_experiment_comes_through_raw():
    fake = FakeTrace()
    assert fx.available(fake) == ["experiment9"]
    r = fx.interpret(fake, "experiment9")
    assert isinstance(r, fx.RawExperiment)
    assert r.id == 9 and len(r.events) == 0
    off = int(fake.exp_batches["offset"][0])
    assert r.batches == [fx.ExpBatch(0, -1, b"\x07hello", off)]
    assert r.batches[0] == (0, -1, b"\x07hello", off)
    assert r.batches[0].offset == off and fx.ExpBatch(0, -1, b"").offset == -1
    assert fx.interpret(fake, "experiment9") is r
    with pytest.raises(KeyError):
        fx.interpret(fake, "NoSuchExperiment")


def test_available():
    assert fx.available(fixture_trace("1.23")) == ["AllocFree"]
    assert fx.available(fastrace.read(FIXTURES / "go1.23" / "gcalloc.trace")) == []


def test_docstring_example_runs():
    # The worked example of fastrace.experiments' docstring, as written.
    src = fx.__doc__.split("::\n", 1)[1].split("\nResults are cached", 1)[0]
    src = src.replace('"trace.out"', repr(str(FIXTURES / "go1.27" / "allocfree.trace")))
    import textwrap
    ns: dict = {}
    exec(textwrap.dedent(src), ns)
    assert fx.registered()["AllocFree"] is AllocFree


# --- AllocFree: against Go's dump --------------------------------------------

_EXP = re.compile(r"^M=(-?\d+) P=(-?\d+) G=(-?\d+) Experimental Time=(\d+) "
                  r"Name=(\w+) Args=\[(.*)\]$", re.M)
_ARG = re.compile(r"(\w+)=Value\{Uint64\((\d+)\)\}")


def go_experimental(dump: str) -> list[tuple]:
    out = []
    for m, p, g, time, name, args in _EXP.findall(dump):
        vals = tuple(int(v) for _, v in _ARG.findall(args))
        out.append((int(m), int(p), int(g), int(time), name, vals))
    return out


def our_experimental(t: fastrace.Trace) -> list[tuple]:
    raw = fx.raw(t, "AllocFree")
    out = []
    ev = raw.events
    for time, g, p, m, a, typ in zip(ev["time"].tolist(), ev["g"].tolist(), ev["p"].tolist(),
                                     t.threads[ev["m"]].tolist(), ev["a"].tolist(),
                                     ev["type"].tolist()):
        n = fastrace.spec.BY_CODE[typ].nargs - 1
        out.append((m, p, g, time, fx.event_name(typ), tuple(a[:n])))
    return out


def check_against_dump(t: fastrace.Trace, dump: str) -> None:
    want = go_experimental(dump)
    got = our_experimental(t)
    assert len(want) > 100
    assert Counter(w[4] for w in want) == Counter(g[4] for g in got)
    assert got == want
    # The interpreter's tables hold the same ids/arguments.
    af = fx.interpret(t, "AllocFree")
    n_obj = sum(1 for w in want if "HeapObject" in w[4])
    assert len(af.heap_objects) == n_obj
    ids = [w[5][0] for w in want if "HeapObject" in w[4]]
    assert af.heap_objects["id"].tolist() == ids
    spans = [w for w in want if w[4].startswith("Span")]
    assert af.spans["id"].tolist() == [w[5][0] for w in spans]
    assert af.spans["npages"][af.spans["action"] != Action.FREE].tolist() == \
        [w[5][1] for w in spans if w[4] != "SpanFree"]


@pytest.mark.parametrize("version", FIXTURE_VERSIONS)
def test_fixture_events_match_go_dump(version):
    check_against_dump(fixture_trace(version), fixture_dump(version))


# --- AllocFree: an independent replay ----------------------------------------

def _elemsize(kindclass: int, npages: int) -> int:
    sizeclass = kindclass >> 2
    return npages * 8192 if sizeclass == 0 else int(SIZE_CLASS_BYTES[sizeclass])


def replay(af: AllocFree, lossy: bool = False) -> dict:
    """Walk spans, objects and stacks in trace order with plain dicts and
    check the heap's invariants; returns per-row slots/sizes and what is
    live at the end.

    ``lossy``: Go 1.23/1.24 write span and stack events with
    traceTryAcquire, which drops them when the thread is already inside the
    tracer, so a span or stack may be freed (and its memory reused) without
    an event.  Then a new span/stack over live ones ends them, and frees
    of unknown spans/stacks are skipped.  Heap object events use the
    reentrant traceAcquire in every version and are never lost."""
    info = af.info
    assert len(info) == 1
    mn, ps, ha, sa = (int(info[0][k]) for k in ("min_heap_addr", "page_size",
                                                 "heap_align", "stack_align"))
    assert (ps, ha, sa) == (8192, 8, 2048) and mn % ps == 0
    # The order the runtime wrote the events in: generation, then the time
    # it wrote each one (wire_time); in one clock tick a free first (it
    # writes a free before the memory can be reused, an allocation after).
    def key(r):
        return (int(r["generation"]), int(r["wire_time"]), int(r["action"] != Action.FREE),
                int(r["event"]))

    merged = sorted(
        [(key(r), "span", i) for i, r in enumerate(af.spans)]
        + [(key(r), "obj", i) for i, r in enumerate(af.heap_objects)]
        + [(key(r), "stack", i) for i, r in enumerate(af.goroutine_stacks)])
    spans: dict[int, dict] = {}        # base -> span
    page_of: dict[int, int] = {}       # page index -> base
    objects: dict[int, int] = {}       # live slot -> size
    stacks: dict[int, int] = {}        # live stack base -> size
    slot_col = np.zeros(len(af.heap_objects), np.uint64)
    size_col = np.zeros(len(af.heap_objects), np.uint64)
    lost = Counter()

    def drop_span(base):
        sp = spans.pop(base)
        for pg in range(sp["page"], sp["page"] + sp["npages"]):
            del page_of[pg]

    for _row, what, i in merged:
        if what == "span":
            r = af.spans[i]
            base = int(r["id"]) * ps + mn
            assert int(r["address"]) == base
            if r["action"] == Action.FREE:
                if base not in spans:
                    assert lossy, f"span {base:#x} freed but never seen"
                    lost["span free"] += 1
                    continue
                end = base + spans[base]["npages"] * ps
                drop_span(base)
                # Nothing may live in a span that goes away.
                assert not any(base <= a < end for a in objects)
                continue
            kc, npages = int(r["kindclass"]), int(r["npages"])
            page = int(r["id"])
            for pg in range(page, page + npages):
                if pg in page_of:
                    assert lossy, "spans overlap"
                    lost["span free"] += 1
                    drop_span(page_of[pg])
            sp = dict(page=page, npages=npages, heap=kc & 1 == 0,
                      elemsize=_elemsize(kc, npages) if kc & 1 == 0 else 0, base=base)
            for pg in range(page, page + npages):
                page_of[pg] = base
            spans[base] = sp
            assert int(r["kind"]) == (SpanKind.HEAP if sp["heap"] else SpanKind.OTHER)
            assert int(r["elemsize"]) == sp["elemsize"]
        elif what == "obj":
            r = af.heap_objects[i]
            addr = int(r["id"]) * ha + mn
            assert int(r["address"]) == addr
            base = page_of.get((addr - mn) // ps)
            if base is None:
                assert lossy, f"object {addr:#x} outside every live span"
                lost["object without span"] += 1
                slot, e, off = addr, 0, 0
            else:
                sp = spans[base]
                assert sp["heap"], "object in a non-heap span"
                e = sp["elemsize"]
                slot = base + (addr - base) // e * e
                off = addr - slot
            slot_col[i], size_col[i] = slot, e
            if r["action"] == Action.FREE:
                assert off == 0, "frees name slot starts"
                assert slot in objects, f"free of {addr:#x}: never allocated"
                del objects[slot]
            else:
                # Offset 8: the alloc event of an object with a malloc header
                # (pointerful, 512 < size <= 32 KiB) names the address after it;
                # other offsets only inside 16-byte tiny blocks.
                assert off == 0 or (off == 8 and e > 512) or e == 16, (off, e)
                if slot in objects:
                    assert e == 16, "a second allocation into a live slot"
                else:
                    objects[slot] = e
        else:
            r = af.goroutine_stacks[i]
            addr = int(r["id"]) * sa + mn
            if r["action"] == Action.FREE:
                if addr not in stacks:
                    assert lossy, f"stack {addr:#x} freed but never seen"
                    lost["stack free"] += 1
                    continue
                assert int(r["size"]) == stacks.pop(addr)
                continue
            order = int(r["order"])
            if order == 0:           # a goroutine without a stack
                assert r["action"] == Action.EXISTS and int(r["size"]) == 0
                continue
            size = 1 << (order - 1)
            assert int(r["size"]) == size and int(r["address"]) == addr
            base = page_of.get((addr - mn) // ps)
            if base is None:
                assert lossy, f"stack {addr:#x} outside every live span"
                lost["stack without span"] += 1
            else:
                sp = spans[base]
                assert not sp["heap"], "stack in a heap span"
                # Stacks are carved from their span at multiples of their size
                # (so order is the bit length: 1 << order would not tile).
                assert (addr - base) % size == 0
                assert addr + size <= base + sp["npages"] * ps
            for b, sz in list(stacks.items()):
                if not (b + sz <= addr or addr + size <= b):
                    assert lossy, f"stack {addr:#x} overlaps live stack {b:#x}"
                    lost["stack free"] += 1
                    del stacks[b]
            stacks[addr] = size
    return dict(slot=slot_col, size=size_col, objects=objects, stacks=stacks,
                spans=spans, lost=lost)


def check_tables(t: fastrace.Trace, af: AllocFree) -> dict:
    lossy = t.version == 23   # Go 1.23 and 1.24, see replay()
    # The written times are known, and no later than Go's reader's times
    # (which it only ever raises); seq ranks every event once.
    assert af.wire_time_known
    tabs = (af.spans, af.heap_objects, af.goroutine_stacks)
    for tab in tabs:
        assert np.all(tab["wire_time"] <= tab["time"])
    seq = np.concatenate([tab["seq"] for tab in tabs])
    assert np.array_equal(np.sort(seq), np.arange(len(seq)))
    rp = replay(af, lossy)
    o = af.heap_objects
    # The vectorised slot/size/span lookups equal the replay's.
    assert np.array_equal(o["slot"], rp["slot"])
    assert np.array_equal(o["size"], rp["size"])
    found = o["span"] >= 0
    assert lossy or np.all(found)
    assert np.array_equal(found, rp["size"] > 0)
    sp, of = af.spans[o["span"][found]], o[found]
    assert np.all(sp["action"] != Action.FREE) and np.all(sp["event"] < of["event"])
    assert np.all((of["address"] >= sp["address"]) & (of["address"] < sp["address"] + sp["bytes"]))
    # Every free frees an object allocated in the trace or listed by the snapshot.
    assert len(af.unmatched_frees()) == 0
    if not lossy:
        # Every span/stack free is paired with the start it ends.
        for tab in (af.spans, af.goroutine_stacks):
            frees = tab[tab["action"] == Action.FREE]
            assert np.all(frees["pair"] >= 0)
            assert np.all(tab["pair"][frees["pair"]] == np.flatnonzero(tab["action"] == Action.FREE))
    # Types: every typed object resolves, ids as written.
    typed = o["type_id"] != 0
    assert np.all(o["type"][typed] >= 0) and np.all(o["type"][~typed] == -1)
    assert np.all(af.type_ids["id"] > 0)
    assert len(set(zip(af.types["address"].tolist(), af.types["name"].tolist()))) == len(af.types)
    # Objects of a type fit their slot; pointer bytes within the type.
    to = af.types[o["type"][typed]]
    small = af.spans["sizeclass"][o["span"][typed]] > 0
    hdr = (to["ptr_bytes"] > 0) & small & (o["size"][typed] > 512)
    assert np.all(to["size"] + np.where(hdr, 8, 0) <= o["size"][typed])
    assert np.all(af.types["ptr_bytes"] <= af.types["size"])
    # Derived tables agree with the replay's end state.
    lt = af.lifetimes()
    assert len(lt) == np.count_nonzero(o["action"] != Action.FREE)
    assert np.all((lt["free_time"] == -1) | (lt["free_time"] >= lt["alloc_time"]))
    live = lt[(lt["free_time"] == -1) & ~lt["shared"]]
    assert int(live["size"].sum()) == sum(rp["objects"].values())
    assert len(live) == len(rp["objects"])
    lh = af.live_heap()
    assert int(lh["bytes"][-1]) == sum(rp["objects"].values())
    assert int(lh["count"][-1]) == len(rp["objects"])
    assert np.all(np.diff(lh["time"]) >= 0) and np.all(lh["bytes"] >= 0)
    by_type = af.live_heap(by_type=True)
    last = {}
    for row in by_type.tolist():
        last[row[1]] = row[2]
    assert sum(last.values()) == lh["bytes"][-1]
    sm = af.stack_memory()
    if len(sm):
        assert int(sm["bytes"][-1]) == sum(rp["stacks"].values())
        assert int(sm["count"][-1]) == len(rp["stacks"])
    abt = af.alloc_by_type()
    assert int(abt["count"].sum()) == np.count_nonzero(o["action"] == Action.ALLOC)
    assert np.all(abt["live_bytes"] >= 0) and np.all(abt["live_count"] <= abt["count"] + len(lt))
    assert list(abt["bytes"]) == sorted(abt["bytes"], reverse=True)
    rate = af.alloc_rate(interval=1_000_000)
    assert int(rate["count"].sum()) == int(abt["count"].sum())
    assert int(rate["bytes"].sum()) == int(abt["bytes"].sum())
    # Per generation: the tables partition.
    n = len(t.generations)
    assert sum(len(af.generation(i).heap_objects) for i in range(n)) == len(o)
    assert sum(len(af.generation(i).lifetimes()) for i in range(n)) == len(lt)
    assert sum(len(af.generation(i).live_heap()) for i in range(n)) == len(lh)
    return rp


def check_gcalloc_program(af: AllocFree, workers: int = 2, rounds: int = 2,
                          objects: int = 400) -> None:
    """Facts about tests/goprogs/gcalloc: each of workers x rounds calls
    allocates ``objects`` nodes, a []byte every 50 nodes and one of 80 KiB."""
    calls = workers * rounds
    top = {r["name"]: r for r in af.top_types(50)}
    node = top["main.node"]
    assert node["count"] == calls * objects and node["bytes"] == calls * objects * 64
    t_node = af.types[af.types["name"] == "main.node"]
    assert t_node["size"].tolist() == [56] and t_node["ptr_bytes"].tolist() == [8]
    assert top["uint8"]["count"] == calls * ((objects + 49) // 50 + 1)
    o = af.heap_objects
    # node: 56 bytes with pointers -> size class 64 B, scan span.
    nodes = o[(o["type"] >= 0) & (o["action"] == Action.ALLOC)]
    nodes = nodes[af.types["name"][nodes["type"]] == "main.node"]
    assert np.all(nodes["size"] == 64) and not np.any(af.spans["noscan"][nodes["span"]])
    # The 80 KiB []byte of each call: a 10-page large-object span, noscan.
    big = o[(o["action"] == Action.ALLOC) & (o["size"] == 80 << 10)]
    assert len(big) == calls
    bs = af.spans[big["span"]]
    assert np.all(bs["sizeclass"] == 0) & np.all(bs["npages"] == 10) & np.all(bs["noscan"])
    assert af.top_types(1, by="count")["name"][0] == "main.node"
    assert list(af.top_types(3)["bytes"]) == sorted(af.alloc_by_type()["bytes"], reverse=True)[:3]


@pytest.mark.parametrize("version", FIXTURE_VERSIONS)
def test_fixture_tables(version):
    t = fixture_trace(version)
    af = fx.interpret(t, "AllocFree")
    check_tables(t, af)
    check_gcalloc_program(af)


# --- AllocFree: against the runtime's heap metric ----------------------------

def heap_metric_check(t: fastrace.Trace, af: AllocFree, share: float = 1.0) -> dict:
    """Compare the live-heap curve with the runtime's heap metric.

    The metric (HeapAlloc events) is the runtime's heapLive: reset to the
    bytes marked at each mark termination, then increased, whenever a P
    takes a span into its cache, by the span's free slots (used or not).
    The trace's live heap still holds a cycle's dead objects until the
    sweep frees them, and every free between two mark terminations is the
    sweep of the earlier one's garbage.  So with ``swept(t)`` = bytes the
    trace frees after ``t`` until the next mark termination, the runtime's
    view of the trace is ``basis(t) = live(t) - swept(t)``, and:

    - at each mark termination, ``metric == basis`` (up to MARKED_TOLERANCE);
    - at the other HeapAlloc events, ``metric - basis`` is the cached spans'
      unused room: within METRIC_SLACK for at least ``share`` of them.  With
      several Ps a value can be stale: the runtime adds to heapLive and
      takes the event's timestamp a moment later, long enough for another
      P's allocations to be traced in between if the thread is descheduled
      (seen: one event in ~250 at -14% and -20% with 2 Ps on a busy 2-core
      machine).
    """
    ev = t.events
    mrows = np.flatnonzero((ev["kind"] == EventKind.METRIC) & (ev["type"] == 37))
    gc_end = np.flatnonzero((ev["kind"] == EventKind.RANGE_END) & (ev["type"] == 30))
    assert len(mrows) > 10 and len(gc_end) >= 2
    metric = ev["a"][mrows, 0].astype(np.int64)
    o = af.heap_objects
    db, _, _ = af._deltas()
    # Mark termination resets the metric: its HeapAlloc is the last before GCEnd.
    term = np.array([np.flatnonzero(mrows < e)[-1] for e in gc_end])
    # Live bytes just before each metric event; bytes freed up to it and up
    # to the next mark termination.
    before = np.searchsorted(o["event"], mrows) - 1
    live = np.where(before >= 0, np.cumsum(db)[np.maximum(before, 0)], 0)
    freed = np.cumsum(np.where(o["action"] == Action.FREE, -db, 0))
    freed_before = np.where(before >= 0, freed[np.maximum(before, 0)], 0)
    next_term = np.append(mrows[term], len(ev))[np.searchsorted(mrows[term], mrows, side="right")]
    upto = np.searchsorted(o["event"], next_term) - 1
    swept = np.where(upto >= 0, freed[np.maximum(upto, 0)], 0) - freed_before
    basis = live - swept
    diffs = (metric - basis)[term].tolist()
    # The runtime writes an object's alloc event after the allocation, where
    # the goroutine can be preempted: an object allocated (and so marked)
    # just before mark termination can be traced after it.  Allow, per
    # cycle, the first object each goroutine allocates after the reset.
    in_flight = []
    for k in term:
        after = o[(o["event"] > mrows[k]) & (o["action"] == Action.ALLOC)]
        first = np.unique(after["g"], return_index=True)[1]
        in_flight.append(int(after["size"][first].sum()))
    assert all(0 <= d <= MARKED_TOLERANCE + f for d, f in zip(diffs, in_flight)), \
        (diffs, in_flight)
    assert np.median(diffs) <= MARKED_TOLERANCE, diffs
    rel = (metric - basis) / metric
    inside = (METRIC_SLACK[0] <= rel) & (rel <= METRIC_SLACK[1])
    assert inside.mean() >= share, (inside.mean(), rel.min(), rel.max())
    return dict(diffs=diffs, slack=(float(rel.min()), float(rel.max())))


@pytest.mark.parametrize("version", FIXTURE_VERSIONS)
def test_live_heap_matches_runtime_metric(version):
    t = fixture_trace(version)
    r = heap_metric_check(t, fx.interpret(t, "AllocFree"))
    assert r["diffs"] == [384] * 3      # as measured; see MARKED_TOLERANCE


def test_generation_view_and_types_per_generation():
    t = fixture_trace("1.26")
    af = fx.interpret(t, "AllocFree")
    g0 = af.generation(0)
    assert len(g0.heap_objects) == len(af.heap_objects)
    assert np.array_equal(g0.live_heap(), af.live_heap())
    assert g0.top_types(5).tolist() == af.top_types(5).tolist()
    assert len(af.generation(1).heap_objects) == 0
    assert len(af.generation(1).live_heap()) == 0


@pytest.mark.parametrize("call", ["alloc_rate(0)", "alloc_rate(-5)", "alloc_rate(1.5)",
                                  "alloc_rate(True)", "top_types(-1)", "top_types(2.0)"])
def test_bad_arguments_are_refused(call):
    # Before: alloc_rate(0) divided by zero (a numpy warning and one bin),
    # alloc_rate(-5) failed inside numpy, top_types(-1) returned all rows
    # but the last.
    af = fx.interpret(fixture_trace("1.27"), "AllocFree")
    name = call.split("(")[0]
    with pytest.raises(ValueError, match=f"^{name}: "):
        eval("af." + call)
    with pytest.raises(ValueError, match=f"^{name}: "):
        eval("af.generation(0)." + call)
    assert len(af.top_types(0)) == 0
    # One bin as wide as the trace holds every allocation.
    assert af.alloc_rate(np.int64(10**12))["count"].tolist() == \
        [int((af.heap_objects["action"] == Action.ALLOC).sum())]


def test_version_differences():
    # The batch formats are the same in Go 1.23-1.27; the minimum heap
    # address is not: Go 1.26 randomises the heap base.
    mins = {v: int(fx.interpret(fixture_trace(v), "AllocFree").info["min_heap_addr"][0])
            for v in FIXTURE_VERSIONS}
    assert mins["1.23"] == mins["1.25"] == 0xC000000000
    assert mins["1.26"] != 0xC000000000 and mins["1.27"] != 0xC000000000


# --- AllocFree: when the trace cannot answer --------------------------------

ALL_FIXTURE_VERSIONS = ("1.22", "1.23", "1.25", "1.26", "1.27")


@pytest.mark.parametrize("version", ALL_FIXTURE_VERSIONS)
def test_trace_without_the_experiment(version):
    # gcalloc is the allocfree program without GODEBUG=traceallocfree=1.
    t = fastrace.read(FIXTURES / f"go{version}" / "gcalloc.trace")
    with pytest.raises(fx.ExperimentMissingError) as ei:
        t.experiment("AllocFree")
    e = ei.value
    assert isinstance(e, fastrace.TraceError)
    assert e.experiment == "AllocFree" and e.version == t.version
    msg = str(e)
    assert msg.startswith("no AllocFree events or batches in this trace")
    assert "GODEBUG=traceallocfree=1" in msg and "Go 1.23" in msg
    assert ("go 1.22 trace" in msg) == (version == "1.22")
    # The attributes survive pickling (process pools).
    import pickle
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is type(e) and str(e2) == msg and e2.experiment == "AllocFree"
    # Uninterpreted, the (empty) share of the trace is still there.
    r = fx.raw(t, "AllocFree")
    assert len(r.events) == 0 and r.batches == []


def piece_refusal(path) -> int:
    """Every piece of ``path`` refuses the AllocFree interpreter, and the
    pieces' raw AllocFree events, put together, are read()'s.  Returns the
    number of pieces."""
    whole = fx.raw(fastrace.read(path), "AllocFree")
    got_rows, got_events, n = [], [], 0
    for piece in fastrace.iter_generations(path, max_events=1000):
        n += 1
        assert fx.is_piece(piece)
        with pytest.raises(fx.WholeTraceRequiredError) as ei:
            piece.experiment("AllocFree")
        assert isinstance(ei.value, fastrace.TraceError)
        msg = str(ei.value)
        assert "needs the whole trace" in msg and f"starts at row {piece.first_row}" in msg
        assert "fastrace.read(path).experiment('AllocFree')" in msg
        r = fx.raw(piece, "AllocFree")
        got_rows.append(r.rows + piece.first_row)
        got_events.append(r.events)
        # A piece does not decode its bytes again: the reader's times are
        # given, known to be the written ones where they were not raised.
        tm = r.events["time"]
        assert np.array_equal(r.wire_time, tm)
        assert np.array_equal(r.wire_time_known, (r.rows > 0) & (
            tm != piece.events["time"][np.maximum(r.rows - 1, 0)] + 1))
    assert n > 1
    assert np.array_equal(np.concatenate(got_rows), whole.rows)
    assert np.array_equal(np.concatenate(got_events), whole.events)
    return n


@pytest.mark.parametrize("version", FIXTURE_VERSIONS)
def test_pieces_refused(version):
    path = FIXTURES / f"go{version}" / "allocfree.trace"
    piece_refusal(path)
    assert not fx.is_piece(fixture_trace(version))
    # Whole generations are pieces too.
    piece = next(iter(fastrace.iter_generations(path, max_events=None)))
    with pytest.raises(fx.WholeTraceRequiredError):
        fx.interpret(piece, "AllocFree")


# --- AllocFree: malformed experimental batches --------------------------------

def _varint(v: int) -> bytes:
    from tests.tracebuild import uv

    return uv(v)


def _type_record(tid, addr, size, ptr, name: bytes) -> bytes:
    return b"".join(_varint(x) for x in (tid, addr, size, ptr, len(name))) + name


def test_pack_columns_is_numpys_field_assignment():
    # The interpreters' tables are written row by row in C; the reference
    # is numpy's own out[name] = column, casts included.
    from fastrace._analysis import pack_columns

    rng = np.random.default_rng(11)
    dtype = np.dtype([("a", "<i8"), ("b", "u1"), ("c", "<u4"), ("d", "<i2"), ("x", "O"),
                      ("e", "<c16"), ("f", "<f8"), ("k", "<u8")])   # packed: fields unaligned
    n = 37
    cols = {
        "a": rng.integers(-2**40, 2**40, n, dtype=np.int64),
        "b": rng.integers(0, 255, n, dtype=np.uint8),
        "c": rng.integers(-5, 5, n, dtype=np.int64),           # cast, wrapping
        "d": rng.integers(-2**15, 2**15, n).astype(np.int16)[::-1],   # not contiguous
        "e": rng.random(n) + 1j * rng.random(n),              # 16 bytes
        "f": rng.integers(0, 100, n, dtype=np.int32),          # int to float
    }
    got = np.zeros(n, dtype)
    got["k"] = np.arange(n) * 3                                # not named: kept
    got["x"] = [str(i) for i in range(n)]
    want = got.copy()
    for name, col in cols.items():
        want[name] = col
    pack_columns(got, cols)
    for f in dtype.names:
        assert np.array_equal(got[f], want[f]), f
    pack_columns(got[:0], {"a": np.zeros(0, np.int64)})       # no rows
    pack_columns(got, {})                                    # no columns
    with pytest.raises(TypeError, match="'x'.*assign it"):
        pack_columns(got, {"x": np.arange(n)})
    with pytest.raises(ValueError, match="no field 'zz'"):
        pack_columns(got, {"zz": np.arange(n)})
    with pytest.raises(ValueError, match="column 'a' has shape"):
        pack_columns(got, {"a": np.arange(n + 1)})
    with pytest.raises(TypeError, match="contiguous"):
        pack_columns(got[::2], {"a": np.arange(len(got[::2]))})
    with pytest.raises(TypeError, match="structured"):
        pack_columns(np.zeros(n), {"a": np.arange(n)})


def numpy_pairs(keys, order, action, shared):
    """The reference for allocfree._pairs: its vectorised numpy version
    before the pass moved to C (_analysis.pair_lives), sorting the events
    by (key, order)."""
    n = len(keys)
    free_of = np.full(n, -1, np.int64)
    start_of = np.full(n, -1, np.int64)
    prev = np.full(n, -1, np.int64)
    if n == 0:
        return free_of, start_of, prev
    srt = np.lexsort((order, keys))
    k = keys[srt]
    is_free = action[srt] == Action.FREE
    same_prev = np.r_[False, k[1:] == k[:-1]]
    after_start = same_prev & np.r_[False, ~is_free[:-1]]
    idx = np.arange(n)
    if shared:
        nxt = np.minimum.accumulate(np.where(is_free, idx, n)[::-1])[::-1]
        opener = np.maximum.accumulate(np.where(~is_free & ~after_start, idx, -1))
        start_rows = ~is_free & (nxt < n)
        start_rows[start_rows] = k[nxt[start_rows]] == k[start_rows]
        f = np.full(n, -1, np.int64)
        f[start_rows] = srt[nxt[start_rows]]
        matched = is_free & after_start
        s = np.full(n, -1, np.int64)
        s[matched] = srt[opener[matched]]
        p = np.full(n, -1, np.int64)
        joins = ~is_free & after_start
        p[joins] = srt[opener[joins]]
    else:
        nxt_free = np.r_[is_free[1:] & (k[1:] == k[:-1]), False]
        f = np.full(n, -1, np.int64)
        f[~is_free & nxt_free] = srt[np.flatnonzero(~is_free & nxt_free) + 1]
        s = np.full(n, -1, np.int64)
        s[is_free & after_start] = srt[np.flatnonzero(is_free & after_start) - 1]
        p = np.full(n, -1, np.int64)
        p[~is_free & after_start] = srt[np.flatnonzero(~is_free & after_start) - 1]
    free_of[srt], start_of[srt], prev[srt] = f, s, p
    return free_of, start_of, prev


def test_pairs_hand_worked():
    # Slot 7 in written order: alloc a, alloc b (a tiny block's second
    # allocation, or a start whose free was lost), free c, free d (nothing
    # open); slot 9: free e (nothing open), alloc f (never freed).
    from fastrace.experiments import allocfree as af

    A, F = Action.ALLOC, Action.FREE
    keys = np.array([7, 9, 7, 7, 9, 7], np.uint64)    # rows: a e b c f d
    order = np.array([0, 1, 2, 3, 4, 5])
    action = np.array([A, F, A, F, A, F], np.uint8)
    a, e, b, c, f, d = range(6)
    free_of, start_of, prev = af._pairs(keys, order, action, shared=True)
    assert free_of.tolist() == [c, -1, c, -1, -1, -1]       # a and b share the life
    assert start_of.tolist() == [-1, -1, -1, a, -1, -1]     # c ends a's life; d, e: none
    assert prev.tolist() == [-1, -1, a, -1, -1, -1]
    free_of, start_of, prev = af._pairs(keys, order, action, shared=False)
    assert free_of.tolist() == [-1, -1, c, -1, -1, -1]      # b replaced a
    assert start_of.tolist() == [-1, -1, -1, b, -1, -1]
    assert prev.tolist() == [-1, -1, a, -1, -1, -1]


@pytest.mark.parametrize("seed", range(30))
def test_pairs_in_one_pass_are_the_sorted_ones(seed):
    from fastrace import _analysis
    from fastrace.experiments import allocfree as af

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    keys = rng.integers(0, max(1, n // int(rng.integers(1, 8))), n).astype(np.uint64)
    if seed % 3 == 0:
        keys[: n // 2] += np.uint64(2**64 - 2**20)           # keys near the top of uint64
    order = rng.permutation(n * 3)[:n] if seed % 2 else rng.permutation(n)
    action = rng.choice([Action.EXISTS, Action.ALLOC, Action.FREE], n).astype(np.uint8)
    for shared in (True, False):
        got = af._pairs(keys, order, action, shared)
        want = numpy_pairs(keys, order, action, shared)
        for g, w in zip(got, want):
            assert g.tolist() == w.tolist()
    if n > 1:
        with pytest.raises(ValueError, match="permutation"):
            _analysis.pair_lives(keys, np.zeros(n, np.int64), action == Action.FREE, True)
    with pytest.raises(ValueError, match="one length"):
        _analysis.pair_lives(keys, np.arange(n + 1), action == Action.FREE, True)


# The span and stack lookups (_ended_by, _find_spans) work segment by
# segment; the reference here is their definition, life by life and page
# by page (quadratic: small random tables only).

def _lives(t, first_cell, ncells):
    """(row, first cell, cells, begin, end) of each exists/alloc row."""
    end_of = lambda r: int(t["seq"][t["pair"][r]]) if t["pair"][r] >= 0 else 2**63 - 1
    return [(r, int(first_cell[r]), int(ncells[r]), int(t["seq"][r]), end_of(r))
            for r in range(len(t)) if t["action"][r] != Action.FREE and ncells[r] > 0]


def pages_ended_by(t, first_cell, ncells):
    """Each life's first later start on one of its cells before its end."""
    out = np.full(len(t), -1, np.int64)
    lives = _lives(t, first_cell, ncells)
    for r, f, n, begin, end in lives:
        later = [(b2, r2) for r2, f2, n2, b2, _ in lives
                 if begin < b2 < end and f2 < f + n and f < f2 + n2]
        if later:
            out[r] = min(later)[1]
    return out


def pages_find_spans(spans, page_size, min_addr, addr, row, kinds):
    """For each address at each event: of the lives on its page begun by
    then, the latest and the one before it, each if not yet ended (its
    free, or the start that ended it, after the event)."""
    out = np.full(len(addr), -1, np.int64)
    out2 = out.copy()
    ok = np.isin(spans["kind"], kinds)
    lives = [(r, f, n, b, e) for r, f, n, b, e in
             _lives(spans, spans["id"], spans["npages"].astype(np.int64)) if ok[r]]
    for i, (a, at) in enumerate(zip(addr.tolist(), row.tolist())):
        q = (a - min_addr) // page_size
        on = sorted((b, r, e) for r, f, n, b, e in lives if f <= q < f + n and b <= at)
        for res, k in ((out, -1), (out2, -2)):
            if len(on) >= -k:
                b, r, e = on[k]
                ended = spans["ended_by"][r]
                if ended >= 0:
                    e = min(e, int(spans["seq"][ended]))
                if e > at:
                    res[i] = r
    return out, out2


def random_spans(rng, n: int, pages: int, big: int = 0):
    """n span rows: starts on random page ranges (some overlapping, as when
    frees are lost), about half of them freed later; ``big`` of them cover
    2**40 pages."""
    from fastrace.experiments import allocfree as af

    t = np.zeros(n, dtype=af.SPAN_DTYPE)
    t["seq"] = rng.permutation(n * 4)[:n]
    t = t[np.argsort(t["seq"])]
    t["pair"] = -1
    t["ended_by"] = -1
    t["action"] = Action.ALLOC
    t["kind"] = SpanKind.HEAP
    t["id"] = rng.integers(0, pages, n)
    t["npages"] = rng.integers(1, 6, n)
    if big:
        t["npages"][rng.choice(n, big, replace=False)] = 2**40
    for i in range(n):
        if t["action"][i] == Action.ALLOC and rng.random() < 0.5:
            j = [k for k in range(i + 1, n) if t["action"][k] == Action.ALLOC and t["pair"][k] < 0]
            if j:
                k = j[0]
                t["action"][k] = Action.FREE
                t["id"][k], t["npages"][k] = t["id"][i], t["npages"][i]
                t["pair"][i], t["pair"][k] = k, i
    return t


@pytest.mark.parametrize("seed", range(40))
def test_span_lookups_by_segment_are_page_by_pages(seed):
    from fastrace.experiments import allocfree as af

    rng = np.random.default_rng(seed)
    t = random_spans(rng, int(rng.integers(2, 60)), int(rng.integers(4, 40)))
    first, n = t["id"].astype(np.int64), t["npages"].astype(np.int64)
    want = pages_ended_by(t, first, n)
    assert np.array_equal(af._ended_by(t, first, n), want)
    # Without ended_by, earlier lives on a page stay open: the second answer.
    t["ended_by"] = want if seed % 2 else -1
    addr = (rng.integers(0, 45, 80) * 8192 + rng.integers(0, 8192, 80) + 4096).astype(np.uint64)
    row = rng.integers(0, len(t) * 4, 80)
    got = af._find_spans(t, 8192, 4096, addr, row, [SpanKind.HEAP])
    ref = pages_find_spans(t, 8192, 4096, addr, row, [SpanKind.HEAP])
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])


def test_span_of_2_to_the_40_pages():
    # Finding (target "experiment", 2026-11-29): damaged span sizes made
    # the lookups take one entry per page: 256 M pages asked for 24 GB.
    # Segment by segment, a span of 2**40 pages is a few entries; the
    # answers are those of its first pages (checked page by page on a copy
    # whose big span is cut to 50 pages, past every other span's pages).
    from fastrace.experiments import allocfree as af

    rng = np.random.default_rng(3)
    t = random_spans(rng, 40, 30, big=2)
    small = t.copy()
    small["npages"][small["npages"] == 2**40] = 50
    first = t["id"].astype(np.int64)
    want = pages_ended_by(small, first, small["npages"].astype(np.int64))
    assert np.array_equal(af._ended_by(t, first, t["npages"].astype(np.int64)), want)
    t["ended_by"] = small["ended_by"] = want
    addr = (rng.integers(0, 45, 80) * 8192 + 4096).astype(np.uint64)
    row = rng.integers(0, 160, 80)
    got = af._find_spans(t, 8192, 4096, addr, row, [SpanKind.HEAP])
    ref = pages_find_spans(small, 8192, 4096, addr, row, [SpanKind.HEAP])
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])


def test_batch_varints():
    from fastrace.experiments.allocfree import parse_batches

    B = fx.ExpBatch
    top = b"\xff" * 9 + b"\x01"                # 2**64 - 1: the largest 10-byte varint
    info, types = parse_batches([B(0, -1, b"\x01" + top + b"\x80\x40\x08\x80\x10", 1000)])
    assert info[["min_heap_addr", "page_size", "heap_align", "stack_align"]].tolist() == \
        [(2**64 - 1, 8192, 8, 2048)]
    assert types == []
    rec = _type_record(7, 0x4A0000, 56, 8, b"main.node")
    info, types = parse_batches([B(3, -1, b"\x00" + rec + rec, 500)])
    assert len(info) == 0 and types == [(3, 7, 0x4A0000, 56, 8, "main.node")] * 2
    # Plain 3-tuples (no offset) are still accepted.
    assert parse_batches([(3, -1, b"\x00" + rec)])[1] == types[:1]

    def fails(data: bytes, offset, problem: str, base=1000):
        with pytest.raises(fastrace.TraceFormatError) as ei:
            parse_batches([B(0, -1, data, base)])
        assert ei.value.offset == offset, (ei.value.offset, offset)
        assert problem in ei.value.problem, ei.value.problem
        assert str(ei.value).startswith("AllocFree batch: ")

    # The 10th byte may only hold the top bit: 2**64 does not fit.
    fails(b"\x01" + b"\x80" * 9 + b"\x02" + b"\x00" * 3, 1001, "overflows 64 bits")
    fails(b"\x01" + b"\xff" * 9 + b"\x7f" + b"\x00" * 3, 1001, "overflows 64 bits")
    fails(b"\x01" + b"\x80" * 10 + b"\x00" * 3, 1001, "overflows 64 bits")   # 11 bytes
    fails(b"\x00" + rec + b"\x80" * 10 + b"\x01", 1001 + len(rec), "overflows 64 bits")
    # Truncated varints, records and names.
    fails(b"\x01\x80\x80", 1001, "truncated varint")
    fails(b"\x00" + rec[:3], 1002, "truncated varint")     # the address, after the id
    fails(b"\x00" + rec[:-1], 1001 + rec.index(b"main") - 1, "type name of 9 bytes but only 8 remain")
    fails(b"\x01\x05\x05", 1000, "info batch holds 2 values, not 4")
    fails(b"\x07abc", 1000, "unknown batch kind 7")
    # Unknown offset: no offset in the error, the problem is still named.
    fails(b"\x01\x80", None, "truncated varint", base=-1)


@pytest.mark.damage
@pytest.mark.parametrize("version", FIXTURE_VERSIONS)
def test_damaged_type_batch_in_real_trace(version):
    """Damage the last type name length of a real trace's types batch: the
    interpreter names the byte in the file."""
    path = FIXTURES / f"go{version}" / "allocfree.trace"
    data = bytearray(path.read_bytes())
    t = fastrace.read(bytes(data))
    eb = t.exp_batches
    row = next(i for i in range(len(eb)) if t.exp_batch_data(i)[:1] == b"\x00")
    start, length = int(eb["offset"][row]), int(eb["length"][row])
    batch = bytes(data[start:start + length])
    # Walk the records to the last name length (one byte: names are short).
    i, last = 1, None
    from fastrace._varint import uvarint
    while i < len(batch):
        for _ in range(4):
            _, i = uvarint(batch, i)
        last = i
        n, i = uvarint(batch, i)
        i += n
    assert i == len(batch) and batch[last] < 0x80
    remain = len(batch) - last - 1
    data[start + last] = remain + 1
    bad = fastrace.read(bytes(data))
    with pytest.raises(fastrace.TraceFormatError) as ei:
        bad.experiment("AllocFree")
    assert ei.value.offset == start + last
    assert ei.value.problem == (f"AllocFree batch: type name of {remain + 1} bytes "
                                f"but only {remain} remain")


# --- AllocFree: the order the runtime wrote the events in ---------------------

_WIRE_BATCH = re.compile(r"^EventBatch gen=(\d+) m=(\d+) time=(\d+) size=\d+$")
_WIRE_EVENT = re.compile(r"^(\w+) dt=(\d+)(?: id=(\d+))?")
_AF_NAMES = {"Span", "SpanAlloc", "SpanFree", "HeapObject", "HeapObjectAlloc",
             "HeapObjectFree", "GoroutineStack", "GoroutineStackAlloc", "GoroutineStackFree"}


def go_wire_times(dump: str) -> dict[int, list[tuple[str, int, int]]]:
    """From Go's ``go tool trace -d=wire`` dump: per M, the AllocFree events
    (name, id, time in ns) in the order the M wrote them, the time computed
    as Go's reader does (batch time, then each event's delta, each
    converted to ns on its own: float64 product, truncated)."""
    lines = dump.splitlines()
    freq: dict[int, int] = {}          # generation -> ticks per second
    gen = None
    for line in lines:
        b = _WIRE_BATCH.match(line)
        if b:
            gen = int(b.group(1))
        elif line.startswith("Frequency freq="):
            freq[gen] = int(line.split("=")[1])
    out: dict[int, list] = {}
    m = None
    for line in lines:
        b = _WIRE_BATCH.match(line)
        if b:
            per_tick = 1.0 / (freq[int(b.group(1))] / 1e9)
            m = np.int64(np.uint64(int(b.group(2)))).item()
            ns = int(int(b.group(3)) * per_tick)
            continue
        if not line.startswith("\t") and not line[:1].isupper():
            continue
        if line.endswith("Batch") or "Batch " in line:
            m = None                       # experimental, string, stack ... batches
            continue
        e = _WIRE_EVENT.match(line)
        if m is None or e is None:
            continue
        ns += int(int(e.group(2)) * per_tick)
        if e.group(1) in _AF_NAMES:
            out.setdefault(m, []).append((e.group(1), int(e.group(3)), ns))
    return out


def check_wire_times(t: fastrace.Trace, dump: str | None) -> None:
    """raw.wire_time: with every generation decoded, every event is matched;
    it equals Go's reader's time except where that time was raised to 1 ns
    after the event before; and, given Go's -d=wire dump, Go's own times."""
    raw = fx.raw(t, "AllocFree")
    wt, known = fx.wire_times(t, raw.rows, decode_all=True)
    assert known.all()
    assert np.array_equal(wt, raw.wire_time) and raw.wire_time_known.all()
    tm = raw.events["time"]
    raised = tm == t.events["time"][raw.rows - 1] + 1
    assert np.array_equal(wt[~raised], tm[~raised]) and np.all(wt[raised] <= tm[raised])
    if dump is None:
        return
    want = go_wire_times(dump)
    m = t.threads[raw.events["m"]]
    got: dict[int, list] = {}
    for mm, code, a, w in zip(m.tolist(), raw.events["type"].tolist(),
                              raw.events["a"][:, 0].tolist(), wt.tolist()):
        got.setdefault(mm, []).append((fx.event_name(code), a, w))
    assert got == want


@pytest.mark.parametrize("version", ("1.26", "1.27"))
def test_wire_times_match_go_wire_dump(version):
    with gzip.open(FIXTURES / f"go{version}" / "allocfree.wire.txt.gz", "rt") as f:
        dump = f.read()
    check_wire_times(fixture_trace(version), dump)


@pytest.mark.parametrize("version", ("1.23", "1.25"))
def test_wire_times_without_go_dump(version):
    # Go 1.27's -d=wire stops at these traces' experimental events.
    check_wire_times(fixture_trace(version), None)


def hold_back(raw: fx.RawExperiment, free_row: int, alloc_row: int) -> fx.RawExperiment:
    """``raw`` as Go's reader gives it when it holds back the thread of
    event ``free_row`` (positions in raw.events) from that event until after
    ``alloc_row`` (another thread's, later): those events of that thread
    come out right after it, their times raised to 1 ns apart.  Their
    written times (wire_time) are those of ``raw``."""
    ev = raw.events
    m = ev["m"][free_row]
    idx = np.arange(len(ev))
    held = (idx >= free_row) & (idx < alloc_row) & (ev["m"] == m)
    perm = np.concatenate([idx[(idx <= alloc_row) & ~held], idx[held], idx[idx > alloc_row]])
    sim = object.__new__(fx.RawExperiment)
    sim.__dict__.update(raw.__dict__)
    sim.events = ev[perm].copy()
    k = np.flatnonzero(held[perm])
    sim.events["time"][k] = ev["time"][alloc_row] + 1 + np.arange(len(k))
    sim.rows, sim.generations = raw.rows, raw.generations[perm]
    sim._wire = (raw.wire_time[perm], raw.wire_time_known[perm])
    sim.perm = perm
    return sim


def check_held_back_thread(t: fastrace.Trace) -> int:
    """Simulate Go's reader holding back a thread past another thread's
    later reuse of a slot it frees, on a real trace with several threads:
    the interpretation is that of the trace as written, while the reader's
    order alone would leave a free unmatched.  Returns how many cases."""
    raw = fx.raw(t, "AllocFree")
    af = AllocFree(raw)
    o = af.heap_objects
    free_of, start_of, _ = af._objects_lives()
    pos = np.searchsorted(raw.rows, o["event"])       # position in raw.events
    # A free on one thread whose slot's next start (a new life, whose own
    # free is in the trace) is on another thread.
    srt = np.lexsort((o["seq"], o["slot"]))
    a, b = srt[:-1], srt[1:]
    cand = np.flatnonzero((o["slot"][a] == o["slot"][b]) & (o["action"][a] == Action.FREE)
                          & (o["action"][b] == Action.ALLOC) & (o["offset"][b] == 0)
                          & (o["m"][a] != o["m"][b]) & (free_of[b] >= 0))
    if len(cand) == 0:
        return 0
    want_lt = sorted(map(tuple, af.lifetimes()[["alloc_time", "free_time", "slot", "size",
                                                "type", "existed", "shared"]].tolist()))
    want_heap = af.live_heap()[["time", "bytes", "count"]][-1].tolist()
    for c in cand[:: max(1, len(cand) // 3)][:3]:
        sim = hold_back(raw, int(pos[a[c]]), int(pos[b[c]]))
        got = AllocFree(sim)
        assert len(got.unmatched_frees()) == 0
        assert got.live_heap()[["time", "bytes", "count"]][-1].tolist() == want_heap
        lt = got.lifetimes()[["alloc_time", "free_time", "slot", "size", "type", "existed",
                              "shared"]]
        assert sorted(map(tuple, lt.tolist())) == want_lt
        # Per event, the same slot, size, span and type as in the trace as written.
        go = got.heap_objects
        back = np.searchsorted(raw.rows, go["event"])   # its position in sim.events
        orig = np.argsort(pos)[np.searchsorted(np.sort(pos), sim.perm[back])]
        for col in ("slot", "size", "type", "wire_time", "action"):
            assert np.array_equal(go[col], o[col][orig])
        assert np.array_equal(go["span"] >= 0, o["span"][orig] >= 0)
        for col in ("address", "wire_time"):            # the same span life
            assert np.array_equal(got.spans[col][np.maximum(go["span"], 0)],
                                  af.spans[col][np.maximum(o["span"][orig], 0)])
        # The reader's order alone (its raised times) pairs wrongly.
        blind = object.__new__(fx.RawExperiment)
        blind.__dict__.update(sim.__dict__)
        blind._wire = (sim.events["time"].astype(np.int64), np.zeros(len(sim.events), bool))
        assert len(AllocFree(blind).unmatched_frees()) >= 1
    return len(cand)


# --- live traces --------------------------------------------------------------

@pytest.mark.live
@pytest.mark.parametrize("run", sorted(GCALLOC_RUNS))
@pytest.mark.parametrize("version", LIVE_VERSIONS)
def test_live_allocfree(tmp_path, version, run):
    from tests import gotool

    counts, args = GCALLOC_RUNS[run]
    path = gotool.make_trace(version, "allocfree", tmp_path / "allocfree.trace", args=args)
    assert path is not None
    t = fastrace.read(path)
    af = t.experiment("AllocFree") if hasattr(t, "experiment") else fx.interpret(t, "AllocFree")
    check_tables(t, af)
    check_gcalloc_program(af, *counts)
    # One P: every event within the slack; two Ps: see heap_metric_check.
    heap_metric_check(t, af, share=1.0 if run == "allocfree" else 0.95)
    dump, err, rc = gotool.go_dump(path, "parsed")
    assert rc == 0, err
    check_against_dump(t, dump.decode())
    # Written times against Go's own reader (-d=wire exists from Go 1.25 on).
    wire = None
    if version != "1.23.9":
        out, err, rc = gotool.go_dump(path, "wire", version=version)
        assert rc == 0, err
        wire = out.decode()
    check_wire_times(t, wire)
    if run == "2procs":
        # Several threads: a simulated hold of one by Go's reader.
        assert check_held_back_thread(t) > 0


@pytest.mark.live
@pytest.mark.parametrize("version", LIVE_VERSIONS)
def test_live_allocfree_generations(tmp_path, version):
    """A few seconds of low-rate work under AllocFree: several generations,
    each with its own type table."""
    from tests import gotool

    path = gotool.make_trace(version, "long", tmp_path / "long.trace", allocfree=True)
    assert path is not None
    t = fastrace.read(path)
    assert len(t.generations) >= 3
    af = fx.interpret(t, "AllocFree")
    check_tables(t, af)
    o = af.heap_objects
    # The snapshot and the info batch belong to the first generation only.
    assert np.all(o["generation"][o["action"] == Action.EXISTS] == 0)
    assert af.info["generation"].tolist() == [0]
    # Type ids are per generation: each generation lists its own.
    gens_with_types = set(af.type_ids["generation"].tolist())
    gens_with_typed = set(o["generation"][o["type_id"] != 0].tolist())
    assert gens_with_typed <= gens_with_types
    for i in range(len(t.generations)):
        g = af.generation(i)
        assert np.all(g.heap_objects["generation"] == i)
    # Pieces of fastrace.iter_generations: refused, their raw events are read()'s.
    assert piece_refusal(path) >= len(t.generations)
    check_wire_times(t, None)
    dump, err, rc = gotool.go_dump(path, "parsed")
    assert rc == 0, err
    check_against_dump(t, dump.decode())
