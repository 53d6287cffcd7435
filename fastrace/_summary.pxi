# Included by fastrace/_analysis.pyx.
#
# Go's goroutine and user-task summaries, recomputed in one C pass over the
# ordered event table.  The reference is Go 1.27.3's Summarizer
# (src/internal/trace/summary.go): every rule here is there, including the
# ones that look odd (noted where they are applied), because the answers
# must be Go's to the nanosecond.
#
# This file holds the state and one function per kind of event; its small
# containers are _summary_stats.pxi, the output rows and the Python boundary
# (Summarizer, summarize) _summary_rows.pxi.
#
# Go keeps "no time" as a zero Time; this pass does the same inside (a field
# holding 0 means "not set") and turns it into -1 only in the output rows.
#
# Names here start with sum_/Sum/SUM_: the other included files share the
# module's namespace.

from cpython.mem cimport PyMem_RawMalloc, PyMem_RawRealloc, PyMem_RawFree
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t, int32_t
from libc.string cimport memset, memcpy, memcmp, memmove
from libc.stdio cimport snprintf

from fastrace._order cimport TraceEventRec, StackRowRec, FrameRowRec

import numpy as np

from fastrace import spec as _sum_spec
from fastrace._varint import _dtype_of as _sum_dtype_of
from fastrace.errors import TraceOrderError as _SumOrderError


cdef extern from "stdio.h":
    ctypedef long long sum_ll "long long"


cdef enum SumStatus:
    SUM_OK = 0
    SUM_NOMEM = 1
    SUM_BAD = 2               # inconsistent input; message in SumState.err

cdef enum SumScope:           # whose a range is (Go's Range.Scope.Kind)
    SUM_SCOPE_NONE = 0
    SUM_SCOPE_GOROUTINE = 1
    SUM_SCOPE_PROC = 2

cdef enum SumRangeKey:        # keys of range names; STW names get keys from SUM_RANGE_STW0 on
    SUM_RANGE_GC_MARK = 0     # "GC concurrent mark phase" (global: never a goroutine's)
    SUM_RANGE_SWEEP = 1       # "GC incremental sweep"
    SUM_RANGE_ASSIST = 2      # "GC mark assist"
    SUM_RANGE_STW0 = 3        # "stop-the-world (<reason>)", one key per reason string

cdef enum SumRegionEdge:      # RegionSummaryRec.start_kind / end_kind
    SUM_EDGE_NONE = 0
    SUM_EDGE_REGION = 1       # RegionBegin / RegionEnd
    SUM_EDGE_GOROUTINE = 2    # the goroutine's creation / end

cdef uint64_t SUM_NO_TASK = 0xFFFFFFFFFFFFFFFF
cdef uint32_t SUM_NO_STRING = 0xFFFFFFFF


def _sum_check_tables():
    """What this pass assumes of the wire codes (from _order.pxd's Ev, which
    _order checks against fastrace.spec): the range events are 26..36 and
    the P transitions 10..13."""
    code = {name: sp.code for name, sp in _sum_spec.BY_NAME.items()}
    if sorted(sp for sp in _sum_spec.RANGE_TYPES) != list(range(EvSTWBegin, EvGCMarkAssistEnd + 1)):
        raise ImportError("fastrace._analysis: range event types are not 26..36")
    if set(_sum_spec.PROC_TYPES) != set(range(EvProcStart, EvProcStatus + 1)):
        raise ImportError("fastrace._analysis: P transition types are not 10..13")
    if sizeof(SumG) != 256:
        raise ImportError(f"fastrace._analysis: SumG is {sizeof(SumG)} bytes, not 256")


_sum_check_tables()


cdef GoroutineSummaryRec _sum_g_proto
cdef SummaryTimeRec _sum_time_proto
cdef RegionSummaryRec _sum_region_proto
cdef TaskSummaryRec _sum_task_proto
cdef TaskGoroutineRec _sum_taskg_proto

GOROUTINE_SUMMARY_DTYPE = _sum_dtype_of(<GoroutineSummaryRec[:1]>&_sum_g_proto)
SUMMARY_TIME_DTYPE = _sum_dtype_of(<SummaryTimeRec[:1]>&_sum_time_proto)
REGION_SUMMARY_DTYPE = _sum_dtype_of(<RegionSummaryRec[:1]>&_sum_region_proto)
TASK_SUMMARY_DTYPE = _sum_dtype_of(<TaskSummaryRec[:1]>&_sum_task_proto)
TASK_GOROUTINE_DTYPE = _sum_dtype_of(<TaskGoroutineRec[:1]>&_sum_taskg_proto)

