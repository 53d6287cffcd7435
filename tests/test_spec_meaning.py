"""Event meaning is defined once, in fastrace.spec: the stages check their
own copies against it at import, a made-up or missing event type fails there
with a message naming it, and the named values every view shows agree with
what Go's own dump prints for the same rows."""

from __future__ import annotations

import gzip
import re

import pytest

import fastrace
from fastrace import _order, spec
from fastrace.fields import a_names, row_fields
from fastrace.kinds import EventKind as K, GoState as G, ResourceKind as R
from tests import FIXTURES

pytestmark = [pytest.mark.unit, pytest.mark.reference]

C = {s.name: s.code for s in spec.SPECS}


def _made_up(**kw):
    base = dict(code=60, name="GoMadeUp", args=("dt", "g", "g_seq"), timed=True, since=26)
    base.update(kw)
    return spec.EventSpec(**base)


def test_engine_matches_the_spec_as_shipped():
    _order.check_spec()          # also run at import
    spec.check_specs(spec.SPECS)


def test_new_transition_type_without_a_handler_fails_naming_it():
    made_up = _made_up(kind=K.STATE_TRANSITION, resource=R.GOROUTINE,
                       transition=(int(G.WAITING), int(G.RUNNABLE)))
    spec.check_specs(spec.SPECS + (made_up,))   # a well-formed entry
    with pytest.raises(RuntimeError, match=r"GoMadeUp \(60\).*no handler"):
        _order.check_spec(spec.SPECS + (made_up,))


def test_removed_type_that_the_engine_handles_fails_naming_it():
    without = tuple(s for s in spec.SPECS if s.name != "GoUnblock")
    with pytest.raises(RuntimeError, match=r"handles event type GoUnblock \(21\)"):
        _order.check_spec(without)
    moved = tuple(s._replace(code=99) if s.name == "GoStart" else s for s in spec.SPECS)
    with pytest.raises(RuntimeError, match=r"GoStart \(16\)"):
        _order.check_spec(moved)


@pytest.mark.parametrize("name,change", [
    ("GoUnblock", dict(stacks=())),          # its row's stack is read from the spec's place
    ("GoBlock", dict(strings=())),           # and its reason
    ("GoStart", dict(stacks=(3,))),
])
def test_types_whose_rows_the_engine_writes_out_must_keep_their_ids(name, change):
    # The ordering engine writes the rows of its commonest types without the
    # general push_event; a spec that moved their ids must fail at import.
    changed = tuple(s._replace(**change) if s.name == name else s for s in spec.SPECS)
    with pytest.raises(RuntimeError, match=f"writes the rows of {name} itself"):
        _order.check_spec(changed)


@pytest.mark.parametrize("entry,words", [
    (_made_up(kind=K.STATE_TRANSITION), "without a goroutine or P resource"),
    (_made_up(kind=K.STATE_TRANSITION, resource=R.PROC, transition=(3, 5)),
     "not a pair of ProcState values"),
    (_made_up(kind=K.LABEL, resource=R.GOROUTINE), "is not a state transition"),
    (_made_up(kind=K.METRIC), "name a metric"),
    (_made_up(kind=K.RANGE_BEGIN), "name a range"),
    (_made_up(kind=K.EXPERIMENTAL), "Experimental kind"),
    (_made_up(kind=K.LOG, slots=("a", "b", "c", "d")), "three a values"),
])
def test_inconsistent_spec_entries_fail_naming_the_event(entry, words):
    with pytest.raises(RuntimeError, match=rf"GoMadeUp \(60\).*{re.escape(words)}"):
        spec.check_specs(spec.SPECS + (entry,))


