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
            self.counts = Counter(fx.event_name(c) for c in raw.events["type"])
            self.batch_bytes = sum(len(b.data) for b in raw.batches)

    t = fastrace.read("trace.out")
    fx.interpret(t, "AllocFree").counts     # Counter({'HeapObjectAlloc': 1679, ...})
    fx.unregister("AllocFree", EventCounts)  # back to the built-in interpreter

Results are cached per trace and name (:func:`interpret` returns the same
object on the next call).  The built-in AllocFree interpreter lives in
:mod:`fastrace.experiments.allocfree`.  On a piece of
:func:`fastrace.iter_generations` an interpreter sees that generation's
events and the batches of every generation so far.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, NamedTuple

import numpy as np

from fastrace import spec as _spec
from fastrace.kinds import EventKind

__all__ = [
    "ExpBatch",
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
]


class ExpBatch(NamedTuple):
    """One experimental batch: ``(generation, m, data)``."""

    generation: int   # row in Trace.generations
    m: int            # thread that wrote it; -1 = none (the runtime's own tables)
    data: bytes       # the experiment-defined bytes


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


class RawExperiment:
    """One experiment's share of a trace, uninterpreted.

    - ``name``, ``id``: the experiment (``"AllocFree"``, 1).
    - ``trace``: the :class:`fastrace.Trace` (for strings, stacks, context).
    - ``events``: its rows of ``trace.events`` (a copy, in trace order).
    - ``rows``: their row numbers in ``trace.events`` (int64).
    - ``generations``: row in ``trace.generations`` of each event (uint32).
    - ``batches``: its experimental batches, a list of
      :class:`ExpBatch` ``(generation, m, data)`` in file order.

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
        self.events = ev[self.rows]
        self.generations = generation_of_rows(trace, self.rows)
        self.batches: list[ExpBatch] = []
        eb = trace.exp_batches
        mine = eb["exp"] == self.id if self.id is not None else np.zeros(len(eb), bool)
        for i in np.flatnonzero(mine):
            r = eb[i]
            self.batches.append(ExpBatch(int(r["generation"]), int(r["m"]),
                                         trace.exp_batch_data(int(i))))

    def generation(self, i: int) -> "RawExperiment":
        """The events and batches of generation row ``i`` only."""
        sub = object.__new__(RawExperiment)
        sub.__dict__.update(self.__dict__)
        keep = self.generations == i
        sub.rows, sub.events, sub.generations = self.rows[keep], self.events[keep], self.generations[keep]
        sub.batches = [b for b in self.batches if b.generation == i]
        return sub

    def __repr__(self) -> str:
        return (f"<RawExperiment {self.name}: {len(self.events)} events, "
                f"{len(self.batches)} batches>")


_REGISTRY: dict[str, Callable[[RawExperiment], Any]] = {}
_CACHE: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


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
    ids = set(np.unique(trace.exp_batches["exp"]).tolist())
    ev = trace.events
    for code in np.unique(ev["type"][ev["kind"] == EventKind.EXPERIMENTAL]).tolist():
        s = _spec.BY_CODE[code]
        if s is not None and s.experiment:
            ids.add(s.experiment)
    return [experiment_name(i) for i in sorted(ids)]


def raw(trace, name: str) -> RawExperiment:
    """The uninterpreted events and batches of experiment ``name`` (not cached)."""
    return RawExperiment(trace, name)


def interpret(trace, name: str):
    """The result of experiment ``name``'s interpreter on ``trace`` (a
    :class:`RawExperiment` if none is registered), cached per trace.

    Raises KeyError if ``name`` is neither registered, nor known to
    fastrace, nor present in the trace."""
    _builtin()
    fn = _REGISTRY.get(name)
    per_trace = _CACHE.setdefault(trace, {})
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
