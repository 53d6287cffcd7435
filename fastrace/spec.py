"""The event specification table of the Go execution trace wire format (v2).

This is the one place that knows which event types exist, what their
arguments are called, which arguments refer to the string or stack tables,
and from which trace version on each type may appear.  The Cython decoder
builds its C lookup tables from it at import time, and every dump and table
uses the names defined here.

The facts come from the Go toolchain's ``internal/trace/tracev2`` package
(Go 1.22 through 1.27).  Argument names are the ones Go's own text dumps
print, because ``fastrace dump --format go-wire`` must reproduce those dumps
byte for byte.  The table layout and the code are fastrace's own.
"""

from __future__ import annotations

from typing import NamedTuple

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

    @property
    def nargs(self) -> int:
        return len(self.args)


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

SPECS: tuple[EventSpec, ...] = (
    # Framing and per-generation tables.  These never appear as timed events.
    EventSpec(1, "EventBatch", ("gen", "m", "time", "size")),
    EventSpec(2, "Stacks", ()),
    EventSpec(3, "Stack", ("id", "nframes"), is_stack=_T),
    EventSpec(4, "Strings", ()),
    EventSpec(5, "String", ("id",), has_data=_T),
    EventSpec(6, "CPUSamples", ()),
    EventSpec(7, "CPUSample", ("time", "m", "p", "g", "stack"), stacks=(4,)),
    EventSpec(8, "Frequency", ("freq",)),
    # Ps.
    EventSpec(9, "ProcsChange", ("dt", "procs_value", "stack"), stacks=(2,), timed=_T),
    EventSpec(10, "ProcStart", ("dt", "p", "p_seq"), timed=_T),
    EventSpec(11, "ProcStop", ("dt",), timed=_T),
    EventSpec(12, "ProcSteal", ("dt", "p", "p_seq", "m"), timed=_T),
    EventSpec(13, "ProcStatus", ("dt", "p", "pstatus"), timed=_T),
    # Goroutines.
    EventSpec(14, "GoCreate", ("dt", "new_g", "new_stack", "stack"), stacks=(3, 2), timed=_T),
    EventSpec(15, "GoCreateSyscall", ("dt", "new_g"), timed=_T),
    EventSpec(16, "GoStart", ("dt", "g", "g_seq"), timed=_T),
    EventSpec(17, "GoDestroy", ("dt",), timed=_T),
    EventSpec(18, "GoDestroySyscall", ("dt",), timed=_T),
    EventSpec(19, "GoStop", ("dt", "reason_string", "stack"), strings=(1,), stacks=(2,), timed=_T),
    EventSpec(20, "GoBlock", ("dt", "reason_string", "stack"), strings=(1,), stacks=(2,), timed=_T),
    EventSpec(21, "GoUnblock", ("dt", "g", "g_seq", "stack"), stacks=(3,), timed=_T),
    EventSpec(22, "GoSyscallBegin", ("dt", "p_seq", "stack"), stacks=(2,), timed=_T),
    EventSpec(23, "GoSyscallEnd", ("dt",), timed=_T, start=22),
    EventSpec(24, "GoSyscallEndBlocked", ("dt",), timed=_T, start=22),
    EventSpec(25, "GoStatus", ("dt", "g", "m", "gstatus"), timed=_T),
    # Stop-the-world.
    EventSpec(26, "STWBegin", ("dt", "kind_string", "stack"), strings=(1,), stacks=(2,), timed=_T),
    EventSpec(27, "STWEnd", ("dt",), timed=_T, start=26),
    # Garbage collection.
    EventSpec(28, "GCActive", ("dt", "gc_seq"), timed=_T, start=29),
    EventSpec(29, "GCBegin", ("dt", "gc_seq", "stack"), stacks=(2,), timed=_T),
    EventSpec(30, "GCEnd", ("dt", "gc_seq"), timed=_T, start=29),
    EventSpec(31, "GCSweepActive", ("dt", "p"), timed=_T, start=32),
    EventSpec(32, "GCSweepBegin", ("dt", "stack"), stacks=(1,), timed=_T),
    EventSpec(33, "GCSweepEnd", ("dt", "swept_value", "reclaimed_value"), timed=_T, start=32),
    EventSpec(34, "GCMarkAssistActive", ("dt", "g"), timed=_T, start=35),
    EventSpec(35, "GCMarkAssistBegin", ("dt", "stack"), stacks=(1,), timed=_T),
    EventSpec(36, "GCMarkAssistEnd", ("dt",), timed=_T, start=35),
    EventSpec(37, "HeapAlloc", ("dt", "heapalloc_value"), timed=_T),
    EventSpec(38, "HeapGoal", ("dt", "heapgoal_value"), timed=_T),
    # User annotations.
    EventSpec(39, "GoLabel", ("dt", "label_string"), strings=(1,), timed=_T),
    EventSpec(40, "UserTaskBegin", ("dt", "task", "parent_task", "name_string", "stack"),
              strings=(3,), stacks=(4,), timed=_T),
    EventSpec(41, "UserTaskEnd", ("dt", "task", "stack"), stacks=(2,), timed=_T),
    EventSpec(42, "UserRegionBegin", ("dt", "task", "name_string", "stack"),
              strings=(2,), stacks=(3,), timed=_T),
    EventSpec(43, "UserRegionEnd", ("dt", "task", "name_string", "stack"),
              strings=(2,), stacks=(3,), timed=_T, start=42),
    EventSpec(44, "UserLog", ("dt", "task", "key_string", "value_string", "stack"),
              strings=(2, 3), stacks=(4,), timed=_T),
    # Coroutine switches (Go 1.23).
    EventSpec(45, "GoSwitch", ("dt", "g", "g_seq"), timed=_T, since=23),
    EventSpec(46, "GoSwitchDestroy", ("dt", "g", "g_seq"), timed=_T, since=23),
    EventSpec(47, "GoCreateBlocked", ("dt", "new_g", "new_stack", "stack"),
              stacks=(3, 2), timed=_T, since=23),
    # Goroutine status with a stack (Go 1.23).
    EventSpec(48, "GoStatusStack", ("dt", "g", "m", "gstatus", "stack"),
              stacks=(4,), timed=_T, since=23),
    # Per-generation batch of experiment-defined bytes (Go 1.23).  On the
    # wire the experiment id is one byte, the rest are varints and the
    # batch length doubles as the data length.
    EventSpec(49, "ExperimentalBatch", ("exp", "gen", "m", "time"), has_data=_T, since=23),
    # Sync batches and clock snapshots (Go 1.25).
    EventSpec(50, "Sync", (), since=25),
    EventSpec(51, "ClockSnapshot", ("dt", "mono", "sec", "nsec"), timed=_T, since=25),
    # In-band end of a generation (Go 1.26).
    EventSpec(52, "EndOfGeneration", (), since=26),
    # AllocFree experiment (GODEBUG=traceallocfree=1, Go 1.23).
    EventSpec(128, "Span", ("dt", "id", "npages_value", "kindclass"), timed=_T, experiment=1, since=23),
    EventSpec(129, "SpanAlloc", ("dt", "id", "npages_value", "kindclass"), timed=_T, experiment=1, since=23),
    EventSpec(130, "SpanFree", ("dt", "id"), timed=_T, experiment=1, since=23),
    EventSpec(131, "HeapObject", ("dt", "id", "type"), timed=_T, experiment=1, since=23),
    EventSpec(132, "HeapObjectAlloc", ("dt", "id", "type"), timed=_T, experiment=1, since=23),
    EventSpec(133, "HeapObjectFree", ("dt", "id"), timed=_T, experiment=1, since=23),
    EventSpec(134, "GoroutineStack", ("dt", "id", "order"), timed=_T, experiment=1, since=23),
    EventSpec(135, "GoroutineStackAlloc", ("dt", "id", "order"), timed=_T, experiment=1, since=23),
    EventSpec(136, "GoroutineStackFree", ("dt", "id"), timed=_T, experiment=1, since=23),
)

# Indexed by event type byte; None where no event is defined.
BY_CODE: tuple[EventSpec | None, ...] = tuple(
    next((s for s in SPECS if s.code == code), None) for code in range(256)
)
BY_NAME: dict[str, EventSpec] = {s.name: s for s in SPECS}

def _check_table() -> None:
    # The decoder relies on these properties; fail at import, not mid-trace.
    seen = set()
    for s in SPECS:
        if s.code in seen or not 0 < s.code < 256:
            raise RuntimeError(f"bad event code {s.code} for {s.name}")
        seen.add(s.code)
        if s.timed and (s.nargs > MAX_TIMED_ARGS or s.args[0] != "dt"):
            raise RuntimeError(f"timed event {s.name} breaks the argument layout")
        if s.timed and s.has_data:
            raise RuntimeError(f"timed event {s.name} cannot carry data")


_check_table()


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
