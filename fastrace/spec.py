"""The event specification table of the Go execution trace wire format (v2).

This is the one place that knows which event types exist and what they
mean: what their arguments are called, which arguments refer to the string
or stack tables, from which trace version on each type may appear, and, for
the ordered event table, which kind of event each type makes, which
resource a state transition is about and between which states, which metric
or range it reports, how many rows it can make and what each of a row's
three ``a`` values holds.  The Cython stages build their C lookup tables
from it at import time (and check their own enums against it there), and
every dump, table and view uses the names defined here.

The facts come from the Go toolchain's ``internal/trace/tracev2`` package
(Go 1.22 through 1.27).  Argument names are the ones Go's own text dumps
print, because ``fastrace dump --format go-wire`` must reproduce those dumps
byte for byte.  The table layout and the code are fastrace's own.
"""

from __future__ import annotations

from typing import NamedTuple

from fastrace.kinds import EventKind as K, GoState as G, ProcState as P, ResourceKind as R

__all__ = [
    "EventSpec",
    "SPECS",
    "BY_NAME",
    "EXPERIMENTS",
    "TRACE_VERSIONS",
    "V1_VERSIONS",
    "MAX_BATCH_SIZE",
    "MAX_FRAMES_PER_STACK",
    "MAX_DATA_SIZE",
    "MAX_TIMED_ARGS",
    "NO_M",
    "specs_for",
    "spec",
    "BY_CODE",
    "METRIC_NAMES",
    "PROC_TYPES",
    "GOROUTINE_TYPES",
    "RANGE_TYPES",
    "TYPES_OF_KIND",
    "KIND_SLOTS",
    "STW_RANGE",
]


class EventSpec(NamedTuple):
    code: int                      # the event type byte on the wire
    name: str                      # name printed by Go's dumps
    args: tuple[str, ...]          # argument names in wire order ("dt" first for timed events)
    strings: tuple[int, ...] = ()  # positions in args that hold string-table IDs
    stacks: tuple[int, ...] = ()   # positions in args that hold stack-table IDs (own stack first)
    timed: bool = False            # appears in per-M event batches, first argument is a time delta
    has_data: bool = False         # followed by a varint length and that many raw bytes
    is_stack: bool = False         # followed by nframes groups of (pc, func, file, line)
    experiment: int = 0            # experiment id; 0 = part of the stable format
    since: int = 22                # first trace version (1.NN) in which the type may appear
    start: int = 0                 # for the end of a range: the code of its begin event
    # Meaning in the ordered event table (Trace.events):
    kind: int = K.BAD              # EventKind of the rows it makes; BAD = makes no row of its own
    resource: int = R.NONE         # state transitions: GOROUTINE or PROC (which states apply)
    transition: tuple[int, int] | None = None  # (from, to) states; None = read from the event
    metric: str = ""               # Metric events: Go's metric name
    range: str = ""                # range events: Go's range name (STW: + " (<kind>)")
    scope: int = R.NONE            # range events: what the range is on (NONE = the whole program)
    slots: tuple[str, ...] | None = None  # names of a[0..2]; None = the kind's (KIND_SLOTS)
    rows: int = 1                  # at most how many rows one event makes (extra synthesised ones)

    @property
    def nargs(self) -> int:
        return len(self.args)

    @property
    def a_names(self) -> tuple[str, ...]:
        """What a row's ``a[0]``, ``a[1]``, ``a[2]`` hold (fewer names: the
        rest are 0).  Naming rules: ``*_string`` = a row of
        ``Trace.strings``, ``*_stack`` = a row of ``Trace.stacks``,
        ``goroutine``/``proc`` = an id (2**64-1 = none, read as -1),
        ``task``/``parent`` = a task id (2**64-1 = none), anything else a
        plain number."""
        if self.slots is not None:
            return self.slots
        if self.kind == K.EXPERIMENTAL:
            return self.args[1:4]
        if self.kind == K.STATE_TRANSITION:
            who = "proc" if self.resource == R.PROC else "goroutine"
            return (who, "reason_string", "transition_stack")
        return KIND_SLOTS.get(self.kind, ())


