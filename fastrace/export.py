"""Tables for pandas, Arrow, Polars, DuckDB, Parquet and CSV.

Every table of a :class:`fastrace.Trace` (the event table, the per-trace
tables, the tables of trace experiments and the derived tables of the
analyses) can be had as an Arrow table with readable columns, and from
there as a pandas or Polars DataFrame, queried with SQL through DuckDB or
written to Parquet or CSV files::

    t = fastrace.read("trace.out")
    t.to_pandas()                                  # the event table
    t.to_pandas("events", resolve=True)            # strings as text
    t.to_arrow("allocfree_heap_objects")           # an experiment's table
    t.sql("select type, count(*) from events group by type")
    fastrace.export.write_tables("trace.out", "out/")   # = fastrace export

Optional dependencies (the core needs only numpy): ``to_arrow`` needs
pyarrow (``pip install 'fastrace[arrow]'``), ``to_pandas`` pandas and
pyarrow (``fastrace[pandas]``), ``to_polars`` polars and pyarrow
(``fastrace[polars]``), ``sql`` duckdb, pandas and pyarrow
(``fastrace[duckdb]``); ``fastrace[all]`` brings everything.  A missing one
raises an ImportError naming the ``pip install`` to run.

How numpy tables become Arrow tables (no Python runs per row):

- numeric columns are copied once out of the structured array (a column of
  an array of structs is strided; Arrow wants it contiguous), then handed to
  Arrow without another copy; 1-D arrays (``Trace.threads``, the string
  bytes) are shared without any copy;
- a column with a sub-array (the event table's ``a``, 3 x uint64) becomes
  one column per element: ``a0``, ``a1``, ``a2``;
- columns declared as codes of an enumeration (event kinds, states, wire
  types, AllocFree actions, ...) become dictionary columns of names
  (pandas: categorical; Polars: Categorical; DuckDB: ENUM-like), built from
  the codes present;
- columns that hold rows of ``Trace.strings`` stay row numbers by default;
  with ``resolve=True`` they become dictionary columns whose dictionary is
  the whole string table (shared, built once per trace from its bytes and
  offsets without a copy) and whose indices are the string rows themselves;
  a resolved column drops the ``_string`` suffix of its name
  (``reason_string`` -> ``reason``);
- columns that hold rows of ``Trace.threads`` become thread ids;
- padding fields (``pad0``, ...) are left out;
- with ``wall=True``, times (ns on the trace clock) get a wall-clock column
  (``timestamp[ns, UTC]``) computed from each generation's clock snapshot,
  which Go 1.25 and later write; ``ValueError`` for older traces.

Tables (``table_names(trace)`` lists those a trace has):

``events``, one row per event, in Go's order (the numpy table
``Trace.events`` with ``a`` spelled out):

- ``time`` (int64, ns on the trace clock), ``g`` (int64, -1 = none),
  ``p`` (int32, -1 = none), ``m`` (int64 thread id, -1 = none: the row of
  ``Trace.threads`` resolved), ``stack`` (uint32 row of ``stacks``, 0 = none);
- ``kind`` (``EventKind`` name: "StateTransition", "Metric", ...), ``type``
  (wire event type: "GoStart", "GoBlock", ..., "Sync" for Sync rows),
  ``resource`` ("Goroutine" or "Proc" for state transitions, else null),
  ``from_state``, ``to_state`` (``GoState``/``ProcState`` names for state
  transitions, else null);
- ``a0``, ``a1``, ``a2`` (uint64): the raw values;
- the same values by name, null in rows whose type does not have them (the
  names come from ``fastrace.spec``: ``EventSpec.a_names`` and
  ``KIND_SLOTS``, see the README's a-slot table): ``n``, ``generation``
  (Sync), ``value`` (Metric), ``proc``, ``goroutine`` (the resource of a
  transition, the scope of a range), ``reason_string``,
  ``transition_stack``, ``stw_kind_string``, ``swept_bytes``,
  ``reclaimed_bytes``, ``label_string``, ``task``, ``parent``,
  ``task_type_string``, ``region_type_string``, ``category_string``,
  ``message_string``.  Ids (``goroutine``, ``proc``, ``task``, ``parent``,
  ``generation``) are int64 with -1 for none; ``*_string`` are uint32
  string rows (text with ``resolve=True``), ``*_stack`` uint32 stack rows,
  the rest uint64.  The set of columns is the same for every trace;
  experimental events keep their arguments in ``a0..a2`` only (their
  experiment's tables say what they mean);
- with ``resolve=True``: ``stack_func``, the function of the innermost frame
  of ``stack`` (null for none); with ``wall=True``: ``wall_time``.

``threads``: ``row`` (uint32: what ``Trace.events["m"]`` holds), ``id``
(int64 thread id; row 0 is -1, none).
``strings``: ``row`` (uint32), ``string`` (text; invalid UTF-8 shown with
backslash escapes).
``stacks``: ``row``, ``frame_start`` (first row in ``frames``), ``nframes``;
with ``resolve=True`` ``func`` (innermost frame's function).
``frames``: ``row``, ``pc``, ``line``, ``func``, ``file`` (string rows, text
with ``resolve=True``).
``stack_frames``: one row per frame of every stack, for joins with
``events.stack``: ``stack`` (row of ``stacks``), ``depth`` (0 = innermost),
``frame`` (row of ``frames``), ``pc``, ``line``, ``func``, ``file``.
``generations``: ``gen``, ``sync_row``, ``clock_trace``, ``clock_mono``,
``clock_sec``, ``clock_nsec``, ``freq``, ``exp_batch_start``,
``exp_batch_count``, ``has_clock`` (see ``fastrace/_order.pxd``).
``exp_batches``: ``m`` (thread id, -1 none), ``offset``, ``length``,
``generation``, ``exp`` (experiment name).
``allocfree_info``, ``allocfree_types``, ``allocfree_type_ids``,
``allocfree_spans``, ``allocfree_heap_objects``,
``allocfree_goroutine_stacks``, ``allocfree_lifetimes``: the AllocFree
experiment's tables (``t.experiment("AllocFree").heap_objects`` etc.; columns
in :mod:`fastrace.experiments.allocfree`), with ``action`` and ``kind`` as
names; only for traces with the experiment.

More tables: :func:`register_table` maps a name to a callable on the trace
that returns a numpy structured array (or a mapping of 1-D arrays) and says
which of its columns are string rows, stack rows, thread rows, codes of an
enumeration or times.  A name that is not registered is looked up on the
trace itself: ``to_arrow("goroutines")`` calls ``t.goroutines()`` (or takes
``t.goroutines`` if it is an array); columns whose names end in ``_string``
or ``_stack`` are string and stack rows there as in the spec.

Pickling (``Trace.__reduce__``): a trace pickles with its tables (protocol
5 hands the numpy arrays over without copies), not as a path to read
again, so the copy is the same trace even when the file has changed or is
not there, and a piece of ``iter_generations`` pickles too.  The input
bytes are not carried: only the experimental batches' data are (rows of
``exp_batches`` point into them), so an unpickled trace's ``buffer`` holds
just those and its ``wire`` is None.  Caches (experiment interpretations,
derived tables) are computed again after unpickling.
"""

from __future__ import annotations

import enum
import importlib
import json
import os
import re
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from fastrace import spec as _spec
from fastrace.fields import ID_NAMES
from fastrace.kinds import EventKind, GoState, ProcState

__all__ = [
    "TableSpec",
    "register_table",
    "table_spec",
    "table_names",
    "numpy_table",
    "to_arrow",
    "to_pandas",
    "to_polars",
    "sql",
    "duckdb_connection",
    "write_tables",
    "trace_metadata",
    "EVENT_A_COLUMNS",
    "CORE_TABLES",
]


