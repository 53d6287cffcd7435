# cython: language_level=3
"""Wire-level decoder: trace bytes -> numpy tables, in one pass.

Stage 1 of fastrace's pipeline (bytes -> wire tables -> ordered events ->
interpretation).  ``decode_wire`` walks the batches of a v2 trace once, from
one contiguous buffer, and fills one growable C array per table (batches,
events, strings, stacks, frames, CPU samples, sync batches, experimental
batches, generations).  The arrays are handed to numpy without a copy.

Only structure is checked here (framing, lengths, varints, event types,
generation boundaries, the per-generation frequency and clock).  Meaning
(ids, ordering) is checked by later stages.

Inside the decoder nothing touches Python: errors are status codes plus a
WireError record, turned into a TraceFormatError by _wire_error at the
boundary.

The memory of the growable tables, shared by every stage through
_varint.pxd, is in the included _tables.pxi.
"""

from cpython.object cimport PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.mem cimport PyMem_RawMalloc, PyMem_RawRealloc, PyMem_RawFree
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.string cimport memcpy, memset


cimport numpy as cnp
import numpy as np

from fastrace import spec as _spec
from fastrace.errors import TraceFormatError, UnsupportedVersionError

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    # Not declared by Cython's numpy.pxd.  Steals a reference to descr.
    PyTypeObject PyArray_Type
    object PyArray_NewFromDescr(PyTypeObject* subtype, cnp.dtype descr, int nd,
                                cnp.npy_intp* dims, cnp.npy_intp* strides,
                                void* data, int flags, object obj)


# ---------------------------------------------------------------------------
# Event-type lookup tables, built once from fastrace.spec (the only table).

cdef EventTypes EVT           # this module's copy (see _varint.pxd)


cdef int fill_event_types(EventTypes* t) except -1:
    """Fill t from fastrace.spec, the one table of event types."""
    memset(t, 0, sizeof(EventTypes))
    memset(t.since, 255, sizeof(t.since))
    for s in _spec.SPECS:
        flags = EVF_DEFINED
        if s.timed:
            flags |= EVF_TIMED
        if s.has_data:
            flags |= EVF_DATA
        if s.is_stack:
            flags |= EVF_STACK
        t.flags[s.code] = flags
        t.nargs[s.code] = len(s.args)
        t.since[s.code] = s.since
        t.rows[s.code] = s.rows
    return 0


cdef enum EvCode:             # framing codes the decoder needs by value
    EV_EVENT_BATCH = 1
    EV_STACKS = 2
    EV_STACK = 3
    EV_STRINGS = 4
    EV_STRING = 5
    EV_CPU_SAMPLES = 6
    EV_CPU_SAMPLE = 7
    EV_FREQUENCY = 8
    EV_EXPERIMENTAL_BATCH = 49
    EV_SYNC = 50
    EV_CLOCK_SNAPSHOT = 51
    EV_END_OF_GENERATION = 52

cdef enum Limits:             # mirrors fastrace.spec (checked below)
    MAX_BATCH_SIZE = 65536
    MAX_FRAMES_PER_STACK = 128
    MAX_DATA_SIZE = 1024

cdef uint64_t NO_M = 0xFFFFFFFFFFFFFFFF  # M id of batches written by no M


def _init_tables():
    fill_event_types(&EVT)
    # The framing codes above are written by value; make sure they agree
    # with the table.
    for name, code in (
        ("EventBatch", EV_EVENT_BATCH), ("Stacks", EV_STACKS), ("Stack", EV_STACK),
        ("Strings", EV_STRINGS), ("String", EV_STRING), ("CPUSamples", EV_CPU_SAMPLES),
        ("CPUSample", EV_CPU_SAMPLE), ("Frequency", EV_FREQUENCY),
        ("ExperimentalBatch", EV_EXPERIMENTAL_BATCH), ("Sync", EV_SYNC),
        ("ClockSnapshot", EV_CLOCK_SNAPSHOT), ("EndOfGeneration", EV_END_OF_GENERATION),
    ):
        if _spec.BY_NAME[name].code != code:
            raise RuntimeError(f"fastrace._varint: code of {name} disagrees with fastrace.spec")
    if (_spec.MAX_BATCH_SIZE, _spec.MAX_FRAMES_PER_STACK, _spec.MAX_DATA_SIZE) != (
            MAX_BATCH_SIZE, MAX_FRAMES_PER_STACK, MAX_DATA_SIZE):
        raise RuntimeError("fastrace._varint: limits disagree with fastrace.spec")


_init_tables()


# ---------------------------------------------------------------------------
# Dtypes, derived from the record structs in _varint.pxd.

