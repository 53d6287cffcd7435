# Included by fastrace/_analysis.pyx.
#
# Ranges, GC and mutator utilisation (the MMU curve over it is in _mmu.pxi):
# the C passes behind fastrace.analysis.gc.  What they compute is defined by
# Go 1.27.3's internal/trace: event.go (Event.Range, Event.RangeAttributes:
# range names, scopes and attributes), gc.go (MutatorUtilizationV2, MMUCurve)
# and cmd/trace/gen.go (a range reported active at the start of the trace
# starts there, ranges still open at the end end with the trace).
#
# Every C-level name here starts with gcu_ / GCU_ (or is RangeRec /
# MutatorUtilRec from _analysis.pxd): this file shares one module with the
# other included files.

from libc.stdint cimport INT64_MAX
from libc.stdlib cimport malloc, realloc, free, calloc
from libc.string cimport memcpy, memset, memcmp

import numpy as np

from fastrace import kinds as _gcu_kinds
from fastrace import spec as _gcu_spec
from fastrace._order cimport TraceEventRec
from fastrace._varint import _dtype_of as _gcu_dtype_of


# ---------------------------------------------------------------------------
# Constants of this pass (event kinds, states and wire types are _order.pxd's).

cdef enum:
    GCU_RES_NONE = 0          # ResourceKind
    GCU_RES_GOROUTINE = 1
    GCU_RES_PROC = 2

    # RangeKind (fastrace.analysis.gc.RangeKind): which range a row is.
    GCU_R_NONE = 0
    GCU_R_GC_MARK = 1         # "GC concurrent mark phase", global
    GCU_R_SWEEP = 2           # "GC incremental sweep", per P
    GCU_R_MARK_ASSIST = 3     # "GC mark assist", per goroutine
    GCU_R_STW = 4             # "stop-the-world (<kind>)", per goroutine

    # Go's UtilFlags bits.
    GCU_UTIL_STW = 1
    GCU_UTIL_BACKGROUND = 2
    GCU_UTIL_ASSIST = 4
    GCU_UTIL_SWEEP = 8
    GCU_UTIL_PER_PROC = 16

    # Status codes of the passes.
    GCU_OK = 0
    GCU_NOMEM = 1
    GCU_BAD_PROC = 2          # an event Go's analysis charges to a P it does not have
    GCU_BAD_PROCS = 3         # an impossible GOMAXPROCS value
    GCU_FLAT_SERIES = 4       # a utilisation series of zero duration

# Go's gc.go divides every utilisation series into this many bands (at most
# one per point of the series); the band bounds decide which windows are
# examined, so it must be Go's number for the same answers.
cdef Py_ssize_t GCU_BANDS_PER_SERIES = 1000
# A GOMAXPROCS metric above this is not a real trace (the runtime caps it at
# 2^31 - 1, but every P costs the runtime a few KB): refuse it.
cdef int64_t GCU_MAX_PROCS = 1 << 20

cdef uint8_t GCU_RKIND[256]           # wire type -> RangeKind (0: not a range event)
cdef uint8_t GCU_PROC_TYPE[256]       # wire type -> 1 if its transition is about a P
cdef uint8_t GCU_UTIL_KIND[256]       # event kind -> 1 if the utilisation pass looks at its events

RANGE_KINDS = {"GC_MARK": GCU_R_GC_MARK, "SWEEP": GCU_R_SWEEP,
               "MARK_ASSIST": GCU_R_MARK_ASSIST, "STW": GCU_R_STW}
"""RangeKind values used in RangeRec.range_kind (fastrace.analysis.gc checks
its enum against this)."""


def _gcu_init_tables():
    memset(GCU_RKIND, 0, sizeof(GCU_RKIND))
    memset(GCU_PROC_TYPE, 0, sizeof(GCU_PROC_TYPE))
    by_name = {_gcu_spec.STW_RANGE: GCU_R_STW, "GC incremental sweep": GCU_R_SWEEP,
               "GC mark assist": GCU_R_MARK_ASSIST, "GC concurrent mark phase": GCU_R_GC_MARK}
    for code, sp in _gcu_spec.RANGE_TYPES.items():
        GCU_RKIND[code] = by_name[sp.range]
    for code in _gcu_spec.PROC_TYPES:
        GCU_PROC_TYPE[code] = 1
    memset(GCU_UTIL_KIND, 0, sizeof(GCU_UTIL_KIND))
    for k in (K_SYNC, K_METRIC, K_RANGE_BEGIN, K_RANGE_ACTIVE, K_RANGE_END, K_STATE_TRANSITION,
              K_LABEL):
        GCU_UTIL_KIND[<int>k] = 1
    R = _gcu_kinds.ResourceKind
    if (R.NONE, R.GOROUTINE, R.PROC) != (GCU_RES_NONE, GCU_RES_GOROUTINE, GCU_RES_PROC):
        raise RuntimeError("fastrace._analysis (_gcutil): constants disagree with fastrace.kinds")
    if _gcu_spec.METRIC_NAMES.get(EvProcsChange) != "/sched/gomaxprocs:threads" or \
            _gcu_spec.METRIC_NAMES.get(EvHeapAlloc) != "/memory/classes/heap/objects:bytes" or \
            _gcu_spec.METRIC_NAMES.get(EvHeapGoal) != "/gc/heap/goal:bytes":
        raise RuntimeError("fastrace._analysis (_gcutil): metric types disagree "
                           "with fastrace.spec")


_gcu_init_tables()

cdef RangeRec _gcu_range_proto
cdef MutatorUtilRec _gcu_util_proto
cdef MetricRec _gcu_metric_proto
RANGE_DTYPE = _gcu_dtype_of(<RangeRec[:1]>&_gcu_range_proto)
MUTATOR_UTIL_DTYPE = _gcu_dtype_of(<MutatorUtilRec[:1]>&_gcu_util_proto)
METRIC_DTYPE = _gcu_dtype_of(<MetricRec[:1]>&_gcu_metric_proto)


