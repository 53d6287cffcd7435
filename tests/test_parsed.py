"""The go-parsed dump (fastrace.parsed) against Go's Event.String().

- Hand-built tables whose expected strings follow Go 1.27's formatting rules
  (internal/trace/event.go: Event.String, printStack, Value.String,
  ResourceID.String; time.RFC3339Nano).
- Every committed fixture's reference dump (Go 1.27.3's
  ``go tool trace -d=parsed``): rebuilt into a table from its own text and
  printed back, byte for byte (needs no ordering engine); then the real
  thing, ``fastrace.read`` + ``write_go_parsed`` (needs the engine).
- Wall-clock formatting against Go's own ``time`` package (live).
"""

from __future__ import annotations

import io
import os
import subprocess

import pytest

from fastrace.gotime import (
    UTC,
    FixedZone,
    civil_from_days,
    days_from_civil,
    go_local_zone,
    unix_rfc3339nano,
)
from fastrace.kinds import EventKind as K, GoState as G, ProcState as P
from fastrace.parsed import go_parsed_bytes, iter_go_parsed, write_go_parsed
from fastrace.spec import BY_NAME
from tests.parsedref import (
    NO_GEN,
    TableBuilder,
    assert_same_dump,
    first_difference,
    fixture_files,
    manifest,
    parse_go_parsed,
    wall_to_unix,
)

pytestmark = [pytest.mark.unit, pytest.mark.reference]

C = {name: s.code for name, s in BY_NAME.items()}
NO_TASK = (1 << 64) - 1

FRAMES_A = [("main.main", 0x4be22c, "prog/main.go", 44),
            ("runtime.main", 0x43a1f0, "runtime/proc.go", 283)]
TEXT_A = ("\tmain.main @ 0x4be22c\n\t\tprog/main.go:44\n"
          "\truntime.main @ 0x43a1f0\n\t\truntime/proc.go:283\n")
FRAMES_B = [("main.worker", 0x1000, "prog/w.go", 7)]
TEXT_B = "\tmain.worker @ 0x1000\n\t\tprog/w.go:7\n"


def one(b: TableBuilder, **kw) -> str:
    return list(iter_go_parsed(b.trace(), zone=UTC, **kw))[-1]


# ---------------------------------------------------------------------------
# Kind by kind.

def test_sync_with_clock_snapshot():
    b = TableBuilder()
    g = b.generation(clock=(1_000_000, 123456789, 1_700_000_000, 120_000_000))
    b.event(K.SYNC, 999_000, a=(1, g))
    assert one(b) == ("M=-1 P=-1 G=-1 Sync Time=999000 N=1 Trace=1000000 Mono=123456789 "
                      "Wall=2023-11-14T22:13:20.12Z")


def test_sync_without_clock_snapshot():
    b = TableBuilder(22)
    g = b.generation()  # a Go 1.22 generation: no snapshot
    b.event(K.SYNC, 5, a=(1, g))
    b.event(K.SYNC, 6, a=(2, NO_GEN))  # the final Sync: no generation at all
    assert list(iter_go_parsed(b.trace(), zone=UTC)) == [
        "M=-1 P=-1 G=-1 Sync Time=5 N=1",
        "M=-1 P=-1 G=-1 Sync Time=6 N=2",
    ]


def test_sync_wall_clock_zones(monkeypatch):
    b = TableBuilder()
    g = b.generation(clock=(1, 2, 0, 0))
    b.event(K.SYNC, 1, a=(1, g))
    tr = b.trace()
    tail = lambda **kw: next(iter_go_parsed(tr, **kw)).rsplit("Wall=", 1)[1]
    assert tail(zone=FixedZone(-(3 * 3600 + 30 * 60))) == "1969-12-31T20:30:00-03:30"
    assert tail(zone=FixedZone(5 * 3600 + 45 * 60)) == "1970-01-01T05:45:00+05:45"
    # Go's time.Local: TZ="" and TZ=UTC mean UTC; an unknown zone also UTC.
    for tz in ("", "UTC", ":UTC", "No/Such_Zone"):
        monkeypatch.setenv("TZ", tz)
        assert tail() == "1970-01-01T00:00:00Z"
    if os.path.exists("/usr/share/zoneinfo/Asia/Tokyo"):
        monkeypatch.setenv("TZ", "Asia/Tokyo")
        assert tail() == "1970-01-01T09:00:00+09:00"


