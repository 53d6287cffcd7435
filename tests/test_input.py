"""Input as people have it: every form of a trace that read(), iter_generations()
and decode_wire() take gives the events of the plain path, and every kind of
file that is not a trace gets a TraceFormatError that says what it is.

The inputs are real: committed fixtures written by Go 1.22-1.27, their
text-format spelling (fastrace.rawtext, checked against Go's own text format
in test_rawtext.py), compressed with the standard tools' formats, the dumps
Go's trace tool printed for them, pprof profiles shipped in the Go toolchain's
sources and this Python's own executable.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import mmap
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

import fastrace
from fastrace import TraceFormatError, UnsupportedVersionError, cli, rawtext

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"
# One fixture per format version, and one of several generations.
CASES = ["go1.22/long", "go1.23/coro", "go1.25/annotations", "go1.26/sched", "go1.27/allocfree"]


def _path(case: str) -> Path:
    return FIXTURES / f"{case}.trace"


def _raw(ev: np.ndarray) -> bytes:
    return ev.tobytes()


@pytest.fixture(scope="module")
def reference():
    """Per case: the bytes, read()'s events, the text-format spelling."""
    out = {}
    for case in CASES:
        p = _path(case)
        text = io.StringIO()
        rawtext.write_text(fastrace.decode_wire(p), text, empty_data=True)
        out[case] = (p.read_bytes(), fastrace.read(p).events, text.getvalue().encode())
    return out


def _zstd_module():
    try:
        from compression import zstd  # noqa: F401  (Python 3.14+)

        return "stdlib"
    except ImportError:
        pass
    try:
        import zstandard  # noqa: F401

        return "zstandard"
    except ImportError:
        return None


def _zstd(data: bytes) -> bytes:
    """zstd-compress with whatever this machine has (the zstd tool first:
    a frame written by the reference implementation)."""
    if shutil.which("zstd"):
        return subprocess.run(["zstd", "-q", "-c", "-"], input=data, capture_output=True,
                              check=True).stdout
    kind = _zstd_module()
    if kind == "stdlib":
        from compression import zstd

        return zstd.compress(data)
    if kind == "zstandard":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    pytest.skip("no zstd compressor on this machine")


def _forms(case, data, text, tmp_path):
    """(label, source, cleanup) for every form of the same trace."""
    p = _path(case)
    yield "str path", str(p)
    yield "pathlib.Path", p
    yield "bytes", data
    yield "bytearray", bytearray(data)
    yield "memoryview", memoryview(data)
    yield "numpy uint8", np.frombuffer(data, dtype=np.uint8)
    with open(p, "rb") as f:
        yield "mmap", mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    yield "open binary file", open(p, "rb")
    yield "open text-mode file", open(p)      # read through its binary buffer
    yield "BytesIO", io.BytesIO(data)
    unbuffered = open(p, "rb", buffering=0)
    yield "unbuffered FileIO", unbuffered
    shifted = tmp_path / "shifted.bin"
    shifted.write_bytes(b"JUNK" + data)
    f = open(shifted, "rb")
    f.read(4)                                   # positioned at the trace
    yield "file positioned after a prefix", f
    yield "gzip bytes", gzip.compress(data)
    gz = tmp_path / "trace.out.gz"
    gz.write_bytes(gzip.compress(data))
    yield "gzip file", gz
    yield "gzip file object", open(gz, "rb")
    yield "two gzip members", gzip.compress(data[:100]) + gzip.compress(data[100:])
    yield "xz", lzma.compress(data)
    yield "bzip2", bz2.compress(data)
    yield "text format", text
    txt = tmp_path / "trace.txt"
    txt.write_bytes(text)
    yield "text-format file", txt
    yield "gzip text format", gzip.compress(text)


@pytest.mark.parametrize("case", CASES)
def test_every_form_reads_the_same(case, reference, tmp_path):
    data, events, text = reference[case]
    want = _raw(events)
    for label, source in _forms(case, data, text, tmp_path):
        t = fastrace.read(source)
        assert _raw(t.events) == want, label
        del t
        if hasattr(source, "close"):
            source.close()


@pytest.mark.parametrize("case", CASES)
def test_zstd(case, reference, tmp_path):
    data, events, text = reference[case]
    if _zstd_module() is None:
        with pytest.raises(ImportError, match=r"zstd-compressed: reading it needs the "
                                              r"zstandard package: pip install zstandard"):
            fastrace.read(_zstd(data))
        return
    assert _raw(fastrace.read(_zstd(data)).events) == _raw(events)
    z = tmp_path / "trace.zst"
    z.write_bytes(_zstd(text))
    assert _raw(fastrace.read(z).events) == _raw(events)


