"""Helpers for the ``go-parsed`` dump and the validator tests.

- ``EVENT_DTYPE`` & co.: numpy dtypes with the layout of the structs in
  ``fastrace/_order.pxd`` (for building ordered tables by hand, also when
  the ordering engine is not built).
- :class:`TableBuilder` / :func:`make_trace`: small ``fastrace.trace.Trace``
  objects from Python values.
- :func:`parse_go_parsed`: the inverse of Go's ``-d=parsed`` text: rebuilds
  an ordered table from Go's dump, so the formatter and the validator can be
  checked against every committed reference dump without the engine.
- :func:`first_difference` / :func:`assert_same_dump`: readable failures.
"""

from __future__ import annotations

import gzip
import json
import re
import types
from pathlib import Path

import numpy as np

from fastrace import spec
from fastrace.gotime import days_from_civil
from fastrace.kinds import EventKind, GoState, ProcState
from fastrace.spec import METRIC_NAMES, RANGE_TYPES
from fastrace.trace import Trace

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"

NO_GEN = (1 << 64) - 1


def _struct(fields, itemsize=None):
    dt = np.dtype(fields, align=True)
    names = [n for n in dt.names if not n.startswith("pad")]
    return np.dtype({"names": names, "formats": [dt.fields[n][0] for n in names],
                     "offsets": [dt.fields[n][1] for n in names],
                     "itemsize": itemsize or dt.itemsize})


EVENT_DTYPE = _struct([("time", "<i8"), ("g", "<i8"), ("a", "<u8", (3,)), ("p", "<i4"),
                       ("m", "<u4"), ("stack", "<u4"), ("kind", "u1"), ("type", "u1"),
                       ("from_state", "u1"), ("to_state", "u1")])
STACK_DTYPE = _struct([("frame_start", "<u4"), ("nframes", "<u4")])
FRAME_DTYPE = _struct([("pc", "<u8"), ("line", "<u8"), ("func", "<u4"), ("file", "<u4")])
GENERATION_DTYPE = _struct([
    ("gen", "<u8"), ("sync_row", "<i8"), ("clock_trace", "<i8"), ("clock_mono", "<u8"),
    ("clock_sec", "<i8"), ("clock_nsec", "<i8"), ("freq", "<u8"),
    ("exp_batch_start", "<u4"), ("exp_batch_count", "<u4"), ("has_clock", "u1"),
    ("pad0", "u1"), ("pad1", "<u2"), ("pad2", "<u4")])
EXP_BATCH_DTYPE = _struct([("m", "<i8"), ("offset", "<u8"), ("length", "<u4"),
                           ("generation", "<u4"), ("exp", "u1"), ("pad0", "u1"),
                           ("pad1", "<u2"), ("pad2", "<u4")])

assert EVENT_DTYPE.itemsize == 56 and FRAME_DTYPE.itemsize == 24


