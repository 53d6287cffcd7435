# cython: language_level=3
#
# The one hash map of the C code: uint64 key -> int64 value, open addressing
# with linear probing, in C-level inline functions (no GIL, no exceptions)
# that every extension module cimports:
#
#     from fastrace._hashmap cimport HMap, hmap_init, hmap_get, ...
#
# Users: the hash part of the ordering engine's id maps (IdMap,
# _idmap.pxi), the summaries' maps (_summary.pxi), the goroutine index of
# the state passes (_states.pxi) and the range and goroutine maps of the GC
# passes (_gcutil.pxi).  Keys are any uint64 (0 and 2**64-1 included): a
# slot's ``full`` byte says whether it holds an entry, no key value is
# reserved.  Signed keys are stored as their two's-complement uint64.
#
# A slot holds key, value and flag together, so a probe reads one cache line
# (the four maps this replaced kept three parallel arrays: three lines); on
# the 27 MB sched trace the summary pass runs 17% fewer instructions with it
# (callgrind), the ordering and the other passes the same or fewer.
#
# Deletion shifts later entries of the probe run back (no tombstones), so a
# lookup never walks over dead slots and many deletions (syscalls, ranges
# and goroutines come and go) never fill the table.  It keeps at most half
# of its slots full and doubles when an insertion would pass that.
#
# Behaviour that users may depend on: the slots are visited by hmap_next in
# slot order, and the layout follows only from the sequence of operations
# (the hash, HMAP_MIN_CAP, the half-full rule and rehashing in old slot
# order are fixed), so iterating a map built the same way gives the same
# order every time.  IdMap's merge of fresh state (_fresh.pxi) iterates.

from cpython.mem cimport PyMem_RawCalloc, PyMem_RawFree
from libc.stdint cimport uint8_t, uint64_t, int64_t
from libc.string cimport memset


cdef struct HSlot:                  # one slot of an HMap (24 bytes)
    uint64_t key              # the entry's key; meaningless where full == 0
    int64_t val               # the entry's value
    uint8_t full              # 1 = holds an entry, 0 = empty


cdef struct HMap:                   # uint64 -> int64 (zero-filled = empty map)
    HSlot* slots              # cap slots; NULL while cap == 0
    size_t cap                # slots: 0 (nothing allocated yet) or a power of two >= HMAP_MIN_CAP
    size_t n                  # entries held; n * 2 <= cap


cdef enum:
    HMAP_MIN_CAP = 16         # slots of the first allocation
    HMAP_OK = 0               # status: done
    HMAP_NOMEM = -1           # status: out of memory, the map unchanged


cdef inline size_t hmap_hash(uint64_t k) noexcept nogil:
    """Home slot of k before masking: half of MurmurHash3's 64-bit
    finaliser (one multiply), enough to spread ids that count up, thread
    ids and keys that differ only in their high bits."""
    k ^= k >> 33
    k *= <uint64_t>0xff51afd7ed558ccdULL
    k ^= k >> 33
    return <size_t>k


cdef inline void hmap_init(HMap* m) noexcept nogil:
    """An empty map that holds no memory yet."""
    memset(m, 0, sizeof(HMap))


cdef inline int hmap_alloc(HMap* m, size_t cap) noexcept nogil:
    """An empty map of ``cap`` slots (a power of two >= HMAP_MIN_CAP): up to
    cap / 2 entries go in without allocating.  HMAP_OK or HMAP_NOMEM (then
    m is an empty map holding no memory)."""
    m.n = 0
    m.slots = <HSlot*>PyMem_RawCalloc(cap, sizeof(HSlot))
    m.cap = cap if m.slots != NULL else 0
    return HMAP_OK if m.slots != NULL else HMAP_NOMEM


cdef inline void hmap_free(HMap* m) noexcept nogil:
    """Release the slots; m is an empty map again."""
    PyMem_RawFree(m.slots)
    memset(m, 0, sizeof(HMap))


cdef inline HSlot* hmap_probe(const HMap* m, uint64_t k) noexcept nogil:
    """The slot holding k, or the empty slot where k would go (m.cap > 0)."""
    cdef size_t mask = m.cap - 1
    cdef size_t i = hmap_hash(k) & mask
    while m.slots[i].full and m.slots[i].key != k:
        i = (i + 1) & mask
    return &m.slots[i]


