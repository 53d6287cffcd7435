# Included by fastrace/_analysis.pyx, after _gcutil.pxi (whose utilisation
# series it reads: MutatorUtilRec rows).
#
# Go's MMUCurve (internal/trace/gc.go) over a utilisation series: the
# minimum mutator utilisation for given windows, computed in the same bands,
# order of refinement and arithmetic as Go, so the floating-point results
# agree.  C-level names start with gcu_/Gcu like those of _gcutil.pxi.

from libc.stdlib cimport malloc, free, calloc

# ---------------------------------------------------------------------------
# Go's MMUCurve: minimum mutator utilisation over windows, exactly as gc.go
# computes it (same bands, same order of refinement, same arithmetic), so
# that the floating-point results agree.

cdef struct GcuIntegrator:    # a position in a series, and the integral up to it
    Py_ssize_t pos            # index of the current time's non-strict predecessor


cdef struct GcuBand:          # summary of one band of a series
    double min_util           # lowest utilisation that starts inside the band
    double cum_util           # integral of the utilisation (ns) up to the band's left edge
    Py_ssize_t pos            # integrator position at the left edge


cdef struct GcuSeries:
    const MutatorUtilRec* util
    Py_ssize_t n              # points (>= 1)
    double* sums              # sums[j]: integral of the utilisation up to util[j].time
    GcuBand* bands            # nbands = min(n, 1000) + 1
    Py_ssize_t nbands
    int64_t band_dur          # ns per band


cdef struct GcuBandUtil:      # a heap entry: a bound for windows starting in one band
    Py_ssize_t series
    Py_ssize_t band
    double bound              # no window starting in the band has a lower mean utilisation


cdef struct GcuAcc:           # Go's accumulator, for the minimum only
    double mmu
    double bound


cdef double gcu_advance(const GcuSeries* s, GcuIntegrator* it, int64_t time) noexcept nogil:
    # The integral of the utilisation up to ``time``.  Go scans up to 8 points
    # ahead and otherwise binary-searches; the two only differ when time goes
    # backwards (which Go's band refinement can do at a band's end), so both
    # are kept.
    cdef const MutatorUtilRec* util = s.util
    cdef Py_ssize_t pos = it.pos, l, r, h
    cdef double partial = 0.0
    if pos + 8 < s.n and util[pos + 8].time > time:
        while pos + 1 < s.n and util[pos + 1].time <= time:
            pos += 1
    else:
        l = pos
        r = s.n
        while l < r:
            h = <Py_ssize_t>((<size_t>(l + r)) >> 1)
            if util[h].time <= time:
                l = h + 1
            else:
                r = h
        pos = l - 1
        if pos < 0:
            pos = 0     # only before the series' start, where Go would fail
    it.pos = pos
    if time != util[pos].time:
        partial = util[pos].util * <double>(time - util[pos].time)
    return s.sums[pos] + partial


cdef int64_t gcu_next(const GcuSeries* s, const GcuIntegrator* it, int64_t time) noexcept nogil:
    # The first change of the utilisation after ``time``.
    cdef Py_ssize_t k
    for k in range(it.pos, s.n):
        if s.util[k].time > time:
            return s.util[k].time
    return INT64_MAX


cdef inline double gcu_min(double x, double y) noexcept nogil:
    return x if x < y else y


