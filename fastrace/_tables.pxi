# Included by _varint.pyx: the memory of the growable tables (Growable, declared
# in _varint.pxd) that every stage fills: growth (heap below MAP_THRESHOLD, an
# anonymous mapping with huge pages above it), release, and the hand-over of a
# table to numpy without a copy (adopt, with a Recycler for iter_generations).


# (mmap and friends: declared in _varint.pxd.)

# Tables above this size live in their own memory mapping with transparent
# huge pages requested: they are written once, front to back, and with 4 KiB
# pages the kernel's first-touch page clearing costs more than the decoding
# (measured: 770 MB touched in 0.35-1.0 s with 4 KiB pages, 0.10 s with huge
# pages).  Growth then uses mremap, which moves no data.
cdef size_t MAP_THRESHOLD = 2 << 20


cdef int grow(Growable* g) noexcept nogil:
    """Double g's capacity.  Returns 0, or -1 when out of memory."""
    return grow_to(g, g.cap * 2 if g.cap else 64)


# Times a table moved to, or grew in, its own mapping (for the tests: a
# racy counter, as threads grow their tables without the GIL; a lower bound).
cdef Py_ssize_t _mapped_growths = 0


def mapped_growths():
    """How many times a table has moved into, or grown in, its own memory
    mapping in this process (the path of tables above MAP_THRESHOLD)."""
    return _mapped_growths


cdef int grow_to(Growable* g, Py_ssize_t newcap) noexcept nogil:
    """Make room for ``newcap`` records (no-op if there is).  Returns 0, or
    -1 when out of memory.  Above MAP_THRESHOLD the room is only reserved
    address space: pages are backed when first written."""
    cdef size_t oldbytes = <size_t>(g.cap * g.size)
    cdef size_t newbytes
    cdef char* p
    if newcap <= g.cap:
        return 0
    if g.fixed:
        return -1
    if newcap > (<Py_ssize_t>1 << 62) // g.size:
        return -1
    newbytes = <size_t>(newcap * g.size)
    global _mapped_growths
    if g.mapped:
        p = <char*>mremap(g.data, oldbytes, newbytes, MREMAP_MAYMOVE)
        if <void*>p == MAP_FAILED:
            return -1
        madvise(p, newbytes, MADV_HUGEPAGE)
        _mapped_growths += 1
    elif newbytes >= MAP_THRESHOLD:
        p = <char*>mmap(NULL, newbytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        if <void*>p == MAP_FAILED:
            return -1
        madvise(p, newbytes, MADV_HUGEPAGE)
        if g.n:
            memcpy(p, g.data, <size_t>(g.n * g.size))
        PyMem_RawFree(g.data)
        g.mapped = True
        _mapped_growths += 1
    else:
        p = <char*>PyMem_RawRealloc(g.data, newbytes)
        if p == NULL:
            return -1
    g.data = p
    g.cap = newcap
    return 0


cdef void release(Growable* g) noexcept nogil:
    """Free g's memory (whichever allocator holds it) and empty it."""
    if g.data != NULL:
        if g.mapped:
            munmap(g.data, <size_t>(g.cap * g.size))
        else:
            PyMem_RawFree(g.data)
    g.data = NULL
    g.n = 0
    g.cap = 0
    g.mapped = False


cdef class _Owner:
    """Keeps a table's C memory alive while a numpy array views it; frees it
    after (or hands it to its Recycler)."""
    cdef Growable g
    cdef Recycler recycler

    def __dealloc__(self):
        if self.recycler is None or not self.recycler.offer(&self.g):
            release(&self.g)


cdef class Recycler:

    cdef bint offer(self, Growable* g) noexcept:
        """Take g's memory if it is a mapping and no other is kept."""
        if self.spare.data != NULL or not g.mapped:
            return False
        self.spare = g[0]
        self.spare.n = 0
        g.data = NULL
        g.n = g.cap = 0
        g.mapped = False
        return True

    cdef void reuse(self, Growable* g) noexcept:
        """Give the kept memory to an empty g (which keeps its record size)."""
        cdef Py_ssize_t size = g.size
        if self.spare.data == NULL or g.data != NULL or self.spare.size * self.spare.cap < size:
            return
        g.data = self.spare.data
        g.cap = self.spare.size * self.spare.cap // size
        g.n = 0
        g.mapped = True
        self.spare.data = NULL
        self.spare.cap = 0

    def __dealloc__(self):
        release(&self.spare)


cdef object adopt(Growable* g, object dtype, Recycler recycler=None):
    """Hand g's records to a new numpy array without copying; g is emptied.
    With a recycler, g's memory goes to it when numpy is done with it."""
    cdef cnp.npy_intp dims[1]
    cdef char* p
    cdef _Owner owner
    cdef cnp.dtype descr = np.dtype(dtype)
    if g.n == 0:
        release(g)
        return np.empty(0, dtype=dtype)
    if g.n < g.cap:
        # Give back the unused tail (in place for both allocators).
        if g.mapped:
            p = <char*>mremap(g.data, <size_t>(g.cap * g.size), <size_t>(g.n * g.size), 0)
        else:
            p = <char*>PyMem_RawRealloc(g.data, <size_t>(g.n * g.size))
        if p != NULL and <void*>p != MAP_FAILED:
            g.data = p
            g.cap = g.n
    dims[0] = g.n
    Py_INCREF(descr)  # PyArray_NewFromDescr steals a reference
    arr = PyArray_NewFromDescr(
        &PyArray_Type, descr, 1, dims, NULL, g.data, cnp.NPY_ARRAY_CARRAY, None)
    owner = _Owner.__new__(_Owner)
    owner.g = g[0]
    owner.recycler = recycler
    g.data = NULL
    g.n = 0
    g.cap = 0
    g.mapped = False
    cnp.set_array_base(arr, owner)
    return arr