cdef BatchRec _batch_proto
cdef EventRec _event_proto
cdef StringRec _string_proto
cdef StackRec _stack_proto
cdef FrameRec _frame_proto
cdef CPUSampleRec _cpu_proto
cdef SyncRec _sync_proto
cdef ExpBatchRec _exp_proto
cdef GenerationRec _gen_proto


def _dtype_of(view):
    dt = np.asarray(view).dtype
    # Drop the padding fields from the visible names but keep the layout.
    names = [n for n in dt.names if not n.startswith("pad")]
    return np.dtype({
        "names": names,
        "formats": [dt.fields[n][0] for n in names],
        "offsets": [dt.fields[n][1] for n in names],
        "itemsize": dt.itemsize,
    })


BATCH_DTYPE = _dtype_of(<BatchRec[:1]>&_batch_proto)
EVENT_DTYPE = _dtype_of(<EventRec[:1]>&_event_proto)
STRING_DTYPE = _dtype_of(<StringRec[:1]>&_string_proto)
STACK_DTYPE = _dtype_of(<StackRec[:1]>&_stack_proto)
FRAME_DTYPE = _dtype_of(<FrameRec[:1]>&_frame_proto)
CPU_SAMPLE_DTYPE = _dtype_of(<CPUSampleRec[:1]>&_cpu_proto)
SYNC_DTYPE = _dtype_of(<SyncRec[:1]>&_sync_proto)
EXP_BATCH_DTYPE = _dtype_of(<ExpBatchRec[:1]>&_exp_proto)
GENERATION_DTYPE = _dtype_of(<GenerationRec[:1]>&_gen_proto)

BATCH_KINDS = {
    "EVENTS": BATCH_EVENTS,
    "STRINGS": BATCH_STRINGS,
    "STACKS": BATCH_STACKS,
    "CPU_SAMPLES": BATCH_CPU_SAMPLES,
    "SYNC": BATCH_SYNC,
    "EXPERIMENTAL": BATCH_EXPERIMENTAL,
    "END_OF_GENERATION": BATCH_END_OF_GENERATION,
}


# ---------------------------------------------------------------------------
# Growable arrays (declared in _varint.pxd): their memory, and how they are
# handed to numpy.

include "_tables.pxi"


# ---------------------------------------------------------------------------
# Decoder state.

cdef struct WireError:
    int code                  # WireStatus
    Py_ssize_t offset         # byte offset where the problem starts
    int64_t batch             # batch index, -1 if none
    int64_t event             # event index inside the batch, -1 if none
    uint64_t gen              # generation number as written (any uint64), if has_gen
    bint has_gen              # the problem is inside a generation
    uint64_t a                # code-specific values
    uint64_t b

cdef struct Decoder:
    Cursor cur                # over the whole input
    int version               # trace version (the NN of go 1.NN)
    WireError err
    Growable batches
    Growable events
    Growable strings
    Growable stacks
    Growable frames
    Growable cpu_samples
    Growable syncs
    Growable exp_batches
    Growable generations
    GenerationRec* gen        # the open generation, NULL between generations
    int64_t gen_event_batches # event batches in the open generation
    int64_t gen_has_freq      # the open generation has a frequency
    int64_t cur_batch         # index of the batch being decoded, -1 if none
    int64_t closed_gens       # generations closed so far (checks passed)
    int64_t max_gens          # stop after this many generations (0 = all)
    bint index_only           # index event batches without reading their events
    Py_ssize_t snap[9]        # table lengths before the current batch (see salvage)


cdef inline int fail(Decoder* d, int code, Py_ssize_t offset,
                     uint64_t a, uint64_t b, int64_t event) noexcept nogil:
    d.err.code = code
    d.err.offset = offset
    d.err.a = a
    d.err.b = b
    d.err.event = event
    d.err.batch = d.cur_batch
    d.err.has_gen = d.gen != NULL
    d.err.gen = d.gen.gen if d.gen != NULL else 0
    return code


cdef inline int check_type(Decoder* d, uint8_t typ, Py_ssize_t at, int64_t ev) noexcept nogil:
    if not (EVT.flags[typ] & EVF_DEFINED) or EVT.since[typ] > d.version:
        return fail(d, WIRE_BAD_EVENT_TYPE, at, typ, <uint64_t>d.version, ev)
    return WIRE_OK