def test_zstd_without_a_decompressor(monkeypatch, reference):
    data = reference[CASES[0]][0]
    blob = _zstd(data)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    monkeypatch.setitem(sys.modules, "compression", None)
    monkeypatch.setitem(sys.modules, "compression.zstd", None)
    with pytest.raises(ImportError, match=r"pip install zstandard \(or pip install "
                                          r"'fastrace\[zstd\]'\)"):
        fastrace.read(blob)
    # The command line says it in one line.
    assert cli._load is not None


def test_iter_generations_and_decode_wire_take_every_form(reference, tmp_path):
    case = "go1.22/long"          # three generations: several pieces
    data, events, text = reference[case]
    want_wire = fastrace.decode_wire(_path(case))
    for label, source in _forms(case, data, text, tmp_path):
        pieces = list(fastrace.iter_generations(source, max_events=100))
        if hasattr(source, "seek") and not isinstance(source, (bytes, bytearray)):
            try:
                source.seek(0 if label != "file positioned after a prefix" else 4)
            except (OSError, ValueError):
                pass
        assert len(pieces) > 3, label
        assert _raw(np.concatenate([p.events for p in pieces])) == _raw(events), label
        w = fastrace.decode_wire(source)
        for name in ("batches", "events", "strings", "stacks", "frames", "generations"):
            got, exp = getattr(w, name), getattr(want_wire, name)
            if name == "strings":     # offsets point into each input's own bytes
                got, exp = [w.string_bytes(i) for i in range(len(got))], \
                    [want_wire.string_bytes(i) for i in range(len(exp))]
                assert got == exp, label
                continue
            if name in ("batches", "generations"):
                # Byte offsets and sizes are the input's own (the text form
                # is encoded again); the rest must agree.
                cols = [c for c in got.dtype.names if "offset" not in c
                        and c not in ("end", "size")]
                for c in cols:
                    assert np.array_equal(got[c], exp[c]), (label, name, c)
                continue
            assert got.tobytes() == exp.tobytes(), (label, name)
        del pieces, w
        if hasattr(source, "close"):
            source.close()


def test_cli_reads_what_read_reads(tmp_path, capsys):
    """The CLI opens its input with the same function as read()."""
    case = "go1.25/annotations"
    p = _path(case)
    gz = tmp_path / "a.trace.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    outs = []
    for src in (p, gz):
        assert cli.main(["dump", "--format", "go-parsed", str(src)]) == 0
        outs.append(capsys.readouterr().out)
    # Go's own dump of the plain file (go tool trace -d=parsed, committed).
    go = gzip.decompress((FIXTURES / "go1.25" / "annotations.parsed.txt.gz").read_bytes())
    assert outs[0] == outs[1] == go.decode()


# --- Files that are not traces ----------------------------------------------

NOT = r"^bad file format: not a Go execution trace: "


def _go_root() -> Path | None:
    from tests import gotool

    root = gotool.go_root(gotool.REFERENCE)
    return root if (root / "src").is_dir() else None