def test_metric():
    b = TableBuilder()
    s = b.stack(FRAMES_A)
    b.event(K.METRIC, 10, g=1, p=0, m=4220, a=(2,), type=C["ProcsChange"], stack=s)
    b.event(K.METRIC, 11, g=1, p=0, m=4220, a=(4194304,), type=C["HeapGoal"])
    b.event(K.METRIC, 12, g=-1, p=3, m=7, a=(2**64 - 1,), type=C["HeapAlloc"])
    assert list(iter_go_parsed(b.trace(), zone=UTC)) == [
        'M=4220 P=0 G=1 Metric Time=10 Name="/sched/gomaxprocs:threads" '
        'Value=Value{Uint64(2)}\nStack=\n' + TEXT_A,
        'M=4220 P=0 G=1 Metric Time=11 Name="/gc/heap/goal:bytes" Value=Value{Uint64(4194304)}',
        'M=7 P=3 G=-1 Metric Time=12 Name="/memory/classes/heap/objects:bytes" '
        'Value=Value{Uint64(18446744073709551615)}',
    ]


def test_label_quotes_like_go():
    b = TableBuilder()
    b.event(K.LABEL, 10, g=12, p=1, m=2, a=(b.string(b'GC "x"\n\t\xff\x00\xe2\x80\xa8\xc3\xa9'),),
            type=C["GoLabel"])
    # strconv.Quote: \" \n \t, \xff for a byte that is not UTF-8, \x00 for
    # a control, \u2028 for a non-printable rune, é kept as is.
    assert one(b) == ('M=2 P=1 G=12 Label Time=10 Label="GC \\"x\\"\\n\\t\\xff\\x00\\u2028é" '
                      'Resource=Goroutine(12)')


def test_ranges():
    b = TableBuilder()
    stw = b.string("GC sweep termination")
    s = b.stack(FRAMES_B)
    b.event(K.RANGE_BEGIN, 1, g=10, p=0, m=5, a=(10, stw), type=C["STWBegin"], stack=s)
    b.event(K.RANGE_END, 2, g=10, p=0, m=5, a=(10, stw), type=C["STWEnd"])
    b.event(K.RANGE_ACTIVE, 3, g=-1, p=-1, m=5, a=(0,), type=C["GCActive"])
    b.event(K.RANGE_BEGIN, 4, g=10, p=0, m=5, a=(0,), type=C["GCBegin"])
    b.event(K.RANGE_END, 5, g=10, p=0, m=5, a=(0,), type=C["GCEnd"])
    b.event(K.RANGE_ACTIVE, 6, g=-1, p=-1, m=5, a=(3,), type=C["GCSweepActive"])
    b.event(K.RANGE_BEGIN, 7, g=10, p=2, m=5, a=(2,), type=C["GCSweepBegin"])
    b.event(K.RANGE_END, 8, g=10, p=2, m=5, a=(2, 81920, 4096), type=C["GCSweepEnd"])
    b.event(K.RANGE_ACTIVE, 9, g=-1, p=0, m=5, a=(7,), type=C["GCMarkAssistActive"])
    b.event(K.RANGE_BEGIN, 10, g=7, p=0, m=5, a=(7,), type=C["GCMarkAssistBegin"])
    b.event(K.RANGE_END, 11, g=7, p=0, m=5, a=(7,), type=C["GCMarkAssistEnd"])
    assert list(iter_go_parsed(b.trace(), zone=UTC)) == [
        'M=5 P=0 G=10 RangeBegin Time=1 Name="stop-the-world (GC sweep termination)" '
        'Scope=Goroutine(10)\nStack=\n' + TEXT_B,
        'M=5 P=0 G=10 RangeEnd Time=2 Name="stop-the-world (GC sweep termination)" '
        'Scope=Goroutine(10) Attributes=[]',
        'M=5 P=-1 G=-1 RangeActive Time=3 Name="GC concurrent mark phase" Scope=None',
        'M=5 P=0 G=10 RangeBegin Time=4 Name="GC concurrent mark phase" Scope=None',
        'M=5 P=0 G=10 RangeEnd Time=5 Name="GC concurrent mark phase" Scope=None Attributes=[]',
        'M=5 P=-1 G=-1 RangeActive Time=6 Name="GC incremental sweep" Scope=Proc(3)',
        'M=5 P=2 G=10 RangeBegin Time=7 Name="GC incremental sweep" Scope=Proc(2)',
        'M=5 P=2 G=10 RangeEnd Time=8 Name="GC incremental sweep" Scope=Proc(2) '
        'Attributes=["bytes swept"=Value{Uint64(81920)} "bytes reclaimed"=Value{Uint64(4096)}]',
        'M=5 P=0 G=-1 RangeActive Time=9 Name="GC mark assist" Scope=Goroutine(7)',
        'M=5 P=0 G=7 RangeBegin Time=10 Name="GC mark assist" Scope=Goroutine(7)',
        'M=5 P=0 G=7 RangeEnd Time=11 Name="GC mark assist" Scope=Goroutine(7) Attributes=[]',
    ]


