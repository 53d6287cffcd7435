"""Go's goroutine and user-task summaries, as tables.

The numbers are those of Go's ``internal/trace`` Summarizer (Go 1.27.3,
``summary.go``), the analysis behind ``go tool trace``'s goroutine, task and
region pages, recomputed by one C pass over the ordered event table
(``fastrace/_summary.pxi``).  :func:`summarize` runs it once per trace;
``Trace.goroutines()``, ``Trace.tasks()``, ``Trace.regions()``,
``Trace.logs()`` and the ``*_block_times`` / ``*_range_times`` methods
return its tables.

Times are ns on the trace clock (``events["time"]``), durations ns, ids
int64; -1 stands for "none" (never ran, no end, no parent, ...).  Names are
``str``: Go strings are bytes, and a byte that is not part of valid UTF-8
becomes one U+FFFD, as in Go's JSON.

Go's rules worth knowing when reading the numbers:

- A goroutine already there when the trace starts is "created" at the
  trace's first Sync, and counted in its first known state since then.
- A goroutine is named after the outermost frame of the first transition
  stack it has (usually its start function); "" when it never had one.
- A goroutine that blocks with reason "forever" ends there (``end_time``).
- A syscall that loses its P counts as ``syscall_time`` up to then and
  ``syscall_block_time`` after; if it is still open at the end of the
  trace, Go counts all of it as syscall time and the part without P also
  as scheduling wait.
- Ranges (GC mark assist, sweeping, stop-the-world) overlap the other
  times; ``unknown_time`` is the part of ``total_time`` in none of exec,
  scheduling wait, block, syscall and syscall block.
- Intervals still open at the end of the trace are closed at its last
  event; ``total_time`` of a goroutine that did not end runs to there.
- A goroutine created inside a region gets, in its own list, a nameless
  region of the creator's innermost region's task, opened at its creation.
- Goroutine ids can be reused (cgo callbacks on C threads); as in Go, the
  tables hold the latest goroutine with an id.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from typing import Any, Iterable, Iterator

import numpy as np

from fastrace.errors import WholeTraceRequiredError

__all__ = [
    "Summary", "summarize", "summarize_file", "logs", "goroutines_json", "tasks_json",
    "goroutines_json_chunks", "goroutines_json_bytes", "tasks_json_chunks",
    "goroutines_csv_chunks", "tasks_csv_chunks",
    "goroutines_text", "goroutines_text_chunks", "tasks_text", "GOROUTINE_TEXT_HEADER",
    "GOROUTINE_COLUMNS", "TASK_COLUMNS",
]

NO_TASK = (1 << 64) - 1

# Keys of the JSON documents, in order (fastrace issue 10).
GOROUTINE_COLUMNS = (
    "id", "name", "creation_time", "start_time", "end_time", "exec_time", "sched_wait_time",
    "syscall_time", "syscall_block_time", "block_time_by_reason", "range_time", "total_time",
    "unknown_time", "regions",
)
TASK_COLUMNS = ("id", "name", "parent", "start", "end", "logs", "regions", "goroutines")

_STATS = ("exec_time", "sched_wait_time", "block_time", "syscall_time", "syscall_block_time",
          "total_time", "unknown_time")

GOROUTINES_DTYPE = np.dtype(
    [("id", "<i8"), ("name", "O"), ("pc", "<u8"), ("creation_time", "<i8"),
     ("start_time", "<i8"), ("end_time", "<i8")]
    + [(name, "<i8") for name in _STATS] + [("regions", "<i8")])
TASKS_DTYPE = np.dtype(
    [("id", "<i8"), ("name", "O"), ("parent", "<i8"), ("start", "<i8"), ("end", "<i8"),
     ("logs", "<i8"), ("regions", "<i8"), ("goroutines", "O")])
REGIONS_DTYPE = np.dtype(
    [("goroutine", "<i8"), ("task", "<i8"), ("name", "O"), ("start", "<i8"), ("end", "<i8")]
    + [(name, "<i8") for name in _STATS]
    + [("opened_by", "O"), ("closed_by", "O"), ("listed", "?"), ("in_task", "?")])
LOGS_DTYPE = np.dtype([("time", "<i8"), ("goroutine", "<i8"), ("task", "<i8"),
                       ("category", "O"), ("message", "O")])
BLOCK_TIMES_DTYPE = np.dtype([("goroutine", "<i8"), ("reason", "O"), ("time", "<i8")])
RANGE_TIMES_DTYPE = np.dtype([("goroutine", "<i8"), ("range", "O"), ("time", "<i8")])
REGION_BLOCK_TIMES_DTYPE = np.dtype([("region", "<i8"), ("reason", "O"), ("time", "<i8")])
REGION_RANGE_TIMES_DTYPE = np.dtype([("region", "<i8"), ("range", "O"), ("time", "<i8")])

_OPENED_BY = ("none", "region", "creation")
_CLOSED_BY = ("none", "region", "goroutine end")


def _one_fffd_per_byte(err: UnicodeDecodeError):
    # Resume right after the first bad byte: every byte that is not part of
    # valid UTF-8 becomes its own U+FFFD (Go's rule; Python's "replace"
    # takes a truncated sequence as one).
    return "\ufffd", err.start + 1


codecs.register_error("fastrace-go-bytes", _one_fffd_per_byte)


def go_text(b: bytes) -> str:
    """Bytes as Go's encoding/json shows a string: UTF-8, each byte that is
    not part of a valid sequence replaced by U+FFFD."""
    return b.decode("utf-8", "fastrace-go-bytes")


def _coded_texts(strings, rows: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The str of each distinct string row of ``rows`` (each decoded once)
    and, per item of ``rows``, the index of its str in that list."""
    if not len(rows):
        return [], np.zeros(0, dtype=np.intp)
    # String rows are small numbers: marks in a table of them, not a sort.
    present = np.zeros(int(rows.max()) + 1, dtype=bool)
    present[rows] = True
    uniq = np.flatnonzero(present)
    index = np.cumsum(present, dtype=np.intp) - 1
    return [go_text(strings[int(r)]) for r in uniq], index[rows]