# What a[0..2] hold, per kind (a spec's ``slots`` overrides it where its
# type differs, e.g. the ranges).  See EventSpec.a_names for the naming rules.
KIND_SLOTS: dict[int, tuple[str, ...]] = {
    K.SYNC: ("n", "generation"),
    K.METRIC: ("value",),
    K.LABEL: ("label_string",),
    K.STACK_SAMPLE: (),
    K.TASK_BEGIN: ("task", "parent", "task_type_string"),
    K.TASK_END: ("task", "parent", "task_type_string"),
    K.REGION_BEGIN: ("task", "region_type_string"),
    K.REGION_END: ("task", "region_type_string"),
    K.LOG: ("task", "category_string", "message_string"),
}

# The stop-the-world range: Go names it "stop-the-world (<kind>)", the kind
# being the string in a[1].
STW_RANGE = "stop-the-world"


# Trace versions (the NN of the "go 1.NN trace" header) that use the v2
# format.  Go 1.24 writes 23, Go 1.27 writes 26.
TRACE_VERSIONS = (22, 23, 25, 26)
# Older, v1 formats (Go 1.11-1.21): recognised, not decoded yet.
V1_VERSIONS = (11, 19, 21)

# Limits the runtime promises and the reader enforces.
MAX_BATCH_SIZE = 64 << 10       # bytes of payload in one batch
MAX_FRAMES_PER_STACK = 128      # frames in one stack-table entry
MAX_DATA_SIZE = 1 << 10         # bytes of trailing data (strings) in one event
MAX_TIMED_ARGS = 5              # arguments of a timed event, time delta included

NO_M = (1 << 64) - 1            # M id of batches not written by any M (-1 as uint64)

# Experiment ids, as written in experimental batch headers.
EXPERIMENTS = {1: "AllocFree"}

_T = True  # keeps the table below narrow


def _go(before: int | None = None, after: int | None = None) -> dict:
    """A goroutine's state transition, from ``before`` to ``after`` (None:
    the states are read from the event, as for status events)."""
    return dict(kind=K.STATE_TRANSITION, resource=R.GOROUTINE,
                transition=None if before is None else (int(before), int(after)))


def _proc(before: int | None = None, after: int | None = None) -> dict:
    """A P's state transition (see _go)."""
    return dict(kind=K.STATE_TRANSITION, resource=R.PROC,
                transition=None if before is None else (int(before), int(after)))


# The four ranges Go reports, with what a[0..2] of their rows hold.
_stw = dict(range=STW_RANGE, scope=R.GOROUTINE, slots=("goroutine", "stw_kind_string"))
_mark = dict(range="GC concurrent mark phase", scope=R.NONE, slots=())
_sweep = dict(range="GC incremental sweep", scope=R.PROC, slots=("proc",))
_assist = dict(range="GC mark assist", scope=R.GOROUTINE, slots=("goroutine",))

