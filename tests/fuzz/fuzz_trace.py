"""Coverage-guided fuzzing of fastrace's readers (atheris), one target per stage.

    python tests/fuzz/fuzz_trace.py TARGET [--seconds N] [--corpus DIR] [--no-atheris]
                                           [--replay] [-- LIBFUZZER-FLAGS...]

TARGET is one of ``wire`` (fastrace.decode_wire, iter_wire_generations and
the go-wire dump), ``read`` (fastrace.read), ``read2`` (read(workers=2),
which must give exactly read(workers=1)'s table or error), ``text``
(fastrace.rawtext: text -> wire -> read), ``experiment``
(Trace.experiment("AllocFree") and every experiment present) and
``analyses`` (goroutines, states, gc, mmu, profile("sched"), tasks, ranges
on whatever read() accepts), or ``all`` (with --replay: every target on
its seeds).

The property checked on every input: it decodes, or raises a
:class:`fastrace.TraceError` subclass; nothing else escapes, no input runs
longer than ``--timeout`` seconds, no numpy RuntimeWarning (overflow,
division by zero, invalid cast: silently wrong values), and the peak RSS of the process
(``resource.getrusage``, which counts the memory-mapped tables too) grows
by at most ``RSS_FLOOR + RSS_FACTOR * len(input)`` on any one input.
Compressed inputs (gzip, zstd, xz, bzip2 magic) are budgeted by their
decompressed size.

Seeds (written to ``--corpus``, default ``tests/fuzz/corpus/TARGET``, not
committed): the committed fixtures ``tests/fixtures/traces/go1.*/*.trace``,
the Go 1.27.3 toolchain's ``internal/trace/testdata/fuzz/FuzzReader`` values
and its ``testdata/tests/*.test`` traces (converted to wire bytes with
fastrace.rawtext; kept as text for the ``text`` target, with the text
dumps of the smallest fixtures).  Mutations: half are libFuzzer's own, half
structure-aware ones on the batch framing (batch sizes, generation numbers,
M ids, timestamps, varint widths and overlong varints, event type bytes,
counts inside payloads, batch deletion, duplication and swapping, the
header's version), or on text lines for ``text``.

Coverage: atheris instruments fastrace's Python modules (the drivers,
sources, rawtext, experiments, analyses' Python layer).  The Cython
extensions are built by gcc, whose ``-fsanitize-coverage=trace-pc`` the
libFuzzer inside atheris ignores, so their branches do not guide the
search; the structure-aware mutations stand in for that.

Without atheris (``--no-atheris``, or when it is not installed) the same
mutators run in a plain random loop for ``--seconds``.  ``--replay`` runs
every file of the corpus once (used by ``tests/sanitize.sh``).  Findings
are written to ``tests/fuzz/crashes/`` (atheris: its ``crash-*`` files).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import resource
import signal
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
# Instrumented extensions (tests/fuzz/build_native.sh): DIR/fastrace/*.so
# come before the worktree's own; the Python modules stay the worktree's.
NATIVE = os.environ.get("FASTRACE_FUZZ_NATIVE")

try:
    import atheris
except ImportError:  # the plain random loop still works
    atheris = None

FUZZ_MODULES = [
    "fastrace", "fastrace.trace", "fastrace.wire", "fastrace.sources", "fastrace.rawtext",
    "fastrace.prepare", "fastrace.parallel", "fastrace.parsed", "fastrace.dump",
    "fastrace.goquote", "fastrace.gotime", "fastrace.fields", "fastrace.kinds", "fastrace.spec",
    "fastrace.experiments", "fastrace.experiments.allocfree", "fastrace.validate",
    "fastrace.analysis",
]


def _import_fastrace(instrument: bool):
    import importlib

    ctx = atheris.instrument_imports(include=["fastrace"]) if instrument else contextlib.nullcontext()
    with ctx:
        if NATIVE:
            import importlib.util
            spec = importlib.util.spec_from_file_location(
                "fastrace", ROOT / "fastrace" / "__init__.py",
                submodule_search_locations=[str(Path(NATIVE) / "fastrace"), str(ROOT / "fastrace")])
            pkg = importlib.util.module_from_spec(spec)
            sys.modules["fastrace"] = pkg
            spec.loader.exec_module(pkg)
        for name in FUZZ_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        import fastrace.analysis as analysis_pkg
        import pkgutil
        for mod in pkgutil.iter_modules(analysis_pkg.__path__, "fastrace.analysis."):
            with contextlib.suppress(ImportError):
                importlib.import_module(mod.name)


# --------------------------------------------------------------------------
# Budgets

RSS_FLOOR = 48 << 20        # fixed cost an input may add to the peak (numpy temporaries, first-use pools)
RSS_FACTOR = 64             # bytes of peak growth allowed per input byte (read() holds ~11x)
TIMEOUT = 10                # seconds per input

_COMPRESSED = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\xfd7zXZ\x00", b"BZh")


class Finding(Exception):
    """A property the input broke (other than an unexpected exception)."""


def _budget_size(data: bytes) -> int:
    if data.startswith(_COMPRESSED):
        from fastrace.sources import open_input
        try:
            view, _ = open_input(data)
            return max(len(data), len(view))
        except Exception:  # noqa: BLE001 - the target reports it
            return len(data)
    return len(data)


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --------------------------------------------------------------------------
# Targets.  Each takes the input bytes; TraceError is the only exception
# they let through, and the runner accepts it.

def _errors():
    import fastrace
    return (fastrace.TraceError,)


def target_wire(data: bytes) -> None:
    from fastrace import decode_wire
    from fastrace.dump import iter_go_wire
    from fastrace.wire import iter_wire_generations

    ok = None
    with contextlib.suppress(*_errors()):
        ok = decode_wire(data)
    with contextlib.suppress(*_errors()):
        w = decode_wire(data, salvage_prefix=True)
        if ok is not None and w.error is not None:
            raise Finding("salvage_prefix found an error the strict decoder did not")
        for _ in iter_go_wire(w):
            pass
    with contextlib.suppress(*_errors()):
        for piece in iter_wire_generations(data, salvage_prefix=True):
            len(piece.events)


def _read(data: bytes, workers: int = 1):
    import fastrace

    try:
        return fastrace.read(data, workers=workers), None
    except fastrace.TraceError as e:
        partial = getattr(e, "partial", None)
        if partial is not None:
            len(partial.events)
        return None, e


def target_read(data: bytes) -> None:
    import fastrace

    t, _ = _read(data)
    if t is not None:
        t.events["time"].sum()
        with contextlib.suppress(fastrace.TraceError):
            for piece in fastrace.iter_generations(data, max_events=64):
                len(piece.events)


def target_read2(data: bytes) -> None:
    import numpy as np

    t1, e1 = _read(data, 1)
    t2, e2 = _read(data, 2)
    if (t1 is None) != (t2 is None):
        raise Finding(f"workers=1 gave {e1!r}, workers=2 gave {e2!r}")
    if t1 is None:
        if type(e1) is not type(e2) or str(e1) != str(e2):
            raise Finding(f"errors differ: workers=1 {e1!r}, workers=2 {e2!r}")
        p1, p2 = getattr(e1, "partial", None), getattr(e2, "partial", None)
        if (p1 is None) != (p2 is None) or (
                p1 is not None and not np.array_equal(p1.events, p2.events)):
            raise Finding("partial results differ between workers=1 and workers=2")
        return
    if not np.array_equal(t1.events, t2.events):
        raise Finding("event tables differ between workers=1 and workers=2")


def target_text(data: bytes) -> None:
    from fastrace import rawtext

    try:
        wire = rawtext.text_to_wire(data)
    except _errors():
        return
    _read(wire)


def target_experiment(data: bytes) -> None:
    import fastrace

    t, _ = _read(data)
    if t is None:
        return
    names = set(t.experiments()) | {"AllocFree"}
    for name in sorted(names):
        try:
            x = t.experiment(name)
        except fastrace.TraceError:
            continue
        for attr in ("lifetimes",):
            fn = getattr(x, attr, None)
            if fn is not None:
                with contextlib.suppress(fastrace.TraceError):
                    fn()


def target_analyses(data: bytes) -> None:
    import fastrace

    t, _ = _read(data)
    if t is None:
        return
    calls = [
        lambda: t.goroutines(), lambda: t.states(), lambda: t.gc(), lambda: t.mmu(),
        lambda: t.profile("sched"), lambda: t.tasks(), lambda: t.ranges(),
    ]
    for call in calls:
        with contextlib.suppress(fastrace.TraceError):
            call()
    # fastrace info streams (pieces of 64 rows here, so that ranges and
    # goroutines cross pieces): the answers of the whole trace, or the same
    # error.
    from fastrace import trace as trace_module
    from fastrace.info import overview, overview_of

    answers = []
    for fn, arg in ((overview_of, t), (overview, data)):
        saved, trace_module.PIECE_EVENTS = trace_module.PIECE_EVENTS, 64
        try:
            answers.append(fn(arg, "fuzz"))
        except fastrace.TraceError as e:
            answers.append(type(e))
        finally:
            trace_module.PIECE_EVENTS = saved
    if answers[0] != answers[1]:
        raise Finding(f"fastrace info: whole trace {answers[0]!r}, streamed {answers[1]!r}")


TARGETS = {
    "wire": target_wire,
    "read": target_read,
    "read2": target_read2,
    "text": target_text,
    "experiment": target_experiment,
    "analyses": target_analyses,
}


def check(target, data: bytes) -> None:
    """Run one input through a target with the RSS budget."""
    before = _peak_rss()
    with warnings.catch_warnings():
        # numpy's overflow, division and cast warnings mean silently wrong
        # values computed from the input: findings too.
        warnings.simplefilter("error", RuntimeWarning)
        target(data)
    grown = _peak_rss() - before
    budget = RSS_FLOOR + RSS_FACTOR * _budget_size(data)
    if grown > budget:
        raise Finding(f"peak RSS grew by {grown >> 20} MiB on a {len(data)}-byte input "
                      f"(budget {budget >> 20} MiB)")


# --------------------------------------------------------------------------
# Seeds

def _go_testdata() -> Path:
    return (Path.home() / ".cache" / "fastrace-go" / "1.27.3" / "go" / "src" / "internal"
            / "trace" / "testdata")


def _txtar_trace(data: bytes) -> bytes | None:
    marker = b"\n-- trace --\n"
    i = data.find(marker)
    if i < 0:
        return None
    body = data[i + len(marker):]
    j = body.find(b"\n-- ")
    return body if j < 0 else body[:j + 1]


def seeds(target: str) -> list[bytes]:
    from fastrace import rawtext, decode_wire

    out: list[bytes] = []
    fixtures = sorted(ROOT.glob("tests/fixtures/traces/go1.*/*.trace"))
    texts: list[bytes] = []
    td = _go_testdata()
    for f in sorted((td / "tests").glob("*.test")):
        tr = _txtar_trace(f.read_bytes())
        if tr is not None:
            texts.append(tr)
    if target == "text":
        out += texts
        import io
        for f in sorted(fixtures, key=lambda p: p.stat().st_size)[:4]:
            buf = io.BytesIO()
            rawtext.write_text(decode_wire(f.read_bytes()), buf, empty_data=True)
            out.append(buf.getvalue())
        return out
    out += [f.read_bytes() for f in fixtures]
    for f in sorted((td / "fuzz" / "FuzzReader").glob("*")):
        with contextlib.suppress(ValueError):
            out += [v for v in rawtext.parse_go_fuzz_corpus(f.read_bytes()) if isinstance(v, bytes)]
    for tr in texts:
        with contextlib.suppress(Exception):
            out.append(rawtext.text_to_wire(tr))
    if target in ("read", "wire"):
        out += _compressed_seeds(sorted(fixtures, key=lambda p: p.stat().st_size)[:3])
    return out


def _compressed_seeds(fixtures: list[Path]) -> list[bytes]:
    """The inputs fastrace.sources unwraps: small fixtures compressed with
    every codec it knows, one of them twice, and a trace header followed by
    a run of zeros (the shape of a decompression bomb, inflating past the
    memory cap when FASTRACE_MEMORY_LIMIT is small)."""
    import bz2
    import gzip
    import lzma

    codecs = [gzip.compress, bz2.compress, lzma.compress]
    with contextlib.suppress(ImportError):
        import zstandard
        codecs.append(zstandard.ZstdCompressor().compress)
    out = [c(f.read_bytes()) for f in fixtures for c in codecs]
    if fixtures:
        out.append(gzip.compress(lzma.compress(fixtures[0].read_bytes())))
    out.append(gzip.compress(b"go 1.27 trace\x00\x00\x00" + bytes(8 << 20)))
    return out


def write_seeds(target: str, corpus: Path) -> int:
    corpus.mkdir(parents=True, exist_ok=True)
    n = 0
    for s in seeds(target):
        p = corpus / hashlib.sha1(s).hexdigest()
        if not p.exists():
            p.write_bytes(s)
        n += 1
    return n


# --------------------------------------------------------------------------
# Structure-aware mutations

INTERESTING = [0, 1, 2, 3, 7, 0x7F, 0x80, 0xFF, 0x3FFF, 0x4000, 0xFFFF, 1 << 31, (1 << 32) - 1,
               1 << 32, 1 << 62, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]


def uvarint(data: bytes, pos: int) -> tuple[int, int] | None:
    v = shift = 0
    while pos < len(data) and shift < 70:
        b = data[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        if b < 0x80:
            return v, pos
        shift += 7
    return None


def put_uvarint(v: int, width: int = 0) -> bytes:
    """v as a varint, padded with continuation bytes to ``width`` bytes
    (a width past 10 makes an overlong, invalid varint)."""
    v &= (1 << 70) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v or len(out) + 1 < width:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class Batch:
    __slots__ = ("lead", "fields", "payload")

    def __init__(self, lead: bytes, fields: list[int] | None, payload: bytes):
        self.lead = lead          # the type byte (and experiment id)
        self.fields = fields      # gen, m, time; None for an end-of-generation marker
        self.payload = payload

    def encode(self, size: int | None = None, widths=(0, 0, 0, 0)) -> bytes:
        if self.fields is None:
            return self.lead
        size = len(self.payload) if size is None else size
        vals = [*self.fields, size]
        return self.lead + b"".join(put_uvarint(v, w) for v, w in zip(vals, widths)) + self.payload


def split(data: bytes) -> tuple[bytes, list[Batch], bytes] | None:
    """Header, batches and the unparsed rest of a wire trace."""
    if not data.startswith(b"go 1.") or len(data) < 16:
        return None
    pos = 16
    batches: list[Batch] = []
    while pos < len(data):
        b = data[pos]
        if b == 52:
            batches.append(Batch(data[pos:pos + 1], None, b""))
            pos += 1
            continue
        lead_len = 1 if b == 1 else 2 if b == 49 else 0
        if not lead_len:
            break
        p = pos + lead_len
        vals = []
        for _ in range(4):
            r = uvarint(data, p)
            if r is None:
                break
            vals.append(r[0])
            p = r[1]
        if len(vals) < 4 or p + vals[3] > len(data):
            break
        batches.append(Batch(data[pos:pos + lead_len], vals[:3], data[p:p + vals[3]]))
        pos = p + vals[3]
    return data[:16], batches, data[pos:]


def _varint_spans(payload: bytes) -> list[tuple[int, int]]:
    spans, start = [], 0
    for i, b in enumerate(payload):
        if b < 0x80:
            spans.append((start, i + 1))
            start = i + 1
    return spans


def _value(rng: random.Random, old: int) -> int:
    r = rng.random()
    if r < 0.4:
        return rng.choice(INTERESTING)
    if r < 0.8:
        return max(0, old + rng.choice([-1, 1, -2, 2, 16, -16, 1000]))
    return rng.getrandbits(rng.choice([8, 16, 32, 64]))


def mutate_payload(rng: random.Random, payload: bytes, version: int) -> bytes:
    spans = _varint_spans(payload)
    if not spans:
        return payload + put_uvarint(_value(rng, 0))
    s, e = rng.choice(spans)
    old = uvarint(payload, s)
    old_v = old[0] if old else 0
    op = rng.randrange(6)
    if op == 0:        # another value, same or natural width
        new = put_uvarint(_value(rng, old_v), rng.choice([0, e - s]))
    elif op == 1:      # same value, wider (up to 10 bytes, or overlong)
        new = put_uvarint(old_v, rng.choice([e - s + 1, 10, 11]))
    elif op == 2:      # an event type byte
        new = bytes([rng.choice([rng.randrange(1, 53), rng.randrange(53, 256), 0, 128, 129, 130])])
    elif op == 3:      # drop the varint
        new = b""
    elif op == 4:      # duplicate it
        new = payload[s:e] * 2
    else:              # an unterminated varint
        new = b"\x80" * rng.randrange(1, 11)
    return payload[:s] + new + payload[e:]


def mutate_wire(data: bytes, rng: random.Random) -> bytes:
    parts = split(data)
    if parts is None or not parts[1]:
        return data
    header, batches, rest = parts
    try:
        version = int(header[5:7])
    except ValueError:
        version = 27
    widths = [(0, 0, 0, 0)] * len(batches)
    sizes: list[int | None] = [None] * len(batches)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        i = rng.randrange(len(batches))
        b = batches[i]
        op = rng.randrange(12)
        if op <= 3 and b.fields is not None:
            b.payload = mutate_payload(rng, b.payload, version)
        elif op == 4 and b.fields is not None:        # generation number
            b.fields[0] = rng.choice([0, 1, b.fields[0] + 1, max(0, b.fields[0] - 1),
                                      b.fields[0] + 2, (1 << 64) - 1, 1 << 63])
        elif op == 5 and b.fields is not None:        # M id
            b.fields[1] = _value(rng, b.fields[1])
        elif op == 6 and b.fields is not None:        # base timestamp
            b.fields[2] = rng.choice([0, 1, b.fields[2] // 2, b.fields[2] + 1,
                                      (1 << 63) - 1, (1 << 64) - 1, _value(rng, b.fields[2])])
        elif op == 7 and b.fields is not None:        # declared size
            sizes[i] = max(0, len(b.payload) + rng.choice([-3, -1, 1, 2, 100, 1 << 31, (1 << 64) - 1 - len(b.payload)]))
        elif op == 8 and b.fields is not None:        # header varint widths
            widths[i] = tuple(rng.choice([0, 0, 2, 5, 10, 11]) for _ in range(4))
        elif op == 9 and len(batches) > 1:            # delete a batch
            del batches[i], widths[i], sizes[i]
        elif op == 10:                                # duplicate a batch
            batches.insert(i, Batch(b.lead, None if b.fields is None else list(b.fields), b.payload))
            widths.insert(i, widths[i])
            sizes.insert(i, sizes[i])
        elif op == 11 and len(batches) > 1:           # swap two batches
            j = rng.randrange(len(batches))
            batches[i], batches[j] = batches[j], batches[i]
            widths[i], widths[j] = widths[j], widths[i]
            sizes[i], sizes[j] = sizes[j], sizes[i]
    if rng.random() < 0.05:                           # another version
        header = f"go 1.{rng.choice([21, 22, 23, 24, 25, 26, 27, 28, 99])} trace".encode() + header[13:]
    out = header + b"".join(b.encode(s, w) for b, s, w in zip(batches, sizes, widths)) + rest
    if rng.random() < 0.05:                           # cut short
        out = out[:rng.randrange(16, len(out) + 1)]
    return out


def mutate_text(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    if len(lines) < 2:
        return data
    for _ in range(rng.choice([1, 1, 2, 3])):
        if len(lines) < 2:
            break
        i = rng.randrange(1, len(lines))
        op = rng.randrange(5)
        line = lines[i]
        if op == 0 and b"=" in line:                  # a number after key=
            toks = line.split(b" ")
            k = rng.randrange(len(toks))
            if b"=" in toks[k]:
                key, _, _ = toks[k].partition(b"=")
                toks[k] = key + b"=" + str(_value(rng, 0)).encode()
            lines[i] = b" ".join(toks)
        elif op == 1:
            del lines[i]
        elif op == 2:
            lines.insert(i, line)
        elif op == 3:
            j = rng.randrange(1, len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        else:                                         # another event name
            toks = line.split(b" ", 1)
            names = [b"EventBatch", b"GoStart", b"GoStop", b"ProcStart", b"Stacks", b"Stack",
                     b"Strings", b"String", b"Frequency", b"GoStatus", b"ProcStatus", b"Sync",
                     b"ExperimentalBatch", b"EndOfGeneration", b"HeapObjectAlloc", b"GoCreate"]
            lines[i] = rng.choice(names) + (b" " + toks[1] if len(toks) > 1 else b"")
    if rng.random() < 0.1:
        lines[0] = f"Trace Go1.{rng.choice([21, 22, 23, 25, 26, 27, 28])}".encode()
    return b"\n".join(lines)


def mutate(target: str, data: bytes, rng: random.Random) -> bytes:
    if target == "text":
        return mutate_text(data, rng)
    return mutate_wire(data, rng)


def _byte_mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(4)
        if op == 0 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1 and b:
            del b[rng.randrange(len(b))]
        elif op == 2:
            b.insert(rng.randrange(len(b) + 1), rng.randrange(256))
        elif b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


# --------------------------------------------------------------------------
# Runners

class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _save_crash(target: str, data: bytes, what: str) -> Path:
    d = HERE / "crashes"
    d.mkdir(exist_ok=True)
    p = d / f"{target}-{hashlib.sha1(data).hexdigest()[:16]}"
    p.write_bytes(data)
    print(f"FINDING ({target}): {what}\n  input saved to {p}", flush=True)
    return p


def run_one(target: str, data: bytes, timeout: int) -> str | None:
    """Run one input outside atheris; the finding's description or None."""
    fn = TARGETS[target]
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        check(fn, data)
    except _Timeout:
        return f"no answer within {timeout} s"
    except Finding as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - anything else is the finding
        import traceback
        return "".join(traceback.format_exception(e)).rstrip()
    finally:
        signal.alarm(0)
    return None