def test_derived_tables():
    # Worked from Go's tracev2 event specs by hand.
    assert spec.PROC_TYPES == {C["ProcStart"], C["ProcStop"], C["ProcSteal"], C["ProcStatus"]}
    assert spec.METRIC_NAMES == {C["ProcsChange"]: "/sched/gomaxprocs:threads",
                                 C["HeapAlloc"]: "/memory/classes/heap/objects:bytes",
                                 C["HeapGoal"]: "/gc/heap/goal:bytes"}
    assert {sp.range for sp in spec.RANGE_TYPES.values()} == {
        "stop-the-world", "GC concurrent mark phase", "GC incremental sweep", "GC mark assist"}
    assert spec.BY_NAME["GoBlock"].transition == (G.RUNNING, G.WAITING)
    assert spec.BY_NAME["GoBlock"].a_names == ("goroutine", "reason_string", "transition_stack")
    assert spec.BY_NAME["ProcStop"].a_names[0] == "proc"
    assert spec.BY_NAME["GCSweepEnd"].a_names == ("proc", "swept_bytes", "reclaimed_bytes")
    assert spec.BY_NAME["SpanAlloc"].a_names == ("id", "npages_value", "kindclass")


def _go_events(path) -> list[str]:
    """Go's -d=parsed dump split into one text per event (head line plus
    its stack lines)."""
    text = gzip.decompress(path.read_bytes()).decode("utf-8", "surrogateescape")
    out: list[str] = []
    for line in text.split("\n"):
        if line.startswith("M="):
            out.append(line)
        elif out:
            out[-1] += "\n" + line
    return out


def _quoted_go(s: str) -> str:
    from fastrace.goquote import go_quote

    return go_quote(s.encode("utf-8", "surrogateescape"))


@pytest.mark.parametrize("program", ["annotations", "procs", "syscalls", "gcalloc", "coro"])
def test_named_values_agree_with_go_dump(program):
    """For every row of a fixture, the values row_fields names appear as Go
    prints them in Go's own line for that event (Go 1.27.3's dump)."""
    path = FIXTURES / "go1.27" / f"{program}.trace"
    t = fastrace.read(path)
    go = _go_events(path.with_name(f"{program}.parsed.txt.gz"))
    assert len(go) == len(t.events)
    checked = 0
    for i, text in enumerate(go):
        d = row_fields(t, i)
        head = text.split("\n", 1)[0]
        assert head.startswith(f"M={d['m']} P={d['p']} G={d['g']} {d['kind']} Time={d['time']}")
        kind = int(t.events[i]["kind"])
        want = []
        if kind == K.STATE_TRANSITION:
            who = "ProcID" if "proc" in d else "GoID"
            want += [f"{who}={d.get('proc', d.get('goroutine'))} ",
                     f" {d['transition']} Reason={_quoted_go(d['reason'])}"]
            if "transition_stack" in d:
                want.append("TransitionStack=")
        elif kind == K.METRIC:
            want.append(f"Name={_quoted_go(d['metric'])} Value=Value{{Uint64({d['value']})}}")
        elif kind in (K.TASK_BEGIN, K.TASK_END):
            parent = d["parent"] % (1 << 64)
            want.append(f"ID={d['task']} Parent={parent} Type={_quoted_go(d['task_type'])}")
        elif kind in (K.REGION_BEGIN, K.REGION_END):
            want.append(f"Task={d['task']} Type={_quoted_go(d['region_type'])}")
        elif kind == K.LOG:
            want.append(f"Category={_quoted_go(d['category'])} "
                        f"Message={_quoted_go(d['message'])}")
        elif kind == K.LABEL:
            want.append(f"Label={_quoted_go(d['label'])}")
        elif kind in (K.RANGE_BEGIN, K.RANGE_ACTIVE, K.RANGE_END):
            want.append(f"Name={_quoted_go(d['range'])} Scope={d['scope']}")
        elif kind == K.SYNC:
            want.append(f"N={d['n']}")
        for w in want:
            if "\ufffd" in w:
                continue    # invalid UTF-8 in the trace: row_fields shows it replaced
            assert w in head or w in text, (i, w, text)
        if "stack" in d:
            frames = "".join(f"\t{f.func} @ 0x{f.pc:x}\n" for f in d["stack"][:1])
            assert "Stack=\n" + frames in text + "\n", (i, text)
        checked += 1
    assert checked == len(t.events)


def test_every_name_is_known():
    for s in spec.SPECS:
        for name in s.a_names:
            assert re.fullmatch(r"[a-z_]+", name), (s.name, name)
    assert a_names(K.SYNC, 0) == ("n", "generation")
