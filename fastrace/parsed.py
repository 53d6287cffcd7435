"""The ``go-parsed`` text dump: ``go tool trace -d=parsed``, byte for byte.

Go's tool prints every event of its trace reader with
``fmt.Println(ev.String())``.  :func:`iter_go_parsed` yields, per row of
``Trace.events``, the string ``Event.String()`` returns in Go 1.27, so that
each item followed by a newline reproduces the tool's output.  The layout,
per event kind:

- a head ``M=<m> P=<p> G=<g> <Kind> Time=<ns>`` (ids are signed, -1 = none);
- kind-specific fields (strings in Go's ``%q`` quoting, numbers in decimal,
  task ids unsigned, metric and attribute values as ``Value{Uint64(n)}``);
- a state transition's own stack as ``\\nTransitionStack=\\n`` + frames;
- the event's stack as ``\\nStack=\\n`` + frames.

Each frame is two lines, ``\\t<func> @ 0x<pc hex>`` and ``\\t\\t<file>:<line>``,
both newline-terminated, so an event with a stack ends in a newline and the
dump shows a blank line after it.

Go prints a stack header whenever the stack *handle* is set, even when the
stack has no frames.  Three cases follow from how Go builds the handles:
a CPU sample always has a stack; the transition of a goroutine creation
(``GoCreate``, ``GoCreateBlocked``) always has one (the new goroutine's
start stack); any other stack is present iff its row is not 0.

Function and file names are printed as raw bytes; non-UTF-8 bytes pass
through unchanged (see :func:`write_go_parsed`).
"""

from __future__ import annotations

from typing import BinaryIO, Iterator

from fastrace import spec as _spec
from fastrace.goquote import go_quote
from fastrace.gotime import Zone, go_local_zone, unix_rfc3339nano
from fastrace.kinds import EventKind, ResourceKind
from fastrace.spec import METRIC_NAMES, PROC_TYPES, RANGE_TYPES, STW_RANGE

__all__ = ["iter_go_parsed", "write_go_parsed", "go_parsed_bytes"]

_U64 = 1 << 64
_I64_MIN = 1 << 63

# Go's String() of its enums: anything outside the known values is "Bad".
_KIND_NAMES = [str(k) for k in sorted(EventKind)]
_GO_STATES = ("Undetermined", "NotExist", "Runnable", "Running", "Waiting", "Syscall")
_PROC_STATES = ("Undetermined", "NotExist", "Running", "Idle")


def _state_names(names: tuple[str, ...]) -> list[str]:
    return [names[i] if i < len(names) else "Bad" for i in range(256)]


_GO_STATE = _state_names(_GO_STATES)
_PROC_STATE = _state_names(_PROC_STATES)
_KIND = [(_KIND_NAMES[i] if i < len(_KIND_NAMES) else "Bad") for i in range(256)]

# Wire types of goroutine creation: their transition stack is always shown.
_CREATE_TYPES = frozenset({_spec.BY_NAME["GoCreate"].code, _spec.BY_NAME["GoCreateBlocked"].code})
_SWEEP_END = _spec.BY_NAME["GCSweepEnd"].code

# Range wire type -> (Go's quoted name, scope kind as Go prints it); the
# stop-the-world ranges are named per event, after their kind.
_STW_TYPES = frozenset(t for t, sp in RANGE_TYPES.items() if sp.range == STW_RANGE)
_RANGES = {t: (go_quote(sp.range.encode()), str(ResourceKind(sp.scope)))
           for t, sp in RANGE_TYPES.items() if sp.range != STW_RANGE}
_QUOTED_METRICS = {t: go_quote(n.encode()) for t, n in METRIC_NAMES.items()}


def _signed(x: int) -> int:
    return x - _U64 if x >= _I64_MIN else x


class _Resolver:
    """Cached text of string and stack rows of one trace."""

    def __init__(self, trace):
        self.trace = trace
        self.strings = trace.strings
        self.threads = trace.threads
        self._quoted: dict[int, str] = {}
        self._raw: dict[int, str] = {}
        self._frames: dict[int, str] = {}
        st = trace.stacks
        self._stack_start = st["frame_start"].tolist()
        self._stack_n = st["nframes"].tolist()
        fr = trace.frames
        self._pc = fr["pc"].tolist()
        self._line = fr["line"].tolist()
        self._func = fr["func"].tolist()
        self._file = fr["file"].tolist()

    def raw(self, row: int) -> str:
        s = self._raw.get(row)
        if s is None:
            s = bytes(self.strings[row]).decode("utf-8", "surrogateescape")
            self._raw[row] = s
        return s

    def quoted(self, row: int) -> str:
        s = self._quoted.get(row)
        if s is None:
            s = go_quote(bytes(self.strings[row]))
            self._quoted[row] = s
        return s

    def frames(self, row: int) -> str:
        """The frame lines of stack ``row`` (each ending in a newline)."""
        s = self._frames.get(row)
        if s is None:
            start = self._stack_start[row]
            parts = []
            raw = self.raw
            for i in range(start, start + self._stack_n[row]):
                parts.append(f"\t{raw(self._func[i])} @ 0x{self._pc[i]:x}\n"
                             f"\t\t{raw(self._file[i])}:{self._line[i]}\n")
            s = "".join(parts)
            self._frames[row] = s
        return s