def replay(targets: list[str], corpus_root: Path | None, timeout: int) -> int:
    bad = 0
    for target in targets:
        corpus = (corpus_root / target) if corpus_root else HERE / "corpus" / target
        write_seeds(target, corpus)
        files = sorted(p for p in corpus.iterdir() if p.is_file())
        t0 = time.perf_counter()
        for p in files:
            what = run_one(target, p.read_bytes(), timeout)
            if what:
                bad += 1
                print(f"FINDING ({target}) {p}:\n{what}", flush=True)
        print(f"{target}: {len(files)} inputs in {time.perf_counter() - t0:.1f} s", flush=True)
    return bad


def random_loop(target: str, corpus: Path, seconds: float, timeout: int, seed: int) -> int:
    rng = random.Random(seed)
    pool = [p.read_bytes() for p in sorted(corpus.iterdir()) if p.is_file()]
    t0 = time.perf_counter()
    n = bad = 0
    while time.perf_counter() - t0 < seconds:
        data = rng.choice(pool)
        for _ in range(rng.randrange(1, 4)):
            data = mutate(target, data, rng) if rng.random() < 0.7 else _byte_mutate(data, rng)
        what = run_one(target, data, timeout)
        n += 1
        if what:
            bad += 1
            _save_crash(target, data, what)
        if n % 500 == 0:
            el = time.perf_counter() - t0
            print(f"#{n} {n / el:.0f} exec/s, {bad} findings", flush=True)
    el = time.perf_counter() - t0
    print(f"{target}: {n} inputs in {el:.0f} s ({n / max(el, 1e-9):.0f} exec/s), "
          f"{len(pool)} seeds, {bad} findings", flush=True)
    return bad


