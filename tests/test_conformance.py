"""Go's own trace reader conformance suite and fuzz seeds, run on fastrace.

Nothing of Go's is copied here: the test cases are read at test time from
the reference toolchain's source tree (``src/internal/trace/testdata``).

- ``tests/*.test``: txtar archives with an ``expect`` file (``SUCCESS``, or
  ``FAILURE "<Go-quoted regexp>"`` on the first line) and a ``trace`` file in
  the text format of ``internal/trace/raw``.  Each trace is converted to wire
  bytes with :mod:`fastrace.rawtext` and read with ``fastrace.read``; the
  outcome must be the one Go's reader test expects, the error message
  matching the regexp the way Go's ``regexp.MatchString`` does (anywhere in
  the message).
  Each trace also has to survive text -> wire -> go-wire dump -> text.
- ``fuzz/FuzzReader/*``: Go fuzz corpus files with one ``[]byte`` value
  each; ``fastrace.read`` must return or raise a ``TraceError``, nothing
  else, and never hang.  The ``live`` variant also asks Go's reader
  (``go tool trace -d=parsed``) and requires the same verdict: read or
  rejected.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fastrace
from fastrace import rawtext
from fastrace.dump import iter_go_wire
from fastrace.validate import validate

from tests import gotool
from tests.refcompare import iter_outcome, read_outcome

pytestmark = pytest.mark.conformance


def _install_reference() -> str | None:
    # The test cases are parametrized at collection time, so the toolchain
    # must be there before that; a failure is reported by
    # test_suite_is_present instead of leaving an empty, silent suite.
    try:
        gotool.ensure_go(gotool.REFERENCE)
    except Exception as e:  # noqa: BLE001 - reported by test_suite_is_present
        return f"{type(e).__name__}: {e}"
    return None


# Under -m "not live" (no network wanted) only a toolchain already in the
# cache is used; without one the suite's cases are simply not collected.
INSTALL_ERROR = _install_reference() if gotool.MAY_DOWNLOAD else None
TESTDATA = gotool.go_root(gotool.REFERENCE) / "src" / "internal" / "trace" / "testdata"
MIN_TESTS = 20


def _test_files() -> list[Path]:
    return sorted((TESTDATA / "tests").glob("*.test"))


def _fuzz_files() -> list[Path]:
    return sorted(p for p in (TESTDATA / "fuzz" / "FuzzReader").glob("*") if p.is_file())


# --- txtar archives and expectations (the formats of Go's internal/txtar and
# internal/trace/testtrace, re-implemented).

def parse_txtar(data: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A txtar archive: (comment, [(file name, contents)]).

    A file starts at a line ``-- NAME --`` (NAME with surrounding space
    removed) and runs to the next such line; the contents of a file that does
    not end with a newline get one.
    """
    marker = re.compile(rb"^-- (.*) --$")

    def is_marker(line: bytes) -> str:
        m = marker.match(line)
        if not m or len(line) < 6:
            return ""
        return m.group(1).decode("utf-8", "surrogateescape").strip()

    comment = b""
    files: list[tuple[str, bytearray]] = []
    current = None
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        line = data[pos:end]
        name = is_marker(line.rstrip(b"\n")) if line.startswith(b"-- ") else ""
        if name:
            current = bytearray()
            files.append((name, current))
        elif current is None:
            comment += line
        else:
            current += line
        pos = end
    out = []
    for name, body in files:
        if body and not body.endswith(b"\n"):
            body += b"\n"
        out.append((name, bytes(body)))
    return comment, out


class Expectation:
    def __init__(self, failure: bool, pattern: str | None):
        self.failure = failure
        self.pattern = pattern

    def __repr__(self) -> str:
        return "SUCCESS" if not self.failure else f"FAILURE {self.pattern!r}"