def _texts(strings, rows: np.ndarray) -> np.ndarray:
    """Object array of the str of each string row (each distinct row decoded once)."""
    out = np.empty(len(rows), dtype=object)
    if len(rows):
        texts, codes = _coded_texts(strings, rows)
        names = np.empty(len(texts), dtype=object)
        names[:] = texts
        out[:] = names[codes]
    return out


def _i64(a: np.ndarray) -> np.ndarray:
    """uint64 ids as int64 (2**64-1, Go's "no task", becomes -1)."""
    return np.asarray(a, dtype=np.uint64).view(np.int64)


class Summary:
    """Go's summary of a whole trace (see the module docstring).

    Tables (numpy structured arrays):

    - ``goroutines``: one row per goroutine, by id (``Trace.goroutines``).
    - ``block_times``: goroutine, reason, time: Go's ``BlockTimeByReason``,
      zero entries left out, by goroutine then reason.
    - ``range_times``: goroutine, range, time: Go's ``RangeTime``.
    - ``tasks``: one row per task, by id (``Trace.tasks``).
    - ``regions``: one row per region (``Trace.regions``).
    - ``region_block_times``, ``region_range_times``: the same maps for
      each region; ``region`` is a row of ``regions``.

    Made by :func:`summarize` (from a :class:`fastrace.Trace`) or
    :func:`summarize_file` (streaming, in bounded memory).
    """

    def __init__(self, raw: dict, strings):
        """``raw``: the tables of ``fastrace._analysis.Summarizer.finish``;
        ``strings``: the trace's :class:`fastrace.trace.StringTable`."""
        self.range_names = self._range_names(strings, raw["range_reasons"])

        from fastrace._analysis import gather_fields

        g = raw["goroutines"]
        order = np.argsort(g["id"], kind="stable")
        out = np.zeros(len(g), dtype=GOROUTINES_DTYPE)
        gather_fields(out, g, order, ("id", "pc", "creation_time", "start_time", "end_time",
                                      *_STATS, "regions"))
        names, codes = _coded_texts(strings, g["name"][order])
        texts = np.empty(len(names), dtype=object)
        texts[:] = names
        out["name"] = texts[codes]
        self.goroutines = out
        # The distinct names and each goroutine's: the JSON writer encodes
        # each name once (a few dozen for 200,000 goroutines).
        self._name_codes = (names, codes)

        self.block_times = self._times(raw["block_times"], strings, BLOCK_TIMES_DTYPE,
                                       "goroutine", "reason", None)
        self.range_times = self._times(raw["range_times"], strings, RANGE_TIMES_DTYPE,
                                       "goroutine", "range", self.range_names)

        t = raw["tasks"]
        order = np.argsort(t["id"], kind="stable")
        tasks = np.zeros(len(t), dtype=TASKS_DTYPE)
        tasks["id"] = _i64(t["id"][order])
        tasks["name"] = _texts(strings, t["name"][order])
        tasks["parent"] = _i64(t["parent"][order])
        for name in ("start", "end", "logs", "regions"):
            tasks[name] = t[name][order]
        pairs = raw["task_goroutines"]
        rank = np.empty(len(t), dtype=np.int64)
        rank[order] = np.arange(len(t))
        keys = np.unique(np.stack([rank[pairs["task"]], pairs["goroutine"]], axis=1), axis=0) \
            if len(pairs) else np.zeros((0, 2), dtype=np.int64)
        cuts = np.searchsorted(keys[:, 0], np.arange(len(t) + 1))
        gs = np.empty(len(t), dtype=object)
        gs[:] = [keys[cuts[i]:cuts[i + 1], 1].copy() for i in range(len(t))]
        tasks["goroutines"] = gs
        self.tasks = tasks
        self._task_ids = t["id"][order]              # uint64, for Go's JSON

        r = raw["regions"]
        regions = np.zeros(len(r), dtype=REGIONS_DTYPE)
        for name in ("goroutine", "start", "end", *_STATS):
            regions[name] = r[name]
        regions["task"] = _i64(r["task"])
        regions["name"] = _texts(strings, r["name"])
        regions["opened_by"] = np.array(_OPENED_BY, dtype=object)[r["start_kind"]]
        regions["closed_by"] = np.array(_CLOSED_BY, dtype=object)[r["end_kind"]]
        regions["listed"] = r["listed"] != 0
        regions["in_task"] = r["in_task"] != 0
        self.regions = regions
        self.region_block_times = self._times(raw["region_block_times"], strings,
                                              REGION_BLOCK_TIMES_DTYPE, "region", "reason", None)
        self.region_range_times = self._times(raw["region_range_times"], strings,
                                              REGION_RANGE_TIMES_DTYPE, "region", "range",
                                              self.range_names)
    @staticmethod
    def _range_names(strings, reasons: np.ndarray) -> list[str]:
        from fastrace._analysis import SUMMARY_RANGE_FIXED

        names = list(SUMMARY_RANGE_FIXED)
        for row in reasons[len(names):].tolist():
            names.append(go_text(b"stop-the-world (" + strings[row] + b")"))
        return names

    @staticmethod
    def _times(raw: np.ndarray, strings, dtype, owner: str, key: str, names) -> np.ndarray:
        out = np.zeros(len(raw), dtype=dtype)
        out[owner] = raw["owner"]
        out["time"] = raw["ns"]
        if names is None:
            out[key] = _texts(strings, raw["key"])
        else:
            table = np.array(names, dtype=object)
            out[key] = table[raw["key"]] if len(raw) else []
        if len(out):
            out = out[np.argsort(out[key], kind="stable")]
            out = out[np.argsort(out[owner], kind="stable")]
        return out