SPECS: tuple[EventSpec, ...] = (
    # Framing and per-generation tables.  These never appear as timed events.
    EventSpec(1, "EventBatch", ("gen", "m", "time", "size")),
    EventSpec(2, "Stacks", ()),
    EventSpec(3, "Stack", ("id", "nframes"), is_stack=_T),
    EventSpec(4, "Strings", ()),
    EventSpec(5, "String", ("id",), has_data=_T),
    EventSpec(6, "CPUSamples", ()),
    EventSpec(7, "CPUSample", ("time", "m", "p", "g", "stack"), stacks=(4,), kind=K.STACK_SAMPLE),
    EventSpec(8, "Frequency", ("freq",)),
    # Ps.
    EventSpec(9, "ProcsChange", ("dt", "procs_value", "stack"), stacks=(2,), timed=_T,
              kind=K.METRIC, metric="/sched/gomaxprocs:threads"),
    EventSpec(10, "ProcStart", ("dt", "p", "p_seq"), timed=_T, **_proc(P.IDLE, P.RUNNING)),
    EventSpec(11, "ProcStop", ("dt",), timed=_T, **_proc(P.RUNNING, P.IDLE)),
    EventSpec(12, "ProcSteal", ("dt", "p", "p_seq", "m"), timed=_T, **_proc()),
    EventSpec(13, "ProcStatus", ("dt", "p", "pstatus"), timed=_T, **_proc()),
    # Goroutines.
    EventSpec(14, "GoCreate", ("dt", "new_g", "new_stack", "stack"), stacks=(3, 2), timed=_T,
              **_go(G.NOT_EXIST, G.RUNNABLE)),
    EventSpec(15, "GoCreateSyscall", ("dt", "new_g"), timed=_T, **_go(G.NOT_EXIST, G.SYSCALL)),
    EventSpec(16, "GoStart", ("dt", "g", "g_seq"), timed=_T, **_go(G.RUNNABLE, G.RUNNING)),
    EventSpec(17, "GoDestroy", ("dt",), timed=_T, **_go(G.RUNNING, G.NOT_EXIST)),
    # Also makes the ProcSteal Go synthesises when the syscall had a P.
    EventSpec(18, "GoDestroySyscall", ("dt",), timed=_T, rows=2, **_go(G.SYSCALL, G.NOT_EXIST)),
    EventSpec(19, "GoStop", ("dt", "reason_string", "stack"), strings=(1,), stacks=(2,), timed=_T,
              **_go(G.RUNNING, G.RUNNABLE)),
    EventSpec(20, "GoBlock", ("dt", "reason_string", "stack"), strings=(1,), stacks=(2,), timed=_T,
              **_go(G.RUNNING, G.WAITING)),
    EventSpec(21, "GoUnblock", ("dt", "g", "g_seq", "stack"), stacks=(3,), timed=_T,
              **_go(G.WAITING, G.RUNNABLE)),
    EventSpec(22, "GoSyscallBegin", ("dt", "p_seq", "stack"), stacks=(2,), timed=_T,
              **_go(G.RUNNING, G.SYSCALL)),
    EventSpec(23, "GoSyscallEnd", ("dt",), timed=_T, start=22, **_go(G.SYSCALL, G.RUNNING)),
    EventSpec(24, "GoSyscallEndBlocked", ("dt",), timed=_T, start=22,
              **_go(G.SYSCALL, G.RUNNABLE)),
    EventSpec(25, "GoStatus", ("dt", "g", "m", "gstatus"), timed=_T, **_go()),
    # Stop-the-world.
    EventSpec(26, "STWBegin", ("dt", "kind_string", "stack"), strings=(1,), stacks=(2,), timed=_T,
              kind=K.RANGE_BEGIN, **_stw),
    EventSpec(27, "STWEnd", ("dt",), timed=_T, start=26, kind=K.RANGE_END, **_stw),
    # Garbage collection.
    EventSpec(28, "GCActive", ("dt", "gc_seq"), timed=_T, start=29, kind=K.RANGE_ACTIVE, **_mark),
    EventSpec(29, "GCBegin", ("dt", "gc_seq", "stack"), stacks=(2,), timed=_T,
              kind=K.RANGE_BEGIN, **_mark),
    EventSpec(30, "GCEnd", ("dt", "gc_seq"), timed=_T, start=29, kind=K.RANGE_END, **_mark),
    EventSpec(31, "GCSweepActive", ("dt", "p"), timed=_T, start=32, kind=K.RANGE_ACTIVE, **_sweep),
    EventSpec(32, "GCSweepBegin", ("dt", "stack"), stacks=(1,), timed=_T,
              kind=K.RANGE_BEGIN, **_sweep),
    EventSpec(33, "GCSweepEnd", ("dt", "swept_value", "reclaimed_value"), timed=_T, start=32,
              kind=K.RANGE_END, **{**_sweep, "slots": ("proc", "swept_bytes", "reclaimed_bytes")}),
    EventSpec(34, "GCMarkAssistActive", ("dt", "g"), timed=_T, start=35, kind=K.RANGE_ACTIVE,
              **_assist),
    EventSpec(35, "GCMarkAssistBegin", ("dt", "stack"), stacks=(1,), timed=_T,
              kind=K.RANGE_BEGIN, **_assist),
    EventSpec(36, "GCMarkAssistEnd", ("dt",), timed=_T, start=35, kind=K.RANGE_END, **_assist),
    EventSpec(37, "HeapAlloc", ("dt", "heapalloc_value"), timed=_T, kind=K.METRIC,
              metric="/memory/classes/heap/objects:bytes"),
    EventSpec(38, "HeapGoal", ("dt", "heapgoal_value"), timed=_T, kind=K.METRIC,
              metric="/gc/heap/goal:bytes"),
    # User annotations.
    EventSpec(39, "GoLabel", ("dt", "label_string"), strings=(1,), timed=_T, kind=K.LABEL),
    EventSpec(40, "UserTaskBegin", ("dt", "task", "parent_task", "name_string", "stack"),
              strings=(3,), stacks=(4,), timed=_T, kind=K.TASK_BEGIN),
    EventSpec(41, "UserTaskEnd", ("dt", "task", "stack"), stacks=(2,), timed=_T, kind=K.TASK_END),
    EventSpec(42, "UserRegionBegin", ("dt", "task", "name_string", "stack"),
              strings=(2,), stacks=(3,), timed=_T, kind=K.REGION_BEGIN),
    EventSpec(43, "UserRegionEnd", ("dt", "task", "name_string", "stack"),
              strings=(2,), stacks=(3,), timed=_T, start=42, kind=K.REGION_END),
    EventSpec(44, "UserLog", ("dt", "task", "key_string", "value_string", "stack"),
              strings=(2, 3), stacks=(4,), timed=_T, kind=K.LOG),
    # Coroutine switches (Go 1.23).
    # Each also makes the transitions of the goroutine switched from
    # (Running->Waiting, or ->NotExist) and of the one switched to.
    EventSpec(45, "GoSwitch", ("dt", "g", "g_seq"), timed=_T, since=23, rows=3,
              **_go(G.WAITING, G.RUNNABLE)),
    EventSpec(46, "GoSwitchDestroy", ("dt", "g", "g_seq"), timed=_T, since=23, rows=3,
              **_go(G.WAITING, G.RUNNABLE)),
    EventSpec(47, "GoCreateBlocked", ("dt", "new_g", "new_stack", "stack"),
              stacks=(3, 2), timed=_T, since=23, **_go(G.NOT_EXIST, G.WAITING)),
    # Goroutine status with a stack (Go 1.23).
    EventSpec(48, "GoStatusStack", ("dt", "g", "m", "gstatus", "stack"),
              stacks=(4,), timed=_T, since=23, **_go()),
    # Per-generation batch of experiment-defined bytes (Go 1.23).  On the
    # wire the experiment id is one byte, the rest are varints and the
    # batch length doubles as the data length.
    EventSpec(49, "ExperimentalBatch", ("exp", "gen", "m", "time"), has_data=_T, since=23),
    # Sync batches and clock snapshots (Go 1.25).
    EventSpec(50, "Sync", (), since=25, kind=K.SYNC),
    EventSpec(51, "ClockSnapshot", ("dt", "mono", "sec", "nsec"), timed=_T, since=25),
    # In-band end of a generation (Go 1.26).
    EventSpec(52, "EndOfGeneration", (), since=26),
    # AllocFree experiment (GODEBUG=traceallocfree=1, Go 1.23).
    EventSpec(128, "Span", ("dt", "id", "npages_value", "kindclass"), timed=_T, experiment=1, since=23, kind=K.EXPERIMENTAL),
    EventSpec(129, "SpanAlloc", ("dt", "id", "npages_value", "kindclass"), timed=_T, experiment=1, since=23, kind=K.EXPERIMENTAL),
    EventSpec(130, "SpanFree", ("dt", "id"), timed=_T, experiment=1, since=23, kind=K.EXPERIMENTAL),
    EventSpec(131, "HeapObject", ("dt", "id", "type"), timed=_T, experiment=1, since=23, kind=K.EXPERIMENTAL),
    EventSpec(132, "HeapObjectAlloc", ("dt", "id", "type"), timed=_T, experiment=1, since=23, kind=K.EXPERIMENTAL),
    EventSpec(133, "HeapObjectFree", ("dt", "id"), timed=_T, experiment=1, since=23, kind=K.EXPERIMENTAL),
    EventSpec(134, "GoroutineStack", ("dt", "id", "order"), timed=_T, experiment=1, since=23, kind=K.EXPERIMENTAL),
    EventSpec(135, "GoroutineStackAlloc", ("dt", "id", "order"), timed=_T, experiment=1, since=23, kind=K.EXPERIMENTAL),
    EventSpec(136, "GoroutineStackFree", ("dt", "id"), timed=_T, experiment=1, since=23, kind=K.EXPERIMENTAL),
)

