# Included by _analysis.pyx: the lives of the AllocFree experiment's heap
# slots, spans and stacks.  Each start (exists or alloc event) is matched
# with the free that ends its life in one pass over the events in the order
# the runtime wrote them, with a hash map of the keys (slot, span or stack
# address) whose life is open.  The numpy version it replaced sorted the
# events by (key, order) and took 1.75 s for the 8 M object events of a
# 61 MB trace.

from fastrace._hashmap cimport HMap, hmap_del, hmap_free, hmap_get, hmap_init, hmap_put


def pair_lives(keys, written, is_free, bint shared):
    """Match starts with frees of the same key: ``keys`` (uint64, one per
    event), ``written`` (int64: the events' positions in the order the
    runtime wrote them, a permutation of ``0 .. n-1``), ``is_free`` (bool:
    a free, else a start).

    Returns ``(free_of, start_of, prev)`` (int64, -1 = none): for each
    start, the free ending its life; for each free, the start it ends; for
    each start, a start of the same key still open when it happened.  With
    ``shared`` (heap slots: a tiny block takes several allocations), a
    start into an open key joins that life: every start of it gets its
    free, and the free is paired with the start that opened it.  Without
    (spans and stacks), a start into an open key replaces it (its free was
    lost): the free is paired with the last start."""
    cdef cnp.ndarray k_arr = np.ascontiguousarray(keys, dtype=np.uint64)
    cdef cnp.ndarray w_arr = np.ascontiguousarray(written, dtype=np.int64)
    cdef cnp.ndarray f_arr = np.ascontiguousarray(is_free, dtype=np.bool_)
    cdef Py_ssize_t n = k_arr.shape[0], j
    if k_arr.ndim != 1 or w_arr.ndim != 1 or f_arr.ndim != 1 \
            or w_arr.shape[0] != n or f_arr.shape[0] != n:
        raise ValueError("pair_lives: keys, written and is_free must be 1-d arrays of one length")
    cdef cnp.ndarray free_arr = np.full(n, -1, np.int64)
    cdef cnp.ndarray start_arr = np.full(n, -1, np.int64)
    cdef cnp.ndarray prev_arr = np.full(n, -1, np.int64)
    # Members of an open shared life, chained from the start that opened
    # it (link), and the last one (tail, at the opener's row).
    cdef cnp.ndarray link_arr = np.full(n if shared else 0, -1, np.int64)
    cdef cnp.ndarray tail_arr = np.full(n if shared else 0, -1, np.int64)
    cdef cnp.ndarray seen_arr = np.zeros(n, np.uint8)
    cdef const uint64_t* key = <const uint64_t*>cnp.PyArray_DATA(k_arr)
    cdef const int64_t* order = <const int64_t*>cnp.PyArray_DATA(w_arr)
    cdef const uint8_t* free_ = <const uint8_t*>cnp.PyArray_DATA(f_arr)
    cdef int64_t* free_of = <int64_t*>cnp.PyArray_DATA(free_arr)
    cdef int64_t* start_of = <int64_t*>cnp.PyArray_DATA(start_arr)
    cdef int64_t* prev = <int64_t*>cnp.PyArray_DATA(prev_arr)
    cdef int64_t* link = <int64_t*>cnp.PyArray_DATA(link_arr)
    cdef int64_t* tail = <int64_t*>cnp.PyArray_DATA(tail_arr)
    cdef uint8_t* seen = <uint8_t*>cnp.PyArray_DATA(seen_arr)
    cdef HMap open_
    cdef int64_t r, s, m
    cdef int st = 0                      # 1: out of memory, 2: not a permutation
    hmap_init(&open_)
    with nogil:
        for j in range(n):
            r = order[j]
            if r < 0 or r >= n or seen[r]:
                st = 2
                break
            seen[r] = 1
            if free_[r]:
                if hmap_get(&open_, key[r], &s):
                    start_of[r] = s
                    if shared:
                        m = s
                        while m >= 0:
                            free_of[m] = r
                            m = link[m]
                    else:
                        free_of[s] = r
                    hmap_del(&open_, key[r])
            elif hmap_get(&open_, key[r], &s):
                prev[r] = s
                if shared:
                    link[tail[s]] = r    # joins the life s opened
                    tail[s] = r
                elif hmap_put(&open_, key[r], r):
                    st = 1
                    break
            else:
                if shared:
                    tail[r] = r
                if hmap_put(&open_, key[r], r):
                    st = 1
                    break
    hmap_free(&open_)
    if st == 1:
        raise MemoryError("pair_lives: out of memory")
    if st == 2:
        raise ValueError("pair_lives: written must be a permutation of 0 .. n-1")
    return free_arr, start_arr, prev_arr
