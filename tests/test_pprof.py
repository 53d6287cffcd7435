"""Goroutine state intervals and pprof profiles (fastrace.analysis.states, .pprof).

The reference for the latency profiles is Go 1.27.3's own cmd/trace: the
functions behind `go tool trace -pprof=TYPE`, run through a batch driver
compiled into cmd/trace (tests/gostd/pprofref) that parses each trace once
and writes all four profiles, exactly the bytes the tool prints.  A few
real `go tool trace -pprof=TYPE` runs check the driver against the tool.
Profiles are compared as multisets of (values, frames as (function, file,
line)), decoding both with an independent reader (tests/pprofread.py).
The CPU profile is compared with the StackSample events of Go's parsed
trace (`go tool trace -d=parsed`: the committed dumps of the fixtures, and
the same events printed by the driver for live traces).  `go tool pprof
-top` must read every profile fastrace writes.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import fastrace
from fastrace.errors import WholeTraceRequiredError
from tests import gotool
from tests import pprofread
from tests import FIXTURES, TESTS
from tests.memory import SANITIZED
from fastrace.analysis import pprof as P
from fastrace.analysis import states as S
from fastrace.kinds import EventKind, GoState
from fastrace.spec import PROC_TYPES
from tests.tracebuild import NO_M, batch, ev, header, stacks, strings, sync

pytestmark = [pytest.mark.unit, pytest.mark.reference]

FIXTURE_TRACES = sorted(FIXTURES.glob("go1.*/*.trace"))
LIVE_PROGRAMS = ("sched", "syscalls", "cgo", "annotations", "cpuprofile", "coro")
REF_SRC = TESTS / "gostd" / "pprofref" / "fastrace_pprofref.go"
KINDS = P.LATENCY_KINDS


def _fid(path: Path) -> str:
    return f"{path.parent.name}-{path.stem}"


# ---------------------------------------------------------------- hand-made traces

G7 = (1 << 40) + 7


def _hand_trace() -> bytes:
    """One P; times in ns (freq 1 GHz).  M0, with goroutine 1 running from
    the start:

    1002 g1 running (status)      1132 g5 unblocks g1 (stack 3)
    1012 g1 creates g5 (stack 2)  1142 g5 ends
    1022 g1 blocks "chan receive" 2000 g8 runs; 2010 blocks "chan receive"
    1032 g5 starts                2142 g1 runs
    2192 g1 enters a syscall; 2492 leaves it
    2502 g1 creates g6, which never runs; the trace ends at 2503.

    M1 and M2: goroutines 7 and 8 are in system calls when the trace starts
    (1005, 1006) and leave them blocked (1100, 1200); g7 never runs.  Its id
    is G7, too large for the passes' directly indexed goroutine tables."""
    V = 22
    m0 = (ev(13, 1, 0, 1)               # 1001 ProcStatus p0 running
          + ev(25, 1, 1, 0, 2)          # 1002 GoStatus g1 running on m0
          + ev(14, 10, 5, 1, 2)         # 1012 GoCreate g5, start stack 1, stack 2
          + ev(20, 10, 1, 2)            # 1022 GoBlock "chan receive", stack 2
          + ev(16, 10, 5, 1)            # 1032 GoStart g5
          + ev(21, 100, 1, 1, 3)        # 1132 GoUnblock g1, stack 3
          + ev(17, 10)                  # 1142 GoDestroy (g5)
          + ev(16, 858, 8, 1)           # 2000 GoStart g8
          + ev(20, 10, 1, 0)            # 2010 GoBlock "chan receive", no stack
          + ev(16, 132, 1, 2)           # 2142 GoStart g1
          + ev(22, 50, 1, 2)            # 2192 GoSyscallBegin, stack 2
          + ev(23, 300)                 # 2492 GoSyscallEnd
          + ev(14, 10, 6, 1, 2))        # 2502 GoCreate g6
    m1 = ev(25, 5, G7, 1, 3) + ev(24, 95)         # 1005 g7 in a syscall; 1100 GoSyscallEndBlocked
    m2 = ev(25, 6, 8, 2, 3) + ev(24, 194)         # 1006 g8 in a syscall; 1200 GoSyscallEndBlocked
    return (header(V) + batch(1, 0, 1000, m0) + batch(1, 1, 1000, m1) + batch(1, 2, 1000, m2)
            + batch(1, NO_M, 0, sync(V, 1_000_000_000))
            + batch(1, NO_M, 0, stacks((1, [(0x1000, 2, 3, 10)]),
                                       (2, [(0x2000, 4, 3, 20), (0x2008, 5, 3, 30)]),
                                       (3, [(0x3000, 6, 3, 40)])))
            + batch(1, NO_M, 0, strings((1, b"chan receive"), (2, b"main.worker"),
                                        (3, b"main.go"), (4, b"main.block"), (5, b"main.main"),
                                        (6, b"main.waker"))))


