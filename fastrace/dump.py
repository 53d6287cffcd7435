"""Text dumps of a trace in the formats Go's own tools print.

``go-wire`` reproduces ``go tool trace -d=wire`` byte for byte: every event
of the file in file order, one per line, ``Name arg=value ...``, with stack
frames and string data on indented lines below their event.  fastrace
prints it from the decoded tables rather than by re-reading the bytes, so
the dump also checks that the tables hold everything the file holds.

One deliberate difference: Go's raw reader stops with "invalid event type"
at the first experimental event of a Go 1.23-1.25 trace (it only knows
experimental events from Go 1.26 on); fastrace prints them.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator

from fastrace import spec as _spec
from fastrace.goquote import go_quote
from fastrace.wire import BatchKind, WireTrace

__all__ = ["iter_go_wire", "write_go_wire"]

_MASK64 = (1 << 64) - 1


def _event_templates() -> list[tuple[str, tuple[str, ...]] | None]:
    out: list[tuple[str, tuple[str, ...]] | None] = [None] * 256
    for s in _spec.SPECS:
        if s.timed:
            out[s.code] = (f"{s.name} dt=", tuple(f" {a}=" for a in s.args[1:]))
    return out


_TEMPLATES = _event_templates()


def _event_lines(w: WireTrace, first: int, count: int, base: int) -> Iterator[str]:
    ev = w.events[first:first + count]
    times = ev["time"].tolist()
    types = ev["type"].tolist()
    args = ev["args"].tolist()
    prev = base
    for t, typ, a in zip(times, types, args):
        head, names = _TEMPLATES[typ]
        dt = (t - prev) & _MASK64
        prev = t
        if names:
            yield head + str(dt) + "".join([n + str(v) for n, v in zip(names, a)])
        else:
            yield head + str(dt)


def _data_line(data: bytes) -> str:
    # Go's raw reader leaves zero-length data as nil, and nil data prints
    # no data line at all.
    return "\n\tdata=" + go_quote(data) if data else ""


def iter_go_wire(w: WireTrace) -> Iterator[str]:
    """Yield the lines (without newlines) of ``go tool trace -d=wire``."""
    buf = w.buffer
    for b in w.batches:
        kind = int(b["kind"])
        first, count = int(b["first"]), int(b["count"])
        if kind == BatchKind.END_OF_GENERATION:
            yield "EndOfGeneration"
            continue
        if kind == BatchKind.EXPERIMENTAL:
            r = w.exp_batches[first]
            off = int(r["offset"])
            data = bytes(buf[off:off + int(r["length"])])
            yield (f"ExperimentalBatch exp={int(b['exp'])} gen={int(b['gen'])} "
                   f"m={int(b['m'])} time={int(b['time'])}" + _data_line(data))
            continue
        yield (f"EventBatch gen={int(b['gen'])} m={int(b['m'])} "
               f"time={int(b['time'])} size={int(b['size'])}")
        if kind == BatchKind.EVENTS:
            yield from _event_lines(w, first, count, int(b["time"]))
        elif kind == BatchKind.STRINGS:
            yield "Strings"
            for r in w.strings[first:first + count].tolist():
                sid, off, ln, _ = r
                yield f"String id={sid}" + _data_line(bytes(buf[off:off + ln]))
        elif kind == BatchKind.STACKS:
            yield "Stacks"
            frames = w.frames
            for sid, fstart, nframes, _ in w.stacks[first:first + count].tolist():
                parts = [f"Stack id={sid} nframes={nframes}"]
                for pc, fn, fl, line in frames[fstart:fstart + nframes].tolist():
                    parts.append(f"\n\tpc={pc} func={fn} file={fl} line={line}")
                yield "".join(parts)
        elif kind == BatchKind.CPU_SAMPLES:
            yield "CPUSamples"
            for t, m, p, g, stk, _ in w.cpu_samples[first:first + count].tolist():
                yield f"CPUSample time={t} m={m} p={p} g={g} stack={stk}"
        elif kind == BatchKind.SYNC:
            s = w.syncs[first]
            if w.version >= 25:
                yield "Sync"
            freq = f"Frequency freq={int(s['freq'])}"
            clock = (f"ClockSnapshot dt={(int(s['clock_time']) - int(b['time'])) & _MASK64} "
                     f"mono={int(s['clock_mono'])} sec={int(s['clock_sec'])} "
                     f"nsec={int(s['clock_nsec'])}")
            if s["has_clock"] and s["clock_first"]:
                yield clock
                if s["has_freq"]:
                    yield freq
            else:
                if s["has_freq"]:
                    yield freq
                if s["has_clock"]:
                    yield clock


def write_go_wire(w: WireTrace, out: BinaryIO, chunk_lines: int = 4096) -> None:
    """Write the ``go tool trace -d=wire`` dump of ``w`` to a binary stream."""
    lines: list[str] = []
    for line in iter_go_wire(w):
        lines.append(line)
        if len(lines) >= chunk_lines:
            lines.append("")
            out.write("\n".join(lines).encode("utf-8", "surrogateescape"))
            lines.clear()
    if lines:
        lines.append("")
        out.write("\n".join(lines).encode("utf-8", "surrogateescape"))
