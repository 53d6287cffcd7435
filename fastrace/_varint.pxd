# cython: language_level=3
#
# The C layer of the wire decoder: the checked cursor, the varint reader and
# the record layouts of every table the decoder produces.  Each record struct
# is the single definition of a row: the numpy dtypes in _varint.pyx are
# derived from these structs, so the two cannot drift apart.
#
# Other Cython modules (the ordering engine) cimport the cursor and the varint
# reader from here, so that every byte of a trace is read through one checked
# code path.

from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.string cimport memset


# ---------------------------------------------------------------------------
# Status codes.  C functions return one of these; only the Python boundary
# (_varint.pyx: _raise_wire_error) turns them into exceptions.
cdef enum WireStatus:
    WIRE_OK = 0
    WIRE_NOMEM                # an allocation failed
    WIRE_BAD_HEADER           # the file does not start with "go 1.NN trace\0\0\0"
    WIRE_VARINT_TRUNCATED     # a varint runs past the end of its batch or file
    WIRE_VARINT_OVERFLOW      # a varint longer than 10 bytes or above 2**64-1
    WIRE_NOT_A_BATCH          # a byte where a batch must start is not a batch header
    WIRE_BATCH_TOO_BIG        # declared batch size above MAX_BATCH_SIZE
    WIRE_BATCH_PAST_EOF       # declared batch size larger than the bytes left
    WIRE_HEADER_TRUNCATED     # the file ends inside a batch header
    WIRE_BAD_EVENT_TYPE       # event type byte not defined for this version
    WIRE_UNTIMED_IN_BATCH     # a structural event inside an event batch
    WIRE_UNEXPECTED_EVENT     # an event of the wrong type inside a table batch
    WIRE_DATA_TOO_LONG        # a string longer than MAX_DATA_SIZE
    WIRE_DATA_TRUNCATED       # string bytes run past the end of their batch
    WIRE_TOO_MANY_FRAMES      # a stack with more than MAX_FRAMES_PER_STACK frames
    WIRE_DUP_FREQUENCY        # two frequency events in one generation
    WIRE_DUP_CLOCK            # two clock snapshots in one generation
    WIRE_ZERO_FREQUENCY       # a frequency of 0 ticks per second
    WIRE_NO_FREQUENCY         # a generation without a frequency event
    WIRE_NO_CLOCK             # a generation (Go 1.25+) without a clock snapshot
    WIRE_GEN_ZERO             # generation number 0 (reserved by the runtime)
    WIRE_GEN_ORDER            # a batch of another generation inside a generation
    WIRE_NO_END_OF_GEN        # the file ends inside a generation (Go 1.26+)
    WIRE_EXP_ZERO             # experimental batch with experiment id 0
    WIRE_STOP                 # not an error: the requested generations are decoded


# Batch kinds, decided by the batch header and the first payload byte.
# fastrace.wire.BatchKind mirrors these values (checked at import).
cdef enum BatchKindC:
    BATCH_EVENTS = 0          # timed events of one M
    BATCH_STRINGS = 1         # string table section
    BATCH_STACKS = 2          # stack table section
    BATCH_CPU_SAMPLES = 3     # CPU profile samples
    BATCH_SYNC = 4            # frequency and clock snapshot
    BATCH_EXPERIMENTAL = 5    # experiment-defined bytes
    BATCH_END_OF_GENERATION = 6  # one-byte in-band end of a generation


# ---------------------------------------------------------------------------
# Cursor: a window [pos, end) over one contiguous, immutable input buffer.
# Every read checks against end; nothing here allocates or touches Python.
cdef struct Cursor:
    const uint8_t* buf        # first byte of the whole input
    Py_ssize_t pos            # offset of the next unread byte
    Py_ssize_t end            # offset one past the last byte this cursor may read


cdef inline int read_uvarint(Cursor* c, uint64_t* out) noexcept nogil:
    """Read one unsigned LEB128 varint, as Go's encoding/binary.Uvarint does.

    At most 10 bytes; the 10th may only hold the top bit of a uint64.
    Non-minimal encodings are accepted (the runtime pads batch sizes to
    10 bytes).  On error c.pos is left at the start of the varint.
    """
    cdef Py_ssize_t i = c.pos
    cdef uint64_t x = 0
    cdef unsigned int shift = 0
    cdef uint8_t b
    cdef int n = 0
    if i < c.end and c.buf[i] < 0x80:
        # One byte: most time deltas and small ids.
        out[0] = c.buf[i]
        c.pos = i + 1
        return WIRE_OK
    while True:
        if i >= c.end:
            return WIRE_VARINT_TRUNCATED
        b = c.buf[i]
        i += 1
        n += 1
        if b < 0x80:
            if n == 10 and b > 1:
                return WIRE_VARINT_OVERFLOW
            out[0] = x | (<uint64_t>b << shift)
            c.pos = i
            return WIRE_OK
        if n == 10:
            return WIRE_VARINT_OVERFLOW
        x |= (<uint64_t>(b & 0x7f)) << shift
        shift += 7


