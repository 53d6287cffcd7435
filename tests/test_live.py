"""Live differential tests: traces written during this run by each Go
toolchain (1.22-1.27), dumped by fastrace and by Go 1.27.3's
`go tool trace -d=wire` and `-d=parsed`, must agree byte for byte.  This is what catches a
new Go release changing the format."""

from __future__ import annotations

import pytest

import fastrace
from tests import gotool
from fastrace.parsed import go_parsed_bytes
from fastrace.validate import validate
from tests.refcompare import (assert_matches_go_wire, fastrace_go_wire, first_difference,
                               iter_outcome)

pytestmark = pytest.mark.live

PROGRAMS = ("sched", "annotations", "cpuprofile", "allocfree", "coro", "cgo", "flight", "long")


def _cases():
    for v in gotool.VERSIONS:
        for p in PROGRAMS:
            if gotool.supports(v, p):
                yield pytest.param(v, p, id=f"go{v}-{p}")


@pytest.mark.parametrize("version,program", list(_cases()))
def test_live_trace_matches_go(tmp_path, version, program):
    trace = gotool.make_trace(version, program, tmp_path / f"{program}.trace")
    if trace is None:
        pytest.skip(f"{program} does not run on Go {version}")
    want, err, rc = gotool.go_dump(trace, "wire")
    w = fastrace.decode_wire(trace)
    assert_matches_go_wire(fastrace_go_wire(trace), want, err, rc, w.version)
    # The ordered events: `go tool trace -d=parsed`, byte for byte.
    want_p, err_p, rc_p = gotool.go_dump(trace, "parsed")
    assert rc_p == 0, err_p
    got_p = go_parsed_bytes(fastrace.read(trace))
    assert got_p == want_p, first_difference(got_p, want_p)
    assert validate(fastrace.read(trace)) == []
    if program == "long":
        assert len(w.generations) >= 3
    if program == "allocfree":
        assert "AllocFree" in w.experiments()
    if program == "cpuprofile":
        assert len(w.cpu_samples) > 0
    # Generations ordered in parallel give the same table.
    two = fastrace.read(trace, workers=2)
    one = fastrace.read(trace)
    assert two.events.tobytes() == one.events.tobytes()
    assert two.generations.tobytes() == one.generations.tobytes()
    # And streamed: the next generation ordered in another thread.
    assert iter_outcome(trace, 2, 50_000) == iter_outcome(trace, 1, 50_000)


def test_parallel_generations_with_damage_while_others_run(tmp_path):
    """A steady multi-generation trace (sched -pace) of a few MB: with
    workers=2 the later generations are being ordered in other threads when
    a malformed event late in the first (or in a middle) generation stops
    the reading; the rows and the error are those of workers=1."""
    from fastrace import parallel as T

    out = gotool.make_trace(gotool.REFERENCE, "sched", tmp_path / "paced.trace",
                            args=["-workers", "200", "-rounds", "400000", "-pace", "200"])
    data = out.read_bytes()
    w = fastrace.decode_wire(data)
    assert len(w.generations) >= 3
    merged = T.PARALLEL_STATS["merged"]
    one, two = fastrace.read(data), fastrace.read(data, workers=2)
    assert two.events.tobytes() == one.events.tobytes()
    assert T.PARALLEL_STATS["merged"] > merged
    b = w.batches
    for gen in (0, 1):
        rows = [i for i in range(len(b)) if b["kind"][i] == 0 and b["generation"][i] == gen]
        at = int(b["data_offset"][rows[len(rows) * 9 // 10]])
        bad = bytearray(data)
        bad[at] = 0xEE       # not an event type
        got = []
        for workers in (1, 2):
            with pytest.raises(fastrace.TraceFormatError) as info:
                fastrace.read(bytes(bad), workers=workers)
            p = info.value.partial
            got.append((str(info.value), p.events.tobytes(), p.generations.tobytes(),
                        p.strings.data))
        assert got[0] == got[1]
        # Streamed, with the generation after the damaged one being ordered
        # meanwhile: the same pieces, then the same error.
        for on_error in ("raise", "truncate"):
            assert iter_outcome(bytes(bad), 2, 65536, on_error) == \
                iter_outcome(bytes(bad), 1, 65536, on_error)