def _sync_clock(trace, zone: Zone | None) -> dict[int, str]:
    """Generation row -> the " Trace=.. Mono=.. Wall=.." text of its Sync."""
    out = {}
    gens = trace.generations
    if len(gens) == 0:
        return out
    has = gens["has_clock"].tolist()
    ct = gens["clock_trace"].tolist()
    mono = gens["clock_mono"].tolist()
    sec = gens["clock_sec"].tolist()
    nsec = gens["clock_nsec"].tolist()
    for i, h in enumerate(has):
        if h:
            if zone is None:
                zone = go_local_zone()
            out[i] = (f" Trace={ct[i]} Mono={mono[i]} "
                      f"Wall={unix_rfc3339nano(sec[i], nsec[i], zone)}")
    return out


def iter_go_parsed(trace, *, zone: Zone | None = None, start: int = 0,
                   stop: int | None = None, chunk: int = 65536) -> Iterator[str]:
    """Yield Go's ``Event.String()`` for rows ``start:stop`` of ``trace.events``.

    ``zone`` is the time zone of Sync wall clocks; by default the zone Go's
    ``time.Local`` would use in this environment (see
    :func:`fastrace.gotime.go_local_zone`).
    """
    for lines in _iter_chunks(trace, zone, start, stop, chunk):
        yield from lines


def _iter_chunks(trace, zone, start, stop, chunk) -> Iterator[list[str]]:
    ev = trace.events
    n = len(ev)
    stop = n if stop is None else min(stop, n)
    res = _Resolver(trace)
    clocks = _sync_clock(trace, zone)
    for lo in range(start, stop, chunk):
        hi = min(lo + chunk, stop)
        try:
            lines = _format_rows(ev[lo:hi], res, clocks)
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            # A row Go could not have produced (unknown type for its kind,
            # a string or stack row out of range...): name it.
            for i in range(lo, hi):
                try:
                    _format_rows(ev[i:i + 1], res, clocks)
                except (KeyError, IndexError, TypeError, AttributeError) as e:
                    raise ValueError(
                        f"event {i} (kind {int(ev[i]['kind'])}, wire type {int(ev[i]['type'])}) "
                        f"cannot be printed: {type(e).__name__}: {e}; "
                        "fastrace.validate.validate(trace) lists the table's problems") from e
            raise
        yield lines


