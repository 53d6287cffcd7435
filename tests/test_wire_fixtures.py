"""`fastrace dump --format go-wire` against `go tool trace -d=wire` (Go
1.27.3) on the committed fixture traces of Go 1.22-1.27."""

from __future__ import annotations

import gzip
import json
import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import fastrace
from tests.refcompare import assert_matches_go_wire, fastrace_go_wire

pytestmark = pytest.mark.reference

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())


def _params():
    for fx in MANIFEST["fixtures"]:
        yield pytest.param(fx, id=f"go{fx['go_version']}-{fx['program']}")


def _load(fx):
    files = fx["files"]
    meta = json.loads((FIXTURES / files["json"]["path"]).read_text())
    want = gzip.decompress((FIXTURES / files["wire"]["path"]).read_bytes())
    return FIXTURES / files["trace"]["path"], want, meta


def test_manifest_covers_every_version_and_program():
    seen = {(fx["go_version"], fx["program"]) for fx in MANIFEST["fixtures"]}
    versions = {v for v, _ in seen}
    assert versions == set(MANIFEST["versions"]) and len(versions) >= 5
    for v in versions:
        assert {"sched", "annotations", "gcalloc", "cpuprofile", "syscalls", "cgo", "procs",
                "long"} <= {p for vv, p in seen if vv == v}
    assert {v for v, p in seen if p == "allocfree"} >= {"1.23.9", "1.25.5", "1.27.3"}


@pytest.mark.parametrize("fx", list(_params()))
def test_go_wire_dump_matches_go(fx):
    trace, want, meta = _load(fx)
    got = fastrace_go_wire(trace)
    version = fastrace.decode_wire(trace).version
    assert_matches_go_wire(got, want, meta["wire_stderr"].encode(), meta["wire_returncode"], version)


@pytest.mark.parametrize("source", ["path", "bytes", "bytearray", "memoryview"])
def test_input_kinds_agree(source):
    fx = next(f for f in MANIFEST["fixtures"] if f["program"] == "sched" and f["go_version"] == "1.27.3")
    trace, want, _ = _load(fx)
    data = trace.read_bytes()
    src = {"path": str(trace), "bytes": data, "bytearray": bytearray(data),
           "memoryview": memoryview(data)}[source]
    assert fastrace_go_wire(src) == want


def test_cli_dump_equals_go_byte_for_byte():
    fx = next(f for f in MANIFEST["fixtures"] if f["program"] == "annotations" and f["go_version"] == "1.25.5")
    trace, want, _ = _load(fx)
    proc = subprocess.run([sys.executable, "-m", "fastrace", "dump", "--format", "go-wire", str(trace)],
                          capture_output=True)
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout == want


def test_cli_bad_input_one_line_exit_1(tmp_path):
    fx = next(f for f in MANIFEST["fixtures"] if f["program"] == "sched" and f["go_version"] == "1.26.6")
    trace, _, _ = _load(fx)
    bad = tmp_path / "cut.trace"
    bad.write_bytes(trace.read_bytes()[:-40])
    for args in (["dump", "--format", "go-wire", str(bad)], ["info", str(bad)],
                 ["dump", str(tmp_path / "missing.trace")]):
        proc = subprocess.run([sys.executable, "-m", "fastrace", *args], capture_output=True)
        assert proc.returncode == 1, args
        lines = proc.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("fastrace: "), proc.stderr
        assert "Traceback" not in proc.stderr.decode()
    proc = subprocess.run([sys.executable, "-m", "fastrace", "dump", str(bad)], capture_output=True)
    assert "offset" in proc.stderr.decode() and "generation" in proc.stderr.decode()


def test_cli_version_and_help():
    from fastrace import __version__

    proc = subprocess.run([sys.executable, "-m", "fastrace", "--version"], capture_output=True)
    assert proc.returncode == 0 and proc.stdout.decode().strip() == f"fastrace {__version__}"
    proc = subprocess.run([sys.executable, "-m", "fastrace", "--help"], capture_output=True)
    out = proc.stdout.decode()
    assert proc.returncode == 0
    for command in ("dump", "validate", "info", "goroutines", "tasks", "mmu", "pprof", "export"):
        assert command in out, command


def test_shipped_example_is_the_reference_annotations_fixture():
    # tests/fixtures/make.py copies it there, so Go's committed dumps of that
    # fixture are the reference for the example `fastrace info` shows.
    from fastrace.cli import example_trace_path

    shipped = Path(example_trace_path()).read_bytes()
    assert shipped == (FIXTURES / "go1.27" / "annotations.trace").read_bytes()


def test_every_command_help_has_examples():
    from fastrace import cli

    parser = cli._parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(cli.EXAMPLES)
    for name, p in sub.choices.items():
        text = p.format_help()
        assert "Examples:" in text and f"fastrace {name}" in text, name
