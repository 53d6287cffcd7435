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
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport int8_t, uint8_t, uint16_t, uint32_t, uint64_t, int64_t, int32_t
from libc.string cimport memset, memcpy, memmove
from libc.stdio cimport snprintf

cimport numpy as cnp
import numpy as np

from fastrace._varint cimport (BatchRec, Cursor, EventTypes, EVF_DEFINED, EVF_TIMED, Growable,
                               Recycler, adopt, fill_event_types, grow_push, grow_slot, grow_to,
                               madvise, prefetch, read_uvarint, release, WIRE_OK,
                               WIRE_BAD_EVENT_TYPE, WIRE_UNTIMED_IN_BATCH)
from fastrace import spec as _spec
from fastrace import kinds as _kinds
from fastrace._varint import _dtype_of
from fastrace.errors import TraceFormatError, TraceOrderError
from fastrace.prepare import (ExpBatchRow, GenerationRow, Tables, exp_batch_table,
                              generation_table, order_error, prepare_generation)

cnp.import_array()

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
    /* A load of one field on its own: gcc may otherwise read two adjacent
       fields with one 16-byte load, which stalls when they were just
       written by separate 8-byte stores (the CPU cannot forward them). */
    static inline int64_t fr_load_alone(int64_t* p) { return *(volatile int64_t*)p; }
    """
    int MADV_POPULATE_WRITE
    Py_ssize_t fr_load_ssize(Py_ssize_t* p) nogil
    int fr_load_int(int* p) nogil
    void fr_store_int(int* p, int v) nogil
    int64_t fr_load_alone(int64_t* p) nogil

cdef extern from "stdio.h":
    # %lld etc. need these casts on every platform we build for
    ctypedef long long ll_t "long long"
    ctypedef unsigned long long ull_t "unsigned long long"


# ---------------------------------------------------------------------------
# Constants (Go's numbering).  The enums every stage shares (statuses,
# states, kinds, wire types) are in _order.pxd.

cdef enum:
    NONE = -1

cdef enum GCStateC:
    GC_UNDETERMINED = 0
    GC_NOT_RUNNING = 1
    GC_RUNNING = 2

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
cdef uint8_t HAS_IDS[256]            # 1 where STACK_POS or STRING_POS names an argument
cdef uint8_t EXP_STRING_MASK[256]   # experimental events: args whose name ends in "string"
cdef EventTypes EVT                  # arguments, flags, versions, rows (_varint.pxd)
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
        if s is None or s.code != code or s.kind == K_BAD:
            raise RuntimeError(f"fastrace._order handles event type {name} ({code}), which "
                               "fastrace.spec does not define as an event type with that "
                               "code that makes rows")
    # The rows _rows.pxi writes out for these types read their ids where
    # these say (push_start_row, push_own_stack_row).
    written_out = {"GoStart": (0, 0), "GoUnblock": (1, 0), "GoStop": (1, 1), "GoBlock": (1, 1)}
    for name, (nstacks, nstrings) in written_out.items():
        s = by_name.get(name)
        if s is None or len(s.stacks) != nstacks or len(s.strings) != nstrings \
                or s.transition is None:
            raise RuntimeError(f"fastrace._order writes the rows of {name} itself, for a "
                               f"transition with {nstacks} stack and {nstrings} string "
                               "ids; fastrace.spec now says otherwise")
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
    memset(HAS_IDS, 0, sizeof(HAS_IDS))
    memset(EXP_STRING_MASK, 0, sizeof(EXP_STRING_MASK))
    memset(EV_NAME, 0, sizeof(EV_NAME))
    fill_event_types(&EVT)
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
        if s.timed:
            for j, pos in enumerate(s.stacks[:2]):
                STACK_POS[s.code][j] = pos - 1
            for j, pos in enumerate(s.strings[:2]):
                STRING_POS[s.code][j] = pos - 1
            HAS_IDS[s.code] = bool(s.stacks[:2] or s.strings[:2])


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
# The engine, one concern a file.

include "_idmap.pxi"
include "_sched.pxi"
include "_rows.pxi"
include "_handlers.pxi"
include "_frontier.pxi"
include "_gosort.pxi"
include "_fresh.pxi"


# ---------------------------------------------------------------------------
# Python driver.

cdef class _State:
    cdef OrderState o
    # Strings, frames and stacks seen so far.  They persist across pieces
    # (iter_generations) because the scheduler state refers to them (task
    # and region names), and so that rows are numbered as by read().
    cdef public object tables
    cdef public list gens         # generation rows so far (prepare.GenerationRow)
    cdef public list exp_rows     # experimental batch rows so far (prepare.ExpBatchRow)
    cdef public int64_t taken     # event rows handed out by earlier pieces
    cdef public int64_t gen_base  # fresh runs: generation rows before this state's first
    # The generation being ordered: its C inputs, and the Python objects
    # (wire tables, prepared arrays) they point into.
    cdef GenIn gi
    cdef object gi_keep
    cdef Recycler recycler        # pieces of iter_generations: the last piece's memory

    def __cinit__(self, int version):
        cdef int t
        memset(&self.o, 0, sizeof(OrderState))
        self.o.version = version
        for t in range(256):
            self.o.batch_type[t] = ((EVT.flags[t] & EVF_DEFINED) and EVT.since[t] <= version
                                    and (EVT.flags[t] & EVF_TIMED)) != 0
        self.o.out.size = sizeof(TraceEventRec)
        self.o.gpool.size = sizeof(ResourceState)
        self.o.ppool.size = sizeof(ResourceState)
        self.o.mpool.size = sizeof(MState)
        self.o.tpool.size = sizeof(TaskState)
        self.o.gpool.free = -1
        self.o.ppool.free = -1
        self.o.mpool.free = -1
        self.o.tpool.free = -1
        self.tables = Tables()
        self.gens = []
        self.exp_rows = []

    def __dealloc__(self):
        cdef Py_ssize_t i
        # Released slots had their lists freed (pointers NULL) before release.
        for i in range(self.o.gpool.n):
            free_res_lists(g_state(&self.o, i))
        for i in range(self.o.ppool.n):
            free_res_lists(p_state(&self.o, i))
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
                st = merge_fresh(&self.o, &fresh.o, &pops, self.o.out.n, n)
        map_free(&pops)
        fresh.detach()
        if st == ST_NOMEM:
            raise MemoryError()
        return ok

    def take_fresh(self, _State fresh):
        """Check fresh run ``fresh``, ordered into a table of its own (see
        new_fresh_state) just after this state's last generation, and if it
        holds, fold it in: its table becomes this state's, patched to what
        ordering in sequence writes.  No rows may be waiting here (the
        streaming iter_generations takes every piece first).  Returns
        whether it did; if not, the generation must be ordered again, in
        sequence (nothing here has changed)."""
        cdef IdMap pops
        cdef bint ok
        cdef int st = ST_OK
        cdef Py_ssize_t n = fresh.o.out.n
        cdef Growable mine
        if self.o.out.n != 0 or fresh.o.out.fixed or not fresh.o.fresh:
            raise ValueError("take_fresh: rows waiting here, or not a fresh run of its own")
        memset(&pops, 0, sizeof(IdMap))
        with nogil:
            ok = check_fresh(&self.o, &fresh.o, &pops)
            if ok:
                # Swap tables: this state's (empty) memory goes with the run.
                mine = self.o.out
                self.o.out = fresh.o.out
                fresh.o.out = mine
                st = merge_fresh(&self.o, &fresh.o, &pops, 0, n)
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

    def take_events(self, bint recycle=True):
        """The rows waiting here, handed over to numpy; with ``recycle``
        their memory comes back (start_piece) once numpy is done with it."""
        if self.o.out.fixed:
            # A fresh run's rows are not its own (they go by merge_fresh).
            return np.zeros(0, dtype=EVENT_DTYPE)
        self.taken += self.o.out.n
        return adopt(&self.o.out, EVENT_DTYPE, self.recycler if recycle else None)

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
            v[i + 1] = m_state(&self.o, i).id
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


cdef const void* _table_ptr(cnp.ndarray arr, size_t itemsize) except? NULL:
    # Tables handed back from Python: check what the C code will assume.
    if arr.ndim != 1 or not arr.flags.c_contiguous or arr.dtype.itemsize != itemsize:
        raise TypeError("wire table has an unexpected layout")
    return cnp.PyArray_DATA(arr)


cdef int _begin_generation(_State state, wire, p, uint64_t gen_row) except -1:
    _fill_inputs(state, wire, p, gen_row)
    return state.begin()


cdef int _fill_inputs(_State state, wire, p, uint64_t gen_row) except -1:
    """Point state.gi at prepared generation p (kept alive in gi_keep)."""
    cdef GenIn* gi = &state.gi
    cdef const int64_t[::1] order = p.order
    cdef const int64_t[::1] bounds = p.bounds
    cdef const int64_t[::1] m_ids = p.m_ids
    cdef const int64_t[::1] cpu_time = p.cpu_time
    cdef const int64_t[::1] cpu_m = p.cpu_m
    cdef const int64_t[::1] cpu_p = p.cpu_p
    cdef const int64_t[::1] cpu_g = p.cpu_g
    cdef const uint64_t[::1] cpu_stack_id = p.cpu_stack_id
    cdef const uint8_t[::1] buf = wire.buffer
    cdef IdTable smap = p.string_map
    cdef IdTable kmap = p.stack_map
    memset(gi, 0, sizeof(GenIn))
    gi.gen = p.gen
    gi.gen_row = gen_row
    gi.ns_per_tick = ns_per_tick_of(p.freq)
    set_tick_fast(gi)
    gi.sync_time = tick_ns(gi.ns_per_tick, p.min_time)
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
    gi.cpu_stack_id = &cpu_stack_id[0] if gi.ncpu else NULL
    state.gi_keep = (wire, p)
    return 0


def count_generation(_State scratch, wire, p):
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
    return {i: prepare_generation(wire, i, state.tables) for i in range(len(wire.generations))
            if wire.version < 26 or wire.generations[i]["ended"]}


def new_fresh_state(_State real, Py_ssize_t base=-1):
    """A state for ordering a generation from nothing.  read(workers=2)
    gives ``base``: the run writes its rows straight into ``real``'s table
    from row ``base`` on (room reserved beforehand), and is merged with
    ``real.merge_fresh``.  Without it (iter_generations(workers=2)) the run
    fills a table of its own, taken over by ``real.take_fresh``."""
    cdef _State f = _State(real.o.version)
    f.tables = real.tables
    f.o.fresh = True
    f.o.deps.size = sizeof(DepRec)
    if base < 0:
        return f
    if base > real.o.out.cap:
        raise ValueError("no room reserved for a fresh run")
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
            p = prepared[gi] if prepared is not None else prepare_generation(wire, gi, tables)
        except TraceFormatError:
            # Go's reader ends the events it could read with a Sync
            # before it reports a generation it cannot load.
            state.final_sync()
            raise
        freq = p.freq
        exp_start = len(exp_rows)
        for eb in p.exp_batches.tolist():
            off, ln, bidx, exp = eb
            exp_rows.append(ExpBatchRow(
                m=int(np.uint64(wire.batches["m"][bidx]).view(np.int64)), offset=off,
                length=ln, generation=state.gen_base + len(gens), exp=exp))
        has_clock = bool(rec["has_clock"])
        clock_trace = int(ticks_to_ns(np.array([rec["clock_time"]], np.uint64), freq)[0]) \
            if has_clock else 0
        sync_row = state.taken + state.o.out.n  # row in the whole trace
        gens.append(GenerationRow(
            gen=int(rec["gen"]), sync_row=sync_row, clock_trace=clock_trace,
            clock_mono=int(rec["clock_mono"]),
            clock_sec=int(np.uint64(rec["clock_sec"]).view(np.int64)),
            clock_nsec=int(np.uint64(rec["clock_nsec"]).view(np.int64)), freq=freq,
            exp_batch_start=exp_start, exp_batch_count=len(exp_rows) - exp_start,
            has_clock=int(has_clock)))
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
            if len(gens) and gens[len(gens) - 1].sync_row == state.taken + state.o.out.n:
                # No Sync was emitted for this generation (its first
                # events are read before): it is not in the tables.
                gens.pop()
                del exp_rows[exp_start:]
            raise state.format_error(wire, n_gen)
        if st:
            msg, m, batch, event = state.error()
            raise order_error(msg, wire, n_gen, m, batch, event)
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


def finish(_State state, bint recycle=True, mark=None):
    """The tables of everything ordered into ``state`` so far (the event rows
    are handed over: a second call returns only rows added since).  A whole
    generation taken at once is not recycled (``recycle=False``): keeping
    its memory for the small pieces that follow would only hold it.
    ``mark``: the string and stack tables as they were at that mark."""
    string_data, offsets, stacks, frames = state.tables.arrays(mark)
    g = generation_table(state.gens, GENERATION_DTYPE)
    e = exp_batch_table(state.exp_rows, EXP_BATCH_DTYPE)
    return {"events": state.take_events(recycle), "threads": state.threads(),
            "string_data": string_data,
            "string_offsets": offsets, "stacks": stacks, "frames": frames,
            "generations": g, "exp_batches": e}