SUMMARY_RANGE_FIXED = ("GC concurrent mark phase", "GC incremental sweep", "GC mark assist")
"""Names of range keys 0, 1, 2; keys from 3 on are "stop-the-world (REASON)"."""


# ---------------------------------------------------------------------------
# Maps int64 -> int64 (goroutine, task and P ids; keys of P ranges) are the
# package's one hash map, HMap (fastrace/_hashmap.pxd); an int64 key is
# passed as its two's-complement uint64, one to one.

from fastrace._hashmap cimport HMap, hmap_get, hmap_put, hmap_del, hmap_free


# The small containers (times by key, GoroutineExecStats): _summary_stats.pxi.
include "_summary_stats.pxi"


# ---------------------------------------------------------------------------
# The summarizer's state.

cdef struct SumG:             # Go's GoroutineSummary with its private part (256 bytes)
    # The first 64 bytes are what a transition reads and writes besides the
    # statistics (the next 72): a row of SumState.gs starts on a cache line.
    int64_t last_start        # pending state: times 0 = not in that state
    int64_t last_runnable
    int64_t last_block
    int64_t last_syscall
    int64_t last_syscall_block
    int64_t start             # StartTime (0 = never ran)
    uint32_t last_block_reason
    uint32_t name             # string row (0 = not named yet)
    uint8_t named_user        # 1 = its name is not a system goroutine's (Go's IsSystemGoroutine)
    uint8_t current           # 1 = the summary Go's map holds for this id (not replaced)
    uint8_t pad0[6]
    SumStats st
    int64_t id
    uint64_t pc
    int64_t creation          # CreationTime
    int64_t end               # EndTime (0 = never ended)
    SumKVVec last_range       # range key -> when the goroutine's range began
    int64_t* active           # stack of open regions: rows in SumState.regions
    uint32_t nactive
    uint32_t cap_active
    int64_t nregions          # len(Regions)
    uint8_t pad1[48]          # to 256 bytes, a whole number of cache lines

cdef struct SumRegion:        # Go's UserRegionSummary
    int64_t goroutine
    int64_t gidx              # row in SumState.gs of the summary whose list it is on
    uint64_t task
    int64_t start             # valid if start_kind
    int64_t end               # valid if end_kind
    SumStats st               # at the start: a snapshot; once ended: the difference
    uint32_t name
    uint8_t start_kind
    uint8_t end_kind
    uint8_t listed
    uint8_t in_task

cdef struct SumTask:          # Go's UserTaskSummary
    uint64_t id
    uint64_t parent           # SUM_NO_TASK = no parent
    int64_t start             # -1 = no TaskBegin
    int64_t end               # -1 = no TaskEnd
    int64_t logs
    int64_t regions
    int64_t last_g            # goroutine of its latest pair (repeats are not stored)
    uint32_t name
    uint8_t has_parent
    uint8_t has_pairs

cdef struct SumState:
    SumG* gs                  # the summaries, on a 64-byte boundary inside gs_mem
    void* gs_mem              # the allocation holding gs
    size_t ngs, cap_gs
    SumRegion* regions
    size_t nregions, cap_regions
    SumTask* tasks
    size_t ntasks, cap_tasks
    TaskGoroutineRec* pairs   # (task row, goroutine) associations, repeats possible
    size_t npairs, cap_pairs
    int64_t* range_reason     # range key -> STW reason string row (-1 for the fixed names)
    size_t nkeys, cap_keys
    uint32_t* gdense          # goroutine id < SUM_DENSE_IDS -> 1 + row in gs, 0 = none
    size_t cap_gdense         # ids covered by gdense (the ids seen so far, rounded up)
    HMap gmap                 # the other goroutine ids -> row in gs (both: Go's Summarizer.gs)
    HMap tmap                 # task id -> row in tasks
    HMap sys_p                # P -> goroutine in a syscall on it (syscallingP)
    HMap sys_g                # goroutine -> P of its syscall (syscallingG)
    HMap ranges_p             # (P, range key) -> goroutine (rangesP)
    HMap stw_keys             # STW reason string row -> range key
    int64_t last_ts           # time of the last event
    int64_t sync_ts           # time of the last Sync (or of the first event)
    const StackRowRec* stacks
    size_t nstacks
    const FrameRowRec* frames
    size_t nframes
    const char* sdata         # the string table
    const uint64_t* soff
    size_t nstrings
    uint32_t forever          # string row of "forever"; SUM_NO_STRING = none
    char err[200]


cdef int sum_grow(void** p, size_t* cap, size_t need, size_t elem) noexcept nogil:
    cdef size_t c
    cdef void* q
    if need <= cap[0]:
        return SUM_OK
    c = cap[0] * 2 if cap[0] else 64
    if c < need:
        c = need
    q = PyMem_RawRealloc(p[0], c * elem)
    if q == NULL:
        return SUM_NOMEM
    p[0], cap[0] = q, c
    return SUM_OK


