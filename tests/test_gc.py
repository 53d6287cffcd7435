"""Ranges, the GC summary, minimum mutator utilisation and wall-clock time
(fastrace.analysis.gc) against Go's own internal/trace code.

The reference is tests/gostd/mmu/main.go, built once per session from Go
1.27.3's source with gotool.build_std_prog.  For each trace it runs Go's
MutatorUtilizationV2 and NewMMUCurve(...).MMU for several flag sets and
windows, and prints the utilisation series, the ranges from Go's
Event.Range/RangeAttributes, the heap metrics and the Sync events' clock
snapshots.  Inputs: every committed fixture, the traces of Go's conformance
suite that Go reads (among them its GC stress trace, with ranges in flight
at the start), and live traces of every Go version in gotool.VERSIONS.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import fastrace
from fastrace import cli
from fastrace.analysis import gc
from fastrace.errors import TraceError, UnsupportedVersionError

from tests import gotool

pytestmark = pytest.mark.unit

TESTS = Path(__file__).resolve().parent
FIXTURES = sorted((TESTS / "fixtures" / "traces").glob("go1.*/*.trace"))
REF_SRC = TESTS / "gostd" / "mmu" / "main.go"

# Go's UtilFlags: 1 stw, 2 background, 4 assist, 8 sweep, 16 per-P.
FLAG_SETS = (15, 31, 0, 1, 2, 4, 8, 3, 12, 17, 22, 25)
CLI_WINDOWS = gc.DEFAULT_WINDOWS
API_WINDOWS = (1, 7, 999, 4567, 33333, 3141592, 10 ** 10, 10 ** 12)
WINDOWS = CLI_WINDOWS + API_WINDOWS
LIVE_PROGRAMS = ("gcalloc", "procs", "sched")


def _kwargs(flags: int) -> dict:
    return dict(stw=bool(flags & 1), background=bool(flags & 2), assist=bool(flags & 4),
                sweep=bool(flags & 8), per_proc=bool(flags & 16))


@pytest.fixture(scope="session")
def go_gc():
    """``go_gc(paths)``: Go's results for each trace path (one run of the
    reference program for all paths not seen yet)."""
    exe = gotool.build_std_prog(REF_SRC, "internal/trace/fastracemmu", "fastrace-mmu")
    done: dict[str, dict] = {}

    def run(paths):
        todo = [str(p) for p in paths if str(p) not in done]
        if todo:
            out = subprocess.run(
                [str(exe), "-util", "-ranges", "-metrics",
                 "-flags", ",".join(map(str, FLAG_SETS)),
                 "-windows", ",".join(map(str, WINDOWS)), *todo],
                capture_output=True, check=True, timeout=600)
            for line in out.stdout.decode().splitlines():
                res = json.loads(line)
                done[res["path"]] = res
        return [done[str(p)] for p in paths]

    return run


def _cli_json(capsys, *args) -> dict:
    assert cli.main(["mmu", "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def check_against_go(path: Path, ref: dict, capsys) -> None:
    assert "error" not in ref, ref.get("error")
    t = fastrace.read(path)
    n_cli = len(CLI_WINDOWS)

    # fastrace mmu --format json [--per-proc] = Go's MMU, all four flags on.
    for extra, flags in (((), 15), (("--per-proc",), 31)):
        got = _cli_json(capsys, *extra, str(path))
        want = ref["mmu"][str(flags)][:n_cli]
        assert list(got) == [str(w) for w in CLI_WINDOWS]
        np.testing.assert_allclose(list(got.values()), want, rtol=0, atol=1e-9,
                                   err_msg=f"fastrace mmu {' '.join(extra)}")

    # The API, for several flag sets: the utilisation series exactly, the
    # MMU of every window within 1e-9.
    for flags in FLAG_SETS:
        curve = t.mmu_curve(**_kwargs(flags))
        want_series = ref["util"][str(flags)] or []
        assert len(curve.series) == len(want_series), f"flags {flags}: number of series"
        for i, (mine, theirs) in enumerate(zip(curve.series, want_series)):
            assert mine["time"].tolist() == [u["Time"] for u in theirs], f"flags {flags} series {i}"
            assert mine["util"].tolist() == [u["Util"] for u in theirs], f"flags {flags} series {i}"
        np.testing.assert_allclose(curve.mmu(WINDOWS), ref["mmu"][str(flags)], rtol=0,
                                   atol=1e-9, err_msg=f"flags {flags}")
    np.testing.assert_allclose(t.mmu(API_WINDOWS, sweep=False),
                               t.mmu_curve(sweep=False).mmu(API_WINDOWS), rtol=0, atol=0)

    # Ranges: names, scopes, times and attributes as Go reports them.
    r = t.ranges()
    mine = sorted((x["name"], int(x["scope_kind"]), int(x["scope"]), int(x["start"]),
                   int(x["end"]), int(x["swept"]), int(x["reclaimed"]),
                   bool(x["clipped_start"]), bool(x["clipped_end"])) for x in r)
    go_ranges = ref.get("ranges") or []
    theirs = sorted((x["name"], x["scope_kind"], x["scope"], x["start"], x["end"], x["swept"],
                     x["reclaimed"], x["clipped_start"], x["clipped_end"]) for x in go_ranges)
    assert mine == theirs
    assert (np.diff(r["start"]) >= 0).all()
    ev = t.events
    begun = r["begin_row"] >= 0
    assert (ev["kind"][r["begin_row"][begun]] != fastrace.kinds.EventKind.RANGE_END).all()
    ended = r["end_row"] >= 0
    assert (ev["time"][r["end_row"][ended]] == r["end"][ended]).all()
    assert (r["clipped_end"] == ~ended).all()

    # The GC summary, from Go's ranges and metrics.
    s = t.gc()
    marks = [x for x in go_ranges if x["name"] == "GC concurrent mark phase"]
    assert s.cycles[["start", "end"]].tolist() == sorted((x["start"], x["end"]) for x in marks)
    assert (s.cycles["duration"] == s.cycles["end"] - s.cycles["start"]).all()
    stws = sorted((x["start"], x["end"], x["name"]) for x in go_ranges
                  if x["name"].startswith("stop-the-world ("))
    assert sorted(zip(s.pauses["start"].tolist(), s.pauses["end"].tolist(),
                      (f"stop-the-world ({k})" for k in s.pauses["kind"]))) == stws
    assert s.pauses["gc"].tolist() == ["GC" in k for k in s.pauses["kind"]]
    for name, total, count in (("GC mark assist", s.mark_assist_time, s.mark_assists),
                               ("GC incremental sweep", s.sweep_time, s.sweeps)):
        assert total == sum(x["end"] - x["start"] for x in go_ranges if x["name"] == name)
        assert count == sum(1 for x in go_ranges if x["name"] == name)
    metrics = ref.get("metrics") or []
    for table, name in ((s.heap, "/memory/classes/heap/objects:bytes"),
                        (s.heap_goal, "/gc/heap/goal:bytes")):
        assert table.tolist() == [(m["time"], m["value"]) for m in metrics if m["name"] == name]

    # The clock snapshots wall_time works from are the ones Go hands out.
    syncs = [x for x in ref["syncs"] if x["has_clock"]]
    g = t.generations
    if t.version >= 25:
        assert [(x["clock_trace"], x["wall_sec"], x["wall_nsec"]) for x in syncs] == \
            list(zip(g["clock_trace"].tolist(), g["clock_sec"].tolist(), g["clock_nsec"].tolist()))
        check_wall_rule(t, ref["syncs"])
    else:
        assert syncs == []


def check_wall_rule(t, go_syncs: list[dict]) -> None:
    """wall_time against Go's snapshots: a time at or after the Sync of
    generation k, before the next Sync, is k's wall time plus its distance
    from k's trace-clock reading."""
    bounds = [x["time"] for x in go_syncs] + [int(t.events["time"][-1]) + 1]
    times, want = [], []
    for k, s in enumerate(go_syncs):
        if not s["has_clock"]:
            continue       # the final Sync, which ends the trace
        wall = s["wall_sec"] * 10 ** 9 + s["wall_nsec"]
        for at in (bounds[k], bounds[k + 1] - 1, s["clock_trace"]):
            if k == 0 or bounds[k] <= at < bounds[k + 1]:
                times.append(at)
                want.append(wall + at - s["clock_trace"])
    got = t.wall_time(np.array(times))
    assert got.dtype == np.dtype("datetime64[ns]")
    assert got.view(np.int64).tolist() == want


