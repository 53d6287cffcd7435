"""Concurrency: the hot loops release the GIL, so reading traces from
several threads at once must give exactly what reading them one after the
other gives (issue: "tested, not assumed")."""

from __future__ import annotations

import concurrent.futures
import hashlib

import numpy as np
import pytest

import fastrace
from tests import FIXTURES

pytestmark = pytest.mark.unit

TRACES = sorted(FIXTURES.glob("go1.*/*.trace"))


def _digest(t: fastrace.Trace) -> str:
    h = hashlib.sha256()
    for table in (t.events, t.threads, t.stacks, t.frames, t.generations, t.exp_batches):
        h.update(np.ascontiguousarray(table).tobytes())
    h.update(t.strings.data)
    return h.hexdigest()


def _wire_digest(path) -> str:
    w = fastrace.decode_wire(path)
    h = hashlib.sha256()
    for table in (w.batches, w.events, w.strings, w.stacks, w.frames, w.cpu_samples):
        h.update(np.ascontiguousarray(table).tobytes())
    return h.hexdigest()


def test_threads_reading_different_traces_agree_with_sequential_reads():
    assert len(TRACES) >= 20
    want = {p: (_digest(fastrace.read(p)), _wire_digest(p)) for p in TRACES}
    # Several passes, each with the traces in another order, so that
    # different pairs of traces are decoded at the same moment.
    rng = np.random.default_rng(7)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            order = [TRACES[i] for i in rng.permutation(len(TRACES))]
            got = pool.map(lambda p: (p, _digest(fastrace.read(p)), _wire_digest(p)), order)
            for p, d, wd in got:
                assert (d, wd) == want[p], p


def test_threads_sharing_one_trace_agree():
    """One trace's tables read, and analysed, from several threads at once."""
    t = fastrace.read(FIXTURES / "go1.27" / "sched.trace")
    want_g = t.goroutines().tobytes()
    want_ev = t.events.tobytes()

    def work(_):
        assert t.events.tobytes() == want_ev
        states = fastrace.read(FIXTURES / "go1.27" / "sched.trace").states()
        return t.goroutines().tobytes(), len(states)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(16)))
    assert all(g == want_g for g, _ in results)
    assert len({n for _, n in results}) == 1


def test_iter_generations_in_threads():
    paths = [p for p in TRACES if "long" in p.name or "sched" in p.name]

    def pieces(p):
        return b"".join(piece.events.tobytes()
                        for piece in fastrace.iter_generations(p, max_events=64))

    want = {p: fastrace.read(p).events.tobytes() for p in paths}
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for p, got in zip(paths, pool.map(pieces, paths)):
            assert got == want[p], p