def test_tasks_regions_logs():
    b = TableBuilder()
    typ = b.string("job")
    s = b.stack(FRAMES_B)
    b.event(K.TASK_BEGIN, 1, g=1, p=0, m=2, a=(5, NO_TASK, typ), type=C["UserTaskBegin"], stack=s)
    b.event(K.REGION_BEGIN, 2, g=1, p=0, m=2, a=(5, b.string("step")), type=C["UserRegionBegin"])
    b.event(K.LOG, 3, g=1, p=0, m=2, a=(5, b.string("k"), b.string("v=1\n")), type=C["UserLog"])
    b.event(K.REGION_END, 4, g=1, p=0, m=2, a=(0, b.string("")), type=C["UserRegionEnd"])
    b.event(K.TASK_END, 5, g=1, p=0, m=2, a=(5, 4, typ), type=C["UserTaskEnd"])
    assert list(iter_go_parsed(b.trace(), zone=UTC)) == [
        'M=2 P=0 G=1 TaskBegin Time=1 ID=5 Parent=18446744073709551615 Type="job"\nStack=\n'
        + TEXT_B,
        'M=2 P=0 G=1 RegionBegin Time=2 Task=5 Type="step"',
        'M=2 P=0 G=1 Log Time=3 Task=5 Category="k" Message="v=1\\n"',
        'M=2 P=0 G=1 RegionEnd Time=4 Task=0 Type=""',
        'M=2 P=0 G=1 TaskEnd Time=5 ID=5 Parent=4 Type="job"',
    ]