def _deep_trace() -> bytes:
    """Goroutine 1 blocks on a channel once in each of two generations, from
    stacks of 128 frames (the most a trace holds) with the same PCs, but
    the outermost PC has another line in the second generation (a trace
    gives each PC one frame per generation).  Go's profiles key stacks by
    their PCs, so both waits are one sample, with the frames of the stack
    seen last.  A wait with reason "sleep" is in no profile."""
    V = 22
    deep = [(0x1000 + 8 * i, 2, 3, 100 + i) for i in range(127)]
    gen1 = (ev(13, 1, 0, 1)             # 1001 ProcStatus p0 running
            + ev(25, 1, 1, 0, 2)        # 1002 g1 running
            + ev(25, 1, 2, NO_M, 1)     # 1003 g2 runnable
            + ev(20, 10, 1, 1)          # 1013 g1 blocks "chan send", stack 1
            + ev(16, 1, 2, 1)           # 1014 g2 runs
            + ev(21, 20, 1, 1, 0)       # 1034 g2 unblocks g1
            + ev(20, 1, 4, 0)           # 1035 g2 blocks "sleep"
            + ev(16, 5, 1, 2))          # 1040 g1 runs
    gen2 = (ev(13, 1, 0, 1)             # 2001 ProcStatus p0 running
            + ev(25, 1, 1, 0, 2)        # 2002 g1 running
            + ev(25, 1, 2, NO_M, 4)     # 2003 g2 waiting
            + ev(20, 10, 1, 1)          # 2013 g1 blocks "chan send", stack 1
            + ev(21, 40, 1, 1, 0)       # 2053 unblocked (from no goroutine)
            + ev(16, 10, 1, 2))         # 2063 g1 runs
    out = bytearray(header(V))
    for gen, base, evs, line in ((1, 1000, gen1, 1), (2, 2000, gen2, 2)):
        out += batch(gen, 0, base, evs)
        out += batch(gen, NO_M, 0, sync(V, 1_000_000_000))
        out += batch(gen, NO_M, 0, stacks((1, deep + [(0x9000, 2, 3, line)])))
        out += batch(gen, NO_M, 0, strings((1, b"chan send"), (2, b"main.f"), (3, b"main.go"),
                                           (4, b"sleep")))
    return bytes(out)


# ---------------------------------------------------------------- Go's reference

def _ref_binary() -> Path:
    return gotool.build_std_prog(REF_SRC, "cmd/trace", "fastrace-pprofref")