def _wrong(tmp_path):
    """(label, bytes, message regex, exception class)."""
    trace = _path("go1.25/sched").read_bytes()
    yield ("empty", b"", r"^empty input: not a Go execution trace \(a program writes its "
           r"trace as it runs and flushes it in trace\.Stop", TraceFormatError)
    yield ("html", b"<!DOCTYPE html>\n<html><head><title>Go</title></head></html>\n",
           NOT + r"it is an HTML page .*: download the trace file itself, e\.g\. curl -o "
           r"trace\.out 'http://HOST/debug/pprof/trace\?seconds=5'", TraceFormatError)
    yield ("json", json.dumps({"name": "x", "values": [1, 2]}).encode(),
           NOT + r"it is a JSON document: fastrace reads binary Go execution traces; a Go "
           r"execution trace is the file written by runtime/trace", TraceFormatError)
    yield ("trace-event json", json.dumps({"traceEvents": [{"ph": "X", "ts": 1}]}).encode(),
           NOT + r"it is a JSON trace-event file \(Chrome/Perfetto format", TraceFormatError)
    yield ("ELF", Path(sys.executable).resolve().read_bytes()[:1 << 16],
           NOT + r"it is an ELF executable or library \(a program, not a trace it wrote\): "
           r"run the program with tracing on", TraceFormatError)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("trace.out", trace)
    yield ("zip", zbuf.getvalue(), NOT + r"it is a zip archive: extract the trace from it "
           r"first \(unzip\)", TraceFormatError)
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as t:
        info = tarfile.TarInfo("trace.out")
        info.size = len(trace)
        t.addfile(info, io.BytesIO(trace))
    yield ("tar.gz", tbuf.getvalue(), NOT + r"the input is gzip-compressed; inside is a tar "
           r"archive: extract the trace from it first \(tar -xf\)", TraceFormatError)
    parsed = (FIXTURES / "go1.25" / "sched.parsed.txt.gz").read_bytes()
    yield ("go tool trace -d=parsed output, gzip", parsed,
           NOT + r"the input is gzip-compressed; inside is the text that `go tool trace "
           r"-d=parsed` prints: pass fastrace the trace file", TraceFormatError)
    wire = gzip.decompress((FIXTURES / "go1.25" / "sched.wire.txt.gz").read_bytes())
    yield ("go tool trace -d=wire output", wire,
           NOT + r"it is the text that `go tool trace -d=wire` prints \(Go's text trace "
           r"format starts with a line 'Trace Go1\.NN'\)", TraceFormatError)
    yield ("text", b"hello\nworld\n", NOT + r"it is a text file starting 'hello': a Go "
           r"execution trace is the file written by", TraceFormatError)
    yield ("gzip text", gzip.compress(b"hello\nworld\n"),
           NOT + r"the input is gzip-compressed; inside is a text file starting 'hello'",
           TraceFormatError)
    yield ("empty gzip", gzip.compress(b""), NOT + r"the input is gzip-compressed and "
           r"decompresses to nothing", TraceFormatError)
    yield ("broken gzip", gzip.compress(trace)[:30] + b"\xff" * 40,
           NOT + r"the input is gzip-compressed but does not decompress \(.*\): is the file "
           r"complete\?", TraceFormatError)
    yield ("truncated gzip", gzip.compress(trace)[:-200],
           NOT + r"the input is gzip-compressed but does not decompress", TraceFormatError)
    yield ("PNG", b"\x89PNG\r\n\x1a\n" + bytes(64), NOT + r"it is an image", TraceFormatError)
    yield ("Go 1.21 trace", b"go 1.21 trace\x00\x00\x00" + bytes(16),
           r"go 1\.21 trace: the format of Go 1\.11-1\.21 is not supported yet",
           UnsupportedVersionError)
    yield ("unknown bytes", b"\x00\x01\x02\x03" * 8,
           r"^bad file format: not a Go execution trace \(at offset 0\)$", TraceFormatError)
    root = _go_root()
    if root is not None:
        for prof in sorted((root / "src" / "cmd" / "compile" / "internal" / "test" / "testdata"
                            / "pgo").glob("*/*.pprof")):
            yield (f"pprof {prof.name}", prof.read_bytes(),
                   NOT + r"the input is gzip-compressed; inside is a pprof profile \(go tool "
                   r"pprof reads it\): a profile is not an execution trace; .* \(not "
                   r"/debug/pprof/profile\)", TraceFormatError)


def test_each_wrong_file_gets_its_message(tmp_path, capsys):
    seen = set()
    for label, data, message, cls in _wrong(tmp_path):
        seen.add(label.split()[0])
        f = tmp_path / "input"
        f.write_bytes(data)
        for source in (data, f):
            with pytest.raises(cls, match=message) as info:
                fastrace.read(source)
            assert type(info.value) is cls, label
            assert info.value.offset == 0, label
            with pytest.raises(cls, match=message):
                fastrace.decode_wire(source)
            with pytest.raises(cls, match=message):
                list(fastrace.iter_generations(source))
        # The command line: one line on stderr, status 1.
        assert cli.main(["info", str(f)]) == 1, label
        err = capsys.readouterr().err
        assert err.startswith("fastrace: ") and err.count("\n") == 1, (label, err)
    assert "pprof" in seen or _go_root() is None


def test_wrong_argument_types():
    with pytest.raises(TypeError, match=r"expected a path, a bytes-like object or a binary "
                                        r"file object, got int"):
        fastrace.read(42)
    with pytest.raises(FileNotFoundError):
        fastrace.read("/nonexistent/trace.out")


@pytest.mark.parametrize("arg", ["-", "/dev/stdin"])
def test_pipes_are_read_into_memory(arg):
    """Standard input and other pipes cannot be mapped: the CLI reads them
    to their end ("-" is standard input), compressed or not."""
    import gzip
    import subprocess
    import sys

    trace = FIXTURES / "go1.27" / "sched.trace"
    want = subprocess.run([sys.executable, "-m", "fastrace", "dump", "--format", "go-parsed",
                           str(trace)], capture_output=True, check=True).stdout
    for data in (trace.read_bytes(), gzip.compress(trace.read_bytes())):
        got = subprocess.run([sys.executable, "-m", "fastrace", "dump", "--format", "go-parsed",
                              arg], input=data, capture_output=True)
        assert got.returncode == 0, got.stderr
        assert got.stdout == want
