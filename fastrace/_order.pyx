# cython: language_level=3
"""Ordering engine: wire tables -> the ordered table of high-level events.

Stage 2 of fastrace's pipeline.  The events of a generation are written per
M and only partially ordered.  This module merges the per-M streams the way
Go's ``internal/trace`` reader does (a min-heap of per-M cursors keyed by
timestamp; an event may only be taken when the scheduler state machine says
it can happen next), validates every step, and writes one row per event to
a C table that numpy adopts.  Go's reader is the specification: for valid
traces the rows, their order, times and contexts are exactly those of Go's
``trace.Reader``.

Layout: Python prepares each generation (string/stack maps, per-M event
order, sorted CPU samples) with numpy; ``begin_generation`` and
``step_generation`` then run with the GIL released over C structures only,
reading each event from the input bytes when its M's cursor gets to it.
``step_generation`` can pause after a number of rows (iter_generations'
pieces) and resume.  The scheduler state (goroutines, Ps, Ms, tasks, GC)
lives in ``OrderState`` and carries over from one generation to the next.
"Fresh runs" (below) order a later generation from an empty state in
another thread and are checked and merged afterwards (read(workers=N)).
"""

from cpython.mem cimport PyMem_RawMalloc, PyMem_RawRealloc, PyMem_RawFree
from libc.stdint cimport int8_t, uint8_t, uint16_t, uint32_t, uint64_t, int64_t, int32_t
from libc.string cimport memset, memcpy, memmove
from libc.stdio cimport snprintf

cimport numpy as cnp
import numpy as np

from fastrace._varint cimport (BatchRec, Cursor, Growable, Recycler, adopt, grow_push, grow_slot,
                               grow_to, read_uvarint,
                               release, WIRE_OK, WIRE_BAD_EVENT_TYPE, WIRE_UNTIMED_IN_BATCH)
from fastrace import spec as _spec
from fastrace import kinds as _kinds
from fastrace._varint import _dtype_of
from fastrace.errors import TraceFormatError, TraceOrderError

cnp.import_array()

cdef extern from "sys/mman.h" nogil:
    int madvise(void* addr, size_t length, int advice)

cdef extern from "unistd.h" nogil:
    int usleep(unsigned int usec)

cdef extern from *:
    """
    #ifndef MADV_POPULATE_WRITE
    #define MADV_POPULATE_WRITE 23  /* Linux 5.14 */
    #endif
    /* The prefault helper reads the ordering thread's progress and the
       ordering thread sets its stop flag: plain loads and stores that must
       not be cached in registers or torn. */
    static inline Py_ssize_t fr_load_ssize(Py_ssize_t* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
    static inline int fr_load_int(int* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
    static inline void fr_store_int(int* p, int v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
    #if defined(__GNUC__) || defined(__clang__)
    #define fr_prefetch(p) __builtin_prefetch((p))
    #else
    #define fr_prefetch(p) ((void)0)
    #endif
    """
    int MADV_POPULATE_WRITE
    Py_ssize_t fr_load_ssize(Py_ssize_t* p) nogil
    int fr_load_int(int* p) nogil
    void fr_store_int(int* p, int v) nogil
    void fr_prefetch(const void* p) nogil

cdef extern from "stdio.h":
    # %lld etc. need these casts on every platform we build for
    ctypedef long long ll_t "long long"
    ctypedef unsigned long long ull_t "unsigned long long"


# ---------------------------------------------------------------------------
# Constants (Go's numbering).

cdef enum:
    NONE = -1

cdef enum GoStatusC:          # goroutine status as written in the trace
    GS_BAD = 0
    GS_RUNNABLE = 1
    GS_RUNNING = 2
    GS_SYSCALL = 3
    GS_WAITING = 4

cdef enum ProcStatusC:        # P status as written in the trace
    PS_BAD = 0
    PS_RUNNING = 1
    PS_IDLE = 2
    PS_SYSCALL = 3
    PS_ABANDONED = 4

cpdef enum GoStateC:         # fastrace.kinds.GoState (checked at import)
    G_UNDETERMINED = 0
    G_NOT_EXIST = 1
    G_RUNNABLE = 2
    G_RUNNING = 3
    G_WAITING = 4
    G_SYSCALL = 5

cpdef enum ProcStateC:       # fastrace.kinds.ProcState (checked at import)
    P_UNDETERMINED = 0
    P_NOT_EXIST = 1
    P_RUNNING = 2
    P_IDLE = 3

cpdef enum KindC:            # fastrace.kinds.EventKind (checked at import)
    K_BAD = 0
    K_SYNC = 1
    K_METRIC = 2
    K_LABEL = 3
    K_STACK_SAMPLE = 4
    K_RANGE_BEGIN = 5
    K_RANGE_ACTIVE = 6
    K_RANGE_END = 7
    K_TASK_BEGIN = 8
    K_TASK_END = 9
    K_REGION_BEGIN = 10
    K_REGION_END = 11
    K_LOG = 12
    K_STATE_TRANSITION = 13
    K_EXPERIMENTAL = 14

cdef enum GCStateC:
    GC_UNDETERMINED = 0
    GC_NOT_RUNNING = 1
    GC_RUNNING = 2

cpdef enum Ev:               # the wire types dispatch() handles, Ev + name in fastrace.spec
                             # (checked at import: codes, and no type of the spec left out)
    EvProcsChange = 9
    EvProcStart = 10
    EvProcStop = 11
    EvProcSteal = 12
    EvProcStatus = 13
    EvGoCreate = 14
    EvGoCreateSyscall = 15
    EvGoStart = 16
    EvGoDestroy = 17
    EvGoDestroySyscall = 18
    EvGoStop = 19
    EvGoBlock = 20
    EvGoUnblock = 21
    EvGoSyscallBegin = 22
    EvGoSyscallEnd = 23
    EvGoSyscallEndBlocked = 24
    EvGoStatus = 25
    EvSTWBegin = 26
    EvSTWEnd = 27
    EvGCActive = 28
    EvGCBegin = 29
    EvGCEnd = 30
    EvGCSweepActive = 31
    EvGCSweepBegin = 32
    EvGCSweepEnd = 33
    EvGCMarkAssistActive = 34
    EvGCMarkAssistBegin = 35
    EvGCMarkAssistEnd = 36
    EvHeapAlloc = 37
    EvHeapGoal = 38
    EvGoLabel = 39
    EvUserTaskBegin = 40
    EvUserTaskEnd = 41
    EvUserRegionBegin = 42
    EvUserRegionEnd = 43
    EvUserLog = 44
    EvGoSwitch = 45
    EvGoSwitchDestroy = 46
    EvGoCreateBlocked = 47
    EvGoStatusStack = 48

cdef enum Status:             # results of C functions
    ST_OK = 0
    ST_ERROR = 1              # o.err holds the message
    ST_NOMEM = 2
    ST_PAUSED = 3             # step_generation: o.limit rows reached
    ST_FORMAT = 4             # malformed event bytes: o.ferr_* say what and where

cdef uint64_t NO_TASK = 0xFFFFFFFFFFFFFFFF
cdef int64_t MIN_TIME = -0x7FFFFFFFFFFFFFFF - 1

# Per wire type, built from fastrace.spec: kind, the states of a fixed
# transition, start type of a range end, positions (in args, i.e. after the
# time delta) of stack and string ids.
cdef uint8_t KIND_OF[256]
cdef uint8_t FROM_STATE[256]         # state transitions fixed by the spec; 0 = read from the event
cdef uint8_t TO_STATE[256]
cdef uint8_t START_OF[256]
cdef int8_t STACK_POS[256][2]
cdef int8_t STRING_POS[256][2]
cdef uint8_t EXP_STRING_MASK[256]   # experimental events: args whose name ends in "string"
cdef int8_t EV_NARGS[256]           # wire arguments (time delta included); -1 = not a timed type
cdef uint8_t EV_DEFINED[256]         # 1 = a type of the format (any version)
cdef uint8_t EV_SINCE[256]           # first trace version with the type
cdef char EV_NAME[256][32]


def check_spec(specs=None):
    """Check this module's C enums against fastrace.kinds and its handlers
    against the event table ``specs`` (default: fastrace.spec.SPECS); raise
    RuntimeError naming the first event or value that disagrees.

    Every timed type of the stable format that makes rows must have a
    handler in dispatch() (a member of Ev), and every handled type must be
    in the table with the same code: a type added to or removed from the
    spec without its handler fails here, at import, not mid-trace."""
    specs = _spec.SPECS if specs is None else specs
    for cenum, penum, prefix in ((KindC, _kinds.EventKind, "K_"),
                                 (GoStateC, _kinds.GoState, "G_"),
                                 (ProcStateC, _kinds.ProcState, "P_")):
        for member in cenum:
            name = member.name[len(prefix):]
            if name not in penum.__members__ or penum[name] != member.value:
                raise RuntimeError(f"fastrace._order: {cenum.__name__}.{member.name} = "
                                   f"{member.value} disagrees with fastrace.kinds.{penum.__name__}")
    by_name = {s.name: s for s in specs}
    handled = {member.name[2:]: member.value for member in Ev}
    for name, code in handled.items():
        s = by_name.get(name)
        if s is None or s.code != code or not s.timed or s.kind == K_BAD:
            raise RuntimeError(f"fastrace._order handles event type {name} ({code}), which "
                               "fastrace.spec does not define as a timed event type with that "
                               "code that makes rows")
    for s in specs:
        if s.timed and s.kind != K_BAD and not s.experiment and s.name not in handled:
            raise RuntimeError(f"fastrace.spec defines event type {s.name} ({s.code}) of kind "
                               f"{_kinds.EventKind(s.kind)}, but the ordering engine "
                               "(fastrace._order dispatch) has no handler for it")


def _init_tables():
    check_spec()
    memset(KIND_OF, 0, sizeof(KIND_OF))
    memset(FROM_STATE, 0, sizeof(FROM_STATE))
    memset(TO_STATE, 0, sizeof(TO_STATE))
    memset(START_OF, 0, sizeof(START_OF))
    memset(STACK_POS, -1, sizeof(STACK_POS))
    memset(STRING_POS, -1, sizeof(STRING_POS))
    memset(EXP_STRING_MASK, 0, sizeof(EXP_STRING_MASK))
    memset(EV_NAME, 0, sizeof(EV_NAME))
    memset(EV_NARGS, -1, sizeof(EV_NARGS))
    memset(EV_DEFINED, 0, sizeof(EV_DEFINED))
    memset(EV_SINCE, 0, sizeof(EV_SINCE))
    for code in range(256):
        name = f"Invalid({code})".encode()
        EV_NAME[code][:len(name)] = name
    for s in _spec.SPECS:
        name = s.name.encode()[:31]
        memset(EV_NAME[s.code], 0, 32)
        EV_NAME[s.code][:len(name)] = name
        KIND_OF[s.code] = s.kind
        if s.transition is not None:
            FROM_STATE[s.code], TO_STATE[s.code] = s.transition
        if s.kind == K_EXPERIMENTAL:
            for i, a in enumerate(s.args[1:4]):
                if a.endswith("string"):
                    EXP_STRING_MASK[s.code] |= 1 << i
        START_OF[s.code] = s.start
        EV_DEFINED[s.code] = 1
        EV_SINCE[s.code] = s.since
        if s.timed:
            EV_NARGS[s.code] = len(s.args)
        if s.timed:
            for j, pos in enumerate(s.stacks[:2]):
                STACK_POS[s.code][j] = pos - 1
            for j, pos in enumerate(s.strings[:2]):
                STRING_POS[s.code][j] = pos - 1


_init_tables()


# ---------------------------------------------------------------------------
# Dtypes derived from the structs in _order.pxd.

cdef TraceEventRec _ev_proto
cdef StackRowRec _stack_proto
cdef FrameRowRec _frame_proto
cdef GenerationRowRec _gen_proto
cdef ExpBatchRowRec _exp_proto


EVENT_DTYPE = _dtype_of(<TraceEventRec[:1]>&_ev_proto)
STACK_DTYPE = _dtype_of(<StackRowRec[:1]>&_stack_proto)
FRAME_DTYPE = _dtype_of(<FrameRowRec[:1]>&_frame_proto)
GENERATION_DTYPE = _dtype_of(<GenerationRowRec[:1]>&_gen_proto)
EXP_BATCH_DTYPE = _dtype_of(<ExpBatchRowRec[:1]>&_exp_proto)


# ---------------------------------------------------------------------------
# Trace clock: ticks -> ns exactly as Go computes it (float64 arithmetic,
# truncation toward zero; out-of-range values become the minimum int64, as
# Go's conversion does on amd64).

cdef inline int64_t tick_ns(double ns_per_tick, uint64_t t) noexcept nogil:
    cdef double v = <double>t * ns_per_tick
    if not (v < 9.2233720368547758e18 and v >= -9.2233720368547758e18):
        return MIN_TIME
    return <int64_t>v


cdef inline double ns_per_tick_of(uint64_t freq) noexcept nogil:
    return 1.0 / (<double>freq / 1e9)


cdef inline void set_tick_fast(GenIn* gi) noexcept nogil:
    # Where the runtime's trace clock is nanotime() / 64 (every platform
    # without a low-resolution clock), a tick is exactly 64 ns.  For a tick
    # count small enough that it and its product are exact doubles (below
    # 2**53), Go's float64 product then equals the integer product:
    # cursor_next multiplies time deltas as integers and keeps the float
    # path for the rest.
    cdef double k = gi.ns_per_tick
    gi.tick_mul = 0
    gi.tick_fast_max = 0
    if k >= 1.0 and k <= 1048576.0 and k == <double>(<uint64_t>k):
        gi.tick_mul = <uint64_t>k
        gi.tick_fast_max = (<uint64_t>1 << 53) // gi.tick_mul


cdef inline int64_t delta_ns(GenIn* gi, uint64_t dt) noexcept nogil:
    if dt < gi.tick_fast_max:
        return <int64_t>(dt * gi.tick_mul)
    return tick_ns(gi.ns_per_tick, dt)