cdef int open_generation(Decoder* d, uint64_t gen, Py_ssize_t offset) noexcept nogil:
    cdef GenerationRec* g = <GenerationRec*>grow_push(&d.generations)
    if g == NULL:
        return fail(d, WIRE_NOMEM, offset, 0, 0, -1)
    g.gen = gen
    g.offset = <uint64_t>offset
    g.batch_start = d.batches.n
    g.event_start = d.events.n
    g.string_start = d.strings.n
    g.stack_start = d.stacks.n
    g.frame_start = d.frames.n
    g.cpu_sample_start = d.cpu_samples.n
    g.sync_start = d.syncs.n
    g.exp_batch_start = d.exp_batches.n
    d.gen = g
    d.gen_event_batches = 0
    d.gen_has_freq = 0
    return WIRE_OK


cdef int close_generation(Decoder* d, Py_ssize_t end, bint ended) noexcept nogil:
    cdef GenerationRec* g = d.gen
    g.end = <uint64_t>end
    g.ended = ended
    if not d.gen_has_freq:
        return fail(d, WIRE_NO_FREQUENCY, end, 0, 0, -1)
    if d.version >= 25 and not g.has_clock:
        return fail(d, WIRE_NO_CLOCK, end, 0, 0, -1)
    d.gen = NULL
    d.closed_gens += 1
    return WIRE_OK


# ---------------------------------------------------------------------------
# Batch payloads.  Each gets a cursor limited to its payload.

cdef inline int read_fields(Decoder* d, Cursor* c, uint64_t* out, int n,
                            int64_t k) noexcept nogil:
    """Read n varints into out[0..n-1].

    Used with the address of the first of n consecutive uint64_t fields of a
    record struct (the structs in _varint.pxd keep those fields adjacent).
    """
    cdef int i, st
    for i in range(n):
        st = read_uvarint(c, &out[i])
        if st:
            return fail(d, st, c.pos, 0, 0, k)
    return WIRE_OK


cdef inline void* next_entry(Decoder* d, Cursor* c, uint8_t expected, Growable* table,
                             int64_t k, int* st) noexcept nogil:
    """Consume the type byte of the k-th entry of a table batch, check that
    it is `expected` and append a zeroed row to `table` for it."""
    cdef Py_ssize_t at = c.pos
    cdef uint8_t typ = c.buf[c.pos]
    cdef void* row
    c.pos += 1
    if typ != expected:
        st[0] = fail(d, WIRE_UNEXPECTED_EVENT, at, expected, typ, k)
        return NULL
    row = grow_push(table)
    if row == NULL:
        st[0] = fail(d, WIRE_NOMEM, at, 0, 0, k)
    return row


cdef int decode_events(Decoder* d, Cursor* c, BatchRec* b, uint32_t bi) noexcept nogil:
    cdef uint64_t t = b.time
    cdef uint64_t dt
    cdef Py_ssize_t at
    cdef uint8_t typ
    cdef int n, st
    cdef int64_t k = 0
    cdef EventRec* e
    if d.index_only:
        # Only the batch is indexed: the ordering stage reads and checks its
        # events from the bytes when it gets to them (as Go's reader does).
        b.first = -1
        b.count = 0
        return WIRE_OK
    b.first = d.events.n
    while c.pos < c.end:
        at = c.pos
        typ = c.buf[c.pos]
        c.pos += 1
        st = check_type(d, typ, at, k)
        if st:
            return st
        if not (EVT.flags[typ] & EVF_TIMED):
            return fail(d, WIRE_UNTIMED_IN_BATCH, at, typ, 0, k)
        st = read_uvarint(c, &dt)
        if st:
            return fail(d, st, c.pos, 0, 0, k)
        t += dt
        e = <EventRec*>grow_slot(&d.events)
        if e == NULL:
            return fail(d, WIRE_NOMEM, at, 0, 0, k)
        e.time = t
        e.args[0] = 0
        e.args[1] = 0
        e.args[2] = 0
        e.args[3] = 0
        e.type = typ
        e.batch = bi
        n = EVT.nargs[typ] - 1
        e.nargs = <uint8_t>n
        e.pad0 = 0
        e.pad1 = 0
        st = read_fields(d, c, &e.args[0], n, k)
        if st:
            return st
        k += 1
    b.count = <uint32_t>k
    return WIRE_OK


cdef int decode_strings(Decoder* d, Cursor* c, BatchRec* b, uint32_t bi) noexcept nogil:
    cdef uint64_t ln
    cdef int st = WIRE_OK
    cdef int64_t k = 0
    cdef StringRec* s
    b.first = d.strings.n
    c.pos += 1  # the Strings byte that made this a strings batch
    while c.pos < c.end:
        s = <StringRec*>next_entry(d, c, EV_STRING, &d.strings, k, &st)
        if s == NULL:
            return st
        s.batch = bi
        st = read_fields(d, c, &s.id, 1, k)
        if st == WIRE_OK:
            st = read_fields(d, c, &ln, 1, k)
        if st:
            return st
        if ln > MAX_DATA_SIZE:
            return fail(d, WIRE_DATA_TOO_LONG, c.pos, ln, MAX_DATA_SIZE, k)
        if <Py_ssize_t>ln > c.end - c.pos:
            return fail(d, WIRE_DATA_TRUNCATED, c.pos, ln, <uint64_t>(c.end - c.pos), k)
        s.offset = <uint64_t>c.pos
        s.length = <uint32_t>ln
        c.pos += <Py_ssize_t>ln
        k += 1
    b.count = <uint32_t>k
    return WIRE_OK


