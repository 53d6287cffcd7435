"""Comparing fastrace's dumps with the output of Go's own tools."""

from __future__ import annotations

import io
import re

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
