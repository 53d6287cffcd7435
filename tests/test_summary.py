"""Goroutine and task summaries against Go's own Summarizer.

The reference is ``tests/gostd/summary/main.go``: Go 1.27.3's
``internal/trace`` reader and Summarizer run over the same file, printing
the goroutines and tasks documents of ``fastrace goroutines|tasks --format
json`` and a regions document.  It is built once per session and given
every trace of a test group in one call.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

import fastrace
from fastrace.errors import WholeTraceRequiredError
from fastrace import cli, rawtext
from fastrace.analysis import summary as S

from tests import gotool

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"
FIXTURE_TRACES = sorted(FIXTURES.glob("go1.*/*.trace"))
REF_SRC = Path(__file__).resolve().parent / "gostd" / "summary" / "main.go"
LIVE_PROGRAMS = ("sched", "annotations", "syscalls", "cgo", "coro", "procs", "gcalloc")


@pytest.fixture(scope="session")
def go_summary():
    """``go_summary(paths)``: {path: (goroutines, tasks, regions)} as Go's
    Summarizer gives them (parsed JSON), or {path: "ERR ..."}."""
    binary = gotool.build_std_prog(REF_SRC, "internal/trace/fastracesummary", "fastrace-summary")
    import subprocess

    def run(paths):
        paths = [str(p) for p in paths]
        if not paths:
            return {}
        out = subprocess.run([str(binary), *paths], stdout=subprocess.PIPE, check=True,
                             timeout=600).stdout.decode("utf-8")
        lines = out.split("\n")
        got, i = {}, 0
        while i < len(lines) and lines[i]:
            assert lines[i].startswith("== "), lines[i]
            path = lines[i][3:]
            if lines[i + 1].startswith("ERR "):
                got[path] = lines[i + 1]
                i += 2
            else:
                got[path] = tuple(json.loads(x) for x in lines[i + 1:i + 4])
                i += 4
        assert sorted(got) == sorted(paths)
        return got

    return run


def cli_json(command: str, path) -> list:
    buf = io.BytesIO()
    out = io.TextIOWrapper(buf, encoding="utf-8")
    with contextlib.redirect_stdout(out):
        rc = cli.main([command, str(path), "--format", "json"])
    out.flush()
    assert rc == 0
    return json.loads(buf.getvalue().decode("utf-8"))


def regions_doc(s: S.Summary) -> list:
    """Our regions in the reference's document form and order."""
    blocks, ranges = {}, {}
    for row, reason, ns in s.region_block_times.tolist():
        blocks.setdefault(row, {})[reason] = ns
    for row, name, ns in s.region_range_times.tolist():
        ranges.setdefault(row, {})[name] = ns
    kinds = {"none": "none", "region": "region", "creation": "goroutine creation",
             "goroutine end": "goroutine end"}
    out = []
    for i, r in enumerate(s.regions.tolist()):
        d = dict(zip(s.regions.dtype.names, r))
        out.append({
            "goroutine": d["goroutine"], "task": d["task"] & S.NO_TASK, "name": d["name"],
            "start": max(d["start"], 0), "start_kind": kinds[d["opened_by"]],
            "end": max(d["end"], 0), "end_kind": kinds[d["closed_by"]],
            "exec_time": d["exec_time"], "sched_wait_time": d["sched_wait_time"],
            "syscall_time": d["syscall_time"], "syscall_block_time": d["syscall_block_time"],
            "block_time_by_reason": blocks.get(i, {}), "range_time": ranges.get(i, {}),
            "total_time": d["total_time"], "unknown_time": d["unknown_time"],
            "listed": d["listed"], "in_task": d["in_task"],
        })
    out.sort(key=lambda r: (r["goroutine"], r["start"], r["end"], r["task"],
                            r["name"].encode("utf-8")))
    return out


def first_diff(got: list, want: list) -> str:
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            keys = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
            return f"item {i}: " + "; ".join(
                f"{k}: fastrace {a.get(k)!r} go {b.get(k)!r}" for k in sorted(keys))
    return f"lengths: fastrace {len(got)}, go {len(want)}"