cdef inline int64_t* hmap_find(const HMap* m, uint64_t k) noexcept nogil:
    """Pointer to k's value, or NULL if k is absent.  Valid until the next
    insertion or deletion."""
    cdef HSlot* s
    if m.cap == 0:
        return NULL
    s = hmap_probe(m, k)
    return &s.val if s.full else NULL


cdef inline bint hmap_get(const HMap* m, uint64_t k, int64_t* v) noexcept nogil:
    """True if k is present, its value then stored in v[0] (v may be NULL)."""
    cdef int64_t* p = hmap_find(m, k)
    if p == NULL:
        return False
    if v != NULL:
        v[0] = p[0]
    return True


cdef inline int64_t hmap_value(const HMap* m, uint64_t k, int64_t absent) noexcept nogil:
    """k's value, or ``absent`` if k is not in the map."""
    cdef int64_t* p = hmap_find(m, k)
    return absent if p == NULL else p[0]


cdef inline int hmap_resize(HMap* m, size_t cap) noexcept nogil:
    """Move every entry to a table of ``cap`` slots (a power of two, at
    least twice the entries), taking the old slots in order.  HMAP_OK, or
    HMAP_NOMEM with m unchanged."""
    cdef HMap old = m[0]
    cdef HSlot* s
    cdef size_t i
    if hmap_alloc(m, cap):
        m[0] = old
        return HMAP_NOMEM
    for i in range(old.cap):
        if old.slots[i].full:
            s = hmap_probe(m, old.slots[i].key)
            s[0] = old.slots[i]
    m.n = old.n
    PyMem_RawFree(old.slots)
    return HMAP_OK


cdef inline int64_t* hmap_slot(HMap* m, uint64_t k, int64_t init) noexcept nogil:
    """Pointer to k's value, k first inserted with value ``init`` if absent
    (the caller can tell a new entry by an init no entry holds); NULL when
    out of memory (m unchanged).  Valid until the next insertion or
    deletion.  The table grows before the probe whenever one more entry
    would fill more than half of it, present or not."""
    cdef HSlot* s
    if (m.n + 1) * 2 > m.cap:
        if hmap_resize(m, m.cap * 2 if m.cap else HMAP_MIN_CAP):
            return NULL
    s = hmap_probe(m, k)
    if not s.full:
        s.full = 1
        s.key = k
        s.val = init
        m.n += 1
    return &s.val


cdef inline int hmap_put(HMap* m, uint64_t k, int64_t v) noexcept nogil:
    """Set k's value to v.  HMAP_OK, or HMAP_NOMEM with m unchanged."""
    cdef int64_t* p = hmap_slot(m, k, v)
    if p == NULL:
        return HMAP_NOMEM
    p[0] = v
    return HMAP_OK


cdef inline bint hmap_del(HMap* m, uint64_t k) noexcept nogil:
    """Remove k; True if it was present.  The hole left is filled by
    shifting back the later entries of the same probe run that may live
    there (those whose home slot is not cyclically in (hole, their slot]),
    until an empty slot ends the run."""
    cdef size_t mask, i, j, h
    cdef HSlot* s
    if m.cap == 0:
        return False
    s = hmap_probe(m, k)
    if not s.full:
        return False
    mask = m.cap - 1
    i = <size_t>(s - m.slots)
    j = i
    m.n -= 1
    while True:
        j = (j + 1) & mask
        if not m.slots[j].full:
            m.slots[i].full = 0
            return True
        h = hmap_hash(m.slots[j].key) & mask
        # An entry whose home h is cyclically in (i, j] stays: in the hole
        # it would stand before its home, where lookups never go.
        if (i < h and h <= j) if i < j else (i < h or h <= j):
            continue
        # Its probe run passed the hole: move it there; the hole moves to j.
        m.slots[i] = m.slots[j]
        i = j


cdef inline bint hmap_next(const HMap* m, size_t* it, uint64_t* k, int64_t* v) noexcept nogil:
    """Iterate over the entries in slot order: start with it[0] = 0; each
    call stores the next entry in k[0], v[0] and returns True, or returns
    False at the end.  The map must not change during the iteration."""
    cdef size_t i = it[0]
    while i < m.cap:
        i += 1
        if m.slots[i - 1].full:
            it[0] = i
            k[0] = m.slots[i - 1].key
            v[0] = m.slots[i - 1].val
            return True
    it[0] = i
    return False