# ---------------------------------------------------------------------------
# Event types: one table layout for every stage that reads events from the
# bytes (the wire decoder, the ordering engine's cursors and row counter).
# Each module keeps its own EventTypes (a static table: no pointer chase in
# the hot loops), all filled by fill_event_types from fastrace.spec.

cdef enum EvFlag:
    EVF_DEFINED = 1           # the type exists (in some trace version)
    EVF_TIMED = 2             # may appear in per-M event batches (first argument a time delta)
    EVF_DATA = 4              # has trailing bytes
    EVF_STACK = 8             # is a stack-table entry

cdef struct EventTypes:
    uint8_t flags[256]        # EvFlag bits per type byte; 0 = no such type
    uint8_t nargs[256]        # arguments on the wire, time delta included; 0 = no such type
    uint8_t since[256]        # first trace version (1.NN) that may contain the type; 255 = none
    uint8_t rows[256]         # at most how many rows of the ordered table one event makes

cdef int fill_event_types(EventTypes* t) except -1



# ---------------------------------------------------------------------------
# Growable arrays of fixed-size records, owned by C until adopt() hands them
# to numpy without a copy.  Shared by every stage that builds tables.

cdef struct Growable:
    char* data                # records, contiguous
    Py_ssize_t n              # records in use
    Py_ssize_t cap            # records allocated
    Py_ssize_t size           # bytes per record
    bint mapped               # data is an mmap region (large tables), else PyMem_Raw*
    bint fixed                # a window into memory owned elsewhere: never grown or freed


cdef int grow(Growable* g) noexcept nogil
cdef int grow_to(Growable* g, Py_ssize_t newcap) noexcept nogil


cdef inline void* grow_slot(Growable* g) noexcept nogil:
    """Append one record left as it was (the caller sets every field: for
    per-event records, where a zeroing call per row shows in profiles);
    NULL when out of memory."""
    cdef char* p
    if g.n == g.cap:
        if grow(g):
            return NULL
    p = g.data + g.n * g.size
    g.n += 1
    return p


cdef inline void* grow_push(Growable* g) noexcept nogil:
    """Append one zeroed record and return it; NULL when out of memory."""
    cdef void* p = grow_slot(g)
    if p != NULL:
        memset(p, 0, <size_t>g.size)
    return p


cdef void release(Growable* g) noexcept nogil


cdef object adopt(Growable* g, object dtype, Recycler recycler=*)


cdef class Recycler:
    # Keeps the memory of one table handed to numpy once numpy lets go of it,
    # for the next table of the same kind (iter_generations' pieces): pages
    # already backed need no clearing by the kernel.
    cdef Growable spare
    cdef bint offer(self, Growable* g) noexcept
    cdef void reuse(self, Growable* g) noexcept


# ---------------------------------------------------------------------------
# Records.  One struct per table row; field order is chosen so that no
# padding falls between fields (8-byte fields first).

cdef struct BatchRec:
    uint64_t offset           # byte offset of the batch's first header byte
    uint64_t data_offset      # byte offset of the payload
    uint64_t gen              # generation number from the header (0 for end-of-generation)
    uint64_t m                # M id from the header; 2**64-1 = written by no M
    uint64_t time             # base timestamp from the header, ticks
    int64_t first             # first row of this batch in its kind's table
    uint32_t size             # payload bytes
    uint32_t count            # rows of this batch in its kind's table
    uint32_t generation       # index into the generations table
    uint8_t kind              # BatchKindC
    uint8_t exp               # experiment id (experimental batches), else 0
    uint8_t pad0
    uint8_t pad1

cdef struct EventRec:
    uint64_t time             # absolute timestamp, ticks: batch base time plus every delta so far
    uint64_t args[4]          # arguments after the time delta, in spec order; unused slots are 0
    uint32_t batch            # index into the batches table (gives the M and generation)
    uint8_t type              # wire event type
    uint8_t nargs             # arguments stored in args (spec argument count minus the delta)
    uint8_t pad0
    uint8_t pad1