def ticks_to_ns(cnp.ndarray ticks, uint64_t freq):
    """Convert an array of absolute tick values to ns, as Go does."""
    cdef const uint64_t[::1] t = np.ascontiguousarray(ticks, dtype=np.uint64)
    cdef cnp.ndarray out = np.empty(t.shape[0], dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef double f = ns_per_tick_of(freq)
    cdef Py_ssize_t i
    with nogil:
        for i in range(t.shape[0]):
            o[i] = tick_ns(f, t[i])
    return out


# ---------------------------------------------------------------------------
# Map uint64 -> int64 (values >= 0) for ids from the trace.  Most ids the
# runtime hands out are small and dense (goroutines, Ps, tasks, strings and
# stacks count up from 0 or 1), so keys below ndense live in a plain array
# indexed by key: one memory access per lookup, which matters on the hot
# path (hundreds of thousands of goroutines).  The array grows to cover a
# new key only while it stays within a few times the number of entries;
# any other key (M ids are OS thread ids, for one) goes to an
# open-addressing hash table (linear probing, backward-shift deletion), so
# nothing is assumed about the keys a trace holds.

cdef struct IdMap:
    uint64_t* keys            # hash part: keys >= ndense
    int64_t* vals
    uint8_t* used
    Py_ssize_t cap            # power of two, or 0
    Py_ssize_t n              # entries in the hash part
    int64_t* dense            # direct part: vals by key, -1 = absent
    uint64_t ndense           # keys below this are in dense
    Py_ssize_t ndn            # entries in the direct part


cdef enum:
    DENSE_MIN = 1 << 12       # the direct part may always cover keys below this
    DENSE_PER_ENTRY = 8       # ... and up to this many keys per entry beyond it


cdef inline size_t _slot(uint64_t k, Py_ssize_t cap) noexcept nogil:
    k ^= k >> 33
    k *= <uint64_t>0xff51afd7ed558ccdULL
    k ^= k >> 33
    return <size_t>(k & <uint64_t>(cap - 1))


cdef inline bint map_get(IdMap* m, uint64_t k, int64_t* v) noexcept nogil:
    cdef int64_t x
    if k < m.ndense:
        x = m.dense[k]
        if x < 0:
            return False
        if v != NULL:
            v[0] = x
        return True
    return hash_get(m, k, v)


cdef bint hash_get(IdMap* m, uint64_t k, int64_t* v) noexcept nogil:
    cdef size_t i
    if m.cap == 0:
        return False
    i = _slot(k, m.cap)
    while m.used[i]:
        if m.keys[i] == k:
            if v != NULL:
                v[0] = m.vals[i]
            return True
        i = (i + 1) & <size_t>(m.cap - 1)
    return False


cdef int hash_rebuild(IdMap* m, Py_ssize_t newcap, uint64_t below) noexcept nogil:
    """Rebuild the hash part with newcap slots, moving its keys below
    ``below`` to the direct part (which must cover them); ST_OK, or ST_NOMEM
    with the hash part unchanged."""
    cdef Py_ssize_t oldcap = m.cap
    cdef uint64_t* ok = m.keys
    cdef int64_t* ov = m.vals
    cdef uint8_t* ou = m.used
    cdef Py_ssize_t j
    cdef size_t i
    m.keys = <uint64_t*>PyMem_RawMalloc(newcap * sizeof(uint64_t))
    m.vals = <int64_t*>PyMem_RawMalloc(newcap * sizeof(int64_t))
    m.used = <uint8_t*>PyMem_RawMalloc(newcap)
    if m.keys == NULL or m.vals == NULL or m.used == NULL:
        PyMem_RawFree(m.keys)
        PyMem_RawFree(m.vals)
        PyMem_RawFree(m.used)
        m.keys, m.vals, m.used = ok, ov, ou
        return ST_NOMEM
    memset(m.used, 0, newcap)
    m.cap = newcap
    for j in range(oldcap):
        if not ou[j]:
            continue
        if ok[j] < below:
            m.dense[ok[j]] = ov[j]
            m.ndn += 1
            m.n -= 1
            continue
        i = _slot(ok[j], newcap)
        while m.used[i]:
            i = (i + 1) & <size_t>(newcap - 1)
        m.used[i] = 1
        m.keys[i] = ok[j]
        m.vals[i] = ov[j]
    PyMem_RawFree(ok)
    PyMem_RawFree(ov)
    PyMem_RawFree(ou)
    return ST_OK


cdef int hash_put(IdMap* m, uint64_t k, int64_t v) noexcept nogil:
    cdef size_t i
    if (m.n + 1) * 2 > m.cap:
        if hash_rebuild(m, m.cap * 2 if m.cap else 16, 0):
            return ST_NOMEM
    i = _slot(k, m.cap)
    while m.used[i]:
        if m.keys[i] == k:
            m.vals[i] = v
            return ST_OK
        i = (i + 1) & <size_t>(m.cap - 1)
    m.used[i] = 1
    m.keys[i] = k
    m.vals[i] = v
    m.n += 1
    return ST_OK


cdef int dense_grow(IdMap* m, uint64_t k) noexcept nogil:
    """Extend the direct part to cover key k, moving the hash part's keys
    it now covers; ST_OK, or ST_NOMEM with the map unchanged."""
    cdef uint64_t newn = m.ndense * 2 if m.ndense else 64
    cdef uint64_t oldnd = m.ndense
    cdef int64_t* d
    while newn <= k:
        newn *= 2
    d = <int64_t*>PyMem_RawRealloc(m.dense, newn * sizeof(int64_t))
    if d == NULL:
        return ST_NOMEM
    memset(d + m.ndense, 0xFF, (newn - m.ndense) * sizeof(int64_t))  # -1
    m.dense = d
    m.ndense = newn
    if m.n and hash_rebuild(m, m.cap, newn):
        m.ndense = oldnd  # the array stays longer, unused beyond oldnd
        return ST_NOMEM
    return ST_OK


cdef int map_put(IdMap* m, uint64_t k, int64_t v) noexcept nogil:
    if k >= m.ndense and k < <uint64_t>(DENSE_MIN + DENSE_PER_ENTRY * (m.n + m.ndn + 1)):
        if dense_grow(m, k):
            return ST_NOMEM
    if k < m.ndense:
        if m.dense[k] < 0:
            m.ndn += 1
        m.dense[k] = v
        return ST_OK
    return hash_put(m, k, v)


cdef void map_del(IdMap* m, uint64_t k) noexcept nogil:
    cdef size_t i, j, h
    cdef size_t mask
    if k < m.ndense:
        if m.dense[k] >= 0:
            m.dense[k] = -1
            m.ndn -= 1
        return
    if m.cap == 0:
        return
    mask = <size_t>(m.cap - 1)
    i = _slot(k, m.cap)
    while m.used[i] and m.keys[i] != k:
        i = (i + 1) & mask
    if not m.used[i]:
        return
    m.used[i] = 0
    m.n -= 1
    j = i
    while True:
        j = (j + 1) & mask
        if not m.used[j]:
            return
        h = _slot(m.keys[j], m.cap)
        # Move j back to i if its home slot is not in (i, j].
        if (j > i and (h <= i or h > j)) or (j < i and (h <= i and h > j)):
            m.keys[i] = m.keys[j]
            m.vals[i] = m.vals[j]
            m.used[i] = 1
            m.used[j] = 0
            i = j


cdef bint map_next(IdMap* m, Py_ssize_t* it, uint64_t* k, int64_t* v) noexcept nogil:
    """Iterate over the entries (it starts at 0): direct part, then hash."""
    cdef Py_ssize_t i = it[0]
    while <uint64_t>i < m.ndense:
        i += 1
        if m.dense[i - 1] >= 0:
            it[0] = i
            k[0] = <uint64_t>(i - 1)
            v[0] = m.dense[i - 1]
            return True
    while <uint64_t>i < m.ndense + <uint64_t>m.cap:
        i += 1
        if m.used[<uint64_t>i - 1 - m.ndense]:
            it[0] = i
            k[0] = m.keys[<uint64_t>i - 1 - m.ndense]
            v[0] = m.vals[<uint64_t>i - 1 - m.ndense]
            return True
    it[0] = i
    return False


cdef void map_free(IdMap* m) noexcept nogil:
    PyMem_RawFree(m.dense)
    PyMem_RawFree(m.keys)
    PyMem_RawFree(m.vals)
    PyMem_RawFree(m.used)
    memset(m, 0, sizeof(IdMap))


cdef class IdTable:
    """A uint64 -> int64 map built from two arrays (per-generation id maps)."""
    cdef IdMap m

    def __cinit__(self, keys, vals):
        cdef const uint64_t[::1] k = np.ascontiguousarray(keys, dtype=np.uint64)
        cdef const int64_t[::1] v = np.ascontiguousarray(vals, dtype=np.int64)
        cdef Py_ssize_t i
        memset(&self.m, 0, sizeof(IdMap))
        for i in range(k.shape[0]):
            if v[i] < 0:
                raise ValueError("IdTable values must be >= 0")
        # map_put keeps dense ids (strings and stacks count up from 1) in
        # the direct part and anything else in the hash part.
        for i in range(k.shape[0]):
            if map_put(&self.m, k[i], v[i]):
                raise MemoryError()

    def __dealloc__(self):
        map_free(&self.m)

    def get(self, uint64_t key):
        cdef int64_t v
        return v if map_get(&self.m, key, &v) else None

    # The engine's maps of goroutines, Ps, Ms and tasks change as it runs;
    # these let tests drive the same code (tests/test_order.py).

    def put(self, uint64_t key, int64_t val):
        if val < 0:
            raise ValueError("IdTable values must be >= 0")
        if map_put(&self.m, key, val):
            raise MemoryError()

    def delete(self, uint64_t key):
        map_del(&self.m, key)

    def items(self):
        """[(key, value), ...] in the map's own order."""
        cdef Py_ssize_t it = 0
        cdef uint64_t k
        cdef int64_t v
        out = []
        while map_next(&self.m, &it, &k, &v):
            out.append((k, v))
        return out

    @property
    def direct_keys(self):
        """Keys below this are held in the direct (array) part."""
        return self.m.ndense

    def __len__(self):
        return self.m.n + self.m.ndn


# ---------------------------------------------------------------------------
# Scheduler state.

cdef struct RangeEntry:
    uint64_t desc             # per-generation string id (STW kind), else 0
    uint8_t typ               # wire type of the range's begin event

cdef struct RegionEntry:
    uint64_t task             # task id
    uint32_t name             # row in the global string table

cdef struct Res:              # a goroutine's or a P's state
    int64_t id
    uint64_t seq_gen          # generation of the sequence counter
    uint64_t seq              # sequence number within seq_gen
    RangeEntry* ranges        # ranges in flight on this resource
    RegionEntry* regions      # active user regions (goroutines), innermost last
    int32_t nranges
    int32_t cap_ranges
    int32_t nregions
    int32_t cap_regions
    int32_t next_free         # free-list link while the slot is unused
    uint8_t status            # GoStatusC / ProcStatusC

cdef struct MState:
    int64_t id
    int64_t g                 # goroutine bound to the M, -1 = none
    int64_t p                 # P bound to the M, -1 = none
    uint8_t unk               # fresh runs: UNK_G / UNK_P while g / p may differ from the
                              # M's state at the end of the previous generation

cdef struct TaskState:
    uint64_t parent           # parent task id (NO_TASK = none)
    uint32_t name             # row in the global string table
    int32_t next_free

cdef struct Pool:             # growable array of fixed-size slots with a free list
    char* data
    Py_ssize_t n
    Py_ssize_t cap
    Py_ssize_t size
    int64_t free              # first free slot, -1 = none

cdef struct Ctx:              # scheduling context of an event
    int64_t g
    int64_t p
    int64_t m
    int64_t mslot             # slot of M m in OrderState.mpool (-1 = no M): row mslot + 1 of
                              # Trace.threads
    int64_t unk_slot          # fresh runs: the M whose unknown g / p (unk) this context holds
    uint8_t unk

cdef struct OCursor:          # one M's stream of events in a generation
    int64_t m
    int64_t pos               # next index into GenIn.order (the M's batches)
    int64_t end
    int64_t mslot             # slot of the M's state (-1 until first needed)
    Py_ssize_t bpos           # byte offset of the next event in the current batch
    Py_ssize_t bend           # byte offset one past the current batch's payload
    int64_t batch             # wire batch row of the current batch
    int64_t k                 # index of the current event in its batch
    int64_t last_ts           # time of the previous event in the batch, ns (Go's lastTs)
    int64_t time              # time of the current event, ns
    uint64_t args[4]          # arguments of the current event (after the time delta)
    uint8_t typ               # wire type of the current event

cdef struct GenIn:            # one generation's inputs, prepared in Python
    uint64_t gen
    uint64_t gen_row
    double ns_per_tick
    uint64_t tick_mul         # ns per tick when that is an exact integer, else 0 (set_tick_fast)
    uint64_t tick_fast_max    # time deltas below this convert as dt * tick_mul
    int64_t sync_time
    const uint8_t* buf        # the input: events are decoded from the bytes
    Py_ssize_t buf_len
    const BatchRec* batches   # the wire batches table
    const int64_t* order      # wire batch rows of event batches, grouped by M, file order
    const int64_t* m_bounds   # [nm + 1] bounds into order
    const int64_t* m_ids      # [nm] M ids, in Go's batchMs order
    int64_t nm
    IdMap* strings            # string id -> global string row
    IdMap* stacks             # stack id -> global stack row
    const int64_t* cpu_time   # CPU samples, sorted: ns
    const int64_t* cpu_m
    const int64_t* cpu_p
    const int64_t* cpu_g
    const uint32_t* cpu_stack
    int64_t ncpu

# ---------------------------------------------------------------------------
# Fresh runs (read(workers=2)).  A generation other than the first can be
# ordered from an empty state, as if it were the first one, while another
# thread orders the generation before it.  Such a run logs every place where
# the state it did not have could have mattered (a DepRec each); once the
# previous generation is done, check_fresh() compares the log with the real
# state: if every assumption holds, the rows are exactly those of ordering
# in sequence after a few patches (old states of status events, contexts of
# Ms carried over, task ends), and merge_fresh() folds the run's state into
# the real one.  Otherwise the generation is ordered again, in sequence.

cdef enum UnknownC:
    UNK_G = 1
    UNK_P = 2

cdef enum DepKind:
    DEP_G_STATUS = 1          # id: goroutine first seen in a GoStatus (row, a: status)
    DEP_G_ABSENT = 2          # id: goroutine looked up and not found
    DEP_G_DELETED = 3         # id: goroutine destroyed
    DEP_P_STATUS = 4          # id: P first seen in a ProcStatus (row, a: status)
    DEP_P_ABSENT = 5          # id: P looked up and not found
    DEP_M_CTX = 6             # id: M slot whose unknown g / p (a) an event may have read
    DEP_M_SYSCALL_G = 7       # id: M slot whose unknown g must be a (GoStatus syscall check)
    DEP_M_LOOKUP = 8          # id: M looked up by id in event arguments (a: 1 = found)
    DEP_TASK_ABSENT = 9       # id: task begun (its id must be new)
    DEP_TASK_END = 10         # id: task ended without a begin in this run (row)
    DEP_GC_FIRST = 11         # a: wire type of the first GC event, b: its sequence number
    DEP_RANGE = 12            # id: resource given an active range (a: 0 = G, 1 = P; b: type)
    DEP_REGION_POP = 13       # id: goroutine ending a region begun before (a: task, b: name)
    DEP_ROW_CTX = 14          # row: written with the unknown g / p (a) of M slot id
    DEP_GIVE_UP = 15          # a case not worth checking: order again in sequence

cdef struct DepRec:
    int64_t id
    int64_t row               # output row (within the run), -1 if none
    uint64_t a
    uint64_t b
    uint8_t kind
    uint8_t pad0
    uint16_t pad1
    uint32_t pad2

cdef struct OrderState:
    int version
    bint fresh                # a fresh run: log dependencies in deps
    bint deps_full            # the log overflowed (or ran out of memory): give up
    Growable deps             # DepRec
    uint64_t initial_gen
    uint64_t gc_seq
    uint8_t gc_state
    IdMap gmap                # goroutine id -> slot in gpool
    IdMap pmap                # P id -> slot in ppool
    IdMap mmap                # M id -> slot in mpool
    IdMap tmap                # task id -> slot in tpool
    Pool gpool
    Pool ppool
    Pool mpool
    Pool tpool
    Growable out              # TraceEventRec rows
    int64_t last_ts           # time of the last emitted event (Go's monotonic fix-up)
    int64_t syncs             # Sync events emitted
    OCursor* cursors
    int32_t* frontier         # heap of cursor indexes, by cursor time
    int64_t* ftimes           # the cursors' times, in heap order (frontier[k] at ftimes[k])
    int64_t* sort_keys        # scratch: cursor times, by cursor index
    int64_t nfrontier
    int64_t next_cpu          # next CPU sample of the generation to emit
    int64_t limit             # step_generation pauses at this many output rows; 0 = never
    int64_t cur_m             # M of the event being advanced (for errors)
    int64_t cur_batch         # wire batch row of the event being advanced (for errors)
    int64_t cur_event         # its index in the batch
    char err[768]
    int prefault_stop         # read(workers=2): tells the prefault helper to stop
    int ferr_code             # ST_FORMAT: the WireStatus, byte offset and values
    Py_ssize_t ferr_offset
    uint64_t ferr_a
    uint64_t ferr_b


cdef int64_t pool_alloc(Pool* p) noexcept nogil:
    """A zeroed slot; -1 when out of memory.  Invalidates slot pointers."""
    cdef int64_t i
    cdef char* d
    cdef Py_ssize_t newcap
    if p.free >= 0:
        i = p.free
        p.free = (<int32_t*>(p.data + i * p.size))[0]
        memset(p.data + i * p.size, 0, p.size)
        return i
    if p.n == p.cap:
        newcap = p.cap * 2 if p.cap else 32
        d = <char*>PyMem_RawRealloc(p.data, newcap * p.size)
        if d == NULL:
            return -1
        p.data = d
        p.cap = newcap
    i = p.n
    p.n += 1
    memset(p.data + i * p.size, 0, p.size)
    return i


cdef void pool_release(Pool* p, int64_t i) noexcept nogil:
    # The first 4 bytes of a free slot hold the next free slot.
    (<int32_t*>(p.data + i * p.size))[0] = <int32_t>p.free
    p.free = i


cdef inline Res* gres(OrderState* o, int64_t slot) noexcept nogil:
    return <Res*>(o.gpool.data + slot * sizeof(Res))

cdef inline Res* pres(OrderState* o, int64_t slot) noexcept nogil:
    return <Res*>(o.ppool.data + slot * sizeof(Res))

cdef inline MState* mres(OrderState* o, int64_t slot) noexcept nogil:
    return <MState*>(o.mpool.data + slot * sizeof(MState))

cdef inline TaskState* tres(OrderState* o, int64_t slot) noexcept nogil:
    return <TaskState*>(o.tpool.data + slot * sizeof(TaskState))


cdef enum:
    MAX_DEPS = 1 << 20        # a longer log means a generation unlike the runtime's: give up


cdef void dep(OrderState* o, uint8_t kind, int64_t id, int64_t row, uint64_t a,
              uint64_t b) noexcept nogil:
    """Log a dependency of a fresh run (no-op otherwise)."""
    cdef DepRec* d
    if not o.fresh or o.deps_full:
        return
    if o.deps.n >= MAX_DEPS:
        o.deps_full = True
        return
    d = <DepRec*>grow_push(&o.deps)
    if d == NULL:
        o.deps_full = True
        return
    d.kind = kind
    d.id = id
    d.row = row
    d.a = a
    d.b = b


cdef inline Res* find_g_raw(OrderState* o, int64_t gid) noexcept nogil:
    cdef int64_t slot
    if map_get(&o.gmap, <uint64_t>gid, &slot):
        return gres(o, slot)
    return NULL


cdef inline Res* find_p_raw(OrderState* o, int64_t pid) noexcept nogil:
    cdef int64_t slot
    if map_get(&o.pmap, <uint64_t>pid, &slot):
        return pres(o, slot)
    return NULL


cdef Res* find_g(OrderState* o, int64_t gid) noexcept nogil:
    cdef Res* r = find_g_raw(o, gid)
    if r == NULL and o.fresh:
        dep(o, DEP_G_ABSENT, gid, -1, 0, 0)
    return r


cdef Res* find_p(OrderState* o, int64_t pid) noexcept nogil:
    cdef Res* r = find_p_raw(o, pid)
    if r == NULL and o.fresh:
        dep(o, DEP_P_ABSENT, pid, -1, 0, 0)
    return r


cdef Res* new_res(OrderState* o, Pool* pool, IdMap* m, int64_t id) noexcept nogil:
    cdef int64_t slot = pool_alloc(pool)
    cdef Res* r
    if slot < 0 or map_put(m, <uint64_t>id, slot):
        return NULL
    r = <Res*>(pool.data + slot * sizeof(Res))
    r.id = id
    r.next_free = -1
    return r


cdef void free_res_lists(Res* r) noexcept nogil:
    PyMem_RawFree(r.ranges)
    PyMem_RawFree(r.regions)
    r.ranges = NULL
    r.regions = NULL
    r.nranges = r.cap_ranges = r.nregions = r.cap_regions = 0


cdef void delete_g(OrderState* o, int64_t gid) noexcept nogil:
    cdef int64_t slot
    dep(o, DEP_G_DELETED, gid, -1, 0, 0)
    if map_get(&o.gmap, <uint64_t>gid, &slot):
        free_res_lists(gres(o, slot))
        map_del(&o.gmap, <uint64_t>gid)
        pool_release(&o.gpool, slot)


cdef int64_t m_slot(OrderState* o, int64_t mid) noexcept nogil:
    """Slot of M mid, created (with no G and no P) if new; -1 = no memory."""
    cdef int64_t slot
    cdef MState* ms
    if map_get(&o.mmap, <uint64_t>mid, &slot):
        return slot
    slot = pool_alloc(&o.mpool)
    if slot < 0 or map_put(&o.mmap, <uint64_t>mid, slot):
        return -1
    ms = mres(o, slot)
    ms.id = mid
    ms.g = NONE
    ms.p = NONE
    # A fresh run does not know what the M was doing when its generation began.
    ms.unk = UNK_G | UNK_P if o.fresh else 0
    return slot


# ---------------------------------------------------------------------------
# Errors: Go's wording where Go has one, so that messages match its tests.

cdef inline int fail(OrderState* o, const char* msg) noexcept nogil:
    snprintf(o.err, sizeof(o.err), "%s", msg)
    return ST_ERROR


cdef const char* go_status_name(uint8_t s) noexcept nogil:
    if s == GS_RUNNABLE:
        return "Runnable"
    if s == GS_RUNNING:
        return "Running"
    if s == GS_SYSCALL:
        return "Syscall"
    if s == GS_WAITING:
        return "Waiting"
    return "Bad"


cdef const char* proc_status_name(uint8_t s) noexcept nogil:
    if s == PS_RUNNING:
        return "Running"
    if s == PS_IDLE:
        return "Idle"
    if s == PS_SYSCALL:
        return "Syscall"
    if s == PS_ABANDONED:
        return "SyscallAbandoned"
    return "Bad"


cdef enum Req:
    MUST_NOT = 0
    MAY = 1
    MUST = 2


cdef int check_ctx(OrderState* o, Ctx* c, int rm, int rp, int rg) noexcept nogil:
    if rm == MUST and c.m == NONE:
        return fail(o, "expected a thread but didn't have one")
    if rm == MUST_NOT and c.m != NONE:
        return fail(o, "expected no thread but had one")
    if rp == MUST and c.p == NONE:
        return fail(o, "expected a proc but didn't have one")
    if rp == MUST_NOT and c.p != NONE:
        return fail(o, "expected no proc but had one")
    if rg == MUST and c.g == NONE:
        return fail(o, "expected a goroutine but didn't have one")
    if rg == MUST_NOT and c.g != NONE:
        return fail(o, "expected no goroutine but had one")
    return ST_OK


cdef inline int user_go(OrderState* o, Ctx* c) noexcept nogil:
    return check_ctx(o, c, MUST, MUST, MUST)


# ---------------------------------------------------------------------------
# Emitting rows.

cdef int lookup_string(OrderState* o, GenIn* gi, uint64_t id, uint32_t* row,
                       uint8_t typ) noexcept nogil:
    cdef int64_t v
    if id == 0:
        row[0] = 0
        return ST_OK
    if map_get(gi.strings, id, &v):
        row[0] = <uint32_t>v
        return ST_OK
    snprintf(o.err, sizeof(o.err), "found invalid string ID %llu for event %s",
             <ull_t>id, EV_NAME[typ])
    return ST_ERROR


cdef int lookup_stack(OrderState* o, GenIn* gi, uint64_t id, uint32_t* row,
                      uint8_t typ) noexcept nogil:
    cdef int64_t v
    if id == 0:
        row[0] = 0
        return ST_OK
    if map_get(gi.stacks, id, &v):
        row[0] = <uint32_t>v
        return ST_OK
    snprintf(o.err, sizeof(o.err), "found invalid stack ID %llu for event %s",
             <ull_t>id, EV_NAME[typ])
    return ST_ERROR


cdef inline uint32_t string_or_empty(GenIn* gi, uint64_t id) noexcept nogil:
    cdef int64_t v
    if id != 0 and map_get(gi.strings, id, &v):
        return <uint32_t>v
    return 0


cdef TraceEventRec* new_row(OrderState* o, int64_t t, Ctx* c, uint8_t kind,
                            uint8_t typ) noexcept nogil:
    """The next row, with every field set (no zeroing pass: this is the
    hottest store in the engine)."""
    cdef TraceEventRec* r = <TraceEventRec*>grow_slot(&o.out)
    if r == NULL:
        return NULL
    r.a[0] = 0
    r.a[1] = 0
    r.a[2] = 0
    r.stack = 0
    r.from_state = 0
    r.to_state = 0
    # Go's reader makes times strictly increasing as it hands events out.
    if t <= o.last_ts:
        t = o.last_ts + 1
    o.last_ts = t
    if c.unk:
        dep(o, DEP_ROW_CTX, c.unk_slot, o.out.n - 1, c.unk, 0)
    r.time = t
    r.g = c.g
    r.p = <int32_t>c.p        # checked to fit where P ids enter (check_pid)
    r.m = <uint32_t>(c.mslot + 1)
    r.kind = kind
    r.type = typ
    return r


cdef int push_event(OrderState* o, GenIn* gi, Ctx* c, uint8_t typ, int64_t t,
                    uint64_t* args, uint64_t x0, uint64_t x1) noexcept nogil:
    """Append the row of one event taken by the ordering.

    args are the event's arguments after the time delta (as adjusted by the
    handler, like Go's smuggled values); x0, x1 are extra values a handler
    passes (old state of a status event, task info of a task end, ...).
    Stack and string ids are checked and turned into global rows here, as
    Go checks them when it hands the event out.
    """
    cdef uint32_t own_stack = 0, s0 = 0, s1 = 0, tstack = 0
    cdef int j, st
    cdef uint8_t kind = KIND_OF[typ]
    cdef TraceEventRec* r
    cdef uint8_t fr = 0, to = 0
    cdef uint64_t a0 = 0, a1 = 0, a2 = 0
    cdef uint32_t v
    for j in range(2):
        if STACK_POS[typ][j] >= 0:
            st = lookup_stack(o, gi, args[STACK_POS[typ][j]], &v, typ)
            if st:
                return st
            if j == 0:
                own_stack = v
    for j in range(2):
        if STRING_POS[typ][j] >= 0:
            st = lookup_string(o, gi, args[STRING_POS[typ][j]], &v, typ)
            if st:
                return st
            if j == 0:
                s0 = v
            else:
                s1 = v

    if kind == K_STATE_TRANSITION:
        # First: in scheduler-heavy traces nearly every event is one.  The
        # states are the spec's where they are fixed; the branches below say
        # whose transition it is (a0) and read the states an event carries.
        fr = FROM_STATE[typ]
        to = TO_STATE[typ]
        if typ == EvProcStop:
            a0 = <uint64_t>c.p
        elif typ == EvProcSteal:
            a0, to = args[0], P_IDLE
            fr = P_IDLE if x0 == PS_ABANDONED else P_RUNNING
        elif typ == EvProcStatus:
            a0, fr = args[0], <uint8_t>x0
            to = proc_state_of(args[1])
        elif typ == EvGoCreate or typ == EvGoCreateBlocked:
            a0 = args[0]
            # Go gives a created goroutine a transition stack handle even
            # when its id is 0; row 1 is the empty stack.
            st = lookup_stack(o, gi, args[1], &tstack, typ)
            if st:
                return st
            a2 = tstack if tstack else 1
        elif typ == EvGoDestroy or typ == EvGoDestroySyscall or typ == EvGoSyscallEnd \
                or typ == EvGoSyscallEndBlocked:
            a0 = <uint64_t>c.g
        elif typ == EvGoStop or typ == EvGoBlock:
            a0 = <uint64_t>c.g
            a1 = s0
            a2 = own_stack
        elif typ == EvGoSyscallBegin:
            a0 = <uint64_t>c.g
            a2 = own_stack
        elif typ == EvGoStatus or typ == EvGoStatusStack:
            a0, fr = args[0], <uint8_t>x0
            to = go_state_of(args[2])
            a2 = own_stack
        else:
            # ProcStart, GoCreateSyscall, GoStart, GoUnblock, GoSwitch and
            # GoSwitchDestroy name the P or goroutine in their first argument.
            a0 = args[0]
    elif kind == K_EXPERIMENTAL:
        # Second: AllocFree traces are mostly these.
        a0 = args[0]
        a1 = args[1]
        a2 = args[2]
        if EXP_STRING_MASK[typ] & 1:
            st = lookup_string(o, gi, a0, &v, typ)
            if st:
                return st
            a0 = v
        if EXP_STRING_MASK[typ] & 2:
            st = lookup_string(o, gi, a1, &v, typ)
            if st:
                return st
            a1 = v
        if EXP_STRING_MASK[typ] & 4:
            st = lookup_string(o, gi, a2, &v, typ)
            if st:
                return st
            a2 = v
    elif kind == K_METRIC:
        a0 = args[0]
    elif kind == K_LABEL:
        a0 = s0
    elif typ == EvSTWBegin:
        a0 = <uint64_t>c.g
        a1 = s0
    elif typ == EvSTWEnd:
        a0 = <uint64_t>c.g
        a1 = string_or_empty(gi, x0)
    elif typ == EvGCSweepActive or typ == EvGCMarkAssistActive:
        a0 = args[0]
    elif typ == EvGCSweepBegin or typ == EvGCSweepEnd:
        a0 = <uint64_t>c.p
        if typ == EvGCSweepEnd:
            a1 = args[0]
            a2 = args[1]
    elif typ == EvGCMarkAssistBegin or typ == EvGCMarkAssistEnd:
        a0 = <uint64_t>c.g
    elif typ == EvUserTaskBegin:
        a0 = args[0]
        a1 = args[1]
        a2 = s0
    elif typ == EvUserTaskEnd:
        a0 = args[0]
        a1 = x0
        a2 = x1
    elif kind == K_REGION_BEGIN or kind == K_REGION_END:
        a0 = args[0]
        a1 = s0
    elif kind == K_LOG:
        a0 = args[0]
        a1 = s0
        a2 = s1
    r = new_row(o, t, c, kind, typ)
    if r == NULL:
        return ST_NOMEM
    r.a[0] = a0
    r.a[1] = a1
    r.a[2] = a2
    r.stack = own_stack
    r.from_state = fr
    r.to_state = to
    return ST_OK


cdef inline uint8_t proc_state_of(uint64_t status) noexcept nogil:
    if status == PS_RUNNING or status == PS_SYSCALL:
        return P_RUNNING
    if status == PS_IDLE or status == PS_ABANDONED:
        return P_IDLE
    return P_UNDETERMINED


cdef inline uint8_t go_state_of(uint64_t status) noexcept nogil:
    if status == GS_RUNNABLE:
        return G_RUNNABLE
    if status == GS_RUNNING:
        return G_RUNNING
    if status == GS_SYSCALL:
        return G_SYSCALL
    if status == GS_WAITING:
        return G_WAITING
    return G_UNDETERMINED


cdef int push_sync(OrderState* o, int64_t t, uint64_t gen_row) noexcept nogil:
    cdef Ctx c
    cdef TraceEventRec* r
    c.g = NONE
    c.p = NONE
    c.m = NONE
    c.mslot = NONE
    c.unk = 0
    r = new_row(o, t, &c, K_SYNC, 0)
    if r == NULL:
        return ST_NOMEM
    o.syncs += 1
    r.a[0] = <uint64_t>o.syncs
    r.a[1] = gen_row
    return ST_OK


# ---------------------------------------------------------------------------
# Ranges and regions.

cdef inline uint8_t range_type(uint8_t typ) noexcept nogil:
    return START_OF[typ] if START_OF[typ] else typ


cdef bint has_range(Res* r, uint8_t typ, uint64_t desc) noexcept nogil:
    cdef int32_t i
    for i in range(r.nranges):
        if r.ranges[i].typ == typ and r.ranges[i].desc == desc:
            return True
    return False


cdef int add_range(Res* r, uint8_t typ, uint64_t desc) noexcept nogil:
    cdef RangeEntry* p
    if r.nranges == r.cap_ranges:
        r.cap_ranges = r.cap_ranges * 2 if r.cap_ranges else 4
        p = <RangeEntry*>PyMem_RawRealloc(r.ranges, r.cap_ranges * sizeof(RangeEntry))
        if p == NULL:
            return ST_NOMEM
        r.ranges = p
    r.ranges[r.nranges].typ = typ
    r.ranges[r.nranges].desc = desc
    r.nranges += 1
    return ST_OK


cdef int begin_range(OrderState* o, Res* r, uint8_t typ, uint64_t desc) noexcept nogil:
    typ = range_type(typ)
    if has_range(r, typ, desc):
        snprintf(o.err, sizeof(o.err),
                 "discovered event already in-flight for when starting event %s", EV_NAME[typ])
        return ST_ERROR
    return add_range(r, typ, desc)


cdef int active_range(OrderState* o, Res* r, uint8_t typ, bint initial) noexcept nogil:
    typ = range_type(typ)
    if initial:
        if has_range(r, typ, 0):
            snprintf(o.err, sizeof(o.err),
                     "found named active range already in first gen: {%d 0}", <int>typ)
            return ST_ERROR
        return add_range(r, typ, 0)
    if not has_range(r, typ, 0):
        snprintf(o.err, sizeof(o.err), "resource is missing active range: %s", EV_NAME[typ])
        return ST_ERROR
    return ST_OK


cdef int end_range(OrderState* o, Res* r, uint8_t typ, uint64_t* desc) noexcept nogil:
    cdef uint8_t st = START_OF[typ]
    cdef int32_t i, idx = -1
    for i in range(r.nranges):
        if r.ranges[i].typ == st:
            idx = i
            break
    if idx < 0:
        snprintf(o.err, sizeof(o.err), "tried to end event %s, but not in-flight", EV_NAME[st])
        return ST_ERROR
    desc[0] = r.ranges[idx].desc
    # Swap-remove, as Go does (the order of the others matters to no one
    # but is kept identical anyway).
    r.ranges[idx] = r.ranges[r.nranges - 1]
    r.nranges -= 1
    return ST_OK


# ---------------------------------------------------------------------------
# Handlers, one per group of event types.  Each returns a Status and sets
# ok when the event could be taken now; *nc is the M's context afterwards.

cdef inline void set_seq(Res* r, uint64_t gen, uint64_t seq) noexcept nogil:
    """Set a resource's sequence counter: seq within generation gen."""
    r.seq_gen = gen
    r.seq = seq


cdef inline bint seq_succeeds(uint64_t gen, uint64_t seq, Res* r) noexcept nogil:
    return gen == r.seq_gen and seq == r.seq + 1


cdef inline int check_pid(OrderState* o, int64_t pid) noexcept nogil:
    # The P column is 32 bits wide: the runtime's P ids are int32, so only a
    # damaged or forged trace can hold a larger one.
    if pid != <int32_t>pid:
        snprintf(o.err, sizeof(o.err),
                 "P id %lld does not fit fastrace's 32-bit P column", <ll_t>pid)
        return ST_ERROR
    return ST_OK


cdef int adv_proc_status(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                         bint* ok) noexcept nogil:
    cdef int64_t pid = <int64_t>cu.args[0]
    cdef uint64_t status = cu.args[1]
    cdef uint64_t old
    cdef Res* s
    cdef int64_t i, found = 0
    cdef MState* ms
    cdef uint64_t args[4]
    memcpy(args, cu.args, sizeof(args))
    if status > PS_ABANDONED:
        snprintf(o.err, sizeof(o.err), "invalid status for proc %lld: %llu", <ll_t>pid, <ull_t>status)
        return ST_ERROR
    if check_pid(o, pid):
        return ST_ERROR
    old = proc_state_of(status)
    s = find_p_raw(o, pid)
    if s != NULL:
        if status == PS_ABANDONED and s.status == PS_SYSCALL:
            old = P_RUNNING
            args[1] = PS_SYSCALL
        elif status == PS_ABANDONED and s.status == PS_ABANDONED:
            old = P_IDLE
            args[1] = PS_ABANDONED
        elif s.status != status:
            snprintf(o.err, sizeof(o.err), "inconsistent status for proc %lld: old %s vs. new %s",
                     <ll_t>pid, proc_status_name(s.status), proc_status_name(<uint8_t>status))
            return ST_ERROR
        set_seq(s, gi.gen, 0)
    else:
        s = new_res(o, &o.ppool, &o.pmap, pid)
        if s == NULL:
            return ST_NOMEM
        s.status = <uint8_t>status
        set_seq(s, gi.gen, 0)
        old = P_UNDETERMINED if gi.gen == o.initial_gen else P_NOT_EXIST
        dep(o, DEP_P_STATUS, pid, o.out.n, status, 0)
    if status == PS_RUNNING or status == PS_SYSCALL:
        nc.p = pid
    if status == PS_ABANDONED and old == P_RUNNING:
        dep(o, DEP_GIVE_UP, pid, -1, 0, 0)
        # Emit in the context of the M the P is bound to.
        for i in range(o.mpool.n):
            ms = mres(o, i)
            if ms.p == pid:
                c.m = ms.id
                c.mslot = i
                c.p = pid
                c.g = ms.g
                found = 1
        if not found:
            snprintf(o.err, sizeof(o.err),
                     "failed to find sched context for proc %lld that's about to be stolen", <ll_t>pid)
            return ST_ERROR
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, args, old, 0)