class TableBuilder:
    """Collects strings, stacks and events, then makes a Trace.

    Strings and stacks are interned: ``string(b"x")`` and ``stack(frames)``
    return rows.  ``stack([])`` is a stack *with no frames* (a non-zero
    row), unlike row 0, which means "no stack"."""

    def __init__(self, version: int = 26):
        self.version = version
        self._strings: dict[bytes, int] = {b"": 0}
        self._stacks: dict[tuple, int] = {}
        self.stack_rows: list[tuple[int, int]] = [(0, 0)]
        self.frame_rows: list[tuple[int, int, int, int]] = []
        self.events: list[tuple] = []
        self.generations: list[tuple] = []
        self._threads: dict[int, int] = {-1: 0}   # M id -> row of Trace.threads

    def string(self, s: bytes | str) -> int:
        if isinstance(s, str):
            s = s.encode("utf-8", "surrogateescape")
        row = self._strings.get(s)
        if row is None:
            row = self._strings[s] = len(self._strings)
        return row

    def thread(self, m: int) -> int:
        """Row of M id ``m`` in Trace.threads (row 0 is -1, no M)."""
        return self._threads.setdefault(m, len(self._threads))

    def stack(self, frames) -> int:
        """frames: (func, pc, file, line) tuples, innermost first."""
        key = tuple(frames)
        row = self._stacks.get(key)
        if row is None:
            start = len(self.frame_rows)
            for func, pc, file, line in key:
                self.frame_rows.append((pc, line, self.string(func), self.string(file)))
            row = self._stacks[key] = len(self.stack_rows)
            self.stack_rows.append((start, len(key)))
        return row

    def generation(self, *, clock=None, gen=None, sync_row=-1) -> int:
        """clock = (trace_ns, mono, sec, nsec) or None.  ``sync_row`` by
        default is the row of the Sync event that names this generation."""
        row = len(self.generations)
        c = clock or (0, 0, 0, 0)
        self.generations.append((row + 1 if gen is None else gen, sync_row, c[0], c[1], c[2], c[3],
                                 1_000_000_000, 0, 0, 1 if clock else 0))
        return row

    def event(self, kind, time, *, g=-1, p=-1, m=-1, a=(0, 0, 0), stack=0, type=0,
              from_state=0, to_state=0) -> int:
        a = tuple(int(x) & NO_GEN for x in a) + (0,) * (3 - len(a))
        m_row = self.thread(m)
        self.events.append((time, g, a, p, m_row, stack, int(kind), type, int(from_state),
                            int(to_state)))
        return len(self.events) - 1

    def trace(self) -> Trace:
        strings = sorted(self._strings, key=self._strings.get)
        offsets = np.zeros(len(strings) + 1, dtype=np.uint64)
        offsets[1:] = np.cumsum([len(s) for s in strings])
        gens = np.zeros(len(self.generations), dtype=GENERATION_DTYPE)
        # A generation's Sync row, unless given, is the Sync that names it.
        rows = [list(r) for r in self.generations]
        for i, e in enumerate(self.events):
            if e[6] == EventKind.SYNC and e[2][1] < len(rows) and rows[e[2][1]][1] == -1:
                rows[e[2][1]][1] = i
        for i, r in enumerate(rows):
            for name, v in zip(("gen", "sync_row", "clock_trace", "clock_mono", "clock_sec",
                                "clock_nsec", "freq", "exp_batch_start", "exp_batch_count",
                                "has_clock"), r):
                gens[i][name] = v
        tables = {
            "events": np.array(self.events, dtype=EVENT_DTYPE),
            "threads": np.array(sorted(self._threads, key=self._threads.get), dtype=np.int64),
            "string_data": b"".join(strings),
            "string_offsets": offsets,
            "stacks": np.array(self.stack_rows, dtype=STACK_DTYPE),
            "frames": np.array(self.frame_rows, dtype=FRAME_DTYPE),
            "generations": gens,
            "exp_batches": np.zeros(0, dtype=EXP_BATCH_DTYPE),
        }
        return Trace(types.SimpleNamespace(version=self.version), tables)


# ---------------------------------------------------------------------------
# Go's -d=parsed text -> table.

_HEAD = re.compile(r"M=(-?\d+) P=(-?\d+) G=(-?\d+) (\w+) Time=(-?\d+)")
_WALL = re.compile(r"(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                   r"(?:Z|([+-])(\d\d):(\d\d))$")
_KINDS = {str(k): k for k in EventKind}
_GO_STATES = {str(s): s for s in GoState}
_PROC_STATES = {str(s): s for s in ProcState}
_METRIC_TYPES = {v: k for k, v in METRIC_NAMES.items()}
_C = {s.name: s.code for s in spec.SPECS}
# (range name, kind) -> wire type, for the ranges other than stop-the-world.
_RANGE_TYPES = {(sp.range, sp.kind): code for code, sp in RANGE_TYPES.items()
                if sp.range != spec.STW_RANGE}
_ESC = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34,
        "'": 39}


