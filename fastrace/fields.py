"""Named values of the ordered event table's rows.

A row of ``Trace.events`` keeps its kind-specific values in three unsigned
numbers, ``a[0..2]``; what each holds depends on the wire type that made
the row and is written down once, in :mod:`fastrace.spec`
(``EventSpec.a_names``).  This module turns rows into named, resolved
values for every consumer that shows them to people: :class:`EventView`
(``Trace.event(i)``), and the exports.

Naming rules (from the spec): a name ending in ``_string`` holds a row of
``Trace.strings`` and is shown as text under the name without the suffix;
``_stack`` holds a row of ``Trace.stacks`` and is shown as its frames
(omitted when 0, no stack); ``goroutine``, ``proc``, ``task``, ``parent``
and ``generation`` are ids, shown signed so that "none" (2**64-1 in the
table) reads -1; anything else is a plain number.
"""

from __future__ import annotations

from fastrace import spec as _spec
from fastrace.kinds import EventKind, GoState, ProcState, ResourceKind

__all__ = ["EventView", "a_names", "row_fields", "ID_NAMES"]

_U64 = 1 << 64
_I64_MIN = 1 << 63

ID_NAMES = frozenset({"goroutine", "proc", "task", "parent", "generation"})
"""a-value names that hold ids (2**64-1, "none", reads -1)."""


def _signed(x: int) -> int:
    return x - _U64 if x >= _I64_MIN else x


def a_names(kind: int, typ: int) -> tuple[str, ...]:
    """What ``a[0..2]`` of a row of ``kind`` made by wire type ``typ`` hold."""
    if kind == EventKind.SYNC:
        return _spec.KIND_SLOTS[EventKind.SYNC]
    sp = _spec.BY_CODE[typ]
    if sp is None or sp.kind != kind:
        # A CPU sample may be stored without a wire type.
        return _spec.KIND_SLOTS.get(kind, ())
    return sp.a_names


def type_name(kind: int, typ: int) -> str:
    """The wire type's name as Go's dumps print it ("Sync" for Syncs)."""
    if kind == EventKind.SYNC:
        return "Sync"
    sp = _spec.BY_CODE[typ]
    return sp.name if sp is not None else f"Invalid({typ})"


def row_fields(trace, i: int) -> dict:
    """Row ``i`` of ``trace.events`` as a dict of named, resolved values:
    ``kind``, ``type``, ``time``, ``g``, ``p``, ``m`` (the thread id), then
    what the spec says of the wire type (``transition`` "From->To",
    ``metric``, ``range`` and ``scope``, ``experiment``), then the row's
    a-values under their names, then ``stack`` (frames) when it has one."""
    r = trace.events[i]
    kind = int(r["kind"])
    typ = int(r["type"])
    k = EventKind(kind) if kind in EventKind._value2member_map_ else EventKind.BAD
    d = {"kind": str(k), "type": type_name(kind, typ), "time": int(r["time"]),
         "g": int(r["g"]), "p": int(r["p"]), "m": int(trace.threads[r["m"]])}
    sp = _spec.BY_CODE[typ] if kind != EventKind.SYNC else None
    a = [int(x) for x in r["a"]]
    if sp is not None and sp.kind == kind:
        if k == EventKind.STATE_TRANSITION:
            states = ProcState if sp.resource == ResourceKind.PROC else GoState
            d["transition"] = f"{states(int(r['from_state']))}->{states(int(r['to_state']))}"
        elif k == EventKind.METRIC:
            d["metric"] = sp.metric
        elif sp.range:
            d["range"] = (f"{sp.range} ({trace.strings.text(a[1])})"
                          if sp.range == _spec.STW_RANGE else sp.range)
            d["scope"] = str(ResourceKind(sp.scope))
        elif k == EventKind.EXPERIMENTAL:
            d["experiment"] = _spec.EXPERIMENTS.get(sp.experiment, str(sp.experiment))
    for name, v in zip(a_names(kind, typ), a):
        if name.endswith("_string"):
            d[name[:-len("_string")]] = trace.strings.text(v)
        elif name.endswith("_stack"):
            if v:
                d[name] = trace.stack_frames(v)
        elif name in ID_NAMES:
            d[name] = _signed(v)
        else:
            d[name] = v
    if int(r["stack"]):
        d["stack"] = trace.stack_frames(int(r["stack"]))
    return d


class EventView:
    """One row of :attr:`Trace.events`, with strings and stacks resolved
    (see :func:`row_fields` for what ``as_dict`` holds)."""

    def __init__(self, trace, i: int):
        self.trace = trace
        self.index = i
        self.row = trace.events[i]

    @property
    def kind(self) -> EventKind:
        return EventKind(int(self.row["kind"]))

    @property
    def name(self) -> str:
        return type_name(int(self.row["kind"]), int(self.row["type"]))

    def as_dict(self) -> dict:
        return row_fields(self.trace, self.index)

    def __repr__(self) -> str:
        return f"<Event {self.index} {self.as_dict()}>"
