"""Progress reports: each reader tells the installed sink how far into the
input it is, once per generation, ending at the input's size."""

from __future__ import annotations

import io

import pytest

import fastrace
from fastrace import progress
from tests import FIXTURES

pytestmark = pytest.mark.unit

LONG = FIXTURES / "go1.27" / "long.trace"     # several generations


@pytest.mark.parametrize("how", ["read", "iter", "workers2"])
def test_readers_report_each_generation(how):
    calls = []
    data = LONG.read_bytes()
    with progress.reporting(lambda done, total: calls.append((done, total))):
        if how == "read":
            t = fastrace.read(data)
        elif how == "iter":
            t = None
            for _ in fastrace.iter_generations(data, max_events=64):
                pass
        else:
            t = fastrace.read(data, workers=2)
    w = fastrace.decode_wire(data)
    assert len(calls) == len(w.generations) >= 3
    assert [d for d, _ in calls] == sorted(int(x) for x in w.generations["end"])
    assert all(total == len(data) for _, total in calls)
    assert calls[-1][0] == len(data)
    if t is not None:
        assert len(t.events)
    # Outside the block nothing is reported.
    fastrace.read(data)
    assert len(calls) == len(w.generations)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_bar(monkeypatch):
    pytest.importorskip("tqdm")
    assert progress.terminal_bar("x") is None          # pytest's stderr is no terminal
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    sink = progress.terminal_bar("fastrace info", delay=0)
    with progress.reporting(sink):
        fastrace.read(LONG)
    assert "fastrace info" in term.getvalue()
    quiet = _Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    with progress.reporting(progress.terminal_bar("fastrace info", delay=60)):
        fastrace.read(LONG)
    assert quiet.getvalue() == ""                      # short work: no bar
