# Goroutine state intervals and the latency profiles of ``go tool trace
# -pprof=net|sync|syscall|sched`` (Go's cmd/trace/pprof.go), computed from
# the ordered event table in C.  Included by _analysis.pyx; record layouts in
# _analysis.pxd ("Goroutine state intervals and latency profiles"); the
# Python layer is fastrace.analysis.states and fastrace.analysis.pprof.
#
# Every C name here starts with ``st_``/``St`` and every Python name with
# ``states_``/``_st_``: the other concerns are compiled into the same module.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int8_t, int32_t, int64_t
from libc.stdlib cimport calloc, free, realloc
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
# the per-goroutine arrays of the state intervals' pass.  Ids below
# ST_DENSE_MAX are looked up in a directly indexed table (the runtime hands
# them out from 1 up, in blocks of 16 per P, so they are dense); larger ones
# (nothing in the format promises small ids) in the package's hash map
# (HMap, fastrace/_hashmap.pxd).  2**22 ids: at most 16 MiB of int32.  (The
# latency profiles address their records by id directly: see StLat.)

from fastrace._hashmap cimport hmap_del, hmap_free, hmap_init, hmap_next, hmap_slot, hmap_value




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
# pieces of iter_generations), in the state of an StLat.
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


# The goroutines' state lives in records addressed by goroutine id: ids
# below ST_DENSE_MAX in one array indexed by id, the others in rows found
# through a hash map.  The array is address space reserved at once
# (ST_DENSE_MAX records, 128 MiB) whose pages the kernel backs, with zeros,
# only where records are written: a trace's ids count up from 1, so it costs
# about its number of goroutines, and a few ids far apart cost a page each.
# A transition finds its record with one comparison and one address
# computation, where an index (id -> number) and a table by number took
# two reads far apart; a record holds what the common transitions read and
# write in 32 bytes, two per cache line (the samples still pending, rare,
# are kept apart in a map).  On the 68 MB sched trace (200,000 goroutines)
# the records take 6.4 MB where the index and 40-byte rows took 8.8 MB.

from fastrace._varint cimport (MAP_ANONYMOUS, MAP_FAILED, MAP_NORESERVE, MAP_PRIVATE,
                               PROT_READ, PROT_WRITE, mmap, munmap)

# The passes read every row of a piece that the ordering thread wrote a
# moment ago (on another core), and the hardware's prefetching does not
# keep up: rows this far ahead are asked for by hand.  In the pipeline of
# `fastrace pprof sched` on the 68 MB trace this took the feed from about
# 125 to 105 ms of CPU (16 rows ahead: 115 ms; 64: as 32; a noisy 2-core VM,
# a few runs each).
cdef enum:
    ST_PREFETCH_ROWS = 32

# StG and StLat, the latency profile's records, are in _analysis.pxd.

if sizeof(StG) != 32:
    raise ImportError(f"fastrace._analysis: StG is {sizeof(StG)} bytes, not 32 (two per cache line)")