# --------------------------------------------------------------------------
# Optional dependencies


def _need(module: str, extra: str, what: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs the {module} package: "
                          f"pip install 'fastrace[{extra}]'") from None


def _pa():
    return _need("pyarrow", "arrow", "fastrace's Arrow tables")


# --------------------------------------------------------------------------
# The table registry


@dataclass(frozen=True)
class TableSpec:
    """How to get one table from a trace and what its columns hold."""

    name: str
    get: Callable[[Any], Any]                # trace -> numpy structured array or {name: 1-D array}
    strings: tuple[str, ...] = ()            # columns holding rows of Trace.strings
    stacks: tuple[str, ...] = ()             # columns holding rows of Trace.stacks
    threads: tuple[str, ...] = ()            # columns holding rows of Trace.threads (-> thread ids)
    enums: Mapping[str, Any] = field(default_factory=dict)  # code columns -> IntEnum or {code: name}
    times: tuple[str, ...] = ()              # ns on the trace clock (wall=True adds <col>_wall)
    available: Callable[[Any], bool] | None = None  # does a trace have it (None: always)
    build: Callable[..., Any] | None = None  # a builder of its own (trace, resolve, wall) -> Arrow
    doc: str = ""


_TABLES: dict[str, TableSpec] = {}


def register_table(name: str, get: Callable[[Any], Any] | None = None, *,
                   strings: Iterable[str] = (), stacks: Iterable[str] = (),
                   threads: Iterable[str] = (), enums: Mapping[str, Any] | None = None,
                   times: Iterable[str] = (), available: Callable[[Any], bool] | None = None,
                   doc: str = "") -> TableSpec:
    """Make table ``name`` known to ``to_arrow``/``sql``/``write_tables``.

    ``get(trace)`` returns the numpy table (a structured array, or a mapping
    of equal-length 1-D arrays); without it, ``trace.<name>()`` is called
    (or ``trace.<name>`` taken if it is not callable).  ``strings``,
    ``stacks``, ``threads``: columns holding rows of those tables;
    ``enums``: ``{column: IntEnum class or {code: name}}``; ``times``:
    columns of ns on the trace clock; ``available(trace)``: whether the
    trace has the table (default: ``trace`` has the attribute, when ``get``
    is not given, else always).  Replaces an earlier registration."""
    if get is None:
        get = _attribute(name)
        if available is None:
            available = lambda trace, _n=name: hasattr(trace, _n)   # noqa: E731
    s = TableSpec(name, get, tuple(strings), tuple(stacks), tuple(threads), dict(enums or {}),
                  tuple(times), available, None, doc)
    _TABLES[name] = s
    return s


def _attribute(name: str) -> Callable[[Any], Any]:
    def get(trace):
        v = getattr(trace, name)
        return v() if callable(v) else v

    get.__name__ = f"get_{name}"
    return get


def table_spec(name: str) -> TableSpec:
    """The registration of table ``name``; an unregistered name gets the
    default one (``trace.<name>()``, naming conventions only)."""
    s = _TABLES.get(name)
    if s is None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
            raise KeyError(f"no table {name!r}")
        s = TableSpec(name, _attribute(name),
                      available=lambda trace, _n=name: hasattr(trace, _n))
    return s


def table_names(trace) -> list[str]:
    """The tables ``trace`` has, in a fixed order: the core tables, the
    experiments' tables, then the registered derived tables it has."""
    out = []
    for name, s in _TABLES.items():
        try:
            ok = s.available is None or bool(s.available(trace))
        except Exception:
            ok = False
        if ok:
            out.append(name)
    return out


def numpy_table(trace, name: str):
    """The numpy table behind Arrow table ``name`` (what ``get`` returns)."""
    s = table_spec(name)
    if s.available is not None and not s.available(trace):
        raise KeyError(f"this trace has no table {name!r} (it has: {', '.join(table_names(trace))})")
    return s.get(trace)


# --------------------------------------------------------------------------
# Column builders (vectorised: Python runs per column or per distinct code,
# never per row)


def _flat(a: np.ndarray) -> np.ndarray:
    """A 1-D column as a contiguous array (a copy only when strided)."""
    return np.ascontiguousarray(a)


def _plain(pa, a: np.ndarray):
    if a.dtype.kind == "O" and len(a) == 0:
        # Nothing to infer a type from (Arrow would say null): the analyses'
        # object columns are names (str).
        return pa.array([], type=pa.string())
    if a.dtype.kind in "OUS":
        return pa.array(a.tolist() if a.dtype.kind == "O" else a)
    return pa.array(_flat(a))


def _enum_names(enum_like) -> Callable[[int], str]:
    if isinstance(enum_like, type) and issubclass(enum_like, enum.Enum):
        members = enum_like._value2member_map_
        own_str = "__str__" in enum_like.__dict__

        def name(c):
            m = members.get(c)
            if m is None:
                return f"{enum_like.__name__}({c})"
            return str(m) if own_str else m.name
        return name
    if isinstance(enum_like, Mapping):
        return lambda c: str(enum_like.get(c, c))
    return lambda c: str(enum_like(c))


def _dictionary(pa, codes: np.ndarray, names: Callable[[int], str],
                valid: np.ndarray | None = None):
    """A dictionary column of ``names(code)`` for integer ``codes``, whose
    dictionary holds the names of the distinct codes present (null where
    not ``valid``).  Codes that share a name share an entry."""
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers, not {codes.dtype}")
    sel = codes if valid is None else codes[valid]
    small = codes.dtype.kind == "u" and codes.dtype.itemsize <= 2
    if len(sel) == 0:
        present = np.zeros(0, dtype=np.int64)
    elif small:
        present = np.flatnonzero(np.bincount(sel, minlength=1))
    else:
        present = np.unique(sel)
    labels: list[str] = []
    where: dict[str, int] = {}
    code_idx = np.zeros(max(len(present), 1), dtype=np.int32)
    for j, c in enumerate(present.tolist()):     # per distinct code
        code_idx[j] = where.setdefault(names(c), len(labels))
        if code_idx[j] == len(labels):
            labels.append(names(c))
    if small:
        # A lookup table over every possible code: one gather.
        lut = np.zeros(1 << (8 * codes.dtype.itemsize), dtype=np.int32)
        lut[present] = code_idx[:len(present)]
        indices = lut[codes]
    elif len(present):
        indices = code_idx[np.minimum(np.searchsorted(present, codes), len(present) - 1)]
    else:
        indices = np.zeros(len(codes), dtype=np.int32)
    mask = None if valid is None else ~valid
    return pa.DictionaryArray.from_arrays(pa.array(indices, mask=mask),
                                          pa.array(labels, type=pa.string()))


_STRING_CACHE: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()


def _string_values(pa, strings):
    """The whole string table as one Arrow array (large_string), sharing the
    table's bytes and offsets; cached per table."""
    hit = _STRING_CACHE.get(strings)
    if hit is not None and hit[0] == len(strings):
        return hit[1]
    n = len(strings)
    offsets = np.ascontiguousarray(strings.offsets).view(np.int64)
    data = strings.data
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        # Go strings are bytes: spell invalid UTF-8 with backslash escapes
        # (distinct byte strings stay distinct, as dictionary values must).
        arr = pa.array([bytes(data[int(a):int(b)]).decode("utf-8", "backslashreplace")
                        for a, b in zip(strings.offsets[:-1], strings.offsets[1:])],
                       type=pa.large_string())
    _STRING_CACHE[strings] = (n, arr)
    return arr


