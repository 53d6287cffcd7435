"""Ranges, garbage collection, minimum mutator utilisation and wall-clock time.

Go's own definitions (Go 1.27.3's ``internal/trace``) computed over the
ordered event table; the per-event passes are C (``fastrace/_gcutil.pxi``):

- :func:`ranges`: every range Go reports (GC concurrent mark phase,
  stop-the-world pauses, incremental sweep, mark assists), paired begin to
  end, with Go's names and scopes (``Event.Range``, ``Event.RangeAttributes``).
- :func:`gc_summary`: GC cycles, pauses, mark assist and sweep totals, heap
  and heap goal over time.
- :func:`mmu_curve` / :func:`mmu`: Go's ``MutatorUtilizationV2`` and
  ``MMUCurve.MMU``, the same numbers ``go tool trace``'s MMU page plots.
- :func:`wall_time`: trace-clock times as wall-clock times, from the clock
  snapshots of Go 1.25+ traces.

Times are ns on the trace clock (``Trace.events["time"]``) unless said
otherwise.  The ``Trace`` methods ``ranges()``, ``gc()``, ``mmu()``,
``mmu_curve()`` and ``wall_time()`` call these.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Iterable, Sequence

import numpy as np

from fastrace import _analysis
from fastrace.errors import TraceError, UnsupportedVersionError

__all__ = [
    "RangeKind",
    "RANGE_NAMES",
    "RANGES_DTYPE",
    "ranges",
    "GCSummary",
    "gc_summary",
    "gc_summary_of_ranges",
    "MMUCurve",
    "mmu_curve",
    "stream_mmu_curve",
    "mmu",
    "DEFAULT_WINDOWS",
    "wall_time",
]


class RangeKind(enum.IntEnum):
    """The ranges of a Go execution trace (the wire event families that make
    them), with Go's name for each (``str(kind)``; stop-the-world ranges add
    their kind: ``stop-the-world (GC mark termination)``)."""

    GC_MARK = 1       # GC concurrent mark phase: global
    SWEEP = 2         # GC incremental sweep: scoped to a P
    MARK_ASSIST = 3   # GC mark assist: scoped to a goroutine
    STW = 4           # stop-the-world (kind): scoped to the goroutine that stopped the world

    def __str__(self) -> str:
        return RANGE_NAMES.get(self, "stop-the-world")


RANGE_NAMES = {
    RangeKind.GC_MARK: "GC concurrent mark phase",
    RangeKind.SWEEP: "GC incremental sweep",
    RangeKind.MARK_ASSIST: "GC mark assist",
}
"""Go's range names (``Range.Name``) of the kinds with a fixed name."""

if {k.name: int(k) for k in RangeKind} != _analysis.RANGE_KINDS:
    raise RuntimeError("fastrace.analysis.gc.RangeKind disagrees with fastrace/_gcutil.pxi")

# The table ranges() returns: Go's name instead of the two C codes it is
# made from (range_kind, stw_kind), the other columns as in RangeRec.
_HIDDEN = ("range_kind", "stw_kind")
RANGES_DTYPE = np.dtype([("name", object)] + [
    (f, _analysis.RANGE_DTYPE.fields[f][0]) for f in _analysis.RANGE_DTYPE.names
    if f not in _HIDDEN])
"""dtype of :func:`ranges`' table (see there for the columns)."""


def _range_names(trace, raw: np.ndarray) -> np.ndarray:
    names = np.empty(len(raw), dtype=object)
    kind = raw["range_kind"]
    for k, name in RANGE_NAMES.items():
        names[kind == k] = name
    stw = kind == RangeKind.STW
    if stw.any():
        rows, inverse = np.unique(raw["stw_kind"][stw], return_inverse=True)
        labels = np.array([f"stop-the-world ({trace.strings.text(int(r))})" for r in rows],
                          dtype=object)
        names[stw] = labels[inverse.reshape(-1)]
    return names




