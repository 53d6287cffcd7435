# Included by fastrace/_order.pyx (one extension module, so calls
# between these parts stay inlined): Scheduler state: goroutines, Ps, Ms, tasks, pools, and the dependency log of fresh runs.

# ---------------------------------------------------------------------------
# Scheduler state.

cdef struct RangeEntry:
    uint64_t desc             # per-generation string id (STW kind), else 0
    uint8_t typ               # wire type of the range's begin event

cdef struct RegionEntry:
    uint64_t task             # task id
    uint32_t name             # row in the global string table

cdef struct ResourceState:              # a goroutine's or a P's state
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
    uint8_t unknown               # fresh runs: UNK_G / UNK_P while g / p may differ from the
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
    int64_t unknown_slot          # fresh runs: the M whose unknown g / p (unknown) this context holds
    uint8_t unknown

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
    const uint64_t* cpu_stack_id   # stack ids, looked up when a sample is delivered
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
    uint8_t batch_type[256]   # 1: a type this version writes in event batches (cursor_next's
                              # one test per event; set from EVT by _State)


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


cdef inline ResourceState* g_state(OrderState* o, int64_t slot) noexcept nogil:
    return <ResourceState*>(o.gpool.data + slot * sizeof(ResourceState))

cdef inline ResourceState* p_state(OrderState* o, int64_t slot) noexcept nogil:
    return <ResourceState*>(o.ppool.data + slot * sizeof(ResourceState))

cdef inline MState* m_state(OrderState* o, int64_t slot) noexcept nogil:
    return <MState*>(o.mpool.data + slot * sizeof(MState))

cdef inline TaskState* task_state(OrderState* o, int64_t slot) noexcept nogil:
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


cdef inline ResourceState* find_g_raw(OrderState* o, int64_t gid) noexcept nogil:
    cdef int64_t slot
    if map_get(&o.gmap, <uint64_t>gid, &slot):
        return g_state(o, slot)
    return NULL


cdef inline ResourceState* find_p_raw(OrderState* o, int64_t pid) noexcept nogil:
    cdef int64_t slot
    if map_get(&o.pmap, <uint64_t>pid, &slot):
        return p_state(o, slot)
    return NULL


cdef inline ResourceState* find_g(OrderState* o, int64_t gid) noexcept nogil:
    # The direct part of the goroutine map first, written out here (as in
    # id_row, _idmap.pxi, whose use here measured slower): nearly every
    # lookup ends there (find_g_fully has the rest).
    cdef int64_t slot
    if <uint64_t>gid < o.gmap.ndense:
        slot = o.gmap.dense[gid]
        if slot >= 0:
            return g_state(o, slot)
    return find_g_fully(o, gid)


cdef ResourceState* find_g_fully(OrderState* o, int64_t gid) noexcept nogil:
    cdef ResourceState* r = find_g_raw(o, gid)
    if r == NULL and o.fresh:
        dep(o, DEP_G_ABSENT, gid, -1, 0, 0)
    return r


cdef ResourceState* find_p(OrderState* o, int64_t pid) noexcept nogil:
    cdef ResourceState* r = find_p_raw(o, pid)
    if r == NULL and o.fresh:
        dep(o, DEP_P_ABSENT, pid, -1, 0, 0)
    return r


cdef ResourceState* new_res(OrderState* o, Pool* pool, IdMap* m, int64_t id) noexcept nogil:
    cdef int64_t slot = pool_alloc(pool)
    cdef ResourceState* r
    if slot < 0 or map_put(m, <uint64_t>id, slot):
        return NULL
    r = <ResourceState*>(pool.data + slot * sizeof(ResourceState))
    r.id = id
    r.next_free = -1
    return r


cdef void free_res_lists(ResourceState* r) noexcept nogil:
    PyMem_RawFree(r.ranges)
    PyMem_RawFree(r.regions)
    r.ranges = NULL
    r.regions = NULL
    r.nranges = r.cap_ranges = r.nregions = r.cap_regions = 0


cdef void delete_g(OrderState* o, int64_t gid) noexcept nogil:
    cdef int64_t slot
    dep(o, DEP_G_DELETED, gid, -1, 0, 0)
    if map_get(&o.gmap, <uint64_t>gid, &slot):
        free_res_lists(g_state(o, slot))
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
    ms = m_state(o, slot)
    ms.id = mid
    ms.g = NONE
    ms.p = NONE
    # A fresh run does not know what the M was doing when its generation began.
    ms.unknown = UNK_G | UNK_P if o.fresh else 0
    return slot
