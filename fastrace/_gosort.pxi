# Included by fastrace/_order.pyx (one extension module, so calls
# between these parts stay inlined): Go's pattern-defeating quicksort, for ties exactly as Go's reader leaves them.

# ---------------------------------------------------------------------------
# Go's unstable sort (pattern-defeating quicksort, as in Go's slices.SortFunc).
# Go's reader sorts the frontier and the CPU samples with it; where times
# are equal, the order it leaves decides the event order, so fastrace runs
# the same algorithm step for step.  Items are int32 ids ordered by key[id].

cdef struct GoSort:
    int32_t* d                # the items being sorted
    const int64_t* key        # key of each item id


cdef inline bint gs_less(GoSort* s, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    return s.key[s.d[i]] < s.key[s.d[j]]


cdef inline void gs_swap(GoSort* s, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    cdef int32_t t = s.d[i]
    s.d[i] = s.d[j]
    s.d[j] = t


cdef void gs_insertion(GoSort* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t i, j
    for i in range(a + 1, b):
        j = i
        while j > a and gs_less(s, j, j - 1):
            gs_swap(s, j, j - 1)
            j -= 1


cdef void gs_sift_down(GoSort* s, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t first) noexcept nogil:
    cdef Py_ssize_t root = lo, child
    while True:
        child = 2 * root + 1
        if child >= hi:
            return
        if child + 1 < hi and gs_less(s, first + child, first + child + 1):
            child += 1
        if not gs_less(s, first + root, first + child):
            return
        gs_swap(s, first + root, first + child)
        root = child


cdef void gs_heapsort(GoSort* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t hi = b - a, i
    i = (hi - 1) // 2
    while i >= 0:
        gs_sift_down(s, i, hi, a)
        i -= 1
    i = hi - 1
    while i >= 0:
        gs_swap(s, a, a + i)
        gs_sift_down(s, 0, i, a)
        i -= 1


cdef Py_ssize_t gs_order2(GoSort* s, Py_ssize_t* x, Py_ssize_t* y, int* swaps) noexcept nogil:
    cdef Py_ssize_t t
    if gs_less(s, y[0], x[0]):
        swaps[0] += 1
        t = x[0]
        x[0] = y[0]
        y[0] = t
    return 0


cdef Py_ssize_t gs_median(GoSort* s, Py_ssize_t a, Py_ssize_t b, Py_ssize_t c,
                          int* swaps) noexcept nogil:
    gs_order2(s, &a, &b, swaps)
    gs_order2(s, &b, &c, swaps)
    gs_order2(s, &a, &b, swaps)
    return b


cdef enum SortedHint:
    HINT_UNKNOWN = 0
    HINT_INCREASING = 1
    HINT_DECREASING = 2


cdef Py_ssize_t gs_choose_pivot(GoSort* s, Py_ssize_t a, Py_ssize_t b, int* hint) noexcept nogil:
    cdef Py_ssize_t l = b - a
    cdef int swaps = 0
    cdef Py_ssize_t i = a + l // 4 * 1, j = a + l // 4 * 2, k = a + l // 4 * 3
    if l >= 8:
        if l >= 50:
            i = gs_median(s, i - 1, i, i + 1, &swaps)
            j = gs_median(s, j - 1, j, j + 1, &swaps)
            k = gs_median(s, k - 1, k, k + 1, &swaps)
        j = gs_median(s, i, j, k, &swaps)
    if swaps == 0:
        hint[0] = HINT_INCREASING
    elif swaps == 12:
        hint[0] = HINT_DECREASING
    else:
        hint[0] = HINT_UNKNOWN
    return j


cdef void gs_reverse(GoSort* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t i = a, j = b - 1
    while i < j:
        gs_swap(s, i, j)
        i += 1
        j -= 1


cdef bint gs_partial_insertion(GoSort* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t i = a + 1, j
    cdef int step
    for step in range(5):
        while i < b and not gs_less(s, i, i - 1):
            i += 1
        if i == b:
            return True
        if b - a < 50:
            return False
        gs_swap(s, i, i - 1)
        if i - a >= 2:
            j = i - 1
            while j >= 1:
                if not gs_less(s, j, j - 1):
                    break
                gs_swap(s, j, j - 1)
                j -= 1
        if b - i >= 2:
            j = i + 1
            while j < b:
                if not gs_less(s, j, j - 1):
                    break
                gs_swap(s, j, j - 1)
                j += 1
    return False


cdef inline int bit_len(uint64_t x) noexcept nogil:
    cdef int n = 0
    while x:
        n += 1
        x >>= 1
    return n


cdef void gs_break_patterns(GoSort* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t length = b - a, idx, other
    cdef uint64_t r, modulus
    if length >= 8:
        r = <uint64_t>length
        modulus = (<uint64_t>1) << bit_len(<uint64_t>length)
        idx = a + (length // 4) * 2 - 1
        while idx <= a + (length // 4) * 2 + 1:
            r ^= r << 13
            r ^= r >> 7
            r ^= r << 17
            other = <Py_ssize_t>(r & (modulus - 1))
            if other >= length:
                other -= length
            gs_swap(s, idx, a + other)
            idx += 1


cdef Py_ssize_t gs_partition(GoSort* s, Py_ssize_t a, Py_ssize_t b, Py_ssize_t pivot,
                             bint* already) noexcept nogil:
    cdef Py_ssize_t i = a + 1, j = b - 1
    gs_swap(s, a, pivot)
    while i <= j and gs_less(s, i, a):
        i += 1
    while i <= j and not gs_less(s, j, a):
        j -= 1
    if i > j:
        gs_swap(s, j, a)
        already[0] = True
        return j
    gs_swap(s, i, j)
    i += 1
    j -= 1
    while True:
        while i <= j and gs_less(s, i, a):
            i += 1
        while i <= j and not gs_less(s, j, a):
            j -= 1
        if i > j:
            break
        gs_swap(s, i, j)
        i += 1
        j -= 1
    gs_swap(s, j, a)
    already[0] = False
    return j


cdef Py_ssize_t gs_partition_equal(GoSort* s, Py_ssize_t a, Py_ssize_t b,
                                   Py_ssize_t pivot) noexcept nogil:
    cdef Py_ssize_t i = a + 1, j = b - 1
    gs_swap(s, a, pivot)
    while True:
        while i <= j and not gs_less(s, a, i):
            i += 1
        while i <= j and gs_less(s, a, j):
            j -= 1
        if i > j:
            break
        gs_swap(s, i, j)
        i += 1
        j -= 1
    return i


cdef void gs_pdqsort(GoSort* s, Py_ssize_t a, Py_ssize_t b, int limit) noexcept nogil:
    cdef bint balanced = True, partitioned = True, already
    cdef Py_ssize_t length, pivot, mid, left, right
    cdef int hint
    while True:
        length = b - a
        if length <= 12:
            gs_insertion(s, a, b)
            return
        if limit == 0:
            gs_heapsort(s, a, b)
            return
        if not balanced:
            gs_break_patterns(s, a, b)
            limit -= 1
        pivot = gs_choose_pivot(s, a, b, &hint)
        if hint == HINT_DECREASING:
            gs_reverse(s, a, b)
            pivot = (b - 1) - (pivot - a)
            hint = HINT_INCREASING
        if balanced and partitioned and hint == HINT_INCREASING:
            if gs_partial_insertion(s, a, b):
                return
        if a > 0 and not gs_less(s, a - 1, pivot):
            a = gs_partition_equal(s, a, b, pivot)
            continue
        mid = gs_partition(s, a, b, pivot, &already)
        partitioned = already
        left = mid - a
        right = b - mid
        if left < right:
            balanced = left >= length // 8
            gs_pdqsort(s, a, mid, limit)
            a = mid + 1
        else:
            balanced = right >= length // 8
            gs_pdqsort(s, mid + 1, b, limit)
            b = mid


cdef void go_sort(int32_t* items, const int64_t* key, Py_ssize_t n) noexcept nogil:
    cdef GoSort s
    s.d = items
    s.key = key
    gs_pdqsort(&s, 0, n, bit_len(<uint64_t>n))


def go_sort_order(keys):
    """The permutation Go's slices.SortFunc leaves on int64 keys (for tests
    and for sorting CPU samples as Go's reader does)."""
    cdef const int64_t[::1] k = np.ascontiguousarray(keys, dtype=np.int64)
    cdef cnp.ndarray out = np.arange(k.shape[0], dtype=np.int32)
    cdef int32_t[::1] o = out
    if k.shape[0]:
        with nogil:
            go_sort(&o[0], &k[0], k.shape[0])
    return out
