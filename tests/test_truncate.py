"""Damaged traces: ``on_error="truncate"`` keeps exactly what Go's reader
delivers before the damage (issue 13, item 1).

The reference is Go 1.27.3's reader run on the same cut files: the batch
program tests/gostd/truncparsed prints what ``go tool trace -d=parsed``
prints, for many files in one process (checked against the tool itself on
a few), and fastrace's ``go-parsed`` dump of the kept events must equal it
byte for byte.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastrace
from fastrace import TraceError
from fastrace.errors import TraceWarning
from fastrace.parsed import go_parsed_bytes

pytestmark = pytest.mark.damage

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures" / "traces"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())

# Six small programs, every trace format (the batch boundaries of each, plus
# the byte after each boundary, plus random offsets: ~750 cut files).
PROGRAMS = ("sched", "annotations", "gcalloc", "long", "allocfree", "cpuprofile")
RANDOM_CUTS = 50


def _fixtures():
    for fx in MANIFEST["fixtures"]:
        if fx["program"] in PROGRAMS:
            yield fx["go_version"], fx["program"], FIXTURES / fx["files"]["trace"]["path"]


def _known_cpu_sample_gap(version: str, program: str, go_error: str, error) -> bool:
    """Cuts that keep a generation's CPU samples but not the stack batch
    after them (before Go 1.26): Go reports the missing stack when the
    ordering gets to the first event that names it; so does fastrace, since
    CPU samples' stacks are looked up when a sample is handed out (they
    were checked when the generation was prepared, and the events before
    were lost).  Selected by Go's error; ``error`` is fastrace's, or a
    stand-in naming CPUSample to select them all."""
    return (program == "cpuprofile"
            and tuple(map(int, version.split(".")[:2])) < (1, 26)
            and go_error.startswith("found invalid stack ID")
            and error is not None and "for event CPUSample" in str(error))


def _cuts(data: bytes) -> list[int]:
    w = fastrace.decode_wire(data)
    starts = [int(x) for x in w.batches["offset"]]
    cuts = {0, 1, w.header_size - 1, w.header_size, w.header_size + 1, len(data) - 1}
    cuts |= set(starts) | {s + 1 for s in starts}
    return sorted(c for c in cuts if 0 <= c < len(data))


def _outcome(data: bytes):
    """(strict partial or trace, error) of fastrace.read."""
    try:
        return fastrace.read(data), None
    except TraceError as e:
        return getattr(e, "partial", None), e


def _truncparsed():
    from tests import gotool

    return gotool.build_std_prog(TESTS / "gostd" / "truncparsed" / "main.go",
                                 "internal/trace/fastracetruncparsed", "truncparsed")


@pytest.fixture(scope="module")
def go_cut_traces(tmp_path_factory):
    """Every cut file, with what Go's reader printed and its error."""
    root = tmp_path_factory.mktemp("cuts")
    rng = random.Random(13)
    cases = []
    sources = [(v, p, path.read_bytes()) for v, p, path in _fixtures()]
    for version, program, data in sources:
        for cut in _cuts(data):
            cases.append((version, program, cut, data[:cut]))
    for _ in range(RANDOM_CUTS):
        version, program, data = rng.choice(sources)
        cut = rng.randrange(len(data))
        cases.append((version, program, cut, data[:cut]))
    files = []
    for i, (version, program, cut, part) in enumerate(cases):
        f = root / f"{i}-go{version}-{program}-{cut}.trace"
        f.write_bytes(part)
        files.append(f)
    binary = _truncparsed()
    for lo in range(0, len(files), 500):   # stay far below the argument-length limit
        subprocess.run([str(binary), *map(str, files[lo:lo + 500])], check=True)
    out = []
    for (version, program, cut, _), f in zip(cases, files):
        out.append((version, program, cut, f,
                    Path(f"{f}.go-parsed").read_bytes(), Path(f"{f}.go-error").read_text()))
    return out


@pytest.mark.live
def test_truncparsed_is_go_tool_trace(go_cut_traces):
    """The batch program prints what `go tool trace -d=parsed` prints."""
    from tests import gotool

    rng = random.Random(5)
    sample = rng.sample(go_cut_traces, 6)
    for version, program, cut, f, want, err in sample:
        out, stderr, rc = gotool.go_dump(f, "parsed")
        assert out == want, (f.name, stderr)
        assert (rc != 0) == bool(err), (f.name, stderr, err)
        if err:   # its first line (Go dumps the frontier from maps, in random order)
            assert err.splitlines()[0].encode() in stderr


