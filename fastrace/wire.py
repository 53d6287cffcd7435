"""Wire-level view of a trace: the batches and tables exactly as written.

``decode_wire(source)`` runs the Cython decoder (``fastrace._varint``) over
the whole input and wraps its tables in a :class:`WireTrace`.  Nothing here
orders events or checks their meaning; that is the ordering stage's job.

Table rows refer to each other by index: an event's ``batch`` is a row of
``batches``, a batch's ``generation`` a row of ``generations``, a stack's
``frame_start``/``nframes`` a slice of ``frames``.  String bytes and
experimental batch data stay in the input buffer; their rows hold offsets.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from fastrace import _varint
from fastrace import spec as _spec
from fastrace.errors import TraceFormatError

__all__ = [
    "BatchKind",
    "WireTrace",
    "WireGeneration",
    "decode_wire",
    "iter_wire_generations",
    "open_source",
    "BATCH_DTYPE",
    "EVENT_DTYPE",
    "STRING_DTYPE",
    "STACK_DTYPE",
    "FRAME_DTYPE",
    "CPU_SAMPLE_DTYPE",
    "SYNC_DTYPE",
    "EXP_BATCH_DTYPE",
    "GENERATION_DTYPE",
]

BATCH_DTYPE = _varint.BATCH_DTYPE
EVENT_DTYPE = _varint.EVENT_DTYPE
STRING_DTYPE = _varint.STRING_DTYPE
STACK_DTYPE = _varint.STACK_DTYPE
FRAME_DTYPE = _varint.FRAME_DTYPE
CPU_SAMPLE_DTYPE = _varint.CPU_SAMPLE_DTYPE
SYNC_DTYPE = _varint.SYNC_DTYPE
EXP_BATCH_DTYPE = _varint.EXP_BATCH_DTYPE
GENERATION_DTYPE = _varint.GENERATION_DTYPE


class BatchKind(enum.IntEnum):
    """What a batch holds (column ``kind`` of the batches table)."""

    EVENTS = 0             # timed events written by one M
    STRINGS = 1            # a section of the string table
    STACKS = 2             # a section of the stack table
    CPU_SAMPLES = 3        # CPU profile samples
    SYNC = 4               # frequency (and, from Go 1.25, clock snapshot)
    EXPERIMENTAL = 5       # bytes whose format belongs to an experiment
    END_OF_GENERATION = 6  # in-band end of a generation (Go 1.26+)


if {k.name: k.value for k in BatchKind} != _varint.BATCH_KINDS:
    raise ImportError("fastrace.wire.BatchKind disagrees with fastrace._varint")


# Tables whose rows are grouped by generation, with the generations-table
# column that holds each one's first row.
_GEN_TABLES = (
    ("batches", "batch_start"),
    ("events", "event_start"),
    ("strings", "string_start"),
    ("stacks", "stack_start"),
    ("frames", "frame_start"),
    ("cpu_samples", "cpu_sample_start"),
    ("syncs", "sync_start"),
    ("exp_batches", "exp_batch_start"),
)


def open_source(source) -> tuple[memoryview, object]:
    """Turn what a user passes as a trace into a read-only byte view of a
    binary trace: a path (``str``/``os.PathLike``, memory-mapped, never read
    into memory as a whole), a bytes-like object, an open binary file; a
    text-format trace is converted and a gzip/zstd/xz/bzip2-compressed one
    decompressed in memory; other files raise a
    :class:`fastrace.TraceFormatError` that says what they look like.  See
    :mod:`fastrace.sources`.  Returns the view and the object that must stay
    alive while it is used.
    """
    from fastrace.sources import open_input

    return open_input(source)


@dataclass(eq=False)
class WireGeneration:
    """One generation's slice of every wire table (views, not copies)."""

    index: int                   # row in WireTrace.generations
    gen: int                     # generation number written in the trace
    record: np.void              # the generations-table row
    batches: np.ndarray
    events: np.ndarray
    strings: np.ndarray
    stacks: np.ndarray
    frames: np.ndarray
    cpu_samples: np.ndarray
    syncs: np.ndarray
    exp_batches: np.ndarray
    trace: "WireTrace" = field(repr=False)

    @property
    def freq(self) -> int:
        """Timestamp ticks per second."""
        return int(self.record["freq"])

    def string_table(self) -> dict[int, bytes]:
        """Map string id -> bytes for this generation."""
        buf = self.trace.buffer
        return {
            int(r["id"]): bytes(buf[int(r["offset"]):int(r["offset"]) + int(r["length"])])
            for r in self.strings
        }


