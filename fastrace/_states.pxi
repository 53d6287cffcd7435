# Goroutine state intervals and the latency profiles of ``go tool trace
# -pprof=net|sync|syscall|sched`` (Go's cmd/trace/pprof.go), computed from
# the ordered event table in C.  Included by _analysis.pyx; record layouts in
# _analysis.pxd ("Goroutine state intervals and latency profiles"); the
# Python layer is fastrace.analysis.states and fastrace.analysis.pprof.
#
# Every C name here starts with ``st_``/``St`` and every Python name with
# ``states_``/``_st_``: the other concerns are compiled into the same module.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int8_t, int32_t, int64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcmp, memset

from fastrace._varint cimport Growable, adopt, grow_slot, release

import numpy as np

from fastrace._order import EVENT_DTYPE as _ST_EVENT_DTYPE
from fastrace._varint import _dtype_of as _st_dtype_of
from fastrace import spec as _st_spec


cdef GoStateIntervalRec _st_interval_proto

STATE_INTERVAL_DTYPE = _st_dtype_of(<GoStateIntervalRec[:1]>&_st_interval_proto)

# Which state-transition reasons a latency profile counts (cmd/trace's
# computePprofIO / Block / Syscall / Sched).
cpdef enum StReasonFilter:
    ST_REASON_ANY = 0         # syscall and sched: every transition into the state
    ST_REASON_NETWORK = 1     # net: reason == "network"
    ST_REASON_SYNC = 2        # sync: reason contains "chan", "sync" or "select"

# Status codes of the passes, turned into exceptions by _st_raise.
cdef enum StStatus:
    ST_OK = 0
    ST_NOMEM = 1
    ST_BAD_THREAD = 2         # an event's M row is outside Trace.threads
    ST_BAD_STACK = 3          # an event's stack row is outside Trace.stacks
    ST_BAD_STRING = 4         # a reason's string row is outside Trace.strings


# Goroutine transitions are the StateTransition rows whose wire type is not
# one of the P transitions (fastrace.spec.PROC_TYPES).
cdef uint8_t st_go_type[256]


def _st_init_go_types():
    cdef int t
    for t in range(256):
        st_go_type[t] = 0 if t in _st_spec.PROC_TYPES else 1


_st_init_go_types()


# ---------------------------------------------------------------------------
# Goroutine ids -> dense numbers 0, 1, 2... in order of first sight, for
# per-goroutine arrays.  Ids below ST_DENSE_MAX are looked up in a directly
# indexed table (the runtime hands them out from 1 up, in blocks of 16 per
# P, so they are dense); larger ones (nothing in the format promises small
# ids) in the package's hash map (HMap, fastrace/_hashmap.pxd).  2**22 ids:
# at most 16 MiB of int32.  On a 37 MB sched trace (6.7M transitions of 200,000
# goroutines) the direct table takes the sched profile's pass from 0.17 to
# 0.10 s of CPU.

from fastrace._hashmap cimport hmap_free, hmap_init, hmap_slot

cdef enum:
    ST_DENSE_MAX = 1 << 22



cdef int st_index_init(StIndex* x) noexcept nogil:
    x.dense = NULL
    x.dense_cap = 0
    x.n = 0
    hmap_init(&x.hashed)
    return 0


cdef void st_index_free(StIndex* x) noexcept nogil:
    free(x.dense)
    x.dense = NULL
    x.dense_cap = 0
    hmap_free(&x.hashed)


cdef int st_dense_grow(StIndex* x, uint64_t id) noexcept nogil:
    cdef Py_ssize_t cap = x.dense_cap if x.dense_cap else 1024
    cdef Py_ssize_t i
    cdef int32_t* d
    while <uint64_t>cap <= id:
        cap *= 2
    d = <int32_t*>realloc(x.dense, <size_t>cap * sizeof(int32_t))
    if d == NULL:
        return -1
    for i in range(x.dense_cap, cap):
        d[i] = -1
    x.dense = d
    x.dense_cap = cap
    return 0


