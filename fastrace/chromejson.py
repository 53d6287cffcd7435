"""A trace as Chrome's Trace Event Format (JSON), as ``chrome://tracing``,
Perfetto's UI and Go's own trace viewer read it.

The content is :func:`fastrace.perfetto.timeline`'s, the same tracks as the
Perfetto export: each group of tracks is a process (``pid`` = its rank in
``fastrace.perfetto.GROUPS``, named by a ``process_name`` metadata event),
each track a thread of it (``tid`` = the track's id, named by
``thread_name``, ordered by ``thread_sort_index``).  Slices are complete
events (``"ph": "X"``, category in ``cat``, their args in ``args``), logs
instant events (``"ph": "i"``, thread scope), counters ``"ph": "C"``
events whose ``args`` hold ``{"value": N}``.  Times (``ts``, ``dur``) are
µs, as the format wants, from the trace's first event (as Go's viewer
shows them); ``otherData.start_ns`` keeps that event's time on the trace
clock.  Events are written :data:`fastrace.perfetto.CHUNK` at a time.
Needs no optional package.
"""

from __future__ import annotations

import json

import numpy as np

from fastrace.perfetto import CHUNK, GROUPS, Timeline, _chunks, timeline

__all__ = ["write_chrome_json"]


def _us(ns: np.ndarray, t0: int) -> list:
    # µs with ns precision: exact decimal text without float noise.
    return [f"{d // 1000}.{d % 1000:03d}" if d >= 0 else repr(d / 1000)
            for d in (ns.astype(np.int64) - t0).tolist()]


def write_chrome_json(trace, out) -> int:
    """Write ``trace`` as Trace Event Format JSON to ``out`` (a path or a
    text file object).  Returns the number of events written (metadata
    events included)."""
    tl = timeline(trace)
    if isinstance(out, (str, bytes)) or hasattr(out, "__fspath__"):
        with open(out, "w", encoding="utf-8") as f:
            return _write_events(tl, f)
    return _write_events(tl, out)


def _write_events(tl: Timeline, f) -> int:
    dumps = json.dumps
    pid = {g: i for i, g in enumerate(GROUPS)}
    f.write('{"displayTimeUnit":"ns","otherData":{"source":"fastrace","start_ns":%d},'
            '"traceEvents":[\n' % tl.start)
    n = 0
    buf: list[str] = []

    def emit(text: str):
        nonlocal n
        buf.append(text)
        n += 1
        if len(buf) >= CHUNK:
            f.write((",\n" if n > len(buf) else "") + ",\n".join(buf))
            buf.clear()

    used = dict.fromkeys(t.group for t in tl.tracks)
    for g in GROUPS:
        if g in used:
            emit('{"ph":"M","name":"process_name","pid":%d,"tid":0,"args":{"name":%s}}'
                 % (pid[g], dumps(g)))
            emit('{"ph":"M","name":"process_sort_index","pid":%d,"tid":0,'
                 '"args":{"sort_index":%d}}' % (pid[g], pid[g]))
    for t in tl.tracks:
        emit('{"ph":"M","name":"thread_name","pid":%d,"tid":%d,"args":{"name":%s}}'
             % (pid[t.group], t.id, dumps(t.name)))
        emit('{"ph":"M","name":"thread_sort_index","pid":%d,"tid":%d,'
             '"args":{"sort_index":%d}}' % (pid[t.group], t.id, t.order))
    group_of = {t.id: pid[t.group] for t in tl.tracks}
    for s in tl.iter_slices():
        keys = list(s.args)
        cat = dumps(s.category)
        for part in _chunks(len(s)):
            ts = _us(s.start[part], tl.start)
            dur = (s.end[part] - s.start[part]).tolist()
            cols = [s.track[part].tolist(), ts, dur, s.names[s.code[part]].tolist()] + \
                   [s.args[k][part].tolist() for k in keys]
            for row in zip(*cols):
                track, t, d, name = row[:4]
                args = ",".join(f'"{k}":{v}' for k, v in zip(keys, row[4:]) if v != -1)
                emit('{"ph":"X","cat":%s,"name":%s,"pid":%d,"tid":%d,"ts":%s,"dur":%d.%03d,'
                     '"args":{%s}}' % (cat, dumps(name), group_of[track], track, t,
                                       d // 1000, d % 1000, args))
    for ins in tl.instants:
        keys = list(ins.args)
        cat = dumps(ins.category)
        for part in _chunks(len(ins.time)):
            cols = [_us(ins.time[part], tl.start), ins.name[part].tolist()] + \
                   [ins.args[k][part].tolist() for k in keys]
            for row in zip(*cols):
                args = ",".join(f'"{k}":{v}' for k, v in zip(keys, row[2:]))
                emit('{"ph":"i","s":"t","cat":%s,"name":%s,"pid":%d,"tid":%d,"ts":%s,'
                     '"args":{%s}}' % (cat, dumps(row[1]), group_of[ins.track], ins.track,
                                       row[0], args))
    names = {t.id: t.name for t in tl.tracks}
    for c in tl.counters:
        name = dumps(names[c.track])
        for part in _chunks(len(c.time)):
            for t, v in zip(_us(c.time[part], tl.start), c.value[part].tolist()):
                emit('{"ph":"C","name":%s,"pid":%d,"tid":%d,"ts":%s,"args":{"value":%d}}'
                     % (name, group_of[c.track], c.track, t, v))
    if buf:
        f.write((",\n" if n > len(buf) else "") + ",\n".join(buf))
    f.write("\n]}\n")
    return n