def summarize(trace) -> Summary:
    """Go's goroutine and task summary of ``trace`` (a :class:`fastrace.Trace`
    from :func:`fastrace.read`), computed once and kept on the trace."""
    from fastrace import _analysis

    s = getattr(trace, "_fastrace_summary", None)
    if s is None:
        if getattr(trace, "first_row", None) is not None:
            raise WholeTraceRequiredError(
                "goroutine and task summaries need the whole trace: this is a piece from "
                "iter_generations (use fastrace.read, or summarize_file to stream a file)")
        st = trace.strings
        raw = _analysis.summarize(trace.events, trace.stacks, trace.frames, st.data, st.offsets)
        s = Summary(raw, st)
        trace._fastrace_summary = s
    return s


def summarize_file(source, *, max_events: int | None = None, workers: int = 1) -> Summary:
    """The summary of a trace file (or bytes), read piece by piece with
    :func:`fastrace.iter_generations` (``max_events`` rows at most a piece;
    its default unless given): the event table is never held whole.

    The pieces are ordered by another thread, a few ahead of the one being
    summarized (both run without the GIL, so on two cores the summary costs
    little more than ordering the trace); errors are raised in the order of
    the trace, as without the thread.  ``workers``: as for
    ``iter_generations``."""
    from contextlib import closing

    from fastrace import _analysis
    from fastrace.analysis._ahead import ahead
    from fastrace.trace import PIECE_EVENTS, iter_generations

    z = _analysis.Summarizer()
    strings = None
    pieces = ahead(lambda: iter_generations(source, max_events=max_events or PIECE_EVENTS,
                                            workers=workers))
    with closing(pieces):
        for piece in pieces:
            st = piece.strings
            z.feed(piece.events, piece.stacks, piece.frames, st.data, st.offsets)
            strings = st
    if strings is None:
        from fastrace.errors import TraceFormatError

        raise TraceFormatError("empty input: not a Go execution trace", offset=0)
    return Summary(z.finish(), strings)