# Goroutine ids count up from 1 (the runtime hands them out in small
# batches), so the ids of a trace are nearly all below a few times its
# number of goroutines: those below SUM_DENSE_IDS find their summary in a
# plain array indexed by id (4 bytes an id, 16 MB at most), the rest in the
# hash map.  On the 68 MB sched trace (200,000 goroutines) every transition
# looks its goroutine up: the array is 0.8 MB where the map's slots were
# 12 MB, and needs no hashing or probing.
cdef enum:
    SUM_DENSE_IDS = 1 << 22


cdef inline bint sum_g_find(const SumState* s, int64_t id, int64_t* row) noexcept nogil:
    """True if goroutine id has a summary, its row in s.gs then in row[0]."""
    cdef uint32_t r
    if <uint64_t>id < s.cap_gdense:
        r = s.gdense[id]
        row[0] = <int64_t>r - 1
        return r != 0
    if <uint64_t>id < SUM_DENSE_IDS:
        return False
    return hmap_get(&s.gmap, <uint64_t>id, row)


cdef int sum_g_set(SumState* s, int64_t id, size_t row) noexcept nogil:
    """Goroutine id's summary is now row of s.gs."""
    cdef size_t cap
    cdef uint32_t* a
    if <uint64_t>id >= SUM_DENSE_IDS:
        return SUM_NOMEM if hmap_put(&s.gmap, <uint64_t>id, <int64_t>row) else SUM_OK
    if row >= <size_t>0xFFFFFFFE:
        return SUM_NOMEM
    if <uint64_t>id >= s.cap_gdense:
        cap = s.cap_gdense * 2 if s.cap_gdense else 1024
        while cap <= <uint64_t>id:
            cap *= 2
        if cap > SUM_DENSE_IDS:
            cap = SUM_DENSE_IDS
        a = <uint32_t*>PyMem_RawRealloc(s.gdense, cap * sizeof(uint32_t))
        if a == NULL:
            return SUM_NOMEM
        memset(a + s.cap_gdense, 0, (cap - s.cap_gdense) * sizeof(uint32_t))
        s.gdense, s.cap_gdense = a, cap
    s.gdense[id] = <uint32_t>(row + 1)
    return SUM_OK


cdef bint sum_str_eq(SumState* s, uint32_t row, const char* lit, size_t n) noexcept nogil:
    if row >= s.nstrings:
        return False
    return s.soff[row + 1] - s.soff[row] == n and memcmp(s.sdata + s.soff[row], lit, n) == 0


cdef bint sum_is_system(SumState* s, uint32_t name) noexcept nogil:
    """Go's IsSystemGoroutine: no name, or a runtime. function other than
    runtime.main."""
    cdef uint64_t a, b
    if name == 0 or name >= s.nstrings:
        return True
    a, b = s.soff[name], s.soff[name + 1]
    if b == a:
        return True
    if sum_str_eq(s, name, b"runtime.main", 12):
        return False
    return b - a >= 8 and memcmp(s.sdata + a, b"runtime.", 8) == 0


cdef int sum_grow_gs(SumState* s) noexcept nogil:
    """Room for twice the summaries in s.gs, kept on a cache-line boundary."""
    cdef size_t cap = s.cap_gs * 2 if s.cap_gs else 256
    cdef size_t old_off = <size_t>(<char*>s.gs - <char*>s.gs_mem) if s.gs_mem != NULL else 0
    cdef size_t off
    cdef char* mem = <char*>PyMem_RawRealloc(s.gs_mem, cap * sizeof(SumG) + 64)
    if mem == NULL:
        return SUM_NOMEM
    off = (64 - <size_t>mem % 64) % 64
    if off != old_off and s.ngs:
        # realloc keeps the bytes, not their alignment
        memmove(mem + off, mem + old_off, s.ngs * sizeof(SumG))
    s.gs_mem = mem
    s.gs = <SumG*>(mem + off)
    s.cap_gs = cap
    return SUM_OK


cdef int sum_new_g(SumState* s, int64_t id, int64_t creation, int64_t* out) noexcept nogil:
    """A new summary for goroutine id, replacing any it had in the map."""
    cdef int64_t old
    cdef SumG* g
    if s.ngs == s.cap_gs and sum_grow_gs(s):
        return SUM_NOMEM
    g = &s.gs[s.ngs]
    memset(g, 0, sizeof(SumG))
    g.id = id
    g.creation = creation
    g.current = 1
    if sum_g_find(s, id, &old):
        s.gs[old].current = 0
    if sum_g_set(s, id, s.ngs):
        return SUM_NOMEM
    out[0] = <int64_t>s.ngs
    s.ngs += 1
    return SUM_OK