cdef int decode_stacks(Decoder* d, Cursor* c, BatchRec* b, uint32_t bi) noexcept nogil:
    cdef uint64_t nframes
    cdef uint64_t i
    cdef int st = WIRE_OK
    cdef int64_t k = 0
    cdef StackRec* s
    cdef FrameRec* f
    b.first = d.stacks.n
    c.pos += 1  # the Stacks byte
    while c.pos < c.end:
        s = <StackRec*>next_entry(d, c, EV_STACK, &d.stacks, k, &st)
        if s == NULL:
            return st
        s.batch = bi
        st = read_fields(d, c, &s.id, 1, k)
        if st == WIRE_OK:
            st = read_fields(d, c, &nframes, 1, k)
        if st:
            return st
        if nframes > MAX_FRAMES_PER_STACK:
            return fail(d, WIRE_TOO_MANY_FRAMES, c.pos, nframes, MAX_FRAMES_PER_STACK, k)
        s.nframes = <uint32_t>nframes
        s.frame_start = d.frames.n
        for i in range(nframes):
            f = <FrameRec*>grow_push(&d.frames)
            if f == NULL:
                return fail(d, WIRE_NOMEM, c.pos, 0, 0, k)
            st = read_fields(d, c, &f.pc, 4, k)  # pc, func, file, line
            if st:
                return st
        k += 1
    b.count = <uint32_t>k
    return WIRE_OK


cdef int decode_cpu_samples(Decoder* d, Cursor* c, BatchRec* b, uint32_t bi) noexcept nogil:
    cdef int st = WIRE_OK
    cdef int64_t k = 0
    cdef CPUSampleRec* s
    b.first = d.cpu_samples.n
    c.pos += 1  # the CPUSamples byte
    while c.pos < c.end:
        s = <CPUSampleRec*>next_entry(d, c, EV_CPU_SAMPLE, &d.cpu_samples, k, &st)
        if s == NULL:
            return st
        s.batch = bi
        st = read_fields(d, c, &s.time, 5, k)  # time, m, p, g, stack
        if st:
            return st
        k += 1
    b.count = <uint32_t>k
    return WIRE_OK


cdef int decode_sync(Decoder* d, Cursor* c, BatchRec* b, uint32_t bi) noexcept nogil:
    cdef Py_ssize_t at
    cdef uint8_t typ
    cdef uint64_t v
    cdef int st
    cdef int64_t k = 0
    cdef GenerationRec* g = d.gen
    cdef SyncRec* s = <SyncRec*>grow_push(&d.syncs)
    if s == NULL:
        return fail(d, WIRE_NOMEM, c.pos, 0, 0, -1)
    s.batch = bi
    b.first = d.syncs.n - 1
    b.count = 1
    if d.version >= 25:
        c.pos += 1  # the Sync byte
    while c.pos < c.end:
        at = c.pos
        typ = c.buf[c.pos]
        c.pos += 1
        if typ == EV_FREQUENCY:
            st = read_uvarint(c, &v)
            if st:
                return fail(d, st, c.pos, 0, 0, k)
            if d.gen_has_freq:
                return fail(d, WIRE_DUP_FREQUENCY, at, 0, 0, k)
            if v == 0:
                return fail(d, WIRE_ZERO_FREQUENCY, at, 0, 0, k)
            s.freq = v
            s.has_freq = 1
            g.freq = v
            d.gen_has_freq = 1
        elif typ == EV_CLOCK_SNAPSHOT and d.version >= 25:
            st = read_uvarint(c, &v)
            if st == WIRE_OK:
                s.clock_time = b.time + v
                st = read_uvarint(c, &s.clock_mono)
            if st == WIRE_OK:
                st = read_uvarint(c, &s.clock_sec)
            if st == WIRE_OK:
                st = read_uvarint(c, &s.clock_nsec)
            if st:
                return fail(d, st, c.pos, 0, 0, k)
            if g.has_clock:
                return fail(d, WIRE_DUP_CLOCK, at, 0, 0, k)
            s.has_clock = 1
            s.clock_first = not s.has_freq
            g.has_clock = 1
            g.clock_time = s.clock_time
            g.clock_mono = s.clock_mono
            g.clock_sec = s.clock_sec
            g.clock_nsec = s.clock_nsec
        else:
            return fail(d, WIRE_UNEXPECTED_EVENT, at, EV_FREQUENCY, typ, k)
        k += 1
    return WIRE_OK