# ---------------------------------------------------------------------------
# Small C containers: a growable array and a hash map with 128-bit keys.

cdef struct GcuVec:
    char* data
    size_t n                  # items in use
    size_t cap                # items allocated
    size_t size               # bytes per item


cdef inline void gcu_vec_init(GcuVec* v, size_t size) noexcept nogil:
    v.data = NULL
    v.n = v.cap = 0
    v.size = size


cdef void* gcu_vec_push(GcuVec* v) noexcept nogil:
    """Room for one more item, zeroed; NULL when out of memory."""
    cdef size_t cap
    cdef char* p
    if v.n == v.cap:
        cap = v.cap * 2 if v.cap else 16
        p = <char*>realloc(v.data, cap * v.size)
        if p == NULL:
            return NULL
        v.data = p
        v.cap = cap
    p = v.data + v.n * v.size
    memset(p, 0, v.size)
    v.n += 1
    return p


cdef inline void gcu_vec_free(GcuVec* v) noexcept nogil:
    free(v.data)
    v.data = NULL
    v.n = v.cap = 0


# ---------------------------------------------------------------------------
# The ranges in progress, keyed by (range name, scope): the name is the range
# kind and, for stop-the-world ranges, the string row of its kind (40 bits);
# the scope a goroutine or P id (any int64).  Together they do not fit the
# 64-bit keys of the package's hash map (HMap, fastrace/_hashmap.pxd), and
# folding them into one would let two ranges collide, so the map is two
# levels of HMap: name -> a map of its own, scope -> the open range.  A trace
# has a handful of range names.

from fastrace._hashmap cimport (HMap, hmap_del, hmap_find, hmap_free, hmap_get, hmap_init,
                                hmap_put, hmap_slot)


cdef struct GcuOpen:
    HMap names                # range name -> its entry in by_name
    HMap* by_name             # per range name: scope id -> its open range (a ref of gcu_range_at)
    size_t n                  # entries of by_name in use
    size_t cap                # entries of by_name allocated


cdef inline uint64_t gcu_range_name(uint8_t rkind, uint32_t stw_kind) noexcept nogil:
    return <uint64_t>rkind | (<uint64_t>stw_kind << 8)


cdef int64_t* gcu_open_find(const GcuOpen* o, uint64_t name, int64_t scope) noexcept nogil:
    """Pointer to the open range (name, scope), or NULL; valid until the
    next change of o."""
    cdef int64_t i
    if not hmap_get(&o.names, name, &i):
        return NULL
    return hmap_find(&o.by_name[i], <uint64_t>scope)


cdef int gcu_open_put(GcuOpen* o, uint64_t name, int64_t scope, int64_t ref) noexcept nogil:
    cdef int64_t* slot = hmap_slot(&o.names, name, <int64_t>o.n)
    cdef int64_t i
    cdef size_t cap
    cdef HMap* p
    if slot == NULL:
        return GCU_NOMEM
    i = slot[0]
    if <size_t>i == o.n:              # a name not seen before
        if o.n == o.cap:
            cap = o.cap * 2 if o.cap else 8
            p = <HMap*>realloc(o.by_name, cap * sizeof(HMap))
            if p == NULL:
                hmap_del(&o.names, name)
                return GCU_NOMEM
            o.by_name = p
            o.cap = cap
        hmap_init(&o.by_name[i])
        o.n += 1
    return GCU_NOMEM if hmap_put(&o.by_name[i], <uint64_t>scope, ref) else GCU_OK


cdef void gcu_open_del(GcuOpen* o, uint64_t name, int64_t scope) noexcept nogil:
    cdef int64_t i
    if hmap_get(&o.names, name, &i):
        hmap_del(&o.by_name[i], <uint64_t>scope)


cdef void gcu_open_free(GcuOpen* o) noexcept nogil:
    cdef size_t i
    for i in range(o.n):
        hmap_free(&o.by_name[i])
    free(o.by_name)
    hmap_free(&o.names)
    memset(o, 0, sizeof(GcuOpen))


# ---------------------------------------------------------------------------
# Input checks at the Python boundary.

cdef const TraceEventRec* gcu_events_ptr(events, Py_ssize_t* n) except? NULL:
    cdef cnp.ndarray arr = events
    if arr.ndim != 1 or not arr.flags.c_contiguous or arr.dtype.itemsize != sizeof(TraceEventRec) \
            or arr.dtype.names is None or "time" not in arr.dtype.names:
        raise TypeError("expected a Trace.events table (1-d, contiguous, EVENT_DTYPE)")
    n[0] = arr.shape[0]
    return <const TraceEventRec*>cnp.PyArray_DATA(arr)


cdef struct GcuStrings:       # a Trace.strings table seen from C
    const uint8_t* data       # every string, concatenated
    const uint64_t* offsets   # n + 1 byte offsets
    size_t n                  # strings


cdef inline bint gcu_str(const GcuStrings* s, uint64_t row, const uint8_t** p,
                         size_t* length) noexcept nogil:
    """Bytes of string ``row``; False (and "") for a row out of range."""
    if row >= s.n:
        p[0] = NULL
        length[0] = 0
        return False
    p[0] = s.data + s.offsets[row]
    length[0] = <size_t>(s.offsets[row + 1] - s.offsets[row])
    return True


cdef bint gcu_str_contains_gc(const GcuStrings* s, uint64_t row) noexcept nogil:
    """Whether string ``row`` contains "GC" (Go's test of a GC stop-the-world:
    its range name contains "GC", and only the kind can hold it)."""
    cdef const uint8_t* p
    cdef size_t n, i
    gcu_str(s, row, &p, &n)
    for i in range(1, n):
        if p[i - 1] == b'G' and p[i] == b'C':
            return True
    return False


