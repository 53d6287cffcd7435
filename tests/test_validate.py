"""fastrace.validate: the consistency checks of an ordered event table.

A small, valid hand-built table, then one broken thing at a time; and the
committed fixtures (rebuilt from Go's reference dumps, and, once the ordering
engine exists, read by fastrace) must pass every check.
"""

from __future__ import annotations

import pytest

import fastrace
from fastrace.kinds import EventKind as K, GoState as G, ProcState as P
from fastrace.spec import BY_NAME
from fastrace.validate import check, validate
from tests.parsedref import NO_GEN, TableBuilder, fixture_files, manifest, parse_go_parsed

pytestmark = [pytest.mark.unit, pytest.mark.reference]

C = {name: s.code for name, s in BY_NAME.items()}
NO_TASK = (1 << 64) - 1
FIELDS = ("time", "g", "a", "p", "m", "stack", "kind", "type", "from_state", "to_state")


class Mini:
    """A valid little trace, one generation, Go 1.26 format; rows are named."""

    def __init__(self, version: int = 26):
        b = self.b = TableBuilder(version)
        self.rows: dict[str, int] = {}
        sa = self.sa = b.stack([("main.main", 0x10, "main.go", 3),
                                ("runtime.main", 0x20, "proc.go", 9)])
        start = b.stack([("main.worker", 0x30, "w.go", 1)])
        clock = (1000, 5000, 1_700_000_000, 0) if version >= 25 else None
        gen = b.generation(clock=clock)
        ev = self.ev
        ev("sync", K.SYNC, 100, a=(1, gen))
        ev("p0", K.STATE_TRANSITION, 101, m=1, a=(0,), type=C["ProcStatus"],
           from_state=P.UNDETERMINED, to_state=P.RUNNING)
        ev("p1", K.STATE_TRANSITION, 102, m=1, p=0, a=(1,), type=C["ProcStatus"],
           from_state=P.UNDETERMINED, to_state=P.IDLE)
        ev("g1", K.STATE_TRANSITION, 103, m=1, p=0, a=(1,), type=C["GoStatus"],
           from_state=G.UNDETERMINED, to_state=G.RUNNING)
        ev("metric", K.METRIC, 104, m=1, p=0, g=1, a=(4,), type=C["HeapGoal"])
        ev("create", K.STATE_TRANSITION, 105, m=1, p=0, g=1, a=(2, 0, start), stack=sa,
           type=C["GoCreate"], from_state=G.NOT_EXIST, to_state=G.RUNNABLE)
        ev("task", K.TASK_BEGIN, 106, m=1, p=0, g=1, a=(7, NO_TASK, b.string("job")),
           type=C["UserTaskBegin"])
        ev("block", K.STATE_TRANSITION, 107, m=1, p=0, g=1, a=(1, b.string("select"), sa),
           stack=sa, type=C["GoBlock"], from_state=G.RUNNING, to_state=G.WAITING)
        ev("start", K.STATE_TRANSITION, 108, m=1, p=0, a=(2,), type=C["GoStart"],
           from_state=G.RUNNABLE, to_state=G.RUNNING)
        ev("label", K.LABEL, 109, m=1, p=0, g=2, a=(b.string("GC (dedicated)"),),
           type=C["GoLabel"])
        stw = b.string("GC sweep termination")
        ev("stw", K.RANGE_BEGIN, 110, m=1, p=0, g=2, a=(2, stw), type=C["STWBegin"])
        ev("stw_end", K.RANGE_END, 111, m=1, p=0, g=2, a=(2, stw), type=C["STWEnd"])
        ev("sweep", K.RANGE_BEGIN, 112, m=1, p=0, g=2, a=(0,), type=C["GCSweepBegin"])
        ev("sweep_end", K.RANGE_END, 113, m=1, p=0, g=2, a=(0, 10, 5), type=C["GCSweepEnd"])
        ev("gc_active", K.RANGE_ACTIVE, 114, m=1, p=0, g=2, type=C["GCActive"])
        ev("gc_end", K.RANGE_END, 115, m=1, p=0, g=2, type=C["GCEnd"])
        ev("region", K.REGION_BEGIN, 116, m=1, p=0, g=2, a=(7, b.string("r")),
           type=C["UserRegionBegin"])
        ev("log", K.LOG, 117, m=1, p=0, g=2, a=(7, b.string("k"), b.string("v")),
           type=C["UserLog"])
        ev("sample", K.STACK_SAMPLE, 118, m=9, p=5, g=77, stack=sa, type=C["CPUSample"])
        ev("exp", K.EXPERIMENTAL, 119, m=1, p=0, g=2, a=(1, 2, 3), type=C["Span"])
        ev("task_end", K.TASK_END, 120, m=1, p=0, g=2, a=(7, NO_TASK, b.string("job")),
           type=C["UserTaskEnd"])
        ev("syscall", K.STATE_TRANSITION, 121, m=1, p=0, g=2, a=(2, 0, sa), stack=sa,
           type=C["GoSyscallBegin"], from_state=G.RUNNING, to_state=G.SYSCALL)
        ev("sysret", K.STATE_TRANSITION, 122, m=1, p=0, g=2, a=(2,),
           type=C["GoSyscallEnd"], from_state=G.SYSCALL, to_state=G.RUNNING)
        ev("destroy", K.STATE_TRANSITION, 123, m=1, p=0, g=2, a=(2,), type=C["GoDestroy"],
           from_state=G.RUNNING, to_state=G.NOT_EXIST)
        ev("pstop", K.STATE_TRANSITION, 124, m=1, p=0, a=(0,), type=C["ProcStop"],
           from_state=P.RUNNING, to_state=P.IDLE)
        ev("end", K.SYNC, 125, a=(2, NO_GEN))

    def ev(self, name, kind, time, **kw):
        self.rows[name] = self.b.event(kind, time, **kw)

    def set(self, name: str, **changes) -> "Mini":
        i = self.rows[name]
        row = dict(zip(FIELDS, self.b.events[i]))
        if "a" in changes:
            changes["a"] = tuple(int(x) & NO_GEN for x in changes["a"]) + (0,) * (
                3 - len(changes["a"]))
        if "m" in changes:
            changes["m"] = self.b.thread(changes["m"])
        row.update(changes)
        self.b.events[i] = tuple(row[f] for f in FIELDS)
        return self

    def insert(self, before: str, kind, **kw) -> "Mini":
        """Insert an event right before row ``before`` (same time minus a bit:
        times are shifted so they stay increasing)."""
        i = self.rows[before]
        t = self.b.events[i][0]
        self.b.events = [tuple([e[0] * 10] + list(e[1:])) for e in self.b.events]
        self.b.event(kind, t * 10 - 5, **kw)
        self.b.events.insert(i, self.b.events.pop())
        self.rows = {k: (v + 1 if v >= i else v) for k, v in self.rows.items()}
        return self

    def delete(self, name: str) -> "Mini":
        i = self.rows.pop(name)
        del self.b.events[i]
        self.rows = {k: (v - 1 if v > i else v) for k, v in self.rows.items()}
        return self

    def trace(self):
        return self.b.trace()

    def problems(self, **kw):
        return validate(self.trace(), **kw)