def logs(trace) -> np.ndarray:
    """One row per Log event (``Trace.logs``)."""
    from fastrace.kinds import EventKind

    ev = trace.events
    rows = np.flatnonzero(ev["kind"] == EventKind.LOG)
    out = np.zeros(len(rows), dtype=LOGS_DTYPE)
    sel = ev[rows]
    out["time"] = sel["time"]
    out["goroutine"] = sel["g"]
    out["task"] = _i64(sel["a"][:, 0])
    out["category"] = _texts(trace.strings, sel["a"][:, 1])
    out["message"] = _texts(trace.strings, sel["a"][:, 2])
    return out


# ---------------------------------------------------------------------------
# The documents of `fastrace goroutines` and `fastrace tasks`.

def _by_owner(table: np.ndarray, owner: str, key: str) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for o, k, v in zip(table[owner].tolist(), table[key].tolist(), table["time"].tolist()):
        out.setdefault(o, {})[k] = v
    return out


_CHUNK = 8192   # rows formatted at a time: bounds the Python objects alive at once


def _goroutine_chunks(s: Summary) -> Iterator[list[list]]:
    """The values of :data:`GOROUTINE_COLUMNS`, column by column, a chunk of
    rows at a time (times Go keeps as zero are 0, the two maps dicts)."""
    g = s.goroutines
    bt, rt = s.block_times, s.range_times
    empty: dict[str, int] = {}
    for lo in range(0, len(g), _CHUNK):
        part = g[lo:lo + _CHUNK]
        ids = part["id"].tolist()
        maps = []
        for table, key in ((bt, "reason"), (rt, "range")):
            owners = table["goroutine"]
            # The tables are sorted by goroutine, as the goroutines are.
            a = int(np.searchsorted(owners, ids[0], side="left"))
            b = int(np.searchsorted(owners, ids[-1], side="right"))
            m = _by_owner(table[a:b], "goroutine", key)
            maps.append([m.get(i, empty) for i in ids])
        yield [ids, part["name"].tolist(), part["creation_time"].tolist(),
               np.maximum(part["start_time"], 0).tolist(),
               np.maximum(part["end_time"], 0).tolist(),
               part["exec_time"].tolist(), part["sched_wait_time"].tolist(),
               part["syscall_time"].tolist(), part["syscall_block_time"].tolist(),
               maps[0], maps[1], part["total_time"].tolist(), part["unknown_time"].tolist(),
               part["regions"].tolist()]


