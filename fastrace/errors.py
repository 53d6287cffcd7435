"""Exceptions raised for traces fastrace cannot decode.

Every error a bad trace can cause is a :class:`TraceError`, which is also a
:class:`ValueError`.  Each carries where the problem is as attributes
(``offset``, ``generation``, ``batch``, ``event``) and repeats them in the
message, so that a log line alone is enough to find the bad bytes.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "TraceError",
    "TraceFormatError",
    "TraceOrderError",
    "TraceTooLargeError",
    "TraceWarning",
    "UnsupportedVersionError",
    "WholeTraceRequiredError",
]

ON_ERROR = ("raise", "truncate")
"""The values of the readers' ``on_error`` argument."""


class TraceError(ValueError):
    """Base class of all errors about the contents of a trace.

    Attributes (``None`` where not known):

    - ``offset``: byte offset in the input where the problem was found.
    - ``generation``: generation number as written in the trace.
    - ``batch``: index of the batch in the file (0-based, in file order).
    - ``event``: index of the event inside its batch (0-based).
    """

    def __init__(
        self,
        problem: str,
        *,
        offset: int | None = None,
        generation: int | None = None,
        batch: int | None = None,
        event: int | None = None,
    ) -> None:
        self.problem = problem
        self.offset = offset
        self.generation = generation
        self.batch = batch
        self.event = event
        super().__init__(self._message())

    def _message(self) -> str:
        return self.problem + _where(offset=self.offset, generation=self.generation,
                                     batch=self.batch, event=self.event)

    def __reduce__(self):  # keep attributes across pickling (process pools)
        return (
            _rebuild,
            (type(self), self.problem, self.offset, self.generation, self.batch, self.event),
        )


def _rebuild(cls, problem, offset, generation, batch, event):
    return cls(problem, offset=offset, generation=generation, batch=batch, event=event)


class TraceFormatError(TraceError):
    """The bytes do not follow the wire format: truncation, bad varints,
    impossible lengths, unknown event types, broken framing."""


class TraceOrderError(TraceError):
    """The events are well formed but inconsistent: they cannot be put in an
    order that respects the trace's partial-order constraints."""


class UnsupportedVersionError(TraceError):
    """A well-formed header names a trace version fastrace does not decode."""


class TraceTooLargeError(TraceError, MemoryError):
    """The trace, or what fastrace would hold of it, does not fit in the
    memory available (see :mod:`fastrace.limits`).  Raised before the
    memory is taken, never after; the message says what to do instead.
    Also a :class:`MemoryError`.

    Extra attributes: ``needed`` (bytes, at least), ``available`` (bytes,
    or None where unknown)."""

    def __init__(self, problem: str, *, needed: int | None = None,
                 available: int | None = None, **where) -> None:
        self.needed = needed
        self.available = available
        super().__init__(problem, **where)

    def __reduce__(self):
        return (_rebuild_too_large, (self.problem, self.offset, self.generation, self.batch,
                                     self.event, self.needed, self.available))


def _rebuild_too_large(problem, offset, generation, batch, event, needed, available):
    return TraceTooLargeError(problem, offset=offset, generation=generation, batch=batch,
                              event=event, needed=needed, available=available)


class WholeTraceRequiredError(ValueError):
    """An analysis that needs the whole trace was given a piece of
    :func:`fastrace.iter_generations` (its intervals, pairs or summaries
    run across pieces).  The trace is fine: read it with
    :func:`fastrace.read`, or use the analysis's streaming form where it
    has one (the message names it)."""


class TraceWarning(NamedTuple):
    """What ``on_error="truncate"`` dropped from a damaged trace: one record
    per problem in ``Trace.warnings`` (a reader stops at the first one, as
    Go's does, so there is at most one today).

    - ``offset``: byte offset of the damage in the input (None if unknown).
    - ``generation``: generation number as written in the trace (None if
      unknown).
    - ``reason``: what is wrong, the problem text of ``error``.
    - ``error``: the :class:`TraceError` the strict reader raises (its class
      says whether the bytes are malformed or the events cannot be ordered).
    - ``bytes_lost``: input bytes after the last generation kept whole: the
      bytes of the damaged generation and of everything after it.  When
      the damage is an event that cannot be ordered, the events of that
      generation ordered before it are kept, though its bytes are counted.
    - ``events_lost``: for damaged or cut bytes, the events of the dropped
      bytes that are still legible: every event the wire decoder reads from
      the end of the last generation kept up to the damage (events past the
      damage, or in a cut batch, cannot be counted); for a generation that
      cannot be ordered, its legible events when none of them was kept,
      else None (some of its events are kept, which ones is not counted).
    - ``events_kept``: rows of the result (``len(trace.events)``).
    """

    offset: int | None
    generation: int | None
    reason: str
    error: TraceError
    bytes_lost: int | None
    events_lost: int | None
    events_kept: int

    def __str__(self) -> str:
        lost = []
        if self.bytes_lost is not None:
            lost.append(f"{self.bytes_lost:,} bytes")
        if self.events_lost is not None:
            lost.append(f"{self.events_lost:,} readable events")
        text = f"kept {self.events_kept:,} events; dropped the rest"
        if lost:
            text += f" ({', '.join(lost)})"
        text += f": {self.reason}"
        return text + _where(offset=self.offset, generation=self.generation)


def _where(**place: int | None) -> str:
    """`` (at offset 12, generation 3)`` for the places that are known
    (in the order given), or nothing."""
    known = [f"{name} {value}" for name, value in place.items() if value is not None]
    return f" (at {', '.join(known)})" if known else ""


def check_on_error(on_error: str) -> None:
    """Raise ValueError unless ``on_error`` is one of :data:`ON_ERROR`."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(map(repr, ON_ERROR))}, "
                         f"not {on_error!r}")