def one_problem(mini: Mini, want: str, at: str | None = None, **kw) -> str:
    probs = mini.problems(**kw)
    assert len(probs) == 1, probs
    assert want in probs[0], probs
    if at is not None:
        assert probs[0].startswith(f"event {mini.rows[at]} "), probs
    return probs[0]


def test_the_small_trace_is_valid():
    assert Mini().problems() == []
    check(Mini().trace())


def test_go_1_22_trace_needs_no_clock():
    assert Mini(22).problems() == []


def test_empty_table():
    assert validate(TableBuilder().trace()) == []


# -- Go's checks ---------------------------------------------------------------

def test_time_must_increase():
    m = Mini().set("metric", time=103)
    one_problem(m, "time 103 is not after 103", at="metric")


def test_time_going_back_does_not_move_the_reference():
    m = Mini().set("metric", time=50)
    # Only the event that went back is reported; the next one (105) is
    # compared with 103, the largest time so far.
    one_problem(m, "time 50 is not after 103", at="metric")


def test_sync_numbers_count_up():
    m = Mini().set("end", a=(3, NO_GEN))
    one_problem(m, "Sync N=3 does not follow N=1", at="end")


def test_first_sync_needs_a_clock_from_go_1_25():
    m = Mini()
    m.b.generations[0] = m.b.generations[0][:9] + (0,)
    one_problem(m, "Sync 1 has no clock snapshot", at="sync")
    assert m.problems(go_version=23) == []


@pytest.mark.parametrize("field,value,want", [
    (2, 0, "zero trace time"), (3, 0, "zero monotonic time"),
])
def test_clock_snapshot_values(field, value, want):
    m = Mini()
    g = list(m.b.generations[0])
    g[field] = value
    m.b.generations[0] = tuple(g)
    one_problem(m, want, at="sync")