cdef int sum_new_region(SumState* s, int64_t* out) noexcept nogil:
    if sum_grow(<void**>&s.regions, &s.cap_regions, s.nregions + 1, sizeof(SumRegion)):
        return SUM_NOMEM
    memset(&s.regions[s.nregions], 0, sizeof(SumRegion))
    out[0] = <int64_t>s.nregions
    s.nregions += 1
    return SUM_OK


cdef int sum_push_active(SumG* g, int64_t region) noexcept nogil:
    cdef uint32_t cap
    cdef int64_t* a
    if g.nactive == g.cap_active:
        cap = g.cap_active * 2 if g.cap_active else 4
        a = <int64_t*>PyMem_RawRealloc(g.active, cap * sizeof(int64_t))
        if a == NULL:
            return SUM_NOMEM
        g.active, g.cap_active = a, cap
    g.active[g.nactive] = region
    g.nactive += 1
    return SUM_OK


cdef int sum_task(SumState* s, uint64_t id, int64_t* out) noexcept nogil:
    """Row of task id, added if new (Go's getOrAddTask)."""
    cdef SumTask* t
    if hmap_get(&s.tmap, id, out):
        return SUM_OK
    if sum_grow(<void**>&s.tasks, &s.cap_tasks, s.ntasks + 1, sizeof(SumTask)):
        return SUM_NOMEM
    t = &s.tasks[s.ntasks]
    memset(t, 0, sizeof(SumTask))
    t.id = id
    t.parent = SUM_NO_TASK
    t.start = -1
    t.end = -1
    if hmap_put(&s.tmap, id, <int64_t>s.ntasks):
        return SUM_NOMEM
    out[0] = <int64_t>s.ntasks
    s.ntasks += 1
    return SUM_OK


cdef int sum_task_goroutine(SumState* s, int64_t task, int64_t goid) noexcept nogil:
    """Associate goroutine goid with a task (Go's task.Goroutines[goid])."""
    cdef SumTask* t = &s.tasks[task]
    if t.has_pairs and t.last_g == goid:
        return SUM_OK
    t.has_pairs = 1
    t.last_g = goid
    if sum_grow(<void**>&s.pairs, &s.cap_pairs, s.npairs + 1, sizeof(TaskGoroutineRec)):
        return SUM_NOMEM
    s.pairs[s.npairs].task = task
    s.pairs[s.npairs].goroutine = goid
    s.npairs += 1
    return SUM_OK


cdef int sum_apply_pending(SumStats* out, SumG* g, int64_t ts) noexcept nogil:
    """Add to out what g's open states hold up to ts (the pending part of
    Go's snapshotStat).  out is g.st itself or a copy of it."""
    cdef uint32_t i
    if g.st.total == 0:
        out.total = ts - g.creation
    if g.last_start != 0:
        out.exec += ts - g.last_start
    if g.last_runnable != 0:
        out.sched += ts - g.last_runnable
    if g.last_block != 0:
        if sum_kv_add(&out.block, g.last_block_reason, ts - g.last_block):
            return SUM_NOMEM
    if g.last_syscall != 0:
        out.syscall += ts - g.last_syscall
    if g.last_syscall_block != 0:
        # Go counts a syscall that lost its P and is still open as
        # scheduling wait here (and the whole syscall as syscall time).
        out.sched += ts - g.last_syscall_block
    for i in range(g.last_range.n):
        if sum_kv_add(&out.ranges, g.last_range.items[i].key, ts - g.last_range.items[i].val):
            return SUM_NOMEM
    return SUM_OK


cdef int sum_snapshot(SumStats* out, SumG* g, int64_t ts) noexcept nogil:
    """out = g's statistics as of ts (Go's snapshotStat), a new copy."""
    if sum_stats_copy(out, &g.st):
        return SUM_NOMEM
    return sum_apply_pending(out, g, ts)


cdef int sum_close_region(SumRegion* r, SumStats* now) noexcept nogil:
    """r's statistics become now minus those at its start."""
    cdef SumStats d
    if sum_stats_copy(&d, now):
        sum_stats_free(&d)
        return SUM_NOMEM
    sum_stats_sub(&d, &r.st)
    sum_stats_free(&r.st)
    r.st = d
    return SUM_OK