def test_goroutine_transitions():
    b = TableBuilder()
    sa, sb = b.stack(FRAMES_A), b.stack(FRAMES_B)
    block = b.string("chan receive")
    # GoCreate: transition stack = the new goroutine's start stack, then the
    # creator's stack.
    b.event(K.STATE_TRANSITION, 1, g=1, p=0, m=3, a=(9, 0, sb), stack=sa, type=C["GoCreate"],
            from_state=G.NOT_EXIST, to_state=G.RUNNABLE)
    # GoBlock: both stacks are the blocking goroutine's.
    b.event(K.STATE_TRANSITION, 2, g=1, p=0, m=3, a=(1, block, sa), stack=sa, type=C["GoBlock"],
            from_state=G.RUNNING, to_state=G.WAITING)
    # GoStart: no stacks at all.
    b.event(K.STATE_TRANSITION, 3, g=-1, p=0, m=3, a=(9,), type=C["GoStart"],
            from_state=G.RUNNABLE, to_state=G.RUNNING)
    # A goroutine id of -1 stored as its uint64 bit pattern.
    b.event(K.STATE_TRANSITION, 4, g=-1, p=-1, m=-1, a=(2**64 - 1,), type=C["GoStatus"],
            from_state=G.UNDETERMINED, to_state=G.WAITING)
    assert list(iter_go_parsed(b.trace(), zone=UTC)) == [
        'M=3 P=0 G=1 StateTransition Time=1 GoID=9 NotExist->Runnable Reason=""\n'
        "TransitionStack=\n" + TEXT_B + "\nStack=\n" + TEXT_A,
        'M=3 P=0 G=1 StateTransition Time=2 GoID=1 Running->Waiting Reason="chan receive"\n'
        "TransitionStack=\n" + TEXT_A + "\nStack=\n" + TEXT_A,
        'M=3 P=0 G=-1 StateTransition Time=3 GoID=9 Runnable->Running Reason=""',
        'M=-1 P=-1 G=-1 StateTransition Time=4 GoID=-1 Undetermined->Waiting Reason=""',
    ]


def test_proc_transitions():
    b = TableBuilder()
    b.event(K.STATE_TRANSITION, 1, m=3, a=(0,), type=C["ProcStatus"],
            from_state=P.UNDETERMINED, to_state=P.RUNNING)
    b.event(K.STATE_TRANSITION, 2, p=0, m=3, a=(0,), type=C["ProcStop"],
            from_state=P.RUNNING, to_state=P.IDLE)
    b.event(K.STATE_TRANSITION, 3, m=4, a=(0,), type=C["ProcStart"],
            from_state=P.IDLE, to_state=P.RUNNING)
    b.event(K.STATE_TRANSITION, 4, m=5, p=-1, g=8, a=(2,), type=C["ProcSteal"],
            from_state=P.IDLE, to_state=P.IDLE)
    # A state Go does not know prints as "Bad".
    b.event(K.STATE_TRANSITION, 5, m=5, a=(2,), type=C["ProcStatus"], from_state=7, to_state=9)
    assert list(iter_go_parsed(b.trace(), zone=UTC)) == [
        'M=3 P=-1 G=-1 StateTransition Time=1 ProcID=0 Undetermined->Running Reason=""',
        'M=3 P=0 G=-1 StateTransition Time=2 ProcID=0 Running->Idle Reason=""',
        'M=4 P=-1 G=-1 StateTransition Time=3 ProcID=0 Idle->Running Reason=""',
        'M=5 P=-1 G=8 StateTransition Time=4 ProcID=2 Idle->Idle Reason=""',
        'M=5 P=-1 G=-1 StateTransition Time=5 ProcID=2 Bad->Bad Reason=""',
    ]