cdef inline int64_t st_index(StIndex* x, uint64_t id) noexcept nogil:
    """The number of goroutine ``id``; x.n - 1 for a new one (the caller
    then appends its row to each per-goroutine array); -1 when out of
    memory."""
    cdef int64_t* slot
    if id < <uint64_t>x.dense_cap:
        if x.dense[id] >= 0:
            return x.dense[id]
    elif id < ST_DENSE_MAX:
        if st_dense_grow(x, id):
            return -1
    else:
        slot = hmap_slot(&x.hashed, id, -1)
        if slot == NULL:
            return -1
        if slot[0] >= 0:
            return slot[0]
        slot[0] = x.n
        x.n += 1
        return x.n - 1
    x.dense[id] = <int32_t>x.n
    x.n += 1
    return x.n - 1


# ---------------------------------------------------------------------------
# Goroutine state intervals.

cdef int st_states_pass(const TraceEventRec* ev, Py_ssize_t n, const int64_t* threads,
                        Py_ssize_t nthreads, Growable* out) noexcept nogil:
    """One row per stay of a goroutine in a state: a goroutine transition
    that changes the state closes the goroutine's open interval and opens
    the next (none for NotExist).  Transitions that keep the state (the
    status events at each generation's start) change nothing.  Intervals
    still open at the end are closed at the last event's time, as Go's
    trace viewer closes them (gState.finish)."""
    cdef StIndex index
    cdef Growable open_       # per goroutine number: row in out of its open interval, -1 = none
    cdef Py_ssize_t i
    cdef int64_t k
    cdef const TraceEventRec* e
    cdef int64_t* slot
    cdef GoStateIntervalRec* r
    cdef int status = ST_OK
    open_.data = NULL
    open_.n = 0
    open_.cap = 0
    open_.size = sizeof(int64_t)
    open_.mapped = False
    open_.fixed = False
    if st_index_init(&index):
        return ST_NOMEM
    for i in range(n):
        e = &ev[i]
        if e.kind != K_STATE_TRANSITION or not st_go_type[e.type] \
                or e.from_state == e.to_state:
            continue
        if e.m >= nthreads:
            status = ST_BAD_THREAD
            break
        k = st_index(&index, e.a[0])
        if k < 0:
            status = ST_NOMEM
            break
        if k == open_.n:
            slot = <int64_t*>grow_slot(&open_)
            if slot == NULL:
                status = ST_NOMEM
                break
            slot[0] = -1
        slot = (<int64_t*>open_.data) + k
        if slot[0] >= 0:
            r = (<GoStateIntervalRec*>out.data) + slot[0]
            r.end = e.time
            r.end_row = i
            slot[0] = -1
        if e.to_state < G_RUNNABLE or e.to_state > G_SYSCALL:
            continue
        r = <GoStateIntervalRec*>grow_slot(out)
        if r == NULL:
            status = ST_NOMEM
            break
        r.g = <int64_t>e.a[0]
        r.start = e.time
        r.end = 0
        r.start_row = i
        r.end_row = -1
        r.reason = <uint32_t>e.a[1]
        r.stack = e.stack
        r.transition_stack = <uint32_t>e.a[2]
        r.state = e.to_state
        r.prev_state = e.from_state
        r.pad0 = 0
        r.pad1 = 0
        if e.to_state == G_RUNNING:
            r.p = e.p
            r.m = threads[e.m]
        elif e.to_state == G_SYSCALL:
            r.p = -1
            r.m = threads[e.m]
        else:
            r.p = -1
            r.m = -1
        slot[0] = out.n - 1
    if status == ST_OK and n > 0:
        slot = <int64_t*>open_.data
        for i in range(open_.n):
            if slot[i] >= 0:
                (<GoStateIntervalRec*>out.data)[slot[i]].end = ev[n - 1].time
    release(&open_)
    st_index_free(&index)
    return status


# ---------------------------------------------------------------------------
# Latency profiles (cmd/trace/pprof.go, makeComputePprofFunc).

# Flags of a string row, computed on first use: which reasons it matches.
cdef enum:
    ST_STR_KNOWN = 1
    ST_STR_FOREVER = 2        # == "forever": Go's summary counts it as the goroutine's end
    ST_STR_NETWORK = 4        # == "network"
    ST_STR_SYNC = 8           # contains "chan", "sync" or "select"


cdef inline bint st_contains(const uint8_t* s, Py_ssize_t n, const char* word,
                             Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n - k + 1):
        if memcmp(s + i, word, <size_t>k) == 0:
            return True
    return False



