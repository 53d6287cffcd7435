"""Enumerations of the ordered event table (the values Go's trace API uses).

The numbering matches Go's ``internal/trace`` package (``EventKind``,
``GoState``, ``ProcState``, ``ResourceKind``), so a row of
``Trace.events`` means what the same event means in Go; ``str()`` of a
member is Go's name for it.  This module is the only place for these
enums: the C stages check their own copies against it at import.  Which
wire type makes which kind, and what its values mean, is in
:mod:`fastrace.spec`.
"""

from __future__ import annotations

import enum

__all__ = [
    "EventKind",
    "GoState",
    "ProcState",
    "ResourceKind",
    "NO_TASK",
    "BACKGROUND_TASK",
]


class EventKind(enum.IntEnum):
    """Column ``kind`` of the event table."""

    BAD = 0
    SYNC = 1               # start of a generation (and the end of the trace)
    METRIC = 2             # a = (value,); name from the wire type
    LABEL = 3              # a = (label string,); labels the goroutine g
    STACK_SAMPLE = 4       # CPU profile sample; stack = the sampled stack
    RANGE_BEGIN = 5        # a = (scope id, STW kind string | swept, 0 | reclaimed)
    RANGE_ACTIVE = 6
    RANGE_END = 7
    TASK_BEGIN = 8         # a = (task id, parent task id, type string)
    TASK_END = 9
    REGION_BEGIN = 10      # a = (task id, type string, 0)
    REGION_END = 11
    LOG = 12               # a = (task id, category string, message string)
    STATE_TRANSITION = 13  # a = (resource id, reason string, transition stack); from/to states
    EXPERIMENTAL = 14      # a = the first three arguments after the time delta

    def __str__(self) -> str:  # Go's spelling
        return _KIND_NAMES[self]


_KIND_NAMES = {
    EventKind.BAD: "Bad", EventKind.SYNC: "Sync", EventKind.METRIC: "Metric",
    EventKind.LABEL: "Label", EventKind.STACK_SAMPLE: "StackSample",
    EventKind.RANGE_BEGIN: "RangeBegin", EventKind.RANGE_ACTIVE: "RangeActive",
    EventKind.RANGE_END: "RangeEnd", EventKind.TASK_BEGIN: "TaskBegin",
    EventKind.TASK_END: "TaskEnd", EventKind.REGION_BEGIN: "RegionBegin",
    EventKind.REGION_END: "RegionEnd", EventKind.LOG: "Log",
    EventKind.STATE_TRANSITION: "StateTransition", EventKind.EXPERIMENTAL: "Experimental",
}


class GoState(enum.IntEnum):
    UNDETERMINED = 0
    NOT_EXIST = 1
    RUNNABLE = 2
    RUNNING = 3
    WAITING = 4
    SYSCALL = 5

    def __str__(self) -> str:
        return ("Undetermined", "NotExist", "Runnable", "Running", "Waiting", "Syscall")[self]


class ProcState(enum.IntEnum):
    UNDETERMINED = 0
    NOT_EXIST = 1
    RUNNING = 2
    IDLE = 3

    def __str__(self) -> str:
        return ("Undetermined", "NotExist", "Running", "Idle")[self]


class ResourceKind(enum.IntEnum):
    NONE = 0
    GOROUTINE = 1
    PROC = 2
    THREAD = 3

    def __str__(self) -> str:
        return ("None", "Goroutine", "Proc", "Thread")[self]


NO_TASK = (1 << 64) - 1      # task id of "no task" (a task's parent, a region outside tasks)
BACKGROUND_TASK = 0          # the task of everything not in a user task