def parse_expectation(data: bytes) -> Expectation:
    """Go's testtrace expectation: only the first line counts; ``SUCCESS``,
    or ``FAILURE`` then one space and a Go-quoted regular expression."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "surrogateescape")
    word, _, rest = first.partition(" ")
    if word == "SUCCESS":
        return Expectation(False, None)
    if word == "FAILURE":
        if not _:
            raise ValueError(f"bad header line for FAILURE: {first!r}")
        pattern = rawtext.go_unquote(rest).decode("utf-8", "surrogateescape")
        return Expectation(True, pattern)
    raise ValueError(f"bad header line: {first!r}")


def compile_go_regexp(pattern: str) -> re.Pattern:
    """A Go (RE2) regexp as a Python one.  The syntax both share is enough
    for the suite's patterns; RE2's ``\\z`` is Python's ``\\Z``."""
    return re.compile(pattern.replace(r"\z", r"\Z"))


def load_test(path: Path) -> tuple[Expectation, bytes]:
    _, files = parse_txtar(path.read_bytes())
    names = [n for n, _ in files]
    assert names == ["expect", "trace"], f"malformed test {path.name}: files {names}"
    return parse_expectation(files[0][1]), files[1][1]


# --- Sanity of the harness itself.

@pytest.mark.live
def test_suite_is_present():
    assert INSTALL_ERROR is None, f"cannot install Go {gotool.REFERENCE}: {INSTALL_ERROR}"
    files = [p.name for p in _test_files()]
    assert len(files) >= MIN_TESTS, f"only {len(files)} .test files in {TESTDATA}"
    assert len(_fuzz_files()) >= 10


def test_txtar_parser():
    comment, files = parse_txtar(b"top\n-- a --\nx\n--b --\n-- b  --\ny\nz")
    assert comment == b"top\n"
    assert files == [("a", b"x\n--b --\n"), ("b", b"y\nz\n")]
    assert parse_txtar(b"-- expect --\nSUCCESS\n-- trace --\n")[1] == [
        ("expect", b"SUCCESS\n"), ("trace", b"")]


def test_expectation_parser():
    assert not parse_expectation(b"SUCCESS\n").failure
    e = parse_expectation(b'FAILURE "a\\\\.b \\"c\\""\nignored\n')
    assert e.failure and e.pattern == 'a\\.b "c"'
    for bad in (b"FAILURE\n", b"OK\n", b'FAILURE "unterminated\n'):
        with pytest.raises(ValueError):
            parse_expectation(bad)


# --- The conformance suite.

_TESTS = _test_files()


@pytest.mark.parametrize("path", _TESTS, ids=[p.name for p in _TESTS])
def test_text_trace_converts(path):
    """Every test trace parses and its wire bytes decode to the same events.

    Where decoding the whole file fails (a damaged batch in a later
    generation), Go's expectation must be a failure: such tests check that
    the reader reports the earlier, ordering-level problem first."""
    expect, text = load_test(path)
    version, events = rawtext.parse_text(text)
    wire = rawtext.encode_wire(version, events)
    assert wire == rawtext.text_to_wire(text)
    try:
        w = fastrace.decode_wire(wire)
    except fastrace.TraceFormatError:
        assert expect.failure, f"{path.name}: wire decoding fails but Go expects SUCCESS"
        return
    dump = "Trace Go1.%d\n" % version + "".join(line + "\n" for line in iter_go_wire(w))
    assert rawtext.parse_text(dump) == (version, events)


@pytest.mark.parametrize("path", _TESTS, ids=[p.name for p in _TESTS])
def test_conformance(path, deadline):
    expect, text = load_test(path)
    wire = rawtext.text_to_wire(text)
    read = fastrace.read  # the ordering engine's entry point
    if not expect.failure:
        # Go's test also runs its validator over every event it reads;
        # fastrace's extra invariants hold on these cases too.
        trace = read(wire)
        assert validate(trace, extra=False) == []
        assert validate(trace) == []
        return
    with pytest.raises(fastrace.TraceError) as info:
        read(wire)
    message = str(info.value)
    assert compile_go_regexp(expect.pattern).search(message), (
        f"Go expects an error matching {expect.pattern!r}, got {message!r}")