@pytest.mark.live
def test_truncate_keeps_what_go_delivers(go_cut_traces):
    """On every cut: read(on_error="truncate") holds exactly the events Go's
    reader prints before its error, with a warning iff Go reports one; the
    strict reader's ``partial`` is the same table, and is never None where Go
    prints events; workers=2 gives the same table and warnings, and
    iter_generations the same rows in pieces."""
    checked = damaged = 0
    for version, program, cut, f, want, go_error in go_cut_traces:
        data = f.read_bytes()
        strict, error = _outcome(data)
        if _known_cpu_sample_gap(version, program, go_error, error):
            continue
        checked += 1
        where = (f.name, go_error, str(error))
        if want:
            assert strict is not None, where
        assert (error is None) == (go_error == ""), where
        if strict is None:   # not a trace at all: truncate cannot help either
            with pytest.raises(TraceError):
                fastrace.read(data, on_error="truncate")
            continue
        kept = fastrace.read(data, on_error="truncate")
        got = go_parsed_bytes(kept)
        assert got == want, where
        assert go_parsed_bytes(strict) == want, where
        assert len(kept.warnings) == (1 if go_error else 0), where
        if go_error:
            damaged += 1
            w = kept.warnings[0]
            assert isinstance(w, TraceWarning) and w.error is not None
            assert w.events_kept == len(kept.events)
            assert 0 <= w.bytes_lost <= len(data)
        two = fastrace.read(data, workers=2, on_error="truncate")
        assert two.events.tobytes() == kept.events.tobytes(), where
        assert [str(x) for x in two.warnings] == [str(x) for x in kept.warnings], where
        pieces = list(fastrace.iter_generations(data, on_error="truncate", max_events=16))
        rows = np.concatenate([p.events for p in pieces]) if pieces else kept.events[:0]
        assert rows.tobytes() == kept.events.tobytes(), where
        if pieces:
            assert pieces[-1].warnings == kept.warnings or \
                [str(x) for x in pieces[-1].warnings] == [str(x) for x in kept.warnings], where
    assert checked > 600 and damaged > 400, (checked, damaged)


@pytest.mark.live
def test_cpu_sample_with_missing_stack(go_cut_traces):
    # Cuts that keep a generation's CPU samples but lose the stacks they
    # name: like Go, the ordering checks a sample's stack when it hands the
    # sample out, so the events before it are delivered.
    gaps = [(f, want) for version, program, cut, f, want, go_error in go_cut_traces
            if _known_cpu_sample_gap(version, program, go_error, "for event CPUSample")]
    assert gaps
    for f, want in gaps:
        assert go_parsed_bytes(fastrace.read(f, on_error="truncate")) == want, f.name


@pytest.mark.live
def test_cli_truncate_prints_what_go_delivers(go_cut_traces):
    """`--on-error truncate`: the kept events on stdout, one warning line on
    stderr, exit status 0; without it, the same events and status 1."""
    rng = random.Random(7)
    damaged = [c for c in go_cut_traces if c[5] and c[4].count(b"\n") > 1
               and not _known_cpu_sample_gap(c[0], c[1], c[5], None)]
    for version, program, cut, f, want, go_error in rng.sample(damaged, 3):
        proc = _run_cli("dump", "--format", "go-parsed", "--on-error", "truncate", str(f))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == want
        assert proc.stderr.startswith(b"fastrace: warning: ") and proc.stderr.count(b"\n") == 1
        strict = _run_cli("dump", "--format", "go-parsed", str(f))
        assert strict.returncode == 1 and strict.stdout == want


# --- Without Go ----------------------------------------------------------------


def _run_cli(*args):
    env = dict(os.environ, TZ="UTC")
    return subprocess.run([sys.executable, "-m", "fastrace", *args], capture_output=True,
                          env=env)


def _fixture(version: str, program: str) -> bytes:
    return (FIXTURES / f"go{version}" / f"{program}.trace").read_bytes()


def _last_generation_cut(version: str, program: str = "long") -> bytes:
    data = _fixture(version, program)
    w = fastrace.decode_wire(data)
    return data[:int(w.generations["offset"][-1]) + 40]


def test_intact_trace_has_no_warnings():
    data = _fixture("1.27", "sched")
    t = fastrace.read(data, on_error="truncate")
    assert t.warnings == []
    assert t.events.tobytes() == fastrace.read(data).events.tobytes()


def test_on_error_is_checked():
    with pytest.raises(ValueError, match="on_error"):
        fastrace.read(_fixture("1.27", "sched"), on_error="ignore")
    with pytest.raises(ValueError, match="on_error"):
        next(fastrace.iter_generations(_fixture("1.27", "sched"), on_error="skip"))