def ranges(trace) -> np.ndarray:
    """Every range of the trace, one row each, ordered by start time (then by
    the order of the events that began them).

    A range is a span Go's reader reports with RangeBegin/RangeActive/
    RangeEnd events; begin and end are paired per (name, scope), since only
    one range of a name can be in flight on a resource.  Columns:

    - ``name`` (str): Go's ``Range.Name``: ``"GC concurrent mark phase"``,
      ``"GC incremental sweep"``, ``"GC mark assist"`` or
      ``"stop-the-world (<kind>)"`` (e.g. ``"stop-the-world (GC mark
      termination)"``, ``"stop-the-world (read mem stats)"``).
    - ``start``, ``end`` (int64 ns): when the range began and ended.  A range
      already in progress where the trace begins (Go reports it with a
      RangeActive event in the first generation) starts at the trace's first
      timestamp, where ``go tool trace`` draws it; a range still in progress
      at the end ends at the trace's last timestamp.  RangeActive events of
      later generations re-report ranges already open and add no rows.
    - ``scope`` (int64): the goroutine (mark assist, stop-the-world) or P
      (sweep) the range belongs to; -1 for global ranges (GC mark phase).
    - ``swept``, ``reclaimed`` (int64 bytes): Go's range attributes "bytes
      swept" and "bytes reclaimed" of sweep ranges that ended in the trace;
      -1 where there are none (other ranges, sweeps open at the end).
    - ``begin_row``, ``end_row`` (int64): rows in ``Trace.events`` of the
      event that began the range (RangeBegin or RangeActive; its stack is the
      range's start stack) and of its RangeEnd; -1 = none.
    - ``scope_kind`` (uint8): :class:`fastrace.kinds.ResourceKind` of
      ``scope``: 0 none (global), 1 goroutine, 2 P.
    - ``clipped_start``, ``clipped_end`` (uint8, 0/1): the range was already
      in progress where the events begin / still in progress at the end, so
      ``start`` / ``end`` is the trace's bound, not the range's.

    On a piece from :func:`fastrace.iter_generations`, the piece's own events
    are used: ranges in flight at its start begin at its first Sync (or first
    event).
    """
    raw = _analysis.range_table(trace.events)
    # np.zeros, not np.empty: numpy initialises the object column of an
    # empty structured array field by field, 10x slower (1.2 s against
    # 0.13 s for 876,000 rows).
    out = np.zeros(len(raw), dtype=RANGES_DTYPE)
    for f in RANGES_DTYPE.names[1:]:
        out[f] = raw[f]
    out["name"] = _range_names(trace, raw)
    return out


# ---------------------------------------------------------------------------
# GC summary.

CYCLES_DTYPE = np.dtype([("start", np.int64), ("end", np.int64), ("duration", np.int64),
                         ("clipped_start", np.uint8), ("clipped_end", np.uint8)])
PAUSES_DTYPE = np.dtype([("kind", object), ("start", np.int64), ("end", np.int64),
                         ("duration", np.int64), ("gc", np.bool_), ("goroutine", np.int64),
                         ("clipped_start", np.uint8), ("clipped_end", np.uint8)])


@dataclasses.dataclass(frozen=True)
class GCSummary:
    """Garbage collection in a trace (:func:`gc_summary`, ``Trace.gc()``).

    - ``cycles``: one row per GC concurrent mark phase (Go's range
      "GC concurrent mark phase"): ``start``, ``end``, ``duration`` (ns;
      ``end - start``), ``clipped_start`` / ``clipped_end`` (1 = the phase
      was already running where the trace begins / still running at its
      end, so the time is the trace's bound).
    - ``pauses``: one row per stop-the-world range, GC or not: ``kind`` (str,
      the runtime's reason, e.g. "GC mark termination", "read mem stats"),
      ``start``, ``end``, ``duration`` (ns), ``gc`` (bool: the kind names GC,
      the test Go's MMU uses to count a pause against the mutator),
      ``goroutine`` (the goroutine that stopped the world; -1 none),
      ``clipped_start``, ``clipped_end`` as above.
    - ``mark_assist_time``, ``sweep_time`` (int ns): total length of all
      "GC mark assist" and of all "GC incremental sweep" ranges (ranges in
      flight at the trace's bounds count up to them).
    - ``mark_assists``, ``sweeps`` (int): how many such ranges.
    - ``heap``: the runtime's live heap metric (HeapAlloc event, Go's
      "/memory/classes/heap/objects:bytes") over time: ``time`` (ns),
      ``value`` (bytes), one row per event.
    - ``heap_goal``: the heap goal (HeapGoal event, "/gc/heap/goal:bytes"):
      ``time``, ``value`` (bytes).
    """

    cycles: np.ndarray
    pauses: np.ndarray
    mark_assist_time: int
    mark_assists: int
    sweep_time: int
    sweeps: int
    heap: np.ndarray
    heap_goal: np.ndarray

    def __str__(self) -> str:
        p = self.pauses
        longest = int(p["duration"].max()) if len(p) else 0
        lines = [
            f"GC cycles: {len(self.cycles)}, mark phases "
            f"{_fmt_ns(int(self.cycles['duration'].sum()))} in all",
            f"stop-the-world pauses: {len(p)} ({int(p['gc'].sum())} for GC), "
            f"{_fmt_ns(int(p['duration'].sum()))} in all, longest {_fmt_ns(longest)}",
            f"mark assists: {self.mark_assists}, {_fmt_ns(self.mark_assist_time)}",
            f"sweeps: {self.sweeps}, {_fmt_ns(self.sweep_time)}",
        ]
        if len(self.heap):
            lines.append(f"heap: {len(self.heap)} samples, "
                         f"peak {int(self.heap['value'].max())} bytes")
        if len(self.heap_goal):
            lines.append(f"heap goal: last {int(self.heap_goal['value'][-1])} bytes")
        return "\n".join(lines)