def test_conformance_two_workers(deadline):
    """read(workers=2) orders later generations from an empty state, then
    checks them: Go's conformance cases give exactly what workers=1 gives,
    and the parallel path really ran on some of them (merged, or found
    wrong and ordered again)."""
    from fastrace import parallel

    before = dict(parallel.PARALLEL_STATS)
    for path in _TESTS:
        _, text = load_test(path)
        wire = rawtext.text_to_wire(text)
        assert read_outcome(wire, 2) == read_outcome(wire, 1), path.name
    if _TESTS:
        assert parallel.PARALLEL_STATS["merged"] > before["merged"]
        assert parallel.PARALLEL_STATS["reordered"] > before["reordered"]


def test_conformance_streamed_with_two_workers(deadline):
    """iter_generations(workers=2) orders the next generation in another
    thread while one is streamed: on Go's conformance cases the pieces give
    exactly what workers=1 gives, and both outcomes of the check occur."""
    from fastrace import parallel

    before = dict(parallel.PARALLEL_STATS)
    for path in _TESTS:
        _, text = load_test(path)
        wire = rawtext.text_to_wire(text)
        for max_events in (16, None):
            assert iter_outcome(wire, 2, max_events) == iter_outcome(wire, 1, max_events), \
                path.name
    if _TESTS:
        assert parallel.PARALLEL_STATS["merged"] > before["merged"]
        assert parallel.PARALLEL_STATS["reordered"] > before["reordered"]


# --- FuzzReader seeds.

_FUZZ = _fuzz_files()


def test_fuzz_corpus_parser():
    vals = rawtext.parse_go_fuzz_corpus(
        b'go test fuzz v1\n[]byte("go 1.22 trace\\x00\\x00\\x00\\x01")\n\n  string(`a\\`)  \n')
    assert vals == [b"go 1.22 trace\x00\x00\x00\x01", b"a\\"]
    for bad in (b"", b"go test fuzz v1", b"go test fuzz v2\n[]byte(\"\")\n",
                b"go test fuzz v1\n[]byte('x')\n", b"go test fuzz v1\n[]byte(\"x\n",
                b"go test fuzz v1\nfloat64(1.5)\n", b"go test fuzz v1\n[]byte(\"a\" + \"b\")\n"):
        with pytest.raises(ValueError):
            rawtext.parse_go_fuzz_corpus(bad)


@pytest.mark.parametrize("path", _FUZZ, ids=[p.name for p in _FUZZ])
def test_fuzz_seed(path, deadline):
    values = rawtext.parse_go_fuzz_corpus(path.read_bytes())
    assert len(values) == 1 and isinstance(values[0], bytes), values
    data = values[0]
    assert data.startswith(b"go 1.")
    try:
        fastrace.read(data)
    except fastrace.TraceError:
        pass
    assert read_outcome(data, 2) == read_outcome(data, 1)


@pytest.fixture(scope="module")
def go_fuzz_outcomes(tmp_path_factory):
    """For each seed: (Go's reader succeeded, its first error line), from
    ``go tool trace -d=parsed`` of the reference toolchain."""
    d = tmp_path_factory.mktemp("fuzzseeds")
    out = {}
    for path in _FUZZ:
        f = d / path.name
        f.write_bytes(rawtext.parse_go_fuzz_corpus(path.read_bytes())[0])
        _, err, rc = gotool.go_dump(f, "parsed")
        out[path.name] = (rc == 0, err.decode("utf-8", "replace").strip().split("\n")[0])
    return out


@pytest.mark.live
@pytest.mark.parametrize("path", _FUZZ, ids=[p.name for p in _FUZZ])
def test_fuzz_seed_outcome_matches_go(path, go_fuzz_outcomes, deadline):
    """fastrace accepts exactly the seeds Go's reader accepts."""
    go_ok, go_error = go_fuzz_outcomes[path.name]
    data = rawtext.parse_go_fuzz_corpus(path.read_bytes())[0]
    try:
        fastrace.read(data)
        ours = None
    except fastrace.TraceError as e:
        ours = str(e)
    if go_ok:
        assert ours is None, f"Go reads this seed, fastrace says: {ours}"
    else:
        assert ours is not None, f"Go rejects this seed ({go_error}), fastrace reads it"
