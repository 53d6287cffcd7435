"""The ordering engine beyond the byte-exact dumps (test_parsed.py):
streaming by generation, the CLI, damaged input, errors."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastrace
from fastrace import TraceError, TraceFormatError, TraceOrderError
from fastrace.dump import iter_go_wire
from fastrace.kinds import EventKind
from fastrace.parsed import write_go_parsed
from tests.refcompare import iter_outcome, read_outcome

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())
TRACES = [pytest.param(FIXTURES / fx["files"]["trace"]["path"],
                       id=f"go{fx['go_version']}-{fx['program']}") for fx in MANIFEST["fixtures"]]


def _fixture(version, program):
    fx = next(f for f in MANIFEST["fixtures"]
              if f["go_version"] == version and f["program"] == program)
    return fx, FIXTURES / fx["files"]["trace"]["path"]


@pytest.mark.parametrize("path", TRACES)
def test_iter_generations_gives_the_rows_of_read(path):
    whole = fastrace.read(path)
    pieces = list(fastrace.iter_generations(path))
    assert len(pieces) == len(whole.generations)
    events = np.concatenate([p.events for p in pieces])
    assert events.tobytes() == whole.events.tobytes()
    last = pieces[-1]
    assert last.generations.tobytes() == whole.generations.tobytes()
    assert last.strings.data == whole.strings.data
    assert last.stacks.tobytes() == whole.stacks.tobytes()
    # Every piece starts with its generation's Sync; only the last ends with
    # the trace's final Sync.
    for i, p in enumerate(pieces):
        assert p.events["kind"][0] == EventKind.SYNC
        assert (p.events["kind"][-1] == EventKind.SYNC) == (i == len(pieces) - 1)


@pytest.mark.parametrize("path", TRACES)
def test_iter_generations_in_small_pieces_gives_the_rows_of_read(path):
    whole = fastrace.read(path)
    n = 97
    pieces = list(fastrace.iter_generations(path, max_events=n))
    assert all(1 <= len(p.events) <= n for p in pieces)
    assert np.concatenate([p.events for p in pieces]).tobytes() == whole.events.tobytes()
    # first_row numbers the rows as read() does; a piece never spans two
    # generations, and a generation's first piece starts with its Sync.
    rows = 0
    syncs = whole.generations["sync_row"].tolist()
    for p in pieces:
        assert p.first_row == rows
        assert not any(rows < s < rows + len(p.events) for s in syncs)
        assert p.generation == sum(s <= rows for s in syncs) - 1
        final_only = p is pieces[-1] and len(p.events) == 1
        assert (p.events["kind"][0] == EventKind.SYNC) == (rows in syncs or final_only)
        rows += len(p.events)
    assert pieces[-1].strings.data == whole.strings.data
    assert pieces[-1].generations.tobytes() == whole.generations.tobytes()


def test_iter_generations_rejects_tiny_pieces():
    with pytest.raises(ValueError, match="max_events"):
        next(fastrace.iter_generations(TRACES[0].values[0], max_events=3))


@pytest.mark.parametrize("path", TRACES)
def test_table_invariants(path):
    t = fastrace.read(path)
    ev = t.events
    assert (np.diff(ev["time"]) > 0).all()  # strictly increasing
    syncs = ev[ev["kind"] == EventKind.SYNC]
    assert syncs["a"][:, 0].tolist() == list(range(1, len(syncs) + 1))
    assert len(syncs) == len(t.generations) + 1
    assert (ev["stack"] < len(t.stacks)).all()
    assert int(t.stacks[0]["nframes"]) == 0 and int(t.stacks[1]["nframes"]) == 0
    assert t.strings[0] == b""


def test_multi_generation_trace_has_one_sync_per_generation():
    _, path = _fixture("1.27.3", "long")
    t = fastrace.read(path)
    assert len(t.generations) >= 3
    rows = t.generations["sync_row"]
    assert (t.events["kind"][rows] == EventKind.SYNC).all()
    assert t.generations["has_clock"].all()


def test_event_view_is_readable():
    _, path = _fixture("1.27.3", "annotations")
    t = fastrace.read(path)
    logs = np.flatnonzero(t.events["kind"] == EventKind.LOG)
    d = t.event(int(logs[0])).as_dict()
    assert d["kind"] == "Log" and d["type"] == "UserLog" and "message" in d
    assert isinstance(d["stack"][0].func, str)


def test_rows_out_of_range_are_named():
    # Before: numpy's "index 1000000000 is out of bounds for axis 0 with
    # size 165", and an AttributeError for an experiment named by a number.
    _, path = _fixture("1.27.3", "annotations")
    t = fastrace.read(path)
    n = len(t.events)
    assert t.event(-1).as_dict()["kind"] == "Sync" and t.event(np.int64(0)).as_dict()
    with pytest.raises(IndexError, match=rf"^event: no row {n}: the table has {n} rows "
                                         rf"\(0 to {n - 1}, or -{n} to -1 from the end\)$"):
        t.event(n)
    with pytest.raises(TypeError, match="^event: a row is an int, not float 1.5$"):
        t.event(1.5)
    with pytest.raises(IndexError, match="^stack_frames: no row"):
        t.stack_frames(len(t.stacks))
    assert t.stack_frames(0) == [] and t.stack_frames(-1) == t.stack_frames(len(t.stacks) - 1)
    with pytest.raises(IndexError, match="^exp_batch_data: no row 0: the table has 0 rows$"):
        t.exp_batch_data(0)
    with pytest.raises(TypeError, match="name is a str"):
        t.experiment(3)


def _run_cli(*args, env_extra=None):
    env = dict(os.environ, TZ="UTC", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "fastrace", *args], capture_output=True, env=env)


@pytest.mark.reference
def test_cli_go_parsed_equals_go():
    fx, path = _fixture("1.26.6", "syscalls")
    want = gzip.decompress((FIXTURES / fx["files"]["parsed"]["path"]).read_bytes())
    proc = _run_cli("dump", "--format", "go-parsed", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == want


def test_cli_accepts_text_format(tmp_path):
    fx, path = _fixture("1.23.9", "sched")
    want_wire = gzip.decompress((FIXTURES / fx["files"]["wire"]["path"]).read_bytes())
    want_parsed = gzip.decompress((FIXTURES / fx["files"]["parsed"]["path"]).read_bytes())
    text = tmp_path / "sched.txt"
    text.write_bytes(b"Trace Go1.23\n" + want_wire)
    proc = _run_cli("dump", "--format", "go-wire", str(text))
    assert proc.returncode == 0 and proc.stdout == want_wire
    proc = _run_cli("dump", "--format", "go-parsed", str(text))
    assert proc.returncode == 0 and proc.stdout == want_parsed


def test_cli_validate():
    _, path = _fixture("1.25.5", "gcalloc")
    proc = _run_cli("validate", str(path))
    assert proc.returncode == 0 and proc.stdout == b"ok\n"


@pytest.mark.damage
@pytest.mark.live
@pytest.mark.parametrize("version", ["1.22.10", "1.25.5", "1.27.3"])
def test_damaged_trace_go_parsed_equals_go(tmp_path, version):
    """On a trace cut short, Go prints the events of the generations before
    the damage, then the error; fastrace prints the same events."""
    from tests import gotool

    _, path = _fixture(version, "long")
    data = path.read_bytes()
    w = fastrace.decode_wire(data)
    offsets = w.generations["offset"].tolist()
    for cut in (offsets[-1] + 40, offsets[1] + 300, offsets[1] + 1, len(data) - 3):
        bad = tmp_path / f"cut{cut}.trace"
        bad.write_bytes(data[:cut])
        want, go_err, go_rc = gotool.go_dump(bad, "parsed")
        proc = _run_cli("dump", "--format", "go-parsed", str(bad))
        assert go_rc == 1 and proc.returncode == 1, (cut, go_err, proc.stderr)
        assert proc.stderr.startswith(b"fastrace: ") and proc.stderr.count(b"\n") == 1
        assert proc.stdout == want, (cut, go_err, proc.stderr)


def _event_offsets(data, w, batch):
    """Byte offset of every event in event batch ``batch`` (walked with the
    spec's argument counts)."""
    from fastrace import spec
    from fastrace._varint import uvarint

    b = w.batches[batch]
    pos, end = int(b["data_offset"]), int(b["data_offset"]) + int(b["size"])
    out = []
    while pos < end:
        out.append(pos)
        n = len(spec.BY_CODE[data[pos]].args)
        pos += 1
        for _ in range(n):
            _, pos = uvarint(data, pos)
    return out


@pytest.mark.damage
@pytest.mark.live
@pytest.mark.parametrize("version", ["1.22.10", "1.25.5", "1.27.3"])
def test_malformed_event_go_parsed_equals_go(tmp_path, version):
    """A malformed event is found when the ordering gets to it, as in Go's
    reader: Go prints the events ordered before it (none of the step that
    would have read it, and no Sync when it is an M's first event of a
    generation), then the error.  fastrace prints the same events."""
    from tests import gotool

    _, path = _fixture(version, "long")
    data = path.read_bytes()
    w = fastrace.decode_wire(data)
    ev_batches = [i for i in range(len(w.batches)) if w.batches["kind"][i] == 0]
    gen_of = w.batches["generation"]
    big = max(ev_batches, key=lambda i: int(w.batches["size"][i]))
    mid = _event_offsets(data, w, big)
    second_gen = [i for i in ev_batches if gen_of[i] == 1]
    cases = [("bad type mid-batch", mid[len(mid) // 2], b"\xee"),
             ("untimed type", mid[len(mid) // 3], bytes([1])),
             ("varint overflow", mid[len(mid) // 2] + 1, b"\xff" * 10)]
    if second_gen:
        first = int(w.batches["data_offset"][second_gen[0]])
        cases.append(("M's first event of generation 2", first, b"\xee"))
    for name, at, patch in cases:
        bad = bytearray(data)
        bad[at:at + len(patch)] = patch
        f = tmp_path / "bad.trace"
        f.write_bytes(bad)
        want, go_err, go_rc = gotool.go_dump(f, "parsed")
        proc = _run_cli("dump", "--format", "go-parsed", str(f))
        assert go_rc == 1 and proc.returncode == 1, (name, go_err, proc.stderr)
        assert proc.stdout == want, (name, go_err, proc.stderr)
        for workers in (1, 2):
            with pytest.raises(TraceFormatError) as info:
                fastrace.read(f, workers=workers)
            e = info.value
            assert e.offset == at and e.generation is not None and e.batch is not None, name
            assert len(e.partial.events) == sum(
                ln.startswith(b"M=") for ln in want.split(b"\n")), name


@pytest.mark.damage
def test_order_error_names_generation_m_and_event():
    from tests.tracebuild import NO_M, batch, ev, header, sync

    # A GoStart with no P on its M: Go's reader fails with "expected a proc".
    t = (header(22) + batch(1, NO_M, 1, sync(22, 100))
         + batch(1, 5, 10, ev(25, 1, 1, NO_M, 1) + ev(16, 1, 1, 1)))
    with pytest.raises(TraceOrderError, match=r"expected a proc but didn't have one \[M 5\]") as info:
        fastrace.read(t)
    e = info.value
    assert (e.generation, e.batch, e.event) == (1, 1, 1)
    assert isinstance(e, ValueError)
    # The events before the problem come with the error.
    assert e.partial is not None and len(e.partial.events) == 2


def _sample_traces():
    return [pytest.param(_fixture(v, "sched")[1], id=f"go{v}") for v in ("1.22.10", "1.27.3")]


@pytest.mark.damage
@pytest.mark.parametrize("path", _sample_traces())
def test_damaged_traces_raise_trace_errors_only(path, deadline):
    data = path.read_bytes()
    rng = random.Random(99)
    for _ in range(600):
        b = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 5))):
            b[rng.randrange(16, len(b))] = rng.randrange(256)
        try:
            fastrace.read(bytes(b))
        except TraceError as e:
            assert str(e)
    for cut in rng.sample(range(16, len(data)), 300):
        try:
            fastrace.read(data[:cut])
        except TraceError:
            pass


def _multi_generation_traces():
    return [pytest.param(_fixture(v, "long")[1], id=f"go{v}-long")
            for v in ("1.22.10", "1.23.9", "1.25.5", "1.26.6", "1.27.3")]


@pytest.mark.damage
@pytest.mark.parametrize("path", _multi_generation_traces())
def test_two_workers_equal_one_on_damaged_traces(path, deadline):
    """read(workers=2) orders every other generation from an empty state
    and checks it against the real one afterwards: on damaged traces too,
    what it gives (rows, or error and partial rows) is what workers=1 gives."""
    from fastrace import parallel as T

    data = path.read_bytes()
    assert len(fastrace.read(data).generations) >= 2
    merged = T.PARALLEL_STATS["merged"]
    assert read_outcome(data, 2) == read_outcome(data, 1)
    assert T.PARALLEL_STATS["merged"] > merged      # the second run was used, not redone
    rng = random.Random(7)
    for _ in range(150):
        b = bytearray(data)
        for _ in range(rng.choice((1, 2, 5))):
            b[rng.randrange(16, len(b))] = rng.randrange(256)
        assert read_outcome(bytes(b), 2) == read_outcome(bytes(b), 1)
    for cut in rng.sample(range(16, len(data)), 60):
        assert read_outcome(data[:cut], 2) == read_outcome(data[:cut], 1)


@pytest.mark.parametrize("path", TRACES)
def test_iter_generations_with_two_workers_gives_the_pieces_of_one(path):
    for max_events in (97, None):
        assert iter_outcome(path, 2, max_events) == iter_outcome(path, 1, max_events)


@pytest.mark.damage
@pytest.mark.parametrize("path", _multi_generation_traces())
def test_iter_generations_two_workers_on_damaged_traces(path, deadline):
    """Streamed with the next generation ordered meanwhile: on damaged
    traces too, the pieces, the error and its partial piece (or the
    warnings) are those of workers=1; and the runs were really used."""
    from fastrace import parallel as T

    data = path.read_bytes()
    merged = T.PARALLEL_STATS["merged"]
    assert iter_outcome(data, 2) == iter_outcome(data, 1)
    assert T.PARALLEL_STATS["merged"] > merged
    rng = random.Random(11)
    for k in range(60):
        b = bytearray(data)
        for _ in range(rng.choice((1, 2, 5))):
            b[rng.randrange(16, len(b))] = rng.randrange(256)
        on_error = ("raise", "truncate")[k % 2]
        assert iter_outcome(bytes(b), 2, 500, on_error) == \
            iter_outcome(bytes(b), 1, 500, on_error)
    for cut in rng.sample(range(16, len(data)), 30):
        assert iter_outcome(data[:cut], 2, 500) == iter_outcome(data[:cut], 1, 500)


def test_iter_generations_two_workers_stops_its_thread_when_closed(monkeypatch):
    """A consumer that stops after the first piece: the thread ordering the
    next generation is waited for, not left running.  (The run is held back
    until after the close starts, so that it is surely still running.)"""
    import threading

    from fastrace import parallel

    release = threading.Event()
    run = parallel.FreshRun._run

    def held(self):
        release.wait(10)
        run(self)

    monkeypatch.setattr(parallel.FreshRun, "_run", held)
    path = _fixture("1.27.3", "long")[1]
    pieces = fastrace.iter_generations(path, workers=2, max_events=64)
    first = next(pieces)
    assert first.first_row == 0 and 0 < len(first.events) <= 64
    fresh = [t for t in threading.enumerate() if t.name == "fastrace-fresh"]
    assert len(fresh) == 1 and fresh[0].is_alive()     # the next generation, meanwhile
    threading.Timer(0.2, release.set).start()
    pieces.close()
    assert not fresh[0].is_alive()
    with pytest.raises(ValueError, match="workers"):
        next(fastrace.iter_generations(path, workers=0))


def test_large_tables_use_the_mapped_growth_path():
    """400k events: the wire and ordered tables pass MAP_THRESHOLD (2 MiB,
    fastrace/_varint.pyx), above which a table lives in its own memory
    mapping and grows with mremap.  tracemalloc cannot see those tables, so
    this measures them directly: the allocator's own counter of mapped
    growths; the event table's memory, which must be page-aligned room of a
    mapping (malloc's memory is not: glibc puts its header first); and, for
    pieces, their addresses and the peak RSS of a loop over them."""
    from tests.memory import RSS_METER, own_mapping, peak_rss_growth
    from tests.tracebuild import NO_M, batch, ev, header, sync

    n = 400_000
    out = bytearray(header(22) + batch(1, NO_M, 1, sync(22, 1_000_000_000)))
    per_batch = 12_000
    first = True
    for start in range(0, n, per_batch):
        payload = bytearray()
        if first:
            payload += ev(13, 0, 0, 1)  # ProcStatus p=0 Running: binds P 0 to M 3
            first = False
        for i in range(start, min(n, start + per_batch)):
            payload += ev(37, 1, i)      # HeapAlloc dt=1 value=i
        out += batch(1, 3, 100 + start, bytes(payload))
    from fastrace import _varint

    before = _varint.mapped_growths()
    t = fastrace.read(bytes(out))
    assert _varint.mapped_growths() > before     # the mapped path was taken
    assert t.events.nbytes > 2 << 20 and own_mapping(t.events)
    heap = t.events[t.events["type"] == 37]
    assert len(heap) == n
    assert heap["a"][:, 0].tolist() == list(range(n))
    assert (heap["p"] == 0).all() and (t.m_ids()[t.events["kind"] == EventKind.METRIC] == 3).all()
    assert (np.diff(t.events["time"]) > 0).all()
    # workers=2 reserves the room and backs pages from a helper thread.
    assert fastrace.read(bytes(out), workers=2).events.tobytes() == t.events.tobytes()
    # Pieces of 50,000 rows (2.8 MB, mapped): each reuses the memory of a
    # piece dropped before it, so the nine pieces take two buffers (the
    # next piece is made while the last one is still referenced) and the
    # loop's peak RSS stays near two pieces' (measured 5.2 MB; keeping every
    # piece measures 22 MB, read() 23 MB), and they hold the right rows.
    want, got, where = hashlib.sha256(t.events.view(np.uint8)).digest(), hashlib.sha256(), []

    def pieces():
        for piece in fastrace.iter_generations(bytes(out), max_events=50_000):
            assert own_mapping(piece.events)
            got.update(piece.events.view(np.uint8))
            where.append(piece.events.__array_interface__["data"][0])
            del piece
    if RSS_METER:
        rss = peak_rss_growth(pieces)
        assert rss < 4 * 50_000 * t.events.itemsize, rss
    else:
        pieces()
    assert got.digest() == want
    assert len(where) == 9 and len(set(where)) == 2, where
    # max_events=None: one piece per generation, however large.
    whole = list(fastrace.iter_generations(bytes(out), max_events=None))
    assert len(whole) == 1 and whole[0].events.tobytes() == t.events.tobytes()


def _runs_trace() -> bytes:
    """Two Ms and CPU samples, for the two tests below."""
    from tests.tracebuild import NO_M, batch, cpu_samples, ev, header, sync

    m7 = ev(13, 0, 0, 1)                            # t=100 ProcStatus p=0 running
    for v in (1, 2, 3, 4, 5):
        m7 += ev(37, 10, v)                         # t=110 120 130 140 150
    m7 += ev(37, 10, 100)                           # t=160
    for v in range(101, 140):
        m7 += ev(37, 1, v)                          # t=161 ... 199: a long run
    m8 = ev(13, 1, 1, 1)                            # t=101 ProcStatus p=1 running
    m8 += ev(37, 14, 11) + ev(37, 20, 12)           # t=115 135
    m8 += ev(37, 15, 13)                            # t=150 (a tie with M 7's)
    return (header(23) + batch(1, NO_M, 1, sync(23, 1_000_000_000))
             + batch(1, 7, 100, m7) + batch(1, 8, 100, m8)
             + batch(1, NO_M, 2, cpu_samples((120, 7, 0, 0, 0), (125, 8, 1, 0, 0),
                                             (139, 7, 0, 0, 0))))


def test_runs_of_one_ms_events_stop_at_the_other_ms_and_cpu_samples():
    """The ordering takes an M's events one after another while the M stays
    the earliest: the run must stop at the other M's next event and at a
    CPU sample, as Go's reader orders them (a CPU sample goes before the
    events later than it, after those at its time; at a tie between Ms the
    one already at the root of the frontier heap goes on).  Hand-worked:
    one tick is one ns; HeapAlloc values name the events."""
    trace = _runs_trace()
    # Times never repeat in Go's order: a row at or before the last one's
    # time is moved 1 ns after it (the sample at 120, M 8's event at 150).
    # Go 1.23 traces end with a Sync.
    want = ["sync", (100, "p0"), (101, "p1"), (110, 1), (115, 11), (120, 2),
            (121, "cpu"), (125, "cpu"), (130, 3), (135, 12), (139, "cpu"), (140, 4),
            (150, 5), (151, 13)] + [(60 + v, v) for v in range(100, 140)] + ["sync"]
    for max_events in (None, 16):     # pieces of 16 rows pause the runs
        rows = []
        for piece in fastrace.iter_generations(trace, max_events=max_events):
            assert max_events is None or len(piece.events) <= max_events
            for r in piece.events:
                if r["kind"] == EventKind.SYNC:
                    rows.append("sync")
                elif r["type"] == 13:
                    rows.append((int(r["time"]), f"p{r['a'][0]}"))
                elif r["type"] == 37:
                    rows.append((int(r["time"]), int(r["a"][0])))
                else:
                    assert r["kind"] == EventKind.STACK_SAMPLE
                    rows.append((int(r["time"]), "cpu"))
        assert rows == want, max_events


@pytest.mark.live
def test_runs_of_one_ms_events_go_parsed_equals_go(tmp_path):
    """The hand-made trace of the test above, ordered by Go's own reader."""
    from tests import gotool

    f = tmp_path / "runs.trace"
    f.write_bytes(_runs_trace())
    want, go_err, go_rc = gotool.go_dump(f, "parsed")
    assert go_rc == 0, go_err
    assert _run_cli("dump", "--format", "go-parsed", str(f)).stdout == want


@pytest.mark.parametrize("path", TRACES)
def test_read_with_two_workers_gives_the_same_rows(path):
    one = fastrace.read(path)
    two = fastrace.read(path, workers=2)
    assert two.events.tobytes() == one.events.tobytes()
    assert two.generations.tobytes() == one.generations.tobytes()
    assert two.strings.data == one.strings.data and two.frames.tobytes() == one.frames.tobytes()


def test_read_rejects_zero_workers():
    with pytest.raises(ValueError, match="workers"):
        fastrace.read(TRACES[0].values[0], workers=0)


@pytest.mark.parametrize("version", [22, 25, 26])
def test_header_only_trace(version):
    from tests.tracebuild import header

    if version < 26:
        # Go's reader: a Sync, then "no frequency event found".
        with pytest.raises(TraceFormatError, match="no frequency event found") as info:
            fastrace.read(header(version))
        assert info.value.partial.events["kind"].tolist() == [EventKind.SYNC]
    else:
        t = fastrace.read(header(version))
        assert t.events["kind"].tolist() == [EventKind.SYNC]
        assert t.events["time"].tolist() == [1]


def test_errors_in_later_generations_count_batches_from_the_file_start():
    from tests.tracebuild import NO_M, batch, ev, minimal, sync

    good = minimal(22, gens=1)  # 4 batches
    bad = (batch(2, NO_M, 5000, sync(22, 100))
           + batch(2, 9, 5010, ev(11, 1) + ev(25, 1, 7, NO_M, 1)))
    # ProcStop with no P on M 9: "event ProcStop for proc (-1) that doesn't exist".
    with pytest.raises(TraceOrderError, match=r"ProcStop for proc \(-1\)") as info:
        fastrace.read(good + bad)
    assert (info.value.generation, info.value.batch, info.value.event) == (2, 5, 0)
    for cut in (len(good) + 3,):  # damage at the start of generation 2
        with pytest.raises(TraceFormatError) as info:
            fastrace.read((good + bad)[:cut])
        assert info.value.batch == 4


def test_id_map_agrees_with_a_dict():
    # The engine's id map keeps small keys in an array and the rest in a hash
    # table, moving keys between them as the array grows: check every path
    # against a dict (keys that start in the hash part and are later covered
    # by the array, huge keys, deletions, re-insertions).
    from fastrace._order import IdTable

    rng = np.random.default_rng(7)
    m = IdTable(np.zeros(0, np.uint64), np.zeros(0, np.int64))
    ref = {}
    big = [2**64 - 1, 2**63, 2**40 + 3]
    for step in range(60_000):
        r = rng.random()
        if r < 0.55:
            k = int(rng.integers(0, 200_000)) if rng.random() < 0.9 else big[step % 3]
            v = int(rng.integers(0, 2**62))
            m.put(k, v)
            ref[k] = v
        elif r < 0.85 and ref:
            k = list(ref)[int(rng.integers(0, len(ref)))] if step % 7 else 123_456_789
            m.delete(k)
            ref.pop(k, None)
        else:
            k = int(rng.integers(0, 300_000))
            assert m.get(k) == ref.get(k)
        if step % 5000 == 0:
            assert sorted(m.items()) == sorted(ref.items())
            assert len(m) == len(ref)
    assert sorted(m.items()) == sorted(ref.items())
    assert m.direct_keys > 4096        # the array part grew past its minimum
    assert m.get(2**64 - 1) == ref.get(2**64 - 1)
    # Built from arrays: a dense set of keys and a sparse one.
    keys = np.array([5, 1, 3], np.uint64)
    for t in (IdTable(keys, np.array([50, 10, 30])),
              IdTable(keys * np.uint64(2**40), np.array([50, 10, 30]))):
        assert sorted(v for _, v in t.items()) == [10, 30, 50] and len(t) == 3