def test_stack_handles_without_frames():
    """Go prints a stack header whenever the stack handle is set: a stack
    row with no frames, a CPU sample, and a goroutine creation's start
    stack always have one."""
    b = TableBuilder()
    empty = b.stack([])
    assert empty != 0
    b.event(K.STATE_TRANSITION, 1, g=1, p=0, m=3, a=(1, 0, empty), stack=empty,
            type=C["GoStatusStack"], from_state=G.UNDETERMINED, to_state=G.RUNNING)
    b.event(K.STATE_TRANSITION, 2, g=1, p=0, m=3, a=(9, 0, 0), type=C["GoCreate"],
            from_state=G.NOT_EXIST, to_state=G.RUNNABLE)
    b.event(K.STATE_TRANSITION, 3, g=1, p=0, m=3, a=(9, 0, 0), type=C["GoCreateBlocked"],
            from_state=G.NOT_EXIST, to_state=G.WAITING)
    b.event(K.STACK_SAMPLE, 4, g=1, p=0, m=3, type=C["CPUSample"])
    b.event(K.STACK_SAMPLE, 5, g=-1, p=-1, m=3, stack=b.stack(FRAMES_B), type=C["CPUSample"])
    assert list(iter_go_parsed(b.trace(), zone=UTC)) == [
        'M=3 P=0 G=1 StateTransition Time=1 GoID=1 Undetermined->Running Reason=""\n'
        "TransitionStack=\n\nStack=\n",
        'M=3 P=0 G=1 StateTransition Time=2 GoID=9 NotExist->Runnable Reason=""\n'
        "TransitionStack=\n",
        'M=3 P=0 G=1 StateTransition Time=3 GoID=9 NotExist->Waiting Reason=""\n'
        "TransitionStack=\n",
        "M=3 P=0 G=1 StackSample Time=4\nStack=\n",
        "M=3 P=-1 G=-1 StackSample Time=5\nStack=\n" + TEXT_B,
    ]


def test_experimental():
    b = TableBuilder()
    b.event(K.EXPERIMENTAL, 1, g=1, p=0, m=3, a=(336, 128, 2), type=C["Span"])
    b.event(K.EXPERIMENTAL, 2, g=1, p=0, m=3, a=(344064, 0), type=C["HeapObject"])
    b.event(K.EXPERIMENTAL, 3, g=1, p=0, m=3, a=(99,), type=C["GoroutineStackFree"])
    assert list(iter_go_parsed(b.trace(), zone=UTC)) == [
        "M=3 P=0 G=1 Experimental Time=1 Name=Span Args=[id=Value{Uint64(336)}, "
        "npages_value=Value{Uint64(128)}, kindclass=Value{Uint64(2)}]",
        "M=3 P=0 G=1 Experimental Time=2 Name=HeapObject Args=[id=Value{Uint64(344064)}, "
        "type=Value{Uint64(0)}]",
        "M=3 P=0 G=1 Experimental Time=3 Name=GoroutineStackFree Args=[id=Value{Uint64(99)}]",
    ]


def test_experimental_string_argument(monkeypatch):
    # No experimental event has a string argument yet; Go prints one raw.
    from fastrace import spec

    fake = spec.EventSpec(200, "Fake", ("dt", "name_string", "n"), timed=True, experiment=1)
    codes = list(spec.BY_CODE)
    codes[200] = fake
    monkeypatch.setattr(spec, "BY_CODE", tuple(codes))
    b = TableBuilder()
    b.event(K.EXPERIMENTAL, 1, m=3, a=(b.string('a "b"'), 4), type=200)
    assert one(b) == ('M=3 P=-1 G=-1 Experimental Time=1 Name=Fake '
                      'Args=[name_string=a "b", n=Value{Uint64(4)}]')


def test_raw_bytes_in_frames_pass_through():
    b = TableBuilder()
    s = b.stack([(b"main.\xff\xfe", 0xabc, b"caf\xc3\xa9.go", 1)])
    b.event(K.STACK_SAMPLE, 1, m=3, stack=s, type=C["CPUSample"])
    out = go_parsed_bytes(b.trace(), zone=UTC)
    assert out == (b"M=3 P=-1 G=-1 StackSample Time=1\nStack=\n"
                   b"\tmain.\xff\xfe @ 0xabc\n\t\tcaf\xc3\xa9.go:1\n\n")