# ---------------------------------------------------------------------------
# Batches.

cdef inline void tables_of(Decoder* d, Growable** t) noexcept nogil:
    t[0] = &d.batches
    t[1] = &d.events
    t[2] = &d.strings
    t[3] = &d.stacks
    t[4] = &d.frames
    t[5] = &d.cpu_samples
    t[6] = &d.syncs
    t[7] = &d.exp_batches
    t[8] = &d.generations


cdef bint salvage(Decoder* d) noexcept nogil:
    """After an error, keep the generations that came before it.

    Go's reader hands out the events of every generation before the one
    with the damage, then reports the damage; so does fastrace.read.  Drops
    the failing batch and the generation it belongs to (before Go 1.26, the
    generation is kept if what was read of it is complete enough: Go goes
    ahead with it too).  Returns whether any generation is left.
    """
    cdef Growable* t[9]
    cdef GenerationRec* g
    cdef Py_ssize_t i
    cdef int64_t keep
    tables_of(d, t)
    if d.cur_batch >= 0:
        for i in range(9):
            if t[i].n > d.snap[i]:
                t[i].n = d.snap[i]
    keep = d.closed_gens
    if d.generations.n > keep and d.version < 26 and d.gen != NULL:
        g = <GenerationRec*>(d.generations.data) + keep
        if g == d.gen and d.gen_has_freq and (d.version < 25 or g.has_clock):
            keep += 1
    if keep == 0:
        return False
    if d.generations.n > keep:
        g = <GenerationRec*>(d.generations.data) + keep
        d.batches.n = g.batch_start
        d.events.n = g.event_start
        d.strings.n = g.string_start
        d.stacks.n = g.stack_start
        d.frames.n = g.frame_start
        d.cpu_samples.n = g.cpu_sample_start
        d.syncs.n = g.sync_start
        d.exp_batches.n = g.exp_batch_start
        d.generations.n = keep
    g = <GenerationRec*>(d.generations.data) + (keep - 1)
    if d.batches.n > 0:
        # End of the last kept generation: one past its last batch's payload.
        g.end = (<BatchRec*>d.batches.data)[d.batches.n - 1].data_offset + \
            (<BatchRec*>d.batches.data)[d.batches.n - 1].size
    return True


