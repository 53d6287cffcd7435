"""``fastrace info``: a one-screen summary of a trace.

:func:`overview` answers first what a person looks for (which Go wrote it,
when, how long, goroutines, Ps, GC, stop-the-world, why goroutines
blocked, CPU samples, experiments), from the ordered trace and Go's own
analyses; :func:`summarize` gives the low-level counts of the wire
format (``fastrace info --verbose``)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from fastrace import spec as _spec
from fastrace.kinds import EventKind
from fastrace.wire import BatchKind, WireTrace

__all__ = ["overview", "overview_of", "format_overview", "OVERVIEW_FIELDS", "summarize", "format_summary",
           "WRITERS"]

# Which Go releases write each trace format version.
WRITERS = {22: "Go 1.22", 23: "Go 1.23-1.24", 25: "Go 1.25", 26: "Go 1.26-1.27"}


def _ticks_to_ns(ticks: int, freq: int) -> float:
    return ticks * (1e9 / freq) if freq else float("nan")


def summarize(w: WireTrace) -> dict:
    """The facts ``fastrace info`` prints, as plain Python values."""
    kinds = Counter(BatchKind(int(k)).name.lower() for k in w.batches["kind"])
    types = Counter()
    if len(w.events):
        codes, counts = np.unique(w.events["type"], return_counts=True)
        for c, n in zip(codes.tolist(), counts.tolist()):
            types[_spec.BY_CODE[c].name] = n
    gens = []
    t0 = None
    for g in w.iter_generations():
        freq = g.freq
        start = int(g.record["min_time"])
        end = start
        if len(g.events):
            end = max(end, int(g.events["time"].max()))
        if len(g.cpu_samples):
            end = max(end, int(g.cpu_samples["time"].max()))
        if t0 is None:
            t0 = start
        gens.append({
            "gen": g.gen,
            "offset": int(g.record["offset"]),
            "bytes": int(g.record["end"]) - int(g.record["offset"]),
            "start_ns": _ticks_to_ns(start - t0, freq),
            "end_ns": _ticks_to_ns(end - t0, freq),
            "batches": len(g.batches),
            "events": len(g.events),
            "ended": bool(g.record["ended"]),
            "wall_clock": (int(g.record["clock_sec"]), int(g.record["clock_nsec"]))
            if g.record["has_clock"] else None,
        })
    exp_events = Counter()
    for name, n in types.items():
        s = _spec.BY_NAME[name]
        if s.experiment:
            exp_events[_spec.EXPERIMENTS.get(s.experiment, str(s.experiment))] += n
    exp_batches = Counter(
        _spec.EXPERIMENTS.get(int(e), f"experiment {int(e)}") for e in w.exp_batches["exp"]
    )
    return {
        "version": w.version,
        "writer": WRITERS.get(w.version, "?"),
        "size": w.size,
        "generations": gens,
        "batches": dict(kinds),
        "nbatches": len(w.batches),
        "events": len(w.events),
        "event_types": dict(types.most_common()),
        "strings": len(w.strings),
        "stacks": len(w.stacks),
        "frames": len(w.frames),
        "cpu_samples": len(w.cpu_samples),
        "experiments": {
            name: {"events": exp_events.get(name, 0), "batches": exp_batches.get(name, 0)}
            for name in sorted(set(exp_events) | set(exp_batches))
        },
    }


def format_summary(s: dict, name: str) -> str:
    out = []
    add = out.append
    add(f"trace:        {name}")
    add(f"format:       go 1.{s['version']} trace (written by {s['writer']})")
    add(f"size:         {s['size']:,} bytes")
    gens = s["generations"]
    span = (gens[-1]["end_ns"] - gens[0]["start_ns"]) / 1e6 if gens else 0.0
    add(f"duration:     {span:.3f} ms")
    add(f"generations:  {len(gens)}")
    for g in gens:
        note = "" if g["ended"] or s["version"] < 26 else "  (no EndOfGeneration: ignored by Go)"
        add(f"  gen {g['gen']:<4} {g['start_ns'] / 1e6:10.3f} ms .. {g['end_ns'] / 1e6:10.3f} ms"
            f"  {g['bytes']:>10,} bytes  {g['batches']:>6} batches  {g['events']:>9,} events{note}")
    kinds = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(s["batches"].items()))
    add(f"batches:      {s['nbatches']:,} ({kinds})")
    add(f"events:       {s['events']:,}")
    width = max((len(k) for k in s["event_types"]), default=0)
    for k, n in s["event_types"].items():
        add(f"  {k:<{width}}  {n:>10,}")
    add(f"strings:      {s['strings']:,}")
    add(f"stacks:       {s['stacks']:,} ({s['frames']:,} frames)")
    add(f"cpu samples:  {s['cpu_samples']:,}")
    if s["experiments"]:
        exps = ", ".join(
            f"{k} ({v['events']:,} events, {v['batches']} batches)"
            for k, v in s["experiments"].items()
        )
    else:
        exps = "none"
    add(f"experiments:  {exps}")
    return "\n".join(out) + "\n"


# The keys of overview(), in order (the columns of --format csv).
OVERVIEW_FIELDS = (
    "trace", "format", "go", "wall_clock_start", "duration_ns", "events", "generations",
    "goroutines", "max_procs", "gc_cycles", "stw_pauses", "stw_total_ns", "stw_longest_ns",
    "top_block_reasons", "cpu_samples", "experiments",
)


def overview(source, name: str, *, top: int = 3, workers: int = 1) -> dict:
    """What a person wants to know first about a trace, as plain values
    (keys: OVERVIEW_FIELDS): :func:`overview_of` the trace in ``source``.
    A file (or bytes) is read piece by piece (:func:`fastrace.iter_generations`,
    ``workers`` as there), never held whole: the same answers in a few
    pieces' memory (a 68 MB trace: 775 MB through read()).  A
    :class:`fastrace.Trace` is used as it is."""
    from fastrace.trace import Trace

    if isinstance(source, Trace):
        return overview_of(source, name, top=top)
    return _stream_overview(source, name, top, workers)


def _top_reasons(block_times: np.ndarray, top: int) -> dict[str, int]:
    by_reason: dict[str, int] = {}
    for reason, ns in zip(block_times["reason"].tolist(), block_times["time"].tolist()):
        by_reason[reason] = by_reason.get(reason, 0) + int(ns)
    return dict(sorted(by_reason.items(), key=lambda kv: -kv[1])[:top])


def _wall_start(t, first_time: int) -> str | None:
    """RFC 3339 UTC wall-clock time of ``first_time`` (Go 1.25+), else None."""
    from fastrace import errors

    if t.version < 25:
        return None
    try:
        return str(t.wall_time(np.array([first_time], dtype=np.int64))[0]) + "Z"
    except errors.TraceError:
        return None


_PROCS_CHANGE = _spec.BY_NAME["ProcsChange"].code


def _stream_overview(source, name: str, top: int, workers: int) -> dict:
    """:func:`overview` of a file or bytes, piece by piece: Go's summarizer
    and the ranges pass fed each piece in order (both carry their state
    from one piece to the next), the rest counted as the pieces go."""
    from contextlib import closing

    from fastrace import _analysis
    from fastrace.analysis._ahead import ahead
    from fastrace.analysis.gc import gc_summary_of_ranges
    from fastrace.analysis.summary import Summary
    from fastrace.errors import TraceFormatError
    from fastrace.experiments import experiment_ids, experiment_name
    from fastrace.trace import PIECE_EVENTS, iter_generations

    summarizer = _analysis.Summarizer()
    ranges = _analysis.RangePass()
    last = None
    first_time = last_time = None
    wall = None
    events = cpu_samples = 0
    max_procs = None
    exps: set[int] = set()
    pieces = ahead(lambda: iter_generations(source, max_events=PIECE_EVENTS, workers=workers))
    with closing(pieces):
        for piece in pieces:
            ev = piece.events
            st = piece.strings
            summarizer.feed(ev, piece.stacks, piece.frames, st.data, st.offsets)
            ranges.feed(ev, piece.first_row)
            if len(ev):
                if first_time is None:
                    first_time = int(ev["time"][0])
                    wall = _wall_start(piece, first_time)
                last_time = int(ev["time"][-1])
                events += len(ev)
                procs = ev["a"][:, 0][ev["type"] == _PROCS_CHANGE]
                if len(procs):
                    m = int(procs.max())
                    max_procs = m if max_procs is None else max(max_procs, m)
                cpu_samples += int(np.count_nonzero(ev["kind"] == EventKind.STACK_SAMPLE))
            exps |= experiment_ids(piece)
            last = piece
    if last is None:
        raise TraceFormatError("empty input: not a Go execution trace", offset=0)
    summary = Summary(summarizer.finish(), last.strings)
    none = np.empty(0, dtype=_analysis.METRIC_DTYPE)
    gc = gc_summary_of_ranges(ranges.finish(), none, none, last.strings)
    return _answers(name, last.version, wall,
                    last_time - first_time if first_time is not None else 0, events,
                    len(last.generations), max_procs, cpu_samples,
                    [experiment_name(i) for i in sorted(exps)],
                    (len(summary.goroutines), gc, summary.block_times), top)


def _answers(name: str, version: int, wall, duration: int, events: int, generations: int,
             max_procs, cpu_samples: int, experiments: list[str], analyses, top: int) -> dict:
    """The dict of :func:`overview` (keys: OVERVIEW_FIELDS) from its facts;
    ``analyses``: (number of goroutines, GCSummary, block times table), or
    None where they cannot be had (a piece of iter_generations)."""
    out = {
        "trace": name,
        "format": f"go 1.{version} trace",
        "go": WRITERS.get(version, "?"),
        "wall_clock_start": wall,
        "duration_ns": duration,
        "events": events,
        "generations": generations,
        "goroutines": None,
        "max_procs": max_procs,
        "gc_cycles": None,
        "stw_pauses": None,
        "stw_total_ns": None,
        "stw_longest_ns": None,
        "top_block_reasons": None,
        "cpu_samples": cpu_samples,
        "experiments": experiments,
    }
    if analyses is not None:
        goroutines, gc, block_times = analyses
        pauses = gc.pauses["duration"]
        out.update(goroutines=goroutines, gc_cycles=len(gc.cycles), stw_pauses=len(pauses),
                   stw_total_ns=int(pauses.sum()),
                   stw_longest_ns=int(pauses.max()) if len(pauses) else 0,
                   top_block_reasons=_top_reasons(block_times, top))
    return out


def overview_of(t, name: str, *, top: int = 3) -> dict:
    """:func:`overview` of a :class:`fastrace.Trace` already read.  Times
    are ns; ``wall_clock_start`` is an RFC 3339 UTC time for Go 1.25+
    traces (None before); ``max_procs`` the largest GOMAXPROCS the trace
    reports; ``top_block_reasons`` maps the ``top`` reasons goroutines
    waited for most to the ns waited.  On a piece of iter_generations the
    analyses' fields (goroutines, GC, blocking) are None."""
    ev = t.events
    duration = int(ev["time"][-1] - ev["time"][0]) if len(ev) else 0
    wall = _wall_start(t, int(ev["time"][0])) if len(ev) else None
    procs = ev["a"][:, 0][ev["type"] == _PROCS_CHANGE]
    whole = getattr(t, "first_row", None) is None
    analyses = None
    if whole:
        gc = t.gc()         # before the summary, as the errors of a damaged trace come
        analyses = (len(t.goroutines()), gc, t.goroutine_block_times())
    return _answers(name, t.version, wall, duration, len(ev), len(t.generations),
                    int(procs.max()) if len(procs) else None,
                    int(np.count_nonzero(ev["kind"] == EventKind.STACK_SAMPLE)),
                    t.experiments(), analyses, top)


