"""Exceptions raised for traces fastrace cannot decode.

Every error a bad trace can cause is a :class:`TraceError`, which is also a
:class:`ValueError`.  Each carries where the problem is as attributes
(``offset``, ``generation``, ``batch``, ``event``) and repeats them in the
message, so that a log line alone is enough to find the bad bytes.
"""

from __future__ import annotations

__all__ = [
    "TraceError",
    "TraceFormatError",
    "TraceOrderError",
    "UnsupportedVersionError",
    "WholeTraceRequiredError",
]


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
        where = []
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        if self.generation is not None:
            where.append(f"generation {self.generation}")
        if self.batch is not None:
            where.append(f"batch {self.batch}")
        if self.event is not None:
            where.append(f"event {self.event}")
        if not where:
            return self.problem
        return f"{self.problem} (at {', '.join(where)})"

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


class WholeTraceRequiredError(ValueError):
    """An analysis that needs the whole trace was given a piece of
    :func:`fastrace.iter_generations` (its intervals, pairs or summaries
    run across pieces).  The trace is fine: read it with
    :func:`fastrace.read`, or use the analysis's streaming form where it
    has one (the message names it)."""