def test_clock_snapshot_zero_wall_time():
    m = Mini()
    g = list(m.b.generations[0])
    g[4], g[5] = -62135596800, 0
    m.b.generations[0] = tuple(g)
    one_problem(m, "zero wall-clock time", at="sync")


def _two_generations(clock2):
    m = Mini()
    gen2 = m.b.generation(clock=clock2)
    m.set("end", a=(2, gen2))
    m.b.event(K.SYNC, 200, a=(3, NO_GEN))
    return m


def test_clocks_increase_between_syncs():
    assert _two_generations((2000, 6000, 1_700_000_001, 0)).problems() == []
    m = _two_generations((1000, 5000, 1_700_000_000, 0))
    probs = m.problems()
    assert len(probs) == 3, probs
    assert all(p.startswith(f"event {m.rows['end']} ") for p in probs)
    assert "wall clock" in probs[0] and "monotonic" in probs[1] and "trace clock" in probs[2]
    assert m.problems(clock_checks=False) == []


def test_goroutine_old_state_must_match():
    m = Mini().set("start", from_state=G.WAITING)
    one_problem(m, "goroutine 2 leaves state Waiting but is in Runnable", at="start")


def test_unregistered_goroutine_must_come_from_nothing():
    m = Mini().delete("create").delete("task").delete("task_end")
    probs = m.problems()
    assert any("first transition of goroutine 2 leaves Runnable" in p for p in probs), probs


def test_no_transition_to_undetermined():
    m = Mini().set("block", to_state=G.UNDETERMINED)
    probs = m.problems()
    assert any("goroutine 1 goes to the Undetermined state" in p for p in probs), probs


def test_no_undetermined_after_the_first_sync():
    m = _two_generations((2000, 6000, 1_700_000_001, 0))
    m.b.events.insert(-1, (150, -1, (99, 0, 0), -1, 0, 0, int(K.STATE_TRANSITION),
                           C["GoStatus"], int(G.UNDETERMINED), int(G.WAITING)))
    one_problem(m, "goroutine 99 comes from Undetermined after the first Sync")


def test_goroutine_cannot_start_on_a_busy_thread():
    m = Mini().delete("block")
    probs = m.problems(context=False)
    assert probs == [f"event {m.rows['start']} (StateTransition at 108): goroutine 2 starts "
                     "executing on thread 1, which already runs goroutine 1"]


def test_stopping_goroutine_needs_a_binding():
    # Goroutine 1 was Runnable, so GoBlock's Running->Waiting is wrong twice:
    # the old state, and no thread runs it.
    m = Mini().set("g1", to_state=G.RUNNABLE)
    probs = m.problems(context=False)
    assert any("goroutine 1 leaves state Running but is in Runnable" in p for p in probs)
    assert any("goroutine 1 stops executing but is bound to no thread" in p for p in probs)


def test_transition_stack_must_be_the_event_stack_when_stopping():
    m = Mini()
    m.set("block", a=(1, m.b.string("select"), 0))
    one_problem(m, "transition stack 0 of goroutine 1 is not the event's stack", at="block")


def test_goroutine_dies_with_active_range():
    m = Mini().delete("stw_end")
    one_problem(m, "goroutine 2 ends with active ranges", at="destroy")


def test_ranges_pair_up():
    m = Mini()
    m.set("stw_end", a=(2, m.b.string("GC mark termination")))
    probs = m.problems()
    assert any('range "stop-the-world (GC mark termination)" ends on Goroutine(2) but is '
               "not active there" in p for p in probs), probs
    assert any("goroutine 2 ends with active ranges" in p for p in probs), probs
    m = Mini()
    m.insert("stw_end", K.RANGE_BEGIN, m=1, p=0, g=2, a=(2, m.b.string("GC sweep termination")),
             type=C["STWBegin"])
    probs = m.problems()
    assert any("begins on Goroutine(2) while already active there" in p for p in probs), probs
    # Without its RangeActive, the GC mark phase ends without having begun.
    m = Mini().delete("gc_active")
    one_problem(m, 'range "GC concurrent mark phase" ends on None but is not active', at="gc_end")


def test_p_dies_with_active_range():
    m = Mini().delete("sweep_end")
    m.set("pstop", to_state=P.NOT_EXIST)
    probs = m.problems()
    assert any("P 0 stops existing with active ranges" in p for p in probs), probs


