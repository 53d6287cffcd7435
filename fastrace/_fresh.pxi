# Included by fastrace/_order.pyx (one extension module, so calls
# between these parts stay inlined): Fresh runs (read(workers=N)): counting rows, checking assumptions, merging.

# ---------------------------------------------------------------------------
# Fresh runs: counting a generation's rows, checking and merging a run.

cdef int64_t count_rows(GenIn* gi) noexcept nogil:
    """At most how many rows ordering generation gi gives (each event the
    spec's ``rows``: one, GoSwitch three, GoDestroySyscall two; plus CPU
    samples and the Sync); -1 if an event is malformed (the ordering will
    report it)."""
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
            if not (EVT.flags[typ] & EVF_TIMED):
                return -1
            n = EVT.nargs[typ]
            for i in range(n):
                # Byte by byte: nearly every varint here is one or two bytes
                # long, which the branch predictor handles better than any
                # word-at-a-time trick (measured: 6.3 vs 16.9 ms a generation).
                while p < end and p[0] & 0x80:
                    p += 1
                if p >= end:
                    return -1
                p += 1
            total += EVT.rows[typ]
    return total


cdef inline DepRec* dep_at(OrderState* o, Py_ssize_t i) noexcept nogil:
    return <DepRec*>(o.deps.data + i * sizeof(DepRec))


cdef MState* m_by_id(OrderState* o, int64_t mid) noexcept nogil:
    cdef int64_t slot
    if map_get(&o.mmap, <uint64_t>mid, &slot):
        return m_state(o, slot)
    return NULL


cdef bint ranges_match(DepRec** active, Py_ssize_t nactive, uint64_t kind, int64_t id,
                       ResourceState* r, int64_t* matched) noexcept nogil:
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
    if S.initial_gen == 0:
        # No event ordered yet (the generations before held none): in
        # sequence this generation is the first one, whose rules differ
        # (status events of unknown resources are Undetermined, not
        # NotExist or errors); a fresh run assumes a later one.
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
    cdef ResourceState* r
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
            ms = m_by_id(S, m_state(F, d.id).id)
            if ms != NULL and (((d.a & UNK_G) and ms.g != NONE)
                               or ((d.a & UNK_P) and ms.p != NONE)):
                return False
        elif d.kind == DEP_M_SYSCALL_G:
            ms = m_by_id(S, m_state(F, d.id).id)
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


cdef int take_res(OrderState* S, Pool* pool, IdMap* m, ResourceState* src, int64_t pops) noexcept nogil:
    """Make S's resource src.id the fresh run's src (lists moved over; the
    first nregions - pops regions S had stay below the run's)."""
    cdef ResourceState* r
    cdef int64_t slot
    cdef int32_t keep = 0, n
    cdef RegionEntry* regs
    if map_get(m, <uint64_t>src.id, &slot):
        r = <ResourceState*>(pool.data + slot * sizeof(ResourceState))
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


cdef int merge_fresh(OrderState* S, OrderState* F, IdMap* pops, Py_ssize_t base,
                     Py_ssize_t n) noexcept nogil:
    """Fold fresh run F (checked by check_fresh; its n rows at base in S.out)
    into S: patch the rows to what ordering in sequence writes, then take
    over the run's state."""
    cdef TraceEventRec* rows = <TraceEventRec*>(S.out.data + base * sizeof(TraceEventRec))
    cdef Py_ssize_t i
    cdef DepRec* d
    cdef ResourceState* r
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
            ms = m_by_id(S, m_state(F, d.id).id)
            if d.a & UNK_G:
                rows[d.row].g = ms.g if ms != NULL else NONE
            if d.a & UNK_P:
                rows[d.row].p = <int32_t>(ms.p if ms != NULL else NONE)
        elif d.kind == DEP_TASK_END:
            # The first end of a task S has takes its parent and name and
            # ends it; a later end of the same id then finds no task, as in
            # sequence (the run wrote "no task" for each).
            if map_get(&S.tmap, <uint64_t>d.id, &slot):
                t = task_state(S, slot)
                rows[d.row].a[1] = t.parent
                rows[d.row].a[2] = t.name
                map_del(&S.tmap, <uint64_t>d.id)
                pool_release(&S.tpool, slot)
    rows[0].a[0] = <uint64_t>(S.syncs + 1)
    # Ms, in the order the run met them (the order ordering in sequence
    # creates the new ones in), then the M column.
    remap = <uint32_t*>PyMem_RawMalloc((F.mpool.n + 1) * sizeof(uint32_t))
    if remap == NULL:
        return ST_NOMEM
    remap[0] = 0
    for i in range(F.mpool.n):
        fm = m_state(F, i)
        slot = m_slot(S, fm.id)
        if slot < 0:
            PyMem_RawFree(remap)
            return ST_NOMEM
        remap[i + 1] = <uint32_t>(slot + 1)
        ms = m_state(S, slot)
        if not (fm.unknown & UNK_G):
            ms.g = fm.g
        if not (fm.unknown & UNK_P):
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
    it = 0
    while map_next(&F.gmap, &it, &key, &val):
        r = g_state(F, val)
        if not map_get(pops, <uint64_t>r.id, &k):
            k = 0
        if take_res(S, &S.gpool, &S.gmap, r, k):
            return ST_NOMEM
    it = 0
    while map_next(&F.pmap, &it, &key, &val):
        if take_res(S, &S.ppool, &S.pmap, p_state(F, val), 0):
            return ST_NOMEM
    # Tasks begun in the run and not ended.
    it = 0
    while map_next(&F.tmap, &it, &key, &val):
        t = task_state(F, val)
        slot = pool_alloc(&S.tpool)
        if slot < 0 or map_put(&S.tmap, key, slot):
            return ST_NOMEM
        task_state(S, slot).parent = t.parent
        task_state(S, slot).name = t.name
        task_state(S, slot).next_free = -1
    if F.gc_state != GC_UNDETERMINED:
        S.gc_state = F.gc_state
        S.gc_seq = F.gc_seq
    S.out.n = base + n
    return ST_OK
