"""Trace experiments: experimental events and batches, and their interpreters.

A Go trace experiment (e.g. ``GODEBUG=traceallocfree=1``) adds two things to
a trace: timed events of its own (rows of ``Trace.events`` with kind
``EventKind.EXPERIMENTAL``; ``a[0..2]`` hold the arguments after the time
delta) and *experimental batches*, per-generation bags of bytes whose format
only the experiment knows (tables the events refer to).  This module gathers
both per experiment and hands them to an *interpreter* registered under the
experiment's name, which turns them into typed numpy tables.  Experiments
without an interpreter come back as a :class:`RawExperiment`.

Write your own interpreter: a callable taking a :class:`RawExperiment`::

    from collections import Counter
    import fastrace, fastrace.experiments as fx

    @fx.register("AllocFree")              # the name Go gives the experiment
    class EventCounts:
        def __init__(self, raw):            # raw: fx.RawExperiment
            self.counts = Counter(fx.event_name(c) for c in raw.column("type"))
            self.batch_bytes = sum(len(b.data) for b in raw.batches)

    t = fastrace.read("trace.out")
    fx.interpret(t, "AllocFree").counts     # Counter({'HeapObjectAlloc': 1679, ...})
    fx.unregister("AllocFree", EventCounts)  # back to the built-in interpreter

Results are cached per trace and name (:func:`interpret` returns the same
object on the next call).  The built-in AllocFree interpreter lives in
:mod:`fastrace.experiments.allocfree`.  On a piece of
:func:`fastrace.iter_generations` an interpreter sees that piece's events
and the batches of every generation so far; the AllocFree interpreter needs
the whole trace and refuses pieces (:class:`WholeTraceRequiredError`).

Timestamps.  Experimental events have no ordering constraints, so Go's
reader places them by timestamp, but it takes each thread's events in the
order that thread wrote them: when a thread's next event has to wait for an
event of another thread (a goroutine started before the trace shows it
woken, because the waking thread was descheduled between the two), every
later event of the waiting thread waits too, and comes out after events
that other threads wrote later, with its time raised to keep times
increasing.  :attr:`RawExperiment.wire_time` gives the time each event was
written (Go's reader measured milliseconds of such delay on a loaded
machine; see the AllocFree module for what it changes).

Errors (all :class:`fastrace.TraceError`): :class:`ExperimentMissingError`
when the trace holds no data of an experiment an interpreter needs,
:class:`WholeTraceRequiredError` when an interpreter is given a piece.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, NamedTuple

import numpy as np

from fastrace import _varint
from fastrace import errors
from fastrace import spec as _spec
from fastrace.errors import TraceError
from fastrace.kinds import EventKind

__all__ = [
    "ExpBatch",
    "ExperimentError",
    "ExperimentMissingError",
    "WholeTraceRequiredError",
    "RawExperiment",
    "register",
    "unregister",
    "registered",
    "interpret",
    "get",
    "raw",
    "available",
    "experiment_id",
    "experiment_name",
    "event_name",
    "generation_of_rows",
    "is_piece",
    "wire_times",
]


class ExpBatch(NamedTuple):
    """One experimental batch: ``(generation, m, data, offset)``."""

    generation: int   # row in Trace.generations
    m: int            # thread that wrote it; -1 = none (the runtime's own tables)
    data: bytes       # the experiment-defined bytes
    offset: int = -1  # byte offset of ``data`` in the input; -1 = unknown


class ExperimentError(TraceError):
    """An experiment's data cannot be interpreted as asked (base class).

    Besides :class:`fastrace.TraceError`'s attributes it has ``experiment``
    (the experiment's name) and ``version`` (the trace format version, the
    NN of "go 1.NN trace"; None where unknown)."""

    def __init__(self, problem: str, *, experiment: str | None = None,
                 version: int | None = None, **where) -> None:
        self.experiment = experiment
        self.version = version
        super().__init__(problem, **where)

    def __reduce__(self):  # keep the extra attributes across pickling
        return (_rebuild_exp, (type(self), self.problem, self.experiment, self.version,
                               self.offset, self.generation, self.batch, self.event))


def _rebuild_exp(cls, problem, experiment, version, offset, generation, batch, event):
    return cls(problem, experiment=experiment, version=version, offset=offset,
               generation=generation, batch=batch, event=event)


class ExperimentMissingError(ExperimentError):
    """The trace holds no event or batch of the experiment: the program did
    not turn it on when it wrote the trace (or its Go release cannot)."""


class WholeTraceRequiredError(ExperimentError, errors.WholeTraceRequiredError):
    """The interpreter needs the whole trace and was given a piece of
    :func:`fastrace.iter_generations` (also a
    :class:`fastrace.errors.WholeTraceRequiredError`)."""


def is_piece(trace) -> bool:
    """Whether ``trace`` is a piece of :func:`fastrace.iter_generations`
    (pieces have a ``first_row``; whole traces from :func:`fastrace.read`
    do not)."""
    return getattr(trace, "first_row", None) is not None


def experiment_id(name: str) -> int | None:
    """The wire id of experiment ``name`` (``"AllocFree"`` -> 1), or None."""
    for i, n in _spec.EXPERIMENTS.items():
        if n == name:
            return i
    if name.startswith("experiment") and name[10:].isdigit():
        return int(name[10:])
    return None


def experiment_name(exp_id: int) -> str:
    """The name of experiment ``exp_id``; ``"experimentN"`` if fastrace has none."""
    return _spec.EXPERIMENTS.get(int(exp_id), f"experiment{int(exp_id)}")


def event_name(code: int) -> str:
    """Name of the wire event type ``code`` (as Go's dumps print it)."""
    s = _spec.BY_CODE[int(code)]
    return s.name if s is not None else f"type{int(code)}"


def generation_of_rows(trace, rows: np.ndarray) -> np.ndarray:
    """Row in ``trace.generations`` of each row index ``rows`` of
    ``trace.events`` (the generation whose Sync event precedes it)."""
    sync = np.asarray(trace.generations["sync_row"], dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    if len(sync) == 0:
        return np.zeros(len(rows), dtype=np.uint32)
    kind = trace.events["kind"]
    n_sync = int(np.count_nonzero(kind == EventKind.SYNC))
    if (n_sync >= len(sync) and np.all((sync >= 0) & (sync < len(kind)))
            and np.all(kind[sync] == EventKind.SYNC)):
        g = np.searchsorted(sync, rows, side="right") - 1
        return np.clip(g, 0, len(sync) - 1).astype(np.uint32)
    # A piece from fastrace.iter_generations: its generations table lists
    # every generation so far, its events are those of the last one.
    return np.full(len(rows), len(sync) - 1, dtype=np.uint32)


def wire_times(trace, rows: np.ndarray, *, decode_all: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """The times at which the runtime wrote events ``rows`` of
    ``trace.events`` (experimental events), in ns on the trace clock.

    Returns ``(times, known)``: int64 times, and a bool array saying which
    were found.  ``trace.events["time"]`` is Go's reader's time: the
    written time, raised where needed to 1 ns after the event before it so
    that times increase.  That happens to events the reader held back
    behind an earlier event of their thread (see the module docstring) and
    to events written in the same clock tick as the one before.  An event
    more than 1 ns after the one before it was therefore not raised; for
    the generations that have others, the written times come from decoding
    that generation's bytes again and matching each thread's experimental
    events in the order the thread wrote them (also their order in
    ``trace.events``).  Where that is not possible (pieces of
    :func:`fastrace.iter_generations`, a trace without its bytes, a
    generation the reader stopped in) ``times`` holds the reader's time
    and ``known`` is False.  With ``decode_all`` every generation with
    such events is decoded and matched, and ``known`` is True only for
    events matched there (a check of the shortcut, for tests).
    """
    from fastrace.wire import iter_wire_generations

    rows = np.asarray(rows, dtype=np.int64)
    ev = trace.events
    t = ev["time"]
    times = t[rows].astype(np.int64)
    # Nothing is known of the event before row 0 (in a whole trace that is
    # a Sync event, never an experimental one; in a piece it can be).
    raised = (rows == 0) | (times == t[np.maximum(rows - 1, 0)] + 1)
    if decode_all:
        raised[:] = True
    known = ~raised
    buffer = getattr(trace, "buffer", None)
    if not raised.any() or buffer is None or is_piece(trace):
        return times, known
    gens = generation_of_rows(trace, rows)
    todo = set(np.unique(gens[raised]).tolist())
    codes = np.unique(ev["type"][rows])
    row_m = np.asarray(trace.threads, dtype=np.int64)[ev["m"][rows]]
    try:
        # One pass indexing the file (cheap), decoding in full only the
        # generations that need it.
        for gi, wp in enumerate(iter_wire_generations(buffer, salvage_prefix=True,
                                                      index_only=True)):
            if gi >= len(trace.generations) or len(wp.generations) != 1 or \
                    int(wp.generations["gen"][0]) != int(trace.generations["gen"][gi]):
                break
            if gi not in todo:
                continue
            full = _varint.decode_wire(buffer, False, int(wp.generations["offset"][0]), 1)
            lo, hi = np.searchsorted(gens, [gi, gi + 1])
            _match_generation(full, codes, rows[lo:hi], row_m[lo:hi], ev,
                              times[lo:hi], known[lo:hi])
    except TraceError:
        pass   # damage in or before that generation: its times stay the reader's
    return times, known


def _match_generation(wire: dict, codes, rows, row_m, ev, times, known) -> None:
    """Set ``times``/``known`` (views) of ordered ``rows`` (M ids ``row_m``)
    from the one-generation wire tables ``wire``, if every thread's
    experimental events there agree in number, type and first argument."""
    we, wb = wire["events"], wire["batches"]
    sel = np.flatnonzero(np.isin(we["type"], codes))
    if len(sel) != len(rows) or len(we) == 0:
        return
    batch = we["batch"].astype(np.int64)
    tick = we["time"]
    # Go's reader: a batch's first event is at base + delta, each next one
    # at the previous one + delta, every step converted to ns on its own
    # (float64 product, truncated).  The wire table holds the sums in ticks.
    first = np.r_[True, batch[1:] != batch[:-1]]
    prev = np.where(first, wb["time"][batch], np.r_[np.uint64(0), tick[:-1]])
    freq = int(wire["generations"]["freq"][0])
    ns = _batch_cumsum(_truncate(tick - prev, freq), first,
                       _truncate(wb["time"][batch[first]], freq))
    wm = wb["m"][batch[sel]].view(np.int64)
    # Each thread's events in the order it wrote them: its batches in file
    # order (the wire table's order), events in batch order; rows and sel
    # are increasing, so a stable sort by thread keeps that order.
    ws = np.argsort(wm, kind="stable")
    rs = np.argsort(row_m, kind="stable")
    if not (np.array_equal(wm[ws], row_m[rs])
            and np.array_equal(we["type"][sel[ws]], ev["type"][rows[rs]])
            and np.array_equal(we["args"][sel[ws], 0], ev["a"][rows[rs], 0])):
        return
    times[rs] = ns[sel[ws]]
    known[rs] = True


def _truncate(ticks: np.ndarray, freq: int) -> np.ndarray:
    """``ticks`` in ns as Go converts them: float64 product, truncated; a
    product out of int64's range is the minimum int64, as on amd64 (the
    ordering engine's own conversion; numpy's cast would warn and depend on
    the platform)."""
    from fastrace import _order

    return _order.ticks_to_ns(np.asarray(ticks, dtype=np.uint64), freq)


def _batch_cumsum(step: np.ndarray, first: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Running sums of ``step`` restarting at each ``first`` row at the
    matching ``base`` (one per batch)."""
    c = np.cumsum(step)
    start = np.flatnonzero(first)
    offset = base - (c[start] - step[start])
    return c + np.repeat(offset, np.diff(np.r_[start, len(step)]))


def _take_rows(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``table[rows]`` for a contiguous structured table, copying each row
    as one block of bytes (numpy copies a structured row field by field:
    twice the time on the 8 M AllocFree rows of a 61 MB trace)."""
    if not table.flags.c_contiguous or table.dtype.hasobject:
        return table[rows]
    whole = table.view(np.dtype((np.void, table.dtype.itemsize)))
    return np.take(whole, rows).view(table.dtype)


class RawExperiment:
    """One experiment's share of a trace, uninterpreted.

    - ``name``, ``id``: the experiment (``"AllocFree"``, 1).
    - ``trace``: the :class:`fastrace.Trace` (for strings, stacks, context).
    - ``events``: its rows of ``trace.events`` (a copy, in trace order),
      made on first use; :meth:`column` and :meth:`arg` read single
      columns without copying whole rows.
    - ``rows``: their row numbers in ``trace.events`` (int64).
    - ``generations``: row in ``trace.generations`` of each event (uint32).
    - ``batches``: its experimental batches, a list of
      :class:`ExpBatch` ``(generation, m, data, offset)`` in file order.
    - ``wire_time``, ``wire_time_known``: when the runtime wrote each event
      (int64 ns) and whether that was found; see :func:`wire_times`.
      Computed on first use.

    It is also what :func:`interpret` returns for experiments that have no
    registered interpreter.
    """

    def __init__(self, trace, name: str):
        self.trace = trace
        self.name = name
        self.id = experiment_id(name)
        codes = [s.code for s in _spec.SPECS if s.experiment == self.id and self.id]
        ev = trace.events
        mask = (ev["kind"] == EventKind.EXPERIMENTAL) & np.isin(ev["type"], codes)
        self.rows = np.flatnonzero(mask).astype(np.int64)
        self._events = None
        self.generations = generation_of_rows(trace, self.rows)
        self.batches: list[ExpBatch] = []
        eb = trace.exp_batches
        mine = eb["exp"] == self.id if self.id is not None else np.zeros(len(eb), bool)
        for i in np.flatnonzero(mine):
            r = eb[i]
            self.batches.append(ExpBatch(int(r["generation"]), int(r["m"]),
                                         trace.exp_batch_data(int(i)), int(r["offset"])))
        self._wire = None

    @property
    def events(self) -> np.ndarray:
        if self._events is None:
            self._events = _take_rows(self.trace.events, self.rows)
        return self._events

    @events.setter
    def events(self, value: np.ndarray) -> None:
        self._events = value

    def column(self, name: str, sel=None) -> np.ndarray:
        """Field ``name`` of ``events`` (of its rows ``sel`` only, if given:
        an index array or mask), gathered from ``trace.events`` without
        copying the other fields (``events`` is 56 bytes a row)."""
        if self._events is not None:
            col = self._events[name]
            return col if sel is None else col[sel]
        rows = self.rows if sel is None else self.rows[sel]
        return self.trace.events[name][rows]

    def arg(self, k: int, sel=None) -> np.ndarray:
        """Argument ``k`` (column ``a[:, k]``) of ``events`` (or of its rows
        ``sel``), as :meth:`column` reads it."""
        if self._events is not None:
            col = self._events["a"][:, k]
            return col if sel is None else col[sel]
        rows = self.rows if sel is None else self.rows[sel]
        return self.trace.events["a"][rows, k]

    def _wire_times(self):
        if self._wire is None:
            self._wire = wire_times(self.trace, self.rows)
        return self._wire

    @property
    def wire_time(self) -> np.ndarray:
        return self._wire_times()[0]

    @property
    def wire_time_known(self) -> np.ndarray:
        return self._wire_times()[1]

    def generation(self, i: int) -> "RawExperiment":
        """The events and batches of generation row ``i`` only."""
        sub = object.__new__(RawExperiment)
        sub.__dict__.update(self.__dict__)
        keep = self.generations == i
        sub.rows, sub.generations = self.rows[keep], self.generations[keep]
        sub._events = None if self._events is None else self._events[keep]
        if self._wire is not None:
            sub._wire = (self._wire[0][keep], self._wire[1][keep])
        sub.batches = [b for b in self.batches if b.generation == i]
        return sub

    def __repr__(self) -> str:
        return (f"<RawExperiment {self.name}: {len(self.rows)} events, "
                f"{len(self.batches)} batches>")


_REGISTRY: dict[str, Callable[[RawExperiment], Any]] = {}
_CACHE: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def _cache_of(trace) -> dict:
    """The interpretations cached for ``trace``: kept on the trace itself,
    so they go with it.  In a WeakKeyDictionary keyed by the trace they
    would keep it alive for ever, since every result refers back to it
    (``RawExperiment.trace``): fuzzing found 0.9 MB kept per AllocFree
    trace read and interpreted.  Objects without a ``__dict__`` fall back
    to the weak dictionary."""
    try:
        return vars(trace).setdefault("_experiment_cache", {})
    except TypeError:
        return _CACHE.setdefault(trace, {})


def register(name: str, interpreter: Callable[[RawExperiment], Any] | None = None):
    """Register ``interpreter`` for experiment ``name`` (replacing any
    earlier one).  Use as ``register(name, fn)`` or as a decorator
    ``@register(name)``.  The interpreter is called with a
    :class:`RawExperiment` and returns any object (its result)."""
    def deco(fn):
        _REGISTRY[name] = fn
        return fn
    return deco if interpreter is None else deco(interpreter)


def unregister(name: str, interpreter: Callable | None = None) -> None:
    """Remove the interpreter of ``name`` (only if it is ``interpreter``,
    when given).  Built-in interpreters are restored on removal."""
    if interpreter is None or _REGISTRY.get(name) is interpreter:
        _REGISTRY.pop(name, None)
        _builtin()


def registered() -> dict[str, Callable]:
    """A copy of the registry: ``{name: interpreter}``."""
    _builtin()
    return dict(_REGISTRY)


def available(trace) -> list[str]:
    """Names of the experiments with events or batches in ``trace``."""
    return [experiment_name(i) for i in sorted(experiment_ids(trace))]


def experiment_ids(trace) -> set[int]:
    """Ids of the experiments with events or batches in ``trace`` (of the
    pieces of a trace: the union of theirs)."""
    ids = set(np.unique(trace.exp_batches["exp"]).tolist())
    ev = trace.events
    for code in np.unique(ev["type"][ev["kind"] == EventKind.EXPERIMENTAL]).tolist():
        s = _spec.BY_CODE[code]
        if s is not None and s.experiment:
            ids.add(s.experiment)
    return ids


def raw(trace, name: str) -> RawExperiment:
    """The uninterpreted events and batches of experiment ``name`` (not cached)."""
    return RawExperiment(trace, name)


def interpret(trace, name: str):
    """The result of experiment ``name``'s interpreter on ``trace`` (a
    :class:`RawExperiment` if none is registered), cached per trace.

    Raises KeyError if ``name`` is neither registered, nor known to
    fastrace, nor present in the trace; the interpreter's own errors pass
    through (the built-in AllocFree interpreter raises
    :class:`ExperimentMissingError`, :class:`WholeTraceRequiredError` and
    :class:`fastrace.TraceFormatError` for malformed batches).  Errors are
    not cached."""
    if not isinstance(name, str):
        raise TypeError(f"an experiment's name is a str such as 'AllocFree', not {name!r}")
    _builtin()
    fn = _REGISTRY.get(name)
    per_trace = _cache_of(trace)
    hit = per_trace.get(name)
    if hit is not None and hit[0] is fn:
        return hit[1]
    if fn is None and experiment_id(name) is None and name not in available(trace):
        raise KeyError(f"unknown experiment {name!r} (in this trace: {available(trace)}, "
                       f"registered: {sorted(_REGISTRY)})")
    r = RawExperiment(trace, name)
    result = fn(r) if fn is not None else r
    per_trace[name] = (fn, result)
    return result


get = interpret


def _builtin() -> None:
    # Built-in interpreters register themselves on import; importing lazily
    # keeps ``import fastrace.experiments`` cheap and cycle-free.
    if "AllocFree" not in _REGISTRY:
        from fastrace.experiments import allocfree

        _REGISTRY.setdefault("AllocFree", allocfree.AllocFree)
