# Included by fastrace/_order.pyx (one extension module, so calls
# between these parts stay inlined): Id maps: uint64 ids from the trace -> int64 slots (IdMap, and IdTable for Python).

# ---------------------------------------------------------------------------
# Map uint64 -> int64 (values >= 0) for ids from the trace.  Most ids the
# runtime hands out are small and dense (goroutines, Ps, tasks, strings and
# stacks count up from 0 or 1), so keys below ndense live in a plain array
# indexed by key: one memory access per lookup, which matters on the hot
# path (hundreds of thousands of goroutines).  The array grows to cover a
# new key only while it stays within a few times the number of entries;
# any other key (M ids are OS thread ids, for one) goes to the hash part,
# the package's one hash map (HMap, fastrace/_hashmap.pxd: linear probing,
# backward-shift deletion), so nothing is assumed about the keys a trace
# holds.

from fastrace._hashmap cimport (HMap, hmap_alloc, hmap_del, hmap_free, hmap_get, hmap_hash,
                                hmap_init, hmap_next, hmap_put, hmap_slot)

cdef struct IdMap:
    int64_t* dense            # direct part: value by key, -1 = absent; ndense entries
    uint64_t ndense           # keys below this are in dense, the others in h
    Py_ssize_t ndn            # entries in the direct part
    HMap h                    # hash part: keys >= ndense (fastrace/_hashmap.pxd)


cdef enum:
    DENSE_MIN = 1 << 12       # the direct part may always cover keys below this
    DENSE_PER_ENTRY = 8       # ... and up to this many keys per entry beyond it


cdef inline bint map_get(IdMap* m, uint64_t k, int64_t* v) noexcept nogil:
    cdef int64_t x
    if k < m.ndense:
        x = m.dense[k]
        if x < 0:
            return False
        if v != NULL:
            v[0] = x
        return True
    return hmap_get(&m.h, k, v)


cdef inline bint id_row(IdMap* m, uint64_t k, int64_t* v) noexcept nogil:
    """map_get for the ordering loop's string and stack lookups: the
    direct part, where nearly every id is, written out, and map_get behind
    it (v is set either way).  gcc inlines this where it no longer inlines
    map_get: 1.6% fewer instructions in the loop (callgrind, sched-4mb),
    where making map_get itself small (its hash part behind a call) gave
    4% more.  find_g (_sched.pxi) has its own written-out direct part:
    through id_row it measured 2% more."""
    if k < m.ndense:
        v[0] = m.dense[k]
        return v[0] >= 0
    return map_get(m, k, v)


cdef int dense_grow(IdMap* m, uint64_t k) noexcept nogil:
    """Extend the direct part to cover key k, moving the hash part's keys
    it now covers; ST_OK, or ST_NOMEM with the map unchanged."""
    cdef uint64_t newn = m.ndense * 2 if m.ndense else 64
    cdef int64_t* d
    cdef HMap rest
    cdef size_t it = 0
    cdef uint64_t key
    cdef int64_t val
    while newn <= k:
        newn *= 2
    # The hash part is rebuilt at its size, in its slot order, without the
    # keys the direct part takes over (hmap_put cannot fail then).
    if m.h.n and hmap_alloc(&rest, m.h.cap):
        return ST_NOMEM
    d = <int64_t*>PyMem_RawRealloc(m.dense, newn * sizeof(int64_t))
    if d == NULL:
        if m.h.n:
            hmap_free(&rest)
        return ST_NOMEM
    memset(d + m.ndense, 0xFF, (newn - m.ndense) * sizeof(int64_t))  # -1
    m.dense = d
    m.ndense = newn
    if m.h.n:
        while hmap_next(&m.h, &it, &key, &val):
            if key < newn:
                d[key] = val
                m.ndn += 1
            else:
                hmap_put(&rest, key, val)
        hmap_free(&m.h)
        m.h = rest
    return ST_OK


cdef int map_put(IdMap* m, uint64_t k, int64_t v) noexcept nogil:
    if k >= m.ndense and k < <uint64_t>(DENSE_MIN + DENSE_PER_ENTRY * (<Py_ssize_t>m.h.n + m.ndn + 1)):
        if dense_grow(m, k):
            return ST_NOMEM
    if k < m.ndense:
        if m.dense[k] < 0:
            m.ndn += 1
        m.dense[k] = v
        return ST_OK
    return ST_NOMEM if hmap_put(&m.h, k, v) else ST_OK