def _load_fastrace() -> None:
    """Import fastrace once the fuzzer runs.  An instrumented build
    (FASTRACE_FUZZ_NATIVE) calls libFuzzer's coverage hooks, which live in
    the libFuzzer atheris loads when fuzzing starts, with its symbols
    local: they are made global first (RTLD_NOLOAD: the library already
    loaded, not a second copy)."""
    if NATIVE:
        import ctypes
        import atheris.core_with_libfuzzer as core
        ctypes.CDLL(core.__file__, mode=os.RTLD_NOLOAD | os.RTLD_GLOBAL)
    _import_fastrace(instrument=True)


def run_atheris(target: str, corpus: Path, seconds: float, timeout: int, extra: list[str]) -> None:
    fn = TARGETS[target]

    loaded = []

    def test_one(data: bytes) -> None:
        if not loaded:
            _load_fastrace()
            loaded.append(True)
        check(fn, data)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5:
            out = atheris.Mutate(data, max_size)
        else:
            out = mutate(target, data, rng)
        return out[:max_size]

    crashes = HERE / "crashes"
    crashes.mkdir(exist_ok=True)
    if NATIVE:
        # The first input waits for fastrace's import and instrumentation
        # (_load_fastrace), which libFuzzer's clock counts: seconds on a
        # busy machine.
        timeout = max(timeout, 60)
    argv = [sys.argv[0], str(corpus), f"-max_total_time={int(seconds)}", f"-timeout={timeout}",
            "-max_len=65536", "-rss_limit_mb=2048", f"-artifact_prefix={crashes}/{target}-",
            "-print_final_stats=1", *extra]
    atheris.Setup(argv, test_one, custom_mutator=custom_mutator)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", choices=[*TARGETS, "all"])
    ap.add_argument("--seconds", type=float, default=180)
    ap.add_argument("--corpus", type=Path, help="corpus directory (default tests/fuzz/corpus/TARGET; "
                    "with --replay: the parent of one directory per target)")
    ap.add_argument("--timeout", type=int, default=TIMEOUT)
    ap.add_argument("--no-atheris", action="store_true")
    ap.add_argument("--replay", action="store_true", help="run the seeds and corpus once")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seeds-only", action="store_true", help="write the seeds to the corpus and stop")
    ap.add_argument("extra", nargs="*", help="flags passed on to libFuzzer (after --)")
    args = ap.parse_args(argv)
    # Within libFuzzer's -rss_limit_mb=2048: fastrace refuses work that
    # would need more (TraceTooLargeError) before it takes the memory, as it
    # does on any machine at the memory it has.  Set before fastrace is
    # imported, and inherited by the seed process.
    os.environ.setdefault("FASTRACE_MEMORY_LIMIT", "1G")

    use_atheris = (atheris is not None and not args.no_atheris and not args.replay
                   and not args.seeds_only)
    if args.seeds_only or not (use_atheris or NATIVE):
        _import_fastrace(instrument=False)
    elif NATIVE and not use_atheris:
        sys.exit("FASTRACE_FUZZ_NATIVE needs atheris")
    if args.replay:
        targets = list(TARGETS) if args.target == "all" else [args.target]
        return 1 if replay(targets, args.corpus, args.timeout) else 0
    if args.target == "all":
        ap.error("'all' only with --replay")
    corpus = args.corpus or HERE / "corpus" / args.target
    if use_atheris:
        # fastrace is imported when fuzzing starts (_load_fastrace): the
        # seeds come from a child process with the ordinary build.
        import subprocess
        env = {k: v for k, v in os.environ.items() if k != "FASTRACE_FUZZ_NATIVE"}
        subprocess.run([sys.executable, __file__, args.target, "--seeds-only",
                        "--corpus", str(corpus)], env=env, check=True)
        run_atheris(args.target, corpus, args.seconds, args.timeout, args.extra)
        return 0
    print(f"{args.target}: {write_seeds(args.target, corpus)} seeds in {corpus}", flush=True)
    if args.seeds_only:
        return 0
    if atheris is None and not args.no_atheris:
        print("atheris is not installed: plain random mutation", flush=True)
    return 1 if random_loop(args.target, corpus, args.seconds, args.timeout, args.seed) else 0


if __name__ == "__main__":
    sys.exit(main())