class WireTrace:
    """The decoded wire tables of one trace.

    Attributes: ``version`` (the NN of go 1.NN), ``size`` (input bytes),
    ``buffer`` (the input, read-only), and the tables ``batches``,
    ``events``, ``strings``, ``stacks``, ``frames``, ``cpu_samples``,
    ``syncs``, ``exp_batches``, ``generations`` (numpy structured arrays;
    see the dtypes in this module and in ``_varint.pxd``).
    """

    def __init__(self, tables: dict, buffer: memoryview, keepalive: object = None):
        self.version: int = tables["version"]
        self.header_size: int = tables["header_size"]
        self.batches: np.ndarray = tables["batches"]
        self.events: np.ndarray = tables["events"]
        self.strings: np.ndarray = tables["strings"]
        self.stacks: np.ndarray = tables["stacks"]
        self.frames: np.ndarray = tables["frames"]
        self.cpu_samples: np.ndarray = tables["cpu_samples"]
        self.syncs: np.ndarray = tables["syncs"]
        self.exp_batches: np.ndarray = tables["exp_batches"]
        self.generations: np.ndarray = tables["generations"]
        self.buffer = buffer
        self._keepalive = keepalive
        # With decode_wire(..., salvage_prefix=True): the damage found after
        # the generations these tables hold, to be reported after them.
        self.error: TraceFormatError | None = tables.get("error")
        # Index of this table's first batch in the whole file (pieces of
        # iter_wire_generations number their batches from 0).
        self.batch_base = 0

    @property
    def size(self) -> int:
        return len(self.buffer)

    def __repr__(self) -> str:
        return (
            f"<WireTrace go 1.{self.version}: {self.size} bytes, "
            f"{len(self.generations)} generations, {len(self.batches)} batches, "
            f"{len(self.events)} events>"
        )

    def _bounds(self, table: str, start_col: str) -> np.ndarray:
        starts = self.generations[start_col].astype(np.int64)
        return np.append(starts, len(getattr(self, table)))

    def generation(self, i: int) -> WireGeneration:
        """The tables of the i-th generation (in file order) as views."""
        n = len(self.generations)
        if not -n <= i < n:
            raise IndexError(f"generation index {i} out of range ({n} generations)")
        i %= n
        parts = {}
        for table, col in _GEN_TABLES:
            b = self._bounds(table, col)
            parts[table] = getattr(self, table)[b[i]:b[i + 1]]
        rec = self.generations[i]
        return WireGeneration(index=i, gen=int(rec["gen"]), record=rec, trace=self, **parts)

    def iter_generations(self) -> Iterator[WireGeneration]:
        for i in range(len(self.generations)):
            yield self.generation(i)

    def string_bytes(self, row: int) -> bytes:
        """The bytes of row ``row`` of the strings table."""
        r = self.strings[row]
        off = int(r["offset"])
        return bytes(self.buffer[off:off + int(r["length"])])

    def exp_batch_data(self, row: int) -> bytes:
        """The data of row ``row`` of the experimental batches table."""
        r = self.exp_batches[row]
        off = int(r["offset"])
        return bytes(self.buffer[off:off + int(r["length"])])

    def stack_frames(self, row: int) -> np.ndarray:
        """The frames of row ``row`` of the stacks table."""
        r = self.stacks[row]
        start = int(r["frame_start"])
        return self.frames[start:start + int(r["nframes"])]

    def experiments(self) -> list[str]:
        """Names of the experiments with events or batches in this trace."""
        ids = set(int(x) for x in np.unique(self.exp_batches["exp"]))
        types = np.unique(self.events["type"])
        for t in types:
            s = _spec.BY_CODE[int(t)]
            if s is not None and s.experiment:
                ids.add(s.experiment)
        return [_spec.EXPERIMENTS.get(i, f"experiment {i}") for i in sorted(ids)]


