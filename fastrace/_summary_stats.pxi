# Included by fastrace/_summary.pxi (itself included by fastrace/_analysis.pyx):
# the summarizer's small containers, a goroutine's times by key (SumKVVec)
# and Go's GoroutineExecStats (SumStats), with what is done to them.

# ---------------------------------------------------------------------------
# Small maps uint32 -> int64 (a goroutine's times by reason or by range
# name: a handful of keys each, so a vector searched linearly).

cdef struct SumKV:
    int64_t val
    uint32_t key
    uint32_t pad

cdef struct SumKVVec:
    SumKV* items
    uint32_t n
    uint32_t cap


cdef inline int64_t sum_kv_find(SumKVVec* v, uint32_t key) noexcept nogil:
    cdef uint32_t i
    for i in range(v.n):
        if v.items[i].key == key:
            return i
    return -1


cdef inline int64_t sum_kv_get(SumKVVec* v, uint32_t key) noexcept nogil:
    cdef int64_t i = sum_kv_find(v, key)
    return v.items[i].val if i >= 0 else 0


cdef int sum_kv_reserve(SumKVVec* v, uint32_t need) noexcept nogil:
    cdef uint32_t cap
    cdef SumKV* items
    if need <= v.cap:
        return SUM_OK
    cap = v.cap * 2 if v.cap else 4
    if cap < need:
        cap = need
    items = <SumKV*>PyMem_RawRealloc(v.items, cap * sizeof(SumKV))
    if items == NULL:
        return SUM_NOMEM
    v.items, v.cap = items, cap
    return SUM_OK


cdef int sum_kv_append(SumKVVec* v, uint32_t key, int64_t val) noexcept nogil:
    """A new key (not in v) with its value."""
    if sum_kv_reserve(v, v.n + 1):
        return SUM_NOMEM
    v.items[v.n].key = key
    v.items[v.n].val = val
    v.items[v.n].pad = 0
    v.n += 1
    return SUM_OK


cdef inline int sum_kv_add(SumKVVec* v, uint32_t key, int64_t delta) noexcept nogil:
    """v[key] += delta, creating the key (Go's map += creates it too)."""
    cdef uint32_t i
    for i in range(v.n):
        if v.items[i].key == key:
            v.items[i].val += delta
            return SUM_OK
    return sum_kv_append(v, key, delta)


cdef int sum_kv_set(SumKVVec* v, uint32_t key, int64_t val) noexcept nogil:
    cdef int64_t i = sum_kv_find(v, key)
    if i >= 0:
        v.items[i].val = val
        return SUM_OK
    return sum_kv_add(v, key, val)


cdef void sum_kv_del(SumKVVec* v, uint32_t key) noexcept nogil:
    cdef int64_t i = sum_kv_find(v, key)
    if i >= 0:
        v.n -= 1
        v.items[i] = v.items[v.n]


cdef int sum_kv_copy(SumKVVec* dst, SumKVVec* src) noexcept nogil:
    """dst = a new copy of src (dst's old contents are not freed)."""
    dst.items, dst.n, dst.cap = NULL, 0, 0
    if src.n == 0:
        return SUM_OK
    if sum_kv_reserve(dst, src.n):
        return SUM_NOMEM
    memcpy(dst.items, src.items, src.n * sizeof(SumKV))
    dst.n = src.n
    return SUM_OK


cdef inline void sum_kv_free(SumKVVec* v) noexcept nogil:
    PyMem_RawFree(v.items)
    v.items, v.n, v.cap = NULL, 0, 0


# ---------------------------------------------------------------------------
# Go's GoroutineExecStats.

cdef struct SumStats:
    int64_t exec              # ns running
    int64_t sched             # ns runnable
    int64_t syscall           # ns in syscalls with a P
    int64_t syscall_block     # ns in syscalls without P
    int64_t total             # ns present (0 = not set yet, as in Go)
    SumKVVec block            # reason string row -> ns waiting
    SumKVVec ranges           # range key -> ns in the range


cdef int sum_stats_copy(SumStats* dst, SumStats* src) noexcept nogil:
    memcpy(dst, src, sizeof(SumStats))
    memset(&dst.block, 0, sizeof(SumKVVec))
    memset(&dst.ranges, 0, sizeof(SumKVVec))
    if sum_kv_copy(&dst.block, &src.block) or sum_kv_copy(&dst.ranges, &src.ranges):
        return SUM_NOMEM
    return SUM_OK


cdef void sum_stats_free(SumStats* s) noexcept nogil:
    sum_kv_free(&s.block)
    sum_kv_free(&s.ranges)


cdef void sum_stats_sub(SumStats* r, SumStats* v) noexcept nogil:
    """r -= v over r's keys (Go's GoroutineExecStats.sub)."""
    cdef uint32_t i
    r.exec -= v.exec
    r.sched -= v.sched
    r.syscall -= v.syscall
    r.syscall_block -= v.syscall_block
    r.total -= v.total
    for i in range(r.block.n):
        r.block.items[i].val -= sum_kv_get(&v.block, r.block.items[i].key)
    for i in range(r.ranges.n):
        r.ranges.items[i].val -= sum_kv_get(&v.ranges, r.ranges.items[i].key)


cdef int64_t sum_stats_block(SumStats* s) noexcept nogil:
    cdef int64_t total = 0
    cdef uint32_t i
    for i in range(s.block.n):
        total += s.block.items[i].val
    return total


cdef int64_t sum_stats_unknown(SumStats* s) noexcept nogil:
    """Go's UnknownTime: total time not in the non-overlapping stats, or 0."""
    cdef int64_t known = s.exec + s.sched + s.syscall + s.syscall_block + sum_stats_block(s)
    return s.total - known if known < s.total else 0