def gc_summary(trace) -> GCSummary:
    """Cycles, pauses, assist and sweep time, heap and heap goal: see
    :class:`GCSummary`."""
    raw, heap, heap_goal = _analysis.range_table(trace.events, metrics=True)
    return gc_summary_of_ranges(raw, heap, heap_goal, trace.strings)


def gc_summary_of_ranges(raw: np.ndarray, heap: np.ndarray, heap_goal: np.ndarray,
                         strings) -> GCSummary:
    """:func:`gc_summary` from what ``_analysis.range_table(events,
    metrics=True)`` (or a ``RangePass`` fed a trace's pieces) returns, and
    the trace's ``strings``."""
    kind = raw["range_kind"]
    dur = raw["end"] - raw["start"]

    m = raw[kind == RangeKind.GC_MARK]
    cycles = np.empty(len(m), dtype=CYCLES_DTYPE)
    for f in ("start", "end", "clipped_start", "clipped_end"):
        cycles[f] = m[f]
    cycles["duration"] = m["end"] - m["start"]

    s = raw[kind == RangeKind.STW]
    pauses = np.zeros(len(s), dtype=PAUSES_DTYPE)
    for f in ("start", "end", "clipped_start", "clipped_end"):
        pauses[f] = s[f]
    pauses["duration"] = s["end"] - s["start"]
    pauses["goroutine"] = s["scope"]
    if len(s):
        rows, inverse = np.unique(s["stw_kind"], return_inverse=True)
        texts = [strings.text(int(r)) for r in rows]
        inverse = inverse.reshape(-1)
        pauses["kind"] = np.array(texts, dtype=object)[inverse]
        pauses["gc"] = np.array(["GC" in x for x in texts], dtype=bool)[inverse]

    assist = kind == RangeKind.MARK_ASSIST
    sweep = kind == RangeKind.SWEEP
    return GCSummary(
        cycles=cycles, pauses=pauses,
        mark_assist_time=int(dur[assist].sum()), mark_assists=int(assist.sum()),
        sweep_time=int(dur[sweep].sum()), sweeps=int(sweep.sum()),
        heap=heap, heap_goal=heap_goal)


# ---------------------------------------------------------------------------
# Minimum mutator utilisation.

DEFAULT_WINDOWS = tuple(10 ** k for k in range(3, 10))
"""Windows of ``fastrace mmu`` and :func:`mmu` by default: 1 µs to 1 s (ns)."""

# Go's trace.UtilFlags bits.
UTIL_STW, UTIL_BACKGROUND, UTIL_ASSIST, UTIL_SWEEP, UTIL_PER_PROC = 1, 2, 4, 8, 16


def util_flags(*, stw: bool = True, background: bool = True, assist: bool = True,
               sweep: bool = True, per_proc: bool = False) -> int:
    """Go's ``trace.UtilFlags`` value for these switches."""
    return ((UTIL_STW if stw else 0) | (UTIL_BACKGROUND if background else 0)
            | (UTIL_ASSIST if assist else 0) | (UTIL_SWEEP if sweep else 0)
            | (UTIL_PER_PROC if per_proc else 0))


