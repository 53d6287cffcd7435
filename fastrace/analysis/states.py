"""Goroutine state intervals: how long each goroutine was runnable, running,
waiting or in a system call, one row per stay in a state.

``Trace.states()`` (:func:`states`) returns a numpy structured array of
:data:`STATE_INTERVAL_DTYPE` (defined once as ``GoStateIntervalRec`` in
``fastrace/_analysis.pxd``), computed by one C pass over the event table
(``fastrace/_states.pxi``).  One row per interval, in the order the
intervals begin (ties: event order):

| field | type | meaning |
| --- | --- | --- |
| ``g`` | int64 | goroutine id |
| ``state`` | uint8 | ``fastrace.kinds.GoState``: 2 Runnable, 3 Running, 4 Waiting, 5 Syscall (names: :func:`state_names`) |
| ``start`` | int64 | ns (trace clock): the transition into the state |
| ``end`` | int64 | ns: the transition out of it; for intervals still open when the trace ends, the trace's last timestamp (as Go's trace viewer closes them) |
| ``reason`` | uint32 | row in ``Trace.strings``: the reason the transition gave ("" = none; e.g. "chan receive", "sleep", "preempted"; text: :func:`reasons`) |
| ``stack`` | uint32 | row in ``Trace.stacks``: stack of the event that began the interval (for an unblock, the waker's; the stack Go's latency profiles use); 0 = none |
| ``transition_stack`` | uint32 | row in ``Trace.stacks``: the goroutine's own stack given by that transition (for a creation, the new goroutine's start); 0 = none |
| ``p`` | int32 | P the goroutine ran on (Running); -1 otherwise |
| ``m`` | int64 | thread (M) id it ran on (Running) or made its system call on (Syscall); -1 otherwise |
| ``prev_state`` | uint8 | ``GoState`` before the transition (0 Undetermined: the goroutine existed before the trace, or before the generation where it is first seen; 1 NotExist: it was created then) |
| ``start_row`` | int64 | row in ``Trace.events`` of the transition that began the interval |
| ``end_row`` | int64 | row of the transition that ended it; -1 = open at the trace's end |

Rules: every goroutine state transition that changes the state closes the
goroutine's open interval and opens the next one, so the intervals of one
goroutine never overlap and each starts where the one before ended.  A
transition to NotExist (the goroutine ended) opens nothing.  Transitions
that keep the state (the status events written at each generation's
start) neither close nor open anything.  The first interval of a goroutine
that existed before tracing began starts at its first status event.
"""

from __future__ import annotations

import numpy as np

from fastrace.kinds import GoState

__all__ = ["STATE_INTERVAL_DTYPE", "STATE_NAMES", "states", "state_names", "reasons"]


def _analysis():
    from fastrace import _analysis

    return _analysis


STATE_INTERVAL_DTYPE: np.dtype = _analysis().STATE_INTERVAL_DTYPE
"""dtype of :func:`states` (``GoStateIntervalRec``, 72 bytes a row)."""

STATE_NAMES: tuple[str, ...] = tuple(str(s) for s in GoState)
"""Go's names of the ``GoState`` values, indexed by value."""


def _state_code(state) -> int:
    if isinstance(state, str):
        for s in GoState:
            if str(s).lower() == state.lower() or s.name.lower() == state.lower():
                return int(s)
        raise ValueError(f"unknown goroutine state {state!r}; one of {', '.join(STATE_NAMES[2:])}")
    return int(GoState(state))


def states(trace, *, goroutine: int | None = None, state=None) -> np.ndarray:
    """The goroutine state intervals of ``trace`` (see the module docstring
    for the columns).  ``goroutine`` keeps one goroutine's rows; ``state``
    (a ``GoState`` or its name, e.g. ``"Waiting"``) one state's."""
    table = _analysis().states_intervals(trace.events, np.ascontiguousarray(trace.threads,
                                                                            dtype=np.int64))
    keep = None
    if goroutine is not None:
        keep = table["g"] == int(goroutine)
    if state is not None:
        code = _state_code(state)
        k = table["state"] == code
        keep = k if keep is None else keep & k
    return table if keep is None else table[keep]


def state_names(intervals: np.ndarray) -> np.ndarray:
    """The ``state`` column as Go's names (``"Runnable"``, ``"Running"``,
    ``"Waiting"``, ``"Syscall"``): a numpy array of str."""
    names = np.array(STATE_NAMES + ("Bad",) * (256 - len(STATE_NAMES)))
    return names[intervals["state"]]


def reasons(trace, intervals: np.ndarray) -> np.ndarray:
    """The ``reason`` column as text: a numpy array of str (each distinct
    string decoded once)."""
    rows, inverse = np.unique(intervals["reason"], return_inverse=True)
    text = np.array([trace.strings.text(int(r)) for r in rows] or [""], dtype=object)
    return text[inverse.reshape(-1)] if len(rows) else np.array([], dtype=object)