def test_write_joins_like_println():
    b = TableBuilder()
    g = b.generation()
    b.event(K.SYNC, 1, a=(1, g))
    b.event(K.STACK_SAMPLE, 2, m=3, stack=b.stack(FRAMES_B), type=C["CPUSample"])
    b.event(K.SYNC, 3, a=(2, NO_GEN))
    tr = b.trace()
    want = ("M=-1 P=-1 G=-1 Sync Time=1 N=1\n"
            "M=3 P=-1 G=-1 StackSample Time=2\nStack=\n" + TEXT_B + "\n"
            "M=-1 P=-1 G=-1 Sync Time=3 N=2\n").encode()
    for chunk in (1, 2, 1000):
        out = io.BytesIO()
        write_go_parsed(tr, out, zone=UTC, chunk=chunk)
        assert out.getvalue() == want
    assert "".join(s + "\n" for s in iter_go_parsed(tr, zone=UTC)).encode() == want
    assert list(iter_go_parsed(tr, zone=UTC, start=1, stop=2)) == [
        "M=3 P=-1 G=-1 StackSample Time=2\nStack=\n" + TEXT_B]


def test_rows_go_could_not_produce_are_named():
    b = TableBuilder()
    b.event(K.SYNC, 1, a=(1, NO_GEN))
    b.event(K.METRIC, 2, m=1, a=(3,), type=C["GoLabel"])  # not a metric type
    with pytest.raises(ValueError, match=r"^event 1 \(kind 2, wire type 39\) cannot be printed"):
        go_parsed_bytes(b.trace(), zone=UTC)
    b = TableBuilder()
    b.event(K.LABEL, 2, m=1, a=(77,), type=C["GoLabel"])  # no string row 77
    with pytest.raises(ValueError, match="^event 0 "):
        list(iter_go_parsed(b.trace(), zone=UTC))


def test_empty_table():
    assert go_parsed_bytes(TableBuilder().trace()) == b""


# ---------------------------------------------------------------------------
# Wall clock.

@pytest.mark.parametrize("sec,nsec,offset,want", [
    (0, 0, 0, "1970-01-01T00:00:00Z"),
    (0, -1, 0, "1969-12-31T23:59:59.999999999Z"),
    (1, 1_500_000_000, 0, "1970-01-01T00:00:02.5Z"),
    (1_700_000_000, 100, 0, "2023-11-14T22:13:20.0000001Z"),
    (951_782_400, 0, 0, "2000-02-29T00:00:00Z"),
    (-62135596800, 0, 0, "0001-01-01T00:00:00Z"),
    (253402300800, 0, 0, "10000-01-01T00:00:00Z"),
    (-62167219200 - 86400, 0, 0, "-0001-12-31T00:00:00Z"),
    (0, 0, 561, "1970-01-01T00:09:21+00:09"),       # seconds of an offset are dropped
    (0, 0, -30, "1969-12-31T23:59:30+00:00"),       # ... and so is the sign of -30 s
    (0, 0, -17762, "1969-12-31T19:03:58-04:56"),
])
def test_rfc3339nano(sec, nsec, offset, want):
    assert unix_rfc3339nano(sec, nsec, FixedZone(offset)) == want
    if offset == 0 and not want.startswith("-"):
        assert wall_to_unix(want) == divmod(sec * 10**9 + nsec, 10**9)


def test_civil_days_roundtrip():
    for d in list(range(-800_000, 800_000, 997)) + [0, -1, 59, 60, 11016, -719468]:
        assert days_from_civil(*civil_from_days(d)) == d


def test_local_zone_follows_go_rules(tmp_path):
    assert go_local_zone({"TZ": ""}) is UTC
    assert go_local_zone({"TZ": "UTC"}) is UTC
    assert go_local_zone({"TZ": "UTC+3"}).offset(0) == 0      # no such zoneinfo file
    assert go_local_zone({"TZ": str(tmp_path / "missing")}).offset(0) == 0
    bad = tmp_path / "garbage"
    bad.write_bytes(b"not a tzif file")
    assert go_local_zone({"TZ": str(bad)}).offset(0) == 0
    if os.path.exists("/usr/share/zoneinfo/Asia/Kolkata"):
        assert go_local_zone({"TZ": "Asia/Kolkata"}).offset(0) == 19800
        assert go_local_zone({"TZ": ":/usr/share/zoneinfo/Asia/Kolkata"}).offset(0) == 19800