def _goroutine_columns(s: Summary) -> list[list]:
    """All of :func:`_goroutine_chunks` at once."""
    cols: list[list] = [[] for _ in GOROUTINE_COLUMNS]
    for chunk in _goroutine_chunks(s):
        for c, part in zip(cols, chunk):
            c.extend(part)
    return cols


def _task_columns(s: Summary) -> list[list]:
    """The values of :data:`TASK_COLUMNS`, column by column."""
    t = s.tasks
    parent = t["parent"]
    return [[int(x) for x in s._task_ids], t["name"].tolist(),
            np.where(parent == -1, -1, parent.astype(np.uint64).astype(object)).tolist(),
            np.maximum(t["start"], 0).tolist(), np.maximum(t["end"], 0).tolist(),
            t["logs"].tolist(), t["regions"].tolist(),
            [g.tolist() for g in t["goroutines"]]]


def goroutines_json(s: Summary) -> list[dict[str, Any]]:
    """The goroutines document: one object per goroutine, by id, with the
    keys of :data:`GOROUTINE_COLUMNS`; times that Go keeps as zero (never
    started, never ended) are 0."""
    return [dict(zip(GOROUTINE_COLUMNS, row)) for row in zip(*_goroutine_columns(s))]


def tasks_json(s: Summary) -> list[dict[str, Any]]:
    """The tasks document: one object per task, by id, with the keys of
    :data:`TASK_COLUMNS`: ``parent`` -1 for none, ``start``/``end`` 0 where
    the trace has no TaskBegin/TaskEnd, ``goroutines`` sorted ids."""
    return [dict(zip(TASK_COLUMNS, row)) for row in zip(*_task_columns(s))]


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


def _json_rows(columns: list[list], keys: tuple[str, ...]) -> list[str]:
    """One JSON object per row, written column-wise: ints as they are,
    everything else through the JSON encoder (each distinct string once)."""
    parts, cols = [], []
    for key, col in zip(keys, columns):
        if all(type(v) is int for v in col):
            parts.append(f'"{key}": %d')
            cols.append(col)
            continue
        parts.append(f'"{key}": %s')
        if all(type(v) is str for v in col):
            cache = {v: _ENCODER.encode(v) for v in set(col)}
            cols.append([cache[v] for v in col])
        else:
            cols.append([_ENCODER.encode(v) for v in col])
    fmt = "{" + ", ".join(parts) + "}"
    return [fmt % row for row in zip(*cols)]


def _json_chunks(chunks: Iterable[list[list]], keys: tuple[str, ...]) -> Iterator[str]:
    """A document as JSON text, an array with one object per line, in pieces."""
    first = True
    for columns in chunks:
        if not columns[0]:
            continue
        yield ("[\n" if first else ",\n") + ",\n".join(_json_rows(columns, keys))
        first = False
    yield "[]\n" if first else "\n]\n"


def goroutines_json_chunks(s: Summary) -> Iterator[str]:
    """``fastrace goroutines --format json``: :func:`goroutines_json` as
    text, one object per line, in pieces to write one after the other."""
    for part in goroutines_json_bytes(s):
        yield part.decode("utf-8")      # rows whole: each part is UTF-8 on its own