def format_ns(ns: int) -> str:
    """A duration in ns for people, to three decimals: 15.040 µs, 2.500 s."""
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.3f} {unit}"
    return f"{ns} ns"


def format_overview(o: dict) -> str:
    """overview() as a few lines for a terminal."""
    reasons = ", ".join(f"{r or '(no reason recorded)'} {format_ns(ns)}"
                        for r, ns in o["top_block_reasons"].items())
    lines = [
        f"trace:        {o['trace']}",
        f"written by:   {o['go']} (trace format go 1.{o['format'].split('.')[1].split()[0]})",
        f"started:      {o['wall_clock_start'] or 'unknown (wall clock is in traces of Go 1.25+)'}",
        f"duration:     {format_ns(o['duration_ns'])} ({o['events']:,} events, "
        f"{o['generations']} generation{'s' if o['generations'] != 1 else ''})",
        f"goroutines:   {o['goroutines']:,}",
        f"GOMAXPROCS:   {o['max_procs'] if o['max_procs'] is not None else 'unknown'}",
        f"GC:           {o['gc_cycles']} cycles; stop-the-world {o['stw_pauses']} pauses, "
        f"{format_ns(o['stw_total_ns'])} in all, longest {format_ns(o['stw_longest_ns'])}",
        f"blocked on:   {reasons or 'nothing'}",
        f"CPU samples:  {o['cpu_samples']:,}",
        f"experiments:  {', '.join(o['experiments']) or 'none'}",
    ]
    return "\n".join(lines) + "\n"