def check_against_go(path, ref, via_cli: bool = True) -> None:
    assert not isinstance(ref, str), ref
    want_g, want_t, want_r = ref
    s = S.summarize(fastrace.read(path))
    got_g, got_t = S.goroutines_json(s), S.tasks_json(s)
    if via_cli:
        got_g, got_t = cli_json("goroutines", path), cli_json("tasks", path)
        assert [list(o) for o in got_g] == [list(S.GOROUTINE_COLUMNS)] * len(got_g)
        assert [list(o) for o in got_t] == [list(S.TASK_COLUMNS)] * len(got_t)
    assert got_g == want_g, first_diff(got_g, want_g)
    assert got_t == want_t, first_diff(got_t, want_t)
    got_r = regions_doc(s)
    assert got_r == want_r, first_diff(got_r, want_r)


# --- committed fixtures

@pytest.fixture(scope="session")
def fixture_refs(go_summary):
    return go_summary(FIXTURE_TRACES)


def test_fixtures_present():
    assert len(FIXTURE_TRACES) >= 50


@pytest.mark.live
@pytest.mark.parametrize("path", FIXTURE_TRACES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_matches_go(path, fixture_refs):
    check_against_go(path, fixture_refs[str(path)])


# --- traces made during the run

@pytest.fixture(scope="session")
def live_refs(live_trace, go_summary):
    paths = {}
    for v in gotool.VERSIONS:
        for prog in LIVE_PROGRAMS:
            p = live_trace(v, prog)
            if p is not None:
                paths[(v, prog)] = p
    refs = go_summary(paths.values())
    return {k: (p, refs[str(p)]) for k, p in paths.items()}


@pytest.mark.live
@pytest.mark.parametrize("version", gotool.VERSIONS)
def test_live_matches_go(version, live_refs):
    done = [prog for (v, prog) in live_refs if v == version]
    assert "sched" in done and "annotations" in done
    for prog in done:
        path, ref = live_refs[(version, prog)]
        check_against_go(path, ref, via_cli=(prog == "annotations"))


# --- Go's own conformance traces (read from the toolchain at test time)


@pytest.mark.conformance
@pytest.mark.live
def test_conformance_traces_match_go(conformance_traces, go_summary):
    """Go's reader test traces that read successfully (syscalls losing
    their P in every way, tasks across generations, GC ranges active at a
    generation start, ...)."""
    assert len(conformance_traces) >= 15
    refs = go_summary(conformance_traces)
    for p in conformance_traces:
        check_against_go(p, refs[str(p)], via_cli=False)


# --- Hand-made traces for the corner cases the programs do not reach.

NO_M = (1 << 64) - 1


def text_trace(version: int, batches, strings=(), stacks=()) -> bytes:
    """Wire bytes of a text trace.  ``batches``: (gen, m, time, [event
    lines]); strings: [(id, text)]; stacks: [(id, [(pc, func string id,
    file string id, line)])].  Batch sizes are computed; every generation
    gets the frequency 1e9 (1 tick = 1 ns) and the strings and stacks."""
    header = f"Trace Go1.{version}\n"

    def batch(gen, m, time, lines):
        body = "".join(line + "\n" for line in lines)
        size = len(rawtext.text_to_wire(header + body)) - len(f"go 1.{version} trace\0\0\0")
        return f"EventBatch gen={gen} m={m} time={time} size={size}\n" + body

    out = [header]
    for gen in sorted({b[0] for b in batches}):
        for g, m, time, lines in batches:
            if g == gen:
                out.append(batch(gen, m, time, lines))
        out.append(batch(gen, NO_M, 0, ["Frequency freq=1000000000"]))
        out.append(batch(gen, NO_M, 0, ["Stacks"] + [
            f"Stack id={sid} nframes={len(frames)}" + "".join(
                f"\n\tpc={pc} func={fn} file={fl} line={ln}" for pc, fn, fl, ln in frames)
            for sid, frames in stacks]))
        out.append(batch(gen, NO_M, 0, ["Strings"] + [
            f"String id={sid}\n\tdata={json.dumps(s)}" for sid, s in strings]))
    return rawtext.text_to_wire("".join(out))


STRINGS = [(1, "forever"), (2, "main.main"), (3, "main.go"), (4, "main.worker"), (5, "reg"),
           (6, "job"), (7, "sleep"), (8, "GC mark termination")]
STACKS = [(1, [(0x1000, 2, 3, 10)]), (2, [(0x2000, 7, 3, 1), (0x2100, 4, 3, 20)])]

# g1 runs on P0/M0; g3 runs on P1/M1 and is never named (no stacks).
CORNERS = text_trace(22, [
    (1, 0, 1000, [
        "ProcStatus dt=1 p=0 pstatus=1",                            # 1001
        "GoStatus dt=1 g=1 m=0 gstatus=2",                          # 1002: g1 running since the Sync
        "UserTaskBegin dt=8 task=5 parent_task=0 name_string=6 stack=0",   # 1010
        "UserRegionBegin dt=10 task=5 name_string=5 stack=0",       # 1020
        "GoCreate dt=10 new_g=2 new_stack=2 stack=0",               # 1030: g2 inherits task 5
        "UserRegionEnd dt=10 task=5 name_string=5 stack=0",         # 1040
        "UserRegionEnd dt=10 task=9 name_string=5 stack=0",         # 1050: an end without begin
        "STWBegin dt=2 kind_string=8 stack=0",                      # 1052
        "STWEnd dt=3",                                              # 1055
        "GoBlock dt=5 reason_string=1 stack=1",                     # 1060: blocks forever = ends
        "GoStart dt=10 g=2 g_seq=1",                                # 1070
        "UserRegionBegin dt=10 task=5 name_string=5 stack=0",       # 1080: open at the end
        "GoSyscallBegin dt=10 p_seq=1 stack=2",                     # 1090
    ]),
    (1, 1, 1000, [
        "ProcStatus dt=3 p=1 pstatus=1",                            # 1003
        "GoStatus dt=2 g=3 m=1 gstatus=2",                          # 1005
        "UserRegionBegin dt=2 task=0 name_string=5 stack=0",        # 1007: open, unnamed goroutine
        "ProcSteal dt=93 p=0 p_seq=2 m=0",                          # 1100: g2's syscall loses P0
    ]),
    (1, 7, 1200, [
        "GoCreateSyscall dt=1 new_g=10",                            # 1201: a C thread calls Go
        "GoDestroySyscall dt=9",                                    # 1210
        "GoCreateSyscall dt=10 new_g=10",                           # 1220: same id again
        "GoDestroySyscall dt=30",                                   # 1250
    ]),
], STRINGS, STACKS)


@pytest.fixture(scope="session")
def corners(tmp_path_factory, go_summary):
    p = tmp_path_factory.mktemp("corners") / "corners.trace"
    p.write_bytes(CORNERS)
    return p, go_summary([p])[str(p)]


@pytest.mark.live
def test_corners_match_go(corners):
    check_against_go(*corners)


@pytest.mark.live
def test_corners_by_hand(corners):
    """Go's rules worked out by hand on CORNERS.  The last event is the
    final Sync, which Go's reader puts 1 ns after the last one written."""
    end = 1251
    path, _ = corners
    t = fastrace.read(path)
    s = S.summarize(t)
    g = {row["id"]: row for row in s.goroutines}
    assert sorted(g) == [1, 2, 3, 10]
    # g1 blocked "forever" at 1060: that is its end.
    assert g[1]["name"] == "main.main" and g[1]["end_time"] == 1060
    assert g[1]["total_time"] == 1060 - g[1]["creation_time"]
    assert g[1]["regions"] == 2                       # the region it ended + the fabricated one
    # g2: created 1030 (named by its creation stack's outermost frame),
    # runnable to 1070, ran to 1090, in a syscall that lost its P at 1100,
    # still in it at the end: Go counts the whole syscall as syscall time
    # and the part without P also as scheduling wait.
    assert (g[2]["name"], g[2]["pc"]) == ("main.worker", 0x2100)
    assert (g[2]["creation_time"], g[2]["start_time"], g[2]["end_time"]) == (1030, 1070, -1)
    assert g[2]["exec_time"] == 20
    assert g[2]["sched_wait_time"] == 40 + (end - 1100)
    assert g[2]["syscall_time"] == end - 1090 and g[2]["syscall_block_time"] == 0
    assert g[2]["total_time"] == end - 1030 and g[2]["unknown_time"] == 0
    assert g[2]["regions"] == 2                       # inherited + the open one
    # g3 never had a stack: no name, so Go treats it as a system goroutine
    # and leaves its open region off its list.
    assert g[3]["name"] == "" and g[3]["regions"] == 0
    # Goroutine 10 existed twice: the summary is the second one.
    assert (g[10]["creation_time"], g[10]["end_time"], g[10]["syscall_time"]) == (1220, 1250, 30)
    assert g[10]["syscall_block_time"] == 0           # no P: Go has no P to lose

    stw = s.range_times[s.range_times["goroutine"] == 1]
    assert stw.tolist() == [(1, "stop-the-world (GC mark termination)", 3)]

    tasks = {row["id"]: row for row in s.tasks}
    assert sorted(tasks) == [0, 5, 9]
    assert (tasks[5]["name"], tasks[5]["parent"], tasks[5]["start"], tasks[5]["end"]) \
        == ("job", -1, 1010, -1)
    assert tasks[5]["regions"] == 2 and tasks[5]["goroutines"].tolist() == [1, 2]
    assert (tasks[9]["name"], tasks[9]["start"], tasks[9]["regions"]) == ("", -1, 1)
    assert tasks[0]["goroutines"].tolist() == [3]

    r = s.regions
    by = {(row["goroutine"], row["opened_by"], row["closed_by"]): row for row in r}
    assert set(by) == {(1, "region", "region"), (1, "none", "region"),
                       (2, "creation", "none"), (2, "region", "none"), (3, "region", "none")}
    assert by[(1, "region", "region")]["exec_time"] == 20
    fab = by[(1, "none", "region")]
    # No start: the region holds everything of g1 up to its end.
    assert (fab["task"], fab["start"], fab["end"]) == (9, -1, 1050)
    assert fab["exec_time"] == fab["total_time"] == 1050 - g[1]["creation_time"]
    inh = by[(2, "creation", "none")]
    assert (inh["task"], inh["name"], inh["start"], inh["end"], inh["listed"], inh["in_task"]) \
        == (5, "", 1030, -1, True, False)
    unnamed = by[(3, "region", "none")]
    assert (unnamed["listed"], unnamed["in_task"], unnamed["start"]) == (False, True, 1007)
    # Never closed on a system goroutine: Go leaves the stats of its start.
    assert unnamed["total_time"] == 1007 - g[3]["creation_time"]

    logs = t.logs()
    assert len(logs) == 0 and logs.dtype.names == ("time", "goroutine", "task", "category",
                                                   "message")


# A GC mark assist and a sweep that began in generation 1 and end in
# generation 2, where Go's reader re-announces them as active.
RANGES = text_trace(22, [
    (1, 0, 100, [
        "ProcStatus dt=1 p=0 pstatus=1",                            # 101
        "GoStatus dt=1 g=1 m=0 gstatus=2",                          # 102
        "GCMarkAssistBegin dt=8 stack=0",                           # 110
        "GCSweepBegin dt=10 stack=0",                               # 120
    ]),
    (2, 0, 200, [
        "ProcStatus dt=1 p=0 pstatus=1",                            # 201
        "GoStatus dt=1 g=1 m=0 gstatus=2",                          # 202
        "GCMarkAssistActive dt=1 g=1",                              # 203
        "GCSweepActive dt=1 p=0",                                   # 204
        "GCMarkAssistEnd dt=26",                                    # 230
        "GCSweepEnd dt=10 swept_value=0 reclaimed_value=0",         # 240
        "GoStop dt=10 reason_string=7 stack=1",                     # 250
    ]),
], STRINGS, STACKS)


@pytest.mark.live
def test_ranges_across_generations(tmp_path, go_summary):
    p = tmp_path / "ranges.trace"
    p.write_bytes(RANGES)
    check_against_go(p, go_summary([p])[str(p)])
    t = fastrace.read(p)
    ranges = dict((r, ns) for _, r, ns in t.goroutine_range_times().tolist())
    # Counted in pieces (to the second Sync, then from it), adding up to the
    # whole range.
    assert ranges == {"GC mark assist": 230 - 110, "GC incremental sweep": 240 - 120}
    g = t.goroutines()
    assert g["name"].tolist() == ["main.main"] and g["sched_wait_time"].tolist() == [
        t.events["time"][-1] - 250]


@pytest.mark.parametrize("name", ["go1.27/annotations", "go1.25/long", "go1.23/cgo",
                                  "go1.26/flight", "go1.22/syscalls"])
def test_streamed_in_small_pieces(name):
    """Fed 16 rows at a time (iter_generations pieces), the summarizer gives
    the tables of the whole table at once."""
    path = FIXTURES / f"{name}.trace"
    whole = S.summarize(fastrace.read(path))
    pieces = S.summarize_file(path, max_events=16)
    for attr in ("goroutines", "block_times", "range_times", "tasks", "regions",
                 "region_block_times", "region_range_times"):
        a, b = getattr(whole, attr), getattr(pieces, attr)
        assert a.dtype == b.dtype and len(a) == len(b), attr
        for col in a.dtype.names:
            assert [np.asarray(x).tolist() for x in a[col]] == \
                [np.asarray(x).tolist() for x in b[col]], (attr, col)
    assert len(fastrace.read(path).events) > 16 * 10


def test_pieces_are_refused():
    piece = next(fastrace.iter_generations(FIXTURES / "go1.27/long.trace", max_events=16))
    with pytest.raises(WholeTraceRequiredError, match="whole trace"):
        piece.goroutines()


def cli_text(*argv) -> str:
    buf = io.BytesIO()
    out = io.TextIOWrapper(buf, encoding="utf-8")
    with contextlib.redirect_stdout(out):
        rc = cli.main(list(map(str, argv)))
    out.flush()
    assert rc == 0
    return buf.getvalue().decode("utf-8")


def csv_writer_goroutines(s) -> str:
    """The reference for goroutines_csv_chunks: csv.writer itself, as the
    CSV table was written before its rows were %-formatted."""
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(S.GOROUTINE_COLUMNS)
    for cols in S._goroutine_chunks(s):
        for k in (9, 10):
            cols[k] = [S._compact(m) for m in cols[k]]
        w.writerows(zip(*cols))
    return buf.getvalue()


def test_goroutines_csv_is_csv_writers(monkeypatch):
    # Every fixture's table, then names and map keys that need quoting.
    monkeypatch.setattr(S, "_CHUNK", 5)
    for path in sorted(FIXTURES.glob("go1.*/*.trace")):
        s = fastrace.read(path).summary()
        assert "".join(S.goroutines_csv_chunks(s)) == csv_writer_goroutines(s), path
    import csv

    hostile = ["", "main.f", "a,b", 'say "hi"', "line\nbreak", "cr\rx", " padded ", "é,ü",
               '"', ",", "tab\tx"]
    for v in hostile:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([v, 1])
        assert S._csv_text(v) + ",1\n" == buf.getvalue(), v
        m = {v: 3, "chan receive": 5} if v else {}
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([S._compact(m), 1])
        assert S._csv_json(m) + ",1\n" == buf.getvalue(), v


@pytest.mark.parametrize("name", ["go1.27/annotations", "go1.23/syscalls"])
def test_csv_and_text(name, monkeypatch):
    """CSV: one row per item with the JSON document's values (maps as JSON
    objects, goroutine lists space-separated); text: one line per item.
    Small chunks, so that the chunked writers join pieces."""
    import csv

    monkeypatch.setattr(S, "_CHUNK", 3)
    path = FIXTURES / f"{name}.trace"
    doc = cli_json("goroutines", path)
    rows = list(csv.DictReader(io.StringIO(cli_text("goroutines", path, "--format", "csv"))))
    assert len(rows) == len(doc) > 3
    for row, obj in zip(rows, doc):
        assert list(row) == list(S.GOROUTINE_COLUMNS)
        for k, v in obj.items():
            assert (json.loads(row[k]) if isinstance(v, dict) else type(v)(row[k])) == v, k
    tasks = cli_json("tasks", path)
    rows = list(csv.DictReader(io.StringIO(cli_text("tasks", path, "--format", "csv"))))
    assert [r["goroutines"] for r in rows] == [" ".join(map(str, t["goroutines"])) for t in tasks]
    assert [int(r["parent"]) for r in rows] == [t["parent"] for t in tasks]

    text = cli_text("goroutines", path).splitlines()
    assert text[0].split()[:3] == ["id", "name", "total"] and len(text) == len(doc) + 1
    assert [int(line.split()[0]) for line in text[1:]] == [o["id"] for o in doc]
    assert len(cli_text("tasks", path).splitlines()) == len(tasks) + 1


def test_bad_input_is_one_line(tmp_path, capsys):
    p = tmp_path / "bad.trace"
    p.write_bytes(b"go 1.22 trace\0\0\0\x01\x05")
    assert cli.main(["goroutines", str(p)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastrace: ") and err.count("\n") == 1


# --- the summary read ahead by another thread

def test_ahead_keeps_order_bound_and_errors():
    """ahead() hands the items over in order, the producer at most depth
    items ahead of the consumer, then the producer's error."""
    import threading
    import time

    from fastrace.analysis._ahead import ahead

    made = []

    def make():
        for i in range(10):
            made.append(i)
            yield i
        raise ValueError("producer failed after 10 items")

    got, leads = [], []
    with pytest.raises(ValueError, match="after 10 items"):
        for i in ahead(make, depth=2):
            time.sleep(0.01)           # a slow consumer: the producer waits
            leads.append(len(made) - len(got))
            got.append(i)
    assert got == list(range(10))
    # queued (depth) + the one being consumed + the one made but not yet put
    assert 1 <= max(leads) <= 2 + 2
    assert not [t for t in threading.enumerate() if t.name == "fastrace-pieces"]


def test_ahead_closed_early_stops_the_producer():
    import threading

    from fastrace.analysis._ahead import ahead

    def make():
        i = 0
        while True:                    # endless: only closing stops it
            yield i
            i += 1

    it = ahead(make, depth=3)
    assert [next(it) for _ in range(5)] == [0, 1, 2, 3, 4]
    it.close()
    assert not [t for t in threading.enumerate() if t.name == "fastrace-pieces"]


def test_streamed_file_error_is_the_readers(tmp_path):
    """A trace cut short: summarize_file raises the error that reading it
    piece by piece raises (the thread changes nothing), after the pieces
    before it were summarized."""
    data = (FIXTURES / "go1.27/long.trace").read_bytes()
    p = tmp_path / "cut.trace"
    p.write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(fastrace.TraceError) as want:
        for _ in fastrace.iter_generations(p, max_events=64):
            pass
    with pytest.raises(fastrace.TraceError) as got:
        S.summarize_file(p, max_events=64)
    assert type(got.value) is type(want.value) and str(got.value) == str(want.value)


# --- the goroutines JSON written in C

def python_json_text(objs: list) -> str:
    """The document as Python's json module writes it (the reference for
    the C writer): one object a line, ", " and ": " separators."""
    enc = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))
    return "[]\n" if not objs else "[\n" + ",\n".join(enc.encode(o) for o in objs) + "\n]\n"


@pytest.mark.parametrize("path", FIXTURE_TRACES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_goroutines_json_text_is_pythons(path, monkeypatch):
    """The C writer's bytes are those Python's json module writes for
    goroutines_json(), on every fixture, in pieces of any size."""
    s = S.summarize_file(path)
    want = python_json_text(S.goroutines_json(s))
    assert "".join(S.goroutines_json_chunks(s)) == want
    monkeypatch.setattr(S, "_JSON_CHUNK", 7)
    got = b"".join(S.goroutines_json_bytes(s))
    assert got == want.encode("utf-8")


def map_table(maps) -> tuple:
    """Per row a list of (key, value) as the C writers' map table (lo, hi, key, val)."""
    lo = np.cumsum([0] + [len(m) for m in maps[:-1]]).astype(np.int64)
    hi = lo + np.array([len(m) for m in maps], dtype=np.int64)
    flat = [e for m in maps for e in m]
    return (lo, hi, np.array([k for k, _ in flat], dtype=np.int64),
            np.array([v for _, v in flat], dtype=np.int64))


def json_rows_doc(rows, maps, texts, kinds, keys):
    """_analysis.json_rows on these rows (values or text rows) and maps
    (per row a list of (text row, value)), joined as the document is."""
    from fastrace import _analysis

    enc = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))
    blobs = [enc.encode(t).encode("utf-8") for t in texts]
    off = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    pre = [("{" if i == 0 else ", ") + enc.encode(k) + ": " for i, k in enumerate(keys)]
    pre_off = np.concatenate([[0], np.cumsum([len(p.encode()) for p in pre])]).astype(np.int64)
    table = map_table(maps)
    return _analysis.json_rows(np.array(rows, dtype=np.int64).reshape(len(rows), len(keys)),
                               np.array(kinds, dtype=np.uint8), "".join(pre).encode("utf-8"),
                               pre_off, b"".join(blobs), off, [table, table])