@pytest.mark.parametrize("version", ["1.22", "1.25", "1.26", "1.27"])
def test_cut_in_first_batch_keeps_the_sync(version):
    """Go's reader delivers one Sync (N=1 at time 1) before it reports
    damage in the first batch of a trace: so does the partial result."""
    data = _fixture(version, "sched")
    header = fastrace.decode_wire(data).header_size
    cut = data[:header + 1]
    with pytest.raises(TraceError) as info:
        fastrace.read(cut)
    partial = info.value.partial
    assert partial is not None
    assert go_parsed_bytes(partial) == b"M=-1 P=-1 G=-1 Sync Time=1 N=1\n"
    kept = fastrace.read(cut, on_error="truncate")
    assert kept.events.tobytes() == partial.events.tobytes()
    (warning,) = kept.warnings
    assert warning.error is not None and warning.events_kept == 1
    assert warning.bytes_lost == 1 and warning.offset in (None, header)


@pytest.mark.parametrize("version", ["1.22", "1.23", "1.25", "1.26", "1.27"])
def test_truncate_workers_equal_sequential(version):
    data = _last_generation_cut(version)
    one = fastrace.read(data, on_error="truncate")
    two = fastrace.read(data, workers=2, on_error="truncate")
    assert two.events.tobytes() == one.events.tobytes()
    assert [str(w) for w in two.warnings] == [str(w) for w in one.warnings]
    assert len(one.warnings) == 1 and len(one.generations) >= 2


def test_iter_generations_truncate_shares_its_warnings():
    data = _last_generation_cut("1.27")
    with pytest.raises(TraceError):
        list(fastrace.iter_generations(data))
    pieces = list(fastrace.iter_generations(data, on_error="truncate"))
    assert all(p.warnings is pieces[0].warnings for p in pieces)
    (warning,) = pieces[-1].warnings
    whole = fastrace.read(data, on_error="truncate")
    assert np.concatenate([p.events for p in pieces]).tobytes() == whole.events.tobytes()
    assert str(warning) == str(whole.warnings[0])


def test_iter_generations_of_a_trace_gives_its_rows_in_pieces():
    data = _fixture("1.27", "long")
    whole = fastrace.read(data)
    pieces = list(fastrace.iter_generations(whole, max_events=100))
    streamed = list(fastrace.iter_generations(data, max_events=100))
    assert np.concatenate([p.events for p in pieces]).tobytes() == whole.events.tobytes()
    assert all(len(p.events) <= 100 for p in pieces)
    # Each piece within one generation, as the streamed pieces are.
    gen_of = lambda ps: [g for p in ps for g in [p.generation] * len(p.events)]  # noqa: E731
    assert gen_of(pieces) == gen_of(streamed)
    assert [p.first_row for p in pieces] == \
        list(np.cumsum([0] + [len(p.events) for p in pieces[:-1]]))
    assert fastrace.read(whole) is whole


def test_not_a_trace_still_raises():
    for bad in (b"", b"hello, world", b"go 1.99 trace\x00\x00\x00"):
        with pytest.raises(TraceError):
            fastrace.read(bad, on_error="truncate")


def test_lone_experimental_batch_byte_is_the_end_for_go():
    """Go's reader takes a file ending in one ExperimentalBatch byte at a
    batch boundary as a clean end (it reads the experiment byte with an
    unwrapped read, so EOF there is EOF); fastrace does the same."""
    data = _fixture("1.27", "sched")
    t = fastrace.read(data + bytes([fastrace.spec.BY_NAME["ExperimentalBatch"].code]))
    assert t.events.tobytes() == fastrace.read(data).events.tobytes()


@pytest.mark.parametrize("command", [
    ["info"], ["validate"], ["goroutines"], ["tasks"], ["mmu"], ["dump", "--format", "go-wire"],
    ["pprof", "sync", "-o", os.devnull], ["export", "-o", "OUT"],
])
def test_cli_on_error_truncate(tmp_path, command):
    bad = tmp_path / "cut.trace"
    bad.write_bytes(_last_generation_cut("1.25"))
    command = [str(tmp_path / "out") if c == "OUT" else c for c in command]
    strict = _run_cli(*command, str(bad))
    assert strict.returncode == 1 and strict.stderr.count(b"\n") == 1, strict.stderr
    proc = _run_cli(*command, "--on-error", "truncate", str(bad))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fastrace: warning: {bad}: "), lines
    assert "truncated" in lines[0] or "incomplete" in lines[0] or "frequency" in lines[0]
