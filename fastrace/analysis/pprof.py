"""pprof profiles from a trace: Go's four latency profiles and a CPU profile.

``Trace.profile(kind)`` (:func:`latency_profile`) computes the profile that
``go tool trace -pprof=KIND`` prints (Go 1.27's ``cmd/trace/pprof.go``),
for ``kind`` in:

| kind | goroutine time counted | ``go tool trace`` web page |
| --- | --- | --- |
| ``"net"`` | Waiting, entered with reason "network" | network blocking profile |
| ``"sync"`` | Waiting, entered with a reason containing "chan", "sync" or "select" | synchronization blocking profile |
| ``"syscall"`` | in a system call (Syscall) | syscall profile |
| ``"sched"`` | Runnable (waiting for a P) | scheduler latency profile |

Go's rules, followed exactly (the C pass is ``fastrace/_states.pxi``):

- A goroutine transition into the profiled state (with an accepted reason)
  starts an interval unless one is already open; the first later
  transition of that goroutine to another state ends it.  Transitions that
  keep the state, including the status events at each generation's start,
  neither start nor end one, but a status event can start one: a
  goroutine that was already in the state without being tracked (e.g. in
  a system call when the trace began) is tracked from its first status
  event.  Intervals still open when the trace ends are not counted.
- Each interval is clipped to its goroutine's window: from the first time
  it ran (0 if it never ran) to the time it ended (went to NotExist, or to
  Waiting with reason "forever"), else to the trace's last timestamp; for
  a goroutine id seen again after it ended, the last window applies to all
  its intervals.  So the wait of a new goroutine before its first run is
  never counted in ``sched``.  Intervals with nothing left are dropped.
- The stack is that of the event that began the interval, not the
  transition's own stack: for ``sched`` the stack of whatever made the
  goroutine runnable (the waker's unblock, the creator's ``go``
  statement, the goroutine's own preemption or yield).
- Each stack gets one sample with the number of intervals
  ("contentions", count) and their summed length ("delay",
  nanoseconds).  Stacks whose first 128 PCs are equal are merged (Go's
  deduplication key; the stack kept is the last one seen), and stacks are
  cut at 128 frames.
- In the pprof encoding, locations are keyed by PC and functions by
  (name, file), with no mappings, period type "trace/count" and period 1,
  as Go's ``traceviewer.BuildProfile`` writes them.

``Trace.cpu_profile()`` (:func:`cpu_profile`) builds a CPU profile from the
trace's CPU samples (``StackSample`` events, present when the program ran
the CPU profiler while tracing): one pprof sample per distinct stack with
sample types "samples/count" and "cpu/nanoseconds", the latter being the
count times ``period`` (the trace does not record the profiling rate; the
default is the runtime's 100 Hz, i.e. 10 ms).

Both return a :class:`Profile`: ``stacks`` (rows of ``Trace.stacks``, one
per sample), ``values`` (int64, one column per sample type), with
``to_pprof()`` (the gzip-compressed protobuf, as Go writes profiles),
``write(path)``, ``frames(i)`` and ``top(n)``.
"""

from __future__ import annotations

import gzip
import os
from typing import NamedTuple

import numpy as np

from fastrace.analysis._ahead import ahead as _ahead
from fastrace.kinds import GoState

__all__ = ["Profile", "LATENCY_KINDS", "PROFILE_KINDS", "MAX_FRAMES", "CPU_PERIOD",
           "latency_profile", "cpu_profile", "read_profile", "encode_profile"]

MAX_FRAMES = 128
"""Frames kept per stack in the latency profiles, and the depth of Go's
stack deduplication (cmd/trace's pprofMaxStack)."""

CPU_PERIOD = 10_000_000
"""Default sampling period of :func:`cpu_profile` in ns: the runtime's CPU
profiler samples at 100 Hz unless ``runtime.SetCPUProfileRate`` says
otherwise, and the trace does not record the rate."""

# kind -> (state, reason filter name), from cmd/trace's computePprof* functions.
_LATENCY = {
    "net": (GoState.WAITING, "ST_REASON_NETWORK"),
    "sync": (GoState.WAITING, "ST_REASON_SYNC"),
    "syscall": (GoState.SYSCALL, "ST_REASON_ANY"),
    "sched": (GoState.RUNNABLE, "ST_REASON_ANY"),
}

LATENCY_KINDS: tuple[str, ...] = tuple(_LATENCY)
"""Kinds of :func:`latency_profile`, the values of ``go tool trace -pprof``."""

