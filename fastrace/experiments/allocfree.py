"""The AllocFree experiment (``GODEBUG=traceallocfree=1``, Go 1.23+).

With the experiment on, the runtime traces the life of heap spans, heap
objects and goroutine stacks.  Each has three events: *exists* (written once,
in a snapshot taken with the world stopped when tracing starts), *alloc* and
*free*.  To keep events small, addresses are written as compact ids::

    span id   = (span base       - min heap address) / page size
    object id = (object address  - min heap address) / min heap alignment
    stack id  = (stack low bound - min heap address) / min stack alignment

and the four constants come in an experimental *info* batch of the first
generation.  Objects carry a type id; every generation ends with experimental
*type* batches listing the types its events used (id, runtime address, size,
pointer bytes, name).  Ids are per generation; a type's runtime address is
stable, so this module merges the generations' tables into one.

Usage::

    import fastrace
    from fastrace.experiments import interpret
    af = interpret(fastrace.read("trace.out"), "AllocFree")
    af.heap_objects          # one row per object event
    af.top_types(10)         # what allocates the most
    af.live_heap()           # live heap bytes after each change

The interpreter needs a whole trace (:func:`fastrace.read`): on a piece of
:func:`fastrace.iter_generations` it raises
:class:`~fastrace.experiments.WholeTraceRequiredError` (an object's free
can come in any later piece, and only the first generation has the
snapshot), and on a trace without AllocFree data
:class:`~fastrace.experiments.ExperimentMissingError` (the program did not
run with ``GODEBUG=traceallocfree=1``, or its Go is older than 1.23).

Tables (numpy structured arrays; ``time`` in ns like ``Trace.events``;
``wire_time`` the time the runtime wrote the event, ns on the same clock
(see "Order" below); ``g``, ``p``, ``m`` the event's context, -1 = none;
``event`` its row in ``Trace.events``; ``seq`` its rank among the trace's
AllocFree events in the order the runtime wrote them; ``generation`` its
row in ``Trace.generations``; ``action`` an :class:`Action`):

- ``info``: the info batch: ``min_heap_addr``, ``page_size``, ``heap_align``,
  ``stack_align`` (one row; none if the trace lacks it, see below).
- ``types``: one row per runtime type: ``address``, ``size``, ``ptr_bytes``,
  ``name`` (str), and ``generation``/``id`` where it was first listed.
  ``type_ids``: every (``generation``, ``id``) -> ``type`` (row in ``types``).
- ``spans``: ``address`` (base), ``id``, ``npages``, ``bytes``,
  ``kindclass`` (as written), ``kind`` (:class:`SpanKind`), ``class`` (span
  class = size class << 1 | noscan), ``sizeclass``, ``noscan``, ``elemsize``
  (slot size: the size class's, or the whole span for size class 0),
  ``pair`` (row of the other end of the span's life: its free for an
  exists/alloc row, its exists/alloc for a free row; -1 if outside the
  trace) and ``ended_by`` (for an exists/alloc row whose free was never
  written, see below: the row of the later span that took its memory; -1
  normally).  A free row copies ``npages``...``elemsize`` from its pair.
- ``heap_objects``: ``address`` (decoded from the id exactly as written),
  ``id``, ``slot`` (start of the heap slot holding ``address``), ``offset``
  (``address - slot``: 8 for objects with a malloc header, whose alloc event
  gives the address after the header; other non-zero values are tiny
  allocations sharing a 16-byte block), ``size`` (slot bytes, from the span:
  what the object occupies in the heap), ``span`` (row in ``spans`` of the
  span's exists/alloc; -1 if not found), ``type`` (row in ``types``; -1 =
  no type given, always so for frees), ``type_id`` (as written).
- ``goroutine_stacks``: ``address``, ``id``, ``order`` (as written: the bit
  length of the stack size, so ``size = 1 << (order - 1)``; 0 = a goroutine
  without a stack, listed by the snapshot with address 0), ``size``, ``span``
  (row in ``spans`` of the manual span holding it), ``pair`` and
  ``ended_by`` (as for spans).

Derived: :meth:`AllocFree.lifetimes`, :meth:`~AllocFree.live_heap`,
:meth:`~AllocFree.alloc_by_type` / :meth:`~AllocFree.top_types`,
:meth:`~AllocFree.alloc_rate`, :meth:`~AllocFree.stack_memory`; all of them
also per generation via :meth:`AllocFree.generation`.

Byte accounting follows the runtime's: an object takes its whole slot, and
a tiny block (several small pointer-free allocations packed into one 16-byte
slot) counts once, when its first allocation takes the slot.  The live heap
matches the runtime's own heap metric at every mark termination once the
garbage that cycle's sweep frees later is taken off (to 384 bytes in all our
test traces; see tests/test_experiments.py).

Order.  The runtime writes a free before it lets the memory go (the sweeper
writes an object's free before it turns the span's mark bits into its
allocation bits, the heap a span's free before it takes the heap lock to
release the pages, the stack allocator a stack's free before it returns
it) and an allocation after it took the memory, each with a timestamp
read at that moment from a clock all threads share (``nanotime`` in 64 ns
ticks; on Windows the processor's time-stamp counter).  So in the order of
those timestamps each slot, span and stack goes start, free, start, free
(a tiny block: several starts, one free).  The order of ``Trace.events`` is
not always that order: Go's reader takes each thread's events in the order
the thread wrote them, and when one of them must wait for another thread's
event (a goroutine starts on this thread before the trace shows it woken,
when the waking thread was descheduled between waking it and writing the
event), all of that thread's later events wait too, behind events that
other threads wrote after them; their times are raised to keep times
increasing.  Go's reader held AllocFree
events back by up to 41 ms in our traces of a loaded machine: a free held
back past another thread's reuse of the slot comes out after the reuse.
The interpreter therefore pairs, finds spans and builds every curve in the
order of ``wire_time`` (``seq``: generation, then ``wire_time``; in one
clock tick a free first), which the ``wire_time_known`` attribute says
was fully recovered (see :func:`fastrace.experiments.wire_times`).

What the trace cannot be trusted for:

- Go 1.23's runtime writes span and stack events with ``traceTryAcquire``,
  which drops the event when the thread is already inside the tracer, so
  spans and stacks may be freed without an event (Go 1.25 switched to the
  reentrant ``traceAcquire``; object events use it in every version).  A
  span or stack over the memory of one still live ends it: see the
  ``ended_by`` columns.
- Traces without their first generation (flight-recorder snapshots keep
  only recent ones) lack the snapshot and the info batch: ``info`` is then
  empty, addresses are relative to the unknown minimum heap address
  (computed with page size 8192 and alignments 8 and 2048, the values of
  every supported Go release on 64-bit Linux), and objects older than the
  trace are not counted.
"""