cdef int sum_finalize(SumState* s, int64_t gi, int64_t ts, bint trigger) noexcept nogil:
    """Go's GoroutineSummary.finalize: at the goroutine's end (trigger: the
    event at ts ended it) or at the end of the trace."""
    cdef SumG* g = &s.gs[gi]
    cdef SumRegion* r
    cdef uint32_t j
    if trigger:
        g.end = ts
    if sum_apply_pending(&g.st, g, ts):
        return SUM_NOMEM
    # Go leaves the open regions of system goroutines out of their list
    # (and their statistics as they were at the region's start).
    if g.named_user:
        for j in range(g.nactive):
            r = &s.regions[g.active[j]]
            if trigger:
                r.end = ts
                r.end_kind = SUM_EDGE_GOROUTINE
            if sum_close_region(r, &g.st):
                return SUM_NOMEM
            r.listed = 1
            g.nregions += 1
    g.last_start = 0
    g.last_runnable = 0
    g.last_block = 0
    g.last_block_reason = 0
    g.last_syscall = 0
    g.last_syscall_block = 0
    g.last_range.n = 0
    g.nactive = 0
    return SUM_OK


# ---------------------------------------------------------------------------
# One function per kind of event.

cdef int sum_no_goroutine(SumState* s, const TraceEventRec* ev, int64_t id,
                          const char* what) noexcept nogil:
    snprintf(s.err, sizeof(s.err), "%s of goroutine %lld at %lld, which the trace has not "
             "introduced before", what, <sum_ll>id, <sum_ll>ev.time)
    return SUM_BAD


cdef int sum_go_appear(SumState* s, const TraceEventRec* ev, int64_t* out) noexcept nogil:
    """A transition out of Undetermined or NotExist: the goroutine's new
    summary (its row in out[0])."""
    cdef int64_t id = <int64_t>ev.a[0]
    cdef uint8_t new = ev.to_state
    cdef int64_t t = ev.time, gi, ci, dt, ri
    cdef SumG* g
    cdef SumG* c
    cdef SumRegion* top
    if ev.from_state == G_UNDETERMINED:
        # Already there at the last Sync: created then, and in state new
        # since then.
        if sum_new_g(s, id, s.sync_ts, &gi):
            return SUM_NOMEM
        g = &s.gs[gi]
        dt = t - s.sync_ts
        if new == G_RUNNING:
            g.st.exec += dt
        elif new == G_WAITING:
            if sum_kv_add(&g.st.block, <uint32_t>ev.a[1], dt):
                return SUM_NOMEM
        elif new == G_RUNNABLE:
            g.st.sched += dt
        elif new == G_SYSCALL:
            if ev.p < 0:
                g.st.syscall_block += dt
            else:
                g.st.syscall += dt
        out[0] = gi
        return SUM_OK
    # Created: a goroutine created inside a region inherits the creator's
    # innermost region's task, as a nameless region.
    c = NULL
    if sum_g_find(s, ev.g, &ci):
        c = &s.gs[ci]
    ri = -1
    if c != NULL and c.nactive > 0:
        if sum_new_region(s, &ri):
            return SUM_NOMEM
        top = &s.regions[s.gs[ci].active[s.gs[ci].nactive - 1]]
        s.regions[ri].task = top.task
    if sum_new_g(s, id, t, &gi):
        return SUM_NOMEM
    g = &s.gs[gi]
    if ri >= 0:
        s.regions[ri].goroutine = id
        s.regions[ri].gidx = gi
        s.regions[ri].start = t
        s.regions[ri].start_kind = SUM_EDGE_GOROUTINE
        if sum_push_active(g, ri):
            return SUM_NOMEM
    out[0] = gi
    return SUM_OK


cdef void sum_syscall_leave(SumState* s, SumG* g, int64_t id, int64_t t) noexcept nogil:
    """The goroutine leaves a syscall at t."""
    cdef int64_t p
    if g.last_syscall == 0:
        return
    if g.last_syscall_block != 0:
        g.st.syscall_block += t - g.last_syscall_block
        g.st.syscall += g.last_syscall_block - g.last_syscall
    else:
        g.st.syscall += t - g.last_syscall
    g.last_syscall = 0
    g.last_syscall_block = 0
    # Go deletes the P it finds for the goroutine, P 0 when it finds none
    # (a map's zero value).
    if not hmap_get(&s.sys_g, id, &p):
        p = 0
    hmap_del(&s.sys_p, p)
    hmap_del(&s.sys_g, id)


cdef void sum_go_name(SumState* s, SumG* g, uint64_t stack) noexcept nogil:
    """Name g after the outermost frame of stack, if it has one."""
    cdef uint32_t fs, nf
    if stack >= s.nstacks:
        return
    fs = s.stacks[stack].frame_start
    nf = s.stacks[stack].nframes
    if nf > 0 and <size_t>fs + nf <= s.nframes:
        g.pc = s.frames[fs + nf - 1].pc
        g.name = s.frames[fs + nf - 1].func
        # Decided now: the string table is only at hand while feeding.
        g.named_user = not sum_is_system(s, g.name)