class _Cursor:
    def __init__(self, text: str):
        self.s = text
        self.i = 0

    def lit(self, prefix: str) -> None:
        if not self.s.startswith(prefix, self.i):
            raise ValueError(f"expected {prefix!r} at {self.s[self.i:self.i + 40]!r}")
        self.i += len(prefix)

    def int(self) -> int:
        m = re.compile(r"-?\d+").match(self.s, self.i)
        if not m:
            raise ValueError(f"expected a number at {self.s[self.i:self.i + 40]!r}")
        self.i = m.end()
        return int(m.group())

    def word(self, stop: str) -> str:
        j = self.s.index(stop, self.i)
        w, self.i = self.s[self.i:j], j
        return w

    def quoted(self) -> bytes:
        """A Go double-quoted literal as written by strconv.Quote -> bytes."""
        self.lit('"')
        out = bytearray()
        s = self.s
        while True:
            c = s[self.i]
            if c == '"':
                self.i += 1
                return bytes(out)
            if c != "\\":
                out += c.encode("utf-8", "surrogateescape")
                self.i += 1
                continue
            e = s[self.i + 1]
            if e in _ESC:
                out.append(_ESC[e])
                self.i += 2
            elif e == "x":
                out.append(int(s[self.i + 2:self.i + 4], 16))
                self.i += 4
            elif e in "uU":
                n = 4 if e == "u" else 8
                out += chr(int(s[self.i + 2:self.i + 2 + n], 16)).encode("utf-8", "surrogatepass")
                self.i += 2 + n
            else:
                raise ValueError(f"unexpected escape \\{e}")

    def end(self) -> None:
        if self.i != len(self.s):
            raise ValueError(f"unparsed rest {self.s[self.i:]!r}")


def wall_to_unix(text: str) -> tuple[int, int]:
    m = _WALL.match(text)
    if not m:
        raise ValueError(f"bad wall time {text!r}")
    y, mo, d, hh, mi, ss = (int(x) for x in m.groups()[:6])
    frac = m.group(7) or ""
    nsec = int(frac.ljust(9, "0")) if frac else 0
    sec = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss
    if m.group(8):
        off = (int(m.group(9)) * 60 + int(m.group(10))) * 60
        sec -= off if m.group(8) == "+" else -off
    return sec, nsec


def _frames(lines: list[str]) -> list[tuple[str, int, str, int]]:
    if len(lines) % 2:
        raise ValueError(f"odd number of frame lines: {lines!r}")
    out = []
    for fl, ll in zip(lines[::2], lines[1::2]):
        if not fl.startswith("\t") or not ll.startswith("\t\t"):
            raise ValueError(f"bad frame lines {fl!r} {ll!r}")
        func, _, pc = fl[1:].rpartition(" @ 0x")
        file, _, line = ll[2:].rpartition(":")
        out.append((func, int(pc, 16), file, int(line)))
    return out


def _split_events(text: str) -> list[list[str]]:
    """Group the dump's lines per event (an event's String() may span lines)."""
    events: list[list[str]] = []
    for line in text.split("\n"):
        if line.startswith("M="):
            events.append([line])
        else:
            if not events:
                raise ValueError(f"text before the first event: {line!r}")
            events[-1].append(line)
    # The final "\n" of the dump leaves one empty line behind.
    if events and events[-1][-1] == "":
        events[-1].pop()
    return events


def parse_go_parsed(data: bytes, version: int = 26) -> Trace:
    """Build a Trace whose go-parsed dump is ``data`` (Go's -d=parsed output)."""
    b = TableBuilder(version)
    text = data.decode("utf-8", "surrogateescape")
    for lines in _split_events(text):
        _parse_event(b, lines)
    # The final Sync of a trace (the end of the last generation) has no
    # generation of its own.
    syncs = [i for i, e in enumerate(b.events) if e[6] == EventKind.SYNC]
    if syncs:
        e = list(b.events[syncs[-1]])
        if not b.generations[e[2][1]][9]:
            e[2] = (e[2][0], NO_GEN, 0)
            b.events[syncs[-1]] = tuple(e)
    return b.trace()


def _stacks(b: TableBuilder, rest: list[str]) -> tuple[int | None, int | None]:
    """Parse the continuation lines: (transition stack row, stack row)."""
    tstack = stack = None
    i = 0
    while i < len(rest):
        hdr = rest[i]
        if hdr not in ("TransitionStack=", "Stack=") or (i > 0 and rest[i - 1] != ""):
            raise ValueError(f"unexpected line {hdr!r}")
        j = i + 1
        while j < len(rest) and rest[j].startswith("\t"):
            j += 1
        row = b.stack(_frames(rest[i + 1:j]))
        if hdr == "Stack=":
            stack = row
        else:
            tstack = row
        # Frames end with a newline, so a blank line follows each stack.
        if j >= len(rest) or rest[j] != "":
            raise ValueError(f"stack not followed by a blank line: {rest!r}")
        i = j + 1
    return tstack, stack