def test_json_rows_edges():
    """Ints at every digit count and both ends of int64, texts that need
    escapes or are not ASCII, maps with a key repeated (written once, with
    its last value, as a dict keeps it), empty maps."""
    texts = ["", "a\"b\\c", "tab\there\nnl\x00\x1f\x7f", "é€😀\ufffd", "x" * 100, "plain"]
    ints = [0, 1, -1, 9, 10, 99, 100, -10, 2**63 - 1, -2**63, 10**18, 10**18 - 1,
            -(10**18), 12345678901234567]
    ints += [10**k for k in range(19)] + [10**k - 1 for k in range(1, 19)]
    ints += [-(10**k) for k in range(19)]
    rows, maps, want = [], [], []
    for i, v in enumerate(ints):
        t = i % len(texts)
        neg = -v if v != -2**63 else 2**63 - 1
        m = [(5, v), (1, 3), (1, 4), (0, neg)][: i % 5]
        rows.append([v, t, 0, neg])
        maps.append(m)
        d = {}
        for k, x in m:
            d[texts[k]] = x
        want.append({"n": v, "name": texts[t], "map": d, "neg": rows[-1][3]})
    got = json_rows_doc(rows, maps, texts, [0, 1, 2, 0], ("n", "name", "map", "neg"))
    assert got.decode("utf-8") == python_json_text(want)[2:-3]