cdef inline int sum_go_transition(SumState* s, const TraceEventRec* ev) noexcept nogil:
    """A goroutine's transition (from_state != to_state).  The common
    path (running, runnable, waiting) is inline in sum_feed; the rarer
    ones are functions of their own."""
    cdef int64_t id = <int64_t>ev.a[0]
    cdef uint8_t old = ev.from_state, new = ev.to_state
    cdef int64_t t = ev.time, gi
    cdef uint32_t reason
    cdef SumG* g
    if old == G_UNDETERMINED or old == G_NOT_EXIST:
        if sum_go_appear(s, ev, &gi):
            return SUM_NOMEM
    elif not sum_g_find(s, id, &gi):
        return sum_no_goroutine(s, ev, id, "transition")
    g = &s.gs[gi]
    if old == G_RUNNING:
        g.st.exec += t - g.last_start
        g.last_start = 0
    elif old == G_WAITING:
        if g.last_block != 0:
            if sum_kv_add(&g.st.block, g.last_block_reason, t - g.last_block):
                return SUM_NOMEM
            g.last_block = 0
    elif old == G_RUNNABLE:
        if g.last_runnable != 0:
            g.st.sched += t - g.last_runnable
            g.last_runnable = 0
    elif old == G_SYSCALL:
        sum_syscall_leave(s, g, id, t)

    # Named after the outermost frame of the first transition stack it has.
    if g.name == 0 and ev.a[2] != 0:
        sum_go_name(s, g, ev.a[2])

    if new == G_RUNNING:
        g.last_start = t
        if g.start == 0:
            g.start = t
    elif new == G_RUNNABLE:
        g.last_runnable = t
    elif new == G_WAITING and <uint32_t>ev.a[1] != s.forever:
        g.last_block = t
        g.last_block_reason = <uint32_t>ev.a[1]
    elif new == G_WAITING or new == G_NOT_EXIST:
        # Exited, or blocked "forever" (which Go counts as an exit).
        return sum_finalize(s, gi, t, True)
    elif new == G_SYSCALL:
        if hmap_put(&s.sys_p, ev.p, id) or hmap_put(&s.sys_g, id, ev.p):
            return SUM_NOMEM
        g.last_syscall = t
    return SUM_OK


cdef int sum_proc_transition(SumState* s, const TraceEventRec* ev) noexcept nogil:
    # A P going idle while its goroutine is in a syscall: the syscall blocks.
    cdef int64_t pid = <int64_t>ev.a[0], goid, gi
    if ev.from_state == ev.to_state or ev.to_state != P_IDLE:
        return SUM_OK
    if hmap_get(&s.sys_p, pid, &goid):
        if not sum_g_find(s, goid, &gi):
            return sum_no_goroutine(s, ev, goid, "syscall")
        s.gs[gi].last_syscall_block = ev.time
        hmap_del(&s.sys_p, pid)
    return SUM_OK


cdef int sum_range_of(SumState* s, const TraceEventRec* ev, uint32_t* key, int* scope,
                      int64_t* scope_id) noexcept nogil:
    """Key of the range's name and its scope (Go's Event.Range)."""
    cdef uint8_t typ = ev.type
    cdef int64_t k
    scope[0] = SUM_SCOPE_NONE
    if typ == EvSTWBegin or typ == EvSTWEnd:
        scope[0] = SUM_SCOPE_GOROUTINE
        scope_id[0] = ev.g
        if not hmap_get(&s.stw_keys, ev.a[1], &k):
            if sum_grow(<void**>&s.range_reason, &s.cap_keys, s.nkeys + 1, sizeof(int64_t)):
                return SUM_NOMEM
            k = <int64_t>s.nkeys
            s.range_reason[k] = <int64_t>ev.a[1]
            s.nkeys += 1
            if hmap_put(&s.stw_keys, ev.a[1], k):
                return SUM_NOMEM
        key[0] = <uint32_t>k
    elif typ >= EvGCSweepActive and typ <= EvGCSweepEnd:
        scope[0] = SUM_SCOPE_PROC
        scope_id[0] = <int64_t>ev.a[0]
        key[0] = SUM_RANGE_SWEEP
    elif typ >= EvGCMarkAssistActive and typ <= EvGCMarkAssistEnd:
        scope[0] = SUM_SCOPE_GOROUTINE
        scope_id[0] = <int64_t>ev.a[0]
        key[0] = SUM_RANGE_ASSIST
    return SUM_OK


cdef inline int64_t sum_proc_range(int64_t p, uint32_t key) noexcept nogil:
    return <int64_t>((<uint64_t><uint32_t>p << 32) | key)