def decode_wire(source, *, salvage_prefix: bool = False) -> WireTrace:
    """Decode a trace (path, bytes-like, open file, text-format or compressed trace).

    Raises :class:`fastrace.TraceFormatError` for malformed input and
    :class:`fastrace.UnsupportedVersionError` for traces of other versions.
    With ``salvage_prefix``, damage after at least one intact generation
    does not raise: the result holds the generations before it and the
    exception is kept in ``.error`` (Go's reader also delivers those
    generations before it reports the damage).
    """
    view, keep = _open_trace(source)
    tables = _varint.decode_wire(view, salvage_prefix)
    return WireTrace(tables, view, keep)


def _open_trace(source):
    view, keep = open_source(source)
    if len(view) == 0:
        raise TraceFormatError("empty input: not a Go execution trace", offset=0)
    return view, keep


def iter_wire_generations(source, *, salvage_prefix: bool = False,
                          index_only: bool = False) -> Iterator[WireTrace]:
    """Decode a trace one generation at a time; each WireTrace holds one
    generation's tables (row numbers local to it) over the same buffer.

    With ``salvage_prefix``, damage is not raised but handed over in the
    ``error`` attribute of the last piece (which may hold no generation,
    also when the damage is in the first one); a bad header still raises.
    Batch numbers in errors count from the start of the file.  With
    ``index_only`` event batches are indexed, not read: the pieces'
    ``events`` tables are empty, and the ordering stage reads and checks the
    events from the bytes.
    """
    view, keep = _open_trace(source)
    view = _go_visible(view)
    pos = -1
    batches_before = 0
    while True:
        try:
            tables = _varint.decode_wire(view, salvage_prefix, pos, 1, index_only)
        except TraceFormatError as e:
            e = _shift_batch(e, batches_before)
            if not salvage_prefix:
                raise e from None
            # Damage in the first generation still yields a piece when the
            # header is good (Go's reader ends even such a trace with a
            # Sync before it reports); a bad header raises from here.
            try:
                empty = _varint.decode_wire(view, False, len(view), 0)
            except TraceFormatError:
                raise e from None
            empty["error"] = e
            yield WireTrace(empty, view, keep)
            return
        if tables["error"] is not None:
            tables["error"] = _shift_batch(tables["error"], batches_before)
        if len(tables["generations"]) == 0 and tables["error"] is None and pos >= 0:
            return
        piece = WireTrace(tables, view, keep)
        piece.batch_base = batches_before
        yield piece
        if tables["error"] is not None or tables["next_offset"] >= len(view):
            return
        batches_before += len(tables["batches"])
        pos = tables["next_offset"]


def _go_visible(view: memoryview) -> memoryview:
    """The part of ``view`` Go's reader sees as batches: all of it, except
    a last byte that is a lone ExperimentalBatch header byte at a batch
    boundary.  Go reads the experiment byte after it with an unwrapped
    read, so the end of the file there is a clean end of trace to Go
    rather than a truncated batch; fastrace follows.  Only that one case is
    cut off, checked by decoding: the byte must be where a batch begins."""
    n = len(view)
    if n < 2 or view[n - 1] != _EXPERIMENTAL_BATCH:
        return view
    try:
        _varint.decode_wire(view, False, -1, 0, True)   # batches only: milliseconds
    except TraceFormatError as e:
        if e.offset == n - 1 and e.event is None and e.batch is not None:
            return view[:n - 1]
    except ValueError:
        pass
    return view


_EXPERIMENTAL_BATCH = _spec.BY_NAME["ExperimentalBatch"].code


def _shift_batch(e: TraceFormatError, base: int) -> TraceFormatError:
    if not base or e.batch is None:
        return e
    return type(e)(e.problem, offset=e.offset, generation=e.generation,
                   batch=e.batch + base, event=e.event)


def drop_pages(mapping, piece: WireTrace) -> None:
    """Let the kernel take back the pages of a memory-mapped trace that hold
    a generation already ordered: they count in the process's resident
    memory otherwise, and the rest of read() does not need them (they come
    back from the page cache if anything reads them again)."""
    import mmap

    if not isinstance(mapping, mmap.mmap) or not hasattr(mapping, "madvise") \
            or len(piece.generations) == 0:
        return
    page = mmap.PAGESIZE
    start = int(piece.generations["offset"][0]) // page * page
    end = int(piece.generations["end"][-1]) // page * page
    if end > start:
        try:
            mapping.madvise(mmap.MADV_DONTNEED, start, end - start)
        except (OSError, ValueError, AttributeError):
            pass