PROFILE_KINDS: tuple[str, ...] = LATENCY_KINDS + ("cpu",)
"""Every kind ``fastrace pprof`` writes."""

_LATENCY_SAMPLE_TYPES = (("contentions", "count"), ("delay", "nanoseconds"))
_CPU_SAMPLE_TYPES = (("samples", "count"), ("cpu", "nanoseconds"))


class Func(NamedTuple):
    """One row of :meth:`Profile.top`."""

    function: str
    flat: int      # value of the samples whose innermost frame is in this function
    cum: int       # value of the samples with this function anywhere in the stack


class Profile:
    """A profile over stacks of a trace.

    - ``kind``: ``"net"``, ``"sync"``, ``"syscall"``, ``"sched"`` or ``"cpu"``.
    - ``sample_types``: (type, unit) per column of ``values``:
      contentions/count and delay/nanoseconds for the latency profiles,
      samples/count and cpu/nanoseconds for the CPU profile.
    - ``stacks``: uint32 rows of ``trace.stacks``, one per sample (0 = a
      sample without a stack).
    - ``values``: int64 array, one row per sample, one column per type.
    - ``period_type``, ``period``: pprof's sampling period.
    - ``duration``: ns covered (the CPU profile: the trace's span); 0 = unset.
    - ``max_frames``: frames kept per stack (None: all).
    """

    def __init__(self, trace, kind: str, sample_types, stacks: np.ndarray, values: np.ndarray,
                 *, period_type: tuple[str, str], period: int, duration: int = 0,
                 max_frames: int | None = None):
        self.trace = trace
        self.kind = kind
        self.sample_types = tuple(sample_types)
        self.stacks = stacks
        self.values = values
        self.period_type = period_type
        self.period = period
        self.duration = duration
        self.max_frames = max_frames

    def __len__(self) -> int:
        return len(self.stacks)

    def __repr__(self) -> str:
        tot = ", ".join(f"{t}={v}" for (t, _), v in zip(self.sample_types, self.total()))
        return f"<Profile {self.kind}: {len(self)} samples, {tot}>"

    def total(self) -> tuple[int, ...]:
        """The sum of each value column."""
        return tuple(int(v) for v in self.values.sum(axis=0)) if len(self) else \
            (0,) * len(self.sample_types)

    def frames(self, i: int):
        """The frames of sample ``i`` (innermost first), as ``fastrace.trace.Frame``."""
        fr = self.trace.stack_frames(int(self.stacks[i]))
        return fr if self.max_frames is None else fr[:self.max_frames]

    def top(self, n: int = 10, value: int = -1) -> list[Func]:
        """The ``n`` functions with the largest flat value (column ``value``
        of ``values``, by default the last: delay or cpu time), like
        ``go tool pprof -top``."""
        flat: dict[str, int] = {}
        cum: dict[str, int] = {}
        for i in range(len(self)):
            v = int(self.values[i, value])
            fr = self.frames(i)
            if fr:
                flat[fr[0].func] = flat.get(fr[0].func, 0) + v
            for name in {f.func for f in fr}:
                cum[name] = cum.get(name, 0) + v
        order = sorted(cum, key=lambda f: (-flat.get(f, 0), -cum[f], f))
        return [Func(f, flat.get(f, 0), cum[f]) for f in order[:n]]

    def to_pprof(self) -> bytes:
        """The profile as pprof's protobuf (profile.proto), gzip-compressed
        as Go writes profiles: what ``go tool pprof`` reads."""
        return gzip.compress(encode_profile(self), compresslevel=6, mtime=0)

    def write(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_pprof` to ``path``."""
        with open(path, "wb") as f:
            f.write(self.to_pprof())


# ---------------------------------------------------------------- computing

def _check_kind(kind: str) -> None:
    if kind not in _LATENCY:
        raise ValueError(f"unknown latency profile {kind!r}; one of {', '.join(LATENCY_KINDS)}"
                         + (" (the CPU profile is Trace.cpu_profile())" if kind == "cpu" else ""))


def _new_latency(kind: str):
    from fastrace import _analysis

    state, reasons = _LATENCY[kind]
    return _analysis.StatesLatency(int(state), int(_analysis.StReasonFilter[reasons]))


def _feed(acc, trace) -> None:
    acc.feed(trace.events, np.frombuffer(trace.strings.data, dtype=np.uint8),
             np.ascontiguousarray(trace.strings.offsets, dtype=np.uint64), len(trace.stacks))


def latency_profile(trace, kind: str, *, two_pass: bool = False) -> Profile:
    """The profile ``go tool trace -pprof=KIND`` computes (module docstring).
    One pass over the events, two where Go's windows need them (goroutine
    ids used again, see ``fastrace/_states.pxi``); ``two_pass=True`` makes
    it always two, as Go does (the same result: for tests)."""
    _check_kind(kind)
    acc = _new_latency(kind)
    _feed(acc, trace)
    if acc.ambiguous or two_pass:
        acc.second_pass()
        _feed(acc, trace)
    return _latency_result(trace, kind, acc)


def _latency_result(trace, kind: str, acc) -> Profile:
    count, total, last = acc.result()
    rows = np.flatnonzero(count)
    # Go keys its stacks by their first 128 PCs (a trace's stacks have at
    # most 128 frames, and one frame per PC in a generation, so this merges
    # only stacks of different generations whose frames differ).
    stacks = trace.stacks
    pcs = trace.frames["pc"]
    groups: dict[tuple, list[int]] = {}
    for r in rows.tolist():
        start, nf = int(stacks["frame_start"][r]), int(stacks["nframes"][r])
        key = tuple(pcs[start:start + min(nf, MAX_FRAMES)].tolist())
        while key and key[-1] == 0:      # Go's key is zero-padded
            key = key[:-1]
        groups.setdefault(key, []).append(r)
    out_rows, out_vals = [], []
    for members in groups.values():
        keep = max(members, key=lambda r: int(last[r]))     # Go keeps the newest
        out_rows.append(keep)
        out_vals.append((int(count[members].sum()), int(total[members].sum())))
    return _sorted(Profile(trace, kind, _LATENCY_SAMPLE_TYPES,
                           np.array(out_rows, dtype=np.uint32),
                           np.array(out_vals, dtype=np.int64).reshape(-1, 2),
                           period_type=("trace", "count"), period=1, max_frames=MAX_FRAMES))


def cpu_profile(trace, period: int = CPU_PERIOD) -> Profile:
    """A CPU profile from the trace's CPU samples (module docstring)."""
    from fastrace import _analysis

    if period <= 0:
        raise ValueError(f"period must be positive, not {period}")
    count = _analysis.states_cpu_samples(trace.events, len(trace.stacks))
    ev = trace.events
    duration = int(ev["time"][-1] - ev["time"][0]) if len(ev) else 0
    return _cpu_result(trace, count, period, duration)


def _cpu_result(trace, count: np.ndarray, period: int, duration: int) -> Profile:
    rows = np.flatnonzero(count)
    n = count[rows]
    return _sorted(Profile(trace, "cpu", _CPU_SAMPLE_TYPES, rows.astype(np.uint32),
                           np.stack([n, n * period], axis=1).astype(np.int64).reshape(-1, 2),
                           period_type=("cpu", "nanoseconds"), period=period,
                           duration=duration))


def read_profile(source, kind: str, *, period: int = CPU_PERIOD, two_pass: bool = False,
                 max_events: int | None = None, workers: int = 1) -> Profile:
    """Profile ``kind`` (``"net"``, ``"sync"``, ``"syscall"``, ``"sched"``,
    ``"cpu"``) of a trace file or buffer, read piece by piece with
    :func:`fastrace.iter_generations`: the same result as
    ``fastrace.read(source).profile(kind)`` (or ``.cpu_profile()``) in the
    memory of one piece instead of the whole event table.  The profile's
    ``trace`` is the last piece, whose string and stack tables hold the
    whole trace's.  Where Go's windows need a second pass (see
    :func:`latency_profile`) the source is read twice.  ``max_events``:
    rows per piece (``iter_generations``' default if None); ``workers``:
    as for ``iter_generations``."""
    from fastrace import _analysis
    from fastrace.trace import PIECE_EVENTS, iter_generations

    def pieces():
        return _ahead(lambda: iter_generations(source, max_events=max_events or PIECE_EVENTS,
                                               workers=workers))

    if kind != "cpu":
        _check_kind(kind)
    elif period <= 0:
        raise ValueError(f"period must be positive, not {period}")
    if kind == "cpu":
        count = np.zeros(1, dtype=np.int64)
        first = last = None
        piece = None
        for piece in pieces():
            c = _analysis.states_cpu_samples(piece.events, len(piece.stacks))
            if len(c) > len(count):
                count = np.concatenate([count, np.zeros(len(c) - len(count), np.int64)])
            count[:len(c)] += c
            if len(piece.events):
                first = int(piece.events["time"][0]) if first is None else first
                last = int(piece.events["time"][-1])
        if piece is None:
            raise _empty(source)
        return _cpu_result(piece, count, period, 0 if first is None else last - first)
    acc = _new_latency(kind)
    piece = None
    for piece in pieces():
        _feed(acc, piece)
    if piece is None:
        raise _empty(source)
    if acc.ambiguous or two_pass:
        acc.second_pass()
        for piece in pieces():
            _feed(acc, piece)
    return _latency_result(piece, kind, acc)


def _empty(source):
    from fastrace.errors import TraceFormatError

    return TraceFormatError("empty input: not a Go execution trace", offset=0)


def _sorted(p: Profile) -> Profile:
    # Largest last value first; stack row breaks ties (deterministic output).
    if len(p):
        order = np.lexsort((p.stacks, -p.values[:, -1]))
        p.stacks, p.values = p.stacks[order], p.values[order]
    return p


# ---------------------------------------------------------------- encoding

def _varint(out: bytearray, v: int) -> None:
    v &= (1 << 64) - 1         # int64 values are written as their two's complement
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _key(out: bytearray, field: int, wire: int) -> None:
    _varint(out, field << 3 | wire)


def _int(out: bytearray, field: int, v: int) -> None:
    if v:                      # proto3: zero is the default, left out
        _key(out, field, 0)
        _varint(out, v)


def _bytes(out: bytearray, field: int, b: bytes | bytearray) -> None:
    _key(out, field, 2)
    _varint(out, len(b))
    out += b


def _packed(out: bytearray, field: int, values) -> None:
    if len(values):
        body = bytearray()
        for v in values:
            _varint(body, int(v))
        _bytes(out, field, body)


def encode_profile(p: Profile) -> bytes:
    """``p`` as an uncompressed profile.proto message.  Fields written:
    sample_type (1), sample (2: location ids innermost first, values),
    location (4: id, address = PC, one line with function id and line),
    function (5: id, name, system name, file), string_table (6),
    duration_nanos (10), period_type (11), period (12)."""
    trace = p.trace
    strings: list[bytes] = [b""]
    string_index: dict[bytes, int] = {b"": 0}

    def sid(b: bytes) -> int:
        i = string_index.get(b)
        if i is None:
            i = string_index[b] = len(strings)
            strings.append(b)
        return i

    trace_string: dict[int, int] = {}   # trace string row -> pprof string index

    def tsid(row: int) -> int:
        i = trace_string.get(row)
        if i is None:
            i = trace_string[row] = sid(trace.strings[row])
        return i

    st = trace.stacks
    fr = trace.frames
    loc_ids: dict[int, int] = {}        # PC -> location id (Go keys locations by PC)
    func_ids: dict[tuple[int, int], int] = {}
    locations = bytearray()
    functions = bytearray()
    samples = bytearray()
    limit = p.max_frames
    for i in range(len(p)):
        row = int(p.stacks[i])
        start, nf = int(st["frame_start"][row]), int(st["nframes"][row])
        if limit is not None:
            nf = min(nf, limit)
        ids = []
        for pc, line, func, file in fr[start:start + nf].tolist():
            lid = loc_ids.get(pc)
            if lid is None:
                fkey = (tsid(func), tsid(file))
                fid = func_ids.get(fkey)
                if fid is None:
                    fid = func_ids[fkey] = len(func_ids) + 1
                    body = bytearray()
                    _int(body, 1, fid)
                    _int(body, 2, fkey[0])
                    _int(body, 3, fkey[0])
                    _int(body, 4, fkey[1])
                    _bytes(functions, 5, body)
                lid = loc_ids[pc] = len(loc_ids) + 1
                ln = bytearray()
                _int(ln, 1, fid)
                _int(ln, 2, line)
                body = bytearray()
                _int(body, 1, lid)
                _int(body, 3, pc)
                _bytes(body, 4, ln)
                _bytes(locations, 4, body)
            ids.append(lid)
        body = bytearray()
        _packed(body, 1, ids)
        _packed(body, 2, p.values[i].tolist())
        _bytes(samples, 2, body)
    out = bytearray()
    for typ, unit in p.sample_types:
        body = bytearray()
        _int(body, 1, sid(typ.encode()))
        _int(body, 2, sid(unit.encode()))
        _bytes(out, 1, body)
    period_type = bytearray()
    _int(period_type, 1, sid(p.period_type[0].encode()))
    _int(period_type, 2, sid(p.period_type[1].encode()))
    out += samples
    out += locations
    out += functions
    for s in strings:
        _bytes(out, 6, s)
    _int(out, 10, p.duration)
    _bytes(out, 11, period_type)
    _int(out, 12, p.period)
    return bytes(out)
