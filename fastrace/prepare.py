"""The Python side of the ordering stage (stage 2): what is prepared for
each generation before the C engine (``fastrace._order``) orders it, and
the named records the two exchange.

- :class:`Tables`: the trace-wide, deduplicated string, frame and stack
  tables, interned generation by generation.
- :func:`prepare_generation`: one generation's inputs (string and stack id
  maps, each M's batches in Go's order, the CPU samples sorted as Go sorts
  them), checked as Go's reader checks them when it loads a generation.
- :class:`GenerationRow`, :class:`ExpBatchRow`: the rows of
  ``Trace.generations`` and ``Trace.exp_batches`` while they are built.

Plain Python, with Python's own checks: nothing here runs per event.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from fastrace.errors import TraceFormatError, TraceOrderError

__all__ = ["Tables", "GenerationRow", "ExpBatchRow", "PreparedGeneration",
           "prepare_generation", "order_error", "generation_table", "exp_batch_table"]


class GenerationRow(NamedTuple):
    """A row of ``Trace.generations`` (``GenerationRowRec`` in _order.pxd)."""
    gen: int                  # generation number written in the trace
    sync_row: int             # row of its Sync event in the whole trace's table
    clock_trace: int          # clock snapshot on the trace clock, ns
    clock_mono: int           # clock snapshot: monotonic clock, ns
    clock_sec: int            # clock snapshot: wall clock, s since the Unix epoch
    clock_nsec: int           # clock snapshot: wall clock, ns part
    freq: int                 # trace clock ticks per second
    exp_batch_start: int      # first row in Trace.exp_batches
    exp_batch_count: int      # rows in Trace.exp_batches
    has_clock: int            # 1: a clock snapshot exists (Go 1.25+)


class ExpBatchRow(NamedTuple):
    """A row of ``Trace.exp_batches`` (``ExpBatchRowRec`` in _order.pxd)."""
    m: int                    # thread that wrote the batch (-1 = none)
    offset: int               # byte offset of the batch data in the input
    length: int               # data bytes
    generation: int           # row in Trace.generations
    exp: int                  # experiment id (fastrace.spec.EXPERIMENTS)


class PreparedGeneration(NamedTuple):
    """One generation's inputs for the engine (see prepare_generation)."""
    gen: int                  # generation number
    freq: int                 # ticks per second
    string_map: Any           # _order.IdTable: string id -> row of Tables.strings
    stack_map: Any            # _order.IdTable: stack id -> row of Tables.stacks
    exp_batches: np.ndarray   # the generation's experimental batches (wire table)
    order: np.ndarray         # int64 batch rows, each M's event batches in file order
    bounds: np.ndarray        # int64: M k's batches are order[bounds[k]:bounds[k+1]]
    m_ids: np.ndarray         # int64 thread id of each M, in order of first batch
    cpu_time: np.ndarray      # int64 ns, CPU samples sorted as Go's reader sorts them
    cpu_m: np.ndarray         # int64 thread ids of the samples
    cpu_p: np.ndarray         # int64 P ids
    cpu_g: np.ndarray         # int64 goroutine ids (-1 none)
    cpu_stack_id: np.ndarray  # uint64 stack ids (checked when a sample is delivered, as Go does)
    min_time: int             # the generation's earliest time, ticks (its Sync time)