def _blob(parts: Iterable[str]) -> tuple[bytes, np.ndarray]:
    """``parts`` as one UTF-8 blob, and the offsets of each part's bytes in
    it (part i is ``blob[off[i]:off[i + 1]]``)."""
    encoded = [p.encode("utf-8") for p in parts]
    off = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=off[1:])
    return b"".join(encoded), off


_JSON_CHUNK = 2048
"""Rows written to one bytes object by goroutines_json_bytes: ~0.7 MB, which
stays in the cache (json_rows took 0.05 s for the 66 MB of the 68 MB sched
trace, 0.09 s with 8192 rows a piece)."""


def _goroutine_maps(s: Summary, code) -> list[tuple]:
    """The goroutines' block-reason and range-time maps as the C writers
    (``json_rows``, ``text_rows``) take them: per table ``(lo, hi, key,
    time)``, goroutine ``i``'s entries being rows ``lo[i]`` to ``hi[i]``
    (the tables are sorted by goroutine, as the goroutines are by id), each
    key ``code(text)``."""
    ids = s.goroutines["id"]
    maps = []
    for table, key in ((s.block_times, "reason"), (s.range_times, "range")):
        owners = table["goroutine"]
        maps.append((np.searchsorted(owners, ids, side="left"),
                     np.searchsorted(owners, ids, side="right"),
                     np.array([code(v) for v in table[key].tolist()], dtype=np.int64),
                     table["time"]))
    return maps


def goroutines_json_bytes(s: Summary) -> Iterator[bytes]:
    """:func:`goroutines_json_chunks` as UTF-8 bytes, in pieces: each
    distinct string is encoded by Python's JSON encoder once, the rows are
    written by C (``_analysis.json_rows``)."""
    from fastrace import _analysis

    g = s.goroutines
    if not len(g):
        yield b"[]\n"
        return
    texts: dict[str, int] = {}
    row = texts.setdefault
    names, codes = s._name_codes
    names = np.array([row(v, len(texts)) for v in names], dtype=np.int64)[codes]
    maps = _goroutine_maps(s, lambda v: row(v, len(texts)))
    # Each distinct string JSON-encoded as the JSON encoder writes it (texts:
    # str -> row, rows 0, 1, ... in order), and each column's key.
    blob, off = _blob(_ENCODER.encode(t) for t in texts)
    prefixes, pre_off = _blob(("{" if i == 0 else ", ") + _ENCODER.encode(k) + ": "
                              for i, k in enumerate(GOROUTINE_COLUMNS))
    kinds = np.full(len(GOROUTINE_COLUMNS), _analysis.JSON_INT, dtype=np.uint8)
    kinds[GOROUTINE_COLUMNS.index("name")] = _analysis.JSON_TEXT
    kinds[GOROUTINE_COLUMNS.index("block_time_by_reason")] = _analysis.JSON_MAP0
    kinds[GOROUTINE_COLUMNS.index("range_time")] = _analysis.JSON_MAP1
    # The rows' values, gathered a piece at a time into a table whose
    # fields are the columns (name: its text row; the maps: unused), seen
    # as a 2-d int64 array by json_rows.
    step = _JSON_CHUNK
    buf = np.zeros(min(len(g), step), dtype=[(k, "<i8") for k in GOROUTINE_COLUMNS])
    ints = tuple(k for k, kind in zip(GOROUTINE_COLUMNS, kinds) if kind == _analysis.JSON_INT)
    times = [GOROUTINE_COLUMNS.index(k) for k in ("start_time", "end_time")]
    for lo in range(0, len(g), step):
        n = min(step, len(g) - lo)
        _analysis.gather_fields(buf[:n], g, np.arange(lo, lo + n), ints)
        v = buf[:n].view(np.int64).reshape(n, len(GOROUTINE_COLUMNS))
        v[:, GOROUTINE_COLUMNS.index("name")] = names[lo:lo + n]
        for i in times:
            np.maximum(v[:, i], 0, out=v[:, i])         # Go's zero Time
        yield b"[\n" if lo == 0 else b",\n"
        yield _analysis.json_rows(v, kinds, prefixes, pre_off, blob, off, maps, first_row=lo)
    yield b"\n]\n"


