"""The wire decoder on hand-made traces whose tables are worked out by hand."""

import io

import numpy as np
import pytest

import fastrace
from fastrace.dump import write_go_wire
from fastrace.wire import BatchKind
from tests.tracebuild import (END_OF_GENERATION, NO_M, batch, cpu_samples, ev, exp_batch,
                              header, minimal, stacks, strings, sync, uv)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("version", [22, 23, 25, 26])
def test_minimal_tables(version):
    w = fastrace.decode_wire(minimal(version, gens=2))
    assert w.version == version
    assert len(w.generations) == 2
    assert w.generations["gen"].tolist() == [1, 2]
    assert w.generations["freq"].tolist() == [15625000, 15625000]
    # Per generation: sync, strings, stacks, events (+ end of generation).
    per_gen = 5 if version >= 26 else 4
    assert len(w.batches) == 2 * per_gen
    kinds = [BatchKind(k) for k in w.batches["kind"][:per_gen]]
    assert kinds[:4] == [BatchKind.SYNC, BatchKind.STRINGS, BatchKind.STACKS, BatchKind.EVENTS]
    ev0 = w.generation(0).events
    assert ev0["type"].tolist() == [13, 25, 37]
    # Absolute times: batch base 1010, deltas 3, 2, 5.
    assert ev0["time"].tolist() == [1013, 1015, 1020]
    assert ev0["args"][0].tolist() == [0, 1, 0, 0]
    assert ev0["args"][1].tolist() == [1, NO_M, 2, 0]
    assert ev0["args"][2].tolist() == [4096, 0, 0, 0]
    assert ev0["nargs"].tolist() == [2, 3, 1]
    g1 = w.generation(1)
    assert g1.string_table() == {1: b"main", 2: b"main.go"}
    assert w.stack_frames(int(np.flatnonzero(w.stacks["batch"] == g1.stacks["batch"][0])[0])).tolist() \
        == [(0x401000, 1, 2, 10)]
    assert g1.events["time"].tolist() == [2013, 2015, 2020]
    assert w.generations["min_time"].tolist() == [1000, 2000]
    if version >= 25:
        assert w.generations["has_clock"].tolist() == [1, 1]
        assert w.generations["clock_time"].tolist() == [1005, 2005]
        assert w.generations["clock_mono"].tolist() == [777, 777]
        assert w.generations["clock_sec"].tolist() == [1700000000] * 2


def test_minimal_go_wire_text():
    # Payload sizes by hand: sync 16 (Sync 1, Frequency 1+4, ClockSnapshot
    # 1+1+2+5+1), strings 18 (1 + 7 + 10), stacks 11 (1 + 3 + pc of 4 bytes
    # and 3 one-byte fields), events 22 (4 + 14 with a 10-byte M id + 4).
    w = fastrace.decode_wire(minimal(26))
    out = io.BytesIO()
    write_go_wire(w, out)
    assert out.getvalue().decode() == (
        "EventBatch gen=1 m=18446744073709551615 time=1000 size=16\n"
        "Sync\n"
        "Frequency freq=15625000\n"
        "ClockSnapshot dt=5 mono=777 sec=1700000000 nsec=42\n"
        "EventBatch gen=1 m=18446744073709551615 time=1001 size=18\n"
        "Strings\n"
        "String id=1\n"
        '\tdata="main"\n'
        "String id=2\n"
        '\tdata="main.go"\n'
        "EventBatch gen=1 m=18446744073709551615 time=1002 size=11\n"
        "Stacks\n"
        "Stack id=1 nframes=1\n"
        "\tpc=4198400 func=1 file=2 line=10\n"
        "EventBatch gen=1 m=7 time=1010 size=22\n"
        "ProcStatus dt=3 p=0 pstatus=1\n"
        "GoStatus dt=2 g=1 m=18446744073709551615 gstatus=2\n"
        "HeapAlloc dt=5 heapalloc_value=4096\n"
        "EndOfGeneration\n"
    )


def test_empty_string_and_experimental_batch_print_no_data_line():
    t = (header(26)
         + batch(1, NO_M, 1, sync(26, 100, (0, 0, 0, 0)))
         + batch(1, NO_M, 2, strings((1, b""), (2, b"\x00\xff")))
         + exp_batch(1, 1, NO_M, 3, b"")
         + exp_batch(1, 1, NO_M, 4, b"\x01\x02")
         + END_OF_GENERATION)
    w = fastrace.decode_wire(t)
    out = io.BytesIO()
    write_go_wire(w, out)
    text = out.getvalue().decode()
    assert "String id=1\nString id=2\n\tdata=\"\\x00\\xff\"\n" in text
    assert "ExperimentalBatch exp=1 gen=1 m=18446744073709551615 time=3\nExperimentalBatch" in text
    assert text.endswith('ExperimentalBatch exp=1 gen=1 m=18446744073709551615 time=4\n'
                         '\tdata="\\x01\\x02"\nEndOfGeneration\n')
    assert w.exp_batches["length"].tolist() == [0, 2]
    assert w.exp_batch_data(1) == b"\x01\x02"
    assert w.experiments() == ["AllocFree"]


def test_cpu_samples_and_experimental_events():
    t = (header(23)
         + batch(1, NO_M, 1, sync(23, 100))
         + batch(1, NO_M, 2, cpu_samples((50, 3, 1, 9, 0), (60, 3, 1, 0, 0)))
         # HeapObjectAlloc(dt=4, id=0x10, type=2) — an AllocFree event in a 1.23 trace
         + batch(1, 3, 10, ev(132, 4, 0x10, 2)))
    w = fastrace.decode_wire(t)
    assert w.cpu_samples[["time", "m", "p", "g", "stack"]].tolist() == [(50, 3, 1, 9, 0), (60, 3, 1, 0, 0)]
    assert w.events["type"].tolist() == [132]
    assert w.events["time"].tolist() == [14]
    assert w.events["args"][0, :2].tolist() == [0x10, 2]
    assert w.experiments() == ["AllocFree"]


def test_padded_batch_size_is_accepted():
    # The runtime writes batch sizes as 10-byte padded varints.
    payload = sync(22, 100)
    padded = bytes([1]) + uv(1) + uv(NO_M) + uv(5) + bytes([0x80 | len(payload)] + [0x80] * 8 + [0]) + payload
    w = fastrace.decode_wire(header(22) + padded)
    assert w.batches["size"].tolist() == [len(payload)]


def test_trailing_generation_without_events_is_kept_but_not_ended():
    # Go's reader silently drops a final 1.26 generation that has no event
    # batches (e.g. cut right after its sync batch).  fastrace keeps its rows
    # and marks it as not ended.
    t = minimal(26) + batch(2, NO_M, 5000, sync(26, 100, (0, 0, 0, 0)))
    w = fastrace.decode_wire(t)
    assert w.generations["ended"].tolist() == [1, 0]


def test_header_only_trace_has_no_generations():
    w = fastrace.decode_wire(header(25))
    assert len(w.generations) == 0 and len(w.batches) == 0