cdef int decode_batch(Decoder* d) noexcept nogil:
    cdef Cursor* c = &d.cur
    cdef Py_ssize_t start = c.pos
    cdef uint8_t head = c.buf[c.pos]
    cdef uint8_t exp = 0
    cdef uint64_t gen, m, t, size
    cdef int st
    cdef uint32_t bi
    cdef BatchRec* b
    cdef Cursor payload
    cdef uint8_t first
    cdef ExpBatchRec* e
    cdef Growable* tables[9]
    cdef int i

    d.cur_batch = d.batches.n
    tables_of(d, tables)
    for i in range(9):
        d.snap[i] = tables[i].n
    if head == EV_END_OF_GENERATION and d.version >= 26:
        c.pos += 1
        if d.gen == NULL:
            # An end with nothing begun: the generation has no frequency.
            return fail(d, WIRE_NO_FREQUENCY, start, 0, 0, -1)
        b = <BatchRec*>grow_push(&d.batches)
        if b == NULL:
            return fail(d, WIRE_NOMEM, start, 0, 0, -1)
        b.offset = <uint64_t>start
        b.data_offset = <uint64_t>c.pos
        b.gen = d.gen.gen
        b.m = NO_M
        b.kind = BATCH_END_OF_GENERATION
        b.generation = <uint32_t>(d.generations.n - 1)
        b.first = -1
        st = close_generation(d, c.pos, True)
        if st == WIRE_OK and d.max_gens and d.closed_gens >= d.max_gens:
            return WIRE_STOP
        return st

    if head == EV_EXPERIMENTAL_BATCH and d.version >= 23:
        if c.end - c.pos < 2:
            return fail(d, WIRE_HEADER_TRUNCATED, start, 0, 0, -1)
        exp = c.buf[c.pos + 1]
        c.pos += 2
        if exp == 0:
            return fail(d, WIRE_EXP_ZERO, start, 0, 0, -1)
    elif head == EV_EVENT_BATCH:
        c.pos += 1
    else:
        return fail(d, WIRE_NOT_A_BATCH, start, head, 0, -1)

    st = read_uvarint(c, &gen)
    if st == WIRE_OK:
        st = read_uvarint(c, &m)
    if st == WIRE_OK:
        st = read_uvarint(c, &t)
    if st == WIRE_OK:
        st = read_uvarint(c, &size)
    if st == WIRE_VARINT_TRUNCATED:
        return fail(d, WIRE_HEADER_TRUNCATED, start, 0, 0, -1)
    if st:
        return fail(d, st, c.pos, 0, 0, -1)
    if size > MAX_BATCH_SIZE:
        return fail(d, WIRE_BATCH_TOO_BIG, start, size, MAX_BATCH_SIZE, -1)
    if <Py_ssize_t>size > c.end - c.pos:
        return fail(d, WIRE_BATCH_PAST_EOF, start, size, <uint64_t>(c.end - c.pos), -1)

    # Generation boundaries.  From Go 1.26 an EndOfGeneration batch closes a
    # generation; before, the first batch of generation N+1 does.
    if gen == 0:
        return fail(d, WIRE_GEN_ZERO, start, 0, 0, -1)
    if d.gen == NULL:
        st = open_generation(d, gen, start)
        if st:
            return st
    elif gen != d.gen.gen:
        if d.version < 26 and gen == d.gen.gen + 1:
            st = close_generation(d, start, False)
            if st == WIRE_OK and d.max_gens and d.closed_gens >= d.max_gens:
                c.pos = start  # leave this batch for the next call
                return WIRE_STOP
            if st == WIRE_OK:
                st = open_generation(d, gen, start)
            if st:
                return st
        else:
            return fail(d, WIRE_GEN_ORDER, start, gen, d.gen.gen, -1)
    if d.gen.min_time == 0 or t < d.gen.min_time:
        d.gen.min_time = t

    b = <BatchRec*>grow_push(&d.batches)
    if b == NULL:
        return fail(d, WIRE_NOMEM, start, 0, 0, -1)
    bi = <uint32_t>(d.batches.n - 1)
    b.offset = <uint64_t>start
    b.data_offset = <uint64_t>c.pos
    b.gen = gen
    b.m = m
    b.time = t
    b.size = <uint32_t>size
    b.exp = exp
    b.generation = <uint32_t>(d.generations.n - 1)

    payload.buf = c.buf
    payload.pos = c.pos
    payload.end = c.pos + <Py_ssize_t>size
    c.pos = payload.end

    if exp != 0:
        b.kind = BATCH_EXPERIMENTAL
        e = <ExpBatchRec*>grow_push(&d.exp_batches)
        if e == NULL:
            return fail(d, WIRE_NOMEM, start, 0, 0, -1)
        e.offset = b.data_offset
        e.length = <uint32_t>size
        e.batch = bi
        e.exp = exp
        b.first = d.exp_batches.n - 1
        b.count = 1
        return WIRE_OK

    first = c.buf[payload.pos] if size > 0 else 0
    if first == EV_STRINGS:
        b.kind = BATCH_STRINGS
        return decode_strings(d, &payload, b, bi)
    if first == EV_STACKS:
        b.kind = BATCH_STACKS
        return decode_stacks(d, &payload, b, bi)
    if first == EV_CPU_SAMPLES:
        b.kind = BATCH_CPU_SAMPLES
        return decode_cpu_samples(d, &payload, b, bi)
    if (first == EV_FREQUENCY and d.version < 25) or (first == EV_SYNC and d.version >= 25):
        b.kind = BATCH_SYNC
        return decode_sync(d, &payload, b, bi)
    b.kind = BATCH_EVENTS
    d.gen_event_batches += 1
    return decode_events(d, &payload, b, bi)


cdef int decode_all(Decoder* d) noexcept nogil:
    cdef int st
    while d.cur.pos < d.cur.end:
        st = decode_batch(d)
        if st == WIRE_STOP:
            return WIRE_OK
        if st:
            return st
    d.cur_batch = -1
    if d.gen != NULL:
        if d.version >= 26:
            if d.gen_event_batches:
                return fail(d, WIRE_NO_END_OF_GEN, d.cur.end, 0, 0, -1)
            # Go's reader drops a trailing generation that holds no event
            # batches without complaint; keep its tables, marked not ended.
            d.gen.end = <uint64_t>d.cur.end
            d.gen = NULL
            return WIRE_OK
        return close_generation(d, d.cur.end, False)
    return WIRE_OK


# ---------------------------------------------------------------------------
# Python boundary.

_HEADER_PREFIX = b"go 1."
_HEADER_SUFFIX = b" trace\x00\x00\x00"