from __future__ import annotations

import enum

import numpy as np

from fastrace import limits
from fastrace import spec as _spec
from fastrace._analysis import pack_columns, pair_lives
from fastrace._varint import uvarint as _read_uvarint
from fastrace.errors import TraceFormatError
from fastrace.experiments import (ExperimentMissingError, RawExperiment,
                                  WholeTraceRequiredError, _REGISTRY, is_piece)

__all__ = ["AllocFree", "Action", "SpanKind", "SIZE_CLASS_BYTES", "parse_batches"]


class Action(enum.IntEnum):
    """Column ``action`` of the event tables."""

    EXISTS = 0   # there when tracing started (the snapshot)
    ALLOC = 1
    FREE = 2


class SpanKind(enum.IntEnum):
    """Column ``kind`` of ``spans``."""

    HEAP = 0     # an in-use heap span: ``class`` is valid (kindclass = class << 1)
    OTHER = 1    # any other span (stacks and other manually managed memory): kindclass = 1
    UNKNOWN = 2  # a free whose span was never seen alive in the trace


# Bytes per object of each size class (index = size class; 0 = large objects,
# one per span).  The same table in Go 1.23 through 1.27 (runtime/sizeclasses.go,
# internal/runtime/gc/sizeclasses.go since 1.25), for 8 KiB pages.
SIZE_CLASS_BYTES = np.array([
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
    240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896,
    1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456,
    4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
    12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264,
    28672, 32768], dtype=np.uint64)

# Experimental batch kinds (the first byte of each batch).
_TYPES_BATCH = 0
_INFO_BATCH = 1

# Used when the info batch is missing (see the module docstring).
_DEFAULT_INFO = (0, 8192, 8, 2048)

_CODES = {name: _spec.BY_NAME[name].code for name in (
    "Span", "SpanAlloc", "SpanFree", "HeapObject", "HeapObjectAlloc", "HeapObjectFree",
    "GoroutineStack", "GoroutineStackAlloc", "GoroutineStackFree")}

_CONTEXT = [("time", "<i8"), ("wire_time", "<i8"), ("g", "<i8"), ("p", "<i8"), ("m", "<i8"),
            ("event", "<i8"), ("seq", "<i8"), ("generation", "<u4"), ("action", "u1")]

INFO_DTYPE = np.dtype([("min_heap_addr", "<u8"), ("page_size", "<u8"),
                       ("heap_align", "<u8"), ("stack_align", "<u8"),
                       ("generation", "<u4")])
TYPE_DTYPE = np.dtype([("address", "<u8"), ("size", "<u8"), ("ptr_bytes", "<u8"),
                       ("name", "O"), ("generation", "<u4"), ("id", "<u8")])
TYPE_ID_DTYPE = np.dtype([("generation", "<u4"), ("id", "<u8"), ("type", "<i8")])
SPAN_DTYPE = np.dtype(_CONTEXT + [
    ("address", "<u8"), ("id", "<u8"), ("npages", "<u8"), ("bytes", "<u8"),
    ("kindclass", "<u8"), ("kind", "u1"), ("class", "u1"), ("sizeclass", "u1"),
    ("noscan", "?"), ("elemsize", "<u8"), ("pair", "<i8"), ("ended_by", "<i8")])
OBJECT_DTYPE = np.dtype(_CONTEXT + [
    ("address", "<u8"), ("id", "<u8"), ("slot", "<u8"), ("offset", "<u8"),
    ("size", "<u8"), ("span", "<i8"), ("type", "<i8"), ("type_id", "<u8")])
STACK_DTYPE = np.dtype(_CONTEXT + [
    ("address", "<u8"), ("id", "<u8"), ("order", "u1"), ("size", "<u8"),
    ("span", "<i8"), ("pair", "<i8"), ("ended_by", "<i8")])
LIFETIME_DTYPE = np.dtype([
    ("alloc_time", "<i8"), ("free_time", "<i8"), ("address", "<u8"), ("slot", "<u8"),
    ("size", "<u8"), ("type", "<i8"), ("existed", "?"), ("shared", "?"),
    ("alloc", "<i8"), ("free", "<i8"), ("generation", "<u4")])
CURVE_DTYPE = np.dtype([("time", "<i8"), ("bytes", "<i8"), ("count", "<i8"),
                        ("generation", "<u4")])
TYPE_CURVE_DTYPE = np.dtype([("time", "<i8"), ("type", "<i8"), ("bytes", "<i8"),
                             ("count", "<i8"), ("generation", "<u4")])
BY_TYPE_DTYPE = np.dtype([("type", "<i8"), ("name", "O"), ("count", "<i8"), ("bytes", "<i8"),
                          ("count_per_s", "<f8"), ("bytes_per_s", "<f8"),
                          ("live_count", "<i8"), ("live_bytes", "<i8")])
RATE_DTYPE = np.dtype([("time", "<i8"), ("count", "<i8"), ("bytes", "<i8")])


# --- experimental batches ---------------------------------------------------

def _batch_error(problem: str, offset: int | None) -> TraceFormatError:
    return TraceFormatError(f"AllocFree batch: {problem}", offset=offset)


def _uvarint(data: bytes, i: int, base: int | None) -> tuple[int, int]:
    """The varint at ``data[i:]`` and the position after it, read by the
    wire decoder's own reader (at most 10 bytes, the 10th holding only the
    top bit of a uint64).  ``base``: file offset of ``data`` (None if
    unknown), for the error."""
    try:
        return _read_uvarint(data, i)
    except TraceFormatError as e:
        where = None if base is None else base + i
        raise _batch_error(e.problem, where) from None