def go_reference(paths: list[Path], out: Path) -> list[dict]:
    """Go's four profiles and StackSample events of each trace (see
    tests/gostd/pprofref): per path, {kind: profile bytes or an error
    string, "cpu": the events' text}."""
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([str(_ref_binary()), *map(str, paths)],
                          env={**gotool.go_env(gotool.REFERENCE), "FASTRACE_PPROFREF": str(out)},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    refs = []
    for i in range(len(paths)):
        r = {}
        parse_err = out / f"{i}.parse.err"
        assert not parse_err.exists(), parse_err.read_text()
        for kind in KINDS:
            f = out / f"{i}.{kind}.pb.gz"
            r[kind] = f.read_bytes() if f.exists() else (out / f"{i}.{kind}.err").read_text()
        r["cpu"] = (out / f"{i}.cpu.txt").read_bytes()
        refs.append(r)
    return refs


@pytest.fixture(scope="module")
def hand_paths(tmp_path_factory):
    d = tmp_path_factory.mktemp("hand")
    (d / "hand.trace").write_bytes(_hand_trace())
    (d / "deep.trace").write_bytes(_deep_trace())
    return [d / "hand.trace", d / "deep.trace"]


@pytest.fixture(scope="module")
def fixture_refs(tmp_path_factory, hand_paths):
    paths = FIXTURE_TRACES + hand_paths
    refs = go_reference(paths, tmp_path_factory.mktemp("pprofref"))
    return dict(zip(paths, refs))


def _go_stack_samples(text: bytes) -> list[tuple]:
    """The stacks of the StackSample events in Go's parsed-event text (each
    event as `go tool trace -d=parsed` prints it), as tuples of
    (function, file, line) frames."""
    out = []
    cur = None
    lines = text.split(b"\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(b"M="):
            if cur is not None:
                out.append(tuple(cur))
            cur = [] if b" StackSample Time=" in line else None
        elif cur is not None and line.startswith(b"\t") and not line.startswith(b"\t\t"):
            func = line[1:].rsplit(b" @ 0x", 1)[0]
            file, _, ln = lines[i + 1][2:].rpartition(b":")
            cur.append((func.decode("utf-8", "surrogateescape"),
                        file.decode("utf-8", "surrogateescape"), int(ln)))
            i += 1
        i += 1
    if cur is not None:
        out.append(tuple(cur))
    return out


# ---------------------------------------------------------------- comparisons

def _profile_multiset(data: bytes) -> tuple[Counter, pprofread.Profile]:
    p = pprofread.parse(data)
    return pprofread.sample_multiset(p), p


AMBIGUOUS = Counter()     # kind -> traces where one pass was not enough (second pass run)


def _same_profile(a: P.Profile, b: P.Profile) -> bool:
    return a.stacks.tolist() == b.stacks.tolist() and a.values.tolist() == b.values.tolist()


def assert_latency_profiles_match(trace_path: Path, ref: dict, out_dir: Path | None = None):
    """fastrace's profile equals Go's; the one-pass answer equals Go's
    two-pass method, and reading the file in pieces gives the same."""
    from fastrace import _analysis

    t = fastrace.read(trace_path)
    for kind in KINDS:
        want = ref[kind]
        assert isinstance(want, bytes), f"{trace_path} {kind}: Go failed: {want}"
        prof = t.profile(kind)
        assert _same_profile(prof, P.latency_profile(t, kind, two_pass=True)), kind
        assert _same_profile(prof, P.read_profile(trace_path, kind, max_events=16)), kind
        acc = P._new_latency(kind)
        P._feed(acc, t)
        AMBIGUOUS[kind] += acc.ambiguous
        data = prof.to_pprof()
        if out_dir is not None:
            (out_dir / f"{_fid(trace_path)}.{kind}.pb.gz").write_bytes(data)
        got_ms, got = _profile_multiset(data)
        want_ms, go = _profile_multiset(want)
        assert got.sample_types == go.sample_types == [("contentions", "count"),
                                                       ("delay", "nanoseconds")]
        assert (got.period_type, got.period) == (go.period_type, go.period) == (("trace", "count"), 1)
        if got_ms != want_ms:
            only_got, only_go = got_ms - want_ms, want_ms - got_ms
            pytest.fail(f"{trace_path} {kind}: {sum(only_got.values())} samples only in fastrace's "
                        f"(e.g. {list(only_got)[:2]}), {sum(only_go.values())} only in Go's "
                        f"(e.g. {list(only_go)[:2]})")
        # Same number of distinct locations and functions as Go writes.
        assert (got.n_locations, got.n_functions) == (go.n_locations, go.n_functions), kind


def assert_cpu_profile_matches(trace_path: Path, go_samples: list[tuple], out_dir: Path | None = None):
    t = fastrace.read(trace_path)
    prof = t.cpu_profile()
    streamed = P.read_profile(trace_path, "cpu", max_events=16)
    assert _same_profile(prof, streamed) and prof.duration == streamed.duration
    data = prof.to_pprof()
    if out_dir is not None and len(go_samples):
        (out_dir / f"{_fid(trace_path)}.cpu.pb.gz").write_bytes(data)
    p = pprofread.parse(data)
    assert p.sample_types == [("samples", "count"), ("cpu", "nanoseconds")]
    assert (p.period_type, p.period) == (("cpu", "nanoseconds"), P.CPU_PERIOD)
    got = Counter()
    for (n, cpu), frames in p.samples:
        assert n > 0 and cpu == n * P.CPU_PERIOD
        got[frames] += n
    assert sum(got.values()) == len(go_samples) == prof.total()[0]
    assert got == Counter(go_samples)


@pytest.mark.live
@pytest.mark.parametrize("path", FIXTURE_TRACES, ids=_fid)
def test_latency_profiles_match_go(path, fixture_refs, pprof_out):
    assert_latency_profiles_match(path, fixture_refs[path], pprof_out)


def test_second_pass_was_needed_somewhere():
    """The cgo fixtures have goroutine ids that live again (callbacks on C
    threads): there one pass cannot decide, and the second pass ran (and
    matched Go, above)."""
    if not AMBIGUOUS:
        pytest.skip("run after test_latency_profiles_match_go")
    assert AMBIGUOUS["syscall"] > 0


@pytest.mark.parametrize("path", FIXTURE_TRACES, ids=_fid)
def test_cpu_profile_matches_go_parsed(path, pprof_out):
    """Against the committed `go tool trace -d=parsed` dump of the fixture."""
    dump = gzip.decompress(path.with_name(path.stem + ".parsed.txt.gz").read_bytes())
    assert_cpu_profile_matches(path, _go_stack_samples(dump), pprof_out)


@pytest.mark.live
def test_driver_stack_samples_equal_parsed_dumps(fixture_refs):
    """The batch driver prints the StackSample events as `-d=parsed` does."""
    seen = 0
    for path in FIXTURE_TRACES:
        dump = gzip.decompress(path.with_name(path.stem + ".parsed.txt.gz").read_bytes())
        want = _go_stack_samples(dump)
        assert _go_stack_samples(fixture_refs[path]["cpu"]) == want, path
        seen += len(want)
    assert seen > 100      # the cpuprofile fixtures have CPU samples


@pytest.mark.live
@pytest.mark.parametrize("name", ["go1.27/syscalls", "go1.22/cgo"])
def test_driver_equals_go_tool_trace(name, fixture_refs):
    """The batch driver gives what `go tool trace -pprof=TYPE FILE` prints."""
    path = FIXTURES / f"{name}.trace"
    nonempty = 0
    for kind in KINDS:
        proc = gotool.run_go(gotool.REFERENCE, "tool", "trace", f"-pprof={kind}", path.name,
                             cwd=path.parent)
        tool = pprofread.sample_multiset(pprofread.parse(proc.stdout))
        assert tool == pprofread.sample_multiset(pprofread.parse(fixture_refs[path][kind]))
        nonempty += bool(tool)
    assert nonempty >= 3


# ---------------------------------------------------------------- hand-worked cases

def _frames(t, row: int) -> tuple:
    return tuple((f.func, f.file, f.line) for f in t.stack_frames(row))


def test_states_hand_worked():
    t = fastrace.read(_hand_trace())
    iv = S.states(t)
    end = int(t.events["time"][-1])
    assert end == 2503
    got = [(int(r["g"]), S.STATE_NAMES[r["state"]], int(r["start"]), int(r["end"]),
            t.strings.text(int(r["reason"])), int(r["p"]), int(r["m"]),
            S.STATE_NAMES[r["prev_state"]]) for r in iv]
    assert got == [
        (1, "Running", 1002, 1022, "", 0, 0, "Undetermined"),
        (G7, "Syscall", 1005, 1100, "", -1, 1, "Undetermined"),
        (8, "Syscall", 1006, 1200, "", -1, 2, "Undetermined"),
        (5, "Runnable", 1012, 1032, "", -1, -1, "NotExist"),
        (1, "Waiting", 1022, 1132, "chan receive", -1, -1, "Running"),
        (5, "Running", 1032, 1142, "", 0, 0, "Runnable"),
        (G7, "Runnable", 1100, end, "", -1, -1, "Syscall"),     # open: closed at the end
        (1, "Runnable", 1132, 2142, "", -1, -1, "Waiting"),
        (8, "Runnable", 1200, 2000, "", -1, -1, "Syscall"),
        (8, "Running", 2000, 2010, "", 0, 0, "Runnable"),
        (8, "Waiting", 2010, end, "chan receive", -1, -1, "Running"),
        (1, "Running", 2142, 2192, "", 0, 0, "Runnable"),
        (1, "Syscall", 2192, 2492, "", -1, 0, "Running"),
        (1, "Running", 2492, end, "", 0, 0, "Syscall"),
        (6, "Runnable", 2502, end, "", -1, -1, "NotExist"),
    ]
    assert (iv["end_row"] == -1).tolist() == [e == end for e in iv["end"].tolist()]
    # Stacks: the event's (g1's for the creation, g5's for the unblock) and
    # the goroutine's own (g5's start).
    block = (("main.block", "main.go", 20), ("main.main", "main.go", 30))
    assert _frames(t, int(iv["stack"][3])) == block
    assert _frames(t, int(iv["transition_stack"][3])) == (("main.worker", "main.go", 10),)
    assert _frames(t, int(iv["stack"][7])) == (("main.waker", "main.go", 40),)
    assert iv["transition_stack"][7] == 0
    assert S.reasons(t, iv).tolist()[4] == "chan receive"
    assert S.state_names(iv).tolist()[:4] == ["Running", "Syscall", "Syscall", "Runnable"]
    # Selection by goroutine and by state name.
    assert S.states(t, goroutine=5)["state"].tolist() == [GoState.RUNNABLE, GoState.RUNNING]
    assert t.states(state="Waiting")["g"].tolist() == [1, 8]
    assert t.states(state=GoState.SYSCALL)["start"].tolist() == [1005, 1006, 2192]
    assert t.states(goroutine=8, state="running")["start"].tolist() == [2000]
    with pytest.raises(ValueError, match="unknown goroutine state"):
        t.states(state="Sleeping")


@pytest.mark.live
def test_profiles_hand_worked(fixture_refs, hand_paths):
    t = fastrace.read(_hand_trace())
    block = (("main.block", "main.go", 20), ("main.main", "main.go", 30))
    want = {
        # g8's wait never ends.
        "sync": Counter({((1, 110), block): 1}),
        # A goroutine's window starts when it first runs: g8's system call
        # (before it ran) is dropped, g7's (it never runs: the window starts
        # at 0) counts, without a stack (its status event has none).
        "syscall": Counter({((1, 300), block): 1, ((1, 95), ()): 1}),
        # Likewise g5's and g8's waits before their first runs are dropped;
        # g6 and g7 never leave Runnable: only g1's wait counts, under the
        # waker's stack.
        "sched": Counter({((1, 1010), (("main.waker", "main.go", 40),)): 1}),
        "net": Counter(),
    }
    ref = fixture_refs[hand_paths[0]]
    for kind in KINDS:
        prof = t.profile(kind)
        got = pprofread.sample_multiset(pprofread.parse(prof.to_pprof()))
        assert got == want[kind], kind
        assert _same_profile(prof, P.latency_profile(t, kind, two_pass=True))
        assert pprofread.sample_multiset(pprofread.parse(ref[kind])) == want[kind], kind
    sched = t.profile("sched")
    assert sched.total() == (1, 1010)
    assert sched.top(1) == [P.Func("main.waker", 1010, 1010)]
    assert t.cpu_profile().total() == (0, 0)


@pytest.mark.live
def test_profile_stacks_merged_by_pcs(fixture_refs, hand_paths):
    t = fastrace.read(_deep_trace())
    prof = t.profile("sync")
    assert len(prof) == 1 and prof.total() == (2, 21 + 40)
    p = pprofread.parse(prof.to_pprof())
    (values, frames), = p.samples
    assert values == (2, 61) and len(frames) == 128
    assert frames[-1] == ("main.f", "main.go", 2)
    ref = fixture_refs[hand_paths[1]]
    assert pprofread.sample_multiset(pprofread.parse(ref["sync"])) == Counter({(values, frames): 1})


# ---------------------------------------------------------------- state invariants

def check_state_invariants(t):
    iv = S.states(t)
    ev = t.events
    n = len(ev)
    # Independently: the rows that start intervals are the goroutine
    # transitions that change the state to one of the four.
    go = (ev["kind"] == EventKind.STATE_TRANSITION) & ~np.isin(ev["type"], list(PROC_TYPES))
    changes = go & (ev["from_state"] != ev["to_state"])
    opens = np.flatnonzero(changes & (ev["to_state"] >= GoState.RUNNABLE))
    assert iv["start_row"].tolist() == opens.tolist()
    assert (iv["start"] == ev["time"][opens]).all()
    assert (iv["g"] == ev["a"][opens, 0].astype(np.int64)).all()
    assert (iv["state"] == ev["to_state"][opens]).all()
    assert (iv["prev_state"] == ev["from_state"][opens]).all()
    assert (iv["reason"] == ev["a"][opens, 1]).all()
    assert (iv["stack"] == ev["stack"][opens]).all()
    assert (iv["transition_stack"] == ev["a"][opens, 2]).all()
    assert (iv["end"] >= iv["start"]).all()
    running = iv["state"] == GoState.RUNNING
    assert (iv["p"][running] == ev["p"][opens[running]]).all()
    assert (iv["p"][~running] == -1).all()
    on_m = running | (iv["state"] == GoState.SYSCALL)
    assert (iv["m"][on_m] == t.threads[ev["m"][opens[on_m]]]).all()
    assert (iv["m"][~on_m] == -1).all()
    closed = iv["end_row"] >= 0
    assert (iv["end"][closed] == ev["time"][iv["end_row"][closed]]).all()
    if n:
        assert (iv["end"][~closed] == ev["time"][-1]).all()
    # Per goroutine: intervals chain from one transition to the next, and
    # only the last can be open.
    order = np.lexsort((iv["start_row"], iv["g"]))
    rows = iv[order]
    same_g = rows["g"][1:] == rows["g"][:-1]
    prev, nxt = rows[:-1][same_g], rows[1:][same_g]
    assert (prev["end_row"] >= 0).all()
    assert (nxt["start"] >= prev["end"]).all()
    ended = ev["to_state"][prev["end_row"]] == GoState.NOT_EXIST
    assert (nxt["start_row"][~ended] == prev["end_row"][~ended]).all()
    assert (nxt["prev_state"][~ended] == prev["state"][~ended]).all()
    assert (ev["from_state"][prev["end_row"]] == prev["state"]).all()
    # Every transition that changes a goroutine's state ends its interval
    # (when it had one).
    ends = set(iv["end_row"][closed].tolist())
    assert ends <= set(np.flatnonzero(changes).tolist())
    return iv


@pytest.mark.parametrize("path", FIXTURE_TRACES, ids=_fid)
def test_state_invariants_fixtures(path):
    iv = check_state_invariants(fastrace.read(path))
    assert len(iv) > 0
    assert {GoState.RUNNABLE, GoState.RUNNING} <= set(iv["state"].tolist())


# ---------------------------------------------------------------- live traces

def _live_cases():
    for v in gotool.VERSIONS:
        for p in LIVE_PROGRAMS:
            if gotool.supports(v, p):
                yield v, p


@pytest.fixture(scope="module")
def live_refs(live_trace, tmp_path_factory):
    paths = [live_trace(v, p) for v, p in _live_cases()]
    paths = [p for p in paths if p is not None]
    return dict(zip(paths, go_reference(paths, tmp_path_factory.mktemp("pprofref-live"))))


@pytest.mark.live
@pytest.mark.parametrize("version", gotool.VERSIONS)
def test_live_profiles_match_go(version, live_trace, live_refs, pprof_out):
    done = 0
    for v, program in _live_cases():
        path = live_trace(v, program) if v == version else None
        if path is None:
            continue
        ref = live_refs[path]
        assert_latency_profiles_match(path, ref, pprof_out)
        assert_cpu_profile_matches(path, _go_stack_samples(ref["cpu"]), pprof_out)
        check_state_invariants(fastrace.read(path))
        if program == "cpuprofile":
            assert fastrace.read(path).cpu_profile().total()[0] > 0
        done += 1
    assert done >= 4


# ---------------------------------------------------------------- go tool pprof

@pytest.fixture(scope="module")
def pprof_out(tmp_path_factory):
    """Every profile the comparisons write, for test_go_tool_pprof_reads_them."""
    return tmp_path_factory.mktemp("written")


def _go_pprof(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return gotool.run_go(gotool.REFERENCE, "tool", "pprof", *args, cwd=cwd, check=False)


@pytest.mark.live
def test_go_tool_pprof_reads_them(pprof_out):
    """`go tool pprof -top` of the reference toolchain reads every profile
    written by the tests above (module order: they ran before): one call
    per group of profiles pprof can merge, since it parses each file before
    merging and stops at the first it cannot read."""
    files = sorted(pprof_out.glob("*.pb.gz"))
    if not files:
        pytest.skip("run with the comparison tests of this module")
    groups = {"latency": [f.name for f in files if not f.name.endswith(".cpu.pb.gz")],
              "cpu": [f.name for f in files if f.name.endswith(".cpu.pb.gz")]}
    assert groups["latency"]
    for name, group in groups.items():
        if not group:
            continue
        proc = _go_pprof("-top", *group, cwd=pprof_out)
        err = proc.stderr.decode(errors="replace")
        assert proc.returncode == 0, f"{name}: {err}"
        out = proc.stdout.decode()
        assert ("Type: delay" if name == "latency" else "Type: cpu") in out


@pytest.mark.live
def test_go_tool_pprof_top_equals_gos(tmp_path, fixture_refs):
    """On a real profile, `go tool pprof -top` prints the same table for
    fastrace's profile as for Go's."""
    path = FIXTURES / "go1.27" / "sched.trace"
    (tmp_path / "fastrace.pb.gz").write_bytes(fastrace.read(path).profile("sched").to_pprof())
    (tmp_path / "go.pb.gz").write_bytes(fixture_refs[path]["sched"])
    a = _go_pprof("-top", "fastrace.pb.gz", cwd=tmp_path)
    b = _go_pprof("-top", "go.pb.gz", cwd=tmp_path)
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert a.stdout == b.stdout
    assert b"Showing nodes accounting for" in a.stdout
    # Profile.top() gives pprof's flat and cum per function.
    full = _go_pprof("-top", "-unit=ns", "-nodecount=0", "-nodefraction=0", "-edgefraction=0",
                     "go.pb.gz", cwd=tmp_path)
    rows = {}

    def ns(text: str) -> int | None:       # "552952ns", or "0"
        text = text.removesuffix("ns")
        return int(text) if text.isdigit() else None

    for line in full.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) == 6 and ns(parts[0]) is not None and ns(parts[3]) is not None:
            rows[parts[5]] = (ns(parts[0]), ns(parts[3]))
    top = fastrace.read(path).profile("sched").top(1000)
    assert len(rows) > 5 and {f.function: (f.flat, f.cum) for f in top} == rows


# ---------------------------------------------------------------- CLI

def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent)] + sys.path)}
    return subprocess.run([sys.executable, "-m", "fastrace", *args], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)