def tasks_json_chunks(s: Summary) -> Iterator[str]:
    """``fastrace tasks --format json``: :func:`tasks_json` as text, in pieces."""
    return _json_chunks([_task_columns(s)], TASK_COLUMNS)


def _csv_chunks(header: tuple[str, ...], chunks: Iterable[list[list]]) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for columns in chunks:
        w.writerows(zip(*columns))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def _compact(m: dict) -> str:
    return json.dumps(m, ensure_ascii=False, separators=(",", ":"), sort_keys=True) if m else "{}"


def _csv_text(v: str) -> str:
    """Text ``v`` as a cell of csv.writer's default dialect writes it."""
    if not v:
        return ""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([v])
    return buf.getvalue()[:-1]


def _csv_json(m: dict) -> str:
    """:func:`_compact` of ``m`` as a CSV cell: a JSON object with keys
    holds double quotes, so csv.writer's default dialect quotes the cell
    and doubles them."""
    if not m:
        return "{}"
    return '"' + _compact(m).replace('"', '""') + '"'


def goroutines_csv_chunks(s: Summary) -> Iterator[str]:
    """CSV, one row per goroutine; the two maps as JSON objects in their
    cells.  The bytes csv.writer writes (tests/test_summary.py checks), a
    row by one %-format: 2.4x faster on the 200,000 goroutines of the 68 MB
    sched trace, where csv.writer took 0.5 s."""
    texts = [i for i, k in enumerate(GOROUTINE_COLUMNS)
             if k in ("name", "block_time_by_reason", "range_time")]
    fmt = ",".join("%s" if i in texts else "%d" for i in range(len(GOROUTINE_COLUMNS))) + "\n"
    names: dict[str, str] = {}
    yield ",".join(GOROUTINE_COLUMNS) + "\n"
    for cols in _goroutine_chunks(s):
        cols[1] = [names.get(v) or names.setdefault(v, _csv_text(v)) for v in cols[1]]
        for k in (9, 10):
            cols[k] = [_csv_json(m) for m in cols[k]]
        yield "".join([fmt % row for row in zip(*cols)])


def tasks_csv_chunks(s: Summary) -> Iterator[str]:
    """CSV, one row per task; ``goroutines`` as space-separated ids."""
    cols = _task_columns(s)
    cols[7] = [" ".join(map(str, g)) for g in cols[7]]
    return _csv_chunks(TASK_COLUMNS, [cols])


def format_duration(ns: int) -> str:
    """A duration for people: 320ns, 158.977µs, 12.346ms, 1.235s."""
    a = abs(ns)
    if a < 1000:
        return f"{ns}ns"
    if a < 1000_000:
        return f"{ns / 1e3:.3f}µs"
    if a < 1000_000_000:
        return f"{ns / 1e6:.3f}ms"
    return f"{ns / 1e9:.3f}s"


def _short(text: str, width: int = 48) -> str:
    """Text cut to width characters (an ellipsis marks the cut), controls escaped."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [len(h) for h in header]
    for r in rows:
        for i, c in enumerate(r):
            if len(c) > widths[i]:
                widths[i] = len(c)
    fmt = "  ".join("{:%s%d}" % (">" if i in right else "<", w) for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header).rstrip(),
                      *(fmt.format(*r).rstrip() for r in rows)]) + "\n"


GOROUTINE_TEXT_HEADER = ("id", "name", "total", "exec", "sched wait", "block", "syscall",
                         "syscall block", "unknown", "regions", "top block reason", "top range")
"""The columns of ``fastrace goroutines``' text table (:func:`goroutines_text_chunks`)."""


