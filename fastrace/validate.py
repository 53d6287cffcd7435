"""Consistency checks of an ordered event table.

:func:`validate` walks ``Trace.events`` once with a small state machine and
returns a list of problems (empty: the table is consistent); :func:`check`
raises :class:`fastrace.TraceOrderError` for the first one.

Two groups of checks run.

**Go's invariants** (the ones Go's own trace tests apply to the events of
its reader, ``internal/trace/testtrace``), with the same leniencies:

- timestamps strictly increase (an event that goes back in time is
  reported and does not move the reference point);
- every frame of a stack but the first has a function, file, PC and line;
- Sync events count 1, 2, 3...; from trace version 1.25 on each has a clock
  snapshot with non-zero wall, monotonic and trace times, all three strictly
  increasing from one Sync to the next (the final Sync, which has no
  snapshot, is exempt; ``clock_checks=False`` skips the increase checks, as
  Go does on platforms with a coarse clock);
- labels are not empty and name a goroutine already seen;
- state transitions: each goroutine's and P's "from" state is the state its
  previous transition left it in (a first sighting must come from
  Undetermined or NotExist), nothing goes *to* Undetermined, nothing comes
  *from* Undetermined after the second Sync, and a goroutine or P does not
  stop existing while it has an active range;
- execution context: a goroutine or P that starts executing (Running or
  Syscall) binds to the event's thread, which must exist and not already run
  another one; one that stops executing must be bound to some thread, and
  a goroutine's transition stack must be the event's stack;
- ranges: a range does not begin while the same range is active on the
  same scope, and does not end unless it is active (RangeActive marks it
  active);
- tasks: a TaskBegin's id is neither 0 (the background task) nor NoTask and
  its parent is not the background task; a TaskEnd of a task whose begin
  was seen has the begin's type.

**The table's own invariants**, which Go's API guarantees by construction
but a table of numbers does not.  These always run (a row that fails them
cannot be interpreted, and the state machine skips it):

- kinds are known, each row's wire type produces its kind, states are in
  range for a goroutine or a P;
- stack, string and generation rows referenced by events, stacks and frames
  exist; string row 0 is empty.

**fastrace's additional invariants** (``extra=True``, the default):

- ids are -1 or more; a Sync's generation row points back at it;
- the first and last rows are Syncs;
- scopes of ranges agree with the execution context where Go derives the
  scope from it (STW and mark-assist ranges: the goroutine; sweep ranges:
  the P);
- every event except Syncs and CPU samples runs in the context (P and G)
  that the state transitions so far leave on its thread.  Three cases are
  exempt, as Go's reader gives them another context on purpose: a
  goroutine status naming a goroutine in a syscall (it is reported on the
  syscall's thread), the self-steal Go synthesises right before a
  ``GoDestroySyscall`` (both keep the context from before the pair), and
  CPU samples.  ``context=False`` turns this check off.

Problems read ``event <row> (<Kind> at <time>): <what>``, in row order
(within a row: table invariants, time, stacks, state machine).

The checks of the stack, frame and string tables run here with numpy; the
checks of each row run in one C pass (``fastrace/_validate.pxi``, in
``fastrace._analysis``) that returns (row, code, values) per problem, and
only the problems found are worded here.  ``engine="python"`` runs the
original per-row Python implementation instead (about 70 times slower),
kept as the reference the C pass is tested against.
"""

from __future__ import annotations

import functools

import numpy as np

from fastrace import spec as _spec
from fastrace.errors import TraceOrderError
from fastrace.kinds import BACKGROUND_TASK, NO_TASK, EventKind, GoState, ProcState, ResourceKind
from fastrace.spec import PROC_TYPES, RANGE_TYPES, STW_RANGE

__all__ = ["validate", "check", "Validator"]

_U64 = 1 << 64
_NO_GEN = _U64 - 1
_K = EventKind

# Go's time.Time zero value is 1 January of year 1, UTC.
_ZERO_WALL = (-62135596800, 0)

_GO_EXEC = frozenset({GoState.RUNNING, GoState.SYSCALL})
_PROC_EXEC = frozenset({ProcState.RUNNING})


def _code(name: str) -> int:
    return _spec.BY_NAME[name].code


_STW = frozenset(t for t, sp in RANGE_TYPES.items() if sp.range == STW_RANGE)
_BY_GOROUTINE = frozenset(t for t, sp in RANGE_TYPES.items() if sp.scope == ResourceKind.GOROUTINE)
_BY_PROC = frozenset(t for t, sp in RANGE_TYPES.items() if sp.scope == ResourceKind.PROC)
_GO_STATUS = frozenset({_code("GoStatus"), _code("GoStatusStack")})


def _kind_of_type() -> list[int]:
    """Wire type -> the event kind Go's reader gives it (BAD: none)."""
    out = [int(_K.BAD)] * 256
    for sp in _spec.SPECS:
        out[sp.code] = int(sp.kind)
    # Sync rows have no wire type (the BAD above is overridden per row).
    out[_spec.BY_NAME["Sync"].code] = int(_K.BAD)
    return out