cdef void map_del(IdMap* m, uint64_t k) noexcept nogil:
    if k < m.ndense:
        if m.dense[k] >= 0:
            m.dense[k] = -1
            m.ndn -= 1
        return
    hmap_del(&m.h, k)


cdef bint map_next(IdMap* m, Py_ssize_t* it, uint64_t* k, int64_t* v) noexcept nogil:
    """Iterate over the entries (it starts at 0): direct part, then hash."""
    cdef Py_ssize_t i = it[0]
    cdef size_t hit
    while <uint64_t>i < m.ndense:
        i += 1
        if m.dense[i - 1] >= 0:
            it[0] = i
            k[0] = <uint64_t>(i - 1)
            v[0] = m.dense[i - 1]
            return True
    hit = <size_t>(<uint64_t>i - m.ndense)
    if hmap_next(&m.h, &hit, k, v):
        it[0] = <Py_ssize_t>(m.ndense + hit)
        return True
    it[0] = <Py_ssize_t>(m.ndense + hit)
    return False


cdef void map_free(IdMap* m) noexcept nogil:
    PyMem_RawFree(m.dense)
    hmap_free(&m.h)
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
        return self.m.h.n + self.m.ndn


def _hashmap_selftest(ops):
    """Run ``ops`` on one fresh HMap (fastrace/_hashmap.pxd) and return one
    result per operation, for tests/test_hashmap.py to compare with a dict.

    Each op is a tuple (name, key, value); keys are uint64, values int64:

    - ("put", k, v): hmap_put; None.
    - ("slot", k, init): hmap_slot; the value now held (init if k was new).
    - ("get", k, 0): hmap_get; the value, or None if absent.
    - ("del", k, 0): hmap_del; True if k was present.
    - ("len", 0, 0): entries held.
    - ("items", 0, 0): [(k, v), ...] from hmap_next, in slot order.
    - ("hash", k, 0): hmap_hash(k), the home slot before masking.
    - ("cap", 0, 0): slots allocated.
    - ("check", 0, 0): None after checking the table's invariants: n equals
      the full slots, at most half are full, the capacity is a power of two
      and every entry is found from its home slot without crossing an
      empty one (what backward-shift deletion must preserve).
    """
    cdef HMap m
    cdef int64_t v
    cdef int64_t* p
    cdef uint64_t k, key
    cdef size_t it, i, j, full
    out = []
    hmap_init(&m)
    try:
        for name, k, val in ops:
            if name == "put":
                if hmap_put(&m, k, <int64_t>val):
                    raise MemoryError()
                out.append(None)
            elif name == "slot":
                p = hmap_slot(&m, k, <int64_t>val)
                if p == NULL:
                    raise MemoryError()
                out.append(p[0])
            elif name == "get":
                out.append(v if hmap_get(&m, k, &v) else None)
            elif name == "del":
                out.append(bool(hmap_del(&m, k)))
            elif name == "len":
                out.append(m.n)
            elif name == "items":
                it = 0
                items = []
                while hmap_next(&m, &it, &key, &v):
                    items.append((key, v))
                out.append(items)
            elif name == "hash":
                out.append(hmap_hash(k))
            elif name == "cap":
                out.append(m.cap)
            elif name == "check":
                full = 0
                if m.cap & (m.cap - 1):
                    raise AssertionError(f"capacity {m.cap} is not a power of two")
                for i in range(m.cap):
                    if not m.slots[i].full:
                        continue
                    full += 1
                    j = hmap_hash(m.slots[i].key) & (m.cap - 1)
                    while j != i:
                        if not m.slots[j].full:
                            raise AssertionError(f"key {m.slots[i].key} in slot {i} is "
                                                 f"cut off from its home by empty slot {j}")
                        j = (j + 1) & (m.cap - 1)
                if full != m.n or m.n * 2 > m.cap:
                    raise AssertionError(f"{full} full slots, n = {m.n}, cap = {m.cap}")
                out.append(None)
            else:
                raise ValueError(f"unknown operation {name!r}")
    finally:
        hmap_free(&m)
    return out