cdef inline int st_string_flags(StStrings* s, uint64_t row) noexcept nogil:
    """ST_STR_* flags of string ``row``; -1 if there is no such row."""
    cdef const uint8_t* p
    cdef Py_ssize_t k
    cdef uint8_t f
    if row >= <uint64_t>s.nstrings:
        return -1
    f = s.flags[row]
    if f:
        return f
    p = s.data + s.offsets[row]
    k = <Py_ssize_t>(s.offsets[row + 1] - s.offsets[row])
    f = ST_STR_KNOWN
    if k == 7 and memcmp(p, b"forever", 7) == 0:
        f |= ST_STR_FOREVER
    if k == 7 and memcmp(p, b"network", 7) == 0:
        f |= ST_STR_NETWORK
    if st_contains(p, k, b"chan", 4) or st_contains(p, k, b"sync", 4) \
            or st_contains(p, k, b"select", 6):
        f |= ST_STR_SYNC
    s.flags[row] = f
    return f


cdef inline int64_t st_overlap(int64_t lo, int64_t hi, int64_t start, int64_t end) noexcept nogil:
    # Go's interval.overlap: 0 if disjoint, else the length of the common part.
    if hi < start or end < lo:
        return 0
    if lo < start:
        lo = start
    if hi > end:
        hi = end
    return hi - lo


# A latency profile in one pass, fed piece by piece (the whole table, or the
# pieces of iter_generations), in the state of an StLatency object.
#
# Go computes the profile in two passes: its summarizer first gives each
# goroutine a window [StartTime, EndTime] (pprofMatchingGoroutines), and
# every interval of the goroutine is clipped to the window in the end
# state.  One pass gets the same answer from what it knows when an
# interval ends, at time e:
#
# - A transition out of Undetermined or NotExist starts a new summary (a
#   new "life": lo = hi = 0).  Every interval of a life ends by that life's
#   end, so if the goroutine lives again, the intervals of the earlier
#   lives meet the final window only if that window starts at 0 (the last
#   life never ran).  Which is unknown until the end: an interval ending
#   before a new life of its goroutine makes the pass "ambiguous", and the
#   caller runs the second pass of Go's method with the windows the first
#   pass computed exactly (st_latency_fix_windows).  This happens only for goroutine ids
#   the runtime uses again: the goroutines of cgo callbacks on C threads.
# - Otherwise, if the goroutine has run in this life (lo != 0), lo is final
#   and the window's end is at or after e, so the interval's share is
#   e - max(lo, start), counted now.
# - If it has not run yet, the share is 0 if it runs later (the window
#   then starts at or after e) and the whole interval if it never does: the
#   interval waits in the goroutine's pending list, dropped when it runs,
#   counted at the end otherwise.
# - Go's window end can be before e only for a goroutine that left a
#   Waiting "forever" state, which the runtime never does: ambiguous too.


cdef inline StGoroutine* st_goroutine(StLatency* L, uint64_t id) noexcept nogil:
    """The state of goroutine ``id``, created if new; NULL when out of memory."""
    cdef int64_t k = st_index(&L.index, id)
    cdef StGoroutine* g
    if k < 0:
        return NULL
    if k < L.gs.n:
        return (<StGoroutine*>L.gs.data) + k
    g = <StGoroutine*>grow_slot(&L.gs)
    if g == NULL:
        return NULL
    g.lo = 0
    g.hi = 0
    g.track_start = 0
    g.pending = -1
    g.track_stack = 0
    g.tracking = 0
    g.seen = 0
    g.has_samples = 0
    g.pad0 = 0
    return g


cdef inline void st_drop_pending(StLatency* L, StGoroutine* g) noexcept nogil:
    cdef StPending* rows = <StPending*>L.pend.data
    cdef int64_t i = g.pending, nxt
    while i >= 0:
        nxt = rows[i].next
        rows[i].next = L.free_pend
        L.free_pend = i
        i = nxt
    g.pending = -1


