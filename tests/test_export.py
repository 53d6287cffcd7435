"""Tables for pandas, Arrow, Polars, DuckDB, Parquet and CSV, and pickling.

Every exported table is compared column by column with the numpy table it
comes from, on committed fixtures written by Go 1.22-1.27.  The event
table's named columns are checked row by row against
``fastrace.fields.row_fields`` (per-row Python reading the same spec, the
view behind ``Trace.event``), and its wall-clock times against the clock
snapshots Go's own reader prints (``go tool trace -d=parsed`` dumps,
committed beside the fixtures).
"""

from __future__ import annotations

import concurrent.futures
import gzip
import multiprocessing
import operator
import pickle
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import fastrace
from fastrace import cli, export
from fastrace.experiments.allocfree import Action, SpanKind
from fastrace.fields import ID_NAMES, row_fields
from fastrace.kinds import EventKind, GoState

pytestmark = pytest.mark.unit

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
duckdb = pytest.importorskip("duckdb")
pq = pytest.importorskip("pyarrow.parquet")

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"
ALL = sorted(str(p.relative_to(FIXTURES))[:-len(".trace")] for p in FIXTURES.glob("go1.*/*.trace"))
# A sample covering every format version, AllocFree, CPU samples, several
# generations, annotations (all string columns) and clock snapshots.
SOME = ["go1.22/long", "go1.23/allocfree", "go1.25/annotations", "go1.26/cpuprofile",
        "go1.27/allocfree", "go1.27/procs"]


def _path(case):
    return FIXTURES / f"{case}.trace"


_TRACES: dict = {}


def _trace(case):
    if case not in _TRACES:
        _TRACES[case] = fastrace.read(_path(case))
    return _TRACES[case]


def _text(t, row):
    """String ``row`` as the tables show it: invalid UTF-8 as backslash
    escapes (Trace.strings.text() shows U+FFFD, which can make two strings
    equal; dictionary values must differ)."""
    return t.strings[row].decode("utf-8", "backslashreplace")


def _has_clock(t):
    return bool(t.generations["has_clock"].any())