def _parse_event(b: TableBuilder, lines: list[str]) -> None:
    first = lines[0]
    m = _HEAD.match(first)
    if not m:
        raise ValueError(f"bad event line {first!r}")
    mm, p, g, kname, t = m.groups()
    ctx = dict(m=int(mm), p=int(p), g=int(g))
    t = int(t)
    kind = _KINDS[kname]
    c = _Cursor(first[m.end():])
    tstack, stack = _stacks(b, lines[1:])
    a = [0, 0, 0]
    typ = fs = ts = 0
    if kind == EventKind.SYNC:
        c.lit(" N=")
        a[0] = c.int()
        a[1] = NO_GEN
        if c.s.startswith(" Trace=", c.i):
            c.lit(" Trace=")
            tr = c.int()
            c.lit(" Mono=")
            mono = c.int()
            c.lit(" Wall=")
            sec, nsec = wall_to_unix(c.s[c.i:])
            c.i = len(c.s)
            a[1] = b.generation(clock=(tr, mono, sec, nsec))
        else:
            # A generation without a clock snapshot (before Go 1.25); the
            # last Sync of the trace is fixed up to "no generation" later.
            a[1] = b.generation()
    elif kind == EventKind.METRIC:
        c.lit(" Name=")
        typ = _METRIC_TYPES[c.quoted().decode()]
        c.lit(" Value=Value{Uint64(")
        a[0] = c.int()
        c.lit(")}")
    elif kind == EventKind.LABEL:
        c.lit(" Label=")
        a[0] = b.string(c.quoted())
        c.lit(f" Resource=Goroutine({ctx['g']})")
        typ = _C["GoLabel"]
    elif kind in (EventKind.RANGE_BEGIN, EventKind.RANGE_ACTIVE, EventKind.RANGE_END):
        c.lit(" Name=")
        name = c.quoted().decode("utf-8", "surrogateescape")
        c.lit(" Scope=")
        if name.startswith("stop-the-world (") and name.endswith(")"):
            typ = _C["STWBegin"] if kind == EventKind.RANGE_BEGIN else _C["STWEnd"]
            a[1] = b.string(name[len("stop-the-world ("):-1])
            c.lit("Goroutine(")
            a[0] = c.int()
            c.lit(")")
        else:
            typ = _RANGE_TYPES[(name, kind)]
            if c.s.startswith("None", c.i):
                c.lit("None")
            else:
                c.word("(")
                c.lit("(")
                a[0] = c.int()
                c.lit(")")
        if kind == EventKind.RANGE_END:
            c.lit(" Attributes=[")
            if typ == _C["GCSweepEnd"]:
                c.lit('"bytes swept"=Value{Uint64(')
                a[1] = c.int()
                c.lit(')} "bytes reclaimed"=Value{Uint64(')
                a[2] = c.int()
                c.lit(")}")
            c.lit("]")
    elif kind in (EventKind.TASK_BEGIN, EventKind.TASK_END):
        typ = _C["UserTaskBegin"] if kind == EventKind.TASK_BEGIN else _C["UserTaskEnd"]
        c.lit(" ID=")
        a[0] = c.int()
        c.lit(" Parent=")
        a[1] = c.int()
        c.lit(" Type=")
        a[2] = b.string(c.quoted())
    elif kind in (EventKind.REGION_BEGIN, EventKind.REGION_END):
        typ = _C["UserRegionBegin"] if kind == EventKind.REGION_BEGIN else _C["UserRegionEnd"]
        c.lit(" Task=")
        a[0] = c.int()
        c.lit(" Type=")
        a[1] = b.string(c.quoted())
    elif kind == EventKind.LOG:
        typ = _C["UserLog"]
        c.lit(" Task=")
        a[0] = c.int()
        c.lit(" Category=")
        a[1] = b.string(c.quoted())
        c.lit(" Message=")
        a[2] = b.string(c.quoted())
    elif kind == EventKind.STATE_TRANSITION:
        if c.s.startswith(" ProcID=", c.i):
            c.lit(" ProcID=")
            a[0] = c.int()
            c.lit(" ")
            fs = _PROC_STATES[c.word("-")]
            c.lit("->")
            ts = _PROC_STATES[c.word(" ")]
            typ = _proc_type(fs, ts, a[0], ctx["p"])
        else:
            c.lit(" GoID=")
            a[0] = c.int()
            c.lit(" ")
            fs = _GO_STATES[c.word("-")]
            c.lit("->")
            ts = _GO_STATES[c.word(" ")]
            typ = _go_type(fs, ts, tstack is not None)
        c.lit(" Reason=")
        a[1] = b.string(c.quoted())
        if tstack is not None and typ in (_C["GoCreate"], _C["GoCreateBlocked"]) \
                and b.stack_rows[tstack][1] == 0:
            tstack = 0  # printed anyway: creation always has a start stack handle
        a[2] = tstack or 0
    elif kind == EventKind.EXPERIMENTAL:
        c.lit(" Name=")
        name = c.word(" ")
        sp = spec.BY_NAME[name]
        typ = sp.code
        c.lit(" Args=[")
        for i, arg in enumerate(sp.args[1:]):
            if i:
                c.lit(", ")
            c.lit(f"{arg}=")
            if arg.endswith("string"):
                raise ValueError("string arguments of experimental events are not parsed")
            c.lit("Value{Uint64(")
            a[i] = c.int()
            c.lit(")}")
        c.lit("]")
    elif kind == EventKind.STACK_SAMPLE:
        typ = _C["CPUSample"]
        if stack is not None and b.stack_rows[stack][1] == 0:
            stack = 0  # a sample always prints its stack header
    c.end()
    b.event(kind, t, a=a, stack=stack or 0, type=typ, from_state=fs, to_state=ts, **ctx)