cdef int sum_range_begin(SumState* s, const TraceEventRec* ev) noexcept nogil:
    cdef uint32_t key = 0
    cdef int scope
    cdef int64_t sid = 0, gi, ts
    cdef SumG* g
    if sum_range_of(s, ev, &key, &scope, &sid):
        return SUM_NOMEM
    if scope == SUM_SCOPE_GOROUTINE:
        if not sum_g_find(s, sid, &gi):
            return SUM_OK
    elif scope == SUM_SCOPE_PROC:
        # A P's range is put on the goroutine running there, in the hope
        # that the same goroutine ends it.
        if not sum_g_find(s, ev.g, &gi):
            return SUM_OK
        if hmap_put(&s.ranges_p, sum_proc_range(sid, key), ev.g):
            return SUM_NOMEM
    else:
        return SUM_OK
    g = &s.gs[gi]
    if ev.kind == K_RANGE_ACTIVE:
        # Already active at the last Sync: counted from the Sync.
        ts = sum_kv_get(&g.last_range, key)
        if ts != 0:
            if sum_kv_add(&g.st.ranges, key, s.sync_ts - ts):
                return SUM_NOMEM
        return sum_kv_set(&g.last_range, key, s.sync_ts)
    return sum_kv_set(&g.last_range, key, ev.time)


cdef int sum_range_end(SumState* s, const TraceEventRec* ev) noexcept nogil:
    cdef uint32_t key = 0
    cdef int scope
    cdef int64_t sid = 0, gi, ts, goid, rp
    cdef bint found = False
    cdef SumG* g
    if sum_range_of(s, ev, &key, &scope, &sid):
        return SUM_NOMEM
    if scope == SUM_SCOPE_GOROUTINE:
        found = sum_g_find(s, sid, &gi)
    elif scope == SUM_SCOPE_PROC:
        rp = sum_proc_range(sid, key)
        if hmap_get(&s.ranges_p, rp, &goid):
            if goid == ev.g:
                found = sum_g_find(s, goid, &gi)
            hmap_del(&s.ranges_p, rp)
    if not found:
        return SUM_OK
    g = &s.gs[gi]
    ts = sum_kv_get(&g.last_range, key)
    if ts == 0:
        return SUM_OK
    if sum_kv_add(&g.st.ranges, key, ev.time - ts):
        return SUM_NOMEM
    sum_kv_del(&g.last_range, key)
    return SUM_OK


cdef int sum_region_begin(SumState* s, const TraceEventRec* ev) noexcept nogil:
    cdef int64_t gi, ri, ti
    cdef SumRegion* r
    if not sum_g_find(s, ev.g, &gi):
        return sum_no_goroutine(s, ev, ev.g, "region begin")
    if sum_new_region(s, &ri):
        return SUM_NOMEM
    r = &s.regions[ri]
    r.goroutine = ev.g
    r.gidx = gi
    r.task = ev.a[0]
    r.name = <uint32_t>ev.a[1]
    r.start = ev.time
    r.start_kind = SUM_EDGE_REGION
    r.in_task = 1
    if sum_snapshot(&r.st, &s.gs[gi], ev.time) or sum_push_active(&s.gs[gi], ri):
        return SUM_NOMEM
    if sum_task(s, ev.a[0], &ti):
        return SUM_NOMEM
    s.tasks[ti].regions += 1
    return sum_task_goroutine(s, ti, ev.g)


cdef int sum_region_end(SumState* s, const TraceEventRec* ev) noexcept nogil:
    cdef int64_t gi, ri, ti
    cdef SumG* g
    cdef SumRegion* r
    cdef SumStats now
    if not sum_g_find(s, ev.g, &gi):
        return sum_no_goroutine(s, ev, ev.g, "region end")
    g = &s.gs[gi]
    if g.nactive > 0:
        # Go ends the innermost open region, whatever its type.
        g.nactive -= 1
        ri = g.active[g.nactive]
    else:
        # An end without a start: the region began before the trace.
        if sum_new_region(s, &ri):
            return SUM_NOMEM
        r = &s.regions[ri]
        r.goroutine = ev.g
        r.gidx = gi
        r.task = ev.a[0]
        r.name = <uint32_t>ev.a[1]
        r.in_task = 1
        if sum_task(s, ev.a[0], &ti) or sum_task_goroutine(s, ti, ev.g):
            return SUM_NOMEM
        s.tasks[ti].regions += 1
    r = &s.regions[ri]
    if sum_snapshot(&now, g, ev.time):
        sum_stats_free(&now)
        return SUM_NOMEM
    sum_stats_sub(&now, &r.st)
    sum_stats_free(&r.st)
    r.st = now
    r.end = ev.time
    r.end_kind = SUM_EDGE_REGION
    r.listed = 1
    g.nregions += 1
    return SUM_OK