_GO_TIME_PROG = """package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sec, _ := strconv.ParseInt(f[0], 10, 64)
		nsec, _ := strconv.ParseInt(f[1], 10, 64)
		fmt.Println(time.Unix(sec, nsec).Format(time.RFC3339Nano))
	}
}
"""


@pytest.mark.live
def test_wall_clock_matches_go_time_package(tmp_path):
    from tests import gotool

    (tmp_path / "main.go").write_text(_GO_TIME_PROG)
    env = gotool.go_env(gotool.REFERENCE)
    env.pop("TZ", None)
    gotool.run_go(gotool.REFERENCE, "build", "-o", str(tmp_path / "t"), "main.go",
                  cwd=tmp_path)
    values = [(1795669558, 907553454), (0, 0), (0, -1), (-1, 1500000000), (1, 10),
              (-2486678400, 0), (-5000000000, 123000000), (253402300799, 999999999),
              (1711846800, 0), (1711846799, 5), (-62135596800, 0), (4102444800, 100)]
    stdin = "".join(f"{s} {n}\n" for s, n in values).encode()
    for tz in (None, "", "UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu",
               "Etc/GMT+5", ":Asia/Tokyo", "/usr/share/zoneinfo/Australia/Lord_Howe",
               "UTC+3", "No/Such_Zone", "Africa/Monrovia"):
        run_env = dict(env)
        if tz is not None:
            run_env["TZ"] = tz
        want = subprocess.run([str(tmp_path / "t")], env=run_env, input=stdin,
                              capture_output=True, check=True).stdout.decode().splitlines()
        zone = go_local_zone({} if tz is None else {"TZ": tz})
        got = [unix_rfc3339nano(s, n, zone) for s, n in values]
        assert got == want, tz


# ---------------------------------------------------------------------------
# The committed reference dumps.

def _fixtures():
    for fx in manifest()["fixtures"]:
        yield pytest.param(fx, id=f"go{fx['go_version']}-{fx['program']}")


@pytest.mark.parametrize("fx", list(_fixtures()))
def test_reference_dump_reprints_exactly(fx):
    """Go's dump, rebuilt into a table from its own text, prints back to
    the same bytes: every formatting rule the fixtures exercise."""
    _, want, meta = fixture_files(fx)
    assert meta["parsed_returncode"] == 0
    tr = parse_go_parsed(want)
    assert len(tr.events) > 100
    assert_same_dump(go_parsed_bytes(tr, zone=UTC), want)


@pytest.mark.parametrize("fx", list(_fixtures()))
def test_go_parsed_dump_matches_go(fx):
    """fastrace.read + write_go_parsed = go tool trace -d=parsed (Go 1.27.3).

    The reference dumps were made in the UTC zone."""
    import fastrace.trace

    trace, want, _ = fixture_files(fx)
    tr = fastrace.trace.read(trace)
    out = io.BytesIO()
    write_go_parsed(tr, out, zone=UTC)
    assert_same_dump(out.getvalue(), want)


def test_engine_tables_have_the_documented_layout():
    """The helper dtypes used by these tests match what the engine builds."""
    import fastrace.trace
    from tests.parsedref import EVENT_DTYPE, FRAME_DTYPE, GENERATION_DTYPE, STACK_DTYPE

    fx = next(f for f in manifest()["fixtures"] if f["program"] == "sched")
    tr = fastrace.trace.read(fixture_files(fx)[0])
    for got, want in ((tr.events.dtype, EVENT_DTYPE), (tr.stacks.dtype, STACK_DTYPE),
                      (tr.frames.dtype, FRAME_DTYPE), (tr.generations.dtype, GENERATION_DTYPE)):
        assert {n: got.fields[n][:2] for n in want.names} == \
            {n: want.fields[n][:2] for n in want.names}


def test_first_difference_message():
    msg = first_difference(b"a\nb\nc\n", b"a\nb\nd\n")
    assert "line 3" in msg and "'c'" in msg and "'d'" in msg