def goroutines_text_chunks(s: Summary) -> Iterator[bytes]:
    """``fastrace goroutines`` (text): a table for the terminal, one line
    per goroutine by id, as UTF-8 bytes in pieces (the header line first,
    the rows a few thousand at a time, so that ``| head`` sees them
    early).  Columns :data:`GOROUTINE_TEXT_HEADER`: the name cut to 48
    characters ("(unnamed)" if empty); durations with units
    (:func:`format_duration`); the last two name the largest block reason
    and range (cut to 32, "(none)" for Go's empty reason) with its time,
    and "+n" for the n others.  Written in C (``_analysis.text_rows``)."""
    from fastrace import _analysis

    g = s.goroutines
    texts: dict[str, int] = {}
    row = texts.setdefault
    names, codes = s._name_codes
    name_rows = np.array([row(_short(v) or "(unnamed)", len(texts)) for v in names],
                         dtype=np.int64)[codes]
    # The maps' keys: each distinct reason or range name, its place in
    # code point order (ties go to the later one, as max() over (time, key)
    # does) and the text shown for it.
    key_ids: dict[str, int] = {}
    maps = _goroutine_maps(s, lambda v: key_ids.setdefault(v, len(key_ids)))
    keys = list(key_ids)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
    key_text = np.array([row(_short(k, 32) or "(none)", len(texts)) for k in keys],
                        dtype=np.int64)
    blob, off = _blob(texts)
    cols = ("id", None, "total_time", "exec_time", "sched_wait_time", "block_time",
            "syscall_time", "syscall_block_time", "unknown_time", "regions", None, None)
    K = _analysis
    kinds = np.array([K.TEXT_INT, K.TEXT_TEXT, *[K.TEXT_DUR] * 7, K.TEXT_INT, K.TEXT_TOP0,
                      K.TEXT_TOP1], dtype=np.uint8)
    right = np.array([i == 0 or 2 <= i <= 9 for i in range(len(cols))], dtype=np.uint8)
    vals = np.zeros((len(g), len(cols)), dtype=np.int64)
    for i, c in enumerate(cols):
        if c is not None:
            vals[:, i] = g[c]
    vals[:, 1] = name_rows
    args = (blob, off, rank, key_text, maps)
    widths = np.maximum(K.text_widths(vals, kinds, *args),
                        [len(h) for h in GOROUTINE_TEXT_HEADER])
    yield ("  ".join(h.rjust(w) if r else h.ljust(w) for h, w, r in
                     zip(GOROUTINE_TEXT_HEADER, widths.tolist(), right.tolist())).rstrip()
           + "\n").encode("utf-8")
    for lo in range(0, len(g), _TEXT_CHUNK):
        yield K.text_rows(vals[lo:lo + _TEXT_CHUNK], kinds, right, widths, *args, first_row=lo)


_TEXT_CHUNK = 4096
"""Lines written to one bytes object by goroutines_text_chunks."""


def goroutines_text(s: Summary) -> str:
    """:func:`goroutines_text_chunks` as one str."""
    return b"".join(goroutines_text_chunks(s)).decode("utf-8")


def tasks_text(s: Summary) -> str:
    """A table for the terminal: one line per task."""
    header = ["id", "name", "parent", "start", "end", "duration", "logs", "regions", "goroutines"]
    rows = []
    for o in tasks_json(s):
        dur = format_duration(o["end"] - o["start"]) if o["start"] and o["end"] else ""
        rows.append([str(o["id"]), _short(o["name"], 32), "" if o["parent"] == -1 else str(o["parent"]),
                     str(o["start"] or ""), str(o["end"] or ""), dur, str(o["logs"]),
                     str(o["regions"]), " ".join(map(str, o["goroutines"]))])
    return _table(header, rows, right={0, 2, 3, 4, 5, 6, 7})