cdef struct StringRec:
    uint64_t id               # string id, unique within a generation
    uint64_t offset           # byte offset of the string's bytes in the input
    uint32_t length           # length of the string in bytes
    uint32_t batch            # index into the batches table

cdef struct StackRec:
    uint64_t id               # stack id, unique within a generation
    int64_t frame_start       # first row in the frames table
    uint32_t nframes          # frames in this stack, innermost first
    uint32_t batch            # index into the batches table

cdef struct FrameRec:
    uint64_t pc               # program counter
    uint64_t func             # string id of the function name
    uint64_t file             # string id of the file name
    uint64_t line             # line number

cdef struct CPUSampleRec:
    uint64_t time             # timestamp, ticks (absolute, not a delta)
    uint64_t m                # M id
    uint64_t p                # P id
    uint64_t g                # goroutine id; 0 = none
    uint64_t stack            # stack id
    uint32_t batch            # index into the batches table
    uint32_t pad0

cdef struct SyncRec:
    uint64_t freq             # ticks per second (0 when this batch has no Frequency)
    uint64_t clock_time       # clock snapshot: absolute trace timestamp, ticks
    uint64_t clock_mono       # clock snapshot: monotonic clock, ns
    uint64_t clock_sec        # clock snapshot: wall clock, seconds since the Unix epoch
    uint64_t clock_nsec       # clock snapshot: wall clock, nanoseconds part
    uint32_t batch            # index into the batches table
    uint8_t has_freq          # the batch holds a Frequency event
    uint8_t has_clock         # the batch holds a ClockSnapshot event
    uint8_t clock_first       # the ClockSnapshot came before the Frequency
    uint8_t pad0

cdef struct ExpBatchRec:
    uint64_t offset           # byte offset of the batch's data in the input
    uint32_t length           # data bytes
    uint32_t batch            # index into the batches table
    uint8_t exp               # experiment id
    uint8_t pad0
    uint8_t pad1
    uint8_t pad2
    uint32_t pad3

cdef struct GenerationRec:
    uint64_t gen              # generation number from the batch headers
    uint64_t offset           # byte offset of the generation's first batch
    uint64_t end              # byte offset one past its last batch
    uint64_t min_time         # smallest batch base time, ticks (Go's time of the generation's Sync)
    uint64_t freq             # ticks per second
    uint64_t clock_time       # clock snapshot, ticks (0 before Go 1.25)
    uint64_t clock_mono       # clock snapshot: monotonic clock, ns
    uint64_t clock_sec        # clock snapshot: wall clock seconds
    uint64_t clock_nsec       # clock snapshot: wall clock nanoseconds
    int64_t batch_start       # first row in batches
    int64_t event_start       # first row in events
    int64_t string_start      # first row in strings
    int64_t stack_start       # first row in stacks
    int64_t frame_start       # first row in frames
    int64_t cpu_sample_start  # first row in cpu_samples
    int64_t sync_start        # first row in syncs
    int64_t exp_batch_start   # first row in exp_batches
    uint8_t has_clock         # a clock snapshot was found
    uint8_t ended             # closed by an EndOfGeneration batch (Go 1.26+)
    uint8_t pad0
    uint8_t pad1
    uint32_t pad2


# ---------------------------------------------------------------------------
# A hint to start loading memory a pass will read soon (the ordering
# engine's goroutine states, the analysis passes' event rows): the
# compiler's builtin where there is one, nothing elsewhere.
cdef extern from *:
    """
    #ifndef FASTRACE_PREFETCH
    #if defined(__GNUC__) || defined(__clang__)
    #define FASTRACE_PREFETCH(p) __builtin_prefetch((p))
    #else
    #define FASTRACE_PREFETCH(p) ((void)0)
    #endif
    #endif
    """
    void prefetch "FASTRACE_PREFETCH"(const void* p) nogil


# Memory mappings: the large tables (_tables.pxi), the prefault helper of
# read(workers=2), the latency profiles' records (_states.pxi).
cdef extern from "sys/mman.h" nogil:
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, long offset)
    void* mremap(void* old, size_t old_size, size_t new_size, int flags, ...)
    int munmap(void* addr, size_t length)
    int madvise(void* addr, size_t length, int advice)
    void* MAP_FAILED
    int PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE
    int MREMAP_MAYMOVE, MADV_HUGEPAGE
