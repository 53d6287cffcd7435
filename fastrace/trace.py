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

from fastrace.errors import TraceError, TraceFormatError
from fastrace.fields import EventView
from fastrace.wire import WireTrace, decode_wire, iter_wire_generations, open_source

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
    """

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
        s = self.stacks[row]
        start, n = int(s["frame_start"]), int(s["nframes"])
        out = []
        for f in self.frames[start:start + n].tolist():
            pc, line, func, file = f
            out.append(Frame(pc, self.strings.text(func), self.strings.text(file), line))
        return out

    def exp_batch_data(self, row: int) -> bytes:
        r = self.exp_batches[row]
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
        return EventView(self, i)

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


def read(source, *, workers: int = 1) -> Trace:
    """Decode and order a whole trace (path, bytes, bytearray, memoryview, mmap).

    Generations are indexed and ordered one after the other; the memory
    mapped pages of each are given back once it is ordered.  With
    ``workers=N`` (N > 1) generations are ordered by N threads, every one
    but the first from an empty state, then checked against the real state
    and merged in order (``_order_parallel``; the result is exactly that of
    ``workers=1``).  When one generation holds 70% or more of the events
    (a lone one, or a long first one), threads cannot pay: generations are
    ordered in sequence while a helper thread backs the output table's
    pages just ahead of the rows being written (``_order._State.prefault``).

    Raises :class:`fastrace.TraceFormatError` for malformed bytes and
    :class:`fastrace.TraceOrderError` for events that cannot be ordered;
    the exception's ``partial`` attribute is a Trace of everything before
    the problem (Go's reader also hands those events out first).
    """
    from fastrace import _order

    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if isinstance(source, WireTrace):
        pieces = iter([source])
        view, keep = source.buffer, source
    else:
        view, keep = open_source(source)
        pieces = iter_wire_generations(view, salvage_prefix=True, index_only=True)
    state = None
    version = None
    try:
        current = next(pieces, None)
        if current is None:
            raise TraceFormatError("empty input: not a Go execution trace", offset=0)
        version = current.version
        state = _order.new_state(version)
        if workers > 1:
            # Index every generation first (milliseconds), reserve room for
            # all the rows, then order the generations in parallel.
            todo = [current, *pieces]
            bounds = [_row_bound(piece) for piece in todo]
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
                done = _order_parallel(state, todo[:clean], keep, workers)
            pieces = iter(todo[done:])
            current = next(pieces, None)
        while current is not None:
            if workers > 1:
                _order_with_prefault(state, current)
            else:
                _order.order_trace(current, state, final=False, take=False)
            _drop_pages(keep, current)
            if current.error is not None:
                # Go's reader ends what it read with a Sync, then reports.
                _order.end_trace(state)
                raise current.error
            current = next(pieces, None)
        _order.end_trace(state)
    except TraceError as e:
        if state is not None:   # the rows ordered before the problem
            e.partial = Trace(None, _order.finish(state), version=version, buffer=view)
        raise
    trace = Trace(None, _order.finish(state), version=version, buffer=view)
    trace._keepalive = keep
    return trace


def _row_bound(piece: WireTrace) -> int:
    """At most how many rows ordering a piece gives: one per byte of event
    data at most (a 2-byte GoDestroySyscall can give two rows), plus CPU
    samples and Sync events."""
    b = piece.batches
    event_bytes = int(b["size"][b["kind"] == 0].sum())
    return event_bytes + len(piece.cpu_samples) + 2 * len(piece.generations) + 2


PARALLEL_STATS = {"merged": 0, "reordered": 0}
"""read(workers=2): generations ordered from an empty state and merged, and
those ordered again in sequence because an assumption did not hold (for
tests and benchmarks)."""


def _order_parallel(state, pieces: list, keep, workers: int) -> int:
    """Order intact pieces (one generation each) with ``workers`` threads.

    The first generation is ordered as usual; every later one from an empty
    state (``_order.new_fresh_state``), straight into its final rows: each
    worker first counts its generation's rows (an upper bound), which places
    the next one.  This thread then checks and merges the runs in order
    (``merge_fresh``), ordering a generation again in sequence where an
    assumption of its run does not hold, so the result is that of ordering
    one generation after the other.  Returns how many pieces were ordered
    (the rest, from a broken table on, are left to the caller); errors are
    raised as ordering in sequence raises them.
    """
    import threading

    from fastrace import _order

    # Prepare in order, so that string and stack rows are those of ordering
    # in sequence; a generation whose tables are broken, and all after it,
    # are left to the caller (which reports it after the ones before).
    marks = [state.tables.mark()]
    prepared = []
    for piece in pieces:
        try:
            prep = _order.prepare(piece, state)
        except TraceFormatError:
            break
        if len(prep) != 1:
            break
        prepared.append(prep)
        marks.append(state.tables.mark())
    n = len(prepared)
    state.tables.truncate(marks[n])
    if n < 2:
        return 0
    gen_base = len(state.gens)
    counts: list = [None] * n
    bases: list = [None] * n
    results: list = [None] * n
    bases[0] = state.rows()
    cond = threading.Condition()
    claim = [0]
    stop = [False]

    def place():
        # base of j = base of j-1 + rows counted in j-1 (None: not yet; -1: never)
        for j in range(1, n):
            if bases[j] is None and bases[j - 1] is not None and counts[j - 1] is not None:
                bases[j] = -1 if bases[j - 1] < 0 or counts[j - 1] < 0 else \
                    bases[j - 1] + counts[j - 1]

    def work():
        scratch = _order.new_state(pieces[0].version)
        while True:
            with cond:
                if stop[0] or claim[0] >= n:
                    return
                j = claim[0]
                claim[0] += 1
            try:
                c = (_order.count_generation(scratch, pieces[j], next(iter(prepared[j].values())))
                     if j < n - 1 else 0)
            except BaseException:
                c = -1
            with cond:
                counts[j] = c
                place()
                cond.notify_all()
                while bases[j] is None:
                    cond.wait()
                base = bases[j]
            fresh = None
            try:
                if j == 0:
                    # The real state: on an error its rows are collected
                    # (by read) only once every thread is done.
                    _order.order_trace(pieces[0], state, final=False, take=False,
                                       prepared=prepared[0])
                    result = ("done",)
                elif base < 0:
                    result = ("skipped",)    # a malformed event before: ordered in sequence
                else:
                    fresh = _order.new_fresh_state(state, base)
                    fresh.gen_base = gen_base + j
                    _order.order_trace(pieces[j], fresh, final=False, take=False,
                                       prepared=prepared[j])
                    result = ("fresh", fresh, fresh.rows(), base)
            except BaseException as e:
                if fresh is not None:
                    fresh.detach()
                result = ("error", e)
            with cond:
                results[j] = result
                cond.notify_all()

    threads = [threading.Thread(target=work, name=f"fastrace-order-{i}", daemon=True)
               for i in range(min(workers, n))]
    for t in threads:
        t.start()
    j = 0
    try:
        for j in range(n):
            with cond:
                while results[j] is None:
                    cond.wait()
                r = results[j]
            if r[0] == "error" and j == 0:
                raise r[1]
            if r[0] == "fresh" and state.merge_fresh(r[1], r[3]):
                start = state.rows() - r[2]
                for g in r[1].gens:
                    row = list(g)
                    row[1] += start                     # sync_row
                    row[7] += len(state.exp_rows)       # exp_batch_start
                    state.gens.append(tuple(row))
                state.exp_rows.extend(r[1].exp_rows)
                PARALLEL_STATS["merged"] += 1
            elif j > 0:
                PARALLEL_STATS["reordered"] += 1
                _order.order_trace(pieces[j], state, final=False, take=False,
                                   prepared=prepared[j])
            _drop_pages(keep, pieces[j])
    except TraceError as e:
        with cond:
            stop[0] = True
        for t in threads:
            t.join()
        for r in results:
            if r is not None and r[0] == "fresh":
                r[1].detach()
        # In sequence the generations after the failing one (j) would not
        # have been read: neither are their strings and stacks in the tables.
        # The caller makes e.partial from the state, now that no thread
        # writes into its table.
        state.tables.truncate(marks[j + 1])
        raise
    finally:
        with cond:
            stop[0] = True
        for t in threads:
            t.join()
    return n


def _order_with_prefault(state, piece: WireTrace) -> None:
    """Order one piece while a helper thread backs the output's pages."""
    import threading

    from fastrace import _order

    state.reserve(_row_bound(piece))
    state.arm_prefault()
    helper = threading.Thread(target=state.prefault, name="fastrace-prefault", daemon=True)
    helper.start()
    try:
        _order.order_trace(piece, state, final=False, take=False)
    finally:
        state.stop_prefault()
        helper.join()


def _drop_pages(mapping, piece: WireTrace) -> None:
    """Let the kernel take back the pages of a memory-mapped trace that hold
    a generation already ordered: they count in the process's resident
    memory otherwise, and the rest of read() does not need them (they come
    back from the page cache if anything reads them again)."""
    import mmap

    if not isinstance(mapping, mmap.mmap) or not hasattr(mapping, "madvise") \
            or len(piece.generations) == 0:
        return
    page = mmap.PAGESIZE
    start = int(piece.generations["offset"][0]) // page * page
    end = int(piece.generations["end"][-1]) // page * page
    if end > start:
        try:
            mapping.madvise(mmap.MADV_DONTNEED, start, end - start)
        except (OSError, ValueError, AttributeError):
            pass


PIECE_EVENTS = 1 << 16
"""Default ``max_events`` of :func:`iter_generations` (65,536 rows, 3.5 MiB:
big enough for numpy to work on efficiently, small enough that streaming
takes less memory than Go's own reader)."""


def iter_generations(source, *, max_events: int | None = PIECE_EVENTS) -> Iterator[Trace]:
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
    """
    from fastrace import _order

    if max_events is not None and max_events < 16:
        raise ValueError(f"max_events must be at least 16 (or None), not {max_events}")
    view, keep = open_source(source)
    pieces = iter_wire_generations(view, salvage_prefix=True, index_only=True)
    current = next(pieces, None)
    if current is None:
        return
    state = _order.new_state(current.version)
    while current is not None:
        nxt = next(pieces, None) if current.error is None else None
        chunks = _order.order_chunks(current, state, final=nxt is None,
                                     max_rows=max_events or 0)
        while True:
            first = state.taken
            try:
                if next(chunks, StopIteration) is StopIteration:
                    break
                tables = _order.finish(state)
            except TraceError as e:
                e.partial = _piece(current, _order.finish(state), first)
                raise
            if len(tables["events"]):
                yield _piece(current, tables, first)
        _drop_pages(keep, current)
        if current.error is not None:
            raise current.error
        current = nxt


def _piece(wire: WireTrace, tables: dict, first_row: int) -> Trace:
    t = Trace(wire, tables)
    t.first_row = first_row
    t.generation = len(t.generations) - 1
    return t