cdef inline int st_push_pending(StLatency* L, StGoroutine* g, uint32_t stack,
                                int64_t delay) noexcept nogil:
    cdef StPending* r
    cdef int64_t i = L.free_pend
    if i >= 0:
        r = (<StPending*>L.pend.data) + i
        L.free_pend = r.next
    else:
        r = <StPending*>grow_slot(&L.pend)
        if r == NULL:
            return -1
        i = L.pend.n - 1
    r.delay = delay
    r.seq = L.seq
    r.stack = stack
    r.pad0 = 0
    r.next = g.pending
    g.pending = i
    return 0


cdef int st_latency_feed(StLatency* L, const TraceEventRec* ev, Py_ssize_t n, StStrings* strings,
                         int64_t* count, int64_t* total, int64_t* last,
                         Py_ssize_t nstacks) noexcept nogil:
    """Feed rows of the event table in order (see above; Go's
    makeComputePprofFunc for the tracking itself: a goroutine transition
    into the target state with an accepted reason starts tracking the
    goroutine at that event unless it is tracked already, the first later
    transition of it to another state ends the interval; every goroutine
    transition counts there, also those that keep the state)."""
    cdef Py_ssize_t i
    cdef const TraceEventRec* e
    cdef StGoroutine* g
    cdef int64_t ov, lo
    cdef int f
    for i in range(n):
        e = &ev[i]
        L.last_time = e.time
        if e.kind != K_STATE_TRANSITION or not st_go_type[e.type]:
            continue
        g = st_goroutine(L, e.a[0])
        if g == NULL:
            return ST_NOMEM
        if not L.fixed and e.from_state != e.to_state:
            # Go's summarizer (summary.go), for the goroutine's window.
            if e.from_state == G_UNDETERMINED or e.from_state == G_NOT_EXIST:
                if g.seen and (g.has_samples or g.tracking or g.pending >= 0):
                    L.ambiguous = 1
                st_drop_pending(L, g)
                g.lo = 0
                g.hi = 0
                g.seen = 1
            if e.to_state == G_RUNNING:
                if g.lo == 0:
                    g.lo = e.time
                    st_drop_pending(L, g)
            elif e.to_state == G_NOT_EXIST:
                g.hi = e.time
            elif e.to_state == G_WAITING:
                f = st_string_flags(strings, e.a[1])
                if f < 0:
                    return ST_BAD_STRING
                if f & ST_STR_FOREVER:
                    g.hi = e.time
        if not g.tracking:
            if e.to_state != L.target:
                continue
            if L.want:
                f = st_string_flags(strings, e.a[1])
                if f < 0:
                    return ST_BAD_STRING
                if not (f & L.want):
                    continue
            if e.stack >= nstacks:
                return ST_BAD_STACK
            g.tracking = 1
            g.track_start = e.time
            g.track_stack = e.stack
            continue
        if e.to_state == L.target:
            continue
        g.tracking = 0
        g.has_samples = 1
        L.seq += 1
        if L.fixed:
            # Second pass: the goroutine's final window (none: Go has no
            # summary for it, nothing counts).
            ov = st_overlap(g.lo, g.hi, g.track_start, e.time) if g.seen else 0
        elif not g.seen or (g.hi != 0 and g.hi < e.time):
            L.ambiguous = 1
            continue
        elif g.lo != 0:
            lo = g.lo if g.lo > g.track_start else g.track_start
            ov = e.time - lo
        else:
            if e.time > g.track_start:
                if st_push_pending(L, g, g.track_stack, e.time - g.track_start):
                    return ST_NOMEM
            continue
        if ov > 0:
            count[g.track_stack] += 1
            total[g.track_stack] += ov
            last[g.track_stack] = L.seq
    return ST_OK


cdef void st_latency_finish(StLatency* L, int64_t* count, int64_t* total,
                            int64_t* last) noexcept nogil:
    """Count the pending samples: their goroutines never ran in their last
    life, so Go's window starts at 0 and holds them whole."""
    cdef Py_ssize_t i
    cdef int64_t j
    cdef StGoroutine* g = <StGoroutine*>L.gs.data
    cdef StPending* p
    for i in range(L.gs.n):
        j = g[i].pending
        while j >= 0:
            p = (<StPending*>L.pend.data) + j
            count[p.stack] += 1
            total[p.stack] += p.delay
            if p.seq > last[p.stack]:
                last[p.stack] = p.seq
            j = p.next
        st_drop_pending(L, &g[i])


