"""A trace as a timeline for trace viewers: Perfetto's protobuf format.

:func:`timeline` turns a whole :class:`fastrace.Trace` into tracks and what
lies on them, from the analyses fastrace already computes (no optional
package needed); :func:`write_perfetto` writes that as a Perfetto trace
(``TracePacket``/``TrackEvent`` messages of the protos shipped in the
``perfetto`` package: ``pip install 'fastrace[perfetto]'``), and
:func:`fastrace.chromejson.write_chrome_json` as the Trace Event Format
JSON that ``chrome://tracing`` and Go's own trace viewer read.  Both
writers put the same content on the same tracks:

| group | one track per | slices / events |
| --- | --- | --- |
| Procs | P | the goroutine running on it: "G12 main.worker" (``t.states()``, Running; as in Go's viewer, one slice through a system call that kept the P) |
| Goroutines | goroutine in ``t.states()`` | each state interval: running slices named by the goroutine's function (``t.goroutines()["name"]``; "G12" without one), "Runnable", "Waiting: REASON", "Syscall" |
| Threads | M that made a system call | "syscall G12" per Syscall interval |
| GC | range name | GC mark phases, stop-the-world pauses (by kind), mark assists ("GC mark assist G12"), sweeps ("GC incremental sweep P3") (``t.ranges()``) |
| Tasks | lane | user tasks (``t.tasks()``) as nested slices: a task lies inside its parent where their times allow |
| Regions | goroutine (and lane) | user regions (``t.regions()``) as nested slices |
| Logs | one track | ``t.logs()`` as instant events "category: message" |
| Counters | counter | heap (``t.gc().heap``), heap goal, and the number of goroutines Running, Runnable, Waiting, in Syscall |

As Go's viewer does, a goroutine found Running or in Syscall with no
earlier record (it was so when tracing began) is drawn from the trace's
start.  The Procs slices equal those of ``go tool trace``'s proc view
except after a system call that blocked, where Go's slice goes on until
the P is taken and fastrace's ends as the call begins
(``tests/test_perfetto.py`` compares them).

Slices whose times overlap without nesting (tasks, regions, ranges of one
name, a thread's syscalls) go to numbered lanes: extra tracks named
"NAME (2)", "NAME (3)"; so every track's slices nest properly.  Times
open at the trace's bounds (a task begun before tracing, a region still
open) are drawn to the trace's first or last timestamp.

Perfetto times are ns on the trace clock, as in ``Trace.events["time"]``.
The file is written in chunks of :data:`CHUNK` packets (a ``Trace``
message of them serialized and appended: concatenated ``Trace`` messages
are one ``Trace``), so the output never sits whole in memory; what the
writer holds beyond the trace is the tables above.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Iterator

import numpy as np

from fastrace.kinds import GoState

__all__ = ["Track", "Slices", "Instants", "Counter", "Timeline", "timeline", "state_counts",
           "write_perfetto", "CHUNK"]

CHUNK = 8192
"""Packets (or JSON events) written at a time."""

GROUPS = ("Procs", "Goroutines", "Threads", "GC", "Tasks", "Regions", "Logs", "Counters")
"""Track groups, in display order."""

COUNTED_STATES = (GoState.RUNNING, GoState.RUNNABLE, GoState.WAITING, GoState.SYSCALL)


def _require(module: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{module.split('.')[0]} is needed for this: "
                          f"pip install 'fastrace[{extra}]'") from None


@dataclasses.dataclass
class Track:
    """One track: ``id`` (1, 2, ...; unique in a :class:`Timeline`),
    ``group`` (one of :data:`GROUPS`), ``name``, ``order`` (rank in its
    group), ``kind``: "slice", "instant" or "counter"."""

    id: int
    group: str
    name: str
    order: int
    kind: str = "slice"


@dataclasses.dataclass
class Slices:
    """A set of slices of one ``category`` (e.g. "running"): one row per
    slice in parallel arrays ``track`` (Track.id), ``start``/``end`` (ns),
    ``code`` (int32: row of ``names``, the slice's name), and ``args``
    (name -> int64 array, shown with each slice; -1 = none).  Per track,
    slices are in start order and nest properly.  Names are kept as codes
    into a short table, not a string per slice: a large trace has
    millions of slices and a few hundred names."""

    category: str
    track: np.ndarray
    start: np.ndarray
    end: np.ndarray
    code: np.ndarray
    names: np.ndarray
    args: dict = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.track)

    @property
    def name(self) -> np.ndarray:
        """Each slice's name: object array of str."""
        return self.names[self.code]


@dataclasses.dataclass
class Instants:
    """Instant events on one track: ``time`` (ns), ``name`` (object array),
    ``args`` (name -> int64 array)."""

    category: str
    track: int
    time: np.ndarray
    name: np.ndarray
    args: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Counter:
    """A counter track's values: ``time`` (ns, increasing) and ``value``
    (int64, the value from that time on)."""

    track: int
    time: np.ndarray
    value: np.ndarray


@dataclasses.dataclass
class Timeline:
    """What :func:`timeline` gives: ``tracks`` (list of :class:`Track`),
    ``slices`` (:class:`Slices`, or functions that build them: use
    :meth:`iter_slices`), ``instants``, ``counters``, and the trace's time
    bounds ``start``/``end`` (ns)."""

    tracks: list
    slices: list
    instants: list
    counters: list
    start: int
    end: int

    def iter_slices(self) -> Iterator[Slices]:
        """Each set of slices in turn.  The sets made from the goroutine
        state table (one row per interval: millions in a large trace) are
        built when reached, so a writer holds one of them at a time."""
        for s in self.slices:
            yield s() if callable(s) else s

    def _new_track(self, group: str, name: str, order: int, kind: str = "slice") -> int:
        t = Track(len(self.tracks) + 1, group, name, order, kind)
        self.tracks.append(t)
        return t.id


def state_counts(states: np.ndarray, state: int) -> tuple[np.ndarray, np.ndarray]:
    """How many goroutines are in ``state`` (a ``GoState``) over time, from
    the intervals of ``Trace.states()``: ``(time, count)`` arrays, one row
    per distinct time an interval begins or ends, the count holding from that
    time to the next row."""
    keep = states["state"] == state
    starts = np.sort(states["start"][keep])
    ends = np.sort(states["end"][keep])
    t = np.sort(np.concatenate([starts, ends]))
    # Distinct times by a sorted pass (np.unique's hashing path is 20x
    # slower here: 43 s against 2 s for 8.8 M times).
    t = t[np.r_[True, t[1:] != t[:-1]]] if len(t) else t
    # Open at t: begun at or before t, not yet ended at t.
    c = (np.searchsorted(starts, t, side="right")
         - np.searchsorted(ends, t, side="right")).astype(np.int64)
    return t, c


def _lanes(start: np.ndarray, end: np.ndarray, key: np.ndarray | None = None) -> np.ndarray:
    """A lane (0, 1, ...) for each interval such that on each lane (per
    ``key``) intervals either follow each other or nest: an interval goes on
    the first lane whose innermost open interval contains it.  Intervals
    must be given in start order with, on ties, the longer first."""
    lane = np.zeros(len(start), np.int64)
    open_: dict = {}                          # key -> per lane, stack of open ends
    keys = key.tolist() if key is not None else [0] * len(start)
    for i, (s, e, k) in enumerate(zip(start.tolist(), end.tolist(), keys)):
        stacks = open_.setdefault(k, [])
        for n, stack in enumerate(stacks):
            while stack and stack[-1] <= s:
                stack.pop()
            if not stack or stack[-1] >= e:
                stack.append(e)
                lane[i] = n
                break
        else:
            stacks.append([e])
            lane[i] = len(stacks) - 1
    return lane


def _executions(st: np.ndarray, on_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A goroutine's stretches on a P as Go's viewer draws them: a Running
    interval, and with it a system call that returned without losing the P
    (Running, Syscall, Running again on the same P, back to back) and the
    Running interval after it.  Returns the rows of ``st`` where each
    stretch begins and ends, in the order of its first row."""
    order = np.lexsort((np.arange(len(st)), st["g"]))       # per goroutine, in time order
    g, state, p = st["g"][order], st["state"][order], st["p"][order]
    s, e = st["start"][order], st["end"][order]
    # Row i (Running) joins row i+2 (Running) through row i+1 (Syscall).
    same = np.zeros(len(order), bool)
    if len(order) > 2:
        same[:-2] = ((g[:-2] == g[2:]) & (g[1:-1] == g[:-2])
                     & (state[:-2] == GoState.RUNNING) & (state[1:-1] == GoState.SYSCALL)
                     & (state[2:] == GoState.RUNNING) & (p[:-2] == p[2:])
                     & (e[:-2] == s[1:-1]) & (e[1:-1] == s[2:]))
    keep = on_p[order]
    joined_from_before = np.zeros(len(order), bool)
    joined_from_before[2:] = same[:-2]
    first = np.flatnonzero(keep & ~joined_from_before)
    # A stretch's last row: the first Running row at or after its start
    # that no join continues.
    stop = np.flatnonzero(keep & ~same)
    begins, ends = order[first], order[stop[np.searchsorted(stop, first)]]
    o = np.argsort(begins, kind="stable")
    return begins[o], ends[o]


def _coded(names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Object array of str -> (int32 codes, table of distinct names)."""
    if len(names) == 0:
        return np.zeros(0, np.int32), np.zeros(0, object)
    table, code = np.unique(names.astype(str), return_inverse=True)
    return code.reshape(-1).astype(np.int32), table.astype(object)


def _in_order(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    return np.lexsort((-(end - start), start))


def _lane_tracks(tl: Timeline, group: str, base: str, lane: np.ndarray, order: int,
                 cache: dict) -> np.ndarray:
    ids = np.empty(len(lane), np.int64)
    for n in np.unique(lane).tolist():
        key = (group, base, n)
        if key not in cache:
            cache[key] = tl._new_track(group, base if n == 0 else f"{base} ({n + 1})",
                                       order * 1000 + n)
        ids[lane == n] = cache[key]
    return ids


def timeline(trace) -> Timeline:
    """The tracks and their content for ``trace`` (a whole trace from
    :func:`fastrace.read`); see the module docstring."""

    ev = trace.events
    t0 = int(ev["time"][0]) if len(ev) else 0
    t1 = int(ev["time"][-1]) if len(ev) else 0
    tl = Timeline([], [], [], [], t0, t1)

    st = trace.states()
    gs = trace.goroutines()
    # Columns copied out of the state table one by one, not as rows of
    # it: a view of a column keeps the whole 72-byte row alive.
    names_by_g = dict(zip(gs["id"].tolist(), gs["name"].tolist()))
    label = {g: (n or f"G{g}") for g, n in names_by_g.items()}

    # Goroutines: one track each, every state interval on it.
    g_ids = np.unique(st["g"])
    g_track = {}
    for g in g_ids.tolist():
        n = names_by_g.get(g, "")
        g_track[g] = tl._new_track("Goroutines", f"G{g} {n}".rstrip(), g)
    if len(st):
        state = st["state"]
        running = state == GoState.RUNNING
        waiting = state == GoState.WAITING
        ug, inv = np.unique(st["g"], return_inverse=True)
        inv = inv.reshape(-1).astype(np.int32)
        # Name table: the goroutines' labels (running), then the other states.
        rows, rinv = np.unique(st["reason"][waiting], return_inverse=True)
        why = [trace.strings.text(int(r)) for r in rows.tolist()]
        names = np.array([label.get(g, f"G{g}") for g in ug.tolist()] + ["Runnable", "Syscall"]
                         + ["Waiting: " + r if r else "Waiting" for r in why], object)
        code = inv.copy()
        code[state == GoState.RUNNABLE] = len(ug)
        code[state == GoState.SYSCALL] = len(ug) + 1
        code[waiting] = len(ug) + 2 + rinv.reshape(-1)
        g_tracks = np.array([g_track[g] for g in ug.tolist()], np.int64)
        # As Go's viewer (cmd/trace), a goroutine found running or in a
        # system call with no earlier record (Undetermined before) is drawn
        # from the trace's start: it was already doing that when tracing began.
        start = st["start"].copy()
        start[(st["prev_state"] == GoState.UNDETERMINED)
              & ((state == GoState.RUNNING) | (state == GoState.SYSCALL))] = t0

        def states_of(cat, keep):
            return lambda: Slices(cat, g_tracks[inv[keep]], start[keep], st["end"][keep],
                                  code[keep], names, {"p": st["p"][keep], "m": st["m"][keep]})

        for cat, keep in (("running", running), ("runnable", state == GoState.RUNNABLE),
                          ("waiting", waiting), ("syscall", state == GoState.SYSCALL)):
            if keep.any():
                tl.slices.append(states_of(cat, keep))

        # Procs: the goroutine running on each P.
        on_p = running & (st["p"] >= 0)
        up = np.unique(st["p"][on_p])
        p_track = {p: tl._new_track("Procs", f"P{p}", p) for p in up.tolist()}
        if len(up):
            pnames = np.array([f"G{g} {names_by_g.get(g, '')}".rstrip() for g in ug.tolist()],
                              object)

            def procs():
                first, last = _executions(st, on_p)
                rp = st["p"][first]
                tracks = np.array([p_track[p] for p in up.tolist()], np.int64)[
                    np.searchsorted(up, rp)]
                return Slices("proc", tracks, start[first], st["end"][last], inv[first],
                              pnames, {"g": st["g"][first], "m": st["m"][first]})

            tl.slices.append(procs)

        # Threads: system calls, per M.
        sc = st[(state == GoState.SYSCALL) & (st["m"] >= 0)]
        sc["start"] = start[(state == GoState.SYSCALL) & (st["m"] >= 0)]
        if len(sc):
            o = _in_order(sc["start"], sc["end"])
            sc = sc[o]
            lane = _lanes(sc["start"], sc["end"], sc["m"])
            ids = np.empty(len(sc), np.int64)
            cache: dict = {}
            for m in np.unique(sc["m"]).tolist():
                k = sc["m"] == m
                ids[k] = _lane_tracks(tl, "Threads", f"M{m}", lane[k], m, cache)
            sg, sinv = np.unique(sc["g"], return_inverse=True)
            sn = np.array([f"syscall G{g}" for g in sg.tolist()], object)
            tl.slices.append(Slices("thread-syscall", ids, sc["start"], sc["end"],
                                    sinv.reshape(-1).astype(np.int32), sn,
                                    {"g": sc["g"], "m": sc["m"]}))

    # GC: ranges, one track (and lanes) per kind of range.
    rg = trace.ranges()
    if len(rg):
        kinds = np.array([n.split(" (")[0] if n.startswith("stop-the-world") else n
                          for n in rg["name"].tolist()], object)
        cache = {}
        for order, kind in enumerate(dict.fromkeys(["GC concurrent mark phase",
                                                    "stop-the-world"] + kinds.tolist())):
            k = kinds == kind
            if not k.any():
                continue
            r = rg[k]
            o = _in_order(r["start"], r["end"])
            r = r[o]
            lane = _lanes(r["start"], r["end"])
            ids = _lane_tracks(tl, "GC", str(kind), lane, order, cache)
            sk = r["scope_kind"]
            nm = np.array([n + (f" G{s}" if k == 1 else f" P{s}" if k == 2 else "")
                           for n, s, k in zip(r["name"].tolist(), r["scope"].tolist(),
                                              sk.tolist())], object)
            tl.slices.append(Slices("gc", ids, r["start"], r["end"], *_coded(nm),
                                    {"scope": r["scope"]}))

    # Tasks: nested slices on lanes.
    tk = trace.tasks()
    tk = tk[(tk["start"] >= 0) | (tk["end"] >= 0)]
    if len(tk):
        s = np.where(tk["start"] >= 0, tk["start"], t0)
        e = np.where(tk["end"] >= 0, tk["end"], t1)
        o = _in_order(s, e)
        tk, s, e = tk[o], s[o], e[o]
        lane = _lanes(s, e)
        ids = _lane_tracks(tl, "Tasks", "Tasks", lane, 0, {})
        nm = np.array([f"{n or 'task'} {i}" for n, i in zip(tk["name"].tolist(),
                                                              tk["id"].tolist())], object)
        tl.slices.append(Slices("task", ids, s, e, *_coded(nm), {"task": tk["id"],
                                                        "parent": tk["parent"]}))

    # Regions: per goroutine, nested slices on lanes.
    rgn = trace.regions()
    if len(rgn):
        s = np.where(rgn["start"] >= 0, rgn["start"], t0)
        e = np.where(rgn["end"] >= 0, rgn["end"], t1)
        o = _in_order(s, e)
        rgn, s, e = rgn[o], s[o], e[o]
        lane = _lanes(s, e, rgn["goroutine"])
        ids = np.empty(len(rgn), np.int64)
        cache = {}
        for g in np.unique(rgn["goroutine"]).tolist():
            k = rgn["goroutine"] == g
            ids[k] = _lane_tracks(tl, "Regions", f"G{g} regions", lane[k], g, cache)
        nm = np.array([n or "region" for n in rgn["name"].tolist()], object)
        tl.slices.append(Slices("region", ids, s, e, *_coded(nm), {"g": rgn["goroutine"],
                                                         "task": rgn["task"]}))

    # Logs: instants on one track.
    lg = trace.logs()
    if len(lg):
        track = tl._new_track("Logs", "Logs", 0, "instant")
        nm = np.array([f"{c}: {m}" if c else m for c, m in zip(lg["category"].tolist(),
                                                                 lg["message"].tolist())],
                      object)
        tl.instants.append(Instants("log", track, lg["time"], nm,
                                    {"g": lg["goroutine"], "task": lg["task"]}))

    # Counters: heap, heap goal, goroutines per state.
    gc = trace.gc()
    for order, (name, table) in enumerate((("Heap (bytes)", gc.heap),
                                           ("Heap goal (bytes)", gc.heap_goal))):
        if len(table):
            track = tl._new_track("Counters", name, order, "counter")
            tl.counters.append(Counter(track, table["time"],
                                       table["value"].astype(np.int64)))
    for order, state in enumerate(COUNTED_STATES, start=10):
        if len(st):
            t, c = state_counts(st, state)
            track = tl._new_track("Counters", f"Goroutines {state}", order, "counter")
            tl.counters.append(Counter(track, t, c))
    return tl


def _chunks(n: int, size: int = CHUNK) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def write_perfetto(trace, out, *, source_name: str = "Go trace") -> int:
    """Write ``trace`` as a Perfetto protobuf trace to ``out`` (a path or a
    binary file object).  Returns the number of packets written.

    Each track is a ``TrackDescriptor`` (groups as parent tracks, counters
    with a ``CounterDescriptor``); each slice a ``TYPE_SLICE_BEGIN`` and a
    ``TYPE_SLICE_END`` ``TrackEvent`` with the slice's args as debug
    annotations; logs ``TYPE_INSTANT``; counter values ``TYPE_COUNTER``.
    All packets are on one sequence (``trusted_packet_sequence_id`` 1);
    event names, categories and annotation names are interned
    (``interned_data``, ``name_iid``, ``category_iids``), each defined in
    the first packet that uses it.
    Open with https://ui.perfetto.dev or Perfetto's trace processor."""
    pb = _require("perfetto.protos.perfetto.trace.perfetto_trace_pb2", "perfetto")
    tl = timeline(trace)
    if isinstance(out, (str, bytes)) or hasattr(out, "__fspath__"):
        with open(out, "wb") as f:
            return _write_packets(pb, tl, f, source_name)
    return _write_packets(pb, tl, out, source_name)


_SEQ = 1          # trusted_packet_sequence_id of every packet we write


class _Interned:
    """Names sent once per sequence (Perfetto's interning): event names,
    categories and debug annotation names become small ids, defined in
    the packet that first uses them (``interned_data``).  Slice names
    repeat millions of times in a large trace; interned, a slice's begin
    packet takes about half the bytes."""

    def __init__(self):
        self.names: dict = {}
        self.categories: dict = {}
        self.arg_names: dict = {}

    def name(self, p, text: str) -> int:
        return self._iid(self.names, p, "event_names", text)

    def category(self, p, text: str) -> int:
        return self._iid(self.categories, p, "event_categories", text)

    def arg_name(self, p, text: str) -> int:
        return self._iid(self.arg_names, p, "debug_annotation_names", text)

    @staticmethod
    def _iid(table: dict, p, field: str, text: str) -> int:
        """``text``'s id in ``table``; a new one is also defined in packet
        ``p`` (its ``interned_data.<field>`` list), touched only then."""
        iid = table.get(text)
        if iid is None:
            iid = table[text] = len(table) + 1
            e = getattr(p.interned_data, field).add()
            e.iid, e.name = iid, text
        return iid


def _write_packets(pb, tl: Timeline, f, source_name: str) -> int:
    chunk = pb.Trace()
    written = 0
    TE = pb.TrackEvent
    needs_state = pb.TracePacket.SEQ_NEEDS_INCREMENTAL_STATE
    interned = _Interned()

    def flush():
        nonlocal chunk, written
        if len(chunk.packet):
            f.write(chunk.SerializeToString())
            written += len(chunk.packet)
            chunk = pb.Trace()

    def packet():
        if len(chunk.packet) >= CHUNK:
            flush()
        p = chunk.packet.add()
        p.trusted_packet_sequence_id = _SEQ
        return p

    # The first packet starts the sequence's interning state.
    p = packet()
    p.sequence_flags = pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED

    # Tracks: a root for the trace, a parent per group, then the tracks.
    root = 1 << 40
    p.track_descriptor.uuid = root
    p.track_descriptor.name = source_name
    group_uuid = {}
    for rank, g in enumerate(GROUPS):
        if not any(t.group == g for t in tl.tracks):
            continue
        group_uuid[g] = root + 1 + rank
        d = packet().track_descriptor
        d.uuid, d.parent_uuid, d.name = group_uuid[g], root, g
        d.sibling_order_rank = rank
        d.child_ordering = pb.TrackDescriptor.ChildTracksOrdering.EXPLICIT
    for t in tl.tracks:
        d = packet().track_descriptor
        d.uuid, d.parent_uuid, d.name = t.id, group_uuid[t.group], t.name
        d.sibling_order_rank = t.order
        if t.kind == "counter":
            d.counter.SetInParent()

    for s in tl.iter_slices():
        keys = list(s.args)
        for part in _chunks(len(s)):
            cols = [s.track[part].tolist(), s.start[part].tolist(), s.end[part].tolist(),
                    s.names[s.code[part]].tolist()] + [s.args[k][part].tolist() for k in keys]
            for row in zip(*cols):
                track, start, end, name = row[:4]
                p = packet()
                p.timestamp = start
                p.sequence_flags = needs_state
                e = p.track_event
                e.type = TE.TYPE_SLICE_BEGIN
                e.track_uuid = track
                e.name_iid = interned.name(p, name)
                e.category_iids.append(interned.category(p, s.category))
                for k, v in zip(keys, row[4:]):
                    if v != -1:
                        a = e.debug_annotations.add()
                        a.name_iid, a.int_value = interned.arg_name(p, k), v
                p = packet()
                p.timestamp = end
                e = p.track_event
                e.type = TE.TYPE_SLICE_END
                e.track_uuid = track
    for ins in tl.instants:
        keys = list(ins.args)
        for part in _chunks(len(ins.time)):
            cols = [ins.time[part].tolist(), ins.name[part].tolist()] + \
                   [ins.args[k][part].tolist() for k in keys]
            for row in zip(*cols):
                p = packet()
                p.timestamp = row[0]
                p.sequence_flags = needs_state
                e = p.track_event
                e.type = TE.TYPE_INSTANT
                e.track_uuid = ins.track
                e.name_iid = interned.name(p, row[1])
                e.category_iids.append(interned.category(p, ins.category))
                for k, v in zip(keys, row[2:]):
                    a = e.debug_annotations.add()
                    a.name_iid, a.int_value = interned.arg_name(p, k), v
    for c in tl.counters:
        for part in _chunks(len(c.time)):
            for t, v in zip(c.time[part].tolist(), c.value[part].tolist()):
                p = packet()
                p.timestamp = t
                e = p.track_event
                e.type = TE.TYPE_COUNTER
                e.track_uuid = c.track
                e.counter_value = v
    flush()
    return written