# Indexed by event type byte; None where no event is defined.
BY_CODE: tuple[EventSpec | None, ...] = tuple(
    next((s for s in SPECS if s.code == code), None) for code in range(256)
)
BY_NAME: dict[str, EventSpec] = {s.name: s for s in SPECS}

# Derived views of the table.
METRIC_NAMES: dict[int, str] = {s.code: s.metric for s in SPECS if s.metric}
"""Metric events: wire type -> Go's metric name."""
PROC_TYPES = frozenset(s.code for s in SPECS if s.kind == K.STATE_TRANSITION
                       and s.resource == R.PROC)
"""Wire types whose state transitions are about a P (states: ProcState)."""
GOROUTINE_TYPES = frozenset(s.code for s in SPECS if s.kind == K.STATE_TRANSITION
                            and s.resource == R.GOROUTINE)
"""Wire types whose state transitions are about a goroutine (GoState)."""
RANGE_TYPES: dict[int, EventSpec] = {s.code: s for s in SPECS if s.range}
"""Range events (begin, active, end): wire type -> spec (range, scope)."""
TYPES_OF_KIND: dict[int, frozenset[int]] = {
    k: frozenset(s.code for s in SPECS if s.kind == k) for k in K}
"""EventKind -> the wire types that make rows of that kind."""