def _string_rows(n_strings: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """String rows as int32 dictionary indices, and where they are out of
    range (None: nowhere; such rows become null)."""
    idx = rows.astype(np.int32)
    if len(idx) and (int(rows.max()) >= n_strings or int(idx.min()) < 0):
        bad = (rows >= n_strings) | (idx < 0)
        return np.where(bad, 0, idx).astype(np.int32), bad
    return idx, None


def _string_column(pa, trace, rows: np.ndarray, valid: np.ndarray | None = None):
    """String rows as a dictionary column over the whole string table (the
    indices are the rows; rows out of range become null)."""
    values = _string_values(pa, trace.strings)
    idx, bad = _string_rows(len(values), rows)
    if bad is not None:
        valid = ~bad if valid is None else valid & ~bad
    mask = None if valid is None else ~valid
    return pa.DictionaryArray.from_arrays(pa.array(idx, mask=mask), values)


def _leaf_funcs(trace) -> tuple[np.ndarray, np.ndarray]:
    """Per stack row: the string row of its innermost frame's function, and
    whether it has a frame."""
    st = trace.stacks
    has = st["nframes"] > 0
    start = np.where(has, st["frame_start"], 0).astype(np.intp)
    fr = trace.frames["func"]
    if len(fr) == 0:
        return np.zeros(len(st), np.uint32), np.zeros(len(st), bool)
    return fr[np.minimum(start, len(fr) - 1)], has


def _stack_func_column(pa, trace, stack_rows: np.ndarray):
    funcs, has = _leaf_funcs(trace)
    rows = stack_rows.astype(np.intp)
    ok = (rows >= 0) & (rows < len(funcs))
    rows = np.where(ok, rows, 0)
    return _string_column(pa, trace, funcs[rows], ok & has[rows])


def _wall_offsets(trace) -> tuple[np.ndarray, np.ndarray]:
    """Per generation: wall-clock ns minus trace-clock ns, and whether the
    generation has a clock snapshot."""
    g = trace.generations
    has = g["has_clock"].astype(bool)
    off = (g["clock_sec"].astype(np.int64) * 1_000_000_000 + g["clock_nsec"].astype(np.int64)
           - g["clock_trace"].astype(np.int64))
    return off, has


def _check_wall(trace) -> None:
    if not len(trace.generations) or not trace.generations["has_clock"].any():
        raise ValueError(f"wall=True: this trace (go 1.{trace.version}) has no clock snapshots; "
                         "Go 1.25 and later write them")


def _wall_column(pa, times: np.ndarray, gen: np.ndarray, off: np.ndarray, has: np.ndarray):
    valid = has[gen] & (times >= 0)
    wall = times + off[gen]
    return pa.array(wall, type=pa.timestamp("ns", tz="UTC"), mask=~valid)


def _generation_of_times(trace, times: np.ndarray) -> np.ndarray:
    """Row in ``trace.generations`` of the generation each time (ns) falls
    in: the last one that started before it.  A generation starts with its
    Sync event; where that row is not in ``trace.events`` (a piece of
    iter_generations), its clock snapshot's time stands in."""
    g = trace.generations
    if not len(g):
        return np.zeros(len(times), dtype=np.intp)
    ev = trace.events
    local = g["sync_row"].astype(np.int64) - int(getattr(trace, "first_row", 0))
    ok = (local >= 0) & (local < len(ev))
    starts = g["clock_trace"].astype(np.int64)
    starts[ok] = ev["time"][local[ok]]
    return np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(g) - 1)


# --------------------------------------------------------------------------
# The event table


def _a_columns() -> tuple[str, ...]:
    # Sync's first, then in the order of the spec table, then what only
    # KIND_SLOTS names (rows whose wire type makes another kind).
    names: list[str] = list(_spec.KIND_SLOTS[EventKind.SYNC])
    for s in _spec.SPECS:
        if s.kind not in (EventKind.BAD, EventKind.EXPERIMENTAL):
            names.extend(n for n in s.a_names if n not in names)
    for slots in _spec.KIND_SLOTS.values():
        names.extend(n for n in slots if n not in names)
    return tuple(names)


EVENT_A_COLUMNS: tuple[str, ...] = _a_columns()
"""The event table's named a-value columns, in order (same for every trace)."""


def _row_names(kind: int, typ: int) -> tuple[str, ...]:
    """What a[0..2] hold in a row of ``kind`` made by wire type ``typ``
    (as fastrace.fields.a_names, without experimental arguments)."""
    if kind == EventKind.SYNC:
        return _spec.KIND_SLOTS[EventKind.SYNC]
    if kind == EventKind.EXPERIMENTAL:
        return ()
    sp = _spec.BY_CODE[typ]
    if sp is None or sp.kind != kind:
        return _spec.KIND_SLOTS.get(kind, ())
    return sp.a_names


def _type_name(kind: int, typ: int) -> str:
    if kind == EventKind.SYNC:
        return "Sync"
    sp = _spec.BY_CODE[typ]
    return sp.name if sp is not None else f"Invalid({typ})"


def _kind_name(kind: int) -> str:
    return str(EventKind(kind)) if kind in EventKind._value2member_map_ else f"Invalid({kind})"


# The states columns share one dictionary: GoState names, then the
# ProcState names GoState lacks.  Row = code for goroutines; for Ps:
_STATE_NAMES = [str(s) for s in GoState] + ["Idle"]
_PROC_STATE_INDEX = np.array([_STATE_NAMES.index(str(ProcState(c))) if c in
                              ProcState._value2member_map_ else 0 for c in range(256)],
                             dtype=np.int8)
_GO_STATE_INDEX = np.array([c if c in GoState._value2member_map_ else 0 for c in range(256)],
                           dtype=np.int8)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(bitmap: np.ndarray, n: int) -> int:
    """Set bits among the first ``n`` of a little-endian bitmap."""
    full = n // 8
    c = int(_POPCOUNT[bitmap[:full]].sum(dtype=np.int64))
    if n % 8:
        c += bin(int(bitmap[full]) & ((1 << (n % 8)) - 1)).count("1")
    return c


def _bitmap(pa, valid: np.ndarray):
    """An Arrow validity bitmap from a bool array, and its null count."""
    return pa.py_buffer(np.packbits(valid, bitorder="little")), len(valid) - int(
        np.count_nonzero(valid))


def _with_validity(pa, typ, data: np.ndarray, bitmap):
    buf, nulls = bitmap
    if nulls == 0:
        return pa.Array.from_buffers(typ, len(data), [None, pa.py_buffer(data)])
    return pa.Array.from_buffers(typ, len(data), [buf, pa.py_buffer(data)], null_count=nulls)


BLOCK = 1 << 15
"""Rows of the event table worked on at a time.  A column of an array of
56-byte records is strided: copying each of its eleven columns out of the
whole table reads the whole table eleven times (2.3 s for 12 M rows on the
benchmark VM); doing every column of 32,768 rows (1.8 MiB of records, which
stay in the cache) before the next rows reads it once."""