class Tables:
    """Global (deduplicated) strings, frames and stacks, built generation by
    generation in Python."""

    def __init__(self):
        self.string_rows = {b"": 0}
        self.strings = [b""]
        self.frame_rows = {}
        self.frames = []          # (pc, line, func row, file row)
        self.stack_rows = {(): 1}
        self.stacks = [None, ()]  # row 0: no stack; row 1: the empty stack
        self._arrays_key = None   # table sizes the cached arrays() were made at
        self._arrays = None

    def string(self, s: bytes) -> int:
        row = self.string_rows.get(s)
        if row is None:
            row = self.string_rows[s] = len(self.strings)
            self.strings.append(s)
        return row

    def frame(self, key) -> int:
        row = self.frame_rows.get(key)
        if row is None:
            row = self.frame_rows[key] = len(self.frames)
            self.frames.append(key)
        return row

    def stack(self, frames: tuple) -> int:
        row = self.stack_rows.get(frames)
        if row is None:
            row = self.stack_rows[frames] = len(self.stacks)
            self.stacks.append(frames)
        return row

    def mark(self):
        """The tables' sizes now, for truncate()."""
        return len(self.strings), len(self.frames), len(self.stacks)

    def truncate(self, mark):
        """Forget what was added since mark() (read(workers=2) prepares a
        generation ahead; if the one before fails, the tables must be those
        of ordering in sequence)."""
        ns, nf, nk = mark
        for x in self.strings[ns:]:
            del self.string_rows[x]
        for x in self.frames[nf:]:
            del self.frame_rows[x]
        for x in self.stacks[nk:]:
            del self.stack_rows[x]
        del self.strings[ns:], self.frames[nf:], self.stacks[nk:]
        self._arrays_key = None

    def arrays(self, mark=None):
        """(string bytes, string offsets, stacks, frames) as arrays; cached
        until a table grows (iter_generations asks for them at every piece).
        With ``mark`` (from mark()), the tables as they were then: the
        streaming iter_generations(workers=2) prepares the next generation
        before the pieces of the current one are all handed out."""
        key = (len(self.strings), len(self.frames), len(self.stacks))
        if self._arrays_key != key:
            self._arrays = self._build_arrays()
            self._arrays_key = key
        if mark is None or tuple(mark) == key:
            return self._arrays
        data, offsets, stacks, frames = self._arrays
        ns, _, nk = mark
        # Rows are only ever appended, and a stack's frames follow the stacks
        # before it's: the earlier tables are prefixes.
        nframes = int(stacks["nframes"][:nk].sum()) if nk else 0
        return data[:int(offsets[ns])], offsets[:ns + 1], stacks[:nk], frames[:nframes]

    def _build_arrays(self):
        from fastrace import _order

        lens = np.fromiter((len(s) for s in self.strings), dtype=np.uint64, count=len(self.strings))
        offsets = np.zeros(len(self.strings) + 1, dtype=np.uint64)
        np.cumsum(lens, out=offsets[1:])
        frames = np.zeros(len(self.frames), dtype=_order.FRAME_DTYPE)
        if self.frames:
            f = np.array(self.frames, dtype=np.uint64).reshape(-1, 4)
            frames["pc"], frames["line"] = f[:, 0], f[:, 1]
            frames["func"], frames["file"] = f[:, 2], f[:, 3]
        stacks = np.zeros(len(self.stacks), dtype=_order.STACK_DTYPE)
        flat = []
        for i, s in enumerate(self.stacks):
            if s is None:
                continue
            stacks[i]["frame_start"] = len(flat)
            stacks[i]["nframes"] = len(s)
            flat.extend(s)
        frame_index = np.array(flat, dtype=np.int64)
        # Frames are stored per stack occurrence so that a stack is one slice.
        frames_flat = frames[frame_index] if len(frame_index) else np.zeros(0, _order.FRAME_DTYPE)
        return b"".join(self.strings), offsets, stacks, frames_flat


def order_error(msg, wire, gen, m, batch, event):
    if batch is None or batch < 0:
        batch = event = None
    else:
        batch += wire.batch_base
    if m is not None and m != -1:
        msg = f"{msg} [M {m}]"
    return TraceOrderError(msg, generation=gen, batch=batch, event=event)