def parse_batches(batches) -> tuple[np.ndarray, list[tuple]]:
    """Decode AllocFree experimental batches (:class:`ExpBatch` items, or
    ``(generation, m, data)`` tuples).

    Returns ``(info, types)``: the info rows (``INFO_DTYPE``) and a list of
    ``(generation, id, address, size, ptr_bytes, name)`` type records.
    Raises :class:`fastrace.TraceFormatError` for malformed batches, with
    the byte offset in the input where known."""
    info, types = [], []
    for b in batches:
        gen, data = int(b[0]), b[2]   # ExpBatch fields by position
        base = int(b[3]) if len(b) > 3 and int(b[3]) >= 0 else None
        if not data:
            continue
        kind, i = data[0], 1
        if kind == _INFO_BATCH:
            vals = []
            while i < len(data) and len(vals) < 4:
                v, i = _uvarint(data, i, base)
                vals.append(v)
            if len(vals) < 4:
                raise _batch_error(f"info batch holds {len(vals)} values, not 4", base)
            # Addresses are divided by the page size and the stack alignment
            # (and ids multiplied by the heap alignment): the runtime never
            # writes 0 for any of them.
            for k, what in ((1, "page size"), (2, "heap alignment"), (3, "stack alignment")):
                if vals[k] == 0:
                    raise _batch_error(f"info batch gives a {what} of 0", base)
            info.append((*vals, gen))
        elif kind == _TYPES_BATCH:
            while i < len(data):
                tid, i = _uvarint(data, i, base)
                addr, i = _uvarint(data, i, base)
                size, i = _uvarint(data, i, base)
                ptr, i = _uvarint(data, i, base)
                at = i
                n, i = _uvarint(data, i, base)
                if n > len(data) - i:
                    raise _batch_error(f"type name of {n} bytes but only {len(data) - i} remain",
                                       None if base is None else base + at)
                name = data[i:i + n].decode("utf-8", "replace")
                i += n
                types.append((gen, tid, addr, size, ptr, name))
        else:
            raise _batch_error(f"unknown batch kind {kind}", base)
    return np.array(info, dtype=INFO_DTYPE), types


# --- vectorised helpers -----------------------------------------------------

def _rank_order(rank: np.ndarray) -> np.ndarray:
    """The positions of ``rank`` (distinct integers from 0, such as the
    ``seq`` column) from the lowest rank to the highest: each position
    dropped at its rank, in one pass, instead of a sort (0.5-0.8 s for the
    8 M object events of a 61 MB trace).  Falls back to a sort for ranks
    that are not distinct or spread far wider than their number."""
    n = len(rank)
    if n == 0:
        return np.zeros(0, np.int64)
    lo, top = int(rank.min()), int(rank.max()) + 1
    if lo >= 0 and top <= 4 * n + 1024:
        at = np.full(top, -1, np.int64)
        at[rank] = np.arange(n)
        out = at[at >= 0]
        if len(out) == n:
            return out
    return np.argsort(rank, kind="stable")


def _pairs(keys: np.ndarray, order: np.ndarray, action: np.ndarray, shared: bool):
    """Match starts (exists/alloc) with frees of the same key, taking the
    events in ``order`` (their ``seq``: the order the runtime wrote them,
    see the module docstring).

    Returns ``(free_of, start_of, prev)``: for each start, the row of the
    free ending its life (-1 if none); for each free, the row of the start it
    ends (-1 if unmatched); for each start, the row of a start of the same
    key still open when it happened (-1 if none).

    With ``shared`` (heap slots), a start into an open key joins that life
    (a further allocation in a live tiny block): every start of the run
    gets the run's free, and the free is paired with the run's first start.
    Without (spans and stacks), a start into an open key replaces it (the
    runtime lost the free, see the module docstring): the free is paired
    with the last start.  One pass in C (``_analysis.pair_lives``)."""
    return pair_lives(keys, _rank_order(order), action == Action.FREE, shared)


_LOOKUP_CHUNK = 1 << 20
"""Addresses looked up at a time in _find_spans and _slots."""

_CELL_BYTES = 96
"""Bytes of temporary arrays per (life, cell) pair in _ended_by and
_find_spans: about a dozen int64 arrays of that length at their peak."""