def _proc_type(fs, ts, pid, ctx_p) -> int:
    P = ProcState
    if fs == P.IDLE and ts == P.RUNNING:
        return _C["ProcStart"]
    if fs == P.RUNNING and ts == P.IDLE:
        return _C["ProcStop"] if pid == ctx_p else _C["ProcSteal"]
    if fs == P.IDLE and ts == P.IDLE:
        return _C["ProcSteal"]
    return _C["ProcStatus"]


# (from, to) -> the wire type with that fixed transition (the lowest code
# where several share one: GoUnblock before GoSwitch).
_GO_TYPE_OF: dict = {}
for _sp in spec.SPECS:
    if _sp.code in spec.GOROUTINE_TYPES and _sp.transition is not None:
        _GO_TYPE_OF.setdefault(_sp.transition, _sp.code)


def _go_type(fs, ts, has_tstack) -> int:
    G = GoState
    if (fs == G.UNDETERMINED or fs == ts) and fs != G.NOT_EXIST:
        return _C["GoStatusStack"] if has_tstack else _C["GoStatus"]
    return _GO_TYPE_OF[(fs, ts)]


# ---------------------------------------------------------------------------
# Fixtures and comparisons.

def manifest() -> dict:
    return json.loads((FIXTURES / "MANIFEST.json").read_text())


def fixture_files(fx: dict) -> tuple[Path, bytes, dict]:
    """(trace path, Go's -d=parsed output, the fixture's json record)."""
    files = fx["files"]
    meta = json.loads((FIXTURES / files["json"]["path"]).read_text())
    want = gzip.decompress((FIXTURES / files["parsed"]["path"]).read_bytes())
    return FIXTURES / files["trace"]["path"], want, meta


def first_difference(got: bytes, want: bytes, context: int = 2) -> str:
    g, w = got.split(b"\n"), want.split(b"\n")
    for i, (x, y) in enumerate(zip(g, w)):
        if x != y:
            lo = max(0, i - context)
            before = "".join(f"\n    {l!r}" for l in w[lo:i])
            return (f"first difference at line {i + 1}:{before}\n"
                    f"  fastrace: {x!r}\n  go:       {y!r}")
    return f"lengths differ: fastrace {len(g)} lines, go {len(w)} lines"


def assert_same_dump(got: bytes, want: bytes) -> None:
    assert got == want, first_difference(got, want)