cdef int adv_proc_start(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                        bint* ok) noexcept nogil:
    cdef int64_t pid = <int64_t>cu.args[0]
    cdef Res* s = find_p(o, pid)
    cdef int st
    if s == NULL or s.status != PS_IDLE or not seq_succeeds(gi.gen, cu.args[1], s) or c.p != NONE:
        return ST_OK
    st = check_ctx(o, c, MUST, MUST_NOT, MAY)
    if st:
        return st
    if check_pid(o, pid):
        return ST_ERROR
    s.status = PS_RUNNING
    set_seq(s, gi.gen, cu.args[1])
    nc.p = pid
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_proc_stop(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    cdef Res* s = find_p(o, c.p)
    cdef int st
    if s == NULL:
        snprintf(o.err, sizeof(o.err), "event %s for proc (%lld) that doesn't exist",
                 EV_NAME[cu.typ], <ll_t>c.p)
        return ST_ERROR
    if s.status != PS_RUNNING and s.status != PS_SYSCALL:
        snprintf(o.err, sizeof(o.err), "%s event for proc that's not Running or Syscall",
                 EV_NAME[cu.typ])
        return ST_ERROR
    st = check_ctx(o, c, MUST, MUST, MAY)
    if st:
        return st
    s.status = PS_IDLE
    nc.p = NONE
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_proc_steal(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                        bint* ok) noexcept nogil:
    cdef int64_t pid = <int64_t>cu.args[0]
    cdef int64_t mid = <int64_t>cu.args[2]
    cdef Res* s = find_p(o, pid)
    cdef uint8_t old
    cdef int st
    cdef int64_t slot
    cdef MState* ms
    if (s == NULL or (s.status != PS_SYSCALL and s.status != PS_ABANDONED)
            or not seq_succeeds(gi.gen, cu.args[1], s)):
        return ST_OK
    st = check_ctx(o, c, MUST, MAY, MAY)
    if st:
        return st
    old = s.status
    s.status = PS_IDLE
    set_seq(s, gi.gen, cu.args[1])
    if old == PS_ABANDONED:
        ok[0] = True
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, old, 0)
    if mid == c.m:
        if c.p != pid:
            snprintf(o.err, sizeof(o.err),
                     "tried to self-steal proc %lld (thread %lld), but got proc %lld instead",
                     <ll_t>pid, <ll_t>mid, <ll_t>c.p)
            return ST_ERROR
        nc.p = NONE
        ok[0] = True
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, old, 0)
    if not map_get(&o.mmap, <uint64_t>mid, &slot):
        dep(o, DEP_M_LOOKUP, mid, -1, 0, 0)
        snprintf(o.err, sizeof(o.err), "stole proc from non-existent thread %lld", <ll_t>mid)
        return ST_ERROR
    ms = mres(o, slot)
    if ms.unk:
        dep(o, DEP_M_LOOKUP, mid, -1, 1, ms.unk)
    if ms.p != pid:
        snprintf(o.err, sizeof(o.err),
                 "tried to steal proc %lld from thread %lld, but got proc %lld instead",
                 <ll_t>pid, <ll_t>mid, <ll_t>ms.p)
        return ST_ERROR
    ms.p = NONE
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, old, 0)