@pytest.mark.live
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_matches_go(path, go_gc, capsys):
    ref, = go_gc([path])
    check_against_go(path, ref, capsys)


def test_fixtures_are_there():
    assert len(FIXTURES) >= 50


@pytest.mark.conformance
@pytest.mark.live
def test_conformance_traces_match_go(conformance_traces, go_gc, capsys):
    # Among them Go's GC stress trace: ranges in flight when tracing starts
    # (RangeActive), ranges open at the end, many assists.
    names = [p.stem for p in conformance_traces]
    assert "go122-gc-stress" in names
    for path, ref in zip(conformance_traces, go_gc(conformance_traces)):
        check_against_go(path, ref, capsys)
    stress = fastrace.read(conformance_traces[names.index("go122-gc-stress")])
    r = stress.ranges()
    assert r["clipped_start"].sum() > 0 and r["clipped_end"].sum() > 0
    assert (stress.events["kind"][r["begin_row"][r["clipped_start"] == 1]]
            == fastrace.kinds.EventKind.RANGE_ACTIVE).all()


@pytest.mark.live
@pytest.mark.parametrize("version", gotool.VERSIONS)
def test_live_traces_match_go(version, live_trace, go_gc, capsys):
    paths = [p for p in (live_trace(version, prog) for prog in LIVE_PROGRAMS) if p is not None]
    assert paths
    for path, ref in zip(paths, go_gc(paths)):
        check_against_go(Path(path), ref, capsys)