def test_json_rows_rejects_bad_references():
    from fastrace import _analysis

    with pytest.raises(ValueError, match="text row is out of range"):
        json_rows_doc([[7]], [[]], ["a"], [1], ("name",))
    with pytest.raises(ValueError, match="text row is out of range"):
        json_rows_doc([[0]], [[(3, 1)]], ["a"], [2], ("map",))
    lo = np.array([0], dtype=np.int64)
    bad = (lo, np.array([2], dtype=np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="not a run inside"):
        _analysis.json_rows(np.zeros((1, 1), np.int64), np.array([2], np.uint8), b'{"m": ',
                            np.array([0, 6], np.int64), b'""', np.array([0, 2], np.int64), [bad])
    with pytest.raises(ValueError, match="needs maps"):
        _analysis.json_rows(np.zeros((1, 1), np.int64), np.array([3], np.uint8), b'{"m": ',
                            np.array([0, 6], np.int64), b'""', np.array([0, 2], np.int64), [bad])


def test_gather_fields_is_numpys():
    from fastrace import _analysis

    rng = np.random.default_rng(7)
    src = np.zeros(50, dtype=[("a", "<i8"), ("n", "<u4"), ("b", "<u8"), ("c", "<i8")])
    src["a"] = rng.integers(-2**63, 2**63 - 1, 50, dtype=np.int64)
    src["b"] = rng.integers(0, 2**64 - 1, 50, dtype=np.uint64)
    src["c"] = np.arange(50)
    dst = np.zeros(30, dtype=[("c", "<i8"), ("x", "O"), ("a", "<i8"), ("b", "<u8")])
    order = rng.integers(0, 50, 30)
    _analysis.gather_fields(dst, src, order, ("a", "b", "c"))
    for f in ("a", "b", "c"):
        assert dst[f].tolist() == src[f][order].tolist()
    assert dst["x"].tolist() == [0] * 30
    with pytest.raises(IndexError, match="not a row of src"):
        _analysis.gather_fields(dst, src, np.full(30, 50), ("a",))
    with pytest.raises(TypeError, match="8-byte integer"):
        _analysis.gather_fields(dst, src, order, ("n",))
    with pytest.raises(ValueError, match="one entry per row"):
        _analysis.gather_fields(dst, src, order[:3], ("a",))


# ---------------------------------------------------------------------------
# The goroutines text table, written in C (_analysis.text_rows): against
# the table as the Python code before it wrote it (kept here as the
# reference: str.format padding, format_duration, max() over (time, key)).

def python_goroutines_text(s: S.Summary) -> str:
    cols = S._goroutine_columns(s)
    g = s.goroutines

    def top(m: dict[str, int]) -> str:
        if not m:
            return ""
        k = max(m, key=lambda x: (m[x], x))
        more = f" +{len(m) - 1}" if len(m) > 1 else ""
        return f"{S._short(k, 32) or '(none)'}: {S.format_duration(m[k])}{more}"

    durations = [[S.format_duration(v) for v in g[k].tolist()]
                 for k in ("total_time", "exec_time", "sched_wait_time", "block_time",
                           "syscall_time", "syscall_block_time", "unknown_time")]
    names = {n: S._short(n) or "(unnamed)" for n in set(cols[1])}
    rows = [list(r) for r in zip(map(str, cols[0]), [names[n] for n in cols[1]], *durations,
                                 map(str, cols[13]), map(top, cols[9]), map(top, cols[10]))]
    return python_table(list(S.GOROUTINE_TEXT_HEADER), rows, right=set(range(2, 10)) | {0})


def python_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    fmt = "  ".join("{:%s%d}" % (">" if i in right else "<", w) for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header).rstrip(),
                      *(fmt.format(*r).rstrip() for r in rows)]) + "\n"