cdef int gcu_label_class(const GcuStrings* s, uint64_t row) noexcept nogil:
    """Labels of GC workers: 0 = not one ("GC (idle)" is not either),
    1 = a background mark worker, 2 = a dedicated one ("GC (dedicated)")."""
    cdef const uint8_t* p
    cdef size_t n
    gcu_str(s, row, &p, &n)
    if n < 3 or memcmp(p, b"GC ", 3) != 0:
        return 0
    if n == 9 and memcmp(p, b"GC (idle)", 9) == 0:
        return 0
    if n == 14 and memcmp(p, b"GC (dedicated)", 14) == 0:
        return 2
    return 1


cdef GcuStrings gcu_strings_of(data, offsets, object keep) except *:
    cdef GcuStrings s
    cdef const uint8_t[::1] d
    cdef const uint64_t[::1] o = offsets
    if o.shape[0] < 1:
        raise ValueError("string offsets must have at least one entry")
    d = data if len(data) else b"\0"
    if o[o.shape[0] - 1] > <uint64_t>len(data):
        raise ValueError("string offsets run past the string data")
    keep.append(d)
    keep.append(o)
    s.data = &d[0]
    s.offsets = &o[0]
    s.n = o.shape[0] - 1
    return s


# ---------------------------------------------------------------------------
# Ranges: one row per range, begin paired with end per (name, scope).

cdef inline void gcu_range_id(const TraceEventRec* e, uint8_t* rkind, uint32_t* stw_kind,
                              uint8_t* scope_kind, int64_t* scope) noexcept nogil:
    # Go's Event.Range: which range, and the resource it is scoped to.
    rkind[0] = GCU_RKIND[e.type]
    stw_kind[0] = 0
    if rkind[0] == GCU_R_GC_MARK:
        scope_kind[0] = GCU_RES_NONE
        scope[0] = -1
        return
    scope[0] = <int64_t>e.a[0]
    if rkind[0] == GCU_R_SWEEP:
        scope_kind[0] = GCU_RES_PROC
    else:
        scope_kind[0] = GCU_RES_GOROUTINE
        if rkind[0] == GCU_R_STW:
            stw_kind[0] = <uint32_t>e.a[1]


cdef inline RangeRec* gcu_range_at(GcuVec* out, GcuVec* early, int64_t ref) noexcept nogil:
    # Open ranges refer to their row as i >= 0 (row i of out) or -1 - i
    # (row i of early).
    if ref >= 0:
        return <RangeRec*>(out.data + ref * out.size)
    return <RangeRec*>(early.data + (-1 - ref) * early.size)


cdef RangeRec* gcu_new_range(GcuVec* v, const TraceEventRec* e, uint8_t rkind, uint32_t stw_kind,
                             uint8_t scope_kind, int64_t scope) noexcept nogil:
    cdef RangeRec* r = <RangeRec*>gcu_vec_push(v)
    if r == NULL:
        return NULL
    r.range_kind = rkind
    r.stw_kind = stw_kind
    r.scope_kind = scope_kind
    r.scope = scope
    r.swept = r.reclaimed = -1
    r.begin_row = r.end_row = -1
    r.end = INT64_MAX        # not ended yet
    return r


cdef int gcu_push_metric(GcuVec* v, const TraceEventRec* e) noexcept nogil:
    cdef MetricRec* m
    if v == NULL:
        return GCU_OK
    m = <MetricRec*>gcu_vec_push(v)
    if m == NULL:
        return GCU_NOMEM
    m.time = e.time
    m.value = e.a[0]
    return GCU_OK


cdef struct GcuRanges:        # the state of one ranges pass, fed piece by piece
    GcuOpen open_             # the ranges in flight, by (name, scope)
    GcuVec out                # ranges begun by a RangeBegin event, in event order
    GcuVec early              # ranges in flight where the events begin, in event order
    GcuVec heap               # HeapAlloc metrics (with metrics)
    GcuVec goal               # HeapGoal metrics (with metrics)
    int64_t sync_time         # time of the last Sync event (of the first event before one)
    int64_t last_time         # time of the last event fed
    bint started              # an event was fed
    bint metrics


cdef void gcu_ranges_init(GcuRanges* s, bint metrics) noexcept nogil:
    memset(&s.open_, 0, sizeof(GcuOpen))
    gcu_vec_init(&s.out, sizeof(RangeRec))
    gcu_vec_init(&s.early, sizeof(RangeRec))
    gcu_vec_init(&s.heap, sizeof(MetricRec))
    gcu_vec_init(&s.goal, sizeof(MetricRec))
    s.sync_time = s.last_time = 0
    s.started = 0
    s.metrics = metrics


cdef void gcu_ranges_free(GcuRanges* s) noexcept nogil:
    gcu_open_free(&s.open_)
    gcu_vec_free(&s.out)
    gcu_vec_free(&s.early)
    gcu_vec_free(&s.heap)
    gcu_vec_free(&s.goal)