cdef int adv_go_status(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    cdef int64_t gid = <int64_t>cu.args[0]
    cdef int64_t mid = <int64_t>cu.args[1]
    cdef uint64_t status = cu.args[2]
    cdef uint8_t old
    cdef Res* s
    cdef int64_t slot
    cdef MState* ms
    if status > GS_WAITING:
        snprintf(o.err, sizeof(o.err), "invalid status for goroutine %lld: %llu", <ll_t>gid, <ull_t>status)
        return ST_ERROR
    old = go_state_of(status)
    s = find_g_raw(o, gid)
    if s != NULL:
        if s.status != status:
            snprintf(o.err, sizeof(o.err), "inconsistent status for goroutine %lld: old %s vs. new %s",
                     <ll_t>gid, go_status_name(s.status), go_status_name(<uint8_t>status))
            return ST_ERROR
        set_seq(s, gi.gen, 0)
    elif gi.gen == o.initial_gen:
        s = new_res(o, &o.gpool, &o.gmap, gid)
        if s == NULL:
            return ST_NOMEM
        s.status = <uint8_t>status
        set_seq(s, gi.gen, 0)
        old = G_UNDETERMINED
        dep(o, DEP_G_STATUS, gid, o.out.n, status, 0)
    else:
        snprintf(o.err, sizeof(o.err),
                 "found goroutine status for new goroutine after the first generation: id=%lld status=%s",
                 <ll_t>gid, go_status_name(<uint8_t>status))
        return ST_ERROR
    if status == GS_RUNNING:
        nc.g = gid
    elif status == GS_SYSCALL:
        if mid == NONE:
            snprintf(o.err, sizeof(o.err), "found goroutine %lld in syscall without a thread", <ll_t>gid)
            return ST_ERROR
        if mid == c.m:
            if gi.gen != o.initial_gen and c.g != gid:
                snprintf(o.err, sizeof(o.err),
                         "inconsistent thread for syscalling goroutine %lld: thread has goroutine %lld",
                         <ll_t>gid, <ll_t>c.g)
                return ST_ERROR
            if o.fresh:
                # In sequence this generation is not the first: the check above applies.
                if c.unk & UNK_G:
                    dep(o, DEP_M_SYSCALL_G, c.unk_slot, -1, <uint64_t>gid, 0)
                elif c.g != gid:
                    dep(o, DEP_GIVE_UP, gid, -1, 0, 0)
            nc.g = gid
        else:
            if map_get(&o.mmap, <uint64_t>mid, &slot):
                ms = mres(o, slot)
                if ms.unk:
                    dep(o, DEP_M_LOOKUP, mid, -1, 1, ms.unk)
                c.unk &= ~UNK_G     # the row's goroutine is that M's
                if ms.g != gid:
                    snprintf(o.err, sizeof(o.err),
                             "inconsistent thread for syscalling goroutine %lld: thread has goroutine %lld",
                             <ll_t>gid, <ll_t>ms.g)
                    return ST_ERROR
                c.g = ms.g
            else:
                dep(o, DEP_M_LOOKUP, mid, -1, 0, 0)
                slot = m_slot(o, mid)
                if slot < 0:
                    return ST_NOMEM
                ms = mres(o, slot)
                ms.g = gid
                ms.unk &= ~UNK_G
            c.m = mid
            c.mslot = slot
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, old, 0)


cdef int adv_go_create(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    cdef int st = check_ctx(o, c, MUST, MUST, MAY)
    cdef Res* s
    cdef int64_t newg = <int64_t>cu.args[0]
    if st:
        return st
    s = find_g(o, c.g)
    if s != NULL and s.status != GS_RUNNING:
        snprintf(o.err, sizeof(o.err), "%s event for goroutine that's not Running", EV_NAME[cu.typ])
        return ST_ERROR
    if find_g(o, newg) != NULL:
        snprintf(o.err, sizeof(o.err), "tried to create goroutine (%lld) that already exists", <ll_t>newg)
        return ST_ERROR
    s = new_res(o, &o.gpool, &o.gmap, newg)
    if s == NULL:
        return ST_NOMEM
    s.status = GS_WAITING if cu.typ == EvGoCreateBlocked else GS_RUNNABLE
    set_seq(s, gi.gen, 0)
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int context_g(OrderState* o, Ctx* c, uint8_t typ, uint8_t status,
                   Res** out) noexcept nogil:
    """The state of the context's goroutine, which must exist with ``status``.
    (Go says "not Running" for a goroutine not in a syscall too.)"""
    cdef Res* s = find_g(o, c.g)
    if s == NULL:
        snprintf(o.err, sizeof(o.err), "event %s for goroutine (%lld) that doesn't exist",
                 EV_NAME[typ], <ll_t>c.g)
        return ST_ERROR
    if s.status != status:
        snprintf(o.err, sizeof(o.err), "%s event for goroutine that's not Running", EV_NAME[typ])
        return ST_ERROR
    out[0] = s
    return ST_OK


cdef int running_g(OrderState* o, Ctx* c, uint8_t typ, Res** out) noexcept nogil:
    """The state of the context's goroutine, which must exist and be running
    in a full user context (M, P and G)."""
    cdef int st = user_go(o, c)
    if st:
        return st
    return context_g(o, c, typ, GS_RUNNING, out)


cdef int adv_go_stop_exec(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                          bint* ok) noexcept nogil:
    cdef Res* s
    cdef int st = running_g(o, c, cu.typ, &s)
    if st:
        return st
    if cu.typ == EvGoDestroy:
        delete_g(o, c.g)
    elif cu.typ == EvGoStop:
        s.status = GS_RUNNABLE
    else:
        s.status = GS_WAITING
    nc.g = NONE
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_go_start(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                      bint* ok) noexcept nogil:
    cdef int64_t gid = <int64_t>cu.args[0]
    cdef Res* s = find_g(o, gid)
    cdef int st
    if s == NULL or s.status != GS_RUNNABLE or not seq_succeeds(gi.gen, cu.args[1], s):
        return ST_OK
    st = check_ctx(o, c, MUST, MUST, MUST_NOT)
    if st:
        return st
    s.status = GS_RUNNING
    set_seq(s, gi.gen, cu.args[1])
    nc.g = gid
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_go_unblock(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                        bint* ok) noexcept nogil:
    cdef Res* s = find_g(o, <int64_t>cu.args[0])
    if s == NULL or s.status != GS_WAITING or not seq_succeeds(gi.gen, cu.args[1], s):
        return ST_OK
    s.status = GS_RUNNABLE
    set_seq(s, gi.gen, cu.args[1])
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_go_switch(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    cdef Res* cur
    cdef Res* nxt
    cdef int st = running_g(o, c, cu.typ, &cur)
    cdef int64_t nextg = <int64_t>cu.args[0]
    cdef uint64_t none_args[4]
    cdef Ctx start_ctx
    if st:
        return st
    nxt = find_g(o, nextg)
    if nxt == NULL or nxt.status != GS_WAITING or not seq_succeeds(gi.gen, cu.args[1], nxt):
        return ST_OK
    st = push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)
    if st:
        return st
    memset(none_args, 0, sizeof(none_args))
    if cu.typ == EvGoSwitch:
        cur.status = GS_WAITING
        st = push_event(o, gi, c, EvGoBlock, cu.time, none_args, 0, 0)
    else:
        delete_g(o, c.g)
        st = push_event(o, gi, c, EvGoDestroy, cu.time, none_args, 0, 0)
    if st:
        return st
    nxt = find_g(o, nextg)  # the pool may have moved
    nxt.status = GS_RUNNING
    set_seq(nxt, gi.gen, cu.args[1])
    nc.g = nextg
    start_ctx = c[0]
    start_ctx.g = NONE
    none_args[0] = <uint64_t>nextg
    none_args[1] = cu.args[1]
    ok[0] = True
    return push_event(o, gi, &start_ctx, EvGoStart, cu.time, none_args, 0, 0)


cdef int adv_syscall_begin(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                           bint* ok) noexcept nogil:
    cdef Res* s
    cdef Res* p
    cdef int st = running_g(o, c, cu.typ, &s)
    if st:
        return st
    s.status = GS_SYSCALL
    p = find_p(o, c.p)
    if p == NULL:
        snprintf(o.err, sizeof(o.err), "uninitialized proc %lld found during %s",
                 <ll_t>c.p, EV_NAME[cu.typ])
        return ST_ERROR
    p.status = PS_SYSCALL
    if not seq_succeeds(gi.gen, cu.args[0], p):
        snprintf(o.err, sizeof(o.err),
                 "failed to advance %s: can't make sequence: %llu (gen=%llu) -> %llu (gen=%llu)",
                 EV_NAME[cu.typ], <ull_t>p.seq, <ull_t>p.seq_gen, <ull_t>cu.args[0], <ull_t>gi.gen)
        return ST_ERROR
    set_seq(p, gi.gen, cu.args[0])
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_syscall_end(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                         bint* ok) noexcept nogil:
    cdef Res* s
    cdef Res* p
    cdef int st = user_go(o, c)
    if st:
        return st
    st = context_g(o, c, cu.typ, GS_SYSCALL, &s)
    if st:
        return st
    s.status = GS_RUNNING
    p = find_p(o, c.p)
    if p == NULL:
        snprintf(o.err, sizeof(o.err), "uninitialized proc %lld found during %s",
                 <ll_t>c.p, EV_NAME[cu.typ])
        return ST_ERROR
    if p.status != PS_SYSCALL:
        snprintf(o.err, sizeof(o.err), "expected proc %lld in state Syscall, but got %s instead",
                 <ll_t>c.p, proc_status_name(p.status))
        return ST_ERROR
    p.status = PS_RUNNING
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_syscall_end_blocked(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                                 bint* ok) noexcept nogil:
    cdef Res* s
    cdef Res* p
    cdef int st
    if c.p != NONE:
        p = find_p(o, c.p)
        if p == NULL:
            snprintf(o.err, sizeof(o.err), "uninitialized proc %lld found during %s",
                     <ll_t>c.p, EV_NAME[cu.typ])
            return ST_ERROR
        if p.status == PS_SYSCALL:
            return ST_OK
    st = check_ctx(o, c, MUST, MAY, MUST)
    if st:
        return st
    st = context_g(o, c, cu.typ, GS_SYSCALL, &s)
    if st:
        return st
    nc.g = NONE
    s.status = GS_RUNNABLE
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_go_create_syscall(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                               bint* ok) noexcept nogil:
    cdef int st = check_ctx(o, c, MUST, MAY, MUST_NOT)
    cdef int64_t newg = <int64_t>cu.args[0]
    cdef Res* s
    if st:
        return st
    if find_g(o, newg) != NULL:
        snprintf(o.err, sizeof(o.err),
                 "tried to create goroutine (%lld) in syscall that already exists", <ll_t>newg)
        return ST_ERROR
    s = new_res(o, &o.gpool, &o.gmap, newg)
    if s == NULL:
        return ST_NOMEM
    s.status = GS_SYSCALL
    set_seq(s, gi.gen, 0)
    nc.g = newg
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_go_destroy_syscall(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                                bint* ok) noexcept nogil:
    cdef int st = check_ctx(o, c, MUST, MAY, MUST)
    cdef Res* s
    cdef Res* p
    cdef uint64_t steal[4]
    if st:
        return st
    s = find_g(o, c.g)
    if s == NULL:
        snprintf(o.err, sizeof(o.err), "event %s for goroutine (%lld) that doesn't exist",
                 EV_NAME[cu.typ], <ll_t>c.g)
        return ST_ERROR
    if s.status != GS_SYSCALL:
        snprintf(o.err, sizeof(o.err), "%s event for goroutine that's not Syscall", EV_NAME[cu.typ])
        return ST_ERROR
    delete_g(o, c.g)
    nc.g = NONE
    if c.p != NONE:
        p = find_p(o, c.p)
        if p == NULL:
            snprintf(o.err, sizeof(o.err), "found invalid proc %lld during %s",
                     <ll_t>c.p, EV_NAME[cu.typ])
            return ST_ERROR
        if p.status != PS_SYSCALL:
            snprintf(o.err, sizeof(o.err), "proc %lld in unexpected state %s during %s",
                     <ll_t>c.p, proc_status_name(p.status), EV_NAME[cu.typ])
            return ST_ERROR
        p.status = PS_ABANDONED
        nc.p = NONE
        # The thread may be reused by the OS: record that it let go of its
        # P, as a self-steal (Go's reader does the same).
        memset(steal, 0, sizeof(steal))
        steal[0] = <uint64_t>c.p
        st = push_event(o, gi, c, EvProcSteal, cu.time, steal, PS_SYSCALL, 0)
        if st:
            return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_task_begin(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                        bint* ok) noexcept nogil:
    cdef uint64_t id = cu.args[0]
    cdef uint64_t args[4]
    cdef int64_t v
    cdef int64_t slot
    cdef TaskState* t
    cdef int st
    memcpy(args, cu.args, sizeof(args))
    if map_get(&o.tmap, id, NULL):
        snprintf(o.err, sizeof(o.err), "task ID conflict: %llu", <ull_t>id)
        return ST_ERROR
    dep(o, DEP_TASK_ABSENT, <int64_t>id, -1, 0, 0)
    if args[1] == 0:
        args[1] = NO_TASK   # 0 means no parent here, not the background task
    if args[2] != 0 and not map_get(gi.strings, args[2], &v):
        snprintf(o.err, sizeof(o.err), "invalid string ID %llu for %d event",
                 <ull_t>args[2], <int>cu.typ)
        return ST_ERROR
    slot = pool_alloc(&o.tpool)
    if slot < 0 or map_put(&o.tmap, id, slot):
        return ST_NOMEM
    t = tres(o, slot)
    t.parent = args[1]
    t.name = string_or_empty(gi, args[2])
    t.next_free = -1
    st = user_go(o, c)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, args, 0, 0)