_KIND_OF_TYPE = _kind_of_type()

def _slot_table(suffix: str) -> np.ndarray:
    """[wire type, slot] -> whether a[slot] of its rows holds a row of the
    table the suffix names (``_string``: strings, ``_stack``: stacks)."""
    out = np.zeros((256, 3), dtype=bool)
    for sp in _spec.SPECS:
        for slot, name in enumerate(sp.a_names):
            out[sp.code, slot] = name.endswith(suffix)
    return out


_STRING_SLOT = _slot_table("_string")
_STACK_SLOT = _slot_table("_stack")


def _signed(x: int) -> int:
    return x - _U64 if x >= 1 << 63 else x


def _wall(sec: int, nsec: int) -> tuple[int, int]:
    # time.Unix normalises nsec into [0, 1e9).
    carry, nsec = divmod(nsec, 1_000_000_000)
    return sec + carry, nsec


class _Thread:
    """What the transitions so far say runs on one thread."""

    __slots__ = ("m", "p", "g")

    def __init__(self, m: int):
        self.m, self.p, self.g = m, -1, -1


class _Res:
    """A goroutine's or P's last known state and the thread it is bound to."""

    __slots__ = ("state", "binding")

    def __init__(self, state: int):
        self.state = state
        self.binding: _Thread | None = None


class _Clock:
    __slots__ = ("trace", "mono", "wall")

    def __init__(self, trace: int, mono: int, wall: tuple[int, int]):
        self.trace, self.mono, self.wall = trace, mono, wall


def _clock(gen_row) -> _Clock:
    """The clock snapshot of a row of Trace.generations."""
    return _Clock(int(gen_row["clock_trace"]), int(gen_row["clock_mono"]),
                  _wall(int(gen_row["clock_sec"]), int(gen_row["clock_nsec"])))


@functools.cache
def _type_table() -> np.ndarray:
    """What the C pass needs to know of each wire type, from fastrace.spec
    (the same sets the Python engine uses)."""
    from fastrace._analysis import VALIDATE_TYPE_DTYPE

    t = np.zeros(256, dtype=VALIDATE_TYPE_DTYPE)
    t["kind"] = _KIND_OF_TYPE
    bits = np.array([1, 2, 4], dtype=np.uint8)
    t["string_slots"] = (_STRING_SLOT * bits).sum(axis=1)
    t["stack_slots"] = (_STACK_SLOT * bits).sum(axis=1)
    names = sorted({sp.range for sp in RANGE_TYPES.values()})
    for code in PROC_TYPES:
        t["is_proc"][code] = 1
    for code, sp in RANGE_TYPES.items():
        t["range_name"][code] = 1 + names.index(sp.range)
        t["range_scope"][code] = int(sp.scope)
        t["is_stw"][code] = code in _STW
    for code in _GO_STATUS:
        t["is_go_status"][code] = 1
    t.flags.writeable = False
    return t


