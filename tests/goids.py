"""Goroutine ids renamed in an event table, for tests that an analysis does
not depend on which ids a trace uses (the passes keep small ids in directly
indexed tables and large ones in hash maps, with a boundary in between)."""

from __future__ import annotations

import numpy as np

from fastrace import fields

NONE = np.uint64(2**64 - 1)     # "no goroutine" in the a-slots


def goroutine_slots(events: np.ndarray) -> np.ndarray:
    """Boolean (rows, 3) mask of the a-slots that hold goroutine ids (those
    the spec names "goroutine", fastrace.fields.a_names)."""
    mask = np.zeros((len(events), 3), dtype=bool)
    pairs = np.unique(np.stack([events["kind"], events["type"]], axis=1), axis=0)
    for kind, typ in pairs.tolist():
        names = fields.a_names(kind, typ)
        rows = (events["kind"] == kind) & (events["type"] == typ)
        for s, name in enumerate(names[:3]):
            if name == "goroutine":
                mask[rows, s] = True
    return mask


def renumber_goroutines(events: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``events`` with every goroutine id ``g`` (the ``g`` column
    and the a-slots holding goroutines; "none" kept) replaced by ``g +
    offset``: the same trace with other ids."""
    out = events.copy()
    g = out["g"]
    g[g >= 0] += offset
    a = out["a"]
    mask = goroutine_slots(events) & (a != NONE)
    a[mask] += np.uint64(offset)
    return out
