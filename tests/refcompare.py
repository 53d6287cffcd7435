"""Comparing fastrace's dumps with the output of Go's own tools."""

from __future__ import annotations

import io
import re

import numpy as np

import fastrace
from fastrace.dump import write_go_wire

# Go 1.27's raw reader knows experimental events only for 1.26+ traces and
# stops at the first one in a 1.23-1.25 trace.
_GO_GIVES_UP = re.compile(rb"invalid event type: (\d+)")


def fastrace_go_wire(trace) -> bytes:
    out = io.BytesIO()
    write_go_wire(fastrace.decode_wire(trace), out)
    return out.getvalue()


def first_difference(got: bytes, want: bytes) -> str:
    g, w = got.split(b"\n"), want.split(b"\n")
    for i, (a, b) in enumerate(zip(g, w)):
        if a != b:
            return f"line {i + 1}:\n  fastrace: {a!r}\n  go:       {b!r}"
    return f"lengths differ: fastrace {len(g)} lines, go {len(w)} lines"


def assert_matches_go_wire(got: bytes, want: bytes, go_stderr: bytes, go_rc: int, version: int):
    """Equal to Go's dump; or, where Go's reader gave up on an experimental
    event of a 1.23-1.25 trace, Go's output is a prefix of ours that stops
    right before that event."""
    if go_rc == 0:
        assert got == want, first_difference(got, want)
        return
    m = _GO_GIVES_UP.search(go_stderr)
    assert m is not None, f"Go failed for another reason: {go_stderr!r}"
    typ = int(m.group(1))
    assert typ >= 128 and 23 <= version <= 25, (typ, version)
    assert got.startswith(want), first_difference(got[:len(want)], want)
    from fastrace import spec
    nxt = got[len(want):].split(b"\n", 1)[0]
    assert nxt.split(b" ", 1)[0].decode() == spec.BY_CODE[typ].name, nxt


def read_outcome(data, workers: int = 1):
    """Everything fastrace.read gives, comparable with ==: the bytes of
    every table, or the error message and the tables of its ``partial``
    trace (None when there is none)."""
    try:
        t, err = fastrace.read(data, workers=workers), None
    except fastrace.TraceError as e:
        t, err = getattr(e, "partial", None), f"{type(e).__name__}: {e}"
    if t is None:
        return None, err
    return (t.events.tobytes(), t.generations.tobytes(), t.threads.tobytes(),
            t.stacks.tobytes(), t.frames.tobytes(), t.strings.data,
            t.exp_batches.tobytes()), err


def iter_outcome(data, workers: int = 1, max_events: int | None = 4096, on_error: str = "raise"):
    """Everything fastrace.iter_generations gives, comparable with ==: the
    bytes of every piece's rows joined, the last piece's other tables and
    first row, and the error message (with its partial piece's rows) or the
    warnings.  Also checks what holds of every piece: at most ``max_events``
    rows, rows of one generation (a Sync only first, or as the trace's last
    row), ``first_row`` counting the rows before it."""
    from fastrace.kinds import EventKind

    rows, last, err, seen = [], None, None, 0
    pieces = fastrace.iter_generations(data, workers=workers, max_events=max_events,
                                       on_error=on_error)
    try:
        for piece in pieces:
            ev = piece.events
            assert max_events is None or len(ev) <= max_events
            assert piece.first_row == seen
            syncs = np.flatnonzero(ev["kind"] == EventKind.SYNC)
            assert all(s == 0 or s == len(ev) - 1 for s in syncs.tolist())
            seen += len(ev)
            rows.append(ev.tobytes())
            last = piece
    except fastrace.TraceError as e:
        p = getattr(e, "partial", None)
        err = (f"{type(e).__name__}: {e}", None if p is None else
               (p.events.tobytes(), p.first_row, p.generations.tobytes()))
    tables = None if last is None else (
        last.generations.tobytes(), last.threads.tobytes(), last.exp_batches.tobytes(),
        last.stacks.tobytes(), last.frames.tobytes(), last.strings.data)
    warns = None if last is None else [(w.offset, w.generation, w.reason, w.events_kept)
                                       for w in last.warnings]
    return b"".join(rows), tables, err, warns