def parse_header(const uint8_t[::1] data):
    """Return (version, header_length) for a trace's header.

    Raises TraceFormatError when the bytes are not a Go trace header and
    UnsupportedVersionError for a well-formed header of an unknown or not
    yet supported version.
    """
    cdef Py_ssize_t n = data.shape[0]
    cdef Py_ssize_t i = len(_HEADER_PREFIX)
    head = bytes(data[:min(n, 24)])
    if not head.startswith(_HEADER_PREFIX):
        raise TraceFormatError("bad file format: not a Go execution trace", offset=0)
    j = i
    while j < len(head) and j - i < 3 and 48 <= head[j] <= 57:
        j += 1
    if j == i or head[j:j + len(_HEADER_SUFFIX)] != _HEADER_SUFFIX:
        raise TraceFormatError("bad file format: not a Go execution trace", offset=0)
    version = int(head[i:j])
    if version in _spec.V1_VERSIONS:
        raise UnsupportedVersionError(
            f"go 1.{version} trace: the format of Go 1.11-1.21 is not supported yet", offset=0)
    if version not in _spec.TRACE_VERSIONS:
        raise UnsupportedVersionError(
            f"unknown or unsupported trace version go 1.{version}", offset=0)
    return version, j + len(_HEADER_SUFFIX)


cdef void _free_all(Decoder* d) noexcept:
    cdef Growable* tables[9]
    tables_of(d, tables)
    for i in range(9):
        release(tables[i])


def _name(code):
    s = _spec.BY_CODE[code] if 0 <= code < 256 else None
    return s.name if s is not None else f"type {code}"


cdef _wire_error(WireError* e, int version):
    code = e.code
    a, b = e.a, e.b
    if code == WIRE_NOMEM:
        raise MemoryError("fastrace: out of memory while decoding the trace")
    if code == WIRE_VARINT_TRUNCATED:
        msg = "truncated varint: it runs past the end of its batch or of the file"
    elif code == WIRE_VARINT_OVERFLOW:
        msg = "varint overflows 64 bits (longer than 10 bytes or too large)"
    elif code == WIRE_NOT_A_BATCH:
        msg = f"expected a batch header, found event type {a}"
    elif code == WIRE_HEADER_TRUNCATED:
        msg = "truncated batch header: the file ends inside it"
    elif code == WIRE_BATCH_TOO_BIG:
        msg = f"batch declares {a} bytes, more than the maximum of {b}"
    elif code == WIRE_BATCH_PAST_EOF:
        msg = f"truncated batch: it declares {a} bytes but only {b} remain in the file"
    elif code == WIRE_BAD_EVENT_TYPE:
        msg = f"invalid event type {a} for a go 1.{b} trace"
    elif code == WIRE_UNTIMED_IN_BATCH:
        msg = f"event {_name(a)} (type {a}) cannot appear in an event batch"
    elif code == WIRE_UNEXPECTED_EVENT:
        msg = f"expected a {_name(a)} event, found {_name(b)}"
    elif code == WIRE_DATA_TOO_LONG:
        msg = f"string of {a} bytes is longer than the maximum of {b}"
    elif code == WIRE_DATA_TRUNCATED:
        msg = f"truncated string: {a} bytes declared but only {b} remain in the batch"
    elif code == WIRE_TOO_MANY_FRAMES:
        msg = f"stack of {a} frames is longer than the maximum of {b}"
    elif code == WIRE_DUP_FREQUENCY:
        msg = "more than one frequency event in a generation"
    elif code == WIRE_DUP_CLOCK:
        msg = "more than one clock snapshot in a generation"
    elif code == WIRE_ZERO_FREQUENCY:
        msg = "frequency of 0 ticks per second"
    elif code == WIRE_NO_FREQUENCY:
        msg = "generation has no frequency event"
    elif code == WIRE_NO_CLOCK:
        msg = "generation has no clock snapshot"
    elif code == WIRE_GEN_ZERO:
        msg = "invalid generation number 0"
    elif code == WIRE_GEN_ORDER:
        msg = f"generations out of order: a batch of generation {a} inside generation {b}"
    elif code == WIRE_NO_END_OF_GEN:
        msg = "incomplete generation: no EndOfGeneration before the end of the file (truncated trace?)"
    elif code == WIRE_EXP_ZERO:
        msg = "experimental batch with experiment id 0"
    else:
        msg = f"wire decoder error {code}"
    return TraceFormatError(
        msg,
        offset=e.offset,
        generation=e.gen if e.has_gen else None,
        batch=e.batch if e.batch >= 0 else None,
        event=e.event if e.event >= 0 else None,
    )


