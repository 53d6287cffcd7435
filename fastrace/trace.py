"""The ordered view of a trace: ``fastrace.read`` and the :class:`Trace`.

``read`` runs the wire decoder (stage 1, ``fastrace._varint``) and then the
ordering engine (stage 2, ``fastrace._order``), which replays the partial
order of the per-M event streams the way Go's ``internal/trace`` reader
does and produces one table with a row per high-level event, in Go's order.

Rows refer to per-trace tables by row number: ``strings`` (row 0 is the
empty string), ``stacks`` (row 0 is "no stack") and ``frames``.  Strings and
stacks are deduplicated across generations by content.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

from fastrace.errors import (TraceError, TraceFormatError, TraceTooLargeError, TraceWarning,
                             WholeTraceRequiredError, check_on_error)
from fastrace import limits, progress
from fastrace.fields import EventView
from fastrace.wire import WireTrace, decode_wire, drop_pages, iter_wire_generations, open_source

__all__ = ["Trace", "StringTable", "Frame", "read", "iter_generations"]


class Frame(NamedTuple):
    pc: int
    func: str
    file: str
    line: int


class StringTable:
    """All strings of a trace, deduplicated: ``table[i]`` is bytes (Go strings
    are byte strings); ``table.text(i)`` decodes them as UTF-8 (invalid
    bytes replaced).  Row 0 is the empty string."""

    def __init__(self, data: bytes, offsets: np.ndarray):
        self.data = data               # all strings, concatenated
        self.offsets = offsets         # uint64, len(table) + 1 entries

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> bytes:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"string row {i} out of range ({n} strings)")
        i %= n
        return self.data[int(self.offsets[i]):int(self.offsets[i + 1])]

    def text(self, i: int) -> str:
        return self[i].decode("utf-8", "replace")

    def index(self, s: bytes | str) -> int:
        """Row of string ``s``; ValueError if the trace has no such string."""
        if isinstance(s, str):
            s = s.encode("utf-8", "surrogateescape")
        for i in range(len(self)):
            if self[i] == s:
                return i
        raise ValueError(f"{s!r} is not in the string table")

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self)):
            yield self[i]


def _row(i, n: int, what: str) -> int:
    """Row ``i`` of a table of ``n`` rows (negative: from the end, as
    Python indexes), or an error naming the table and its rows."""
    if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"{what}: a row is an int, not {type(i).__name__} {i!r}")
    if not -n <= i < n:
        raise IndexError(f"{what}: no row {i}: the table has {n} rows"
                         + (f" (0 to {n - 1}, or -{n} to -1 from the end)" if n else ""))
    return int(i)


class Trace:
    """A whole trace, ordered.

    Attributes:

    - ``version``: trace format version (the NN of "go 1.NN trace").
    - ``events``: the ordered event table (``fastrace._order.EVENT_DTYPE``,
      56 bytes a row; see the README).
    - ``threads``: int64 M (thread) ids; ``events["m"]`` holds rows of this
      table, row 0 (-1) meaning no M.  :meth:`m_ids` gives the ids per event.
    - ``strings``: :class:`StringTable`.
    - ``stacks``: ``frame_start``, ``nframes`` per stack; row 0 = no stack.
    - ``frames``: ``pc``, ``line``, ``func`` and ``file`` (string rows).
    - ``generations``: one row per generation (see ``_order.pxd``).
    - ``exp_batches``: experimental batches: ``m``, ``offset``, ``length``,
      ``generation``, ``exp``; their bytes via :meth:`exp_batch_data`.
    - ``buffer``: the input bytes (memory-mapped for paths).
    - ``wire``: for pieces from :func:`iter_generations`, the
      :class:`fastrace.wire.WireTrace` of that generation (without its
      ``events`` table, which ordering does not need); None for
      :func:`read`, which drops each generation's wire tables as soon as it
      is ordered (use :func:`fastrace.decode_wire` for the wire tables).
    - ``warnings``: what ``on_error="truncate"`` dropped
      (:class:`fastrace.TraceWarning` records); empty for an intact trace.
    """

    warnings: "list | tuple" = ()  # read() and iter_generations give each trace its own list

    def __init__(self, wire: WireTrace | None, tables: dict, *, version: int | None = None,
                 buffer=None):
        self.wire = wire
        self.version: int = wire.version if version is None else version
        self.buffer = getattr(wire, "buffer", None) if buffer is None else buffer
        self.events: np.ndarray = tables["events"]
        self.threads: np.ndarray = tables["threads"]
        self.strings = StringTable(tables["string_data"], tables["string_offsets"])
        self.stacks: np.ndarray = tables["stacks"]
        self.frames: np.ndarray = tables["frames"]
        self.generations: np.ndarray = tables["generations"]
        self.exp_batches: np.ndarray = tables["exp_batches"]

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return (f"<Trace go 1.{self.version}: {len(self.events)} events, "
                f"{len(self.generations)} generations, {len(self.strings)} strings, "
                f"{len(self.stacks) - 1} stacks>")

    def m_ids(self, rows=slice(None)) -> np.ndarray:
        """The M (thread) id of each event in ``events[rows]`` (-1 = none)."""
        return self.threads[self.events["m"][rows]]

    def stack_frames(self, row: int) -> list[Frame]:
        """The frames of stack ``row`` (innermost first); [] for row 0."""
        s = self.stacks[_row(row, len(self.stacks), "stack_frames")]
        start, n = int(s["frame_start"]), int(s["nframes"])
        out = []
        for f in self.frames[start:start + n].tolist():
            pc, line, func, file = f
            out.append(Frame(pc, self.strings.text(func), self.strings.text(file), line))
        return out

    def exp_batch_data(self, row: int) -> bytes:
        """The data bytes of experimental batch ``row`` of ``exp_batches``."""
        r = self.exp_batches[_row(row, len(self.exp_batches), "exp_batch_data")]
        off = int(r["offset"])
        return bytes(self.buffer[off:off + int(r["length"])])

    def experiment(self, name: str):
        """The interpretation of trace experiment ``name`` (e.g. ``"AllocFree"``),
        computed once and cached; an experiment without a registered
        interpreter comes back as a :class:`fastrace.experiments.RawExperiment`.
        See :mod:`fastrace.experiments`."""
        from fastrace import experiments

        return experiments.interpret(self, name)

    def experiments(self) -> list[str]:
        """Names of the experiments with events or batches in this trace."""
        from fastrace import experiments

        return experiments.available(self)

    def event(self, i: int) -> EventView:
        """A readable view of row ``i`` of the event table."""
        return EventView(self, _row(i, len(self.events), "event"))

    # States and profiles (fastrace.analysis.states, .pprof)

    def states(self, *, goroutine: int | None = None, state=None) -> np.ndarray:
        """Goroutine state intervals: one row per stay of a goroutine in a
        state (Runnable, Running, Waiting, Syscall), computed in C.

        Columns: ``g`` (goroutine id), ``state`` (``kinds.GoState``; names
        via ``fastrace.analysis.states.state_names``), ``start``/``end`` (ns;
        intervals open when the trace ends close at its last timestamp),
        ``reason`` (string row: the transition's reason; text via
        ``fastrace.analysis.states.reasons``), ``stack`` (stack row of the
        event that began the interval: for an unblock, the waker's),
        ``transition_stack`` (the goroutine's own stack given by that
        transition), ``p`` (P it ran on, Running only; -1 otherwise), ``m``
        (thread id it ran or made its syscall on; -1 otherwise),
        ``prev_state``, ``start_row``/``end_row`` (rows of the transitions
        in ``events``; -1 = open at the end).  ``goroutine`` and ``state``
        (a GoState or a name such as ``"Waiting"``) select rows.  See
        :mod:`fastrace.analysis.states`."""
        from fastrace.analysis import states

        self._whole_trace_only("states()")
        return states.states(self, goroutine=goroutine, state=state)

    def profile(self, kind: str):
        """The latency profile ``go tool trace -pprof=KIND`` computes, for
        ``kind`` in ``"net"`` (network wait), ``"sync"`` (blocking on
        channels, mutexes, select), ``"syscall"`` (time in system calls),
        ``"sched"`` (time runnable before running): a
        :class:`fastrace.analysis.pprof.Profile` with ``stacks`` and
        ``values`` (contentions, delay in ns) per sample, ``top(n)``,
        ``to_pprof()`` (gzip'd protobuf for ``go tool pprof``) and
        ``write(path)``.  Go's exact rules: :mod:`fastrace.analysis.pprof`."""
        from fastrace.analysis import pprof

        self._whole_trace_only(f"profile({kind!r})")
        return pprof.latency_profile(self, kind)

    def cpu_profile(self, period: int | None = None):
        """A CPU profile of the trace's CPU samples (``StackSample``
        events): a :class:`fastrace.analysis.pprof.Profile` with one sample
        per distinct stack (samples, cpu ns = samples x ``period``; the
        trace does not record the profiling rate, the default period is
        the runtime's 10 ms).  Empty when the traced program did not run
        the CPU profiler.  On a piece of :func:`iter_generations`, the
        piece's own samples."""
        from fastrace.analysis import pprof

        return pprof.cpu_profile(self, pprof.CPU_PERIOD if period is None else period)

    def _whole_trace_only(self, what: str) -> None:
        # Intervals run across pieces: a piece alone would cut them short.
        if getattr(self, "first_row", None) is not None:
            raise WholeTraceRequiredError(
                f"{what} needs the whole trace, not a piece of iter_generations: use "
                "fastrace.read(); to stream a file, fastrace.analysis.pprof.read_profile() "
                "gives a profile and fastrace.analysis.gc.stream_mmu_curve() the MMU")

    # Ranges, GC, MMU and wall clock (fastrace.analysis.gc)

    def ranges(self) -> np.ndarray:
        """Every range (GC mark phase, stop-the-world, sweep, mark assist),
        one row each with Go's name, scope, start and end: see
        :func:`fastrace.analysis.gc.ranges` for the columns."""
        from fastrace.analysis import gc

        self._whole_trace_only("ranges()")

        return gc.ranges(self)

    def gc(self):
        """GC cycles, stop-the-world pauses, mark assist and sweep time, heap
        and heap goal over time: a :class:`fastrace.analysis.gc.GCSummary`."""
        from fastrace.analysis import gc

        self._whole_trace_only("gc()")

        return gc.gc_summary(self)

    def mmu(self, windows=None, *, stw: bool = True, background: bool = True,
            assist: bool = True, sweep: bool = True, per_proc: bool = False) -> np.ndarray:
        """Go's minimum mutator utilisation (``MutatorUtilizationV2`` +
        ``MMUCurve.MMU``) for each window in ns (default: 1 µs, 10 µs, ...,
        1 s): float64 array in [0, 1].  The flags choose what counts against
        the mutator (Go's UtilFlags); see :meth:`mmu_curve`."""
        from fastrace.analysis import gc

        self._whole_trace_only("mmu()")

        return gc.mmu(self, gc.DEFAULT_WINDOWS if windows is None else windows, stw=stw,
                      background=background, assist=assist, sweep=sweep, per_proc=per_proc)

    def mmu_curve(self, *, stw: bool = True, background: bool = True, assist: bool = True,
                  sweep: bool = True, per_proc: bool = False):
        """Go's mutator utilisation functions (``.series``: time, util) and
        MMU curve (``.mmu(windows)``) for these flags: a
        :class:`fastrace.analysis.gc.MMUCurve`, to reuse for many windows."""
        from fastrace.analysis import gc

        self._whole_trace_only("mmu_curve()")

        return gc.mmu_curve(self, stw=stw, background=background, assist=assist,
                            sweep=sweep, per_proc=per_proc)

    def wall_time(self, times):
        """Wall-clock time (numpy datetime64[ns], UTC) of trace-clock times
        (ns; scalar or array), from the clock snapshots of Go 1.25+ traces;
        :class:`fastrace.UnsupportedVersionError` for older traces.  See
        :func:`fastrace.analysis.gc.wall_time`."""
        from fastrace.analysis import gc

        return gc.wall_time(self, times)

    # Summaries (fastrace.analysis.summary)

    def summary(self):
        """Go's goroutine and user-task summary of this trace
        (:class:`fastrace.analysis.summary.Summary`, computed once): every
        table of the methods below, and the region ones."""
        from fastrace.analysis import summary

        return summary.summarize(self)

    def goroutines(self) -> np.ndarray:
        """One row per goroutine, by id: Go's ``GoroutineSummary`` and
        ``GoroutineExecStats`` (``internal/trace/summary.go``), exactly.

        Columns (times ns on the trace clock, durations ns):

        - ``id``: goroutine id.
        - ``name``: its start function (Go's rule: the outermost frame of
          the first transition stack it has); "" if it never had one.
        - ``pc``: PC of that frame (0 = none).
        - ``creation_time``: when it was created; for goroutines already
          there, the Sync before its first event.
        - ``start_time``: first time it ran; -1 = never ran.
        - ``end_time``: when it exited or blocked "forever"; -1 = did not.
        - ``exec_time``: running.  ``sched_wait_time``: runnable, waiting
          for a P.  ``block_time``: waiting, all reasons (per reason:
          :meth:`goroutine_block_times`).  ``syscall_time``: in syscalls
          holding a P.  ``syscall_block_time``: in syscalls after losing it.
        - ``total_time``: from creation to its end, or to the last event.
        - ``unknown_time``: the part of total_time in none of the five
          above (Go's ``UnknownTime``).
        - ``regions``: user regions in its list (``Regions`` in Go).

        Ranges (GC mark assist, sweep, stop-the-world) overlap these:
        :meth:`goroutine_range_times`.  See :mod:`fastrace.analysis.summary`
        for Go's rules on open intervals and syscalls.
        """
        return self.summary().goroutines

    def goroutine_block_times(self) -> np.ndarray:
        """Go's ``BlockTimeByReason``: one row per goroutine and reason with
        a non-zero time: ``goroutine`` (id), ``reason`` (str, as the runtime
        wrote it, e.g. "chan receive"; "" for time blocked before the
        trace's first record of the goroutine), ``time`` (ns)."""
        return self.summary().block_times

    def goroutine_range_times(self) -> np.ndarray:
        """Go's ``RangeTime``: time each goroutine spent in ranges, one row
        per goroutine and range with a non-zero time: ``goroutine`` (id),
        ``range`` (Go's name: "GC mark assist", "GC incremental sweep",
        "stop-the-world (REASON)"), ``time`` (ns)."""
        return self.summary().range_times

    def tasks(self) -> np.ndarray:
        """One row per user task (``runtime/trace.NewTask``), by id: Go's
        ``UserTaskSummary``.

        Columns: ``id`` (0 is the background task of regions and logs
        outside any task), ``name`` (the task's type; "" if the trace has
        neither its begin nor its end), ``parent`` (task id; -1 = none or
        unknown), ``start``/``end`` (ns of its TaskBegin/TaskEnd; -1 = not
        in the trace), ``logs`` and ``regions`` (counts), ``goroutines``
        (sorted int64 array of the goroutines that began, ended or logged
        in it or ran its regions).
        """
        return self.summary().tasks

    def regions(self) -> np.ndarray:
        """One row per user region (``runtime/trace.WithRegion`` /
        ``StartRegion``) in Go's summary, with the goroutine's times while
        in it (Go's ``UserRegionSummary``), in the order the trace opens
        them (a region without a start event where it ends).

        Columns: ``goroutine``, ``task`` (id; 0 = background), ``name``
        (region type; "" for an inherited region), ``start``/``end`` (ns;
        -1 = began before the trace / still open at its end),
        ``exec_time`` .. ``unknown_time`` as in :meth:`goroutines` (per
        reason and range: ``summary().region_block_times`` /
        ``region_range_times``, by row of this table); ``opened_by``:
        "region" (RegionBegin), "creation" (inherited: its goroutine was
        created inside a region of another, whose task it takes) or
        "none"; ``closed_by``: "region" (RegionEnd), "goroutine end" or
        "none"; ``listed``: on its goroutine's list (Go leaves off open
        regions of runtime goroutines); ``in_task``: on its task's list
        (inherited regions are not).
        """
        return self.summary().regions

    def logs(self) -> np.ndarray:
        """One row per Log event (``runtime/trace.Log``), in trace order:
        ``time`` (ns), ``goroutine``, ``task`` (id; 0 = background),
        ``category``, ``message`` (str)."""
        from fastrace.analysis import summary

        return summary.logs(self)

    # Exports (fastrace.export) ---------------------------------------------
    # Tables and their columns are documented in fastrace/export.py.

    def tables(self) -> list[str]:
        """Names of the tables this trace has, for :meth:`to_arrow`,
        :meth:`to_pandas`, :meth:`to_polars`, :meth:`sql` and ``fastrace
        export`` (``events``, ``strings``, ``stacks``, ...)."""
        from fastrace import export

        return export.table_names(self)

    def to_arrow(self, name: str = "events", *, resolve: bool = False, wall: bool = False):
        """Table ``name`` as a ``pyarrow.Table`` with readable columns: the
        event table's ``a`` split into ``a0..a2`` and named columns, kinds,
        types and states as dictionary columns of names, ``m`` as thread ids;
        ``resolve=True``: strings as text, and each stack's innermost
        function; ``wall=True``: wall-clock times (Go 1.25+).  Needs
        ``pip install 'fastrace[arrow]'``."""
        from fastrace import export

        return export.to_arrow(self, name, resolve=resolve, wall=wall)

    def to_pandas(self, name: str = "events", *, resolve: bool = False, wall: bool = False):
        """Table ``name`` as a pandas DataFrame (see :meth:`to_arrow`); needs
        ``pip install 'fastrace[pandas]'``."""
        from fastrace import export

        return export.to_pandas(self, name, resolve=resolve, wall=wall)

    def to_polars(self, name: str = "events", *, resolve: bool = False, wall: bool = False):
        """Table ``name`` as a Polars DataFrame (see :meth:`to_arrow`); needs
        ``pip install 'fastrace[polars]'``."""
        from fastrace import export

        return export.to_polars(self, name, resolve=resolve, wall=wall)

    def sql(self, query: str, *, resolve: bool = True, wall: bool = False):
        """Run SQL on the trace's tables with DuckDB, as a pandas DataFrame:
        ``t.sql("select type, count(*) n from events group by type")``.
        Every table of :meth:`tables` can be named; strings are text unless
        ``resolve=False``.  Needs ``pip install 'fastrace[duckdb]'``."""
        from fastrace import export

        return export.sql(self, query, resolve=resolve, wall=wall)

    def __reduce__(self):
        # Pickles with its tables (not a path to read again); see fastrace.export.
        from fastrace import export

        return export.trace_from_state, (export.trace_state(self),)

    # Pictures (fastrace.plot, .perfetto) -------------------------------------

    @property
    def plot(self):
        """Plots with matplotlib, each returning the Axes:
        ``t.plot.timeline(start, end)`` (goroutines on Ps, GC, STW),
        ``.heap()``, ``.mmu()``, ``.goroutines()`` (counts by state),
        ``.live_heap()`` (AllocFree traces).  Needs ``pip install
        'fastrace[plot]'``; see :mod:`fastrace.plot`.  For a trace viewer:
        ``fastrace.perfetto.write_perfetto(t, path)`` and
        ``fastrace.chromejson.write_chrome_json(t, path)``."""
        from fastrace import plot

        return plot.Plotter(self)

    def _repr_html_(self) -> str:
        # Notebooks: the facts of `fastrace info` as a table.
        from fastrace import plot

        return plot.html_summary(self)


def read(source, *, workers: int = 1, on_error: str = "raise") -> Trace:
    """Decode and order a whole trace: a path (str or Path, memory-mapped), bytes-like
    object, open binary file, text-format or compressed trace (see fastrace.sources).
    A :class:`Trace` is returned as it is.

    Generations are indexed and ordered one after the other; the memory
    mapped pages of each are given back once it is ordered.  With
    ``workers=N`` (N > 1) generations are ordered by N threads, every one
    but the first from an empty state, then checked against the real state
    and merged in order (``fastrace.parallel``; the result is exactly that of
    ``workers=1``).  When one generation holds 70% or more of the events
    (a lone one, or a long first one), threads cannot pay: generations are
    ordered in sequence while a helper thread backs the output table's
    pages just ahead of the rows being written (``_order._State.prefault``).

    Raises :class:`fastrace.TraceFormatError` for malformed bytes and
    :class:`fastrace.TraceOrderError` for events that cannot be ordered;
    the exception's ``partial`` attribute is a Trace of everything before
    the problem, exactly the events Go's reader hands out before it reports
    the problem (a trace damaged in its first generation gives Go's lone
    Sync event).  ``partial`` is None only where the input is not a trace
    at all (no valid header: Go's reader gives no event either).

    With ``on_error="truncate"`` that partial Trace is returned instead of
    raising, its ``warnings`` a list of :class:`fastrace.TraceWarning`
    saying what was dropped and why (empty for an intact trace).  Inputs
    that are not traces still raise.
    """
    from fastrace import _order, parallel

    check_on_error(on_error)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if isinstance(source, Trace):
        return source
    if isinstance(source, WireTrace):
        pieces = iter([source])
        view, keep = source.buffer, source
    else:
        view, keep = open_source(source)
        pieces = iter_wire_generations(view, salvage_prefix=True, index_only=True)
    seen = _Seen(pieces)
    pieces = iter(seen)
    state = None
    version = None
    try:
        current = next(pieces, None)
        if current is None:
            raise TraceFormatError("empty input: not a Go execution trace", offset=0)
        version = current.version
        state = _order.new_state(version)
        room = limits.TableRoom(_order.EVENT_DTYPE.itemsize)
        if workers > 1:
            # Index every generation first (milliseconds), reserve room for
            # all the rows, then order the generations in parallel.
            todo = [current, *pieces]
            bounds = [parallel.row_bound(piece) for piece in todo]
            if not room.fits(0, sum(bounds)) and not _room_for_all(room, state, todo):
                workers = 1                  # a malformed generation: ordering reports it
            else:
                try:
                    state.reserve(sum(bounds))   # address space (one row per byte at most)
                except MemoryError:
                    workers = 1                  # no room: in sequence, without helpers
            clean = next((i for i, piece in enumerate(todo) if piece.error is not None), len(todo))
            # Ordering generations in parallel takes at least as long as the
            # largest one, plus ~15% (counting rows, two cores sharing
            # caches); ordering in sequence while a helper backs the output's
            # pages takes ~80% of one thread's time.  So threads pay when no
            # generation holds 70% of the events or more.
            done = 0
            if workers > 1 and clean > 1 and max(bounds[:clean]) < 0.7 * sum(bounds[:clean]):
                done = parallel.order_parallel(state, todo[:clean], keep, workers)
            pieces = iter(todo[done:])
            current = next(pieces, None)
        while current is not None:
            if workers > 1:
                parallel.order_with_prefault(state, current)
            else:
                prepared = _room_for(room, state, current)
                _order.order_trace(current, state, final=False, take=False, prepared=prepared)
            drop_pages(keep, current)
            progress.generation_done(current)
            if current.error is not None:
                # Go's reader ends what it read with a Sync, then reports.
                _order.end_trace(state)
                raise current.error
            current = next(pieces, None)
        _order.end_trace(state)
    except TraceTooLargeError:
        raise                   # not damage: nothing is dropped silently
    except TraceError as e:
        if state is None:       # not a trace: nothing to keep
            raise
        _note_growing_file(e, keep, view)
        # The rows ordered before the problem.
        partial = Trace(None, _order.finish(state), version=version, buffer=view)
        partial._keepalive = keep
        partial.warnings = [seen.warning(e, view, len(partial.events), partial)]
        if on_error == "truncate":
            return partial
        e.partial = partial
        raise
    trace = Trace(None, _order.finish(state), version=version, buffer=view)
    trace._keepalive = keep
    trace.warnings = []
    return trace


def _counted(state, piece) -> tuple[int | None, dict | None]:
    """How many rows ordering ``piece`` gives at most (counted exactly, a
    pass over its events), with the generations' prepared inputs; None
    for the count where a generation is malformed (ordering then reports
    it where Go does)."""
    from fastrace import _order

    try:
        prepared = _order.prepare(piece, state)
    except TraceError:
        return None, None
    scratch = _order.new_state(piece.version)
    counts = [_order.count_generation(scratch, piece, p) for p in prepared.values()]
    if any(c < 0 for c in counts):
        return None, prepared
    return sum(counts), prepared


def _room_for(room, state, piece) -> dict | None:
    """Refuse ``piece`` (one or more generations) with TraceTooLargeError
    if its rows would not fit in memory (fastrace.limits), before any of
    them is written.  Returns the generations' prepared inputs when they
    had to be counted (ordering then reuses them), else None."""
    from fastrace import parallel

    rows_now = state.rows() + state.taken
    if room.fits(rows_now, parallel.row_bound(piece)):
        return None                     # the bound fits: nothing to count
    return _count_or_refuse(room, state, piece, rows_now)[1]


def _room_for_all(room, state, pieces: list) -> bool:
    """read(workers=N), whose bound for all the pieces does not fit: count
    them exactly, and refuse (TraceTooLargeError, naming the first
    generation that passes the limit) before anything is ordered.  False
    where a piece is malformed (counted no further)."""
    total = 0
    for piece in pieces:
        if piece.error is not None and not len(piece.generations):
            break
        rows, _ = _count_or_refuse(room, state, piece, total)
        if rows is None:
            return False
        total += rows
    return True


def _count_or_refuse(room, state, piece, rows_now: int) -> tuple[int | None, dict | None]:
    """:func:`_counted` for ``piece``, raising TraceTooLargeError (naming
    its first generation) if ``rows_now`` rows, its rows and the Sync that
    may end the trace do not fit."""
    rows, prepared = _counted(state, piece)
    if rows is not None and not room.fits(rows_now, rows + 1):
        g = piece.generations
        raise room.refuse(rows_now, rows + 1, offset=int(g["offset"][0]) if len(g) else None,
                          generation=int(g["gen"][0]) if len(g) else None)
    return rows, prepared


def _note_growing_file(e: TraceError, keep, view) -> None:
    """Add to ``e``'s message that the file grew while it was read, where it
    did: a trace still being written looks cut short at the size it had
    when it was opened."""
    import mmap

    if not isinstance(keep, mmap.mmap):
        return
    try:
        now = keep.size()               # the file's size now, not the mapping's
    except (OSError, ValueError):
        return
    if now > len(keep):
        e.problem += (f"; the file grew from {len(keep):,} to {now:,} bytes while it was read: "
                      "it is still being written (read it again after the program has "
                      "called trace.Stop, or pass on_error='truncate' to keep the "
                      "complete generations written so far)")
        e.args = (e._message(),)


class _Seen:
    """The wire pieces a reader has pulled (iterating over it pulls them):
    where each generation begins and ends in the file, to say what damage
    cost."""

    def __init__(self, pieces):
        self._pieces = pieces
        self.gens: list[tuple[int, int, int]] = []   # (gen number, offset, end)
        self.header = None
        self.wire_errors: list = []

    def __iter__(self):
        for piece in self._pieces:
            if self.header is None:
                self.header = piece.header_size
            g = piece.generations
            self.gens.extend(zip(g["gen"].tolist(), g["offset"].tolist(), g["end"].tolist()))
            if piece.error is not None:
                self.wire_errors.append(piece.error)
            yield piece

    def warning(self, e: TraceError, view, kept: int, result=None) -> TraceWarning:
        """The record of damage ``e``: ``kept`` rows were kept, the last
        of them in ``result`` (the Trace or piece returned), if given."""
        size = len(view)
        events_lost = None
        if any(e is w for w in self.wire_errors):
            # The wire damage comes after every generation pulled, all kept
            # (before Go 1.26 the last may be what was read of a damaged one).
            whole = self.gens[-1][2] if self.gens else self.header
            if whole is not None:
                events_lost = _events_readable(view, int(whole))
        else:
            # An event that cannot be ordered: its generation is cut short.
            starts = [off for gen, off, _ in self.gens if gen == e.generation]
            whole = starts[-1] if starts else (self.gens[-1][1] if self.gens else self.header)
            if whole is not None and _none_kept_of(e.generation, result):
                # None of the generation's events was kept: all are lost.
                events_lost = _events_readable(view, int(whole))
        lost = None if whole is None else max(size - int(whole), 0)
        return TraceWarning(offset=e.offset, generation=e.generation, reason=e.problem,
                            error=e, bytes_lost=lost, events_lost=events_lost, events_kept=kept)


def _none_kept_of(gen, result) -> bool:
    """Whether ``result`` (a Trace, or the last piece of iter_generations)
    holds no event of generation ``gen`` but Sync events."""
    from fastrace.kinds import EventKind

    if result is None or gen is None:
        return False
    g = result.generations
    began = np.flatnonzero(g["gen"] == gen)
    if not len(began):
        return True                     # its Sync was never handed out
    first = int(g["sync_row"][began[-1]]) + 1 - (getattr(result, "first_row", None) or 0)
    if first < 0:
        return False                    # it began in an earlier piece
    return not (result.events["kind"][first:] != EventKind.SYNC).any()


def _events_readable(view, start: int) -> int | None:
    """How many events the wire decoder reads from byte ``start`` (a batch
    boundary) up to the damage that stops it: the events of the dropped
    bytes that are still legible."""
    from fastrace import _varint

    try:
        return len(_varint.decode_wire(view, False, start, 0, False)["events"])
    except TraceError as err:
        return getattr(err, "events_read", None)


PIECE_EVENTS = 1 << 16
"""Default ``max_events`` of :func:`iter_generations` (65,536 rows, 3.5 MiB:
big enough for numpy to work on efficiently, small enough that streaming
takes less memory than Go's own reader)."""


def iter_generations(source, *, max_events: int | None = PIECE_EVENTS,
                     on_error: str = "raise", workers: int = 1) -> Iterator[Trace]:
    """Decode and order a trace piece by piece, in bounded memory.

    Yields :class:`Trace` pieces in order.  A piece holds rows of one
    generation only: the first piece of a generation starts with its Sync
    event, and the trace's final Sync ends the last piece.  A generation
    with more than ``max_events`` rows comes in several pieces of at most
    ``max_events`` rows; with ``max_events=None`` every generation is one
    piece, however large.  Concatenated, the pieces' rows equal those of
    :func:`read`.

    Each piece has ``first_row``, the row of its first event in read()'s
    table, and ``generation``, the row of its generation in
    ``piece.generations`` (which lists every generation seen so far).  The
    string and stack tables of a piece hold everything seen up to it, so
    row numbers agree with read()'s.

    Scheduler state carries over between pieces, so pieces come strictly in
    order.  Memory use is bounded by ``max_events`` rows plus one
    generation's bytes; the mapped pages of generations already ordered are
    given back as with read().

    On damage, the pieces before it come first (the same rows as read()'s
    ``partial``), then the error is raised.  With ``on_error="truncate"``
    the iteration ends there instead: every piece's ``warnings`` is the
    same list of :class:`fastrace.TraceWarning`, filled in when the damage
    is found (complete once the iteration has ended).

    ``source`` may also be a :class:`Trace` already read: its rows come in
    the same pieces, without decoding anything again.

    With ``workers=2`` (more change nothing: one generation is ordered
    ahead) each generation but the first is ordered in another thread while
    the one before is, from an empty state, then checked and merged as
    read(workers=2) does (a generation whose check fails is ordered again
    in sequence).  The rows are the same; such a generation comes in pieces
    of exactly ``max_events`` rows but the last, and its rows are kept
    whole until its last piece is dropped, so memory use grows by up to one
    generation's rows (56 bytes an event).  Worth it where two cores are
    free; a generation is about a second of the traced program, so the
    gain needs traces of several seconds.
    """
    from fastrace import _order, parallel

    check_on_error(on_error)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if max_events is not None and max_events < 16:
        raise ValueError(f"max_events must be at least 16 (or None), not {max_events}")
    if isinstance(source, Trace):
        yield from _trace_pieces(source, max_events)
        return
    view, keep = open_source(source)
    seen = _Seen(iter_wire_generations(view, salvage_prefix=True, index_only=True))
    pieces = iter(seen)
    warnings: list[TraceWarning] = []
    current = next(pieces, None)
    if current is None:
        return
    state = _order.new_state(current.version)
    run = None           # workers=2: parallel.FreshRun ordering nxt meanwhile
    prepared = None      # current's inputs, if already made
    try:
        while current is not None:
            nxt = next(pieces, None) if current.error is None else None
            if workers > 1 and nxt is not None and nxt.error is None:
                prepared, run = parallel.start_fresh(state, current, prepared, nxt)
            chunks = _order.order_chunks(current, state, final=nxt is None,
                                         max_rows=max_events or 0, prepared=prepared)
            prepared = None
            while True:
                first = state.taken
                try:
                    if next(chunks, StopIteration) is StopIteration:
                        break
                    # (The tables as they were before a run prepared nxt.)
                    tables = _order.finish(state, mark=None if run is None else run.mark)
                except TraceError as e:
                    if run is not None:
                        run.cancel(state)
                        run = None
                    _note_growing_file(e, keep, view)
                    partial = _piece(current, _order.finish(state), first, warnings)
                    warnings.append(seen.warning(e, view, first + len(partial.events), partial))
                    if on_error == "truncate":
                        if len(partial.events):
                            yield partial
                        return
                    e.partial = partial
                    raise
                if len(tables["events"]):
                    yield _piece(current, tables, first, warnings)
            drop_pages(keep, current)
            progress.generation_done(current)
            if current.error is not None:
                _note_growing_file(current.error, keep, view)
                warnings.append(seen.warning(current.error, view, state.taken))
                if on_error == "truncate":
                    return
                raise current.error
            if run is not None:
                done, run = run, None
                if done.merge(state):
                    after = next(pieces, None)
                    if after is None:
                        _order.end_trace(state)
                    drop_pages(keep, nxt)
                    progress.generation_done(nxt)
                    # Handed out before the next run starts, so that at most
                    # one generation's rows are held whole at a time.
                    yield from _whole_pieces(nxt, state, max_events, warnings)
                    current = after
                    continue
                prepared = done.prepared    # ordered again, in sequence
            current = nxt
    finally:
        if run is not None:
            run.cancel(state)


def _whole_pieces(wire: WireTrace, state, max_events: int | None, warnings: list) -> list:
    """The pieces of the rows waiting in ``state``: a whole generation taken
    over from a fresh run (iter_generations(workers=2)), cut in pieces of
    ``max_events`` rows that share its memory."""
    from fastrace import _order

    first = state.taken
    tables = _order.finish(state, recycle=False)
    events = tables["events"]
    step = max(len(events), 1) if max_events is None else max_events
    return [_piece(wire, dict(tables, events=events[a:a + step]), first + a, warnings)
            for a in range(0, len(events), step)]


def _piece(wire: WireTrace, tables: dict, first_row: int, warnings: list) -> Trace:
    t = Trace(wire, tables)
    t.first_row = first_row
    t.generation = len(t.generations) - 1
    t.warnings = warnings
    return t


def _trace_pieces(trace: Trace, max_events: int | None) -> Iterator[Trace]:
    """The rows of a Trace already read in iter_generations' pieces: one
    generation each (from its Sync to the next one's), at most
    ``max_events`` rows.  Pieces share the trace's tables but the events."""
    n = len(trace.events)
    syncs = trace.generations["sync_row"].tolist()
    starts = [0] + [int(r) for r in syncs[1:] if 0 < r < n] + [n]
    tables = {
        "threads": trace.threads, "string_data": trace.strings.data,
        "string_offsets": trace.strings.offsets, "stacks": trace.stacks,
        "frames": trace.frames, "exp_batches": trace.exp_batches,
    }
    for k in range(len(starts) - 1):
        lo, hi = starts[k], starts[k + 1]
        step = max(hi - lo, 1) if max_events is None else max_events
        for a in range(lo, hi, step):
            piece = Trace(None, dict(tables, events=trace.events[a:min(a + step, hi)],
                                     generations=trace.generations[:k + 1]),
                          version=trace.version, buffer=trace.buffer)
            piece.first_row = a
            piece.generation = min(k, len(trace.generations) - 1)
            piece.warnings = getattr(trace, "warnings", [])
            yield piece