cdef void st_latency_fix_windows(StLatency* L) noexcept nogil:
    """Turn the first pass's state into the second pass's: each goroutine's
    window as Go's summarizer ends it (an end of 0 is the trace's end), no
    tracking, nothing pending, no samples."""
    cdef Py_ssize_t i
    cdef StGoroutine* g = <StGoroutine*>L.gs.data
    for i in range(L.gs.n):
        st_drop_pending(L, &g[i])
        if g[i].hi == 0:
            g[i].hi = L.last_time
        g[i].tracking = 0
        g[i].has_samples = 0
    L.fixed = 1
    L.seq = 0


cdef int st_cpu_pass(const TraceEventRec* ev, Py_ssize_t n, int64_t* count,
                     Py_ssize_t nstacks) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if ev[i].kind == K_STACK_SAMPLE:
            if ev[i].stack >= nstacks:
                return ST_BAD_STACK
            count[ev[i].stack] += 1
    return ST_OK


# ---------------------------------------------------------------------------
# Python entry points (used by fastrace.analysis.states / .pprof).

cdef TraceEventRec _st_empty_event   # a valid pointer for empty tables (never read)

cdef const TraceEventRec* _st_events(object events) except NULL:
    if not isinstance(events, np.ndarray) or events.dtype != _ST_EVENT_DTYPE \
            or events.ndim != 1 or not events.flags.c_contiguous:
        raise TypeError("expected Trace.events: a contiguous 1-d array of fastrace._order.EVENT_DTYPE")
    if len(events) == 0:
        return <const TraceEventRec*>&_st_empty_event
    return <const TraceEventRec*>cnp.PyArray_DATA(events)


def _st_raise(int status, str what):
    from fastrace.errors import TraceError

    if status == ST_NOMEM:
        raise MemoryError(f"out of memory computing {what}")
    detail = {ST_BAD_THREAD: "an event's thread row is outside the thread table",
              ST_BAD_STACK: "an event's stack row is outside the stack table",
              ST_BAD_STRING: "a transition's reason is outside the string table"}
    raise TraceError(f"{what}: {detail.get(status, f'status {status}')}")


def states_intervals(events, const int64_t[::1] threads):
    """Goroutine state intervals of ``events`` (Trace.events), as a numpy
    array of STATE_INTERVAL_DTYPE (see GoStateIntervalRec in _analysis.pxd),
    in the order the intervals begin."""
    cdef const TraceEventRec* ev = _st_events(events)
    cdef Py_ssize_t n = len(events)
    cdef Growable out
    cdef int status
    out.data = NULL
    out.n = 0
    out.cap = 0
    out.size = sizeof(GoStateIntervalRec)
    out.mapped = False
    out.fixed = False
    if threads.shape[0] == 0:
        raise ValueError("the thread table is empty (row 0 is always -1)")
    with nogil:
        status = st_states_pass(ev, n, &threads[0], threads.shape[0], &out)
    if status != ST_OK:
        release(&out)
        _st_raise(status, "goroutine state intervals")
    return adopt(&out, STATE_INTERVAL_DTYPE)