def event_error(int code, Py_ssize_t offset, uint64_t a, uint64_t b, gen,
                int64_t batch, int64_t event, int version):
    """The TraceFormatError the wire decoder raises for status ``code``
    (WireStatus), for problems found in events by the ordering stage.
    ``gen``: the generation number as written (any uint64), or None."""
    cdef WireError e
    e.code = code
    e.offset = offset
    e.a = a
    e.b = b
    e.has_gen = gen is not None
    e.gen = gen if gen is not None else 0
    e.batch = batch
    e.event = event
    return _wire_error(&e, version)


def decode_wire(const uint8_t[::1] data, bint salvage_prefix=False,
                Py_ssize_t start=-1, int64_t max_generations=0, bint index_only=False):
    """Decode a whole v2 trace held in ``data`` (any contiguous buffer).

    Returns a dict with ``version`` (int), ``header_size`` (int) and the
    tables ``batches``, ``events``, ``strings``, ``stacks``, ``frames``,
    ``cpu_samples``, ``syncs``, ``exp_batches`` and ``generations`` as numpy
    structured arrays.  String bytes and experimental batch data are not
    copied: their rows hold offsets into ``data``.

    With ``salvage_prefix``, a damaged trace does not raise if at least one
    generation before the damage is intact: the tables hold those
    generations and ``error`` holds the TraceFormatError to report after
    them (otherwise ``error`` is None).

    ``start`` (a batch boundary, default: right after the header) and
    ``max_generations`` decode part of a trace: ``next_offset`` in the
    result is where the next call should start (the input size at the end).
    With ``index_only`` event batches are indexed but their events are not
    read (the events table stays empty; such batches have ``first`` -1 and
    ``count`` 0): the ordering stage reads and checks each event from the
    bytes when it gets to it, as Go's reader does.
    """
    version, header_size = parse_header(data)
    cdef Decoder d
    cdef int st
    memset(&d, 0, sizeof(Decoder))
    d.version = version
    d.cur.buf = &data[0]
    d.cur.pos = header_size if start < 0 else start
    if d.cur.pos < header_size or d.cur.pos > data.shape[0]:
        raise ValueError(f"start offset {start} outside the trace's batches")
    d.max_gens = max_generations
    d.index_only = index_only
    d.cur.end = data.shape[0]
    d.batches.size = sizeof(BatchRec)
    d.events.size = sizeof(EventRec)
    d.strings.size = sizeof(StringRec)
    d.stacks.size = sizeof(StackRec)
    d.frames.size = sizeof(FrameRec)
    d.cpu_samples.size = sizeof(CPUSampleRec)
    d.syncs.size = sizeof(SyncRec)
    d.exp_batches.size = sizeof(ExpBatchRec)
    d.generations.size = sizeof(GenerationRec)
    with nogil:
        st = decode_all(&d)
    error = None
    if st:
        error = _wire_error(&d.err, version)
        # Events read before the damage (none of an event batch's in
        # index_only mode): what on_error="truncate" says it dropped.
        error.events_read = d.events.n
        if st == WIRE_NOMEM or not salvage_prefix or not salvage(&d):
            _free_all(&d)
            raise error
    try:
        return {
            "error": error,
            "next_offset": d.cur.pos if error is None else data.shape[0],
            "version": version,
            "header_size": header_size,
            "batches": adopt(&d.batches, BATCH_DTYPE),
            "events": adopt(&d.events, EVENT_DTYPE),
            "strings": adopt(&d.strings, STRING_DTYPE),
            "stacks": adopt(&d.stacks, STACK_DTYPE),
            "frames": adopt(&d.frames, FRAME_DTYPE),
            "cpu_samples": adopt(&d.cpu_samples, CPU_SAMPLE_DTYPE),
            "syncs": adopt(&d.syncs, SYNC_DTYPE),
            "exp_batches": adopt(&d.exp_batches, EXP_BATCH_DTYPE),
            "generations": adopt(&d.generations, GENERATION_DTYPE),
        }
    finally:
        _free_all(&d)


def uvarint(const uint8_t[::1] data, Py_ssize_t pos=0):
    """Decode one varint at ``pos``; return (value, next position).

    The same code path the decoder uses, exposed for tests and tools.
    """
    cdef Cursor c
    cdef uint64_t v = 0
    cdef int st
    if pos < 0 or pos > data.shape[0]:
        raise IndexError(f"position {pos} outside a buffer of {data.shape[0]} bytes")
    c.buf = &data[0] if data.shape[0] else NULL
    c.pos = pos
    c.end = data.shape[0]
    st = read_uvarint(&c, &v)
    if st == WIRE_VARINT_TRUNCATED:
        raise TraceFormatError("truncated varint", offset=pos)
    if st == WIRE_VARINT_OVERFLOW:
        raise TraceFormatError("varint overflows 64 bits", offset=pos)
    return v, c.pos