cdef int adv_task_end(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                      bint* ok) noexcept nogil:
    cdef uint64_t id = cu.args[0]
    cdef int64_t slot
    cdef uint64_t parent = NO_TASK
    cdef uint64_t name = 0
    cdef TaskState* t
    cdef int st
    if map_get(&o.tmap, id, &slot):
        t = tres(o, slot)
        parent = t.parent
        name = t.name
        map_del(&o.tmap, id)
        pool_release(&o.tpool, slot)
    else:
        dep(o, DEP_TASK_END, <int64_t>id, o.out.n, 0, 0)
    st = user_go(o, c)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, parent, name)


cdef int adv_region(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                    bint* ok) noexcept nogil:
    cdef int st = user_go(o, c)
    cdef uint64_t task = cu.args[0]
    cdef int64_t v
    cdef uint32_t name
    cdef Res* s
    cdef RegionEntry* top
    cdef RegionEntry* p
    cdef bint begin = cu.typ == EvUserRegionBegin
    if st:
        return st
    if cu.args[1] != 0 and not map_get(gi.strings, cu.args[1], &v):
        snprintf(o.err, sizeof(o.err), "invalid string ID %llu for %d event",
                 <ull_t>cu.args[1], <int>cu.typ)
        return ST_ERROR
    name = string_or_empty(gi, cu.args[1])
    s = find_g(o, c.g)
    if s == NULL:
        snprintf(o.err, sizeof(o.err),
                 "encountered %s without known state for current goroutine %lld",
                 "EvUserRegionBegin" if begin else "EvUserRegionEnd", <ll_t>c.g)
        return ST_ERROR
    if begin:
        if s.nregions == s.cap_regions:
            s.cap_regions = s.cap_regions * 2 if s.cap_regions else 4
            p = <RegionEntry*>PyMem_RawRealloc(s.regions, s.cap_regions * sizeof(RegionEntry))
            if p == NULL:
                return ST_NOMEM
            s.regions = p
        s.regions[s.nregions].task = task
        s.regions[s.nregions].name = name
        s.nregions += 1
    elif s.nregions == 0:
        # Maybe begun in an earlier generation (checked by check_fresh).
        dep(o, DEP_REGION_POP, s.id, -1, task, name)
    else:
        # Regions begun before the trace started are unknown; otherwise the
        # end must match the innermost active region.
        top = &s.regions[s.nregions - 1]
        if top.task != task or top.name != name:
            snprintf(o.err, sizeof(o.err),
                     "misuse of region in goroutine %lld: region end {%llu ...} when the "
                     "inner-most active region start event is {%llu ...}",
                     <ll_t>s.id, <ull_t>task, <ull_t>top.task)
            return ST_ERROR
        s.nregions -= 1
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef void fresh_first_gc(OrderState* o, Ctx* c, uint8_t typ, uint64_t seq) noexcept nogil:
    # In sequence this GC event would also need a running goroutine.
    dep(o, DEP_GC_FIRST, -1, -1, typ, seq)
    if user_go(o, c):
        dep(o, DEP_GIVE_UP, -1, -1, 0, 0)


cdef int adv_gc_active(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    cdef uint64_t seq = cu.args[0]
    cdef int st
    if gi.gen == o.initial_gen:
        if o.gc_state != GC_UNDETERMINED:
            return fail(o, "GCActive in the first generation isn't first GC event")
        if o.fresh:
            fresh_first_gc(o, c, cu.typ, seq)
        o.gc_seq = seq
        o.gc_state = GC_RUNNING
        ok[0] = True
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)
    if seq != o.gc_seq + 1:
        return ST_OK
    if o.gc_state != GC_RUNNING:
        return fail(o, "encountered GCActive while GC was not in progress")
    o.gc_seq = seq
    st = user_go(o, c)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_gc_begin(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                      bint* ok) noexcept nogil:
    cdef uint64_t seq = cu.args[0]
    cdef int st
    if o.gc_state == GC_UNDETERMINED:
        if o.fresh:
            fresh_first_gc(o, c, cu.typ, seq)
        o.gc_seq = seq
        o.gc_state = GC_RUNNING
        ok[0] = True
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)
    if seq != o.gc_seq + 1:
        return ST_OK
    if o.gc_state == GC_RUNNING:
        return fail(o, "encountered GCBegin while GC was already in progress")
    o.gc_seq = seq
    o.gc_state = GC_RUNNING
    st = user_go(o, c)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_gc_end(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                    bint* ok) noexcept nogil:
    cdef uint64_t seq = cu.args[0]
    cdef int st
    if seq != o.gc_seq + 1:
        return ST_OK
    if o.gc_state == GC_NOT_RUNNING:
        return fail(o, "encountered GCEnd when GC was not in progress")
    if o.gc_state == GC_UNDETERMINED:
        return fail(o, "encountered GCEnd when GC was in an undetermined state")
    o.gc_seq = seq
    o.gc_state = GC_NOT_RUNNING
    st = user_go(o, c)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_simple(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc, bint* ok,
                    int rm, int rp, int rg) noexcept nogil:
    cdef int st = check_ctx(o, c, rm, rp, rg)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_sweep(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                   bint* ok) noexcept nogil:
    cdef int st
    cdef Res* p
    cdef uint64_t desc
    if cu.typ == EvGCSweepActive:
        p = find_p(o, <int64_t>cu.args[0])
        if p == NULL:
            snprintf(o.err, sizeof(o.err), "encountered GCSweepActive for unknown proc %lld",
                     <ll_t><int64_t>cu.args[0])
            return ST_ERROR
        st = active_range(o, p, cu.typ, gi.gen == o.initial_gen)
        dep(o, DEP_RANGE, p.id, -1, 1, range_type(cu.typ))
    else:
        st = check_ctx(o, c, MUST, MUST, MAY)
        if st:
            return st
        p = find_p(o, c.p)
        if p == NULL:
            snprintf(o.err, sizeof(o.err), "uninitialized proc %lld found during %s",
                     <ll_t>c.p, EV_NAME[cu.typ])
            return ST_ERROR
        if cu.typ == EvGCSweepBegin:
            st = begin_range(o, p, cu.typ, 0)
        else:
            st = end_range(o, p, cu.typ, &desc)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_go_range(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                      bint* ok) noexcept nogil:
    cdef int st
    cdef Res* s
    cdef uint64_t desc = 0
    cdef int64_t gid
    if cu.typ == EvGCMarkAssistActive:
        gid = <int64_t>cu.args[0]
        s = find_g(o, gid)
        if s == NULL:
            snprintf(o.err, sizeof(o.err), "uninitialized goroutine %lld found during %s",
                     <ll_t>gid, EV_NAME[cu.typ])
            return ST_ERROR
        st = active_range(o, s, cu.typ, gi.gen == o.initial_gen)
        dep(o, DEP_RANGE, s.id, -1, 0, range_type(cu.typ))
        if st:
            return st
        ok[0] = True
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)
    st = user_go(o, c)
    if st:
        return st
    s = find_g(o, c.g)
    if s == NULL:
        snprintf(o.err, sizeof(o.err),
                 "encountered event of type %d without known state for current goroutine %lld",
                 <int>cu.typ, <ll_t>c.g)
        return ST_ERROR
    if cu.typ == EvSTWBegin or cu.typ == EvGCMarkAssistBegin:
        st = begin_range(o, s, cu.typ, cu.args[0] if cu.typ == EvSTWBegin else 0)
    else:
        st = end_range(o, s, cu.typ, &desc)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, desc, 0)


cdef int dispatch(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                  bint* ok) noexcept nogil:
    # One if/elif chain on t: Cython makes it a single switch.
    cdef uint8_t t = cu.typ
    if t == EvProcStatus:
        return adv_proc_status(o, gi, cu, c, nc, ok)
    elif t == EvProcStart:
        return adv_proc_start(o, gi, cu, c, nc, ok)
    elif t == EvProcStop:
        return adv_proc_stop(o, gi, cu, c, nc, ok)
    elif t == EvProcSteal:
        return adv_proc_steal(o, gi, cu, c, nc, ok)
    elif t == EvGoStatus or t == EvGoStatusStack:
        return adv_go_status(o, gi, cu, c, nc, ok)
    elif t == EvGoCreate or t == EvGoCreateBlocked:
        return adv_go_create(o, gi, cu, c, nc, ok)
    elif t == EvGoCreateSyscall:
        return adv_go_create_syscall(o, gi, cu, c, nc, ok)
    elif t == EvGoStart:
        return adv_go_start(o, gi, cu, c, nc, ok)
    elif t == EvGoDestroy or t == EvGoStop or t == EvGoBlock:
        return adv_go_stop_exec(o, gi, cu, c, nc, ok)
    elif t == EvGoDestroySyscall:
        return adv_go_destroy_syscall(o, gi, cu, c, nc, ok)
    elif t == EvGoUnblock:
        return adv_go_unblock(o, gi, cu, c, nc, ok)
    elif t == EvGoSwitch or t == EvGoSwitchDestroy:
        return adv_go_switch(o, gi, cu, c, nc, ok)
    elif t == EvGoSyscallBegin:
        return adv_syscall_begin(o, gi, cu, c, nc, ok)
    elif t == EvGoSyscallEnd:
        return adv_syscall_end(o, gi, cu, c, nc, ok)
    elif t == EvGoSyscallEndBlocked:
        return adv_syscall_end_blocked(o, gi, cu, c, nc, ok)
    elif t == EvSTWBegin or t == EvSTWEnd or t == EvGCMarkAssistActive \
            or t == EvGCMarkAssistBegin or t == EvGCMarkAssistEnd:
        return adv_go_range(o, gi, cu, c, nc, ok)
    elif t == EvGCActive:
        return adv_gc_active(o, gi, cu, c, nc, ok)
    elif t == EvGCBegin:
        return adv_gc_begin(o, gi, cu, c, nc, ok)
    elif t == EvGCEnd:
        return adv_gc_end(o, gi, cu, c, nc, ok)
    elif t == EvGCSweepActive or t == EvGCSweepBegin or t == EvGCSweepEnd:
        return adv_sweep(o, gi, cu, c, nc, ok)
    elif t == EvHeapAlloc or t == EvHeapGoal:
        return adv_simple(o, gi, cu, c, nc, ok, MUST, MUST, MAY)
    elif t == EvProcsChange or t == EvGoLabel or t == EvUserLog:
        return adv_simple(o, gi, cu, c, nc, ok, MUST, MUST, MUST)
    elif t == EvUserTaskBegin:
        return adv_task_begin(o, gi, cu, c, nc, ok)
    elif t == EvUserTaskEnd:
        return adv_task_end(o, gi, cu, c, nc, ok)
    elif t == EvUserRegionBegin or t == EvUserRegionEnd:
        return adv_region(o, gi, cu, c, nc, ok)
    elif KIND_OF[t] == K_EXPERIMENTAL:
        return adv_simple(o, gi, cu, c, nc, ok, MUST, MAY, MAY)
    snprintf(o.err, sizeof(o.err), "bad event type found while ordering: %d", <int>t)
    return ST_ERROR


cdef int advance(OrderState* o, GenIn* gi, OCursor* cu, bint* ok) noexcept nogil:
    """Try to take the current event of cursor cu (Go's ordering.Advance)."""
    cdef Ctx c, nc
    cdef int64_t slot = -1
    cdef MState* ms
    cdef int st
    if o.initial_gen == 0:
        o.initial_gen = gi.gen
    o.cur_m = cu.m
    o.cur_batch = cu.batch
    o.cur_event = cu.k
    c.m = cu.m
    c.unk = 0
    if cu.m == NONE:
        c.p = NONE
        c.g = NONE
        c.mslot = NONE
    else:
        # Ms are never forgotten, so their slot can be kept in the cursor
        # (created at the M's first event, as Go creates its state).
        if cu.mslot < 0:
            cu.mslot = m_slot(o, cu.m)
            if cu.mslot < 0:
                return ST_NOMEM
        slot = cu.mslot
        ms = mres(o, slot)
        c.mslot = slot
        c.p = ms.p
        c.g = ms.g
        c.unk_slot = slot
        c.unk = ms.unk
        if c.unk and not (cu.typ == EvProcStatus or cu.typ == EvGoStatus
                          or cu.typ == EvGoStatusStack):
            # Fresh run: an event that may depend on what this M was doing
            # before the generation began.  From here on the M's context
            # is the run's own, provided check_fresh finds it was empty.
            dep(o, DEP_M_CTX, slot, -1, c.unk, 0)
            ms.unk = 0
            c.unk = 0
    nc = c
    ok[0] = False
    st = dispatch(o, gi, cu, &c, &nc, ok)
    if st == ST_OK and ok[0] and slot >= 0:
        ms = mres(o, slot)  # handlers may have moved the pool
        if ms.unk:
            # A status event binding a P or a goroutine to the M makes that
            # part of its context known.
            if nc.p != ms.p:
                ms.unk &= ~UNK_P
            if nc.g != ms.g:
                ms.unk &= ~UNK_G
        ms.p = nc.p
        ms.g = nc.g
    return st


# ---------------------------------------------------------------------------
# Cursors and the frontier heap (the same heap operations as Go's reader, so
# that ties between equal timestamps resolve the same way).

cdef int cursor_next(OrderState* o, GenIn* gi, OCursor* cu) noexcept nogil:
    """Load the M's next event into cu: 1, or 0 at its end, -1 on error.

    Events are read and checked straight from the input when the ordering
    gets to them, as Go's batch cursors do: the wire stage only indexed the
    batches, so no per-event table is ever built.  A malformed event is an
    ST_FORMAT error (o.ferr_*) located at the event (o.cur_*).  Times follow
    Go's reader exactly: the running time restarts at every batch, and each
    event adds its delta converted to ns on its own.
    """
    cdef const BatchRec* b
    cdef Cursor c
    cdef uint64_t dt
    cdef Py_ssize_t at
    cdef int i, n, st
    cdef int64_t slot
    # Move to the M's next batch with events (Go resets the running time at
    # every batch, empty ones included).
    while cu.bpos >= cu.bend:
        if cu.pos >= cu.end:
            return 0
        cu.batch = gi.order[cu.pos]
        cu.pos += 1
        b = &gi.batches[cu.batch]
        cu.bpos = <Py_ssize_t>b.data_offset
        cu.bend = <Py_ssize_t>(b.data_offset + b.size)
        cu.k = -1
        cu.last_ts = 0
        if cu.bend > gi.buf_len:
            fail(o, "internal error: batch outside the input")
            return -1
    b = &gi.batches[cu.batch]
    c.buf = gi.buf
    c.pos = cu.bpos
    c.end = cu.bend
    at = c.pos
    cu.typ = c.buf[c.pos]
    c.pos += 1
    n = EV_NARGS[cu.typ] - 1
    if n < 0 or EV_SINCE[cu.typ] > o.version:
        if EV_DEFINED[cu.typ] and EV_SINCE[cu.typ] <= o.version:
            return format_error(o, cu, WIRE_UNTIMED_IN_BATCH, at, cu.typ, 0)
        return format_error(o, cu, WIRE_BAD_EVENT_TYPE, at, cu.typ, <uint64_t>o.version)
    st = read_uvarint(&c, &dt)
    if st:
        return format_error(o, cu, st, c.pos, 0, 0)
    # Four plain stores: a loop over the unused tail became a memset call.
    cu.args[0] = 0
    cu.args[1] = 0
    cu.args[2] = 0
    cu.args[3] = 0
    for i in range(n):
        st = read_uvarint(&c, &cu.args[i])
        if st:
            return format_error(o, cu, st, c.pos, 0, 0)
    cu.bpos = c.pos
    cu.k += 1
    if (cu.typ == EvGoStart or cu.typ == EvGoUnblock) and cu.args[0] < o.gmap.ndense:
        # The event names a goroutine whose state is likely out of cache
        # (one of possibly hundreds of thousands): start loading it now, a
        # few events before the ordering gets to this one.
        slot = o.gmap.dense[cu.args[0]]
        if slot >= 0:
            fr_prefetch(gres(o, slot))
    if cu.last_ts == 0:
        cu.last_ts = tick_ns(gi.ns_per_tick, b.time)
    cu.time = <int64_t>(<uint64_t>delta_ns(gi, dt) + <uint64_t>cu.last_ts)
    cu.last_ts = cu.time
    return 1