cdef int gcu_ranges_feed(GcuRanges* s, const TraceEventRec* ev, Py_ssize_t n,
                         int64_t first_row) noexcept nogil:
    # The next ``n`` events (the first one row ``first_row`` of the whole
    # table).  Ranges that begin with their RangeBegin event go to ``out``,
    # in event order and so in start order; ranges already in flight where
    # the events begin (they start with the generation) to ``early``, also
    # in start order; gcu_ranges_finish merges the two.  The state carries
    # the open ranges from one piece to the next, so pieces fed in order
    # give the ranges of the whole table.
    cdef Py_ssize_t i
    cdef int64_t* ref
    cdef const TraceEventRec* e
    cdef RangeRec* r
    cdef uint8_t rkind, scope_kind
    cdef uint32_t stw_kind
    cdef int64_t scope
    cdef uint64_t k1
    cdef int st = GCU_OK
    cdef GcuVec* heap = &s.heap if s.metrics else NULL
    cdef GcuVec* goal = &s.goal if s.metrics else NULL
    if n == 0:
        return GCU_OK
    if not s.started:
        s.sync_time = ev[0].time
        s.started = 1
    s.last_time = ev[n - 1].time
    for i in range(n):
        e = &ev[i]
        if e.kind == K_SYNC:
            s.sync_time = e.time
            continue
        if e.kind == K_METRIC:
            if e.type == EvHeapAlloc:
                st = gcu_push_metric(heap, e)
            elif e.type == EvHeapGoal:
                st = gcu_push_metric(goal, e)
            if st:
                return st
            continue
        if e.kind < K_RANGE_BEGIN or e.kind > K_RANGE_END or GCU_RKIND[e.type] == 0:
            continue
        gcu_range_id(e, &rkind, &stw_kind, &scope_kind, &scope)
        k1 = gcu_range_name(rkind, stw_kind)
        ref = gcu_open_find(&s.open_, k1, scope)
        if e.kind != K_RANGE_END:
            if ref != NULL:
                if e.kind == K_RANGE_ACTIVE:
                    # Every generation re-reports the ranges in flight: the
                    # range is open already, and goes on.
                    continue
                # A second begin without an end (Go's reader refuses these):
                # end the first one here rather than leave it without an end.
                gcu_range_at(&s.out, &s.early, ref[0]).end = e.time
            if e.kind == K_RANGE_ACTIVE:
                # In progress before the events we have: it starts with the
                # generation (the trace, in the first one), as go tool trace
                # draws it and as Go's summarizer counts it.
                r = gcu_new_range(&s.early, e, rkind, stw_kind, scope_kind, scope)
                if r == NULL:
                    return GCU_NOMEM
                r.start = s.sync_time
                r.clipped_start = 1
                st = gcu_open_put(&s.open_, k1, scope, -<int64_t>s.early.n)
            else:
                r = gcu_new_range(&s.out, e, rkind, stw_kind, scope_kind, scope)
                if r == NULL:
                    return GCU_NOMEM
                r.start = e.time
                st = gcu_open_put(&s.open_, k1, scope, <int64_t>(s.out.n - 1))
            r.begin_row = first_row + i
            if st:
                return st
        else:
            if ref != NULL:
                r = gcu_range_at(&s.out, &s.early, ref[0])
                gcu_open_del(&s.open_, k1, scope)
            else:
                # An end whose beginning is before these events (a piece of
                # a trace from iter_generations): it starts with them.
                r = gcu_new_range(&s.early, e, rkind, stw_kind, scope_kind, scope)
                if r == NULL:
                    return GCU_NOMEM
                r.start = s.sync_time
                r.clipped_start = 1
            r.end = e.time
            r.end_row = first_row + i
            if rkind == GCU_R_SWEEP:
                # Go's RangeAttributes of a sweep end: bytes swept, reclaimed.
                r.swept = <int64_t>e.a[1]
                r.reclaimed = <int64_t>e.a[2]
    return GCU_OK


cdef int gcu_ranges_finish(GcuRanges* s) noexcept nogil:
    # Ranges still in flight end at the last event (clipped), and the early
    # ones are merged into out.
    cdef Py_ssize_t i
    cdef RangeRec* r
    gcu_open_free(&s.open_)
    for i in range(<Py_ssize_t>s.out.n):
        r = <RangeRec*>(s.out.data + i * s.out.size)
        if r.end == INT64_MAX:
            r.end = s.last_time
            r.clipped_end = 1
    for i in range(<Py_ssize_t>s.early.n):
        r = <RangeRec*>(s.early.data + i * s.early.size)
        if r.end == INT64_MAX:
            r.end = s.last_time
            r.clipped_end = 1
    return gcu_merge_early(&s.out, &s.early)


cdef int gcu_merge_early(GcuVec* out, GcuVec* early) noexcept nogil:
    # Merge the ranges in flight at the start into out by start time, in
    # place from the back.  Both lists are in start order; no range of out
    # starts at a Sync event's time (only the Sync itself has it), so the
    # order is that of a stable sort by start.
    cdef size_t a = out.n, b = early.n, k
    cdef char* p
    cdef RangeRec* o
    cdef RangeRec* x
    if b == 0:
        return GCU_OK
    if a + b > out.cap:
        p = <char*>realloc(out.data, (a + b) * out.size)
        if p == NULL:
            return GCU_NOMEM
        out.data = p
        out.cap = a + b
    o = <RangeRec*>out.data
    x = <RangeRec*>early.data
    k = a + b
    while b > 0:
        k -= 1
        if a > 0 and o[a - 1].start > x[b - 1].start:
            o[k] = o[a - 1]
            a -= 1
        else:
            o[k] = x[b - 1]
            b -= 1
    out.n += early.n
    gcu_vec_free(early)
    return GCU_OK


cdef class _GcuBlock:
    """C memory handed to numpy without a copy (through the buffer
    protocol): freed when the last array viewing it goes."""

    cdef char* data
    cdef Py_ssize_t nbytes

    def __dealloc__(self):
        free(self.data)

    def __getbuffer__(self, Py_buffer* view, int flags):
        view.buf = self.data
        view.obj = self
        view.len = self.nbytes
        view.readonly = 0
        view.itemsize = 1
        view.format = NULL
        view.ndim = 1
        view.shape = &self.nbytes
        view.strides = NULL
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer* view):
        pass


cdef object gcu_vec_to_array(GcuVec* v, dtype):
    """A numpy array of ``dtype`` over a growable array's items, which it
    takes over (no copy: large tables are slow to write twice on fresh
    memory)."""
    cdef _GcuBlock block
    cdef char* p
    if v.n == 0:
        gcu_vec_free(v)
        return np.empty(0, dtype=dtype)
    p = <char*>realloc(v.data, v.n * v.size)   # give back the unused tail
    if p != NULL:
        v.data = p
    block = _GcuBlock.__new__(_GcuBlock)
    block.data = v.data
    block.nbytes = <Py_ssize_t>(v.n * v.size)
    v.data = NULL
    v.n = v.cap = 0
    return np.frombuffer(block, dtype=dtype)