def prepare_generation(wire, gi_index: int, tables: Tables) -> PreparedGeneration:
    """Per-generation inputs: string and stack maps, per-M event order and
    CPU samples.  Raises TraceFormatError for broken tables (duplicate ids,
    stacks naming unknown strings), as Go's reader does when it loads a
    generation."""
    # The engine's helpers; imported here because the engine imports this
    # module when it is itself imported.
    from fastrace._order import IdTable, go_sort_order, ticks_to_ns

    g = wire.generation(gi_index)
    gen = g.gen
    buf = wire.buffer
    # Strings.
    ids = g.strings["id"].tolist()
    offs = g.strings["offset"].tolist()
    lens = g.strings["length"].tolist()
    seen = {}
    rows = []
    # Most strings recur in every generation: look them up without a call.
    interned = tables.string_rows.get
    for sid, off, ln in zip(ids, offs, lens):
        s = bytes(buf[off:off + ln])
        if sid == 0 or sid in seen:
            old = seen.get(sid, b"")
            raise TraceFormatError(
                f"multiple strings with the same ID: id={sid}, new={s!r}, existing={old!r}",
                generation=gen)
        seen[sid] = s
        row = interned(s)
        rows.append(tables.string(s) if row is None else row)
    string_map = IdTable(np.array(ids, dtype=np.uint64), np.array(rows, dtype=np.int64))
    # Stacks: a PC's frame is the one given where the PC first appears.
    pcs = {}
    stack_frames = {}
    frames = wire.frames  # stacks' frame_start indexes the whole table
    for sid, fstart, n, _ in g.stacks.tolist():
        fr = frames[fstart:fstart + n].tolist() if n else []
        for pc, fn, fl, line in fr:
            if pc not in pcs:
                pcs[pc] = (fn, fl, line)
        if sid == 0 or sid in stack_frames:
            raise TraceFormatError(
                f"multiple stacks with the same ID: id={sid}", generation=gen)
        stack_frames[sid] = [f[0] for f in fr]
    for sid, pcl in stack_frames.items():
        for pc in pcl:
            fn, fl, _ = pcs[pc]
            if fn != 0 and fn not in seen:
                raise TraceFormatError(
                    f"found invalid func string ID {fn} for stack {sid}", generation=gen)
            if fl != 0 and fl not in seen:
                raise TraceFormatError(
                    f"found invalid file string ID {fl} for stack {sid}", generation=gen)
    sids = []
    srows = []
    for sid, pcl in stack_frames.items():
        key = []
        for pc in pcl:
            fn, fl, line = pcs[pc]
            key.append(tables.frame((pc, line, tables.string(seen.get(fn, b"")),
                                     tables.string(seen.get(fl, b"")))))
        sids.append(sid)
        srows.append(tables.stack(tuple(key)))
    stack_map = IdTable(np.array(sids, dtype=np.uint64), np.array(srows, dtype=np.int64))
    # Each M's event batches in file order; Ms in the order their first
    # event batch appears (Go's order, which decides ties in the heap).
    b = g.batches
    batch_rows = np.flatnonzero(b["kind"] == 0) + int(g.record["batch_start"])
    m_of_batch = {}
    per_m = []
    for row, m in zip(batch_rows.tolist(), b["m"][b["kind"] == 0].tolist()):
        k = m_of_batch.get(m)
        if k is None:
            k = m_of_batch[m] = len(per_m)
            per_m.append([])
        per_m[k].append(row)
    order = np.array([r for rows in per_m for r in rows], dtype=np.int64)
    bounds = np.zeros(len(per_m) + 1, dtype=np.int64)
    np.cumsum([len(rows) for rows in per_m], out=bounds[1:])
    m_ids = np.array(list(m_of_batch), dtype=np.uint64).view(np.int64)
    # CPU samples, in time order.
    cs = g.cpu_samples
    freq = g.freq
    cpu_time = ticks_to_ns(cs["time"], freq) if len(cs) else np.zeros(0, np.int64)
    srt = go_sort_order(cpu_time)  # ties as Go's sort leaves them
    cpu_time = np.ascontiguousarray(cpu_time[srt])
    cs = cs[srt]
    cpu_m = np.ascontiguousarray(cs["m"]).view(np.int64)
    cpu_p = np.ascontiguousarray(cs["p"]).view(np.int64)
    bad_p = (cpu_p < -(1 << 31)) | (cpu_p >= (1 << 31))
    if bad_p.any():
        raise TraceOrderError(f"P id {int(cpu_p[bad_p][0])} does not fit fastrace's 32-bit "
                              "P column", generation=gen)
    cpu_g = np.where(cs["g"] == 0, -1, cs["g"].astype(np.int64))
    cpu_stack_id = np.ascontiguousarray(cs["stack"], dtype=np.uint64)
    return PreparedGeneration(gen=gen, freq=freq, string_map=string_map, stack_map=stack_map,
                exp_batches=g.exp_batches,
                order=np.ascontiguousarray(order), bounds=bounds, m_ids=np.ascontiguousarray(m_ids),
                cpu_time=cpu_time, cpu_m=cpu_m, cpu_p=cpu_p, cpu_g=np.ascontiguousarray(cpu_g),
                cpu_stack_id=cpu_stack_id, min_time=int(g.record["min_time"]))


def generation_table(rows: list[GenerationRow], dtype) -> np.ndarray:
    """The generation rows as a table of ``dtype`` (GENERATION_DTYPE)."""
    out = np.zeros(len(rows), dtype=dtype)
    for name in GenerationRow._fields:
        out[name] = [getattr(r, name) for r in rows]
    return out


def exp_batch_table(rows: list[ExpBatchRow], dtype) -> np.ndarray:
    """The experimental batch rows as a table of ``dtype`` (EXP_BATCH_DTYPE)."""
    out = np.zeros(len(rows), dtype=dtype)
    for name in ExpBatchRow._fields:
        out[name] = [getattr(r, name) for r in rows]
    return out