def test_tasks():
    m = Mini()
    job = m.b.string("job")
    m.set("task", a=(0, NO_TASK, job)).set("task_end", a=(0, NO_TASK, job))
    one_problem(m, 'task of type "job" has the invalid id 0', at="task")
    m = Mini()
    m.set("task", a=(7, 0, m.b.string("job")))
    one_problem(m, 'task 7 of type "job" has the background task as its parent', at="task")
    m = Mini()
    m.set("task_end", a=(7, NO_TASK, m.b.string("other")))
    one_problem(m, 'task 7 ends with type "other" but began with type "job"', at="task_end")
    # An end without a begin is fine.
    assert Mini().delete("task").problems() == []


def test_labels():
    m = Mini().set("label", a=(0,))
    one_problem(m, "empty label", at="label")
    m = Mini().set("label", g=55)
    probs = m.problems(context=False)
    assert probs == [f"event {m.rows['label']} (Label at 109): label for goroutine 55, "
                     "which no transition has named"]


def test_stack_frames_need_information():
    m = Mini()
    bad = m.b.stack([("", 0, "", 0), ("f", 1, "f.go", 0)])  # 2nd frame: no line
    m.set("metric", stack=bad)
    one_problem(m, f"stack row {bad} has a frame without function", at="metric")
    m = Mini()
    ok = m.b.stack([("", 0, "", 0), ("f", 1, "f.go", 2)])   # a zero first frame is allowed
    m.set("metric", stack=ok)
    assert m.problems() == []
    m = Mini()
    bad = m.b.stack([("a", 1, "a.go", 1), ("", 1, "f.go", 2)])
    m.set("create", a=(2, 0, bad))
    one_problem(m, f"transition stack row {bad} has a frame without", at="create")


def test_proc_transitions():
    m = Mini().set("p1", to_state=P.RUNNING)
    probs = m.problems(context=False)
    assert any("P 1 starts running on thread 1, which already has P 0" in p
               for p in probs), probs
    m = Mini().set("pstop", a=(1,), p=0)
    probs = m.problems(context=False)
    assert any("P 1 leaves state Running but is in Idle" in p for p in probs), probs
    assert any("P 1 stops running but is bound to no thread" in p for p in probs), probs


def test_executing_needs_a_thread():
    m = Mini().set("p0", m=-1)
    probs = m.problems(context=False)
    assert any("starts executing on no thread" in p for p in probs), probs


# -- fastrace's table checks ---------------------------------------------------

@pytest.mark.parametrize("name,changes,want,always", [
    ("metric", dict(kind=0), "unknown event kind 0", True),
    ("metric", dict(kind=42), "unknown event kind 42", True),
    ("metric", dict(type=C["GoLabel"]), "wire type 39 (GoLabel) does not make a Metric", True),
    ("sync", dict(type=5), "wire type 5 (String) does not make a Sync", True),
    ("metric", dict(stack=99), "stack row 99 does not exist", True),
    ("label", dict(a=(9999,)), "a0 (label_string): string row 9999 does not exist", True),
    ("log", dict(a=(7, 1, 9999)), "a2 (message_string): string row 9999 does not exist", True),
    ("stw", dict(a=(2, 9999)), "a1 (stw_kind_string): string row 9999 does not exist", True),
    ("create", dict(a=(2, 0, 99)), "a2 (transition_stack): stack row 99 does not exist", True),
    ("block", dict(a=(1, 9999, 1)), "a1 (reason_string): string row 9999 does not exist", True),
    ("pstop", dict(to_state=4), "state 2->4 out of range for a P", True),
    ("block", dict(to_state=6), "state 3->6 out of range for a goroutine", True),
    ("metric", dict(g=-2), "g = -2 is not an id or -1", False),
    ("sync", dict(a=(1, 5)), "generation row 5 does not exist", True),
])
def test_table_structure(name, changes, want, always):
    m = Mini().set(name, **changes)
    probs = m.problems()
    assert any(p.startswith(f"event {m.rows[name]} ") and want in p for p in probs), probs
    # Rows that cannot be interpreted are reported even with extra=False.
    assert any(want in p for p in m.problems(extra=False)) == always


def test_first_and_last_rows_are_syncs():
    m = Mini().delete("end")
    one_problem(m, "the last event is not a Sync", at="pstop")
    m = Mini()
    m.b.events = m.b.events[1:]
    probs = validate(m.trace())
    assert probs[0] == "event 0 (StateTransition at 101): the first event is not a Sync", probs