cdef class RangePass:
    """Go's ranges (and the heap metrics) of an event table fed piece by
    piece: the pieces of ``iter_generations`` in order, each with its
    ``first_row``, give the rows of ``range_table`` of the whole table
    (ranges in flight carry over from one piece to the next).
    ``finish()`` returns what ``range_table`` does, once."""

    cdef GcuRanges s
    cdef bint done

    def __cinit__(self, bint metrics=False):
        gcu_ranges_init(&self.s, metrics)
        self.done = False

    def __dealloc__(self):
        gcu_ranges_free(&self.s)

    def feed(self, events, int64_t first_row=0):
        """The next rows of the event table; ``first_row``: the row of the
        first one in the whole table (for ``begin_row``/``end_row``)."""
        cdef Py_ssize_t n
        cdef const TraceEventRec* ev = gcu_events_ptr(events, &n)
        cdef int st
        if self.done:
            raise ValueError("RangePass.feed after finish()")
        with nogil:
            st = gcu_ranges_feed(&self.s, ev, n, first_row)
        if st:
            self.done = True
            gcu_ranges_free(&self.s)
            raise MemoryError("out of memory while collecting ranges")

    def finish(self):
        """RANGE_DTYPE rows in order of start (then of the events that
        began them); with ``metrics``, ``(ranges, heap, heap_goal)``."""
        cdef int st
        if self.done:
            raise ValueError("RangePass.finish called twice (or after an error)")
        self.done = True
        with nogil:
            st = gcu_ranges_finish(&self.s)
        if st:
            gcu_ranges_free(&self.s)
            raise MemoryError("out of memory while collecting ranges")
        ranges = gcu_vec_to_array(&self.s.out, RANGE_DTYPE)
        if not self.s.metrics:
            return ranges
        return (ranges, gcu_vec_to_array(&self.s.heap, METRIC_DTYPE),
                gcu_vec_to_array(&self.s.goal, METRIC_DTYPE))


def range_table(events, bint metrics=False):
    """The ranges of an event table (``Trace.events``): RANGE_DTYPE rows in
    order of start (then of the events that began them).  With ``metrics``,
    ``(ranges, heap, heap_goal)``: also the HeapAlloc and HeapGoal metric
    events as METRIC_DTYPE rows (one pass).  See fastrace.analysis.gc."""
    p = RangePass(metrics)
    p.feed(events)
    return p.finish()


# ---------------------------------------------------------------------------
# Mutator utilisation: Go's MutatorUtilizationV2, event by event.

cdef struct GcuProcsCount:
    int64_t time              # ns: when GOMAXPROCS changed
    int64_t n                 # GOMAXPROCS from then on


cdef struct GcuUtil:          # the state of one utilisation pass
    GcuVec* series            # the utilisation functions (MutatorUtilRec items)
    size_t nseries
    size_t cap_series
    int64_t* p_gc             # per P: > 0 while GC work runs on it
    int64_t* p_series         # per P: its series
    size_t nps                # Ps (GOMAXPROCS)
    size_t cap_ps
    size_t gc_ps              # Ps with p_gc > 0
    int64_t stw               # GC stop-the-world ranges in progress
    GcuVec procs              # GcuProcsCount items: GOMAXPROCS over time
    uint8_t* gdense           # goroutine id (< gdense_n) -> GoState | GCU_IN_ASSIST | GCU_BG_MARK
    size_t gdense_n
    HMap gs                   # the same for other ids
    int64_t nsync             # N of the latest Sync event
    int64_t last_time         # time of the last event fed (valid if nevents)
    int64_t nevents           # events fed so far
    int64_t bad_row           # row of the event an error is about (in the events fed)
    int64_t bad_value         # its P (GCU_BAD_PROC) or GOMAXPROCS (GCU_BAD_PROCS)
    bint synced               # every series ends with the utilisation as it is now (no addUtil needed)


cdef enum:
    G_STATE = 0x0F        # goroutine info: its GoState
    GCU_IN_ASSIST = 0x10      # goroutine is in a mark assist (Go's inGC)
    GCU_BG_MARK = 0x20        # goroutine is a background mark worker (Go's bgMark)

# Goroutine ids are handed out in sequence, so most fit a dense table (one
# byte each; 200,000 goroutines take 200 KB and the pass stays in cache,
# where a hash map made it 100 ns an event on the 12 M-event sched trace).
# Ids beyond this go to a hash map.
cdef int64_t G_DENSE_MAX = 1 << 24


cdef int gcu_add_util(GcuVec* v, int64_t time, double util) noexcept nogil:
    # Go's addUtil: record a change; at one time stamp keep the lowest value.
    cdef MutatorUtilRec* last
    cdef MutatorUtilRec* r
    if v.n > 0:
        last = <MutatorUtilRec*>(v.data + (v.n - 1) * v.size)
        if util == last.util:
            return GCU_OK
        if time == last.time:
            if util < last.util:
                last.time = time
                last.util = util
            return GCU_OK
    r = <MutatorUtilRec*>gcu_vec_push(v)
    if r == NULL:
        return GCU_NOMEM
    r.time = time
    r.util = util
    return GCU_OK


cdef int gcu_new_series(GcuUtil* u, int64_t time) noexcept nogil:
    cdef GcuVec* p
    cdef size_t cap
    if u.nseries == u.cap_series:
        cap = u.cap_series * 2 if u.cap_series else 8
        p = <GcuVec*>realloc(u.series, cap * sizeof(GcuVec))
        if p == NULL:
            return GCU_NOMEM
        u.series = p
        u.cap_series = cap
    gcu_vec_init(&u.series[u.nseries], sizeof(MutatorUtilRec))
    u.nseries += 1
    return gcu_add_util(&u.series[u.nseries - 1], time, 1.0)