class Validator:
    """One pass over a trace's event table; see the module docstring.

    ``go_version`` is the trace format version the rules depend on (clock
    snapshots from 25 on); by default ``trace.version``.  ``engine``:
    ``"c"`` (default) checks the rows in one C pass (``_validate.pxi``);
    ``"python"`` runs the original Python state machine below, kept as the
    reference the C pass is tested against (tests/test_validate_c.py)."""

    def __init__(self, trace, *, go_version: int | None = None, clock_checks: bool = True,
                 extra: bool = True, context: bool = True, engine: str = "c"):
        if engine not in ("c", "python"):
            raise ValueError(f"engine must be 'c' or 'python', not {engine!r}")
        self.trace = trace
        self.version = trace.version if go_version is None else go_version
        self.clock_checks = clock_checks
        self.extra = extra
        self.context = context and extra
        self.engine = engine
        self._problems: list[tuple[int, int, int, str]] = []

    # -- reporting -------------------------------------------------------

    def _at(self, row: int) -> str:
        if row < 0:
            return "table"
        ev = self.trace.events
        k = int(ev["kind"][row])
        name = str(_K(k)) if k in _K._value2member_map_ else f"kind {k}"
        return f"event {row} ({name} at {int(ev['time'][row])})"

    def _add(self, row: int, phase: int, msg: str) -> None:
        self._problems.append((row, phase, len(self._problems), msg))

    def problems(self) -> list[str]:
        return [f"{self._at(r)}: {m}" for r, _, _, m in sorted(self._problems)]

    # -- the checks --------------------------------------------------------

    def run(self) -> list[str]:
        if self.engine == "c":
            return self._run_c()
        bad_rows = self._structure()
        self._timestamps()
        self._stacks(bad_rows)
        self._walk(bad_rows)
        return self.problems()

    def _run_c(self) -> list[str]:
        """The checks of the stacks and frames tables here; those of each
        row (_structure's row checks, _timestamps, _stacks, _walk) in one C
        pass (``_validate.pxi``) that gives (row, code, values) per problem,
        already in report order; only the problems found are worded here."""
        from fastrace import _analysis

        tr = self.trace
        self._tables()
        out = self.problems()
        if len(tr.events) == 0:
            return out
        found = _analysis.validate_rows(
            tr.events, np.ascontiguousarray(tr.threads, dtype=np.int64), tr.strings,
            len(tr.stacks), self._bad_stacks_vectorised().view(np.uint8), tr.generations,
            _type_table(), self.version, self.extra, self.context, self.clock_checks)
        for row, v0, v1, code in zip(*(found[f].tolist() for f in ("row", "v0", "v1", "code"))):
            out.append(f"{self._at(row)}: {self._word(code, row, v0, v1)}")
        return out

    def _tables(self) -> None:
        """Checks of the string, stack and frame tables (reported first)."""
        tr = self.trace
        nstr = len(tr.strings)
        nstacks = len(tr.stacks)
        nframes = len(tr.frames)
        if nstr == 0 or bytes(tr.strings[0]) != b"":
            self._add(-1, 0, "string row 0 is not the empty string")
        if nstacks == 0:
            self._add(-1, 0, "the stack table has no row 0 (no stack)")
        else:
            st = tr.stacks
            end = st["frame_start"].astype(np.int64) + st["nframes"].astype(np.int64)
            for r in np.flatnonzero(end > nframes).tolist():
                self._add(-1, 0, f"stack row {r} ends past the frame table "
                                 f"({int(end[r])} > {nframes})")
        if nframes:
            fr = tr.frames
            for col in ("func", "file"):
                for r in np.flatnonzero(fr[col] >= nstr).tolist():
                    self._add(-1, 0, f"frame row {r}: {col} string row {int(fr[col][r])} "
                                     f"does not exist")

    def _structure(self) -> set[int]:
        """Table-level checks; returns rows the state machine must skip."""
        tr = self.trace
        ev = tr.events
        n = len(ev)
        nstr = len(tr.strings)
        nstacks = len(tr.stacks)
        ngen = len(tr.generations)
        bad: set[int] = set()

        self._tables()
        if n == 0:
            return bad

        kind = ev["kind"].astype(np.int64)
        typ = ev["type"].astype(np.int64)
        a = ev["a"]

        def flag(mask, what):
            for r in np.flatnonzero(mask).tolist():
                self._add(r, 0, what(r))
                bad.add(r)

        known = (kind >= 1) & (kind <= int(_K.EXPERIMENTAL))
        flag(~known, lambda r: f"unknown event kind {int(kind[r])}")
        expect = np.asarray(_KIND_OF_TYPE, dtype=np.int64)[typ]
        is_sync = kind == _K.SYNC
        ok_type = np.where(is_sync, typ == 0, expect == kind)
        # A CPU sample may also be stored without a wire type.
        ok_type |= (kind == _K.STACK_SAMPLE) & (typ == 0)
        flag(known & ~ok_type,
             lambda r: f"wire type {int(typ[r])} "
                       f"({_spec.BY_CODE[int(typ[r])].name if _spec.BY_CODE[int(typ[r])] else '?'})"
                       f" does not make a {_K(int(kind[r]))} event")
        flag(ev["stack"] >= nstacks, lambda r: f"stack row {int(ev['stack'][r])} does not exist")
        flag(ev["m"] >= len(self.trace.threads),
             lambda r: f"thread row {int(ev['m'][r])} does not exist")
        if self.extra:
            for col in ("g", "p"):
                for r in np.flatnonzero(ev[col] < -1).tolist():
                    self._add(r, 0, f"{col} = {int(ev[col][r])} is not an id or -1")

        # String and stack rows in a0..a2 (the spec's a_names say which).
        checked = known & ok_type
        for slot in range(3):
            for table, size, what in ((_STRING_SLOT, nstr, "string"),
                                      (_STACK_SLOT, nstacks, "stack")):
                flag(checked & table[typ, slot] & (a[:, slot] >= size),
                     lambda r, s=slot, what=what: (
                         f"a{s} ({_spec.BY_CODE[int(typ[r])].a_names[s]}): {what} row "
                         f"{int(a[r, s])} does not exist"))

        # State transitions: states.
        st_rows = kind == _K.STATE_TRANSITION
        is_proc = np.isin(typ, list(PROC_TYPES))
        limit = np.where(is_proc, int(max(ProcState)), int(max(GoState)))
        fs = ev["from_state"].astype(np.int64)
        ts = ev["to_state"].astype(np.int64)
        flag(st_rows & ((fs > limit) | (ts > limit)),
             lambda r: f"state {int(fs[r])}->{int(ts[r])} out of range for a "
                       f"{'P' if is_proc[r] else 'goroutine'}")

        # Syncs and generations.
        for r in np.flatnonzero(is_sync).tolist():
            gen = int(a[r, 1])
            if gen == _NO_GEN:
                continue
            if gen >= ngen:
                self._add(r, 0, f"generation row {gen} does not exist")
                bad.add(r)
            elif self.extra and "sync_row" in tr.generations.dtype.names:
                back = int(tr.generations["sync_row"][gen])
                if back != r:
                    self._add(r, 0, f"generation row {gen} names row {back} as its Sync")
        if not self.extra:
            return bad
        if not is_sync[0]:
            self._add(0, 0, "the first event is not a Sync")
        if not is_sync[-1]:
            self._add(n - 1, 0, "the last event is not a Sync")

        # Range scopes that Go derives from the execution context.
        g = ev["g"]
        p = ev["p"]
        scope = a[:, 0].astype(np.int64)  # the uint64 bit pattern, read as int64
        ranges = (kind == _K.RANGE_BEGIN) | (kind == _K.RANGE_END)
        by_g = ranges & np.isin(typ, list(_BY_GOROUTINE))
        by_p = ranges & np.isin(typ, list(_BY_PROC))
        for mask, col, vals in ((by_g, "goroutine", g), (by_p, "P", p)):
            for r in np.flatnonzero(mask & (scope != vals)).tolist():
                self._add(r, 0, f"range scope {int(scope[r])} is not the event's "
                                f"{col} {int(vals[r])}")
        return bad

    def _timestamps(self) -> None:
        t = np.asarray(self.trace.events["time"], dtype=np.int64)
        if len(t) < 2:
            return
        if t.min() > 0:
            # The reference point is the largest time so far.
            prev = np.maximum.accumulate(t)[:-1]
            for r in (np.flatnonzero(t[1:] <= prev) + 1).tolist():
                self._add(r, 1, f"time {int(t[r])} is not after {int(prev[r - 1])}")
            return
        last = 0
        for r, x in enumerate(t.tolist()):
            if last != 0 and x <= last:
                self._add(r, 1, f"time {x} is not after {last}")
            else:
                last = x

    def _bad_stacks(self) -> np.ndarray:
        """Per stack row: whether a frame after the first lacks information."""
        tr = self.trace
        st, fr = tr.stacks, tr.frames
        nstacks = len(st)
        bad = np.zeros(nstacks, dtype=bool)
        if nstacks == 0 or len(fr) == 0:
            return bad
        empty = np.array([len(s) == 0 for s in tr.strings], dtype=bool)
        nstr = len(empty)
        func = fr["func"].astype(np.int64)
        file = fr["file"].astype(np.int64)
        missing = ((fr["pc"] == 0) | (fr["line"] == 0)
                   | (func >= nstr) | empty[np.minimum(func, nstr - 1)]
                   | (file >= nstr) | empty[np.minimum(file, nstr - 1)])
        starts = st["frame_start"].astype(np.int64)
        counts = st["nframes"].astype(np.int64)
        for r in np.flatnonzero(counts > 1).tolist():
            lo = int(starts[r]) + 1
            hi = min(int(starts[r] + counts[r]), len(fr))
            if lo < hi and missing[lo:hi].any():
                bad[r] = True
        return bad

    def _bad_stacks_vectorised(self) -> np.ndarray:
        """:meth:`_bad_stacks` without a Python step per stack or string."""
        tr = self.trace
        st, fr = tr.stacks, tr.frames
        nstacks, nframes = len(st), len(fr)
        if nstacks == 0 or nframes == 0:
            return np.zeros(nstacks, dtype=bool)
        offsets = np.asarray(tr.strings.offsets, dtype=np.int64)
        nstr = len(offsets) - 1
        missing = (fr["pc"] == 0) | (fr["line"] == 0)
        if nstr <= 0:
            missing[:] = True
        else:
            empty = offsets[1:] == offsets[:-1]
            for col in ("func", "file"):
                s = fr[col].astype(np.int64)
                missing |= (s >= nstr) | empty[np.minimum(s, nstr - 1)]
        # Missing frames in [lo, hi) of each stack, from a running count.
        count = np.zeros(nframes + 1, dtype=np.int64)
        np.cumsum(missing, out=count[1:])
        starts = st["frame_start"].astype(np.int64)
        counts = st["nframes"].astype(np.int64)
        lo = starts + 1
        hi = np.minimum(starts + counts, nframes)
        return (counts > 1) & (lo < hi) & (
            count[np.clip(hi, 0, nframes)] > count[np.clip(lo, 0, nframes)])

    def _word(self, code: int, row: int, v0: int, v1: int) -> str:
        """The message of one problem of the C pass (VaCode ``code``): the
        same words as the Python engine's."""
        from fastrace._analysis import VaCode as V

        tr = self.trace
        e = tr.events[row]
        t, g, p, stk, k, typ = (int(e[f]) for f in ("time", "g", "p", "stack", "kind", "type"))
        m_row, fs, ts = int(e["m"]), int(e["from_state"]), int(e["to_state"])
        a = [int(x) for x in e["a"]]
        m = int(tr.threads[m_row]) if m_row < len(tr.threads) else None
        rid = _signed(a[0])
        if code == V.VA_UNKNOWN_KIND:
            return f"unknown event kind {k}"
        if code == V.VA_WIRE_TYPE:
            spec = _spec.BY_CODE[typ]
            return (f"wire type {typ} ({spec.name if spec else '?'}) "
                    f"does not make a {_K(k)} event")
        if code == V.VA_NO_STACK:
            return f"stack row {stk} does not exist"
        if code == V.VA_NO_THREAD:
            return f"thread row {m_row} does not exist"
        if code == V.VA_BAD_G:
            return f"g = {g} is not an id or -1"
        if code == V.VA_BAD_P:
            return f"p = {p} is not an id or -1"
        if code in (V.VA_NO_STRING_SLOT, V.VA_NO_STACK_SLOT):
            what = "string" if code == V.VA_NO_STRING_SLOT else "stack"
            return (f"a{v0} ({_spec.BY_CODE[typ].a_names[v0]}): {what} row {a[v0]} "
                    "does not exist")
        if code == V.VA_STATE_RANGE:
            return (f"state {fs}->{ts} out of range for a "
                    f"{'P' if typ in PROC_TYPES else 'goroutine'}")
        if code == V.VA_NO_GENERATION:
            return f"generation row {a[1]} does not exist"
        if code == V.VA_GENERATION_BACK:
            return f"generation row {a[1]} names row {v0} as its Sync"
        if code == V.VA_FIRST_NOT_SYNC:
            return "the first event is not a Sync"
        if code == V.VA_LAST_NOT_SYNC:
            return "the last event is not a Sync"
        if code == V.VA_SCOPE_G:
            return f"range scope {rid} is not the event's goroutine {g}"
        if code == V.VA_SCOPE_P:
            return f"range scope {rid} is not the event's P {p}"
        if code == V.VA_TIME:
            return f"time {t} is not after {v0}"
        if code == V.VA_STACK_FRAMES:
            return f"stack row {stk} has a frame without function, file, PC or line"
        if code == V.VA_TSTACK_FRAMES:
            return (f"transition stack row {a[2]} has a frame without function, file, PC "
                    "or line")
        if code == V.VA_CONTEXT:
            return (f"runs as P={p} G={g} on thread {m}, but the transitions so far leave "
                    f"P={v0} G={v1} there")
        if code == V.VA_NO_EXEC_THREAD:
            return "a goroutine or P starts executing on no thread"
        if code == V.VA_SYNC_NUMBER:
            return f"Sync N={a[0]} does not follow N={v0 % _U64}"
        n = a[0]
        if code == V.VA_SYNC_NO_CLOCK:
            return f"Sync {n} has no clock snapshot"
        if code == V.VA_SYNC_ZERO_WALL:
            return f"Sync {n} has a zero wall-clock time"
        if code == V.VA_SYNC_ZERO_MONO:
            return f"Sync {n} has a zero monotonic time"
        if code == V.VA_SYNC_ZERO_TRACE:
            return f"Sync {n} has a zero trace time"
        if code in (V.VA_SYNC_WALL, V.VA_SYNC_MONO, V.VA_SYNC_TRACE):
            now, last = _clock(tr.generations[a[1]]), _clock(tr.generations[v0])
            if code == V.VA_SYNC_WALL:
                return f"Sync {n}: wall clock {now.wall} is not after {last.wall}"
            if code == V.VA_SYNC_MONO:
                return f"Sync {n}: monotonic clock {now.mono} is not after {last.mono}"
            return f"Sync {n}: trace clock {now.trace} is not after {last.trace}"

        def text(r: int) -> bytes:
            return bytes(tr.strings[r])

        if code in (V.VA_RANGE_BEGIN, V.VA_RANGE_END):
            key, name = self._range(k, typ, a, g, p, text)
            if code == V.VA_RANGE_BEGIN:
                return f"range {_show(name)} begins on {_scope(key)} while already active there"
            return f"range {_show(name)} ends on {_scope(key)} but is not active there"
        if code == V.VA_LABEL_EMPTY:
            return "empty label"
        if code == V.VA_LABEL_G:
            return f"label for goroutine {g}, which no transition has named"
        if code == V.VA_TASK_ID:
            return f"task of type {_show(text(a[2]))} has the invalid id {a[0]}"
        if code == V.VA_TASK_PARENT:
            return (f"task {a[0]} of type {_show(text(a[2]))} has the background task "
                    "as its parent")
        if code == V.VA_TASK_TYPE:
            return (f"task {a[0]} ends with type {_show(text(a[2]))} but began with "
                    f"type {_show(text(v0))}")
        if code == V.VA_G_TO_UNDETERMINED:
            return f"goroutine {rid} goes to the Undetermined state"
        if code == V.VA_G_FROM_UNDETERMINED:
            return f"goroutine {rid} comes from Undetermined after the first Sync"
        if code == V.VA_G_RANGES:
            return f"goroutine {rid} ends with active ranges"
        if code == V.VA_G_OLD_STATE:
            return f"goroutine {rid} leaves state {_gs(fs)} but is in {_gs(v0)}"
        if code == V.VA_G_FIRST:
            return f"first transition of goroutine {rid} leaves {_gs(fs)}"
        if code == V.VA_G_BUSY_THREAD:
            return (f"goroutine {rid} starts executing on thread {m}, which already runs "
                    f"goroutine {v0}")
        if code == V.VA_G_TSTACK:
            return f"transition stack {a[2]} of goroutine {rid} is not the event's stack {stk}"
        if code == V.VA_G_UNBOUND:
            return f"goroutine {rid} stops executing but is bound to no thread"
        if code == V.VA_G_OTHER_THREAD:
            return f"goroutine {rid} stops executing on thread {v0}, which runs goroutine {v1}"
        if code == V.VA_P_TO_UNDETERMINED:
            return f"P {rid} goes to the Undetermined state"
        if code == V.VA_P_FROM_UNDETERMINED:
            return f"P {rid} comes from Undetermined after the first Sync"
        if code == V.VA_P_RANGES:
            return f"P {rid} stops existing with active ranges"
        if code == V.VA_P_OLD_STATE:
            return f"P {rid} leaves state {_ps(fs)} but is in {_ps(v0)}"
        if code == V.VA_P_FIRST:
            return f"first transition of P {rid} leaves {_ps(fs)}"
        if code == V.VA_P_BUSY_THREAD:
            return f"P {rid} starts running on thread {m}, which already has P {v0}"
        if code == V.VA_P_UNBOUND:
            return f"P {rid} stops running but is bound to no thread"
        if code == V.VA_P_OTHER_THREAD:
            return f"P {rid} stops running on thread {v0}, which has P {v1}"
        raise AssertionError(f"validation code {code} has no wording")

    def _stacks(self, bad_rows: set[int]) -> None:
        ev = self.trace.events
        if len(ev) == 0:
            return
        bad = self._bad_stacks()
        if not bad.any():
            return
        n = len(bad)
        stk = ev["stack"].astype(np.int64)
        ok = stk < n
        rows = np.flatnonzero(ok & bad[np.where(ok, stk, 0)])
        for r in rows.tolist():
            self._add(r, 2, f"stack row {int(stk[r])} has a frame without function, file, "
                            "PC or line")
        st = ev["kind"] == _K.STATE_TRANSITION
        ts = ev["a"][:, 2].astype(np.int64)
        ok = st & (ts >= 0) & (ts < n)
        rows = np.flatnonzero(ok & bad[np.where(ok, ts, 0)])
        for r in rows.tolist():
            self._add(r, 2, f"transition stack row {int(ts[r])} has a frame without "
                            "function, file, PC or line")

    # -- the state machine -------------------------------------------------

    def _walk(self, bad_rows: set[int]) -> None:
        tr = self.trace
        ev = tr.events
        if len(ev) == 0:
            return
        strings = tr.strings
        gens = tr.generations
        text_cache: dict[int, bytes] = {}

        def text(row: int) -> bytes:
            s = text_cache.get(row)
            if s is None:
                s = text_cache[row] = bytes(strings[row])
            return s

        gs: dict[int, _Res] = {}
        ps: dict[int, _Res] = {}
        ms: dict[int, _Thread] = {}
        ranges: dict[tuple[str, int | None], list[bytes]] = {}
        tasks: dict[int, bytes] = {}
        last_n = 0
        last_clock: _Clock | None = None
        add = self._add
        check_ctx = self.context
        # (thread, P) of a P that stopped running on its own thread in the
        # previous row: Go reports a GoDestroySyscall right after such a
        # synthesised self-steal in the context from before the pair.
        self_steal: tuple[int, int] | None = None

        def thread(row: int, m: int, lenient: bool) -> _Thread | None:
            if m == -1 and not lenient:
                add(row, 3, "a goroutine or P starts executing on no thread")
                return None
            t = ms.get(m)
            if t is None:
                t = ms[m] = _Thread(m)
            return t

        threads = self.trace.threads
        m_ids = threads[np.minimum(ev["m"], len(threads) - 1)]  # bad rows are skipped below
        cols = zip(ev["time"].tolist(), ev["g"].tolist(), ev["p"].tolist(), m_ids.tolist(),
                   ev["kind"].tolist(), ev["type"].tolist(), ev["a"].tolist(),
                   ev["stack"].tolist(), ev["from_state"].tolist(), ev["to_state"].tolist())
        for row, (t, g, p, m, k, typ, a, stk, fs, ts) in enumerate(cols):
            steal = self_steal
            self_steal = None
            if row in bad_rows:
                continue

            if check_ctx and k != _K.SYNC and k != _K.STACK_SAMPLE:
                here = ms.get(m)
                want_p, want_g = (here.p, here.g) if here is not None else (-1, -1)
                exempt = (typ in _GO_STATUS and ts == GoState.SYSCALL) or (
                    steal is not None and steal == (m, p) and g == want_g
                    and k == _K.STATE_TRANSITION and typ not in PROC_TYPES
                    and fs == GoState.SYSCALL and ts == GoState.NOT_EXIST)
                if not exempt and (p, g) != (want_p, want_g):
                    add(row, 3, f"runs as P={p} G={g} on thread {m}, but the transitions so "
                                f"far leave P={want_p} G={want_g} there")

            if k == _K.STATE_TRANSITION:
                rid = _signed(a[0])
                if typ in PROC_TYPES:
                    self._proc(row, rid, fs, ts, m, last_n, ps, ms, ranges, thread)
                    if fs == ProcState.RUNNING and ts != ProcState.RUNNING and p == rid:
                        self_steal = (m, rid)
                else:
                    tstack = a[2]
                    self._goroutine(row, rid, fs, ts, m, tstack, stk, last_n, gs, ranges,
                                    thread)
            elif k == _K.SYNC:
                n = a[0]
                if n != last_n + 1:
                    add(row, 3, f"Sync N={n} does not follow N={last_n}")
                clock = None
                gen = a[1]
                if gen != _NO_GEN and gen < len(gens) and gens["has_clock"][gen]:
                    clock = _clock(gens[gen])
                # The final Sync ends the trace without a generation (and is
                # all a trace of only a header has): it has no snapshot.
                if self.version >= 25 and gen != _NO_GEN and not (n > 1 and clock is None):
                    self._sync_clock(row, n, clock, last_clock)
                last_n = n
                last_clock = clock
            elif k == _K.RANGE_BEGIN or k == _K.RANGE_ACTIVE or k == _K.RANGE_END:
                key, name = self._range(k, typ, a, g, p, text)
                active = ranges.setdefault(key, [])
                if k == _K.RANGE_BEGIN:
                    if name in active:
                        add(row, 3, f"range {_show(name)} begins on {_scope(key)} while "
                                    "already active there")
                    active.append(name)
                elif k == _K.RANGE_ACTIVE:
                    if name not in active:
                        active.append(name)
                else:
                    if name not in active:
                        add(row, 3, f"range {_show(name)} ends on {_scope(key)} but is not "
                                    "active there")
                    else:
                        active.remove(name)
            elif k == _K.LABEL:
                if not text(a[0]):
                    add(row, 3, "empty label")
                if g not in gs:
                    add(row, 3, f"label for goroutine {g}, which no transition has named")
            elif k == _K.TASK_BEGIN:
                tid, parent, ttype = a[0], a[1], text(a[2])
                if tid == NO_TASK or tid == BACKGROUND_TASK:
                    add(row, 3, f"task of type {_show(ttype)} has the invalid id {tid}")
                if parent == BACKGROUND_TASK:
                    add(row, 3, f"task {tid} of type {_show(ttype)} has the background task "
                                "as its parent")
                tasks[tid] = ttype
            elif k == _K.TASK_END:
                tid, ttype = a[0], text(a[2])
                begun = tasks.pop(tid, None)
                if begun is not None and begun != ttype:
                    add(row, 3, f"task {tid} ends with type {_show(ttype)} but began with "
                                f"type {_show(begun)}")
            # Metrics, logs, regions, samples and experimental events have
            # nothing to check beyond the table invariants.

    def _sync_clock(self, row: int, n: int, clock: _Clock | None,
                    last: _Clock | None) -> None:
        add = self._add
        if clock is None:
            add(row, 3, f"Sync {n} has no clock snapshot")
            return
        if clock.wall == _ZERO_WALL:
            add(row, 3, f"Sync {n} has a zero wall-clock time")
        if clock.mono == 0:
            add(row, 3, f"Sync {n} has a zero monotonic time")
        if clock.trace == 0:
            add(row, 3, f"Sync {n} has a zero trace time")
        if not self.clock_checks or n < 2 or last is None:
            return
        if not clock.wall > last.wall:
            add(row, 3, f"Sync {n}: wall clock {clock.wall} is not after {last.wall}")
        if not clock.mono > last.mono:
            add(row, 3, f"Sync {n}: monotonic clock {clock.mono} is not after {last.mono}")
        if not clock.trace > last.trace:
            add(row, 3, f"Sync {n}: trace clock {clock.trace} is not after {last.trace}")

    @staticmethod
    def _range(k: int, typ: int, a: list[int], g: int, p: int,
               text) -> tuple[tuple[str, int | None], bytes]:
        """(scope, name) of a range event.  As in Go, the scope of a begin
        or end is the goroutine or P of the context (except the global GC
        mark phase); only RangeActive names its scope (a0)."""
        sp = RANGE_TYPES[typ]
        name = sp.range.encode()
        if typ in _STW:
            return ("Goroutine", g), name + b" (" + text(a[1]) + b")"
        if sp.scope == ResourceKind.NONE:
            return ("None", None), name
        active = k == _K.RANGE_ACTIVE
        ctx = p if sp.scope == ResourceKind.PROC else g
        return (str(ResourceKind(sp.scope)), _signed(a[0]) if active else ctx), name

    def _goroutine(self, row, gid, old, new, m, tstack, stk, last_n, gs, ranges, thread):
        add = self._add
        if new == GoState.UNDETERMINED:
            add(row, 3, f"goroutine {gid} goes to the Undetermined state")
        if last_n > 1 and old == GoState.UNDETERMINED:
            add(row, 3, f"goroutine {gid} comes from Undetermined after the first Sync")
        if new == GoState.NOT_EXIST and ranges.get(("Goroutine", gid)):
            add(row, 3, f"goroutine {gid} ends with active ranges")
        st = gs.get(gid)
        if st is not None:
            if old != st.state:
                add(row, 3, f"goroutine {gid} leaves state {_gs(old)} but is in "
                            f"{_gs(st.state)}")
            st.state = new
        else:
            if old != GoState.UNDETERMINED and old != GoState.NOT_EXIST:
                add(row, 3, f"first transition of goroutine {gid} leaves {_gs(old)}")
            st = gs[gid] = _Res(new)
        if new in _GO_EXEC:
            lenient = self.version < 22 and old == GoState.UNDETERMINED \
                and new == GoState.SYSCALL
            ctx = thread(row, m, lenient)
            if ctx is not None:
                if ctx.g != -1 and ctx.g != gid:
                    add(row, 3, f"goroutine {gid} starts executing on thread {m}, which "
                                f"already runs goroutine {ctx.g}")
                ctx.g = gid
                st.binding = ctx
        elif old in _GO_EXEC:
            if tstack != stk:
                add(row, 3, f"transition stack {tstack} of goroutine {gid} is not the "
                            f"event's stack {stk}")
            ctx = st.binding
            if ctx is None:
                add(row, 3, f"goroutine {gid} stops executing but is bound to no thread")
            else:
                if ctx.g != gid:
                    add(row, 3, f"goroutine {gid} stops executing on thread {ctx.m}, which "
                                f"runs goroutine {ctx.g}")
                ctx.g = -1
                st.binding = None

    def _proc(self, row, pid, old, new, m, last_n, ps, ms, ranges, thread):
        add = self._add
        if new == ProcState.UNDETERMINED:
            add(row, 3, f"P {pid} goes to the Undetermined state")
        if last_n > 1 and old == ProcState.UNDETERMINED:
            add(row, 3, f"P {pid} comes from Undetermined after the first Sync")
        if new == ProcState.NOT_EXIST and ranges.get(("Proc", pid)):
            add(row, 3, f"P {pid} stops existing with active ranges")
        st = ps.get(pid)
        if st is not None:
            if old != st.state:
                add(row, 3, f"P {pid} leaves state {_ps(old)} but is in {_ps(st.state)}")
            st.state = new
        else:
            if old != ProcState.UNDETERMINED and old != ProcState.NOT_EXIST:
                add(row, 3, f"first transition of P {pid} leaves {_ps(old)}")
            st = ps[pid] = _Res(new)
        if new in _PROC_EXEC:
            ctx = thread(row, m, False)
            if ctx is not None:
                if ctx.p != -1 and ctx.p != pid:
                    add(row, 3, f"P {pid} starts running on thread {m}, which already has "
                                f"P {ctx.p}")
                ctx.p = pid
                st.binding = ctx
        elif old in _PROC_EXEC:
            ctx = st.binding
            if ctx is None:
                add(row, 3, f"P {pid} stops running but is bound to no thread")
            else:
                if ctx.p != pid:
                    add(row, 3, f"P {pid} stops running on thread {ctx.m}, which has "
                                f"P {ctx.p}")
                ctx.p = -1
                st.binding = None