def _format_rows(ev, res: _Resolver, clocks: dict[int, str]) -> list[str]:
    """The strings of a slice of the event table (the hot loop: one pass
    over plain Python lists, cached text for strings and stacks)."""
    K = EventKind
    ST, METRIC, LABEL, SAMPLE = K.STATE_TRANSITION, K.METRIC, K.LABEL, K.STACK_SAMPLE
    RB, RA, RE = K.RANGE_BEGIN, K.RANGE_ACTIVE, K.RANGE_END
    TB, TE, GB, GE, LOG = K.TASK_BEGIN, K.TASK_END, K.REGION_BEGIN, K.REGION_END, K.LOG
    SYNC, EXP = K.SYNC, K.EXPERIMENTAL
    qcache, fcache = res._quoted, res._frames
    quoted_miss, frames_miss = res.quoted, res.frames
    go_state, proc_state, kind_name = _GO_STATE, _PROC_STATE, _KIND
    proc_types, create_types = PROC_TYPES, _CREATE_TYPES
    half = _I64_MIN

    out: list[str] = []
    append = out.append
    cols = zip(ev["time"].tolist(), ev["g"].tolist(), ev["p"].tolist(),
               res.threads[ev["m"]].tolist(),
               ev["kind"].tolist(), ev["type"].tolist(), ev["a"].tolist(),
               ev["stack"].tolist(), ev["from_state"].tolist(), ev["to_state"].tolist())
    for t, g, p, m, k, typ, a, stk, fs, ts in cols:
        if k == ST:
            rid = a[0]
            if rid >= half:
                rid -= _U64
            reason = qcache.get(a[1]) or quoted_miss(a[1])
            if typ in proc_types:
                s = (f"M={m} P={p} G={g} StateTransition Time={t} ProcID={rid} "
                     f"{proc_state[fs]}->{proc_state[ts]} Reason={reason}")
            else:
                s = (f"M={m} P={p} G={g} StateTransition Time={t} GoID={rid} "
                     f"{go_state[fs]}->{go_state[ts]} Reason={reason}")
            ts_row = a[2]
            if ts_row or typ in create_types:
                fr = fcache.get(ts_row)
                s += "\nTransitionStack=\n" + (frames_miss(ts_row) if fr is None else fr)
        elif k == METRIC:
            s = (f"M={m} P={p} G={g} Metric Time={t} Name={_QUOTED_METRICS[typ]} "
                 f"Value=Value{{Uint64({a[0]})}}")
        elif k == SAMPLE:
            # A CPU sample's stack handle is always set, even to no frames.
            fr = fcache.get(stk)
            append(f"M={m} P={p} G={g} StackSample Time={t}\nStack=\n"
                   + (frames_miss(stk) if fr is None else fr))
            continue
        elif k == RB or k == RA or k == RE:
            s = f"M={m} P={p} G={g} {kind_name[k]} Time={t}" + _range_fields(k, typ, a, res)
        elif k == LABEL:
            s = (f"M={m} P={p} G={g} Label Time={t} Label="
                 f"{qcache.get(a[0]) or quoted_miss(a[0])} Resource=Goroutine({g})")
        elif k == TB or k == TE:
            s = (f"M={m} P={p} G={g} {kind_name[k]} Time={t} ID={a[0]} Parent={a[1]} "
                 f"Type={qcache.get(a[2]) or quoted_miss(a[2])}")
        elif k == GB or k == GE:
            s = (f"M={m} P={p} G={g} {kind_name[k]} Time={t} Task={a[0]} "
                 f"Type={qcache.get(a[1]) or quoted_miss(a[1])}")
        elif k == LOG:
            s = (f"M={m} P={p} G={g} Log Time={t} Task={a[0]} "
                 f"Category={qcache.get(a[1]) or quoted_miss(a[1])} "
                 f"Message={qcache.get(a[2]) or quoted_miss(a[2])}")
        elif k == SYNC:
            s = f"M={m} P={p} G={g} Sync Time={t} N={a[0]}" + clocks.get(a[1], "")
        elif k == EXP:
            s = f"M={m} P={p} G={g} Experimental Time={t} Name=" + _experimental(typ, a, res)
        else:
            s = f"M={m} P={p} G={g} {kind_name[k]} Time={t}"
        if stk:
            fr = fcache.get(stk)
            append(s + "\nStack=\n" + (frames_miss(stk) if fr is None else fr))
        else:
            append(s)
    return out


def _range_fields(k: int, typ: int, a: list[int], res: _Resolver) -> str:
    if typ in _STW_TYPES:
        name = go_quote(STW_RANGE.encode() + b" (" + bytes(res.strings[a[1]]) + b")")
        scope = f"Goroutine({_signed(a[0])})"
    else:
        name, kind = _RANGES[typ]
        scope = kind if kind == "None" else f"{kind}({_signed(a[0])})"
    if k != EventKind.RANGE_END:
        return f" Name={name} Scope={scope}"
    if typ == _SWEEP_END:
        return (f' Name={name} Scope={scope} Attributes=["bytes swept"=Value{{Uint64({a[1]})}}'
                f' "bytes reclaimed"=Value{{Uint64({a[2]})}}]')
    return f" Name={name} Scope={scope} Attributes=[]"


def _experimental(typ: int, a: list[int], res: _Resolver) -> str:
    sp = _spec.BY_CODE[typ]
    parts = []
    for name, v in zip(sp.args[1:], a):
        if name.endswith("string"):
            parts.append(f"{name}={res.raw(v)}")
        else:
            parts.append(f"{name}=Value{{Uint64({v})}}")
    return f"{sp.name} Args=[{', '.join(parts)}]"


def write_go_parsed(trace, out: BinaryIO, *, zone: Zone | None = None,
                    chunk: int = 16384) -> None:
    """Write the ``go tool trace -d=parsed`` dump of ``trace`` to a binary stream."""
    for lines in _iter_chunks(trace, zone, 0, None, chunk):
        if lines:
            lines.append("")
            out.write("\n".join(lines).encode("utf-8", "surrogateescape"))


def go_parsed_bytes(trace, *, zone: Zone | None = None) -> bytes:
    """The whole ``go tool trace -d=parsed`` dump of ``trace`` as bytes."""
    import io

    buf = io.BytesIO()
    write_go_parsed(trace, buf, zone=zone)
    return buf.getvalue()