cdef inline int gcu_proc(GcuUtil* u, const TraceEventRec* e, Py_ssize_t row,
                         int64_t delta) noexcept nogil:
    # Go's ps[ev.Proc()].gc += delta; Go stops with an index error where the
    # event's P is not one of its GOMAXPROCS Ps.
    cdef int64_t p = e.p
    cdef bint was
    if p < 0 or <size_t>p >= u.nps:
        u.bad_row = u.nevents + row
        u.bad_value = p
        return GCU_BAD_PROC
    was = u.p_gc[p] > 0
    u.p_gc[p] += delta
    if was != (u.p_gc[p] > 0):
        if was:
            u.gc_ps -= 1
        else:
            u.gc_ps += 1
    return GCU_OK


cdef inline int64_t gcu_g_info(const GcuUtil* u, int64_t g) noexcept nogil:
    cdef int64_t info
    if 0 <= g < <int64_t>u.gdense_n:
        return u.gdense[g]
    if 0 <= g < G_DENSE_MAX:
        return 0
    return info if hmap_get(&u.gs, <uint64_t>g, &info) else 0


cdef int gcu_set_g_info(GcuUtil* u, int64_t g, int64_t info) noexcept nogil:
    cdef size_t n
    cdef uint8_t* p
    if 0 <= g < G_DENSE_MAX:
        if g >= <int64_t>u.gdense_n:
            n = u.gdense_n * 2 if u.gdense_n else 4096
            while <int64_t>n <= g:
                n *= 2
            p = <uint8_t*>realloc(u.gdense, n)
            if p == NULL:
                return GCU_NOMEM
            memset(p + u.gdense_n, 0, n - u.gdense_n)
            u.gdense = p
            u.gdense_n = n
        u.gdense[g] = <uint8_t>info
        return GCU_OK
    return GCU_NOMEM if hmap_put(&u.gs, <uint64_t>g, info) else GCU_OK


cdef inline bint gcu_executing(int64_t state) noexcept nogil:
    return state == G_RUNNING or state == G_SYSCALL


cdef int gcu_set_procs(GcuUtil* u, const TraceEventRec* e, Py_ssize_t row,
                       bint per_proc) noexcept nogil:
    # A GOMAXPROCS metric: Ps beyond the new count go (ending their series
    # in per-P mode), new ones come with a series starting at 1.
    cdef int64_t gomaxprocs = <int64_t>e.a[0]
    cdef size_t j, want, cap
    cdef int st
    cdef int64_t series
    cdef int64_t* p
    cdef GcuProcsCount* pc
    if gomaxprocs < 0 or gomaxprocs > GCU_MAX_PROCS:
        u.bad_row = u.nevents + row
        u.bad_value = gomaxprocs
        return GCU_BAD_PROCS
    want = <size_t>gomaxprocs
    if u.nps > want:
        for j in range(want, u.nps):
            if per_proc:
                st = gcu_add_util(&u.series[u.p_series[j]], e.time, 0.0)
                if st:
                    return st
            if u.p_gc[j] > 0:
                u.gc_ps -= 1
        u.nps = want
    if want > u.cap_ps:
        cap = want if want > 2 * u.cap_ps else 2 * u.cap_ps
        p = <int64_t*>realloc(u.p_gc, cap * sizeof(int64_t))
        if p == NULL:
            return GCU_NOMEM
        u.p_gc = p
        p = <int64_t*>realloc(u.p_series, cap * sizeof(int64_t))
        if p == NULL:
            return GCU_NOMEM
        u.p_series = p
        u.cap_ps = cap
    while u.nps < want:
        series = 0
        if per_proc or u.nseries == 0:
            series = <int64_t>u.nseries
            st = gcu_new_series(u, e.time)
            if st:
                return st
        u.p_gc[u.nps] = 0
        u.p_series[u.nps] = series
        u.nps += 1
    pc = <GcuProcsCount*>(u.procs.data + (u.procs.n - 1) * u.procs.size) if u.procs.n else NULL
    if pc == NULL or gomaxprocs != pc.n:
        pc = <GcuProcsCount*>gcu_vec_push(&u.procs)
        if pc == NULL:
            return GCU_NOMEM
        pc.time = e.time
        pc.n = gomaxprocs
    return GCU_OK


cdef void gcu_active_fixup(GcuUtil* u) noexcept nogil:
    # A sweep (or a running goroutine's mark assist) in progress since before
    # the trace: Go takes one P's share off everything recorded so far, with
    # the GOMAXPROCS of each moment.
    cdef GcuVec* s0 = &u.series[0]
    cdef MutatorUtilRec* m
    cdef const GcuProcsCount* procs = <const GcuProcsCount*>u.procs.data
    cdef size_t mi = 0, pi = 0
    while mi < s0.n:
        m = <MutatorUtilRec*>(s0.data + mi * s0.size)
        if pi + 1 < u.procs.n and procs[pi + 1].time < m.time:
            pi += 1
            continue
        m.util -= 1.0 / <double>procs[pi].n
        if m.util < 0:
            m.util = 0
        mi += 1


cdef int gcu_util_range(GcuUtil* u, const TraceEventRec* e, Py_ssize_t row,
                        const GcuStrings* strs, int flags) noexcept nogil:
    # A range event in Go's MutatorUtilizationV2.
    cdef bint per_proc = (flags & GCU_UTIL_PER_PROC) != 0
    cdef uint8_t rk = GCU_RKIND[e.type]
    cdef bint is_stw = (flags & GCU_UTIL_STW) != 0 and rk == GCU_R_STW and \
        gcu_str_contains_gc(strs, e.a[1])
    cdef bint is_sweep = (flags & GCU_UTIL_SWEEP) != 0 and rk == GCU_R_SWEEP
    cdef bint is_assist = (flags & GCU_UTIL_ASSIST) != 0 and rk == GCU_R_MARK_ASSIST
    cdef int64_t g, info
    cdef int st
    if e.kind == K_RANGE_ACTIVE:
        if u.nsync > 1:
            # After a whole generation these only repeat what the begin
            # events said.
            return GCU_OK
        # In progress since before the trace: Go charges what it missed to
        # the time recorded so far (a mark assist only if its goroutine is
        # running), then takes the event as a begin.
        if not per_proc and (is_sweep or (is_assist and gcu_executing(
                gcu_g_info(u, e.g) & G_STATE))):
            gcu_active_fixup(u)
    if e.kind != K_RANGE_END:
        if is_stw:
            u.stw += 1
        elif is_sweep:
            return gcu_proc(u, e, row, 1)
        elif is_assist:
            st = gcu_proc(u, e, row, 1)
            if st:
                return st
            g = <int64_t>e.a[0]
            if g != -1:
                return gcu_set_g_info(u, g, gcu_g_info(u, g) | GCU_IN_ASSIST)
    else:
        if is_stw:
            u.stw -= 1
        elif is_sweep:
            return gcu_proc(u, e, row, -1)
        elif is_assist:
            st = gcu_proc(u, e, row, -1)
            if st:
                return st
            g = <int64_t>e.a[0]
            if g != -1:
                info = gcu_g_info(u, g)
                if info & GCU_IN_ASSIST:
                    return gcu_set_g_info(u, g, info & ~GCU_IN_ASSIST)
    return GCU_OK