def _gs(s: int) -> str:
    return str(GoState(s)) if s <= max(GoState) else f"Bad({s})"


def _ps(s: int) -> str:
    return str(ProcState(s)) if s <= max(ProcState) else f"Bad({s})"


def _show(b: bytes) -> str:
    from fastrace.goquote import go_quote

    return go_quote(b)


def _scope(key: tuple[str, int | None]) -> str:
    kind, rid = key
    return kind if rid is None else f"{kind}({rid})"


def validate(trace, *, go_version: int | None = None, clock_checks: bool = True,
             extra: bool = True, context: bool = True, engine: str = "c") -> list[str]:
    """All problems found in ``trace``'s event table; [] if it is consistent.

    ``extra=False`` runs Go's checks (and the table-reference checks
    without which rows cannot be read) only; ``context=False`` skips the
    execution-context check; ``clock_checks=False`` skips the clock-increase
    checks of Sync events.  ``engine="python"`` runs the checks of each row
    in Python instead of C: the same problems, 50-100 times slower (kept as
    the reference the C pass is tested against)."""
    return Validator(trace, go_version=go_version, clock_checks=clock_checks, extra=extra,
                     context=context, engine=engine).run()


def check(trace, **kw) -> None:
    """Raise :class:`fastrace.TraceOrderError` for the first problem
    :func:`validate` finds (the message says how many there are)."""
    problems = validate(trace, **kw)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise TraceOrderError(problems[0] + more)