# --- Shapes, text output, errors.

def test_tables_and_text(capsys):
    t = fastrace.read(TESTS / "fixtures" / "traces" / "go1.27" / "gcalloc.trace")
    r = t.ranges()
    assert r.dtype == gc.RANGES_DTYPE and r.dtype.names[0] == "name"
    assert {"GC concurrent mark phase", "GC mark assist"} <= set(r["name"])
    assert any(n.startswith("stop-the-world (GC") for n in r["name"])
    kinds = r["scope_kind"]
    assert set(r["scope"][kinds == fastrace.kinds.ResourceKind.NONE]) == {-1}
    assert (r["scope"][kinds != fastrace.kinds.ResourceKind.NONE] >= 0).all()
    s = t.gc()
    assert len(s.cycles) >= 1 and len(s.pauses) >= 2 and "GC cycles:" in str(s)
    v = t.mmu()
    assert v.shape == (7,) and v.dtype == np.float64 and ((0 <= v) & (v <= 1)).all()
    assert t.mmu(10 ** 6).shape == (1,)
    assert t.mmu([0, -5]).tolist() == [0.0, 0.0]      # Go: no window, no utilisation
    assert repr(t.mmu_curve()).startswith("<MMUCurve flags=15: 1 series")
    assert len(t.mmu_curve(per_proc=True).series) >= 1

    assert cli.main(["mmu", str(TESTS / "fixtures" / "traces" / "go1.27" / "gcalloc.trace"),
                     "--window", "1000", "--window", "1000000000"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["window", "MMU"] and out[1].split()[0] == "1µs"
    assert out[2].split() == ["1s", f"{v[-1]:.6f}"]
    assert cli.main(["mmu", "--format", "csv", "--window", "5000",
                     str(TESTS / "fixtures" / "traces" / "go1.27" / "gcalloc.trace")]) == 0
    csv = capsys.readouterr().out.splitlines()
    assert csv[0] == "window_ns,mmu" and csv[1].startswith("5000,")


def test_cli_rejects_bad_windows(capsys):
    with pytest.raises(SystemExit):
        cli.main(["mmu", "--window", "0", "x.trace"])
    assert "must be positive" in capsys.readouterr().err


def test_p_out_of_range_is_an_error():
    # Go's MutatorUtilizationV2 indexes its per-P table with the event's P;
    # an assist on no P would make it fail, and fastrace says so.
    t = fastrace.read(TESTS / "fixtures" / "traces" / "go1.27" / "gcalloc.trace")
    ev = t.events.copy()
    row = int(np.flatnonzero((ev["kind"] == fastrace.kinds.EventKind.RANGE_BEGIN)
                             & (ev["type"] == fastrace.spec.BY_NAME["GCMarkAssistBegin"].code))[0])
    ev["p"][row] = -1
    t.events = ev
    with pytest.raises(TraceError, match=f"event {row} charges GC work to P -1"):
        t.mmu()
    assert t.mmu(assist=False).shape == (7,)     # not charged without the assist flag


# --- Wall clock.

def test_wall_time_hand_worked():
    # go1.25/long.trace, three generations.  Go's Sync events carry these
    # snapshots (trace clock ns; wall clock seconds, nanoseconds):
    #   gen 1: Sync at 881845545472, snapshot 881845566912 = 1795669552 s + 550243066 ns
    #   gen 2: Sync at 882846755777, snapshot 882846738752 = 1795669553 s + 551414905 ns
    t = fastrace.read(TESTS / "fixtures" / "traces" / "go1.25" / "long.trace")
    g = t.generations
    assert g[["clock_trace", "clock_sec", "clock_nsec"]].tolist()[:2] == [
        (881845566912, 1795669552, 550243066), (882846738752, 1795669553, 551414905)]
    assert t.events["time"][g["sync_row"][:2]].tolist() == [881845545472, 882846755777]
    cases = {
        881845566912: 1795669552_550243066,          # the snapshot itself
        881845567912: 1795669552_550244066,          # 1 µs later
        881845545472: 1795669552_550221626,          # the first Sync: 21440 ns before
        882846755776: 1795669553_551431930,          # last ns of gen 1: 1001188864 ns after
        882846755777: 1795669553_551431930,          # gen 2's Sync: 17025 ns after its snapshot
        882846755778: 1795669553_551431931,
    }
    got = t.wall_time(list(cases))
    assert got.view(np.int64).tolist() == list(cases.values())
    one = t.wall_time(881845567912)
    assert isinstance(one, np.datetime64) and one == np.datetime64(1795669552_550244066, "ns")
    assert str(one) == "2026-11-26T05:05:52.550244066"   # datetime: 1795669552 s = 05:05:52 UTC
    assert t.wall_time(np.array([[881845566912], [881845567912]])).shape == (2, 1)


def test_wall_time_of_pieces():
    path = TESTS / "fixtures" / "traces" / "go1.27" / "long.trace"
    whole = fastrace.read(path)
    pieces = list(fastrace.iter_generations(path, max_events=None))
    assert len(pieces) >= 3
    for piece in pieces:
        times = piece.events["time"]
        assert (piece.wall_time(times) == whole.wall_time(times)).all()


@pytest.mark.parametrize("version,writers", [("go1.22", "Go 1.22"), ("go1.23", "Go 1.23 or 1.24")])
def test_wall_time_needs_go125(version, writers):
    t = fastrace.read(TESTS / "fixtures" / "traces" / version / "long.trace")
    with pytest.raises(UnsupportedVersionError) as e:
        t.wall_time(0)
    msg = str(e.value)
    assert f"go 1.{version[-2:]}" in msg and writers in msg and "Go 1.25" in msg


@pytest.mark.conformance
@pytest.mark.live
def test_pieces_give_the_same_utilisation(conformance_traces):
    # fastrace mmu feeds the pass piece by piece; tiny pieces split every
    # generation many times.
    from fastrace import _analysis

    paths = [TESTS / "fixtures" / "traces" / "go1.27" / "gcalloc.trace",
             TESTS / "fixtures" / "traces" / "go1.22" / "long.trace",
             next(p for p in conformance_traces if p.stem == "go122-gc-stress")]
    for path in paths:
        t = fastrace.read(path)
        for flags in (15, 31):
            whole = t.mmu_curve(**_kwargs(flags))
            p = _analysis.UtilPass(flags)
            n = 0
            for piece in fastrace.iter_generations(path, max_events=16):
                p.feed(piece.events, piece.strings.data, piece.strings.offsets)
                n += 1
            util, bounds = p.finish()
            assert n > 10
            assert util.tobytes() == whole.util.tobytes() and bounds.tolist() == whole.bounds.tolist()
            streamed = gc.stream_mmu_curve(path, per_proc=bool(flags & 16))
            assert streamed.util.tobytes() == whole.util.tobytes()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_ranges_fed_piece_by_piece_are_the_whole_tables(path):
    # fastrace info feeds the ranges pass piece by piece: ranges in flight
    # carry over, so tiny pieces (every generation split many times) give
    # the rows of the whole table, begin_row and end_row included.
    from fastrace import _analysis

    whole = _analysis.range_table(fastrace.read(path).events, metrics=True)
    for max_events in (16, None):
        p = _analysis.RangePass(True)
        for piece in fastrace.iter_generations(path, max_events=max_events):
            p.feed(piece.events, piece.first_row)
        got = p.finish()
        for a, b in zip(got, whole):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
        with pytest.raises(ValueError, match="finish called twice"):
            p.finish()
        with pytest.raises(ValueError, match="feed after finish"):
            p.feed(piece.events)


def test_pieces_are_refused_with_a_pointer_to_streaming():
    from fastrace.errors import WholeTraceRequiredError

    path = TESTS / "fixtures" / "traces" / "go1.27" / "gcalloc.trace"
    piece = next(fastrace.iter_generations(path))
    for call in (piece.ranges, piece.gc, piece.mmu, piece.mmu_curve):
        with pytest.raises(WholeTraceRequiredError, match="stream_mmu_curve"):
            call()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_utilisation_ignores_goroutine_ids(path):
    # Goroutine ids around the boundary of the pass's directly indexed table
    # (ids 1..4 below it, the others in its hash map) and far above it:
    # renaming the goroutines changes no utilisation series.
    from fastrace import _analysis
    from tests.goids import renumber_goroutines

    t = fastrace.read(path)
    for off in ((1 << 24) - 5, 1 << 40):
        ev = renumber_goroutines(t.events, off)
        for flags in (15, 31, 6):
            try:
                want = _analysis.mutator_utilization(t.events, t.strings.data, t.strings.offsets,
                                                     flags)
            except ValueError as e:
                with pytest.raises(ValueError, match=str(e).split(",")[0]):
                    _analysis.mutator_utilization(ev, t.strings.data, t.strings.offsets, flags)
                continue
            got = _analysis.mutator_utilization(ev, t.strings.data, t.strings.offsets, flags)
            assert got[1].tolist() == want[1].tolist(), (off, flags)
            assert got[0].tobytes() == want[0].tobytes(), (off, flags)