@pytest.mark.live
def test_cli_pprof(tmp_path, fixture_refs):
    path = FIXTURES / "go1.27" / "syscalls.trace"
    out = _cli("pprof", "syscall", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout[:2] == b"\x1f\x8b"           # gzip, as Go writes it
    assert pprofread.sample_multiset(pprofread.parse(out.stdout)) == \
        pprofread.sample_multiset(pprofread.parse(fixture_refs[path]["syscall"]))
    cpu = FIXTURES / "go1.27" / "cpuprofile.trace"
    res = _cli("pprof", "cpu", str(cpu), "-o", str(tmp_path / "cpu.pb.gz"))
    assert res.returncode == 0 and res.stdout == b"", res.stderr
    assert pprofread.parse((tmp_path / "cpu.pb.gz").read_bytes()).samples
    bad = _cli("pprof", "sched", str(tmp_path / "missing.trace"))
    assert bad.returncode == 1 and bad.stderr.startswith(b"fastrace: ")
    assert _cli("pprof", "heap", str(path)).returncode == 2       # argparse: no such type


@pytest.mark.parametrize("command", [
    ("pprof", "sched"), ("pprof", "sync"), ("goroutines", "--format", "json"),
    ("tasks", "--format", "json"), ("mmu", "--format", "json"), ("mmu", "--per-proc")])
def test_cli_workers_two_gives_the_same_output(command):
    # --workers 2 orders each next generation in another thread (the
    # streaming iter_generations(workers=2)): the answers are the same bytes.
    path = FIXTURES / "go1.27" / "long.trace"
    assert len(fastrace.decode_wire(path).generations) >= 3
    trace_at = 2 if command[0] == "pprof" else 1
    args = [*command[:trace_at], str(path), *command[trace_at:]]
    one, two = _cli(*args), _cli(*args, "--workers", "2")
    assert one.returncode == 0 and two.returncode == 0, (one.stderr, two.stderr)
    assert two.stdout == one.stdout and len(one.stdout) > 100


def test_api_errors():
    t = fastrace.read(_hand_trace())
    piece = next(fastrace.iter_generations(_hand_trace()))
    with pytest.raises(WholeTraceRequiredError, match="needs the whole trace.*read_profile"):
        piece.states()
    with pytest.raises(WholeTraceRequiredError, match=r"profile\('sync'\) needs the whole trace"):
        piece.profile("sync")
    assert piece.cpu_profile().total() == (0, 0)
    with pytest.raises(ValueError, match="unknown latency profile 'cpu'.*cpu_profile"):
        t.profile("cpu")
    with pytest.raises(ValueError, match="period must be positive"):
        t.cpu_profile(0)
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        from fastrace import _analysis
        _analysis.states_intervals(np.zeros(3), t.threads)


# Goroutine ids around the boundary of the passes' directly indexed table
# (ids 1..4 stay below 2**22, larger ones go to the hash map) and far above
# it: renaming the goroutines changes no profile.
_DENSE_IDS = 1 << 22


def _latency_state(events, t, kind, second_pass):
    acc = P._new_latency(kind)
    args = (np.frombuffer(t.strings.data, dtype=np.uint8),
            np.ascontiguousarray(t.strings.offsets, dtype=np.uint64), len(t.stacks))
    acc.feed(events, *args)
    ambiguous = acc.ambiguous
    if second_pass:
        acc.second_pass()
        acc.feed(events, *args)
    return ambiguous, [x.tolist() for x in acc.result()]


@pytest.mark.parametrize("path", FIXTURE_TRACES, ids=_fid)
def test_latency_profiles_ignore_goroutine_ids(path):
    from tests.goids import renumber_goroutines

    t = fastrace.read(path)
    moved = {off: renumber_goroutines(t.events, off) for off in (_DENSE_IDS - 5, 1 << 40)}
    for kind in KINDS:
        for second_pass in (False, True):
            want = _latency_state(t.events, t, kind, second_pass)
            for off, ev in moved.items():
                assert _latency_state(ev, t, kind, second_pass) == want, (kind, off, second_pass)


_NO_ROOM_SCRIPT = r"""
import resource, sys
import numpy as np
import fastrace
from fastrace.analysis import pprof as P

t = fastrace.read(sys.argv[1])
want = {k: t.profile(k) for k in P.LATENCY_KINDS}
# Address space for small allocations only: the 128 MiB the passes reserve
# for their goroutine records cannot be had.
pages = int(open("/proc/self/statm").read().split()[0])
limit = pages * resource.getpagesize() + (48 << 20)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    np.empty(128 << 20, dtype=np.uint8)
except MemoryError:
    pass
else:
    sys.exit("the limit did not hold")
for k in P.LATENCY_KINDS:
    for two in (False, True):
        got = P.latency_profile(t, k, two_pass=two)
        assert got.stacks.tolist() == want[k].stacks.tolist(), k
        assert got.values.tolist() == want[k].values.tolist(), k
print("ok")
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux's /proc")
@pytest.mark.skipif(SANITIZED, reason="AddressSanitizer's own shadow memory needs far more "
                                      "address space than the limit leaves")
@pytest.mark.parametrize("name", ["go1.27/sched.trace", "go1.22/cgo.trace"])
def test_latency_profiles_without_address_space(name):
    # Where the goroutine records' reservation fails, every goroutine goes
    # to the hash map: the same profiles.
    out = subprocess.run([sys.executable, "-c", _NO_ROOM_SCRIPT, str(FIXTURES / name)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr + out.stdout
