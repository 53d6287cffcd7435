"""TraceWarning.events_lost: the legible events of the bytes a damaged
trace loses, checked against the complete file's own batch table.

A trace cut at byte ``c`` keeps its generations up to ``W = c - bytes_lost``
(bytes_lost itself is checked against Go's reader in test_truncate.py);
the events lost that can still be read are those of the complete file's
batches that start at or after W and end at or before c.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fastrace

FIX = Path(__file__).parent / "fixtures" / "traces"
CASES = [FIX / v / "long.trace" for v in ("go1.22", "go1.23", "go1.25", "go1.26", "go1.27")]

pytestmark = pytest.mark.damage


def _expected(wire, start: int, cut: int) -> int:
    b = wire.batches
    end = b["data_offset"].astype(np.int64) + b["size"].astype(np.int64)
    legible = np.flatnonzero((b["offset"] >= start) & (end <= cut))
    return int(np.isin(wire.events["batch"], legible).sum())


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.parent.name)
def test_events_lost_at_every_batch_boundary_and_inside(path, tmp_path):
    data = path.read_bytes()
    wire = fastrace.decode_wire(data)
    b = wire.batches
    cuts = sorted({int(x) for x in b["offset"][1:]} | {int(x) + 3 for x in b["offset"][1:]})
    checked = 0
    for cut in cuts:
        if cut >= len(data):
            continue
        t = fastrace.read(data[:cut], on_error="truncate")
        if not t.warnings:
            continue                       # cut exactly after a complete generation
        w = t.warnings[0]
        if w.events_lost is None:
            # Only where some of the damaged generation's events are kept:
            # before Go 1.26 the complete part of a cut generation is
            # ordered until an event cannot be.
            assert wire.version < 26 and isinstance(w.error, fastrace.TraceOrderError), (cut, w)
            continue
        start = cut - w.bytes_lost
        assert w.events_lost == _expected(wire, start, cut), (cut, w)
        checked += 1
    assert checked >= len(cuts) // 4


def test_events_lost_hand_worked():
    # Cut two bytes into the batch after the last generation's first event
    # batch (Go 1.27): the generation is dropped, and the legible events
    # lost are exactly that event batch's (the batches before it in the
    # generation hold strings, stacks and the like, no events).
    path = FIX / "go1.27" / "long.trace"
    data = path.read_bytes()
    wire = fastrace.decode_wire(data)
    g = wire.generations[-1]
    b = wire.batches
    k = int(g["batch_start"]) + int(np.flatnonzero(b["kind"][int(g["batch_start"]):] == 0)[0])
    cut = int(b["offset"][k + 1]) + 2
    t = fastrace.read(data[:cut], on_error="truncate")
    w = t.warnings[0]
    assert w.bytes_lost == cut - int(g["offset"])
    assert w.events_lost == int(b["count"][k]) > 0