cdef class StatesLatency:
    """One latency profile computed from rows of the event table fed in
    order (``feed``: the whole table at once, or the pieces of
    ``iter_generations``), in one pass except for the goroutine ids Go's
    runtime uses again (see ``_states.pxi``): then ``ambiguous`` is true
    after the pass and the caller calls ``second_pass()`` and feeds the
    same rows again.  ``result()`` gives three int64 arrays, per stack row
    of Trace.stacks: contentions, delay in ns, order of the last sample
    (-1: none)."""

    cdef StLatency L
    cdef object count, total, last, flags
    cdef bint finished

    def __cinit__(self, int target, int reasons):
        if not 0 <= target < 256:
            raise ValueError(f"not a goroutine state: {target}")
        if reasons not in (ST_REASON_ANY, ST_REASON_NETWORK, ST_REASON_SYNC):
            raise ValueError(f"not a reason filter: {reasons}")
        memset(&self.L, 0, sizeof(StLatency))
        self.L.gs.size = sizeof(StGoroutine)
        self.L.pend.size = sizeof(StPending)
        self.L.free_pend = -1
        self.L.target = <uint8_t>target
        self.L.want = ST_STR_NETWORK if reasons == ST_REASON_NETWORK else \
            (ST_STR_SYNC if reasons == ST_REASON_SYNC else 0)
        if st_index_init(&self.L.index):
            raise MemoryError()
        self.count = np.zeros(0, dtype=np.int64)
        self.total = np.zeros(0, dtype=np.int64)
        self.last = np.zeros(0, dtype=np.int64)
        self.flags = np.zeros(0, dtype=np.uint8)

    def __dealloc__(self):
        st_index_free(&self.L.index)
        release(&self.L.gs)
        release(&self.L.pend)

    @property
    def ambiguous(self) -> bool:
        return bool(self.L.ambiguous)

    def _grow(self, Py_ssize_t nstacks, Py_ssize_t nstrings):
        # Stack and string rows only grow from piece to piece.
        cdef Py_ssize_t k = len(self.count)
        if nstacks > k:
            self.count = np.concatenate([self.count, np.zeros(nstacks - k, np.int64)])
            self.total = np.concatenate([self.total, np.zeros(nstacks - k, np.int64)])
            self.last = np.concatenate([self.last, np.full(nstacks - k, -1, np.int64)])
        k = len(self.flags)
        if nstrings > k:
            self.flags = np.concatenate([self.flags, np.zeros(nstrings - k, np.uint8)])

    def feed(self, events, const uint8_t[::1] string_data, const uint64_t[::1] string_offsets,
             Py_ssize_t nstacks):
        """Feed the next rows (``events``; the string and stack tables as
        they are at those rows)."""
        cdef const TraceEventRec* ev = _st_events(events)
        cdef Py_ssize_t n = len(events)
        cdef StStrings strings
        cdef int status
        if self.finished:
            raise ValueError("the profile is finished")
        if string_offsets.shape[0] == 0 or nstacks < 1:
            raise ValueError("empty string or stack table (row 0 is always there)")
        if string_offsets[string_offsets.shape[0] - 1] > <uint64_t>string_data.shape[0]:
            raise ValueError("string offsets run past the string data")
        self._grow(nstacks, string_offsets.shape[0] - 1)
        strings.data = &string_data[0] if string_data.shape[0] else NULL
        strings.offsets = &string_offsets[0]
        strings.nstrings = string_offsets.shape[0] - 1
        strings.flags = <uint8_t*>cnp.PyArray_DATA(self.flags)
        cdef int64_t* count = <int64_t*>cnp.PyArray_DATA(self.count)
        cdef int64_t* total = <int64_t*>cnp.PyArray_DATA(self.total)
        cdef int64_t* last = <int64_t*>cnp.PyArray_DATA(self.last)
        with nogil:
            status = st_latency_feed(&self.L, ev, n, &strings, count, total, last, nstacks)
        if status != ST_OK:
            _st_raise(status, "latency profile")

    def second_pass(self):
        """Start Go's second pass, with the goroutine windows the first one
        found: feed the same rows again."""
        if self.finished or self.L.fixed:
            raise ValueError("second_pass() comes once, after the first pass")
        st_latency_fix_windows(&self.L)
        self.count[:] = 0
        self.total[:] = 0
        self.last[:] = -1

    def result(self):
        """(contentions, delay ns, order of the last sample) per stack row."""
        if not self.finished:
            if not self.L.fixed:
                st_latency_finish(&self.L, <int64_t*>cnp.PyArray_DATA(self.count),
                                  <int64_t*>cnp.PyArray_DATA(self.total),
                                  <int64_t*>cnp.PyArray_DATA(self.last))
            self.finished = True
        return self.count, self.total, self.last


def states_cpu_samples(events, Py_ssize_t nstacks):
    """Number of CPU samples (StackSample events) per stack row of
    Trace.stacks: an int64 array of ``nstacks`` entries."""
    cdef const TraceEventRec* ev = _st_events(events)
    cdef Py_ssize_t n = len(events)
    cdef int status
    cdef cnp.ndarray count = np.zeros(max(nstacks, 0), dtype=np.int64)
    with nogil:
        status = st_cpu_pass(ev, n, <int64_t*>cnp.PyArray_DATA(count), nstacks)
    if status != ST_OK:
        _st_raise(status, "CPU profile")
    return count