cdef int sum_task_event(SumState* s, const TraceEventRec* ev) noexcept nogil:
    cdef int64_t ti, pi
    if sum_task(s, ev.a[0], &ti):
        return SUM_NOMEM
    s.tasks[ti].name = <uint32_t>ev.a[2]
    if sum_task_goroutine(s, ti, ev.g):
        return SUM_NOMEM
    if ev.kind == K_TASK_BEGIN:
        s.tasks[ti].start = ev.time
    else:
        s.tasks[ti].end = ev.time
    if ev.a[1] != SUM_NO_TASK and not s.tasks[ti].has_parent:
        if sum_task(s, ev.a[1], &pi):
            return SUM_NOMEM
        s.tasks[ti].parent = ev.a[1]
        s.tasks[ti].has_parent = 1
    return SUM_OK


cdef int sum_log(SumState* s, const TraceEventRec* ev) noexcept nogil:
    cdef int64_t ti
    if sum_task(s, ev.a[0], &ti):
        return SUM_NOMEM
    s.tasks[ti].logs += 1
    return sum_task_goroutine(s, ti, ev.g)


cdef int sum_feed(SumState* s, const TraceEventRec* events, size_t n,
                  size_t* bad_row) noexcept nogil:
    """Feed events to the summarizer, in order (Go's Summarizer.Event)."""
    cdef size_t i
    cdef const TraceEventRec* ev
    cdef int st = SUM_OK
    cdef uint8_t k
    if n == 0:
        return SUM_OK
    for i in range(n):
        ev = &events[i]
        if s.sync_ts == 0:
            s.sync_ts = ev.time
        k = ev.kind
        if k == K_STATE_TRANSITION:
            # A transition to the same state tells nothing (Go skips it).
            if ev.from_state == ev.to_state:
                continue
            if ev.type >= EvProcStart and ev.type <= EvProcStatus:
                st = sum_proc_transition(s, ev)
            else:
                st = sum_go_transition(s, ev)
        elif k == K_SYNC:
            s.sync_ts = ev.time
        elif k == K_RANGE_BEGIN or k == K_RANGE_ACTIVE:
            st = sum_range_begin(s, ev)
        elif k == K_RANGE_END:
            st = sum_range_end(s, ev)
        elif k == K_REGION_BEGIN:
            st = sum_region_begin(s, ev)
        elif k == K_REGION_END:
            st = sum_region_end(s, ev)
        elif k == K_TASK_BEGIN or k == K_TASK_END:
            st = sum_task_event(s, ev)
        elif k == K_LOG:
            st = sum_log(s, ev)
        if st:
            bad_row[0] = i
            s.last_ts = ev.time
            return st
    # Only sum_end reads it: set once a piece, not at every event.
    s.last_ts = events[n - 1].time
    return SUM_OK


cdef int sum_end(SumState* s, size_t* ng, size_t* nb, size_t* nr) noexcept nogil:
    """Finalize every goroutine at the last event (Go's Summarizer.Finalize),
    counting in the same pass the goroutine rows (ng[0]) and their nonzero
    block (nb[0]) and range (nr[0]) times."""
    cdef size_t i, j
    cdef int st
    cdef SumG* g
    ng[0] = nb[0] = nr[0] = 0
    for i in range(s.ngs):
        g = &s.gs[i]
        if not g.current:
            continue
        st = sum_finalize(s, <int64_t>i, s.last_ts, False)
        if st:
            return st
        ng[0] += 1
        for j in range(g.st.block.n):
            nb[0] += g.st.block.items[j].val != 0
        for j in range(g.st.ranges.n):
            nr[0] += g.st.ranges.items[j].val != 0
    return SUM_OK


cdef void sum_free(SumState* s) noexcept nogil:
    cdef size_t i
    for i in range(s.ngs):
        sum_stats_free(&s.gs[i].st)
        sum_kv_free(&s.gs[i].last_range)
        PyMem_RawFree(s.gs[i].active)
    for i in range(s.nregions):
        sum_stats_free(&s.regions[i].st)
    PyMem_RawFree(s.gs_mem)
    PyMem_RawFree(s.regions)
    PyMem_RawFree(s.tasks)
    PyMem_RawFree(s.pairs)
    PyMem_RawFree(s.range_reason)
    hmap_free(&s.gmap)
    PyMem_RawFree(s.gdense)
    hmap_free(&s.tmap)
    hmap_free(&s.sys_p)
    hmap_free(&s.sys_g)
    hmap_free(&s.ranges_p)
    hmap_free(&s.stw_keys)
