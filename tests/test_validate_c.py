"""The C pass of fastrace.validate against its Python reference engine.

``validate(trace)`` checks each row in one C pass (``_validate.pxi``);
``validate(trace, engine="python")`` runs the original Python state machine.
Both must give the same problem list, message for message and in the same
order, on:

- every committed fixture, read by fastrace, under each option set;
- Go's conformance traces (``internal/trace/testdata/tests``), including
  the partial tables of the ones Go's reader rejects;
- a few hundred tables made from the fixtures by random damage to rows
  (states, ids, threads, kinds, wire types, times, a-values, stacks; rows
  swapped, dropped or repeated; frames and clock snapshots), which is where
  the problems are: the test also requires that most damaged tables have
  problems and that the damage reaches most kinds of message.

The hand-worked cases of every check are in tests/test_validate.py.
"""

from __future__ import annotations

import copy
import random
import re
from pathlib import Path

import numpy as np
import pytest

import fastrace
from fastrace import rawtext
from fastrace.validate import Validator, validate

pytestmark = pytest.mark.unit

FIXTURES = sorted(Path(__file__).parent.glob("fixtures/traces/go1.*/*.trace"))
OPTIONS = [{}, {"extra": False}, {"context": False}, {"clock_checks": False},
           {"go_version": 21}, {"go_version": 25}]


def same(tr, **kw) -> list[str]:
    c = validate(tr, **kw)
    py = validate(tr, engine="python", **kw)
    assert c == py, (kw, [x for x in c if x not in py][:5], [x for x in py if x not in c][:5])
    return c


def test_engine_is_checked():
    with pytest.raises(ValueError, match="engine"):
        Validator(fastrace.read(FIXTURES[0]), engine="rust")


@pytest.mark.parametrize("path", FIXTURES, ids=[f"{p.parent.name}-{p.stem}" for p in FIXTURES])
def test_fixtures(path):
    tr = fastrace.read(path)
    assert same(tr) == []
    for kw in OPTIONS[1:]:
        same(tr, **kw)


def _conformance_tables():
    from tests import test_conformance as tc

    for path in tc._TESTS:
        _, text = tc.load_test(path)
        try:
            yield path.name, fastrace.read(rawtext.text_to_wire(text))
        except fastrace.TraceError as e:
            if e.partial is not None:
                yield path.name + " (partial)", e.partial


@pytest.mark.conformance
def test_conformance_traces():
    from tests import test_conformance as tc

    if not tc._TESTS:
        # Offline (-m "not live") with no Go 1.27.3 in the cache; a live run
        # fails in test_conformance.test_suite_is_present instead.
        pytest.skip("Go's conformance traces come with the Go 1.27.3 toolchain, not installed")
    tables = list(_conformance_tables())
    assert len(tables) >= 20
    assert any(name.endswith("(partial)") for name, _ in tables)
    for name, tr in tables:
        for kw in OPTIONS:
            try:
                same(tr, **kw)
            except AssertionError as e:
                raise AssertionError(f"{name}: {e}") from None


# -- damaged tables ---------------------------------------------------------------

def _damage(tr, rng: random.Random):
    """A copy of ``tr`` with 1 to 6 random changes."""
    t = copy.copy(tr)
    ev = tr.events.copy()
    gens = tr.generations.copy()
    frames = tr.frames.copy()
    n = len(ev)
    nthreads, nstacks, nstr = len(tr.threads), len(tr.stacks), len(tr.strings)
    for _ in range(rng.randint(1, 6)):
        r = rng.randrange(len(ev))
        other = ev[rng.randrange(len(ev))]
        what = rng.choice(["state", "state", "g", "p", "m", "kind", "type", "time", "a0", "a0",
                           "a1", "a2", "stack", "swap", "drop", "repeat", "frame", "clock",
                           "sync"])
        e = ev[r]
        if what == "state":
            col = rng.choice(["from_state", "to_state"])
            e[col] = rng.choice([0, 1, 2, 3, 4, 5, rng.randrange(256)])
        elif what in ("g", "p"):
            e[what] = rng.choice([other[what], other["g"], -1, -2, int(other["a"][0]) & 0xFFFF])
        elif what == "m":
            e["m"] = rng.choice([other["m"], 0, nthreads, rng.randrange(nthreads)])
        elif what == "kind":
            e["kind"] = rng.choice([other["kind"], rng.randrange(16)])
        elif what == "type":
            e["type"] = rng.choice([other["type"], rng.randrange(50)])
        elif what == "time":
            e["time"] = rng.choice([other["time"], e["time"] - rng.randrange(1, 1000), 0, -5])
        elif what in ("a0", "a1", "a2"):
            s = int(what[1])
            e["a"][s] = rng.choice([int(other["a"][s]), int(other["a"][0]), 0, (1 << 64) - 1,
                                    rng.randrange(nstr + 2), rng.randrange(nstacks + 2)])
        elif what == "stack":
            e["stack"] = rng.choice([other["stack"], 0, rng.randrange(nstacks + 1)])
        elif what == "swap":
            r2 = min(n - 1, r + rng.randint(1, 3))
            ev[[r, r2]] = ev[[r2, r]]
        elif what == "drop" and len(ev) > 2:
            ev = np.delete(ev, r)
        elif what == "repeat":
            ev = np.insert(ev, r, ev[r])
        elif what == "frame" and len(frames):
            f = frames[rng.randrange(len(frames))]
            col = rng.choice(["pc", "line", "func", "file"])
            f[col] = 0 if col in ("pc", "line") else rng.choice([0, nstr + 3])
        elif what == "clock" and len(gens):
            g = gens[rng.randrange(len(gens))]
            col = rng.choice(["clock_trace", "clock_mono", "clock_sec", "clock_nsec",
                              "has_clock"])
            g[col] = rng.choice([0, 1, int(gens[0][col])] + (
                [-62135596800, -1] if col == "clock_sec" else
                [-1_000_000_001, 2_000_000_000] if col == "clock_nsec" else []))
        elif what == "sync":
            syncs = np.flatnonzero(ev["kind"] == 1)
            if len(syncs):
                ev[rng.choice(syncs)]["a"][0] = rng.choice([0, 1, 5, (1 << 64) - 1])
    if rng.random() < 0.2:
        # A window of the rows: everything starts in the middle.
        lo = rng.randrange(len(ev) // 2)
        ev = ev[lo:lo + rng.randint(50, 2000)]
    t.events = np.ascontiguousarray(ev)
    t.generations = gens
    t.frames = frames
    return t


@pytest.mark.damage
def test_damaged_tables():
    rng = random.Random(20261129)
    bases = [fastrace.read(p) for p in FIXTURES]
    kinds: set[str] = set()
    with_problems = 0
    rounds = 400
    for i in range(rounds):
        tr = _damage(rng.choice(bases), rng)
        kw = rng.choice(OPTIONS)
        try:
            probs = same(tr, **kw)
        except AssertionError as e:
            raise AssertionError(f"damaged table {i}: {e}") from None
        with_problems += bool(probs)
        # The kind of message: its words without numbers, names or quotes.
        kinds.update(re.sub(r'"[^"]*"|-?\d+|\([^)]*\)|[A-Z][a-z]+', "", p.split(": ", 1)[1])
                     for p in probs)
    assert with_problems >= rounds * 3 // 4, with_problems
    assert len(kinds) >= 35, sorted(kinds)