def _event_columns(pa, trace, ev: np.ndarray, *, resolve: bool, wall: bool,
                   first_row: int = 0) -> tuple[list[str], list, list[bool]]:
    """The event table's columns: names, Arrow arrays and nullability.

    Everything that depends on a row's kind and wire type (kind and type
    names, resource, which named values it has and in which slot) is
    worked out per distinct (kind, type) pair present, a few dozen at most,
    in Python; rows get it through table lookups on their pair number.  The
    rows are worked on in blocks of ``BLOCK``; no Python runs per row.
    """
    n = len(ev)
    blocks = [(lo, min(lo + BLOCK, n)) for lo in range(0, n, BLOCK)]
    # Pass 1: each row's (kind, type) pair as kind << 8 | type; which occur.
    key = np.empty(n, dtype=np.uint16)
    for lo, hi in blocks:
        k = key[lo:hi]
        np.left_shift(ev["kind"][lo:hi], 8, out=k, dtype=np.uint16)
        np.bitwise_or(k, ev["type"][lo:hi], out=k)
    present = np.flatnonzero(np.bincount(key, minlength=1)) if n else np.zeros(0, np.intp)
    pairs = [divmod(int(x), 256) for x in present]
    pair_lut = np.zeros(1 << 16, dtype=np.intp)
    pair_lut[present] = np.arange(len(pairs))

    def per_pair(values, dtype):
        return np.array(list(values) or [0], dtype=dtype)

    def labelled(labels_of_pairs):
        labels: list[str] = []
        idx = []
        for x in labels_of_pairs:
            if x not in labels:
                labels.append(x)
            idx.append(labels.index(x))
        return per_pair(idx, np.int8 if len(labels) < 128 else np.int16), labels

    # Per-pair tables, and the whole-table columns they fill.
    kind_lut, kind_labels = labelled(_kind_name(k) for k, _ in pairs)
    type_lut, type_labels = labelled(_type_name(k, t) for k, t in pairs)
    is_tr_lut = per_pair((k == EventKind.STATE_TRANSITION for k, _ in pairs), bool)
    is_proc_lut = per_pair((k == EventKind.STATE_TRANSITION and t in _spec.PROC_TYPES
                            for k, t in pairs), bool)
    res_lut, res_labels = labelled("Proc" if p else "Goroutine" for p in is_proc_lut[:len(pairs)])
    names_of = [_row_names(k, t) for k, t in pairs]
    kind_idx = np.empty(n, kind_lut.dtype)
    type_idx = np.empty(n, type_lut.dtype)
    res_idx = np.empty(n, res_lut.dtype)
    # Named values: a validity bitmap per distinct set of pairs that have a
    # name (shared by the names with the same set), and the slot it is in.
    lut_of: dict = {}
    named = []
    for name in EVENT_A_COLUMNS:
        has = tuple(name in nm for nm in names_of)
        lut_of.setdefault(has, per_pair(has, bool))
        slots = {nm.index(name) for nm in names_of if name in nm}
        named.append((name, has, slots.pop() if len(slots) == 1 else (None if slots else 0)))
    bitmaps = {has: np.zeros((n + 7) // 8, np.uint8) for has in lut_of}
    # Resolved strings: per slot, the rows as int32 indices where a string
    # name has that slot, 0 elsewhere (a slot holds other values in other
    # rows; the names' bitmaps say where each is valid).
    string_luts: dict = {}
    if resolve:
        for name, has, slot in named:
            if name.endswith("_string") and slot is not None:
                string_luts[slot] = string_luts.get(slot, lut_of[has]) | lut_of[has]
        string_rows = {slot: np.zeros(n, np.int32) for slot in string_luts}
        funcs, has_frame = _leaf_funcs(trace)
        funcs = funcs.astype(np.int32)
        func_rows = np.empty(n, np.int32)
        func_bits = np.zeros((n + 7) // 8, np.uint8)
    time_ = np.empty(n, np.int64)
    g = np.empty(n, np.int64)
    p = np.empty(n, np.int32)
    m = np.empty(n, np.int64)
    stack = np.empty(n, np.uint32)
    raw = [np.empty(n, np.uint64) for _ in range(3)]
    states = {c: np.empty(n, np.int8) for c in ("from_state", "to_state")}
    tr_bits = np.zeros((n + 7) // 8, np.uint8)
    threads = trace.threads
    if len(threads) == 0 and n:
        raise ValueError("event table without a threads table")
    # Scratch of one block, reused.
    is_tr = np.empty(BLOCK, bool)
    is_proc = np.empty(BLOCK, bool)
    proc_state = np.empty(BLOCK, np.int8)
    valid = np.empty(BLOCK, bool)
    for lo, hi in blocks:
        w = hi - lo
        blk = ev[lo:hi]
        np.copyto(time_[lo:hi], blk["time"])
        np.copyto(g[lo:hi], blk["g"])
        np.copyto(p[lo:hi], blk["p"])
        np.copyto(stack[lo:hi], blk["stack"])
        np.take(threads, blk["m"], out=m[lo:hi])
        a = blk["a"]
        for j in range(3):
            np.copyto(raw[j][lo:hi], a[:, j])
        pair = pair_lut.take(key[lo:hi])
        np.take(kind_lut, pair, out=kind_idx[lo:hi])
        np.take(type_lut, pair, out=type_idx[lo:hi])
        np.take(res_lut, pair, out=res_idx[lo:hi])
        np.take(is_tr_lut, pair, out=is_tr[:w])
        # BLOCK is a multiple of 8: each block fills whole bytes of a bitmap.
        tr_bits[lo // 8:(hi + 7) // 8] = np.packbits(is_tr[:w], bitorder="little")
        np.take(is_proc_lut, pair, out=is_proc[:w])
        for col, out in states.items():
            code = blk[col]
            o = out[lo:hi]
            np.copyto(o, code, casting="unsafe")          # GoState: the code is the row
            np.take(_PROC_STATE_INDEX, code, out=proc_state[:w])
            np.copyto(o, proc_state[:w], where=is_proc[:w])
        for has, lut in lut_of.items():
            np.take(lut, pair, out=valid[:w])
            bitmaps[has][lo // 8:(hi + 7) // 8] = np.packbits(valid[:w], bitorder="little")
        for slot, lut in string_luts.items():
            np.take(lut, pair, out=valid[:w])
            np.copyto(string_rows[slot][lo:hi], raw[slot][lo:hi], casting="unsafe",
                      where=valid[:w])
        if resolve:
            st = stack[lo:hi]
            np.take(funcs, st, out=func_rows[lo:hi], mode="clip")
            np.take(has_frame, st, out=valid[:w], mode="clip")
            valid[:w] &= st < len(has_frame)
            func_bits[lo // 8:(hi + 7) // 8] = np.packbits(valid[:w], bitorder="little")
    del key

    names: list[str] = []
    cols: list = []
    nullable: list[bool] = []

    def add(name, arr, null=False):
        names.append(name)
        cols.append(arr)
        nullable.append(null)

    def validity(bitmap):
        return pa.py_buffer(bitmap), n - _popcount(bitmap, n)

    def dictionary(idx, labels, bits=None):
        typ = pa.from_numpy_dtype(idx.dtype)
        ind = pa.array(idx) if bits is None else _with_validity(pa, typ, idx, bits)
        return pa.DictionaryArray.from_arrays(ind, pa.array(labels, type=pa.string()))

    add("time", pa.array(time_))
    add("g", pa.array(g))
    add("p", pa.array(p))
    add("m", pa.array(m))
    add("stack", pa.array(stack))
    add("kind", dictionary(kind_idx, kind_labels))
    add("type", dictionary(type_idx, type_labels))
    tr = validity(tr_bits)
    add("resource", dictionary(res_idx, res_labels, tr), True)
    for col, out in states.items():
        add(col, dictionary(out, _STATE_NAMES, tr), True)
    for j in range(3):
        add(f"a{j}", pa.array(raw[j]))
    bits_of = {has: validity(b) for has, b in bitmaps.items()}
    strings = _string_values(pa, trace.strings) if resolve else None
    for name, has, slot in named:
        bits = bits_of[has]
        if slot is None:            # in different slots by type: not so in today's spec
            pair = pair_lut[(ev["kind"].astype(np.intp) << 8) | ev["type"]]
            slot_of = per_pair([nm.index(name) if name in nm else 0 for nm in names_of],
                               np.intp)[pair]
            vals = np.take_along_axis(ev["a"], slot_of[:, None], 1)[:, 0].copy()
            rows = np.where(lut_of[has][pair], vals, 0).astype(np.int32)
        else:
            vals = raw[slot]
            rows = string_rows[slot] if name.endswith("_string") and resolve else None
        if name.endswith("_string") and resolve:
            if len(rows) and int(rows.max()) >= len(strings):
                raise ValueError(f"{name}: string row out of range")
            add(name[:-len("_string")], pa.DictionaryArray.from_arrays(
                _with_validity(pa, pa.int32(), rows, bits), strings), True)
        elif name in ID_NAMES:
            add(name, _with_validity(pa, pa.int64(), vals.view(np.int64), bits), True)
        else:                       # numbers, and string and stack rows unresolved
            add(name, _with_validity(pa, pa.uint64(), vals, bits), True)
    if resolve:
        add("stack_func", pa.DictionaryArray.from_arrays(
            _with_validity(pa, pa.int32(), func_rows, validity(func_bits)), strings), True)
    if wall:
        add("wall_time", _events_wall(pa, trace, time_, first_row), True)
    return names, cols, nullable


def _events_wall(pa, trace, times: np.ndarray, first_row: int):
    """Wall-clock times of rows ``first_row ...`` of the event table: each
    generation's rows (from its Sync row on) with its own clock snapshot."""
    off, has = _wall_offsets(trace)
    sync = trace.generations["sync_row"].astype(np.int64) - first_row
    wall = np.empty(len(times), dtype=np.int64)
    valid = np.zeros(len(times), dtype=bool)
    bounds = np.append(np.clip(sync, 0, len(times)), len(times))
    bounds[0] = 0
    for g in range(len(sync)):                 # per generation
        lo, hi = int(bounds[g]), int(bounds[g + 1])
        if hi > lo:
            np.add(times[lo:hi], off[g], out=wall[lo:hi])
            valid[lo:hi] = has[g]
    return _with_validity(pa, pa.timestamp("ns", tz="UTC"), wall, _bitmap(pa, valid))


def _events_arrow(trace, *, resolve: bool, wall: bool, rows: slice | None = None,
                  events: np.ndarray | None = None, first_row: int | None = None):
    pa = _pa()
    if wall:
        _check_wall(trace)
    ev = trace.events if events is None else events
    if rows is not None:
        ev = ev[rows]
    if first_row is None:
        first_row = int(getattr(trace, "first_row", 0)) + (rows.start or 0 if rows is not None
                                                            else 0)
    names, cols, nullable = _event_columns(pa, trace, ev, resolve=resolve, wall=wall,
                                           first_row=first_row)
    return _make_table(pa, names, cols, nullable, "events")


def _make_table(pa, names, cols, nullable, table: str):
    fields = [pa.field(n, c.type, nullable=nl) for n, c, nl in zip(names, cols, nullable)]
    return pa.Table.from_arrays(cols, schema=pa.schema(fields, metadata={"fastrace.table": table}))


# --------------------------------------------------------------------------
# Generic tables


def _columns(data) -> Iterator[tuple[str, np.ndarray]]:
    """(name, 1-D array) for each column of a structured array or mapping;
    sub-arrays split into name0, name1, ...; padding left out."""
    if isinstance(data, Mapping):
        items = [(k, np.asarray(v)) for k, v in data.items()]
    else:
        arr = np.asarray(data)
        if arr.dtype.names is None:
            raise TypeError(f"expected a structured array or a mapping of columns, "
                            f"got an array of {arr.dtype}")
        items = [(n, arr[n]) for n in arr.dtype.names]
    for n, a in items:
        if re.fullmatch(r"pad\d*", n):
            continue
        if a.ndim == 1:
            yield n, a
        else:
            flat = a.reshape(len(a), -1)
            for j in range(flat.shape[1]):
                yield f"{n}{j}", flat[:, j]


def _generic_arrow(trace, s: TableSpec, data, *, resolve: bool, wall: bool):
    pa = _pa()
    if isinstance(data, pa.Table):
        return data
    if hasattr(data, "__arrow_c_stream__") and not isinstance(data, (np.ndarray, Mapping)):
        return pa.table(data)                # a DataFrame of pandas, Polars, ...
    if wall:
        _check_wall(trace)
        off, has = _wall_offsets(trace)
    names, cols, nullable = [], [], []

    def add(name, arr, null=False):
        names.append(name)
        cols.append(arr)
        nullable.append(null or arr.null_count > 0)

    for n, a in _columns(data):
        if n in s.enums:
            add(n, _dictionary(pa, a, _enum_names(s.enums[n])))
        elif n in s.threads:
            add(n, pa.array(trace.threads[a.astype(np.intp)]))
        elif (n in s.strings or n.endswith("_string")) and a.dtype.kind in "iu":
            if resolve:
                add(n[:-len("_string")] if n.endswith("_string") else n,
                    _string_column(pa, trace, a))
            else:
                add(n, pa.array(_flat(a)))
        else:
            add(n, _plain(pa, a))
        if resolve and (n in s.stacks or n.endswith("_stack")) and a.dtype.kind in "iu":
            add(f"{n}_func", _stack_func_column(pa, trace, a), True)
        if wall and n in s.times and a.dtype.kind in "iu":
            t = a.astype(np.int64)
            add(f"{n}_wall", _wall_column(pa, t, _generation_of_times(trace, t), off, has), True)
    return _make_table(pa, names, cols, nullable, s.name)


# --------------------------------------------------------------------------
# Built-in tables


def _strings_arrow(trace, resolve: bool, wall: bool):
    pa = _pa()
    n = len(trace.strings)
    cols = [pa.array(np.arange(n, dtype=np.uint32)), _string_values(pa, trace.strings)]
    return _make_table(pa, ["row", "string"], cols, [False, False], "strings")


def _stacks_arrow(trace, resolve: bool, wall: bool):
    pa = _pa()
    st = trace.stacks
    names = ["row", "frame_start", "nframes"]
    cols = [pa.array(np.arange(len(st), dtype=np.uint32)), pa.array(_flat(st["frame_start"])),
            pa.array(_flat(st["nframes"]))]
    nullable = [False, False, False]
    if resolve:
        funcs, has = _leaf_funcs(trace)
        names.append("func")
        cols.append(_string_column(pa, trace, funcs, has))
        nullable.append(True)
    return _make_table(pa, names, cols, nullable, "stacks")


def _stack_frames(trace) -> dict:
    st = trace.stacks
    nf = st["nframes"].astype(np.int64)
    total = int(nf.sum())
    stack = np.repeat(np.arange(len(st), dtype=np.uint32), nf)
    ends = np.cumsum(nf)
    depth = np.arange(total, dtype=np.int64) - np.repeat(ends - nf, nf)
    frame = np.repeat(st["frame_start"].astype(np.int64), nf) + depth
    fr = trace.frames[frame]
    return {"stack": stack, "depth": depth.astype(np.uint32), "frame": frame.astype(np.uint32),
            "pc": fr["pc"], "line": fr["line"], "func": fr["func"], "file": fr["file"]}


def _with_rows(arr: np.ndarray) -> dict:
    out = {"row": np.arange(len(arr), dtype=np.uint32)}
    out.update({n: arr[n] for n in arr.dtype.names})
    return out


def _has_experiment(name: str) -> Callable[[Any], bool]:
    return lambda trace: name in trace.experiments()


def _experiment_table(exp: str, attr: str) -> Callable[[Any], Any]:
    def get(trace):
        v = getattr(trace.experiment(exp), attr)
        return v() if callable(v) else v

    return get


def _builtin(name: str, get: Callable, build: Callable, doc: str) -> None:
    _TABLES[name] = TableSpec(name, get, build=build, doc=doc)


_builtin("events", lambda t: t.events,
         lambda t, resolve, wall: _events_arrow(t, resolve=resolve, wall=wall),
         "one row per event, in Go's order")
register_table("threads", lambda t: {"row": np.arange(len(t.threads), dtype=np.uint32),
                                     "id": t.threads},
               available=lambda t: True, doc="thread (M) ids; events.m holds them resolved")
_builtin("strings", lambda t: t.strings, _strings_arrow, "the string table")
_builtin("stacks", lambda t: t.stacks, _stacks_arrow, "one row per stack")
register_table("frames", lambda t: _with_rows(t.frames), strings=("func", "file"),
               available=lambda t: True, doc="one row per stack frame")
register_table("stack_frames", _stack_frames, strings=("func", "file"),
               available=lambda t: True, doc="every frame of every stack, innermost first")
register_table("generations", lambda t: t.generations, times=("clock_trace",),
               available=lambda t: True, doc="one row per generation")
register_table("exp_batches", lambda t: t.exp_batches, enums={"exp": _spec.EXPERIMENTS},
               available=lambda t: True, doc="experimental batches")

CORE_TABLES = tuple(_TABLES)
"""The tables every trace has, which ``write_tables`` writes streaming."""


def _register_allocfree() -> None:
    from fastrace.experiments import allocfree as af

    ctx = dict(enums={"action": af.Action}, times=("time",),
               available=_has_experiment("AllocFree"))
    for attr, extra in (
        ("info", dict(times=(), enums={})),
        ("types", dict(times=(), enums={})),
        ("type_ids", dict(times=(), enums={})),
        ("spans", dict(enums={"action": af.Action, "kind": af.SpanKind})),
        ("heap_objects", {}),
        ("goroutine_stacks", {}),
        ("lifetimes", dict(times=("alloc_time", "free_time"), enums={})),
    ):
        register_table(f"allocfree_{attr}", _experiment_table("AllocFree", attr),
                       **{**ctx, **extra}, doc=f'Trace.experiment("AllocFree").{attr}')


_register_allocfree()

# Derived tables other parts of fastrace add to Trace as methods: listed so
# that write_tables and sql find them on traces that have them.  Their
# column roles follow the naming conventions until registered here with
# more (register_table(name, strings=..., enums=...)).
def _derived_available(name: str) -> Callable[[Any], bool]:
    """A derived table is there when the trace has a method of that name
    that takes no arguments (or an array attribute)."""
    import inspect

    def available(trace) -> bool:
        fn = getattr(type(trace), name, None)
        if callable(fn):
            try:
                inspect.signature(fn).bind(trace)
            except (TypeError, ValueError):
                return False
            return True
        return isinstance(getattr(trace, name, None), np.ndarray)

    return available


def _register_derived() -> None:
    """The analyses' tables (fastrace.analysis), with their column roles."""
    from fastrace.kinds import GoState, ResourceKind

    def whole(name):
        # Derived tables need the whole trace (pieces of iter_generations
        # refuse them): a piece simply does not list them.
        base = _derived_available(name)
        return lambda t: base(t) and getattr(t, "first_row", None) is None

    for name, kw in (
        ("goroutines", dict(times=("creation_time", "start_time", "end_time"))),
        ("goroutine_block_times", {}),
        ("goroutine_range_times", {}),
        ("states", dict(strings=("reason",), stacks=("stack", "transition_stack"),
                        enums={"state": GoState, "prev_state": GoState}, times=("start", "end"))),
        ("ranges", dict(enums={"scope_kind": ResourceKind}, times=("start", "end"))),
        ("tasks", dict(times=("start", "end"))),
        ("regions", dict(times=("start", "end"))),
        ("logs", dict(times=("time",))),
    ):
        register_table(name, available=whole(name), **kw)
    gc_whole = whole("gc")
    register_table("gc_cycles", lambda t: t.gc().cycles, times=("start", "end"),
                   available=gc_whole)
    register_table("stw_pauses", lambda t: t.gc().pauses, times=("start", "end"),
                   available=gc_whole)
    register_table("heap", lambda t: t.gc().heap, times=("time",), available=gc_whole)
    register_table("heap_goal", lambda t: t.gc().heap_goal, times=("time",), available=gc_whole)


_register_derived()


# --------------------------------------------------------------------------
# Public conversions


def to_arrow(trace, name: str = "events", *, resolve: bool = False, wall: bool = False):
    """Table ``name`` of ``trace`` as a ``pyarrow.Table`` (see the module
    docstring for the tables and their columns).  ``resolve``: strings as
    text (dictionary columns over the string table) and stacks' innermost
    functions; ``wall``: wall-clock columns for times (Go 1.25+ traces)."""
    s = table_spec(name)
    if s.available is not None and not s.available(trace):
        raise KeyError(f"this trace has no table {name!r} "
                       f"(it has: {', '.join(table_names(trace))})")
    if s.build is not None:
        return s.build(trace, resolve, wall)
    return _generic_arrow(trace, s, s.get(trace), resolve=resolve, wall=wall)


_PANDAS_NULLABLE = None


def _pandas_mapper(pa, pd):
    global _PANDAS_NULLABLE
    if _PANDAS_NULLABLE is None:
        _PANDAS_NULLABLE = {
            pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
            pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(),
            pa.uint16(): pd.UInt16Dtype(), pa.uint32(): pd.UInt32Dtype(),
            pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype(),
        }
    return _PANDAS_NULLABLE.get


def arrow_to_pandas(table):
    """An Arrow table as a pandas DataFrame: dictionary columns become
    categoricals; integer columns that may hold nulls (the schema says so)
    become pandas' nullable integer types, so that 64-bit values stay exact
    (plain conversion would make them float64); the rest plain numpy."""
    pa = _pa()
    pd = _need("pandas", "pandas", "to_pandas")
    mapper = _pandas_mapper(pa, pd)
    data = {}
    for f, col in zip(table.schema, table.columns):
        data[f.name] = col.to_pandas(types_mapper=mapper if f.nullable else None)
    return pd.DataFrame(data, copy=False) if data else pd.DataFrame(index=range(table.num_rows))


def to_pandas(trace, name: str = "events", *, resolve: bool = False, wall: bool = False):
    """Table ``name`` as a pandas DataFrame (see :func:`to_arrow` and
    :func:`arrow_to_pandas`)."""
    for module in ("pandas", "pyarrow"):
        _need(module, "pandas", "to_pandas")
    return arrow_to_pandas(to_arrow(trace, name, resolve=resolve, wall=wall))


def to_polars(trace, name: str = "events", *, resolve: bool = False, wall: bool = False):
    """Table ``name`` as a Polars DataFrame (dictionary columns become
    Categorical; see :func:`to_arrow`)."""
    pl = _need("polars", "polars", "to_polars")
    _need("pyarrow", "polars", "to_polars")
    return pl.from_arrow(to_arrow(trace, name, resolve=resolve, wall=wall))


# --------------------------------------------------------------------------
# DuckDB

_CONNECTIONS: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def duckdb_connection(trace, *, resolve: bool = True, wall: bool = False, tables=None):
    """An in-memory DuckDB connection with ``tables`` (default: all of
    ``table_names(trace)``) registered as views over their Arrow tables
    (DuckDB scans Arrow memory without copying it).  Cached per trace,
    ``resolve`` and ``wall``: later calls register only what is missing."""
    duckdb = _need("duckdb", "duckdb", "Trace.sql")
    per = _CONNECTIONS.setdefault(trace, {})
    key = (resolve, wall)
    if key not in per:
        per[key] = (duckdb.connect(":memory:"), {})
    con, held = per[key]
    for name in (table_names(trace) if tables is None else tables):
        if name not in held:
            held[name] = to_arrow(trace, name, resolve=resolve, wall=wall)
            con.register(name, held[name])
    return con


def sql(trace, query: str, *, resolve: bool = True, wall: bool = False):
    """Run ``query`` with DuckDB on the trace's tables; returns a pandas
    DataFrame.  Every table of :func:`table_names` can be named; only those
    the query names are built (once per trace: the connection and its
    tables are cached while the trace lives).  Strings are resolved by
    default (``resolve=False`` for string rows)."""
    for module in ("duckdb", "pandas", "pyarrow"):
        _need(module, "duckdb", "Trace.sql")
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", query)}
    names = [n for n in table_names(trace) if n.lower() in words]
    con = duckdb_connection(trace, resolve=resolve, wall=wall, tables=names)
    return con.execute(query).df()


# --------------------------------------------------------------------------
# Pickling


def trace_state(trace) -> dict:
    """What a pickled :class:`fastrace.Trace` carries (see the module
    docstring): its tables, and the experimental batches' bytes."""
    eb = trace.exp_batches.copy()
    chunks = []
    pos = 0
    buf = trace.buffer
    for i in range(len(eb)):                 # per batch, not per event
        off, n = int(eb["offset"][i]), int(eb["length"][i])
        chunks.append(bytes(buf[off:off + n]))
        eb["offset"][i] = pos
        pos += n
    state = {
        "version": trace.version,
        "tables": {
            "events": trace.events, "threads": trace.threads,
            "string_data": bytes(trace.strings.data), "string_offsets": trace.strings.offsets,
            "stacks": trace.stacks, "frames": trace.frames,
            "generations": trace.generations, "exp_batches": eb,
        },
        "exp_data": b"".join(chunks),
    }
    for attr in ("first_row", "generation"):
        if hasattr(trace, attr):
            state[attr] = getattr(trace, attr)
    return state


def trace_from_state(state: dict):
    from fastrace.trace import Trace

    t = Trace(None, state["tables"], version=state["version"],
              buffer=memoryview(state["exp_data"]))
    for attr in ("first_row", "generation"):
        if attr in state:
            setattr(t, attr, state[attr])
    return t


# --------------------------------------------------------------------------
# Files: Parquet and CSV

ROW_GROUP = 1 << 19
"""Rows of the event table written at a time (and per Parquet row group):
524,288 rows are ~29 MiB of numpy rows and ~60 MiB of Arrow columns, few
enough to keep the export's memory small, many enough that Parquet's per
row group costs (a dictionary page per string column) stay small."""


def trace_metadata(trace, source_name: str | None = None, events: int | None = None) -> dict:
    """The facts written into every file's metadata (as strings)."""
    from fastrace import __version__
    from fastrace.info import WRITERS

    return {
        "fastrace.trace_version": f"go 1.{trace.version} trace",
        "fastrace.go_versions": WRITERS.get(trace.version, "?"),
        "fastrace.generations": str(len(trace.generations)),
        "fastrace.events": str(len(trace.events) if events is None else events),
        "fastrace.source": source_name or "",
        "fastrace.version": __version__,
    }


COMPACT_DICTIONARY = 1024
"""A dictionary column written to a file with a dictionary longer than
this (a string column's is the whole string table) is written with only
the entries its rows use: Parquet encodes the whole Arrow dictionary into
every row group (0.2 s and 50 KB for 100,000 strings)."""


def _compact_dictionaries(pa, t):
    cols = []
    changed = False
    for col in t.columns:
        if pa.types.is_dictionary(col.type) and col.num_chunks == 1 \
                and len(col.chunk(0).dictionary) > COMPACT_DICTIONARY:
            col = _compact(pa, col.chunk(0))
            changed = True
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=t.schema) if changed else t


def _compact(pa, arr):
    """A dictionary array with only the dictionary entries used.  Null
    slots are counted too (they hold in-range indices here)."""
    ind = arr.indices
    width = ind.type.bit_width // 8
    raw = np.frombuffer(ind.buffers()[1], dtype=f"i{width}", count=len(ind) + ind.offset)
    raw = raw[ind.offset:]
    used = np.flatnonzero(np.bincount(raw, minlength=len(arr.dictionary)))
    lut = np.zeros(len(arr.dictionary), dtype=raw.dtype)
    lut[used] = np.arange(len(used), dtype=raw.dtype)
    new = pa.Array.from_buffers(ind.type, len(ind), [ind.buffers()[0], pa.py_buffer(lut[raw])],
                                null_count=ind.null_count, offset=0) if ind.offset == 0 else \
        pa.array(lut[raw], mask=ind.is_null().to_numpy(zero_copy_only=False))
    return pa.DictionaryArray.from_arrays(new, arr.dictionary.take(pa.array(used)))


_STATISTICS = frozenset({"time", "wall_time", "g", "alloc_time", "free_time"})



def _csv_column(pa, c):
    """A column CSV can hold: dictionaries decoded to their values, lists
    (a task's goroutines) as their items joined by spaces."""
    if pa.types.is_dictionary(c.type):
        return c.dictionary_decode()
    if pa.types.is_list(c.type) or pa.types.is_large_list(c.type):
        import pyarrow.compute as pc

        return pc.binary_join(c.cast(pa.list_(pa.string())), " ")
    return c

class _Sink:
    """One table's output file, written a batch at a time.  Batches are
    encoded on a thread of their own (pyarrow releases the GIL), so that
    the next batch is built meanwhile; at most one waits."""

    def __init__(self, path: str, fmt: str, table: str, static_meta: dict):
        self.path, self.fmt, self.table = path, fmt, table
        self.meta = dict(static_meta, **{"fastrace.table": table})
        self.writer = None
        self.rows = 0
        self.pending = None
        self.pool = None

    def write(self, t) -> None:
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(1, thread_name_prefix="fastrace-export")
        self.wait()
        self.pending = self.pool.submit(self._write, t)

    def wait(self) -> None:
        if self.pending is not None:
            f, self.pending = self.pending, None
            f.result()

    def _write(self, t) -> None:
        pa = _pa()
        if self.fmt == "csv":
            from pyarrow import csv

            cols = [_csv_column(pa, c) for c in (col.combine_chunks() for col in t.columns)]
            t = pa.Table.from_arrays(cols, names=t.column_names)
            if self.writer is None:
                self.writer = csv.CSVWriter(self.path, t.schema)
        else:
            import pyarrow.parquet as pq

            if self.writer is None:
                schema = t.schema.with_metadata({**(t.schema.metadata or {}),
                                                 **{k.encode(): v.encode()
                                                    for k, v in self.meta.items()}})
                # Parquet's own dictionary encoding only where Arrow has one:
                # trying it on columns of distinct numbers (time) costs a third
                # of the writing time and gains nothing.
                # Statistics (min/max per row group, for readers that skip
                # row groups) only for the times and goroutines: for every
                # column they cost 40% of the writing time.
                dict_cols = [f.name for f in schema if pa.types.is_dictionary(f.type)]
                stats = [n for n in schema.names if n in _STATISTICS or n.endswith("_wall")]
                self.writer = pq.ParquetWriter(self.path, schema, compression="zstd",
                                               use_dictionary=dict_cols or False,
                                               write_statistics=stats or False)
            t = _compact_dictionaries(pa, t).replace_schema_metadata(self.writer.schema.metadata)
        self.writer.write_table(t)
        self.rows += t.num_rows

    def close(self, final_meta: dict) -> None:
        try:
            self.wait()
        finally:
            if self.pool is not None:
                self.pool.shutdown()
        if self.writer is None:
            return
        if self.fmt == "parquet":
            self.writer.add_key_value_metadata(final_meta)
        self.writer.close()

    def abort(self) -> None:
        """After a failure: stop, and remove the incomplete file."""
        try:
            self.wait()
        except Exception:
            pass
        if self.pool is not None:
            self.pool.shutdown()
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            if os.path.exists(self.path):
                os.remove(self.path)


def write_tables(source, out_dir: str, *, format: str = "parquet", tables=None,
                 resolve: bool = True, wall: bool | None = None,
                 source_name: str | None = None, row_group: int = ROW_GROUP,
                 on_table: Callable[[str, str, int], None] | None = None) -> dict[str, str]:
    """Write the tables of trace ``source`` (anything ``fastrace.read``
    takes, or a :class:`fastrace.Trace`) into directory ``out_dir``, one
    file per table named after it (``events.parquet``, ``strings.parquet``,
    ...; ``.csv`` with ``format="csv"``).  ``tables``: names (default: all
    the trace has); ``resolve``: strings as text (default here, so that the
    files read alone); ``wall``: wall-clock columns (default: when the trace
    has clock snapshots).  Parquet files carry the trace's metadata
    (``fastrace.trace_version``, ``fastrace.go_versions``,
    ``fastrace.generations``, ``fastrace.events``, ``fastrace.source``,
    ``fastrace.table``) in their key-value metadata; CSV gets a
    ``metadata.json`` beside it.

    Memory: when only the core tables are asked for and ``source`` is not
    already a Trace, the event table is decoded with
    ``fastrace.iter_generations`` and written ``row_group`` rows at a time,
    so the whole table is never held.  Experiment and derived tables need
    the whole trace (``fastrace.read``); the event table is then written in
    the same slices from it.  Returns ``{table: path}``; ``on_table(name,
    path, rows)`` is called as each file is done.
    """
    from fastrace.trace import Trace, read
    from fastrace.wire import iter_wire_generations, open_source

    _pa()
    if format not in ("parquet", "csv"):
        raise ValueError(f"format must be 'parquet' or 'csv', not {format!r}")
    if format == "parquet":
        _need("pyarrow.parquet", "arrow", "Parquet output")
    os.makedirs(out_dir, exist_ok=True)
    if source_name is None:
        source_name = os.path.basename(os.fspath(source)) \
            if isinstance(source, (str, os.PathLike)) else ""
    ext = "parquet" if format == "parquet" else "csv"
    written: dict[str, str] = {}

    if isinstance(source, Trace):
        trace, keep = source, None
    else:
        trace = None
        view, keep = open_source(source)
        if isinstance(keep, (bytes, bytearray)) or keep is None:
            keep = view
        has_exp = False
        if tables is None:
            # Experiment tables need the whole trace; experiments write
            # batches into the first generation (AllocFree: its info batch).
            first = next(iter_wire_generations(view, index_only=True), None)
            has_exp = first is not None and len(first.exp_batches) > 0
    wanted = list(tables) if tables is not None else None
    if wanted is not None:
        for n in wanted:
            table_spec(n)                # unknown names fail before any work
    needs_full = trace is None and (
        (wanted is None and (has_exp or bool(_derived_on_class())))
        or (wanted is not None and any(n not in CORE_TABLES for n in wanted)))
    if trace is None and needs_full:
        trace = read(keep)

    open_sinks: list = []

    def finish(name, sink, meta):
        sink.close(meta)
        open_sinks.remove(sink)
        written[name] = sink.path
        if on_table is not None:
            on_table(name, sink.path, sink.rows)

    def sink_for(name, meta):
        sink = _Sink(os.path.join(out_dir, f"{name}.{ext}"), format, name, meta)
        open_sinks.append(sink)
        return sink

    try:
        return _write(trace, keep, wanted, wall, resolve, row_group, source_name, format,
                      out_dir, written, sink_for, finish)
    except BaseException:
        for sink in open_sinks:
            sink.abort()
        raise


def _write(trace, keep, wanted, wall, resolve, row_group, source_name, format, out_dir,
           written, sink_for, finish):
    from fastrace.trace import iter_generations

    if trace is not None:
        names = table_names(trace) if wanted is None else wanted
        if wall is None:
            wall = bool(len(trace.generations) and trace.generations["has_clock"].any())
        elif wall:
            _check_wall(trace)
        meta = trace_metadata(trace, source_name)
        for name in names:
            sink = sink_for(name, meta)
            if name == "events":
                n = len(trace.events)
                for lo in range(0, max(n, 1), row_group):
                    sink.write(_events_arrow(trace, resolve=resolve, wall=wall,
                                             rows=slice(lo, min(lo + row_group, n))))
            else:
                s = table_spec(name)
                sink.write(to_arrow(trace, name, resolve=resolve,
                                    wall=wall and bool(s.times or s.build)))
            finish(name, sink, meta)
        _write_json(out_dir, format, meta)
        return written

    # Streaming: the event table piece by piece, then the other core tables
    # from the last piece (its tables hold everything seen).
    names = list(CORE_TABLES) if wanted is None else wanted
    sink = sink_for("events", {}) if "events" in names else None
    # Pieces are copied into one reused buffer, so that iter_generations can
    # reuse each piece's memory for the next (fresh memory is slow).
    batch = np.empty(row_group if sink is not None else 0, dtype=_event_dtype())
    batch_rows = 0
    batch_first = 0
    last = None
    total = 0
    for piece in iter_generations(keep):
        if last is None:
            if wall is None:
                wall = bool(piece.generations["has_clock"].any())
            elif wall:
                _check_wall(piece)
            static = trace_metadata(piece, source_name)
            static.pop("fastrace.generations")
            static.pop("fastrace.events")
            if sink is not None:
                sink.meta.update(static)
        last = piece
        total += len(piece.events)
        if sink is None:
            continue
        ev = piece.events
        while len(ev):
            if batch_rows == 0:
                batch_first = piece.first_row + len(piece.events) - len(ev)
            k = min(len(ev), row_group - batch_rows)
            batch[batch_rows:batch_rows + k] = ev[:k]
            batch_rows += k
            ev = ev[k:]
            if batch_rows >= row_group:
                # The Arrow table holds copies: the buffer can be refilled
                # while it is written.
                sink.write(_events_arrow(piece, resolve=resolve, wall=wall,
                                         events=batch[:batch_rows], first_row=batch_first))
                batch_rows = 0
        del ev
    if last is None:
        raise ValueError("empty trace")
    if batch_rows:
        sink.write(_events_arrow(last, resolve=resolve, wall=wall, events=batch[:batch_rows],
                                 first_row=batch_first))
    meta = trace_metadata(last, source_name, events=total)
    if sink is not None:
        finish("events", sink, meta)
    for name in names:
        if name == "events":
            continue
        s = sink_for(name, meta)
        spec_ = table_spec(name)
        s.write(to_arrow(last, name, resolve=resolve, wall=wall and bool(spec_.times)))
        finish(name, s, meta)
    _write_json(out_dir, format, meta)
    return written


def _event_dtype():
    from fastrace._order import EVENT_DTYPE

    return EVENT_DTYPE


def _derived_on_class() -> list[str]:
    from fastrace.trace import Trace

    probe = object.__new__(Trace)
    return [n for n, s in _TABLES.items()
            if n not in CORE_TABLES and not n.startswith("allocfree_")
            and callable(getattr(Trace, n, None)) and s.available is not None
            and s.available(probe)]


def _write_json(out_dir: str, fmt: str, meta: dict) -> None:
    if fmt == "csv":
        with open(os.path.join(out_dir, "metadata.json"), "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