cdef int gcu_series_init(GcuSeries* s, const MutatorUtilRec* util, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j, k, nb, i
    cdef double total = 0.0, min_util, cum
    cdef int64_t prev_time = 0, dur, start, end
    cdef double prev_util = 0.0
    cdef GcuIntegrator left
    s.util = util
    s.n = n
    s.sums = <double*>malloc(n * sizeof(double))
    nb = GCU_BANDS_PER_SERIES if GCU_BANDS_PER_SERIES < n else n
    s.nbands = nb + 1
    s.bands = <GcuBand*>malloc(s.nbands * sizeof(GcuBand))
    if s.sums == NULL or s.bands == NULL:
        return GCU_NOMEM
    for j in range(n):
        total += prev_util * <double>(util[j].time - prev_time)
        s.sums[j] = total
        prev_time = util[j].time
        prev_util = util[j].util
    dur = util[n - 1].time - util[0].time
    s.band_dur = (dur + nb - 1) // nb
    if s.band_dur < 1:
        s.band_dur = 1
    left.pos = 0
    for i in range(s.nbands):
        start = i * s.band_dur + util[0].time
        end = start + s.band_dur
        cum = gcu_advance(s, &left, start)
        min_util = 1.0
        k = left.pos
        while k < n and util[k].time < end:
            min_util = gcu_min(min_util, util[k].util)
            k += 1
        s.bands[i].min_util = min_util
        s.bands[i].cum_util = cum
        s.bands[i].pos = left.pos
    return GCU_OK


cdef int gcu_band_utils(const GcuSeries* s, Py_ssize_t series, int64_t window,
                        GcuVec* heap) noexcept nogil:
    # For each band, a lower bound of the mean utilisation of every window
    # that starts in it: the band's minimum over the partly covered bands,
    # exact integrals over the bands every such window covers.
    cdef int64_t min_bands = (window + s.band_dur - 1) // s.band_dur
    cdef int64_t max_bands = (window + 2 * (s.band_dur - 1)) // s.band_dur
    cdef int64_t tail_dur = window % s.band_dur
    cdef Py_ssize_t n_util = s.nbands - max_bands + 1, i
    cdef double util, l, r1, r2, min_band, mid_band
    cdef GcuBandUtil* b
    if min_bands < 1:
        return GCU_FLAT_SERIES
    for i in range(n_util):
        util = 0.0
        l = s.bands[i].min_util
        r1 = s.bands[i + min_bands - 1].min_util
        r2 = s.bands[i + max_bands - 1].min_util
        min_band = gcu_min(l, gcu_min(r1, r2))
        if min_bands == 1:
            util += min_band * <double>window
        else:
            util += min_band * <double>s.band_dur
            mid_band = 0.0
            if min_band == l:
                mid_band = gcu_min(r1, r2)
            elif min_band == r1:
                mid_band = gcu_min(l, r2)
            elif min_band == r2:
                mid_band = gcu_min(l, r1)
            util += mid_band * <double>tail_dur
        if min_bands > 2:
            util += s.bands[i + min_bands - 1].cum_util - s.bands[i + 1].cum_util
        b = <GcuBandUtil*>gcu_vec_push(heap)
        if b == NULL:
            return GCU_NOMEM
        b.series = series
        b.band = i
        b.bound = util / <double>window
    return GCU_OK


cdef void gcu_heap_down(GcuBandUtil* h, Py_ssize_t i0, Py_ssize_t n) noexcept nogil:
    # container/heap's down(), with Less = lower bound first: the same
    # sequence of swaps, hence the same order among equal bounds.
    cdef Py_ssize_t i = i0, j, j1, j2
    cdef GcuBandUtil t
    while True:
        j1 = 2 * i + 1
        if j1 >= n or j1 < 0:
            break
        j = j1
        j2 = j1 + 1
        if j2 < n and h[j2].bound < h[j1].bound:
            j = j2
        if not (h[j].bound < h[i].bound):
            break
        t = h[i]
        h[i] = h[j]
        h[j] = t
        i = j


cdef void gcu_band_mmu(const GcuSeries* s, Py_ssize_t band, int64_t window,
                       GcuAcc* acc) noexcept nogil:
    # The exact minimum over windows whose left edge lies in the band: the
    # windowed utilisation is piecewise linear, so only windows with an edge
    # on a change of the utilisation need looking at, and the slope bound
    # (1/window) lets the scan skip ahead where it cannot reach the minimum.
    cdef GcuIntegrator left, right
    cdef int64_t time, end_time, util_end, min_time, t1, t2
    cdef double mu
    left.pos = s.bands[band].pos
    right.pos = left.pos
    time = band * s.band_dur + s.util[0].time
    end_time = time + s.band_dur
    util_end = s.util[s.n - 1].time - window
    if util_end < end_time:
        end_time = util_end
    while True:
        mu = (gcu_advance(s, &right, time + window) - gcu_advance(s, &left, time)) \
            / <double>window
        if mu < acc.mmu:
            acc.mmu = mu
        acc.bound = acc.mmu
        if mu == 0:
            break
        if time == end_time:
            break
        min_time = time + <int64_t>((mu - acc.bound) * <double>window)
        t1 = gcu_next(s, &left, time)
        t2 = gcu_next(s, &right, time + window) - window
        time = t1 if t1 < t2 else t2
        if time < min_time:
            time = min_time
        if time >= end_time:
            time = end_time


cdef int gcu_mmu(const GcuSeries* series, Py_ssize_t nseries, int64_t window,
                 double* result) noexcept nogil:
    cdef GcuVec heap
    cdef GcuAcc acc
    cdef GcuBandUtil* h
    cdef GcuBandUtil top
    cdef Py_ssize_t i, n
    cdef int64_t longest
    cdef int64_t* windows
    cdef int st = GCU_OK
    if window <= 0:
        result[0] = 0.0
        return GCU_OK
    acc.mmu = 1.0
    acc.bound = 1.0
    gcu_vec_init(&heap, sizeof(GcuBandUtil))
    windows = <int64_t*>malloc((nseries + 1) * sizeof(int64_t))
    if windows == NULL:
        return GCU_NOMEM
    for i in range(nseries):
        # A window longer than the series is cut to the series.
        longest = series[i].util[series[i].n - 1].time - series[i].util[0].time
        windows[i] = window if window <= longest else longest
        st = gcu_band_utils(&series[i], i, windows[i], &heap)
        if st:
            break
    if st == GCU_OK:
        h = <GcuBandUtil*>heap.data
        n = <Py_ssize_t>heap.n
        i = n // 2 - 1
        while i >= 0:
            gcu_heap_down(h, i, n)
            i -= 1
        # Refine bands from the lowest bound up, while a band could still
        # hold a window below the minimum found so far.
        while n > 0 and h[0].bound < acc.bound:
            gcu_band_mmu(&series[h[0].series], h[0].band, windows[h[0].series], &acc)
            n -= 1
            top = h[0]
            h[0] = h[n]
            h[n] = top
            gcu_heap_down(h, 0, n)
        result[0] = acc.mmu
    free(windows)
    gcu_vec_free(&heap)
    return st


cdef class MMUCurve:
    """Go's ``MMUCurve`` over utilisation series (``mutator_utilization``'s
    ``(util, bounds)``).  ``mmu(windows)``: Go's ``MMU(window)`` for each
    window (ns), as a float64 array."""

    cdef GcuSeries* _series
    cdef Py_ssize_t _nseries
    cdef object _util

    def __cinit__(self, util, bounds):
        cdef cnp.ndarray u = np.ascontiguousarray(util, dtype=MUTATOR_UTIL_DTYPE)
        cdef const int64_t[::1] b = np.ascontiguousarray(bounds, dtype=np.int64)
        cdef Py_ssize_t i, k = b.shape[0] - 1
        cdef const MutatorUtilRec* base = <const MutatorUtilRec*>cnp.PyArray_DATA(u)
        cdef int st = GCU_OK
        self._util = u
        if k < 0 or (k > 0 and (b[0] != 0 or b[k] != u.shape[0])):
            raise ValueError("bounds do not describe the series in util")
        for i in range(k):
            if b[i + 1] <= b[i]:
                raise ValueError(f"utilisation series {i} is empty")
        self._series = <GcuSeries*>calloc(k + 1, sizeof(GcuSeries))
        if self._series == NULL:
            raise MemoryError()
        self._nseries = k
        with nogil:
            for i in range(k):
                st = gcu_series_init(&self._series[i], base + b[i], b[i + 1] - b[i])
                if st:
                    break
        if st:
            raise MemoryError("out of memory while building the MMU curve")

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self._series != NULL:
            for i in range(self._nseries):
                free(self._series[i].sums)
                free(self._series[i].bands)
            free(self._series)

    def mmu(self, windows):
        cdef const int64_t[::1] w = np.ascontiguousarray(windows, dtype=np.int64).reshape(-1)
        cdef cnp.ndarray out = np.empty(w.shape[0], dtype=np.float64)
        cdef double* res = <double*>cnp.PyArray_DATA(out)
        cdef Py_ssize_t i, flat = -1
        cdef int st = GCU_OK
        with nogil:
            for i in range(w.shape[0]):
                st = gcu_mmu(self._series, self._nseries, w[i], &res[i])
                if st:
                    break
        if st == GCU_NOMEM:
            raise MemoryError("out of memory while computing the MMU")
        if st == GCU_FLAT_SERIES:
            for i in range(self._nseries):
                if self._series[i].util[self._series[i].n - 1].time == self._series[i].util[0].time:
                    flat = i
                    break
            raise ValueError(
                f"utilisation series {flat} spans no time (one instant); Go's MMUCurve "
                f"fails on it (index out of range)")
        return out