def test_generation_points_back_at_its_sync():
    m = Mini()
    g = list(m.b.generations[0])
    g[1] = 3
    m.b.generations[0] = tuple(g)
    one_problem(m, "generation row 0 names row 3 as its Sync", at="sync")


def test_range_scope_agrees_with_context():
    m = Mini()
    m.set("stw", a=(5, m.b.string("GC sweep termination")))
    one_problem(m, "range scope 5 is not the event's goroutine 2", at="stw")
    m = Mini().set("sweep_end", a=(3, 10, 5))
    one_problem(m, "range scope 3 is not the event's P 0", at="sweep_end")


def test_tables_reference_existing_rows():
    m = Mini()
    tr = m.trace()
    tr.frames["func"][0] = 999
    probs = validate(tr)
    assert "table: frame row 0: func string row 999 does not exist" in probs, probs
    tr = m.trace()
    tr.stacks["nframes"][1] = 50
    probs = validate(tr)
    assert any(p.startswith("table: stack row 1 ends past the frame table") for p in probs)


def test_execution_context():
    m = Mini().set("metric", g=2)
    one_problem(m, "runs as P=0 G=2 on thread 1, but the transitions so far leave P=0 G=1 "
                   "there", at="metric")
    assert m.problems(context=False) == []
    # (CPU samples are exempt: the "sample" row has an unrelated context.)
    m = Mini().set("log", p=-1)
    one_problem(m, "runs as P=-1 G=2", at="log")


def test_execution_context_exemptions():
    # A goroutine sitting in a syscall on another thread is reported on
    # that thread, whatever its context.
    m = Mini()
    m.insert("pstop", K.STATE_TRANSITION, m=4, p=3, g=-1, a=(30,), type=C["GoStatus"],
             from_state=G.UNDETERMINED, to_state=G.SYSCALL)
    assert m.problems() == []
    # The self-steal Go synthesises before a GoDestroySyscall: both events
    # keep the context from before the pair.
    m = Mini()
    m.set("sysret", type=C["ProcSteal"], a=(0,), from_state=P.RUNNING, to_state=P.IDLE)
    m.set("destroy", type=C["GoDestroySyscall"], from_state=G.SYSCALL)
    m.delete("pstop")
    assert m.problems() == []
    # After a real ProcStop the context has no P, which is fine too ...
    m.set("destroy", p=-1)
    assert m.problems() == []
    # ... but the old P is only accepted right after the steal.
    m.set("destroy", p=0)
    m.insert("destroy", K.METRIC, m=1, p=-1, g=2, a=(1,), type=C["HeapAlloc"])
    one_problem(m, "runs as P=0 G=2 on thread 1, but the transitions so far leave P=-1 G=2",
                at="destroy")


def test_problems_are_in_row_order_and_check_raises_the_first():
    m = Mini().set("log", p=-1).set("metric", time=103).set("end", a=(5, NO_GEN))
    probs = m.problems()
    rows = [int(p.split()[1]) for p in probs]
    assert rows == sorted(rows) and len(probs) == 3, probs
    with pytest.raises(fastrace.TraceOrderError) as exc:
        check(m.trace())
    assert str(exc.value) == probs[0] + " (and 2 more)"
    assert isinstance(exc.value, fastrace.TraceError)


# -- real traces -----------------------------------------------------------------

def _fixtures():
    for fx in manifest()["fixtures"]:
        yield pytest.param(fx, id=f"go{fx['go_version']}-{fx['program']}")


def _version(fx) -> int:
    minor = int(fx["go_version"].split(".")[1])
    return {24: 23, 27: 26}.get(minor, minor)


@pytest.mark.parametrize("fx", list(_fixtures()))
def test_go_reference_events_are_valid(fx):
    """Go's own reader output (rebuilt from its -d=parsed dump) passes."""
    _, text, _ = fixture_files(fx)
    tr = parse_go_parsed(text, _version(fx))
    assert validate(tr) == []


@pytest.mark.parametrize("fx", list(_fixtures()))
def test_fastrace_read_is_valid(fx):
    import fastrace.trace

    trace, _, _ = fixture_files(fx)
    tr = fastrace.trace.read(trace)
    assert validate(tr) == []


def test_header_only_trace_is_valid():
    """A Go 1.26+ trace of only a header reads as Go's reader reads it (one
    final Sync, no generation) and has nothing for the validator to flag."""
    from tests.tracebuild import header

    t = fastrace.read(header(26))
    assert len(t.events) == 1 and len(t.generations) == 0
    assert validate(t) == [] and validate(t, engine="python") == []