class MMUCurve:
    """Go's mutator utilisation functions and MMU curve for one set of flags.

    - ``series``: list of the utilisation functions Go's
      ``MutatorUtilizationV2`` returns: one for the whole program, or one per
      P (a P removed and added again by GOMAXPROCS changes gets a new one)
      with ``per_proc``.  Each is a structured array with ``time`` (int64 ns)
      and ``util`` (float64): the mean mutator utilisation from ``time`` up
      to the next row (1 = every P runs user code, 0 = none), ending with
      utilisation 0 at the last event of the trace.
    - ``util``, ``bounds``: the same series concatenated; series ``i`` is
      ``util[bounds[i]:bounds[i + 1]]``.
    - ``flags``: Go's ``UtilFlags`` value (1 stw, 2 background, 4 assist,
      8 sweep, 16 per-P).
    - :meth:`mmu`: the minimum mutator utilisation for windows.
    """

    def __init__(self, util: np.ndarray, bounds: np.ndarray, flags: int):
        self.util = util
        self.bounds = bounds
        self.flags = flags
        self._curve = _analysis.MMUCurve(util, bounds)

    @property
    def series(self) -> list[np.ndarray]:
        b = self.bounds
        return [self.util[b[i]:b[i + 1]] for i in range(len(b) - 1)]

    def mmu(self, windows: int | Iterable[int] = DEFAULT_WINDOWS) -> np.ndarray:
        """Go's ``MMUCurve.MMU(window)`` for each window (ns): the lowest mean
        mutator utilisation of any window of that length in the trace
        (windows longer than a series are cut to it).  float64 array, one
        value per window, each in [0, 1]; 0 for windows <= 0, 1 for a trace
        without GOMAXPROCS events."""
        w = np.atleast_1d(np.asarray(windows, dtype=np.int64))
        try:
            return self._curve.mmu(w)
        except ValueError as e:
            raise TraceError(str(e)) from None

    def __repr__(self) -> str:
        return (f"<MMUCurve flags={self.flags}: {len(self.bounds) - 1} series, "
                f"{len(self.util)} points>")


def mmu_curve(trace, *, stw: bool = True, background: bool = True, assist: bool = True,
              sweep: bool = True, per_proc: bool = False) -> MMUCurve:
    """Go's ``MutatorUtilizationV2(events, flags)`` and ``NewMMUCurve``.

    The flags choose what counts against the mutator: ``stw`` GC
    stop-the-world pauses (those whose kind names GC), ``background`` the
    background mark workers, ``assist`` mark assists, ``sweep`` incremental
    sweeping; ``per_proc`` gives each P its own utilisation function
    (otherwise one function, each P counting 1/GOMAXPROCS).  Raises
    :class:`fastrace.TraceError` where Go's function would fail (GC work
    charged to no P, or to one beyond GOMAXPROCS)."""
    flags = util_flags(stw=stw, background=background, assist=assist, sweep=sweep,
                       per_proc=per_proc)
    try:
        util, bounds = _analysis.mutator_utilization(
            trace.events, trace.strings.data, trace.strings.offsets, flags)
    except ValueError as e:
        raise TraceError(str(e)) from None
    return MMUCurve(util, bounds, flags)


def stream_mmu_curve(source, *, stw: bool = True, background: bool = True,
                     assist: bool = True, sweep: bool = True,
                     per_proc: bool = False, workers: int = 1) -> MMUCurve:
    """:func:`mmu_curve` of a trace file (or bytes) read piece by piece with
    :func:`fastrace.iter_generations`: the same result without holding the
    whole event table (``fastrace mmu`` uses it).  ``workers``: as for
    ``iter_generations``."""
    from fastrace.analysis._ahead import ahead
    from fastrace.trace import iter_generations

    flags = util_flags(stw=stw, background=background, assist=assist, sweep=sweep,
                       per_proc=per_proc)
    p = _analysis.UtilPass(flags)
    try:
        # The next pieces are ordered in another thread while this one feeds.
        for piece in ahead(lambda: iter_generations(source, workers=workers)):
            p.feed(piece.events, piece.strings.data, piece.strings.offsets)
        util, bounds = p.finish()
    except ValueError as e:
        if isinstance(e, TraceError):
            raise
        raise TraceError(str(e)) from None
    return MMUCurve(util, bounds, flags)