cdef void st_lat_reserve(StLat* L) noexcept nogil:
    """Reserve the dense records (once).  Where the address space is not
    to be had (a limit on it), every goroutine goes to the hash map:
    slower, the same answers."""
    cdef void* p
    if L.reserved:
        return
    L.reserved = 1
    p = mmap(NULL, <size_t>ST_DENSE_MAX * sizeof(StG), PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    if p != MAP_FAILED:
        L.dense = <StG*>p


cdef StG* st_g_big(StLat* L, uint64_t id) noexcept nogil:
    """The record of goroutine ``id`` outside L.dense, made if new; NULL
    when out of memory.  Valid until the next new one."""
    cdef int64_t* slot = hmap_slot(&L.big_ids, id, -1)
    cdef StG* g
    if slot == NULL:
        return NULL
    if slot[0] < 0:
        g = <StG*>grow_slot(&L.big)
        if g == NULL:
            hmap_del(&L.big_ids, id)
            return NULL
        memset(g, 0, sizeof(StG))
        slot[0] = L.big.n - 1
    return (<StG*>L.big.data) + slot[0]


cdef void st_lat_free(StLat* L) noexcept nogil:
    if L.dense != NULL:
        munmap(L.dense, <size_t>ST_DENSE_MAX * sizeof(StG))
        L.dense = NULL
    hmap_free(&L.big_ids)
    release(&L.big)
    hmap_free(&L.pending)
    release(&L.pend)


cdef void st_drop_pending(StLat* L, StG* g, uint64_t id) noexcept nogil:
    """Forget goroutine ``id``'s pending samples (their rows become free)."""
    cdef StPending* rows = <StPending*>L.pend.data
    cdef int64_t i, nxt
    if not (g.flags & STG_PENDING):
        return
    i = hmap_value(&L.pending, id, -1)
    hmap_del(&L.pending, id)
    g.flags &= ~STG_PENDING
    while i >= 0:
        nxt = rows[i].next
        rows[i].next = L.free_pend
        L.free_pend = i
        i = nxt


cdef int st_push_pending(StLat* L, StG* g, uint64_t id, int64_t delay) noexcept nogil:
    """A sample of goroutine ``id`` (its tracked interval, ``delay`` ns)
    waits for the goroutine's first run; -1 when out of memory."""
    cdef StPending* r
    cdef int64_t i
    cdef int64_t* head = hmap_slot(&L.pending, id, -1)
    if head == NULL:
        return -1
    i = L.free_pend
    if i >= 0:
        r = (<StPending*>L.pend.data) + i
        L.free_pend = r.next
    else:
        r = <StPending*>grow_slot(&L.pend)
        if r == NULL:
            if head[0] < 0:
                hmap_del(&L.pending, id)
            return -1
        i = L.pend.n - 1
    r.delay = delay
    r.seq = L.seq
    r.stack = g.track_stack
    r.pad0 = 0
    r.next = head[0]
    head[0] = i
    g.flags |= STG_PENDING
    return 0


cdef void st_flag_strings(StStrings* s, Py_ssize_t start) noexcept nogil:
    """Compute the flags of string rows ``start`` on (the pass then only
    reads them)."""
    cdef Py_ssize_t r
    for r in range(start, s.nstrings):
        if s.flags[r] == 0:
            st_string_flags(s, r)


# The pass of st_latency_feed as one C function per pass (first, second)
# and per way to the goroutine records (the dense ones, or the hash map
# alone when they could not be reserved): Cython makes one per combination
# of these fused types, so that none tests which it is at every event.
cdef struct StFirstPass:
    uint8_t unused
cdef struct StSecondPass:
    uint8_t unused
ctypedef fused st_pass_t:
    StFirstPass
    StSecondPass

cdef struct StDenseIds:
    uint8_t unused
cdef struct StHashedIds:
    uint8_t unused
ctypedef fused st_ids_t:
    StDenseIds
    StHashedIds


cdef int st_latency_run(StLat* L, const TraceEventRec* ev, Py_ssize_t n,
                        const StStrings* strings, int64_t* count, int64_t* total,
                        int64_t* last, Py_ssize_t nstacks, st_pass_t* which,
                        st_ids_t* ids) noexcept nogil:
    cdef Py_ssize_t i
    cdef const TraceEventRec* e
    cdef StG* g
    cdef StG* dense = L.dense
    cdef uint8_t* blocks = L.dense_blocks
    cdef const uint8_t* sflags = strings.flags
    cdef uint64_t nstrings = <uint64_t>strings.nstrings
    cdef int64_t ov, lo, t
    cdef int64_t seq = L.seq
    cdef uint64_t id
    cdef uint32_t stack
    cdef uint8_t to, fr, gf, target = L.target, want = L.want
    cdef int status = ST_OK
    for i in range(n):
        e = &ev[i]
        prefetch(e + ST_PREFETCH_ROWS)
        if e.kind != K_STATE_TRANSITION or not st_go_type[e.type]:
            continue
        id = e.a[0]
        t = e.time
        to = e.to_state
        fr = e.from_state
        if st_ids_t is StDenseIds and id < ST_DENSE_MAX:
            g = dense + id
        else:
            g = st_g_big(L, id)
            if g == NULL:
                status = ST_NOMEM
                break
        if st_pass_t is StFirstPass:
            if fr != to:
                # Go's summarizer (summary.go), for the goroutine's window.
                if fr == G_UNDETERMINED or fr == G_NOT_EXIST:
                    if (g.flags & STG_SEEN) and \
                            (g.flags & (STG_HAS_SAMPLES | STG_TRACKING | STG_PENDING)):
                        L.ambiguous = 1
                    if st_ids_t is StDenseIds and g.flags == 0 and id < ST_DENSE_MAX:
                        # A record's first flag: its block is in use.
                        blocks[id >> (ST_BLOCK_BITS + 3)] |= 1 << ((id >> ST_BLOCK_BITS) & 7)
                    st_drop_pending(L, g, id)
                    g.lo = 0
                    g.hi = 0
                    g.flags |= STG_SEEN
                if to == G_RUNNING:
                    if g.lo == 0:
                        g.lo = t
                        st_drop_pending(L, g, id)
                elif to == G_WAITING:
                    if e.a[1] >= nstrings:
                        status = ST_BAD_STRING
                        break
                    if sflags[e.a[1]] & ST_STR_FOREVER:
                        g.hi = t
                elif to == G_NOT_EXIST:
                    g.hi = t
        gf = g.flags
        if not (gf & STG_TRACKING):
            if to != target:
                continue
            if want:
                if e.a[1] >= nstrings:
                    status = ST_BAD_STRING
                    break
                if not (sflags[e.a[1]] & want):
                    continue
            stack = e.stack
            if stack >= nstacks:
                status = ST_BAD_STACK
                break
            g.flags = gf | STG_TRACKING
            g.track_start = t
            g.track_stack = stack
            if st_ids_t is StDenseIds and gf == 0 and id < ST_DENSE_MAX:
                blocks[id >> (ST_BLOCK_BITS + 3)] |= 1 << ((id >> ST_BLOCK_BITS) & 7)
            continue
        if to == target:
            continue
        g.flags = (gf & ~STG_TRACKING) | STG_HAS_SAMPLES
        seq += 1
        if st_pass_t is StSecondPass:
            # The goroutine's final window (none: Go has no summary for it,
            # nothing counts).
            ov = st_overlap(g.lo, g.hi, g.track_start, t) if gf & STG_SEEN else 0
        else:
            if not (gf & STG_SEEN) or (g.hi != 0 and g.hi < t):
                L.ambiguous = 1
                continue
            if g.lo == 0:
                if t > g.track_start:
                    L.seq = seq
                    if st_push_pending(L, g, id, t - g.track_start):
                        status = ST_NOMEM
                        break
                continue
            lo = g.lo if g.lo > g.track_start else g.track_start
            ov = t - lo
        if ov > 0:
            stack = g.track_stack
            count[stack] += 1
            total[stack] += ov
            last[stack] = seq
    L.seq = seq
    if status != ST_OK:
        L.last_time = ev[i].time
    elif n > 0:
        L.last_time = ev[n - 1].time
    return status


cdef int st_latency_feed(StLat* L, const TraceEventRec* ev, Py_ssize_t n, StStrings* strings,
                         int64_t* count, int64_t* total, int64_t* last,
                         Py_ssize_t nstacks) noexcept nogil:
    """Feed rows of the event table in order (see above; Go's
    makeComputePprofFunc for the tracking itself: a goroutine transition
    into the target state with an accepted reason starts tracking the
    goroutine at that event unless it is tracked already, the first later
    transition of it to another state ends the interval; every goroutine
    transition counts there, also those that keep the state).  The flags
    of every string row must be computed (st_flag_strings)."""
    cdef StFirstPass first
    cdef StSecondPass second
    cdef StDenseIds dense
    cdef StHashedIds hashed
    st_lat_reserve(L)
    if L.dense == NULL:
        if L.fixed:
            return st_latency_run(L, ev, n, strings, count, total, last, nstacks, &second, &hashed)
        return st_latency_run(L, ev, n, strings, count, total, last, nstacks, &first, &hashed)
    if L.fixed:
        return st_latency_run(L, ev, n, strings, count, total, last, nstacks, &second, &dense)
    return st_latency_run(L, ev, n, strings, count, total, last, nstacks, &first, &dense)


cdef void st_latency_finish(StLat* L, int64_t* count, int64_t* total,
                            int64_t* last) noexcept nogil:
    """Count the pending samples: their goroutines never ran in their last
    life, so Go's window starts at 0 and holds them whole.  (The records'
    STG_PENDING flags stay: nothing is fed after this.)"""
    cdef size_t it = 0
    cdef uint64_t id
    cdef int64_t j
    cdef StPending* p
    while hmap_next(&L.pending, &it, &id, &j):
        while j >= 0:
            p = (<StPending*>L.pend.data) + j
            count[p.stack] += 1
            total[p.stack] += p.delay
            if p.seq > last[p.stack]:
                last[p.stack] = p.seq
            j = p.next
    hmap_free(&L.pending)
    L.pend.n = 0
    L.free_pend = -1


cdef inline void st_fix_window(StLat* L, StG* g) noexcept nogil:
    if g.hi == 0:
        g.hi = L.last_time
    g.flags &= ~(STG_TRACKING | STG_HAS_SAMPLES | STG_PENDING)


cdef void st_latency_fix_windows(StLat* L) noexcept nogil:
    """Turn the first pass's state into the second pass's: each goroutine's
    window as Go's summarizer ends it (an end of 0 is the trace's end), no
    tracking, nothing pending, no samples."""
    cdef Py_ssize_t k, b
    cdef uint64_t id
    hmap_free(&L.pending)
    L.pend.n = 0
    L.free_pend = -1
    if L.dense != NULL:
        # Only the blocks marked: the others were never written, and
        # reading them would map up to 128 MiB of zero pages.
        for b in range(ST_DENSE_MAX >> ST_BLOCK_BITS):
            if L.dense_blocks[b >> 3] & (1 << (b & 7)):
                for id in range(<uint64_t>b << ST_BLOCK_BITS, <uint64_t>(b + 1) << ST_BLOCK_BITS):
                    if L.dense[id].flags:
                        st_fix_window(L, &L.dense[id])
    for k in range(L.big.n):
        st_fix_window(L, (<StG*>L.big.data) + k)
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

    cdef StLat L
    cdef object count, total, last, flags
    cdef Py_ssize_t nflagged      # string rows whose flags are computed
    cdef bint finished

    def __cinit__(self, int target, int reasons):
        if not 0 <= target < 256:
            raise ValueError(f"not a goroutine state: {target}")
        if reasons not in (ST_REASON_ANY, ST_REASON_NETWORK, ST_REASON_SYNC):
            raise ValueError(f"not a reason filter: {reasons}")
        memset(&self.L, 0, sizeof(StLat))
        self.L.big.size = sizeof(StG)
        self.L.pend.size = sizeof(StPending)
        self.L.free_pend = -1
        self.L.target = <uint8_t>target
        self.L.want = ST_STR_NETWORK if reasons == ST_REASON_NETWORK else \
            (ST_STR_SYNC if reasons == ST_REASON_SYNC else 0)
        self.count = np.zeros(0, dtype=np.int64)
        self.total = np.zeros(0, dtype=np.int64)
        self.last = np.zeros(0, dtype=np.int64)
        self.flags = np.zeros(0, dtype=np.uint8)

    def __dealloc__(self):
        st_lat_free(&self.L)

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
            if self.nflagged < strings.nstrings:
                st_flag_strings(&strings, self.nflagged)
                self.nflagged = strings.nstrings
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