def _segments(first: np.ndarray, n: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell ranges ``first[i] .. first[i] + n[i] - 1`` (pages, or stack
    cells) renumbered by segment: the cells cut at every range's first and
    end cell, so that every range covers whole segments, and two ranges
    share a cell exactly when they share a segment.  Returns each range's
    first segment and number of segments, and the cuts (for
    :func:`_segment_of`).  Expanding ranges segment by segment instead
    of cell by cell gives the same answers in memory that grows with the
    number of ranges, not with their sizes (a damaged span of 2**30 pages
    is a few segments).  A range that starts below 0 or past 2**62 cells,
    or is longer than that, is taken as empty: no trace has one."""
    first = first.astype(np.int64)
    n = n.astype(np.int64)
    n = np.where((first >= 0) & (first <= 2**62) & (n > 0) & (n <= 2**62), n, 0)
    ends = first + n
    cuts = np.unique(np.concatenate([first, ends]))
    seg = np.searchsorted(cuts, first)
    return seg, np.searchsorted(cuts, ends) - seg, cuts


def _segment_of(cuts: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """The segment (of :func:`_segments`) holding each of ``cells``; -1
    for a cell in none, before the first cut or at or past the last (no
    range holds it).  A range holds a cell exactly when it covers the
    cell's segment, since no range begins or ends inside a segment."""
    at = np.searchsorted(cuts, cells, side="right") - 1
    at[at >= len(cuts) - 1] = -1
    return at


def _check_cells(counts: np.ndarray, what: str) -> None:
    """Refuse (TraceTooLargeError) when expanding lives to one entry per
    cell (``counts`` cells each) would not fit in memory: the counts come
    from the trace, and a damaged size can ask for billions."""
    total = float(np.asarray(counts, dtype=np.float64).sum())
    limits.check_room(total * _CELL_BYTES,
                      f"AllocFree: checking the {what}' lifetimes page by page "
                      f"({total:,.0f} pages or stack cells in all)",
                      "the trace's span or stack sizes are probably damaged; its events are "
                      "in trace.events, the experiment's in "
                      "fastrace.experiments.raw(trace, 'AllocFree')")


def _ended_by(t: np.ndarray, first_cell: np.ndarray, ncells: np.ndarray) -> np.ndarray:
    """For each exists/alloc row of table ``t`` (spans or stacks) covering
    cells ``first_cell .. first_cell + ncells - 1`` (pages, or units of the
    stack alignment): the row of the first later start (in ``seq``)
    taking one of its cells before its free, if any (its free was lost);
    else -1."""
    out = np.full(len(t), -1, np.int64)
    lives = np.flatnonzero((t["action"] != Action.FREE) & (ncells > 0))
    if len(lives) < 2:
        return out
    first, n, _ = _segments(first_cell[lives], ncells[lives])
    _check_cells(n, "spans" if "npages" in t.dtype.names else "goroutine stacks")
    begin = t["seq"][lives]
    pair = t["pair"][lives]
    end = np.where(pair >= 0, t["seq"][np.maximum(pair, 0)], np.iinfo(np.int64).max)
    # One entry per (segment, life); "cell" below is a segment.
    reps = np.repeat(np.arange(len(lives)), n)
    cell = first[reps] + (np.arange(len(reps)) - np.repeat(np.cumsum(n) - n, n))
    o = np.lexsort((begin[reps], cell))
    c, r = cell[o], reps[o]
    same = c[1:] == c[:-1]
    a, b = r[:-1][same], r[1:][same]          # b is the next life on a's cell
    hit = end[a] > begin[b]
    a, b = a[hit], b[hit]
    if len(a):
        o = np.lexsort((begin[b], a))
        a, b = a[o], b[o]
        first = np.r_[True, a[1:] != a[:-1]]
        out[lives[a[first]]] = lives[b[first]]
    return out


def _find_spans(spans: np.ndarray, page_size: int, min_addr: int,
                addr: np.ndarray, row: np.ndarray, kinds) -> tuple[np.ndarray, np.ndarray]:
    """Rows in ``spans`` (exists/alloc rows) of the spans of kind in ``kinds``
    holding address ``addr[i]`` when the event of ``seq`` ``row[i]``
    happened: the latest one begun, and the one before it on the same page
    if that is not ended yet either (not seen in real traces, where a
    span's life ends before the next one on its pages begins); -1 where
    none."""
    out = np.full(len(addr), -1, np.int64)
    out2 = out.copy()
    starts = np.flatnonzero((spans["action"] != Action.FREE) & np.isin(spans["kind"], kinds))
    if len(addr) == 0 or len(starts) == 0:
        return out, out2
    st = spans[starts]
    begin = st["seq"]
    pair, ended = st["pair"], st["ended_by"]
    end = np.where(pair >= 0, spans["seq"][np.maximum(pair, 0)], np.iinfo(np.int64).max)
    end = np.where(ended >= 0, np.minimum(end, spans["seq"][np.maximum(ended, 0)]), end)
    # Pages renumbered by segment (_segments): one entry per (segment,
    # span life), sorted by (segment, begin); an address is looked up in
    # its page's segment.
    first, npages, cuts = _segments(st["id"], st["npages"])
    _check_cells(npages, "spans")
    reps = np.repeat(np.arange(len(st)), npages)
    if len(reps) == 0:
        return out, out2                          # spans of no pages
    cp = first[reps] + (np.arange(len(reps)) - np.repeat(np.cumsum(npages) - npages, npages))
    # (segment, event row) as one int64 sort key.
    scale = int(max(begin.max(), row.max())) + 1
    if len(cuts) * scale >= 2 ** 62:
        raise TraceFormatError(f"AllocFree: {len(addr) + 2 * len(st):,} address ranges and "
                               f"{scale:,} events are too many for the span lookup")
    key = cp.astype(np.int64) * scale + begin[reps]
    srt = np.argsort(key, kind="stable")
    key = key[srt]
    # The addresses a chunk at a time: a dozen temporary arrays of the
    # 8 M object events of a 61 MB trace were 750 MB.
    for lo in range(0, len(addr), _LOOKUP_CHUNK):
        hi = lo + _LOOKUP_CHUNK
        at = row[lo:hi]
        qpage = ((addr[lo:hi] - np.uint64(min_addr)) // np.uint64(page_size)).astype(np.int64)
        cq = _segment_of(cuts, qpage)
        j = np.searchsorted(key, cq * scale + at, side="right") - 1
        for res, jj in ((out[lo:hi], j), (out2[lo:hi], j - 1)):
            ok = jj >= 0
            jj = np.maximum(jj, 0)
            cand = reps[srt[jj]]
            ok &= (key[jj] // scale) == cq        # the same segment
            ok &= end[cand] > at                  # not freed yet
            res[ok] = starts[cand[ok]]
    return out, out2


def _written_order(raw: RawExperiment) -> np.ndarray:
    """Rank of each event of ``raw`` in the order the runtime wrote them:
    by generation, then written time (``raw.wire_time``); in the same clock
    tick a free before a start (the runtime writes a free before it lets
    the memory go and an allocation after it took it), then trace order."""
    code = raw.column("type")
    is_free = np.isin(code, [_CODES[n] for n in ("SpanFree", "HeapObjectFree",
                                                  "GoroutineStackFree")])
    # lexsort is stable: events equal in all three keys stay in trace order.
    srt = np.lexsort((~is_free, raw.wire_time, raw.generations))
    order = np.empty(len(srt), np.int64)
    order[srt] = np.arange(len(srt))
    return order


def _family(raw: RawExperiment, code: np.ndarray, order: np.ndarray, first: str,
            align: int, min_addr: int) -> tuple[dict, np.ndarray]:
    """The columns of one family of events (``first`` is its "exists"
    event; the alloc and free events follow it in code order): context,
    action, id and address, as a dict of contiguous arrays for
    :func:`_table`; and ``sel``, the family's positions in ``raw``'s events
    (for ``raw.arg(k, sel)``).  ``order``: :func:`_written_order` of
    ``raw``.  The columns are gathered one by one from ``raw``, not
    through a copy of its rows (56 bytes a row: 460 MB for the 8 M object
    events of a 61 MB trace)."""
    base = _CODES[first]
    sel = np.flatnonzero((code >= base) & (code <= base + 2))
    ident = raw.arg(0, sel)
    cols = {
        "time": raw.column("time", sel),
        "wire_time": raw.wire_time[sel],
        "g": raw.column("g", sel),
        "p": raw.column("p", sel),
        "m": raw.trace.threads[raw.column("m", sel)],   # thread ids, not rows of Trace.threads
        "event": raw.rows[sel],
        "seq": order[sel],
        "generation": raw.generations[sel],
        "action": (code[sel] - base).astype(np.uint8),
        "id": ident,
        "address": ident * np.uint64(align) + np.uint64(min_addr),
    }
    return cols, sel


def _table(dtype: np.dtype, cols: dict) -> np.ndarray:
    """A table of ``dtype`` holding ``cols`` (name -> column; other fields
    0), written row by row in C (``_analysis.pack_columns``): column by
    column, numpy would touch every wide row once per column."""
    n = len(next(iter(cols.values()))) if cols else 0
    t = np.zeros(n, dtype)
    pack_columns(t, cols)
    return t


def _group_cumsum(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sums of ``values`` within each ``group``, in input order."""
    if len(group) and -2**15 <= int(group.min()) and int(group.max()) < 2**15:
        group = group.astype(np.int16)   # numpy sorts 16-bit keys by radix, in one pass
    srt = np.argsort(group, kind="stable")
    g, v = group[srt], values[srt]
    c = np.cumsum(v)
    first = np.r_[True, g[1:] != g[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(len(g)), 0))
    c = c - (c[base] - v[base])
    out = np.empty_like(c)
    out[srt] = c
    return out


# --- the interpreter --------------------------------------------------------

def _check_usable(raw: RawExperiment) -> None:
    """Refuse what the interpreter cannot answer right: a piece of
    iter_generations, or a trace without the experiment."""
    trace = raw.trace
    version = getattr(trace, "version", None)
    if is_piece(trace):
        raise WholeTraceRequiredError(
            "the AllocFree interpreter needs the whole trace, not a piece of "
            "fastrace.iter_generations (this one starts at row "
            f"{trace.first_row}): an object is freed in any later piece, and only "
            "the first generation lists what existed when tracing started.  Use "
            "fastrace.read(path).experiment('AllocFree'); "
            "fastrace.experiments.raw(piece, 'AllocFree') gives a piece's own events",
            experiment="AllocFree", version=version)
    if len(raw.rows) == 0 and len(raw.batches) == 0:
        if version is not None and version < 23:
            why = (f"it is a go 1.{version} trace, and the runtime writes AllocFree "
                   "events from Go 1.23 on, when the program runs with "
                   "GODEBUG=traceallocfree=1")
        else:
            why = ("it was not written with GODEBUG=traceallocfree=1 (the runtime's "
                   "AllocFree experiment, in Go 1.23 and later): run the traced program "
                   "with that setting")
        raise ExperimentMissingError(f"no AllocFree events or batches in this trace: {why}",
                                     experiment="AllocFree", version=version)


class AllocFree:
    """Interpretation of the AllocFree experiment of one trace (see the
    module docstring for the tables).  Built by
    ``fastrace.experiments.interpret(trace, "AllocFree")`` or
    ``trace.experiment("AllocFree")``.

    Besides the tables: ``info_present`` (the trace has the info batch,
    i.e. its first generation), ``wire_time_known`` (every event's written
    time was recovered, so ``seq`` is the order the runtime wrote the
    events in; False only for traces whose bytes could not be read again,
    e.g. a generation Go's reader stopped in), ``min_heap_addr``,
    ``page_size``, ``heap_align``, ``stack_align`` (from ``info``, or the
    defaults of the module docstring)."""

    def __init__(self, raw: RawExperiment):
        _check_usable(raw)
        self.raw = raw
        self.trace = raw.trace
        self.info, type_records = parse_batches(raw.batches)
        self.info_present = len(self.info) > 0
        if self.info_present:
            r = self.info[0]
            mn, ps, ha, sa = (int(r[f]) for f in ("min_heap_addr", "page_size",
                                                  "heap_align", "stack_align"))
        else:
            mn, ps, ha, sa = _DEFAULT_INFO
        self.min_heap_addr, self.page_size, self.heap_align, self.stack_align = mn, ps, ha, sa
        self._build_types(type_records)
        code = raw.column("type")
        order = _written_order(raw)
        self.wire_time_known = bool(raw.wire_time_known.all())
        self.spans = self._build_spans(raw, code, order)
        self.heap_objects = self._build_objects(raw, code, order)
        self.goroutine_stacks = self._build_stacks(raw, code, order)
        self._cache: dict = {}

    # -- tables --

    def _build_types(self, records) -> None:
        index: dict[tuple[int, str], int] = {}
        rows, ids = [], []
        for gen, tid, addr, size, ptr, name in records:
            k = (addr, name)
            t = index.get(k)
            if t is None:
                t = index[k] = len(rows)
                rows.append((addr, size, ptr, name, gen, tid))
            ids.append((gen, tid, t))
        types = np.zeros(len(rows), TYPE_DTYPE)
        for i, r in enumerate(rows):  # object fields need item assignment
            types[i] = r
        self.types = types
        self.type_ids = np.array(ids, dtype=TYPE_ID_DTYPE)
        self._type_key = (self.type_ids["generation"].astype(np.uint64) << np.uint64(32)) \
            | self.type_ids["id"]
        srt = np.argsort(self._type_key, kind="stable")
        self._type_key, self._type_row = self._type_key[srt], self.type_ids["type"][srt]

    def _type_rows(self, gen: np.ndarray, tid: np.ndarray) -> np.ndarray:
        out = np.full(len(tid), -1, np.int64)
        if len(self._type_key) == 0 or len(tid) == 0:
            return out
        typed = np.flatnonzero(tid != 0)        # 0: no type (and every free)
        q = (gen[typed].astype(np.uint64) << np.uint64(32)) | tid[typed]
        j = np.minimum(np.searchsorted(self._type_key, q), len(self._type_key) - 1)
        ok = self._type_key[j] == q
        out[typed[ok]] = self._type_row[j[ok]]
        return out

    def _build_spans(self, raw, code, order) -> np.ndarray:
        cols, sel = _family(raw, code, order, "Span", self.page_size, self.min_heap_addr)
        s = _table(SPAN_DTYPE, cols)
        start = s["action"] != Action.FREE
        kc = raw.arg(2, sel)
        s["npages"][start] = raw.arg(1, sel)[start]
        s["kindclass"][start] = kc[start]
        heap = start & (kc & np.uint64(1) == 0)
        s["kind"] = SpanKind.UNKNOWN
        s["kind"][start] = SpanKind.OTHER
        s["kind"][heap] = SpanKind.HEAP
        spc = (kc >> np.uint64(1)) & np.uint64(0xFF)
        s["class"][heap] = spc[heap]
        s["sizeclass"][heap] = spc[heap] >> np.uint64(1)
        s["noscan"][heap] = (spc[heap] & np.uint64(1)) == 1
        sc = s["sizeclass"].astype(np.intp)
        in_table = heap & (sc < len(SIZE_CLASS_BYTES))
        s["bytes"] = s["npages"] * np.uint64(self.page_size)
        s["elemsize"][in_table] = SIZE_CLASS_BYTES[sc[in_table]]
        large = heap & (sc == 0)
        s["elemsize"][large] = s["bytes"][large]
        free_of, start_of, _ = _pairs(s["address"], s["seq"], s["action"], shared=False)
        s["pair"] = np.where(start, free_of, start_of)
        s["ended_by"] = _ended_by(s, s["id"].astype(np.int64), s["npages"].astype(np.int64))
        # A free row describes the span it ends.
        fr = np.flatnonzero(~start & (start_of >= 0))
        for f in ("npages", "bytes", "kindclass", "kind", "class", "sizeclass", "noscan", "elemsize"):
            s[f][fr] = s[f][start_of[fr]]
        return s

    def _build_objects(self, raw, code, order) -> np.ndarray:
        # The 8 M rows of a 61 MB trace are 1 GB as a table: columns are
        # computed on their own and written into it in two passes, the
        # context first (then dropped), the rest at the end.
        cols, sel = _family(raw, code, order, "HeapObject", self.heap_align, self.min_heap_addr)
        o = _table(OBJECT_DTYPE, cols)
        start = cols["action"] != Action.FREE
        address, seq, generation = cols["address"], cols["seq"], cols["generation"]
        del cols
        type_id = np.where(start, raw.arg(1, sel), np.uint64(0))
        span, other = _find_spans(self.spans, self.page_size, self.min_heap_addr,
                                  address, seq, [SpanKind.HEAP])
        slot, size = self._slots(address, span)
        # Where two spans qualify, take the older one if only it fits the event.
        alt = np.flatnonzero(other >= 0)
        if len(alt):
            a_addr, a_start = address[alt], start[alt]
            a_slot, a_size = self._slots(a_addr, other[alt])
            bad = ~self._fits(a_addr, a_start, slot[alt], size[alt], span[alt])
            good = self._fits(a_addr, a_start, a_slot, a_size, other[alt])
            use = bad & good
            span[alt[use]], slot[alt[use]], size[alt[use]] = other[alt[use]], a_slot[use], a_size[use]
        pack_columns(o, {"type_id": type_id, "type": self._type_rows(generation, type_id),
                         "span": span, "slot": slot, "size": size, "offset": address - slot})
        return o

    def _slots(self, address: np.ndarray, span: np.ndarray):
        """Slot start and size of each object at ``address`` in heap span row
        ``span`` (-1: unknown: the address itself, size 0)."""
        slot = address.copy()
        elem = np.zeros(len(address), np.uint64)
        if len(self.spans) == 0:
            return slot, elem
        for lo in range(0, len(address), _LOOKUP_CHUNK):    # few temporaries at a time
            hi = lo + _LOOKUP_CHUNK
            i = span[lo:hi]
            known = np.flatnonzero(i >= 0)
            e = elem[lo:hi]
            e[known] = self.spans["elemsize"][i[known]]
            sized = np.flatnonzero(e > 0)
            base, es = self.spans["address"][i[sized]], e[sized]
            s = slot[lo:hi]
            s[sized] = base + (s[sized] - base) // es * es
        return slot, elem

    def _fits(self, address, start, slot, size, span) -> np.ndarray:
        """Whether each object event (an exists/alloc where ``start``) is
        possible at that slot: frees name slot starts; allocations may be 8
        bytes in (after a malloc header, in pointerful small-object slots
        over 512 bytes) or anywhere in a 16-byte tiny block."""
        off = address - slot
        i = np.maximum(span, 0)
        noscan = self.spans["noscan"][i]
        header = (off == 8) & (size > 512) & (self.spans["sizeclass"][i] > 0) & ~noscan
        tiny = (size == 16) & noscan
        ok = (off == 0) | (start & (header | tiny))
        return ok & (span >= 0)

    def _build_stacks(self, raw, code, order) -> np.ndarray:
        cols, sel = _family(raw, code, order, "GoroutineStack", self.stack_align,
                            self.min_heap_addr)
        st = _table(STACK_DTYPE, cols)
        start = st["action"] != Action.FREE
        order = np.where(start, raw.arg(1, sel), 0).astype(np.uint64)
        st["order"] = order
        # The runtime writes the bit length of the (power of two) size.
        shift = np.where(order > 0, order - np.uint64(1), np.uint64(0))
        st["size"] = np.where(order > 0, np.uint64(1) << shift, np.uint64(0))
        # A goroutine without a stack is listed with size 0 (and address 0):
        # keep the row, but give it no lifetime.
        live = ~start | (order > 0)
        rows = np.flatnonzero(live)
        free_of, start_of, _ = _pairs(st["address"][rows], st["seq"][rows],
                                      st["action"][rows], shared=False)

        def back(x):  # rows of the subset -> rows of the table
            return np.where(x >= 0, rows[np.maximum(x, 0)], -1) if len(rows) else x

        st["pair"] = -1
        st["pair"][rows] = np.where(start[rows], back(free_of), back(start_of))
        fr = np.flatnonzero(~start & (st["pair"] >= 0))
        st["order"][fr] = st["order"][st["pair"][fr]]
        st["size"][fr] = st["size"][st["pair"][fr]]
        st["span"] = _find_spans(self.spans, self.page_size, self.min_heap_addr,
                                 st["address"], st["seq"], [SpanKind.OTHER])[0]
        st["span"][~live] = -1
        cell = ((st["address"] - np.uint64(self.min_heap_addr)) // np.uint64(self.stack_align))
        st["ended_by"] = _ended_by(st, cell.astype(np.int64),
                                   np.where(live, st["size"] // np.uint64(self.stack_align), 0)
                                   .astype(np.int64))
        return st

    # -- per generation --

    def generation(self, i: int) -> "AllocFreeGeneration":
        """The tables and derived tables of generation row ``i`` only (derived
        values such as live bytes stay whole-trace values)."""
        return AllocFreeGeneration(self, i)

    # -- derived tables --

    def _objects_lives(self):
        if "pairs" not in self._cache:
            o = self.heap_objects
            free_of, start_of, prev = _pairs(o["slot"], o["seq"], o["action"], shared=True)
            self._cache["pairs"] = (free_of, start_of, prev >= 0)
        return self._cache["pairs"]

    def lifetimes(self, generation: int | None = None) -> np.ndarray:
        """One row per object exists/alloc event (``LIFETIME_DTYPE``):
        ``alloc_time`` (the snapshot's time for ``existed`` objects),
        ``free_time`` (-1: still live when the trace ends; both times are
        the events' ``wire_time``), ``address`` (as
        written), ``slot``, ``size`` (slot bytes), ``type`` (row in
        ``types``), ``shared`` (a tiny allocation into an already live
        16-byte block: its memory is counted by the allocation that opened
        the block), ``alloc``/``free`` (rows in ``heap_objects``; free -1),
        ``generation`` (of the allocation)."""
        o = self.heap_objects
        free_of, _, shared = self._objects_lives()
        rows = np.flatnonzero(o["action"] != Action.FREE)
        if generation is not None:
            rows = rows[o["generation"][rows] == generation]
        f = free_of[rows]
        cols = {k: o[k][rows] for k in ("address", "slot", "size", "type", "generation")}
        cols.update(alloc_time=o["wire_time"][rows],
                    free_time=np.where(f >= 0, o["wire_time"][np.maximum(f, 0)], -1),
                    existed=o["action"][rows] == Action.EXISTS, shared=shared[rows],
                    alloc=rows, free=f)
        return _table(LIFETIME_DTYPE, cols)

    def unmatched_frees(self) -> np.ndarray:
        """Rows of ``heap_objects`` freeing a slot that the trace never saw
        allocated or existing before, in the order the runtime wrote the
        events (``seq``).  None in traces that start with the snapshot
        (``info`` not empty) when that order is known
        (``wire_time_known``): the runtime writes a free before the slot can
        be allocated again and an allocation after it took the slot, on one
        clock.  In the order of ``Trace.events`` there can be some (Go's
        reader may show a thread's frees after another thread's later
        allocations of the same slots: see the module docstring)."""
        o = self.heap_objects
        _, start_of, _ = self._objects_lives()
        return np.flatnonzero((o["action"] == Action.FREE) & (start_of < 0))

    def _deltas(self):
        """Per ``heap_objects`` row: change of live bytes and objects, and the type."""
        if "deltas" not in self._cache:
            o = self.heap_objects
            free_of, start_of, shared = self._objects_lives()
            size = o["size"].astype(np.int64)
            typ = o["type"].copy()
            opening = (o["action"] != Action.FREE) & ~shared
            closing = (o["action"] == Action.FREE) & (start_of >= 0)
            db = np.zeros(len(o), np.int64)
            dn = np.zeros(len(o), np.int64)
            db[opening], dn[opening] = size[opening], 1
            s = start_of[closing]
            db[closing], dn[closing] = -size[s], -1
            typ[closing] = o["type"][s]
            self._cache["deltas"] = (db, dn, typ)
        return self._cache["deltas"]

    def live_heap(self, by_type: bool = False, generation: int | None = None) -> np.ndarray:
        """Live heap bytes over time: one row per change, after it, in the
        order the runtime wrote the events (``seq``).

        ``CURVE_DTYPE`` (``time``: the event's ``wire_time``; ``bytes``,
        ``count`` of live objects, ``generation``); with ``by_type``,
        ``TYPE_CURVE_DTYPE`` where ``bytes``/``count`` are those of ``type``
        (row in ``types``, -1 = untyped) after the change.  The first rows
        are the snapshot of the objects that existed when tracing started."""
        o = self.heap_objects
        db, dn, typ = self._deltas()
        rows = self._by_seq()
        rows = rows[(db[rows] != 0) | (dn[rows] != 0)]
        if generation is not None:        # the sums run over the whole trace
            keep = o["generation"][rows] == generation
        cols = {"time": o["wire_time"][rows], "generation": o["generation"][rows]}
        if by_type:
            t = typ[rows]
            cols.update(type=t, bytes=_group_cumsum(t, db[rows]), count=_group_cumsum(t, dn[rows]))
        else:
            cols.update(bytes=np.cumsum(db[rows]), count=np.cumsum(dn[rows]))
        if generation is not None:
            cols = {k: v[keep] for k, v in cols.items()}
        return _table(TYPE_CURVE_DTYPE if by_type else CURVE_DTYPE, cols)

    def _by_seq(self) -> np.ndarray:
        """Rows of ``heap_objects`` in ``seq`` order (the order the runtime
        wrote them)."""
        if "by_seq" not in self._cache:
            self._cache["by_seq"] = _rank_order(self.heap_objects["seq"])
        return self._cache["by_seq"]

    def _duration(self, generation: int | None) -> float:
        ev = self.trace.events
        if len(ev) == 0:
            return 0.0
        if generation is None:
            return float(ev["time"][-1] - ev["time"][0]) / 1e9
        sync = self.trace.generations["sync_row"]
        a = int(sync[generation])
        b = int(sync[generation + 1]) if generation + 1 < len(sync) else len(ev) - 1
        return float(ev["time"][b] - ev["time"][a]) / 1e9

    def type_name(self, t: int) -> str:
        """Name of ``types`` row ``t`` ("(untyped)" for -1)."""
        return "(untyped)" if t < 0 else self.types["name"][t]

    def alloc_by_type(self, generation: int | None = None) -> np.ndarray:
        """Allocations per type (``BY_TYPE_DTYPE``), most bytes first:
        ``count`` of alloc events, ``bytes`` of heap slots they took (tiny
        allocations into a live block add 0), the same per second of trace,
        and ``live_count``/``live_bytes`` still live at the end.  ``type``
        -1 gathers allocations without type information."""
        o = self.heap_objects
        db, dn, typ = self._deltas()
        sel = o["action"] == Action.ALLOC
        if generation is not None:
            sel &= o["generation"] == generation
        ntypes = len(self.types) + 1                  # slot 0: untyped
        ti = typ + 1
        count = np.bincount(ti[sel], minlength=ntypes)
        nbytes = np.bincount(ti[sel], weights=np.maximum(db[sel], 0), minlength=ntypes)
        live_n = np.bincount(ti, weights=dn, minlength=ntypes)
        live_b = np.bincount(ti, weights=db, minlength=ntypes)
        keep = np.flatnonzero(count > 0)
        out = np.zeros(len(keep), BY_TYPE_DTYPE)
        out["type"] = keep - 1
        out["name"] = [self.type_name(int(t)) for t in keep - 1]
        out["count"], out["bytes"] = count[keep], nbytes[keep]
        dur = self._duration(generation)
        if dur > 0:
            out["count_per_s"], out["bytes_per_s"] = out["count"] / dur, out["bytes"] / dur
        out["live_count"], out["live_bytes"] = live_n[keep], live_b[keep]
        return out[np.lexsort((out["type"], -out["count"], -out["bytes"]))]

    def top_types(self, n: int = 10, by: str = "bytes", generation: int | None = None) -> np.ndarray:
        """The ``n`` types that allocated the most ``by`` ("bytes", "count"
        or "live_bytes"); rows of :meth:`alloc_by_type`."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"top_types: n must be a count (0 or more), not {n!r}")
        t = self.alloc_by_type(generation)
        if by not in ("bytes", "count", "live_bytes", "live_count"):
            raise ValueError(f"top_types: by must be bytes, count, live_bytes or live_count, not {by!r}")
        return t[np.argsort(-t[by], kind="stable")][:n]

    def alloc_rate(self, interval: int = 10_000_000, type: int | None = None,
                   generation: int | None = None) -> np.ndarray:
        """Allocations per ``interval`` ns (``RATE_DTYPE``: bin start
        ``time``, ``count``, ``bytes``), optionally of one ``type`` row;
        allocations are binned by ``wire_time``."""
        if isinstance(interval, bool) or not isinstance(interval, (int, np.integer)) \
                or interval <= 0:
            raise ValueError(f"alloc_rate: interval must be a positive number of ns, not "
                             f"{interval!r}")
        interval = int(interval)
        o = self.heap_objects
        db, _, typ = self._deltas()
        sel = o["action"] == Action.ALLOC
        if type is not None:
            sel &= typ == type
        if generation is not None:
            sel &= o["generation"] == generation
        t = o["wire_time"][sel]
        if len(t) == 0:
            return np.zeros(0, RATE_DTYPE)
        t0 = int(t.min())
        if generation is None:
            t0 = min(t0, int(self.trace.events["time"][0]))
        b = (t - t0) // interval
        nb = int(b.max()) + 1
        out = np.zeros(nb, RATE_DTYPE)
        out["time"] = t0 + np.arange(nb) * interval
        out["count"] = np.bincount(b, minlength=nb)
        out["bytes"] = np.bincount(b, weights=np.maximum(db[sel], 0), minlength=nb)
        return out

    def stack_memory(self, generation: int | None = None) -> np.ndarray:
        """Goroutine stack memory over time (``CURVE_DTYPE``: ``time`` (the
        event's ``wire_time``), ``bytes`` and ``count`` of live stacks after
        each change, in ``seq`` order)."""
        st = self.goroutine_stacks
        start = st["action"] != Action.FREE
        size = st["size"].astype(np.int64)
        opening = start & (st["order"] > 0)
        closing = ~start & (st["pair"] >= 0)
        d = np.where(opening, size, 0) - np.where(closing, size, 0)
        dn = opening.astype(np.int64) - closing.astype(np.int64)
        # A life whose free the runtime lost ends where another takes its memory.
        lost = np.flatnonzero(st["ended_by"] >= 0)
        np.subtract.at(d, st["ended_by"][lost], size[lost])
        np.subtract.at(dn, st["ended_by"][lost], 1)
        rows = np.flatnonzero((dn != 0) | (d != 0))
        rows = rows[np.argsort(st["seq"][rows], kind="stable")]
        out = np.zeros(len(rows), CURVE_DTYPE)
        out["time"], out["generation"] = st["wire_time"][rows], st["generation"][rows]
        out["bytes"], out["count"] = np.cumsum(d[rows]), np.cumsum(dn[rows])
        if generation is not None:
            out = out[out["generation"] == generation]
        return out

    def __repr__(self) -> str:
        return (f"<AllocFree: {len(self.spans)} span, {len(self.heap_objects)} object, "
                f"{len(self.goroutine_stacks)} stack events; {len(self.types)} types>")


class AllocFreeGeneration:
    """One generation of an :class:`AllocFree` result: the same tables and
    methods, restricted to rows of generation ``index``."""

    _TABLES = ("spans", "heap_objects", "goroutine_stacks", "type_ids")
    _METHODS = ("lifetimes", "live_heap", "alloc_by_type", "top_types", "alloc_rate",
                "stack_memory")

    def __init__(self, parent: AllocFree, index: int):
        self.parent, self.index = parent, index
        self.info, self.types = parent.info, parent.types
        for name in self._TABLES:
            t = getattr(parent, name)
            setattr(self, name, t[t["generation"] == index])

    def __getattr__(self, name):
        if name in self._METHODS:
            fn = getattr(self.parent, name)
            return lambda *a, **k: fn(*a, generation=self.index, **k)
        return getattr(self.parent, name)

    def __repr__(self) -> str:
        return f"<AllocFree generation {self.index}: {len(self.heap_objects)} object events>"


_REGISTRY.setdefault("AllocFree", AllocFree)