def mmu(trace, windows: int | Iterable[int] = DEFAULT_WINDOWS, *, stw: bool = True,
        background: bool = True, assist: bool = True, sweep: bool = True,
        per_proc: bool = False) -> np.ndarray:
    """Go's minimum mutator utilisation for each window (ns): float64 array.
    Flags as in :func:`mmu_curve`."""
    return mmu_curve(trace, stw=stw, background=background, assist=assist, sweep=sweep,
                     per_proc=per_proc).mmu(windows)


# ---------------------------------------------------------------------------
# Wall clock.

CLOCK_SNAPSHOT_VERSION = 25
"""First trace format version (Go 1.25) whose generations carry clock snapshots."""


def wall_time(trace, times):
    """Wall-clock times (numpy ``datetime64[ns]``, UTC) of trace-clock times
    (ns, scalar or array-like).

    Go 1.25+ traces start every generation with a clock snapshot: a reading
    of the trace clock (``generations["clock_trace"]``, ns) taken together
    with the wall clock (``clock_sec``, ``clock_nsec``); Go's reader hands it
    out with the generation's Sync event, for the events up to the next
    Sync.  So a time ``t`` in generation ``g`` (at or after g's Sync event,
    before the next one) is ``wall(g) + (t - clock_trace(g))``; times before
    the first Sync use the first generation's snapshot, times after the last
    the last one's.  For a piece from :func:`fastrace.iter_generations`, its
    own generation's snapshot is used for every time.

    Raises :class:`fastrace.UnsupportedVersionError` for traces older than
    Go 1.25, which carry no snapshot.
    """
    g = trace.generations
    if trace.version < CLOCK_SNAPSHOT_VERSION or len(g) == 0 or not g["has_clock"].all():
        raise UnsupportedVersionError(
            f"wall-clock times need the clock snapshots that Go 1.25 and later write into "
            f"traces; this trace is format version go 1.{trace.version}"
            + (f" (written by {_writers(trace.version)})" if trace.version < 25 else
               ", but it has generations without a snapshot"))
    scalar = np.ndim(times) == 0
    t = np.asarray(times, dtype=np.int64).reshape(-1)
    if hasattr(trace, "first_row"):
        gen = np.full(len(t), int(trace.generation), dtype=np.intp)
    else:
        syncs = trace.events["time"][g["sync_row"]]
        gen = np.clip(np.searchsorted(syncs, t, side="right") - 1, 0, len(g) - 1)
    wall = g["clock_sec"].astype(np.int64) * 1_000_000_000 + g["clock_nsec"].astype(np.int64)
    ns = wall[gen] + (t - g["clock_trace"][gen])
    out = ns.view("datetime64[ns]")
    return out[0] if scalar else out.reshape(np.shape(times))


def _writers(version: int) -> str:
    return {22: "Go 1.22", 23: "Go 1.23 or 1.24"}.get(version, f"Go 1.{version}")


def _fmt_ns(ns: int) -> str:
    """A duration the way Go's time.Duration prints it (e.g. 1.5ms, 12µs)."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    for unit, size in (("s", 10 ** 9), ("ms", 10 ** 6), ("µs", 10 ** 3)):
        if ns >= size:
            whole, frac = divmod(ns, size)
            digits = len(str(size)) - 1
            f = f"{frac:0{digits}d}".rstrip("0")
            return f"{sign}{whole}{'.' + f if f else ''}{unit}"
    return f"{sign}{ns}ns"


def format_mmu(windows: Sequence[int], values: np.ndarray, fmt: str) -> str:
    """``fastrace mmu`` output: text (a table), csv or json (an object mapping
    each window in ns, as a string, to the MMU)."""
    import json

    if fmt == "json":
        return json.dumps({str(int(w)): float(v) for w, v in zip(windows, values)}) + "\n"
    if fmt == "csv":
        return "window_ns,mmu\n" + "".join(f"{int(w)},{float(v)!r}\n"
                                          for w, v in zip(windows, values))
    rows = [("window", "MMU")] + [(_fmt_ns(int(w)), f"{float(v):.6f}")
                                  for w, v in zip(windows, values)]
    width = max(len(r[0]) for r in rows)
    return "".join(f"{a:>{width}}  {b}\n" for a, b in rows)