def check_specs(specs: tuple[EventSpec, ...]) -> None:
    """Raise RuntimeError naming the event if ``specs`` breaks a rule the
    stages rely on.  Run on SPECS at import, and by the stages on the table
    they were built for, so that a mistake fails when the module is
    imported, never mid-trace."""
    seen = set()
    for s in specs:
        where = f"fastrace.spec: event type {s.name} ({s.code})"
        if s.kind == K.STATE_TRANSITION:
            if s.resource not in (R.GOROUTINE, R.PROC):
                raise RuntimeError(f"{where} is a state transition without a goroutine "
                                   "or P resource")
            states = G if s.resource == R.GOROUTINE else P
            if s.transition is not None and not all(v in states._value2member_map_
                                                   for v in s.transition):
                raise RuntimeError(f"{where}: transition {s.transition} is not a pair of "
                                   f"{states.__name__} values")
        elif s.resource != R.NONE or s.transition is not None:
            raise RuntimeError(f"{where} has a resource or transition but is not a "
                               "state transition")
        if bool(s.metric) != (s.kind == K.METRIC):
            raise RuntimeError(f"{where}: Metric events and only they name a metric")
        if bool(s.range) != (s.kind in (K.RANGE_BEGIN, K.RANGE_ACTIVE, K.RANGE_END)):
            raise RuntimeError(f"{where}: range events and only they name a range")
        if (s.kind == K.EXPERIMENTAL) != bool(s.experiment):
            raise RuntimeError(f"{where}: experimental events and only they have the "
                               "Experimental kind")
        if len(s.a_names) > 3:
            raise RuntimeError(f"{where}: a row has three a values, not {len(s.a_names)}")
    for s in specs:
        if s.code in seen or not 0 < s.code < 256:
            raise RuntimeError(f"bad event code {s.code} for {s.name}")
        seen.add(s.code)
        if s.timed and (s.nargs > MAX_TIMED_ARGS or s.args[0] != "dt"):
            raise RuntimeError(f"timed event {s.name} breaks the argument layout")
        if s.timed and s.has_data:
            raise RuntimeError(f"timed event {s.name} cannot carry data")


check_specs(SPECS)


def spec(code: int) -> EventSpec:
    """The spec of event type ``code``; KeyError if there is none."""
    s = BY_CODE[code] if 0 <= code < 256 else None
    if s is None:
        raise KeyError(code)
    return s


def specs_for(version: int) -> tuple[EventSpec, ...]:
    """The event types a trace of version ``1.version`` may contain."""
    if version not in TRACE_VERSIONS:
        raise ValueError(f"not a v2 trace version: go 1.{version}")
    return tuple(s for s in SPECS if s.since <= version)
