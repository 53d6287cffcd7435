"""Live differential tests: traces written during this run by each Go
toolchain (1.22-1.27), dumped by fastrace and by Go 1.27.3's
`go tool trace -d=wire`, must agree byte for byte.  This is what catches a
new Go release changing the format."""

from __future__ import annotations

import pytest

import fastrace
import gotool
from refcompare import assert_matches_go_wire, fastrace_go_wire

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
    if program == "long":
        assert len(w.generations) >= 3
    if program == "allocfree":
        assert "AllocFree" in w.experiments()
    if program == "cpuprofile":
        assert len(w.cpu_samples) > 0