cdef int gcu_util_other(GcuUtil* u, const TraceEventRec* e, Py_ssize_t row,
                        const GcuStrings* strs, int flags) noexcept nogil:
    # An event of Go's MutatorUtilizationV2 other than a goroutine
    # transition on a dense id (gcu_util_feed's own case), a Sync or a
    # metric.  Where it may change the utilisation it clears u.synced.
    cdef bint per_proc = (flags & GCU_UTIL_PER_PROC) != 0
    cdef int st, cls
    cdef int64_t g, info
    if e.kind == K_RANGE_BEGIN or e.kind == K_RANGE_ACTIVE or e.kind == K_RANGE_END:
        u.synced = 0
        return gcu_util_range(u, e, row, strs, flags)
    if e.kind == K_STATE_TRANSITION:
        if not GCU_PROC_TYPE[e.type]:
            u.synced = 0
            g = <int64_t>e.a[0]
            info = gcu_g_info(u, g)
            if info & (GCU_IN_ASSIST | GCU_BG_MARK):
                if not gcu_executing(e.from_state) and gcu_executing(e.to_state):
                    st = gcu_proc(u, e, row, 1)      # started running while doing GC work
                elif gcu_executing(e.from_state) and not gcu_executing(e.to_state):
                    st = gcu_proc(u, e, row, -1)     # stopped running while doing GC work
                else:
                    st = GCU_OK
                if st:
                    return st
            return gcu_set_g_info(u, g, (info & ~G_STATE) | e.to_state)
    elif e.kind == K_LABEL and (flags & GCU_UTIL_BACKGROUND):
        cls = gcu_label_class(strs, e.a[0])
        # Per P, dedicated workers do not count: they take the whole P,
        # so they delay no goroutine directly.
        if cls == 1 or (cls == 2 and not per_proc):
            u.synced = 0
            st = gcu_set_g_info(u, e.g, gcu_g_info(u, e.g) | GCU_BG_MARK)
            if st:
                return st
            return gcu_proc(u, e, row, 1)
    return GCU_OK


cdef int gcu_util_now(GcuUtil* u, int64_t time, bint per_proc) noexcept nogil:
    # Go's addUtil calls after an event: the utilisation now, in each
    # series.  Sets u.synced when every series then ends with its current
    # value: until the state changes, the same calls would change nothing.
    cdef size_t j
    cdef int st
    cdef int64_t gc_ps
    cdef double util
    cdef const GcuVec* v
    if not per_proc:
        gc_ps = <int64_t>u.nps if u.stw > 0 else <int64_t>u.gc_ps
        util = 1 - <double>gc_ps / <double>(<int64_t>u.nps)
        st = gcu_add_util(&u.series[0], time, util)
        v = &u.series[0]
        u.synced = (<const MutatorUtilRec*>v.data)[v.n - 1].util == util
        return st
    u.synced = 1
    for j in range(u.nps):
        util = 0.0 if (u.stw > 0 or u.p_gc[j] > 0) else 1.0
        v = &u.series[u.p_series[j]]
        st = gcu_add_util(&u.series[u.p_series[j]], time, util)
        if st:
            return st
        if (<const MutatorUtilRec*>v.data)[v.n - 1].util != util:
            u.synced = 0
    return GCU_OK


# Rows asked for this far ahead of the utilisation pass: the pass reads
# every row of a piece just written by the ordering thread, faster than the
# hardware's prefetching brings them (as in _states.pxi).
cdef enum:
    GCU_PREFETCH_ROWS = 32


cdef int gcu_util_feed(const TraceEventRec* ev, Py_ssize_t n, const GcuStrings* strs,
                       int flags, GcuUtil* u) noexcept nogil:
    # The next n events, in order (a whole table, or one piece after another).
    # Most events are goroutine transitions that change nothing but the
    # goroutine's state byte, after which the utilisation is what it was:
    # those take the short way (u.synced: no series needs a point).
    cdef Py_ssize_t i
    cdef const TraceEventRec* e
    cdef bint per_proc = (flags & GCU_UTIL_PER_PROC) != 0
    cdef int st
    cdef uint64_t g
    cdef uint8_t* gi
    cdef uint8_t info
    for i in range(n):
        e = &ev[i]
        prefetch(e + GCU_PREFETCH_ROWS)
        g = e.a[0]
        if e.kind == K_STATE_TRANSITION and not GCU_PROC_TYPE[e.type] and g < u.gdense_n \
                and u.nps != 0:
            gi = &u.gdense[g]
            info = gi[0]
            if info & (GCU_IN_ASSIST | GCU_BG_MARK):
                if not gcu_executing(e.from_state) and gcu_executing(e.to_state):
                    st = gcu_proc(u, e, i, 1)      # started running while doing GC work
                    u.synced = 0
                elif gcu_executing(e.from_state) and not gcu_executing(e.to_state):
                    st = gcu_proc(u, e, i, -1)     # stopped running while doing GC work
                    u.synced = 0
                else:
                    st = GCU_OK
                if st:
                    return st
            gi[0] = <uint8_t>((info & ~G_STATE) | e.to_state)
        elif GCU_UTIL_KIND[e.kind]:
            if e.kind == K_SYNC:
                u.nsync = <int64_t>e.a[0]
            elif e.kind == K_METRIC and e.type == EvProcsChange:
                u.synced = 0
                st = gcu_set_procs(u, e, i, per_proc)
                if st:
                    return st
            if u.nps == 0:
                # Nothing to charge to before the first GOMAXPROCS metric.
                continue
            if e.kind != K_SYNC and e.kind != K_METRIC:
                st = gcu_util_other(u, e, i, strs, flags)
                if st:
                    return st
        # Other kinds change nothing; after every event (once there are
        # Ps) the utilisation goes into the series, where it is not yet.
        if not u.synced and u.nps != 0:
            st = gcu_util_now(u, e.time, per_proc)
            if st:
                return st

    if n > 0:
        u.last_time = ev[n - 1].time
        u.nevents += n
    return GCU_OK


