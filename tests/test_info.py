"""``fastrace info``: the person-first overview, checked against what Go's
own dump of the same trace shows."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re

import pytest

from fastrace import cli
from fastrace.info import OVERVIEW_FIELDS, overview
from tests import FIXTURES

pytestmark = pytest.mark.reference


def _go_dump(path) -> str:
    return gzip.decompress(path.with_name(path.stem + ".parsed.txt.gz").read_bytes()).decode(
        "utf-8", "replace")


@pytest.mark.parametrize("case", ["go1.27/procs", "go1.27/cpuprofile", "go1.22/sched",
                                  "go1.25/gcalloc"])
def test_overview_agrees_with_go_dump(case):
    path = FIXTURES / f"{case}.trace"
    o = overview(path, str(path))
    go = _go_dump(path)
    heads = [line for line in go.split("\n") if line.startswith("M=")]
    times = [int(re.search(r" Time=(-?\d+)", h).group(1)) for h in heads]
    assert o["events"] == len(heads)
    assert o["duration_ns"] == times[-1] - times[0]
    procs = [int(m) for m in re.findall(r'Name="/sched/gomaxprocs:threads" Value=Value\{Uint64\((\d+)\)',
                                         go)]
    assert o["max_procs"] == max(procs)
    assert o["stw_pauses"] == sum(1 for h in heads if " RangeBegin " in h
                                  and 'Name="stop-the-world' in h)
    assert o["cpu_samples"] == sum(1 for h in heads if " StackSample " in h)
    assert o["gc_cycles"] == sum(1 for h in heads if " RangeEnd " in h
                                 and 'Name="GC concurrent mark phase"' in h)
    assert (o["wall_clock_start"] is None) == (case.startswith("go1.22"))


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("go1.*/*.trace")),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_streamed_overview_is_the_whole_traces(path, monkeypatch):
    # overview() of a file goes piece by piece (the summarizer and the
    # ranges pass carry their state over); pieces of 16 rows split every
    # generation many times.  The answers are those of the whole trace.
    import fastrace
    from fastrace import trace as trace_module
    from fastrace.info import overview_of

    want = overview_of(fastrace.read(path), "t")
    monkeypatch.setattr(trace_module, "PIECE_EVENTS", 16)
    assert overview(path, "t") == want
    assert overview(path.read_bytes(), "t", workers=2) == want


def test_info_formats(capsys):
    paths = [str(FIXTURES / "go1.27" / "gcalloc.trace"), str(FIXTURES / "go1.22" / "sched.trace")]
    assert cli.main(["info", "--format", "json", *paths]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["trace"] for r in rows] == paths and set(rows[0]) == set(OVERVIEW_FIELDS)
    assert cli.main(["info", "--format", "csv", *paths]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["events"]) for r in table] == [r["events"] for r in rows]
    assert cli.main(["info", "-v", paths[0]]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"trace:        {paths[0]}\nwritten by:   Go 1.26-1.27")
    assert "batches:" in text       # the wire counts with --verbose