cdef int format_error(OrderState* o, OCursor* cu, int code, Py_ssize_t offset,
                      uint64_t a, uint64_t b) noexcept nogil:
    o.ferr_code = code
    o.ferr_offset = offset
    o.ferr_a = a
    o.ferr_b = b
    o.cur_m = cu.m
    o.cur_batch = cu.batch
    o.cur_event = cu.k + 1
    return -2


cdef inline int64_t ftime(OrderState* o, int64_t k) noexcept nogil:
    return o.ftimes[k]


cdef inline void fswap(OrderState* o, int64_t i, int64_t j) noexcept nogil:
    cdef int32_t t = o.frontier[i]
    cdef int64_t x = o.ftimes[i]
    o.frontier[i] = o.frontier[j]
    o.frontier[j] = t
    o.ftimes[i] = o.ftimes[j]
    o.ftimes[j] = x


cdef int64_t sift_up(OrderState* o, int64_t i) noexcept nogil:
    while i > 0 and ftime(o, (i - 1) // 2) > ftime(o, i):
        fswap(o, (i - 1) // 2, i)
        i = (i - 1) // 2
    return i


cdef void sift_down(OrderState* o, int64_t i) noexcept nogil:
    # Moves i below the smaller of its children while that one is earlier;
    # on equal children the left one (as Go's heap does).  Written so that
    # the choice of child compiles to conditional moves.
    cdef int64_t n = o.nfrontier
    cdef int64_t c, tl, tr
    cdef int64_t* tm = o.ftimes
    while 2 * i + 1 < n:
        c = 2 * i + 1
        tl = tm[c]
        tr = tm[c + 1] if c + 1 < n else 0x7FFFFFFFFFFFFFFF
        if tr < tl:
            c += 1
            tl = tr
        if tl >= tm[i]:
            return
        fswap(o, i, c)
        i = c


cdef void heap_insert(OrderState* o, int32_t cursor) noexcept nogil:
    o.frontier[o.nfrontier] = cursor
    o.ftimes[o.nfrontier] = o.cursors[cursor].time
    o.nfrontier += 1
    sift_up(o, o.nfrontier - 1)


cdef void heap_update(OrderState* o, int64_t i) noexcept nogil:
    o.ftimes[i] = o.cursors[o.frontier[i]].time
    if sift_up(o, i) != i:
        return
    sift_down(o, i)


cdef void heap_remove(OrderState* o, int64_t i) noexcept nogil:
    while i > 0:
        fswap(o, (i - 1) // 2, i)
        i = (i - 1) // 2
    fswap(o, 0, o.nfrontier - 1)
    o.nfrontier -= 1
    sift_down(o, 0)


# ---------------------------------------------------------------------------
# Go's unstable sort (pattern-defeating quicksort, as in Go's slices.SortFunc).
# Go's reader sorts the frontier and the CPU samples with it; where times
# are equal, the order it leaves decides the event order, so fastrace runs
# the same algorithm step for step.  Items are int32 ids ordered by key[id].

cdef struct GoSort:
    int32_t* d                # the items being sorted
    const int64_t* key        # key of each item id


cdef inline bint gs_less(GoSort* s, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    return s.key[s.d[i]] < s.key[s.d[j]]


cdef inline void gs_swap(GoSort* s, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    cdef int32_t t = s.d[i]
    s.d[i] = s.d[j]
    s.d[j] = t


cdef void gs_insertion(GoSort* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t i, j
    for i in range(a + 1, b):
        j = i
        while j > a and gs_less(s, j, j - 1):
            gs_swap(s, j, j - 1)
            j -= 1


cdef void gs_sift_down(GoSort* s, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t first) noexcept nogil:
    cdef Py_ssize_t root = lo, child
    while True:
        child = 2 * root + 1
        if child >= hi:
            return
        if child + 1 < hi and gs_less(s, first + child, first + child + 1):
            child += 1
        if not gs_less(s, first + root, first + child):
            return
        gs_swap(s, first + root, first + child)
        root = child


cdef void gs_heapsort(GoSort* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t hi = b - a, i
    i = (hi - 1) // 2
    while i >= 0:
        gs_sift_down(s, i, hi, a)
        i -= 1
    i = hi - 1
    while i >= 0:
        gs_swap(s, a, a + i)
        gs_sift_down(s, 0, i, a)
        i -= 1


cdef Py_ssize_t gs_order2(GoSort* s, Py_ssize_t* x, Py_ssize_t* y, int* swaps) noexcept nogil:
    cdef Py_ssize_t t
    if gs_less(s, y[0], x[0]):
        swaps[0] += 1
        t = x[0]
        x[0] = y[0]
        y[0] = t
    return 0


cdef Py_ssize_t gs_median(GoSort* s, Py_ssize_t a, Py_ssize_t b, Py_ssize_t c,
                          int* swaps) noexcept nogil:
    gs_order2(s, &a, &b, swaps)
    gs_order2(s, &b, &c, swaps)
    gs_order2(s, &a, &b, swaps)
    return b


cdef enum SortedHint:
    HINT_UNKNOWN = 0
    HINT_INCREASING = 1
    HINT_DECREASING = 2


cdef Py_ssize_t gs_choose_pivot(GoSort* s, Py_ssize_t a, Py_ssize_t b, int* hint) noexcept nogil:
    cdef Py_ssize_t l = b - a
    cdef int swaps = 0
    cdef Py_ssize_t i = a + l // 4 * 1, j = a + l // 4 * 2, k = a + l // 4 * 3
    if l >= 8:
        if l >= 50:
            i = gs_median(s, i - 1, i, i + 1, &swaps)
            j = gs_median(s, j - 1, j, j + 1, &swaps)
            k = gs_median(s, k - 1, k, k + 1, &swaps)
        j = gs_median(s, i, j, k, &swaps)
    if swaps == 0:
        hint[0] = HINT_INCREASING
    elif swaps == 12:
        hint[0] = HINT_DECREASING
    else:
        hint[0] = HINT_UNKNOWN
    return j


cdef void gs_reverse(GoSort* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t i = a, j = b - 1
    while i < j:
        gs_swap(s, i, j)
        i += 1
        j -= 1


cdef bint gs_partial_insertion(GoSort* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t i = a + 1, j
    cdef int step
    for step in range(5):
        while i < b and not gs_less(s, i, i - 1):
            i += 1
        if i == b:
            return True
        if b - a < 50:
            return False
        gs_swap(s, i, i - 1)
        if i - a >= 2:
            j = i - 1
            while j >= 1:
                if not gs_less(s, j, j - 1):
                    break
                gs_swap(s, j, j - 1)
                j -= 1
        if b - i >= 2:
            j = i + 1
            while j < b:
                if not gs_less(s, j, j - 1):
                    break
                gs_swap(s, j, j - 1)
                j += 1
    return False


cdef inline int bit_len(uint64_t x) noexcept nogil:
    cdef int n = 0
    while x:
        n += 1
        x >>= 1
    return n


cdef void gs_break_patterns(GoSort* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t length = b - a, idx, other
    cdef uint64_t r, modulus
    if length >= 8:
        r = <uint64_t>length
        modulus = (<uint64_t>1) << bit_len(<uint64_t>length)
        idx = a + (length // 4) * 2 - 1
        while idx <= a + (length // 4) * 2 + 1:
            r ^= r << 13
            r ^= r >> 7
            r ^= r << 17
            other = <Py_ssize_t>(r & (modulus - 1))
            if other >= length:
                other -= length
            gs_swap(s, idx, a + other)
            idx += 1


cdef Py_ssize_t gs_partition(GoSort* s, Py_ssize_t a, Py_ssize_t b, Py_ssize_t pivot,
                             bint* already) noexcept nogil:
    cdef Py_ssize_t i = a + 1, j = b - 1
    gs_swap(s, a, pivot)
    while i <= j and gs_less(s, i, a):
        i += 1
    while i <= j and not gs_less(s, j, a):
        j -= 1
    if i > j:
        gs_swap(s, j, a)
        already[0] = True
        return j
    gs_swap(s, i, j)
    i += 1
    j -= 1
    while True:
        while i <= j and gs_less(s, i, a):
            i += 1
        while i <= j and not gs_less(s, j, a):
            j -= 1
        if i > j:
            break
        gs_swap(s, i, j)
        i += 1
        j -= 1
    gs_swap(s, j, a)
    already[0] = False
    return j


cdef Py_ssize_t gs_partition_equal(GoSort* s, Py_ssize_t a, Py_ssize_t b,
                                   Py_ssize_t pivot) noexcept nogil:
    cdef Py_ssize_t i = a + 1, j = b - 1
    gs_swap(s, a, pivot)
    while True:
        while i <= j and not gs_less(s, a, i):
            i += 1
        while i <= j and gs_less(s, a, j):
            j -= 1
        if i > j:
            break
        gs_swap(s, i, j)
        i += 1
        j -= 1
    return i


cdef void gs_pdqsort(GoSort* s, Py_ssize_t a, Py_ssize_t b, int limit) noexcept nogil:
    cdef bint balanced = True, partitioned = True, already
    cdef Py_ssize_t length, pivot, mid, left, right
    cdef int hint
    while True:
        length = b - a
        if length <= 12:
            gs_insertion(s, a, b)
            return
        if limit == 0:
            gs_heapsort(s, a, b)
            return
        if not balanced:
            gs_break_patterns(s, a, b)
            limit -= 1
        pivot = gs_choose_pivot(s, a, b, &hint)
        if hint == HINT_DECREASING:
            gs_reverse(s, a, b)
            pivot = (b - 1) - (pivot - a)
            hint = HINT_INCREASING
        if balanced and partitioned and hint == HINT_INCREASING:
            if gs_partial_insertion(s, a, b):
                return
        if a > 0 and not gs_less(s, a - 1, pivot):
            a = gs_partition_equal(s, a, b, pivot)
            continue
        mid = gs_partition(s, a, b, pivot, &already)
        partitioned = already
        left = mid - a
        right = b - mid
        if left < right:
            balanced = left >= length // 8
            gs_pdqsort(s, a, mid, limit)
            a = mid + 1
        else:
            balanced = right >= length // 8
            gs_pdqsort(s, mid + 1, b, limit)
            b = mid


cdef void go_sort(int32_t* items, const int64_t* key, Py_ssize_t n) noexcept nogil:
    cdef GoSort s
    s.d = items
    s.key = key
    gs_pdqsort(&s, 0, n, bit_len(<uint64_t>n))


def go_sort_order(keys):
    """The permutation Go's slices.SortFunc leaves on int64 keys (for tests
    and for sorting CPU samples as Go's reader does)."""
    cdef const int64_t[::1] k = np.ascontiguousarray(keys, dtype=np.int64)
    cdef cnp.ndarray out = np.arange(k.shape[0], dtype=np.int32)
    cdef int32_t[::1] o = out
    if k.shape[0]:
        with nogil:
            go_sort(&o[0], &k[0], k.shape[0])
    return out


cdef void sort_frontier(OrderState* o) noexcept nogil:
    # Go sorts its frontier (a slice of cursors) by time when the head
    # cannot advance; ties are left as its sort leaves them.
    cdef int64_t i
    for i in range(o.nfrontier):
        o.sort_keys[o.frontier[i]] = o.cursors[o.frontier[i]].time
    go_sort(o.frontier, o.sort_keys, o.nfrontier)
    for i in range(o.nfrontier):
        o.ftimes[i] = o.sort_keys[o.frontier[i]]


cdef int try_advance(OrderState* o, GenIn* gi, int64_t i, bint* ok) noexcept nogil:
    cdef OCursor* cu = &o.cursors[o.frontier[i]]
    cdef Py_ssize_t rows = o.out.n
    cdef int64_t last_ts = o.last_ts
    cdef int st = advance(o, gi, cu, ok)
    if st or not ok[0]:
        return st
    st = cursor_next(o, gi, cu)
    if st == 1:
        heap_update(o, i)
    elif st == 0:
        heap_remove(o, i)
    elif st == -2:
        # Go's reader reports a malformed next event of this M before it
        # hands out the events the advance just produced: drop their rows.
        o.out.n = rows
        o.last_ts = last_ts
        return ST_FORMAT
    else:
        return ST_ERROR
    return ST_OK


cdef int begin_generation(OrderState* o, GenIn* gi) noexcept nogil:
    """Emit the generation's Sync and load every M's first event."""
    cdef int64_t k
    cdef int st
    cdef OCursor* cu
    o.nfrontier = 0
    o.next_cpu = 0
    # Every M's first event is read before the Sync is emitted: Go's reader
    # reports a malformed one without a Sync for the generation.
    for k in range(gi.nm):
        cu = &o.cursors[k]
        memset(cu, 0, sizeof(OCursor))
        cu.m = gi.m_ids[k]
        cu.mslot = -1
        cu.pos = gi.m_bounds[k]
        cu.end = gi.m_bounds[k + 1]
        st = cursor_next(o, gi, cu)
        if st == -2:
            return ST_FORMAT
        if st < 0:
            return ST_ERROR
        if st == 1:
            heap_insert(o, <int32_t>k)
    return push_sync(o, gi.sync_time, gi.gen_row)


cdef int step_generation(OrderState* o, GenIn* gi) noexcept nogil:
    """Order the generation's events: ST_OK when all are taken, ST_PAUSED
    when the output holds o.limit rows (then call again to go on; all the
    state needed to resume is in o), else an error."""
    cdef int64_t i
    cdef int st
    cdef bint ok
    cdef Ctx c
    cdef TraceEventRec* r
    while o.nfrontier > 0 or o.next_cpu < gi.ncpu:
        # One step adds at most three rows (a GoSwitch is followed by the
        # switching goroutine's GoBlock or GoDestroy and the next one's GoStart).
        if o.limit and o.out.n + 3 > o.limit:
            return ST_PAUSED
        if o.next_cpu < gi.ncpu and (o.nfrontier == 0 or gi.cpu_time[o.next_cpu] < ftime(o, 0)):
            c.m = gi.cpu_m[o.next_cpu]
            c.mslot = NONE
            c.unk = 0
            if c.m != NONE:
                c.mslot = m_slot(o, c.m)
                if c.mslot < 0:
                    return ST_NOMEM
            c.p = gi.cpu_p[o.next_cpu]
            c.g = gi.cpu_g[o.next_cpu]
            r = new_row(o, gi.cpu_time[o.next_cpu], &c, K_STACK_SAMPLE, 7)
            if r == NULL:
                return ST_NOMEM
            r.stack = gi.cpu_stack[o.next_cpu]
            o.next_cpu += 1
            continue
        st = try_advance(o, gi, 0, &ok)
        if st:
            return st
        if ok:
            continue
        sort_frontier(o)
        for i in range(1, o.nfrontier):
            st = try_advance(o, gi, i, &ok)
            if st:
                return st
            if ok:
                break
        if not ok:
            o.cur_m = NONE
            o.cur_batch = -1
            snprintf(o.err, sizeof(o.err),
                     "broken trace: failed to advance: no M's next event can happen next "
                     "(generation %llu, %lld Ms with events left)",
                     <ull_t>gi.gen, <ll_t>o.nfrontier)
            return ST_ERROR
    return ST_OK


# ---------------------------------------------------------------------------
# Fresh runs: counting a generation's rows, checking and merging a run.

cdef int64_t count_rows(GenIn* gi) noexcept nogil:
    """At most how many rows ordering generation gi gives (every event one
    row, GoSwitch three, GoDestroySyscall two, plus CPU samples and the
    Sync); -1 if an event is malformed (the ordering will report it)."""
    cdef int64_t k, total = 1 + gi.ncpu
    cdef const BatchRec* b
    cdef const uint8_t* p
    cdef const uint8_t* end
    cdef int n, i
    cdef uint8_t typ
    for k in range(gi.m_bounds[gi.nm]):
        b = &gi.batches[gi.order[k]]
        if <Py_ssize_t>(b.data_offset + b.size) > gi.buf_len:
            return -1
        p = gi.buf + b.data_offset
        end = p + b.size
        while p < end:
            typ = p[0]
            p += 1
            n = EV_NARGS[typ]
            if n < 1:
                return -1
            for i in range(n):
                # Byte by byte: nearly every varint here is one or two bytes
                # long, which the branch predictor handles better than any
                # word-at-a-time trick (measured: 6.3 vs 16.9 ms a generation).
                while p < end and p[0] & 0x80:
                    p += 1
                if p >= end:
                    return -1
                p += 1
            total += 1
            if typ == EvGoSwitch or typ == EvGoSwitchDestroy:
                total += 2
            elif typ == EvGoDestroySyscall:
                total += 1
    return total


cdef inline DepRec* dep_at(OrderState* o, Py_ssize_t i) noexcept nogil:
    return <DepRec*>(o.deps.data + i * sizeof(DepRec))


cdef MState* m_by_id(OrderState* o, int64_t mid) noexcept nogil:
    cdef int64_t slot
    if map_get(&o.mmap, <uint64_t>mid, &slot):
        return mres(o, slot)
    return NULL


cdef bint ranges_match(DepRec** active, Py_ssize_t nactive, uint64_t kind, int64_t id,
                       Res* r, int64_t* matched) noexcept nogil:
    """The ranges a resource had in flight (r, NULL = none) are exactly the
    ones the fresh run found active on it (its DEP_RANGE entries, listed in
    active: there are few)."""
    cdef Py_ssize_t i
    cdef int32_t j
    cdef int64_t n = 0, k
    cdef DepRec* d
    for i in range(nactive):
        d = active[i]
        if d.a == kind and d.id == id:
            n += 1
            if r == NULL:
                return False
            k = 0
            for j in range(r.nranges):
                if r.ranges[j].typ == d.b:
                    k += 1
            if k != 1:
                return False
    matched[0] += n
    return n == (r.nranges if r != NULL else 0)


cdef bint check_fresh(OrderState* S, OrderState* F, IdMap* pops) noexcept nogil:
    """Whether every assumption of fresh run F holds in S, the state in
    sequence at the end of the generation before.  Fills pops (goroutine ->
    regions of S the run ended)."""
    cdef Py_ssize_t i
    cdef int64_t matched = 0
    cdef DepRec** active
    cdef Py_ssize_t nactive = 0
    cdef bint ok
    if F.deps_full:
        return False
    for i in range(F.deps.n):
        if dep_at(F, i).kind == DEP_RANGE:
            nactive += 1
    active = <DepRec**>PyMem_RawMalloc((nactive + 1) * sizeof(DepRec*))
    if active == NULL:
        return False
    nactive = 0
    for i in range(F.deps.n):
        if dep_at(F, i).kind == DEP_RANGE:
            active[nactive] = dep_at(F, i)
            nactive += 1
    ok = check_deps(S, F, pops, active, nactive, &matched)
    PyMem_RawFree(active)
    # Every active range belongs to a resource first seen in a status event.
    return ok and matched == nactive


cdef bint check_deps(OrderState* S, OrderState* F, IdMap* pops, DepRec** active,
                     Py_ssize_t nactive, int64_t* matched) noexcept nogil:
    cdef Py_ssize_t i
    cdef DepRec* d
    cdef Res* r
    cdef MState* ms
    cdef int64_t g, k
    for i in range(F.deps.n):
        d = dep_at(F, i)
        if d.kind == DEP_G_STATUS:
            r = find_g_raw(S, d.id)
            if r == NULL or r.status != d.a or not ranges_match(active, nactive, 0, d.id, r,
                                                                 matched):
                return False
        elif d.kind == DEP_G_ABSENT:
            if find_g_raw(S, d.id) != NULL:
                return False
        elif d.kind == DEP_P_STATUS:
            r = find_p_raw(S, d.id)
            if r != NULL and (r.status != d.a or d.a == PS_ABANDONED):
                return False
            if not ranges_match(active, nactive, 1, d.id, r, matched):
                return False
        elif d.kind == DEP_P_ABSENT:
            if find_p_raw(S, d.id) != NULL:
                return False
        elif d.kind == DEP_M_CTX:
            ms = m_by_id(S, mres(F, d.id).id)
            if ms != NULL and (((d.a & UNK_G) and ms.g != NONE)
                               or ((d.a & UNK_P) and ms.p != NONE)):
                return False
        elif d.kind == DEP_M_SYSCALL_G:
            ms = m_by_id(S, mres(F, d.id).id)
            g = ms.g if ms != NULL else NONE
            if g != <int64_t>d.a:
                return False
        elif d.kind == DEP_M_LOOKUP:
            ms = m_by_id(S, d.id)
            if ms != NULL and (d.a == 0 or ((d.b & UNK_G) and ms.g != NONE)
                               or ((d.b & UNK_P) and ms.p != NONE)):
                return False
        elif d.kind == DEP_TASK_ABSENT:
            if map_get(&S.tmap, <uint64_t>d.id, NULL):
                return False
        elif d.kind == DEP_GC_FIRST:
            if d.a == EvGCActive:
                if S.gc_state != GC_RUNNING or d.b != S.gc_seq + 1:
                    return False
            elif S.gc_state != GC_UNDETERMINED and (S.gc_state != GC_NOT_RUNNING
                                                   or d.b != S.gc_seq + 1):
                return False
        elif d.kind == DEP_REGION_POP:
            r = find_g_raw(S, d.id)
            if not map_get(pops, <uint64_t>d.id, &k):
                k = 0
            if r != NULL and k < r.nregions:
                if (r.regions[r.nregions - 1 - k].task != d.a
                        or r.regions[r.nregions - 1 - k].name != d.b):
                    return False
                if map_put(pops, <uint64_t>d.id, k + 1):
                    return False
        elif d.kind == DEP_GIVE_UP:
            return False
    return True


cdef int take_res(OrderState* S, Pool* pool, IdMap* m, Res* src, int64_t pops) noexcept nogil:
    """Make S's resource src.id the fresh run's src (lists moved over; the
    first nregions - pops regions S had stay below the run's)."""
    cdef Res* r
    cdef int64_t slot
    cdef int32_t keep = 0, n
    cdef RegionEntry* regs
    if map_get(m, <uint64_t>src.id, &slot):
        r = <Res*>(pool.data + slot * sizeof(Res))
    else:
        r = new_res(S, pool, m, src.id)
        if r == NULL:
            return ST_NOMEM
    r.status = src.status
    r.seq_gen = src.seq_gen
    r.seq = src.seq
    PyMem_RawFree(r.ranges)
    r.ranges = src.ranges
    r.nranges = src.nranges
    r.cap_ranges = src.cap_ranges
    src.ranges = NULL
    src.nranges = src.cap_ranges = 0
    keep = r.nregions - <int32_t>pops if r.nregions > pops else 0
    if keep == 0:
        PyMem_RawFree(r.regions)
        r.regions = src.regions
        r.nregions = src.nregions
        r.cap_regions = src.cap_regions
    elif src.nregions:
        n = keep + src.nregions
        regs = <RegionEntry*>PyMem_RawRealloc(r.regions, n * sizeof(RegionEntry))
        if regs == NULL:
            return ST_NOMEM
        memcpy(&regs[keep], src.regions, src.nregions * sizeof(RegionEntry))
        PyMem_RawFree(src.regions)
        r.regions = regs
        r.nregions = n
        r.cap_regions = n
    else:
        r.nregions = keep
    src.regions = NULL
    src.nregions = src.cap_regions = 0
    return ST_OK


cdef int merge_fresh(OrderState* S, OrderState* F, IdMap* pops, Py_ssize_t base) noexcept nogil:
    """Fold fresh run F (checked by check_fresh; its rows at base in S.out)
    into S: patch the rows to what ordering in sequence writes, then take
    over the run's state."""
    cdef TraceEventRec* rows = <TraceEventRec*>(S.out.data + base * sizeof(TraceEventRec))
    cdef Py_ssize_t n = F.out.n, i
    cdef DepRec* d
    cdef Res* r
    cdef MState* ms
    cdef MState* fm
    cdef TaskState* t
    cdef int64_t slot, k, val
    cdef uint64_t key
    cdef Py_ssize_t it
    cdef uint32_t* remap
    cdef int64_t prev
    # Rows first (they read S as it was).
    for i in range(F.deps.n):
        d = dep_at(F, i)
        if d.kind == DEP_G_STATUS:
            rows[d.row].from_state = go_state_of(d.a)
        elif d.kind == DEP_P_STATUS:
            rows[d.row].from_state = (proc_state_of(d.a) if find_p_raw(S, d.id) != NULL
                                      else P_NOT_EXIST)
        elif d.kind == DEP_ROW_CTX:
            ms = m_by_id(S, mres(F, d.id).id)
            if d.a & UNK_G:
                rows[d.row].g = ms.g if ms != NULL else NONE
            if d.a & UNK_P:
                rows[d.row].p = <int32_t>(ms.p if ms != NULL else NONE)
        elif d.kind == DEP_TASK_END:
            if map_get(&S.tmap, <uint64_t>d.id, &slot):
                t = tres(S, slot)
                rows[d.row].a[1] = t.parent
                rows[d.row].a[2] = t.name
    rows[0].a[0] = <uint64_t>(S.syncs + 1)
    # Ms, in the order the run met them (the order ordering in sequence
    # creates the new ones in), then the M column.
    remap = <uint32_t*>PyMem_RawMalloc((F.mpool.n + 1) * sizeof(uint32_t))
    if remap == NULL:
        return ST_NOMEM
    remap[0] = 0
    for i in range(F.mpool.n):
        fm = mres(F, i)
        slot = m_slot(S, fm.id)
        if slot < 0:
            PyMem_RawFree(remap)
            return ST_NOMEM
        remap[i + 1] = <uint32_t>(slot + 1)
        ms = mres(S, slot)
        if not (fm.unk & UNK_G):
            ms.g = fm.g
        if not (fm.unk & UNK_P):
            ms.p = fm.p
    for i in range(n):
        rows[i].m = remap[rows[i].m]
    PyMem_RawFree(remap)
    # Times: Go's reader keeps them strictly increasing across generations.
    prev = S.last_ts
    for i in range(n):
        if rows[i].time > prev:
            break
        rows[i].time = prev + 1
        prev = rows[i].time
    S.last_ts = rows[n - 1].time if n else S.last_ts
    S.syncs += F.syncs
    # Goroutines and Ps.
    for i in range(F.deps.n):
        d = dep_at(F, i)
        if d.kind == DEP_G_DELETED and find_g_raw(F, d.id) == NULL:
            delete_g(S, d.id)
        elif d.kind == DEP_TASK_END:
            if map_get(&S.tmap, <uint64_t>d.id, &slot):
                map_del(&S.tmap, <uint64_t>d.id)
                pool_release(&S.tpool, slot)
    it = 0
    while map_next(&F.gmap, &it, &key, &val):
        r = gres(F, val)
        if not map_get(pops, <uint64_t>r.id, &k):
            k = 0
        if take_res(S, &S.gpool, &S.gmap, r, k):
            return ST_NOMEM
    it = 0
    while map_next(&F.pmap, &it, &key, &val):
        if take_res(S, &S.ppool, &S.pmap, pres(F, val), 0):
            return ST_NOMEM
    # Tasks begun in the run and not ended.
    it = 0
    while map_next(&F.tmap, &it, &key, &val):
        t = tres(F, val)
        slot = pool_alloc(&S.tpool)
        if slot < 0 or map_put(&S.tmap, key, slot):
            return ST_NOMEM
        tres(S, slot).parent = t.parent
        tres(S, slot).name = t.name
        tres(S, slot).next_free = -1
    if F.gc_state != GC_UNDETERMINED:
        S.gc_state = F.gc_state
        S.gc_seq = F.gc_seq
    S.out.n = base + n
    return ST_OK


# ---------------------------------------------------------------------------
# Python driver.

cdef class _State:
    cdef OrderState o
    # Strings, frames and stacks seen so far.  They persist across pieces
    # (iter_generations) because the scheduler state refers to them (task
    # and region names), and so that rows are numbered as by read().
    cdef public object tables
    cdef public list gens         # generation rows so far (tuples)
    cdef public list exp_rows     # experimental batch rows so far (tuples)
    cdef public int64_t taken     # event rows handed out by earlier pieces
    cdef public int64_t gen_base  # fresh runs: generation rows before this state's first
    # The generation being ordered: its C inputs, and the Python objects
    # (wire tables, prepared arrays) they point into.
    cdef GenIn gi
    cdef object gi_keep
    cdef Recycler recycler        # pieces of iter_generations: the last piece's memory

    def __cinit__(self, int version):
        memset(&self.o, 0, sizeof(OrderState))
        self.o.version = version
        self.o.out.size = sizeof(TraceEventRec)
        self.o.gpool.size = sizeof(Res)
        self.o.ppool.size = sizeof(Res)
        self.o.mpool.size = sizeof(MState)
        self.o.tpool.size = sizeof(TaskState)
        self.o.gpool.free = -1
        self.o.ppool.free = -1
        self.o.mpool.free = -1
        self.o.tpool.free = -1
        self.tables = _Tables()
        self.gens = []
        self.exp_rows = []

    def __dealloc__(self):
        cdef Py_ssize_t i
        # Released slots had their lists freed (pointers NULL) before release.
        for i in range(self.o.gpool.n):
            free_res_lists(gres(&self.o, i))
        for i in range(self.o.ppool.n):
            free_res_lists(pres(&self.o, i))
        PyMem_RawFree(self.o.gpool.data)
        PyMem_RawFree(self.o.ppool.data)
        PyMem_RawFree(self.o.mpool.data)
        PyMem_RawFree(self.o.tpool.data)
        map_free(&self.o.gmap)
        map_free(&self.o.pmap)
        map_free(&self.o.mmap)
        map_free(&self.o.tmap)
        if self.o.out.fixed:
            self.o.out.data = NULL
        release(&self.o.out)
        release(&self.o.deps)
        PyMem_RawFree(self.o.cursors)
        PyMem_RawFree(self.o.frontier)
        PyMem_RawFree(self.o.ftimes)
        PyMem_RawFree(self.o.sort_keys)

    cdef int begin(self) except -1:
        """Start ordering self.gi (filled by _begin_generation)."""
        cdef int st
        cdef int64_t nm = self.gi.nm
        PyMem_RawFree(self.o.cursors)
        PyMem_RawFree(self.o.frontier)
        PyMem_RawFree(self.o.ftimes)
        PyMem_RawFree(self.o.sort_keys)
        self.o.cursors = <OCursor*>PyMem_RawMalloc((nm + 1) * sizeof(OCursor))
        self.o.frontier = <int32_t*>PyMem_RawMalloc((nm + 1) * sizeof(int32_t))
        self.o.sort_keys = <int64_t*>PyMem_RawMalloc((nm + 1) * sizeof(int64_t))
        self.o.ftimes = <int64_t*>PyMem_RawMalloc((nm + 1) * sizeof(int64_t))
        if self.o.cursors == NULL or self.o.frontier == NULL or self.o.sort_keys == NULL \
                or self.o.ftimes == NULL:
            raise MemoryError()
        with nogil:
            st = begin_generation(&self.o, &self.gi)
        if st == ST_NOMEM:
            raise MemoryError()
        return st

    cdef int step(self, int64_t limit) except -1:
        """Go on ordering self.gi until it is done (ST_OK) or the output holds
        ``limit`` rows (ST_PAUSED; 0 = no limit)."""
        cdef int st
        self.o.limit = limit
        with nogil:
            st = step_generation(&self.o, &self.gi)
        self.o.limit = 0
        if st == ST_NOMEM:
            raise MemoryError()
        return st

    def rows(self):
        """Rows ordered and not yet handed out."""
        return self.o.out.n

    def reserve(self, Py_ssize_t rows):
        """Make room for ``rows`` more rows (address space only, for large
        tables), so that the table does not move while a generation is
        ordered and a prefault helper may work on it."""
        if grow_to(&self.o.out, self.o.out.n + rows):
            raise MemoryError()

    def prefault(self):
        """The prefault helper of read(workers=2), run in its own thread
        while this state orders a generation into reserved room: it backs
        the output table's pages a little ahead of the rows being written,
        so that the kernel's clearing of fresh pages (a fifth to a half of
        read()'s time, more on a virtual machine whose host reclaimed the
        memory) happens on the other core.  MADV_POPULATE_WRITE faults pages
        in without writing to them, so racing with the writer is harmless.
        Returns when stop_prefault() is called or the room is all backed."""
        cdef OrderState* o = &self.o
        cdef char* base = o.out.data
        cdef size_t size = <size_t>o.out.size
        cdef size_t room = <size_t>o.out.cap * size
        cdef size_t step = 2 << 20          # one transparent huge page
        cdef size_t ahead = 32 << 20
        cdef size_t done, want, n
        if not o.out.mapped or base == NULL:
            return
        with nogil:
            # Start at the first 2 MiB boundary past the rows already written.
            done = (<size_t>fr_load_ssize(&o.out.n) * size + step - 1) // step * step
            while not fr_load_int(&o.prefault_stop) and done < room:
                want = <size_t>fr_load_ssize(&o.out.n) * size + ahead
                if want > room:
                    want = room
                if done >= want:
                    usleep(50)
                    continue
                n = step if room - done > step else room - done
                if madvise(base + done, n, MADV_POPULATE_WRITE) != 0:
                    break   # not supported here (Linux < 5.14): nothing to gain
                done += n

    def detach(self):
        """A fresh run's rows belong to the real state's table: forget them."""
        if self.o.out.fixed:
            self.o.out.data = NULL
            self.o.out.n = self.o.out.cap = 0
            self.o.out.fixed = False
        release(&self.o.deps)

    def merge_fresh(self, _State fresh, Py_ssize_t base):
        """Check fresh run ``fresh`` (rows at ``base``, just ordered after
        this state's last generation) against this state and, if it holds,
        fold it in: its rows move up to follow this state's, patched to
        what ordering in sequence writes.  Returns whether it did; if not,
        the generation must be ordered again, in sequence."""
        cdef IdMap pops
        cdef bint ok
        cdef int st = ST_OK
        cdef Py_ssize_t n = fresh.o.out.n
        cdef size_t rec = sizeof(TraceEventRec)
        if base < self.o.out.n or base + n > self.o.out.cap or not fresh.o.out.fixed:
            raise ValueError("fresh run outside this state's table")
        memset(&pops, 0, sizeof(IdMap))
        with nogil:
            ok = check_fresh(&self.o, &fresh.o, &pops)
            if ok:
                if base != self.o.out.n:
                    # The generation before gave fewer rows than counted.
                    memmove(self.o.out.data + self.o.out.n * rec,
                            self.o.out.data + base * rec, n * rec)
                st = merge_fresh(&self.o, &fresh.o, &pops, self.o.out.n)
        map_free(&pops)
        fresh.detach()
        if st == ST_NOMEM:
            raise MemoryError()
        return ok

    def stop_prefault(self):
        fr_store_int(&self.o.prefault_stop, 1)

    def arm_prefault(self):
        fr_store_int(&self.o.prefault_stop, 0)

    def final_sync(self):
        if push_sync(&self.o, self.o.last_ts, 0xFFFFFFFFFFFFFFFF):
            raise MemoryError()

    def take_events(self):
        if self.o.out.fixed:
            # A fresh run's rows are not its own (they go by merge_fresh).
            return np.zeros(0, dtype=EVENT_DTYPE)
        self.taken += self.o.out.n
        return adopt(&self.o.out, EVENT_DTYPE, self.recycler)

    def start_piece(self, Py_ssize_t rows):
        """Before ordering a piece of at most ``rows`` rows: take the memory
        of the last piece if numpy is done with it (its pages are backed
        already), and make room."""
        if self.recycler is None:
            self.recycler = Recycler()
        if self.o.out.n == 0:
            self.recycler.reuse(&self.o.out)
        if grow_to(&self.o.out, self.o.out.n + rows):
            raise MemoryError()

    def threads(self):
        """Trace.threads: the M (thread) ids; row 0 (-1) = no M."""
        cdef Py_ssize_t i
        cdef cnp.ndarray out = np.empty(self.o.mpool.n + 1, dtype=np.int64)
        cdef int64_t[::1] v = out
        v[0] = NONE
        for i in range(self.o.mpool.n):
            v[i + 1] = mres(&self.o, i).id
        return out

    def format_error(self, wire, gen):
        """The TraceFormatError of a malformed event (after ST_FORMAT)."""
        from fastrace._varint import event_error
        return event_error(self.o.ferr_code, self.o.ferr_offset, self.o.ferr_a, self.o.ferr_b,
                           gen, self.o.cur_batch + wire.batch_base, self.o.cur_event,
                           self.o.version)

    def error(self):
        return (self.o.err.decode("utf-8", "replace"), self.o.cur_m,
                self.o.cur_batch, self.o.cur_event)


class _Tables:
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

    def arrays(self):
        """(string bytes, string offsets, stacks, frames) as arrays; cached
        until a table grows (iter_generations asks for them at every piece)."""
        key = (len(self.strings), len(self.frames), len(self.stacks))
        if self._arrays_key != key:
            self._arrays = self._build_arrays()
            self._arrays_key = key
        return self._arrays

    def _build_arrays(self):
        lens = np.fromiter((len(s) for s in self.strings), dtype=np.uint64, count=len(self.strings))
        offsets = np.zeros(len(self.strings) + 1, dtype=np.uint64)
        np.cumsum(lens, out=offsets[1:])
        frames = np.zeros(len(self.frames), dtype=FRAME_DTYPE)
        if self.frames:
            f = np.array(self.frames, dtype=np.uint64).reshape(-1, 4)
            frames["pc"], frames["line"] = f[:, 0], f[:, 1]
            frames["func"], frames["file"] = f[:, 2], f[:, 3]
        stacks = np.zeros(len(self.stacks), dtype=STACK_DTYPE)
        flat = []
        for i, s in enumerate(self.stacks):
            if s is None:
                continue
            stacks[i]["frame_start"] = len(flat)
            stacks[i]["nframes"] = len(s)
            flat.extend(s)
        frame_index = np.array(flat, dtype=np.int64)
        # Frames are stored per stack occurrence so that a stack is one slice.
        frames_flat = frames[frame_index] if len(frame_index) else np.zeros(0, FRAME_DTYPE)
        return b"".join(self.strings), offsets, stacks, frames_flat


def _order_error(msg, wire, gen, m, batch, event):
    if batch is None or batch < 0:
        batch = event = None
    else:
        batch += wire.batch_base
    if m is not None and m != -1:
        msg = f"{msg} [M {m}]"
    return TraceOrderError(msg, generation=gen, batch=batch, event=event)


def _prepare_generation(wire, gi_index, tables):
    """Per-generation inputs: string and stack maps, per-M event order and
    CPU samples.  Raises TraceFormatError for broken tables (duplicate ids,
    stacks naming unknown strings), as Go's reader does when it loads a
    generation."""
    g = wire.generation(gi_index)
    gen = g.gen
    buf = wire.buffer
    # Strings.
    ids = g.strings["id"].tolist()
    offs = g.strings["offset"].tolist()
    lens = g.strings["length"].tolist()
    seen = {}
    rows = []
    for sid, off, ln in zip(ids, offs, lens):
        s = bytes(buf[off:off + ln])
        if sid == 0 or sid in seen:
            old = seen.get(sid, b"")
            raise TraceFormatError(
                f"multiple strings with the same ID: id={sid}, new={s!r}, existing={old!r}",
                generation=gen)
        seen[sid] = s
        rows.append(tables.string(s))
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
    cpu_stack = np.zeros(len(cs), dtype=np.uint32)
    for i, sid in enumerate(cs["stack"].tolist()):
        if sid:
            row = stack_map.get(sid)
            if row is None:
                raise TraceOrderError(f"found invalid stack ID {sid} for event CPUSample",
                                      generation=gen)
            cpu_stack[i] = row
    return dict(gen=gen, freq=freq, string_map=string_map, stack_map=stack_map,
                exp_batches=g.exp_batches,
                order=np.ascontiguousarray(order), bounds=bounds, m_ids=np.ascontiguousarray(m_ids),
                cpu_time=cpu_time, cpu_m=cpu_m, cpu_p=cpu_p, cpu_g=np.ascontiguousarray(cpu_g),
                cpu_stack=cpu_stack, min_time=int(g.record["min_time"]))


cdef const void* _table_ptr(cnp.ndarray arr, size_t itemsize) except? NULL:
    # Tables handed back from Python: check what the C code will assume.
    if arr.ndim != 1 or not arr.flags.c_contiguous or arr.dtype.itemsize != itemsize:
        raise TypeError("wire table has an unexpected layout")
    return cnp.PyArray_DATA(arr)


cdef int _begin_generation(_State state, wire, dict p, uint64_t gen_row) except -1:
    _fill_inputs(state, wire, p, gen_row)
    return state.begin()


cdef int _fill_inputs(_State state, wire, dict p, uint64_t gen_row) except -1:
    """Point state.gi at prepared generation p (kept alive in gi_keep)."""
    cdef GenIn* gi = &state.gi
    cdef const int64_t[::1] order = p["order"]
    cdef const int64_t[::1] bounds = p["bounds"]
    cdef const int64_t[::1] m_ids = p["m_ids"]
    cdef const int64_t[::1] cpu_time = p["cpu_time"]
    cdef const int64_t[::1] cpu_m = p["cpu_m"]
    cdef const int64_t[::1] cpu_p = p["cpu_p"]
    cdef const int64_t[::1] cpu_g = p["cpu_g"]
    cdef const uint32_t[::1] cpu_stack = p["cpu_stack"]
    cdef const uint8_t[::1] buf = wire.buffer
    cdef IdTable smap = p["string_map"]
    cdef IdTable kmap = p["stack_map"]
    memset(gi, 0, sizeof(GenIn))
    gi.gen = p["gen"]
    gi.gen_row = gen_row
    gi.ns_per_tick = ns_per_tick_of(p["freq"])
    set_tick_fast(gi)
    gi.sync_time = tick_ns(gi.ns_per_tick, p["min_time"])
    gi.batches = <const BatchRec*>_table_ptr(wire.batches, sizeof(BatchRec))
    gi.buf = &buf[0] if buf.shape[0] else NULL
    gi.buf_len = buf.shape[0]
    gi.order = &order[0] if order.shape[0] else NULL
    gi.m_bounds = &bounds[0]
    gi.m_ids = &m_ids[0] if m_ids.shape[0] else NULL
    gi.nm = m_ids.shape[0]
    gi.strings = &smap.m
    gi.stacks = &kmap.m
    gi.ncpu = cpu_time.shape[0]
    gi.cpu_time = &cpu_time[0] if gi.ncpu else NULL
    gi.cpu_m = &cpu_m[0] if gi.ncpu else NULL
    gi.cpu_p = &cpu_p[0] if gi.ncpu else NULL
    gi.cpu_g = &cpu_g[0] if gi.ncpu else NULL
    gi.cpu_stack = &cpu_stack[0] if gi.ncpu else NULL
    state.gi_keep = (wire, p)
    return 0


def count_generation(_State scratch, wire, dict p):
    """At most how many rows ordering prepared generation p gives (-1 if
    an event is malformed).  Fills ``scratch``'s inputs; begins nothing."""
    cdef int64_t n
    _fill_inputs(scratch, wire, p, 0)
    with nogil:
        n = count_rows(&scratch.gi)
    scratch.gi_keep = None
    return n


def prepare(wire, _State state):
    """The prepared inputs of each generation of ``wire`` (as order_chunks
    would make them, in the same order, so string and stack rows agree)."""
    return {i: _prepare_generation(wire, i, state.tables) for i in range(len(wire.generations))
            if wire.version < 26 or wire.generations[i]["ended"]}


def new_fresh_state(_State real, Py_ssize_t base):
    """A state for ordering a generation from nothing (read(workers=2)),
    writing its rows straight into ``real``'s table from row ``base`` on
    (room reserved beforehand); merge it with ``real.merge_fresh``."""
    cdef _State f = _State(real.o.version)
    if base > real.o.out.cap:
        raise ValueError("no room reserved for a fresh run")
    f.tables = real.tables
    f.o.fresh = True
    f.o.deps.size = sizeof(DepRec)
    f.o.out.data = real.o.out.data + base * sizeof(TraceEventRec)
    f.o.out.cap = real.o.out.cap - base
    f.o.out.n = 0
    f.o.out.fixed = True
    f.o.out.mapped = False
    return f


def new_state(int version):
    """Scheduler state to carry from one call of order_trace to the next."""
    return _State(version)


def order_trace(wire, _State state=None, bint final=True, bint take=True, dict prepared=None):
    """Order a decoded WireTrace.  Returns the tables of fastrace.Trace.

    To order a trace piece by piece (fastrace.iter_generations), pass the
    same ``state`` (from new_state) for consecutive pieces, and
    ``final=False`` for all but the last: the final Sync event is added
    only at the end.  With ``take=False`` the rows stay in ``state`` (to be
    collected by ``finish(state)`` after the last piece) and None is
    returned: fastrace.read orders a trace generation by generation this
    way, so that only one generation's wire tables exist at a time.

    On an inconsistent trace raises TraceOrderError (or TraceFormatError
    for broken per-generation tables).  With ``take`` its ``partial``
    attribute holds the tables of every event ordered before the problem;
    otherwise those rows stay in ``state`` for the caller to collect with
    ``finish(state)`` (read(workers=N) does so only once no other thread
    writes into the table).

    ``prepared``: the inputs of each generation from prepare(), if made.
    """
    if state is None:
        state = _State(wire.version)
    try:
        for _ in order_chunks(wire, state, final=final, max_rows=0, prepared=prepared):
            pass
    except (TraceOrderError, TraceFormatError) as e:
        if take:
            e.partial = finish(state)
        raise
    return finish(state) if take else None


def order_chunks(wire, _State state, bint final=True, int64_t max_rows=0, dict prepared=None):
    """Order a decoded WireTrace, pausing whenever ``max_rows`` rows are
    waiting in ``state`` (0 = only at the end of each generation).

    A generator: it yields None each time the rows in ``state`` form a
    piece (at most max_rows rows, all of one generation; take them with
    ``finish(state)``), and at the end of every generation.  With
    ``final`` the trace's closing Sync is added before the last yield.
    Errors as for order_trace; the rows before the problem stay in
    ``state`` (``finish(state)`` collects them once no thread writes there).
    """
    cdef int st
    tables = state.tables
    gens = state.gens
    exp_rows = state.exp_rows
    gens_rec = wire.generations
    if max_rows:
        max_rows = max(max_rows, 16)
    # A trailing generation without events is not ordered (Go ignores it).
    todo = [i for i in range(len(gens_rec))
            if wire.version < 26 or gens_rec[i]["ended"]]
    last = todo[len(todo) - 1] if todo else -1   # (no negative indexes: wraparound is off)
    for gi in todo:
        rec = gens_rec[gi]
        try:
            p = prepared[gi] if prepared is not None else _prepare_generation(wire, gi, tables)
        except TraceFormatError:
            # Go's reader ends the events it could read with a Sync
            # before it reports a generation it cannot load.
            state.final_sync()
            raise
        freq = p["freq"]
        exp_start = len(exp_rows)
        for eb in p["exp_batches"].tolist():
            off, ln, bidx, exp = eb
            exp_rows.append((int(np.int64(np.uint64(wire.batches["m"][bidx]).view(np.int64))),
                             off, ln, state.gen_base + len(gens), exp))
        has_clock = bool(rec["has_clock"])
        clock_trace = int(ticks_to_ns(np.array([rec["clock_time"]], np.uint64), freq)[0]) \
            if has_clock else 0
        sync_row = state.taken + state.o.out.n  # row in the whole trace
        gens.append((int(rec["gen"]), sync_row, clock_trace, int(rec["clock_mono"]),
                     int(np.uint64(rec["clock_sec"]).view(np.int64)),
                     int(np.uint64(rec["clock_nsec"]).view(np.int64)), freq,
                     exp_start, len(exp_rows) - exp_start, int(has_clock)))
        n_gen = int(rec["gen"])
        if max_rows:
            state.start_piece(max_rows)
        st = _begin_generation(state, wire, p, state.gen_base + len(gens) - 1)
        while st == ST_OK:
            st = state.step(max_rows)
            if st != ST_PAUSED:
                break
            yield None
            state.start_piece(max_rows)   # the next piece of this generation
            st = ST_OK
        state.gi_keep = None
        if st == ST_FORMAT:
            if len(gens) and gens[len(gens) - 1][1] == state.taken + state.o.out.n:
                # No Sync was emitted for this generation (its first
                # events are read before): it is not in the tables.
                gens.pop()
                del exp_rows[exp_start:]
            raise state.format_error(wire, n_gen)
        if st:
            msg, m, batch, event = state.error()
            raise _order_error(msg, wire, n_gen, m, batch, event)
        if final and gi == last:
            if max_rows and state.rows() + 1 > max_rows:
                yield None   # no room for the closing Sync in this piece
            end_trace(state)
        yield None
    if final and not todo:
        end_trace(state)
        yield None


def end_trace(_State state):
    """Add the Sync event that ends every trace Go's reader reads."""
    no_generation = state.o.version < 26 and state.o.syncs == 0
    state.final_sync()
    if no_generation:
        # Go's reader before 1.26 wants a generation: Sync, then this.
        raise TraceFormatError("no frequency event found")


def finish(_State state):
    """The tables of everything ordered into ``state`` so far (the event rows
    are handed over: a second call returns only rows added since)."""
    string_data, offsets, stacks, frames = state.tables.arrays()
    gens, exp_rows = state.gens, state.exp_rows
    g = np.zeros(len(gens), dtype=GENERATION_DTYPE)
    for i, r in enumerate(gens):
        (g[i]["gen"], g[i]["sync_row"], g[i]["clock_trace"], g[i]["clock_mono"],
         g[i]["clock_sec"], g[i]["clock_nsec"], g[i]["freq"], g[i]["exp_batch_start"],
         g[i]["exp_batch_count"], g[i]["has_clock"]) = r
    e = np.zeros(len(exp_rows), dtype=EXP_BATCH_DTYPE)
    for i, r in enumerate(exp_rows):
        e[i]["m"], e[i]["offset"], e[i]["length"], e[i]["generation"], e[i]["exp"] = r
    return {"events": state.take_events(), "threads": state.threads(),
            "string_data": string_data,
            "string_offsets": offsets, "stacks": stacks, "frames": frames,
            "generations": g, "exp_batches": e}