@pytest.mark.parametrize("path", FIXTURE_TRACES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_goroutines_text_is_the_python_tables(path, monkeypatch):
    s = S.summarize_file(path)
    want = python_goroutines_text(s)
    assert S.goroutines_text(s) == want
    monkeypatch.setattr(S, "_TEXT_CHUNK", 3)
    chunks = list(S.goroutines_text_chunks(s))
    assert b"".join(chunks).decode("utf-8") == want
    assert len(chunks) == 1 + -(-len(s.goroutines) // 3)


def text_rows_lines(rows, kinds, right, texts, maps, keys=(), widths=None) -> str:
    """_analysis.text_rows on these rows (values or text rows) and maps
    (per row a list of (key, value), keys indexes of ``keys``, shown as
    themselves), header-less, with widths from text_widths unless given."""
    from fastrace import _analysis

    texts = list(texts) + list(keys)
    blobs = [t.encode("utf-8") for t in texts]
    off = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[sorted(range(len(keys)), key=list(keys).__getitem__)] = np.arange(len(keys))
    key_text = np.arange(len(texts) - len(keys), len(texts), dtype=np.int64)
    table = map_table(maps)
    vals = np.array(rows, dtype=np.int64).reshape(len(rows), len(kinds))
    args = (b"".join(blobs), off, rank, key_text, [table, table])
    k = np.array(kinds, dtype=np.uint8)
    if widths is None:
        widths = _analysis.text_widths(vals, k, *args)
    return _analysis.text_rows(vals, k, np.array(right, dtype=np.uint8), widths,
                               *args).decode("utf-8")


DURATIONS = [0, 1, -1, 999, -999, 1000, 1001, 999_999, 1_000_000, -1_000_000, 1_234_500,
             1_235_500, 2_000_500, 999_999_499, 999_999_500, 999_999_600, 1_000_000_000,
             1_234_500_000, 1_234_499_999, 1_234_500_001, -1_234_500_000, 59_999_999_999,
             2**53 - 1, 2**53, 2**53 + 1, 2**62 + 12345, 2**63 - 1, -2**63]


def test_text_durations_are_format_durations():
    """Every unit boundary, both ends of int64, and quotients exactly
    halfway between two thousandths (1_234_500 ns = 1.2345 ms: Python
    rounds the double, which is below or above the half)."""
    from fastrace import _analysis

    rng = np.random.default_rng(7)
    values = DURATIONS + [int(x) for x in rng.integers(-2**40, 2**40, 2000)]
    values += [int(x) * 500 for x in rng.integers(1, 10**9, 2000)]      # many ties
    got = text_rows_lines([[v] for v in values], [_analysis.TEXT_DUR], [0], [], [[]] * len(values),
                          widths=np.zeros(1, dtype=np.int64))
    assert got.splitlines() == [S.format_duration(v) for v in values]


def test_text_rows_by_hand():
    """Widths in code points (é, €, 😀 are one each), right and left
    alignment, trailing spaces dropped, the largest map entry with ties
    to the later key and a key repeated (its last value, as a dict keeps
    it), "+n" for the other keys, empty maps empty."""
    from fastrace import _analysis as A

    texts = ["é€😀", "ab", ""]
    keys = ["sync", "chan", "zz", "(none)"]
    rows = [[1, 0, 5, 0, 0], [-22, 1, 1_500, 0, 0], [333, 2, 0, 0, 0]]
    maps = [[(1, 7), (0, 7)], [(0, 3), (2, 1), (2, 9)], []]
    got = text_rows_lines(rows, [A.TEXT_INT, A.TEXT_TEXT, A.TEXT_DUR, A.TEXT_TOP0, A.TEXT_TOP1],
                          [1, 0, 1, 0, 0], texts, maps, keys)
    assert got == ("  1  é€😀      5ns  sync: 7ns +1  sync: 7ns +1\n"
                   "-22  ab   1.500µs  zz: 9ns +1    zz: 9ns +1\n"
                   "333           0ns\n")


def test_text_rows_rejects_bad_references():
    from fastrace import _analysis as A

    with pytest.raises(ValueError, match="text row"):
        text_rows_lines([[5]], [A.TEXT_TEXT], [0], ["a"], [[]])
    with pytest.raises(ValueError, match="map"):
        text_rows_lines([[0]], [A.TEXT_TOP0], [0], [], [[(3, 1)]], keys=["a"])
    with pytest.raises(ValueError, match="kind"):
        text_rows_lines([[0]], [9], [0], [], [[]])
    with pytest.raises(ValueError, match="widths"):
        text_rows_lines([[0]], [A.TEXT_INT], [0], [], [[]], widths=np.array([-1]))