cdef int gcu_util_end(GcuUtil* u) noexcept nogil:
    # Every series ends with utilisation 0 at the last event.
    cdef size_t j
    cdef int st
    if u.nevents == 0:
        return GCU_OK
    for j in range(u.nps):
        st = gcu_add_util(&u.series[u.p_series[j]], u.last_time, 0.0)
        if st:
            return st
    return GCU_OK


cdef void gcu_util_free(GcuUtil* u) noexcept nogil:
    cdef size_t j
    for j in range(u.nseries):
        gcu_vec_free(&u.series[j])
    free(u.series)
    free(u.p_gc)
    free(u.p_series)
    gcu_vec_free(&u.procs)
    hmap_free(&u.gs)
    free(u.gdense)
    memset(u, 0, sizeof(GcuUtil))


cdef class UtilPass:
    """Go's ``MutatorUtilizationV2`` fed with events in order: a whole
    table, or the pieces of :func:`fastrace.iter_generations` one after the
    other (same result, bounded memory).

    ``flags`` are Go's UtilFlags bits (1 stw, 2 background, 4 assist,
    8 sweep, 16 per-P).  ``feed(events, string_data, string_offsets)`` takes
    the next rows of the event table with the trace's string table
    (``strings.data``/``.offsets``, which must hold every string the rows
    use); ``finish()`` returns ``(util, bounds)``: every series'
    MUTATOR_UTIL_DTYPE rows concatenated, series ``i`` being
    ``util[bounds[i]:bounds[i + 1]]``.

    ``feed`` raises ValueError with ``.row`` (the event's row counted from
    the first event fed) where Go's function stops with an index error: GC
    work charged to a P it does not have (e.g. a goroutine doing GC work
    that stops on a P beyond a reduced GOMAXPROCS), or an impossible
    GOMAXPROCS.  The pass cannot go on after an error.
    """

    cdef GcuUtil u
    cdef int flags
    cdef int status

    def __cinit__(self, int flags):
        memset(&self.u, 0, sizeof(GcuUtil))
        gcu_vec_init(&self.u.procs, sizeof(GcuProcsCount))
        self.u.bad_row = -1
        self.flags = flags
        self.status = GCU_OK

    def __dealloc__(self):
        gcu_util_free(&self.u)

    def feed(self, events, string_data, string_offsets):
        cdef Py_ssize_t n
        cdef const TraceEventRec* ev = gcu_events_ptr(events, &n)
        cdef list keep = []
        cdef GcuStrings strs = gcu_strings_of(string_data, string_offsets, keep)
        cdef int st
        if self.status:
            raise ValueError("this utilisation pass stopped at an error")
        with nogil:
            st = gcu_util_feed(ev, n, &strs, self.flags, &self.u)
        self._check(st)

    def finish(self):
        cdef int st
        cdef size_t j, total = 0
        cdef cnp.ndarray out, bounds
        cdef char* dst
        cdef int64_t* b
        if self.status:
            raise ValueError("this utilisation pass stopped at an error")
        st = gcu_util_end(&self.u)
        self._check(st)
        self.status = GCU_NOMEM     # finished: no more feeding
        for j in range(self.u.nseries):
            total += self.u.series[j].n
        out = np.empty(total, dtype=MUTATOR_UTIL_DTYPE)
        bounds = np.empty(self.u.nseries + 1, dtype=np.int64)
        dst = <char*>cnp.PyArray_DATA(out)
        b = <int64_t*>cnp.PyArray_DATA(bounds)
        total = 0
        for j in range(self.u.nseries):
            b[j] = <int64_t>total
            if self.u.series[j].n:
                memcpy(dst + total * sizeof(MutatorUtilRec), self.u.series[j].data,
                       self.u.series[j].n * sizeof(MutatorUtilRec))
            total += self.u.series[j].n
        b[self.u.nseries] = <int64_t>total
        gcu_util_free(&self.u)
        return out, bounds

    cdef int _check(self, int st) except -1:
        self.status = st
        if st == GCU_OK:
            return 0
        if st == GCU_NOMEM:
            raise MemoryError("out of memory while computing mutator utilisation")
        if st == GCU_BAD_PROC:
            err = ValueError(
                f"event {self.u.bad_row} charges GC work to P {self.u.bad_value}, which is not "
                f"one of the trace's {self.u.nps} Ps (GOMAXPROCS) at that point; Go's "
                f"MutatorUtilizationV2 fails there too (index out of range)")
        else:
            err = ValueError(f"event {self.u.bad_row} sets GOMAXPROCS to "
                             f"{self.u.bad_value}: not a real value")
        err.row = self.u.bad_row
        raise err


def mutator_utilization(events, string_data, string_offsets, int flags):
    """Go's ``MutatorUtilizationV2(events, flags)`` over a whole event table:
    ``UtilPass(flags)`` fed with it once; returns ``(util, bounds)``."""
    p = UtilPass(flags)
    p.feed(events, string_data, string_offsets)
    return p.finish()