def _decoded(col) -> list:
    """A column's values as Python objects (dictionaries decoded)."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return col.to_pylist()


# --- The event table ---------------------------------------------------------

def _expected_named(t, rows):
    """Per named column: the value of each row by fastrace.fields.row_fields
    (None where the row has no such value), strings and ids resolved."""
    out = {n: [] for n in export.EVENT_A_COLUMNS}
    raw = {n: [] for n in export.EVENT_A_COLUMNS}
    for i in rows:
        d = row_fields(t, i)
        ev = t.events[i]
        kind, typ = int(ev["kind"]), int(ev["type"])
        names = () if kind == EventKind.EXPERIMENTAL else fastrace.fields.a_names(kind, typ)
        for n in export.EVENT_A_COLUMNS:
            if n not in names:
                out[n].append(None)
                raw[n].append(None)
                continue
            v = int(ev["a"][names.index(n)])
            raw[n].append(v - (1 << 64) if n in ID_NAMES and v >= 1 << 63 else v)
            if n.endswith("_string"):
                assert d[n[:-len("_string")]] == t.strings.text(v)
                out[n].append(_text(t, v))
            elif n.endswith("_stack"):
                out[n].append(v)                 # row_fields shows frames; the table the row
                assert d.get(n, []) == (t.stack_frames(v) if v else [])
            else:
                out[n].append(d[n])
    return out, raw


@pytest.mark.parametrize("case", ALL)
def test_event_table_equals_numpy(case):
    t = _trace(case)
    ev = t.events
    n = len(ev)
    for resolve in (False, True):
        a = t.to_arrow(resolve=resolve, wall=_has_clock(t))
        assert a.num_rows == n
        for col in ("time", "g", "p", "stack"):
            assert np.array_equal(a.column(col).to_numpy(), ev[col]), col
        assert np.array_equal(a.column("m").to_numpy(), t.m_ids())
        for j in range(3):
            assert np.array_equal(a.column(f"a{j}").to_numpy(), ev["a"][:, j])
        kinds = ev["kind"].tolist()
        assert _decoded(a.column("kind")) == [str(EventKind(k)) for k in kinds]
        assert _decoded(a.column("type")) == [fastrace.fields.type_name(k, ty)
                                              for k, ty in zip(kinds, ev["type"].tolist())]
        want_from, want_to, want_res = [], [], []
        for i in range(n):
            d = row_fields(t, i)
            tr = d.get("transition")
            f, to = tr.split("->") if tr else (None, None)
            want_from.append(f)
            want_to.append(to)
            proc = int(ev["type"][i]) in fastrace.spec.PROC_TYPES
            want_res.append(None if tr is None else "Proc" if proc else "Goroutine")
        assert _decoded(a.column("from_state")) == want_from
        assert _decoded(a.column("to_state")) == want_to
        assert _decoded(a.column("resource")) == want_res
        named, raw = _expected_named(t, range(n))
        for name in export.EVENT_A_COLUMNS:
            if name.endswith("_string") and resolve:
                assert _decoded(a.column(name[:-len("_string")])) == named[name], name
            else:
                assert a.column(name).to_pylist() == raw[name], name
        if resolve:
            want = [t.stack_frames(s)[0].func if s else None for s in ev["stack"].tolist()]
            assert _decoded(a.column("stack_func")) == want
            # The dictionary is the string table itself, indexed by string row.
            reason = a.column("reason").combine_chunks()
            assert reason.dictionary.to_pylist() == [_text(t, i) for i in range(len(t.strings))]
        else:
            assert "reason" not in a.column_names and "stack_func" not in a.column_names


def _go_syncs(case):
    """(Time, Trace, Wall ns) of each Sync line with a clock snapshot in Go's
    own go-parsed dump of the fixture."""
    text = gzip.decompress((FIXTURES / f"{case}.parsed.txt.gz").read_bytes()).decode()
    out = []
    for m in re.finditer(r" Sync Time=(\d+) N=\d+ Trace=(\d+) Mono=\d+ Wall=(\S+)Z\n", text):
        wall = np.datetime64(m.group(3), "ns").astype(np.int64)
        out.append((int(m.group(1)), int(m.group(2)), int(wall)))
    return out


@pytest.mark.parametrize("case", [c for c in ALL if c >= "go1.25"])
def test_wall_clock_from_go_clock_snapshots(case):
    t = _trace(case)
    syncs = _go_syncs(case)
    assert syncs, "Go 1.25+ traces have clock snapshots"
    a = t.to_arrow(wall=True)
    wall = a.column("wall_time").cast(pa.int64()).to_numpy(zero_copy_only=False)
    time = a.column("time").to_numpy()
    rows = np.flatnonzero(t.events["kind"] == EventKind.SYNC)
    for (go_time, go_trace, go_wall), r in zip(syncs, rows):
        assert time[r] == go_time
        # The snapshot says: trace clock go_trace is wall clock go_wall.
        assert wall[r] == go_wall - (go_trace - go_time)
    # Every row of a generation uses its generation's snapshot.
    assert np.all(np.diff(wall) >= np.diff(time) - 1_000_000)


def test_wall_clock_needs_snapshots():
    t = _trace("go1.22/long")
    with pytest.raises(ValueError, match=r"no clock snapshots; Go 1\.25 and later write them"):
        t.to_arrow(wall=True)


@pytest.mark.parametrize("case", SOME)
def test_pandas_and_polars_equal_arrow(case):
    t = _trace(case)
    a = t.to_arrow(resolve=True)
    df = t.to_pandas(resolve=True)
    pf = t.to_polars(resolve=True)
    assert list(df.columns) == a.column_names == pf.columns
    for f, col in zip(a.schema, a.columns):
        want = _decoded(col)
        s = df[f.name]
        if pa.types.is_dictionary(f.type):
            assert isinstance(s.dtype, pd.CategoricalDtype), f.name
            assert pf[f.name].dtype == pl.Categorical, f.name
        if f.nullable and pa.types.is_integer(f.type):
            # Nullable integers stay exact (no float64 for 64-bit ids).
            assert str(s.dtype)[0] in "IU", (f.name, s.dtype)
        got = [None if (v is None or v is pd.NA or (isinstance(v, float) and v != v)) else v
               for v in s.astype(object).tolist()]
        assert got == want, f.name
        assert pf[f.name].to_list() == want, f.name
    # Non-null numeric columns come out as numpy arrays.
    assert df["time"].dtype == np.int64 and np.array_equal(df["time"].to_numpy(), t.events["time"])


# --- The other tables --------------------------------------------------------

@pytest.mark.parametrize("case", SOME)
def test_core_tables_equal_numpy(case):
    t = _trace(case)
    assert t.tables()[:8] == ["events", "threads", "strings", "stacks", "frames",
                              "stack_frames", "generations", "exp_batches"]
    th = t.to_arrow("threads")
    assert th.column("id").to_pylist() == t.threads.tolist()
    assert th.column("row").to_pylist() == list(range(len(t.threads)))
    s = t.to_arrow("strings")
    assert s.column("string").to_pylist() == [_text(t, i) for i in range(len(t.strings))]
    for resolve in (False, True):
        st = t.to_arrow("stacks", resolve=resolve)
        for c in ("frame_start", "nframes"):
            assert np.array_equal(st.column(c).to_numpy(), t.stacks[c])
        fr = t.to_arrow("frames", resolve=resolve)
        for c in ("pc", "line"):
            assert np.array_equal(fr.column(c).to_numpy(), t.frames[c])
        for c in ("func", "file"):
            want = ([_text(t, i) for i in t.frames[c].tolist()] if resolve
                    else t.frames[c].tolist())
            assert _decoded(fr.column(c)) == want
    st = t.to_arrow("stacks", resolve=True)
    assert _decoded(st.column("func")) == [
        t.stack_frames(i)[0].func if t.stacks["nframes"][i] else None for i in range(len(t.stacks))]
    sf = t.to_pandas("stack_frames", resolve=True)
    for row in range(len(t.stacks)):
        got = sf[sf["stack"] == row].sort_values("depth")
        assert [(int(r.pc), r.func, r.file, int(r.line)) for r in got.itertuples()] == \
            [tuple(f) for f in t.stack_frames(row)]
    g = t.to_arrow("generations")
    for c in g.column_names:
        want = t.generations[c]
        assert np.array_equal(g.column(c).to_numpy(), want.astype(bool) if c == "has_clock"
                              else want), c
    assert not any(c.startswith("pad") for c in g.column_names)
    e = t.to_arrow("exp_batches")
    for c in ("m", "offset", "length", "generation"):
        assert np.array_equal(e.column(c).to_numpy(), t.exp_batches[c])
    assert _decoded(e.column("exp")) == [fastrace.spec.EXPERIMENTS.get(x, str(x))
                                         for x in t.exp_batches["exp"].tolist()]


@pytest.mark.parametrize("case", ["go1.23/allocfree", "go1.25/allocfree", "go1.27/allocfree"])
def test_allocfree_tables_equal_numpy(case):
    t = _trace(case)
    af = t.experiment("AllocFree")
    names = [n for n in t.tables() if n.startswith("allocfree_")]
    assert names == ["allocfree_info", "allocfree_types", "allocfree_type_ids", "allocfree_spans",
                     "allocfree_heap_objects", "allocfree_goroutine_stacks",
                     "allocfree_lifetimes"]
    for name in names:
        attr = name[len("allocfree_"):]
        arr = getattr(af, attr)
        arr = arr() if callable(arr) else arr
        tab = t.to_arrow(name, wall=_has_clock(t))
        assert tab.num_rows == len(arr)
        for c in arr.dtype.names:
            col = tab.column(c)
            if c == "action":
                assert _decoded(col) == [Action(x).name for x in arr[c].tolist()]
            elif c == "kind":
                assert _decoded(col) == [SpanKind(x).name for x in arr[c].tolist()]
            elif arr.dtype[c].kind == "O":
                assert col.to_pylist() == arr[c].tolist()
            else:
                assert np.array_equal(col.to_numpy(zero_copy_only=False), arr[c]), (name, c)
        if "time" in arr.dtype.names:
            off = t.generations["clock_sec"].astype(np.int64) * 10**9 \
                + t.generations["clock_nsec"].astype(np.int64) \
                - t.generations["clock_trace"].astype(np.int64)
            if _has_clock(t):
                wall = tab.column("time_wall").cast(pa.int64()).to_numpy(zero_copy_only=False)
                assert np.array_equal(wall, arr["time"] + off[arr["generation"]])
    assert not [n for n in _trace("go1.25/sched").tables() if n.startswith("allocfree")]
    with pytest.raises(KeyError, match="no table 'allocfree_spans'"):
        _trace("go1.25/sched").to_arrow("allocfree_spans")


def test_registered_and_attribute_tables():
    t = _trace("go1.25/annotations")
    n = len(t.events)
    # A derived table on the trace, found by name.
    t.sample_states = lambda: {"time": t.events["time"], "state_code": t.events["to_state"],
                               "name_string": t.frames["func"][:0].tolist() or
                               np.zeros(n, np.uint32)}
    a = t.to_arrow("sample_states", resolve=True)
    assert a.column_names == ["time", "state_code", "name"]
    assert set(_decoded(a.column("name"))) == {""}
    # A registration says which columns hold what.
    export.register_table("test_states", lambda tr: {"time": tr.events["time"],
                                                     "state": tr.events["to_state"],
                                                     "m": tr.events["m"]},
                          enums={"state": GoState}, threads=("m",), times=("time",))
    try:
        a = t.to_arrow("test_states", wall=True)
        assert _decoded(a.column("state")) == [str(GoState(x)) for x in t.events["to_state"]]
        assert a.column("m").to_pylist() == t.m_ids().tolist()
        assert "time_wall" in a.column_names
        assert "test_states" in t.tables()
    finally:
        del export._TABLES["test_states"]
    with pytest.raises(KeyError, match="no table 'nope'"):
        t.to_arrow("nope")


DERIVED = ("goroutines", "goroutine_block_times", "goroutine_range_times", "states", "ranges",
           "tasks", "regions", "logs", "gc_cycles", "stw_pauses", "heap", "heap_goal")


@pytest.mark.parametrize("case", ["go1.27/annotations", "go1.23/gcalloc"])
def test_analysis_tables_equal_numpy(case, tmp_path):
    """The analyses' tables (fastrace.analysis) as Arrow: every numeric
    column equals the numpy table's, enum codes become their names, and
    export writes them."""
    t = fastrace.read(_path(case))
    assert set(DERIVED) <= set(t.tables())
    gc = t.gc()
    numpy_of = {"gc_cycles": gc.cycles, "stw_pauses": gc.pauses, "heap": gc.heap,
                "heap_goal": gc.heap_goal}
    for name in DERIVED:
        want = numpy_of[name] if name in numpy_of else getattr(t, name)()
        a = t.to_arrow(name)
        assert a.num_rows == len(want), name
        for col in want.dtype.names:
            if want.dtype[col].kind in "iuf" and col in a.column_names and \
                    col not in ("state", "prev_state", "scope_kind"):
                assert a.column(col).to_pylist() == want[col].tolist(), (name, col)
    st = t.states()
    names = t.to_arrow("states").column("state").to_pylist()
    assert names == [str(GoState(int(x))) for x in st["state"]]
    written = export.write_tables(_path(case), tmp_path)
    assert set(DERIVED) <= set(written)
    wall = t.version >= 25
    _same(pq.read_table(written["states"]), t.to_arrow("states", resolve=True, wall=wall))


def test_pieces_list_no_analysis_tables():
    piece = next(fastrace.iter_generations(_path("go1.27/annotations")))
    assert not set(DERIVED) & set(piece.tables())


# --- DuckDB ------------------------------------------------------------------

@pytest.mark.parametrize("case", ["go1.22/sched", "go1.25/annotations", "go1.27/allocfree"])
def test_sql_count_and_group_by(case):
    t = _trace(case)
    ev = t.events
    assert t.sql("select count(*) as n from events")["n"].tolist() == [len(ev)]
    got = t.sql("select type, count(*) as n from events group by type order by type")
    want = Counter(fastrace.fields.type_name(k, ty) for k, ty in
                   zip(ev["kind"].tolist(), ev["type"].tolist()))
    assert dict(zip(got["type"].astype(str), got["n"])) == dict(want)
    # Strings resolved: why goroutines blocked, against numpy on a1.
    got = t.sql("select reason, count(*) as n from events where type = 'GoBlock' "
                "group by reason")
    block = ev[ev["type"] == fastrace.spec.BY_NAME["GoBlock"].code]
    want = Counter(_text(t, int(r)) for r in block["a"][:, 1])
    assert dict(zip(got["reason"].astype(str), got["n"])) == dict(want)
    # A join of two tables.
    got = t.sql("select count(*) as n from events e join stacks s on e.stack = s.row "
                "where s.nframes > 0")
    assert got["n"].tolist() == [int(np.count_nonzero(t.stacks["nframes"][ev["stack"]] > 0))]
    if "AllocFree" in t.experiments():
        got = t.sql("select action, count(*) as n from allocfree_heap_objects group by action")
        want = Counter(Action(x).name for x in t.experiment("AllocFree").heap_objects["action"])
        assert dict(zip(got["action"].astype(str), got["n"])) == dict(want)


# --- Files ---------------------------------------------------------------------

def _same(table, expected):
    assert table.column_names == expected.column_names
    for c in expected.column_names:
        assert _decoded(table.column(c)) == _decoded(expected.column(c)), c


@pytest.mark.parametrize("case", ["go1.22/long", "go1.25/annotations", "go1.26/cpuprofile"])
def test_parquet_streamed_equals_tables(case, tmp_path):
    t = _trace(case)
    # row_group=16: the event table is written in many slices, some of which
    # straddle two pieces of iter_generations (two generations).
    written = export.write_tables(_path(case), tmp_path, row_group=16)
    assert set(export.CORE_TABLES) <= set(written)     # and the analyses' tables
    wall = _has_clock(t)
    for name in export.CORE_TABLES:
        path = written[name]
        assert Path(path).name == f"{name}.parquet"
        got = pq.read_table(path)
        _same(got, t.to_arrow(name, resolve=True, wall=wall and name in ("events",
                                                                         "generations")))
        meta = pq.read_metadata(path).metadata
        assert meta[b"fastrace.table"] == name.encode()
        assert meta[b"fastrace.trace_version"] == f"go 1.{t.version} trace".encode()
        assert meta[b"fastrace.go_versions"].startswith(b"Go 1.")
        assert meta[b"fastrace.generations"] == str(len(t.generations)).encode()
        assert meta[b"fastrace.events"] == str(len(t.events)).encode()
        assert meta[b"fastrace.source"] == _path(case).name.encode()
    # Written 16 rows at a time, across the pieces of each generation.
    assert pq.read_metadata(written["events"]).num_row_groups == -(-len(t.events) // 16)


def test_parquet_compact_dictionaries(tmp_path, monkeypatch):
    # Files get only the dictionary entries their rows use (beyond a size).
    case = "go1.25/annotations"
    t = _trace(case)
    monkeypatch.setattr(export, "COMPACT_DICTIONARY", 4)
    written = export.write_tables(_path(case), tmp_path, tables=["events", "frames"],
                                  row_group=64)
    for name in written:
        got = pq.read_table(written[name])
        _same(got, t.to_arrow(name, resolve=True, wall=name == "events"))
    msg = pq.read_table(written["events"]).column("message")
    for chunk in msg.chunks:
        assert len(chunk.dictionary) < len(t.strings)


def test_failed_export_leaves_no_file(tmp_path):
    # A trace damaged in its last generation: the pieces before it are
    # written, then the error; no incomplete file stays.
    data = bytearray(_path("go1.22/long").read_bytes())
    data[-40:] = b"\xff" * 40
    with pytest.raises(fastrace.TraceError):
        export.write_tables(bytes(data), tmp_path, row_group=16)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", ["go1.23/allocfree", "go1.27/allocfree"])
def test_parquet_with_experiment_tables(case, tmp_path):
    t = _trace(case)
    written = export.write_tables(_path(case), tmp_path, resolve=False)
    assert list(written) == t.tables()
    for name, path in written.items():
        _same(pq.read_table(path), t.to_arrow(name, wall=_has_clock(t) and name != "strings"
                                              and name not in ("stacks",)))


def test_csv(tmp_path):
    from pyarrow import csv

    case = "go1.25/annotations"
    t = _trace(case)
    written = export.write_tables(_path(case), tmp_path, format="csv", tables=["events",
                                                                               "strings"])
    assert sorted(Path(p).name for p in written.values()) == ["events.csv", "strings.csv"]
    # Null is an empty field, the empty string a quoted one.
    ev = csv.read_csv(written["events"], convert_options=csv.ConvertOptions(
        strings_can_be_null=True, quoted_strings_can_be_null=False))
    assert ev.column("time").to_pylist() == t.events["time"].tolist()
    assert ev.column("type").to_pylist() == _decoded(t.to_arrow().column("type"))
    assert ev.column("message").to_pylist() == _decoded(t.to_arrow(resolve=True).column("message"))
    assert (tmp_path / "metadata.json").read_text().count('"fastrace.trace_version": "go 1.25')


def test_cli_export(tmp_path, capsys):
    case = "go1.27/annotations"
    out = tmp_path / "out"
    assert cli.main(["export", str(_path(case)), "-o", str(out), "--tables",
                     "events,strings"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [Path(x.split()[0]).name for x in lines] == ["events.parquet", "strings.parquet"]
    assert pq.read_table(out / "events.parquet").num_rows == len(_trace(case).events)
    assert cli.main(["export", str(_path(case)), "-o", str(out), "--tables", "nope"]) == 1
    assert "no table 'nope'" in capsys.readouterr().err


# --- Pickling -----------------------------------------------------------------

def _summary(t):
    return (t.version, t.events.tobytes(), t.threads.tolist(), list(t.strings),
            [t.stack_frames(i) for i in range(len(t.stacks))], t.generations.tobytes(),
            [t.exp_batch_data(i) for i in range(len(t.exp_batches))])


@pytest.mark.parametrize("case", SOME)
def test_pickle_round_trip(case):
    t = _trace(case)
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        u = pickle.loads(pickle.dumps(t, protocol=protocol))
        assert _summary(u) == _summary(t)
        assert u.wire is None and repr(u) == repr(t)
    if "AllocFree" in t.experiments():
        a, b = t.experiment("AllocFree"), u.experiment("AllocFree")
        assert a.heap_objects.tobytes() == b.heap_objects.tobytes()
        assert a.types.tolist() == b.types.tolist()


def test_pickle_pieces():
    pieces = list(fastrace.iter_generations(_path("go1.22/long"), max_events=200))
    for p in pieces:
        u = pickle.loads(pickle.dumps(p))
        assert (u.first_row, u.generation) == (p.first_row, p.generation)
        assert u.events.tobytes() == p.events.tobytes()


def test_multiprocessing_and_futures():
    # Workers are standard callables, so that a spawned process needs to
    # import only fastrace to unpickle what it is sent (not this module).
    ts = [_trace(c) for c in SOME[:3]]
    ctx = multiprocessing.get_context("spawn")     # nothing inherited: all through pickle
    with ctx.Pool(2) as pool:
        assert pool.map(repr, ts) == [repr(t) for t in ts]
        frames = operator.methodcaller("stack_frames", 1)
        assert pool.map(frames, ts) == [t.stack_frames(1) for t in ts]
        got = pool.map(operator.methodcaller("m_ids"), ts)
        assert all(np.array_equal(g, t.m_ids()) for g, t in zip(got, ts))
        # Traces come back too (a worker that reads and returns one).
        back = pool.map(fastrace.read, [str(_path(c)) for c in SOME[:2]])
        assert [_summary(b) for b in back] == [_summary(t) for t in ts[:2]]
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as ex:
        assert list(ex.map(len, ts)) == [len(t.events) for t in ts]


# --- Optional dependencies -----------------------------------------------------

@pytest.mark.parametrize("module,call,extra", [
    ("pyarrow", lambda t: t.to_arrow(), "arrow"),
    ("pandas", lambda t: t.to_pandas(), "pandas"),
    ("polars", lambda t: t.to_polars(), "polars"),
    ("duckdb", lambda t: t.sql("select 1"), "duckdb"),
    ("pyarrow", lambda t: t.to_pandas(), "pandas"),      # each extra brings pyarrow
    ("pyarrow", lambda t: t.to_polars(), "polars"),
    ("pyarrow", lambda t: t.sql("select 1"), "duckdb"),
])
def test_missing_extra_names_the_install(module, call, extra, monkeypatch):
    t = _trace("go1.25/sched")
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"needs the {module} package: "
                                          rf"pip install 'fastrace\[{extra}\]'"):
        call(t)


def test_csv_of_every_table(tmp_path):
    """CSV holds every table, the analyses' too (a task's goroutines as
    space-separated ids)."""
    import csv as _csv

    path = _path("go1.27/annotations")
    written = export.write_tables(path, tmp_path, format="csv")
    t = fastrace.read(path)
    assert set(export.CORE_TABLES) <= set(written) and "tasks" in written
    with open(written["tasks"], newline="") as f:
        rows = list(_csv.DictReader(f))
    assert [r["goroutines"] for r in rows] == [" ".join(map(str, g)) for g in t.tasks()["goroutines"]]
