# Included by fastrace/_order.pyx (one extension module, so calls
# between these parts stay inlined): Id maps: uint64 ids from the trace -> int64 slots (IdMap, and IdTable for Python).

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
