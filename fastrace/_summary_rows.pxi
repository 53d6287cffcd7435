# Included by fastrace/_analysis.pyx, after _summary.pxi (the state it reads).
#
# The summarizer's Python boundary: Summarizer (fed piece by piece, then
# finished into the goroutine, task, region and time tables) and summarize()
# for a whole table.  C-level names start with sum_/Sum like _summary.pxi's.

# ---------------------------------------------------------------------------
# Output rows.

cdef void sum_fill_stats(SumStats* st, int64_t* exec_time, int64_t* sched, int64_t* block,
                         int64_t* syscall, int64_t* syscall_block, int64_t* total,
                         int64_t* unknown) noexcept nogil:
    exec_time[0] = st.exec
    sched[0] = st.sched
    block[0] = sum_stats_block(st)
    syscall[0] = st.syscall
    syscall_block[0] = st.syscall_block
    total[0] = st.total
    unknown[0] = sum_stats_unknown(st)


cdef size_t sum_count_nonzero(SumKVVec* v) noexcept nogil:
    cdef size_t n = 0
    cdef uint32_t i
    for i in range(v.n):
        if v.items[i].val != 0:
            n += 1
    return n


cdef size_t sum_put_times(SummaryTimeRec* out, size_t at, int64_t owner,
                          SumKVVec* v) noexcept nogil:
    cdef uint32_t i
    for i in range(v.n):
        if v.items[i].val != 0:
            out[at].owner = owner
            out[at].ns = v.items[i].val
            out[at].key = v.items[i].key
            out[at].pad0 = 0
            at += 1
    return at


cdef inline void sum_g_release(SumG* g) noexcept nogil:
    """Free what a summary holds outside its row (the row stays valid)."""
    sum_stats_free(&g.st)
    sum_kv_free(&g.last_range)
    PyMem_RawFree(g.active)
    g.active = NULL
    g.nactive = g.cap_active = 0


cdef inline bint sum_region_kept(SumState* s, SumRegion* r) noexcept nogil:
    # The regions Go's summary can reach: on a task's list, or on the list
    # of a goroutine summary it still holds.
    return r.in_task or (r.listed and s.gs[r.gidx].current)


cdef class Summarizer:
    """Go's Summarizer, fed the ordered event table in pieces.

    ``feed`` takes the tables of each :class:`fastrace.Trace` piece in order
    (those of :func:`fastrace.iter_generations`, or a whole trace at once);
    ``finish`` ends the trace and returns the tables (see
    :func:`summarize`).  Only the summary's state is kept between pieces.
    """

    cdef SumState s
    cdef size_t scanned       # string rows already searched for "forever"
    cdef int64_t rows         # events fed so far
    cdef bint done

    def __cinit__(self):
        cdef int i
        memset(&self.s, 0, sizeof(SumState))
        self.s.forever = SUM_NO_STRING
        if sum_grow(<void**>&self.s.range_reason, &self.s.cap_keys, SUM_RANGE_STW0,
                    sizeof(int64_t)):
            raise MemoryError()
        for i in range(<int>SUM_RANGE_STW0):
            self.s.range_reason[i] = -1
        self.s.nkeys = SUM_RANGE_STW0

    def __dealloc__(self):
        sum_free(&self.s)

    def feed(self, events, stacks, frames, const uint8_t[::1] string_data, string_offsets):
        """Feed the next rows of the event table, with the trace's stack,
        frame and string tables as they are at these rows (a piece's tables
        hold everything seen up to it)."""
        from fastrace._order import EVENT_DTYPE, STACK_DTYPE, FRAME_DTYPE

        cdef cnp.ndarray ev_arr = _sum_checked(events, EVENT_DTYPE, "events")
        cdef cnp.ndarray st_arr = _sum_checked(stacks, STACK_DTYPE, "stacks")
        cdef cnp.ndarray fr_arr = _sum_checked(frames, FRAME_DTYPE, "frames")
        cdef cnp.ndarray off_arr = np.ascontiguousarray(string_offsets, dtype=np.uint64)
        cdef SumState* s = &self.s
        cdef size_t n = <size_t>ev_arr.shape[0], bad_row = 0, i
        cdef int st
        cdef const TraceEventRec* evp = <const TraceEventRec*>cnp.PyArray_DATA(ev_arr)
        cdef const uint64_t* offp = <const uint64_t*>cnp.PyArray_DATA(off_arr)
        if self.done:
            raise ValueError("this Summarizer has finished")
        if off_arr.ndim != 1 or off_arr.shape[0] < 1:
            raise ValueError("string_offsets must be a 1-d array with at least one entry")
        if offp[off_arr.shape[0] - 1] > <uint64_t>string_data.shape[0]:
            raise ValueError("string_offsets point past the end of string_data")
        for i in range(1, <size_t>off_arr.shape[0]):
            if offp[i] < offp[i - 1]:
                raise ValueError("string_offsets must not decrease")
        # The tables are only borrowed for this call.
        s.stacks = <const StackRowRec*>cnp.PyArray_DATA(st_arr)
        s.nstacks = <size_t>st_arr.shape[0]
        s.frames = <const FrameRowRec*>cnp.PyArray_DATA(fr_arr)
        s.nframes = <size_t>fr_arr.shape[0]
        s.sdata = <const char*>&string_data[0] if string_data.shape[0] else <const char*>b""
        s.soff = offp
        s.nstrings = <size_t>off_arr.shape[0] - 1
        with nogil:
            if s.forever == SUM_NO_STRING:
                for i in range(self.scanned, s.nstrings):
                    if sum_str_eq(s, <uint32_t>i, b"forever", 7):
                        s.forever = <uint32_t>i
                        break
                self.scanned = s.nstrings
            st = sum_feed(s, evp, n, &bad_row)
        s.stacks, s.frames, s.sdata, s.soff = NULL, NULL, NULL, NULL
        s.nstacks = s.nframes = s.nstrings = 0
        if st == SUM_NOMEM:
            self.done = True
            raise MemoryError("out of memory summarizing the trace")
        if st:
            self.done = True
            raise _SumOrderError(
                f"cannot summarize the trace at event row {self.rows + <int64_t>bad_row}: "
                f"{s.err.decode('utf-8', 'replace')}")
        self.rows += <int64_t>n

    def finish(self):
        """End the trace and return the tables (a dict, see :func:`summarize`)."""
        cdef SumState* s = &self.s
        cdef size_t i, ng, nr, nb, nrt, rb, rr
        cdef int st
        cdef SumG* g
        cdef SumRegion* r
        if self.done:
            raise ValueError("this Summarizer has finished")
        self.done = True
        with nogil:
            st = sum_end(s, &ng, &nb, &nrt)
        if st:
            raise MemoryError("out of memory summarizing the trace")
        nr = rb = rr = 0
        for i in range(s.nregions):
            r = &s.regions[i]
            if sum_region_kept(s, r):
                nr += 1
                rb += sum_count_nonzero(&r.st.block)
                rr += sum_count_nonzero(&r.st.ranges)
        gout = np.zeros(ng, dtype=GOROUTINE_SUMMARY_DTYPE)
        bout = np.zeros(nb, dtype=SUMMARY_TIME_DTYPE)
        rtout = np.zeros(nrt, dtype=SUMMARY_TIME_DTYPE)
        rout = np.zeros(nr, dtype=REGION_SUMMARY_DTYPE)
        rbout = np.zeros(rb, dtype=SUMMARY_TIME_DTYPE)
        rrout = np.zeros(rr, dtype=SUMMARY_TIME_DTYPE)
        tout = np.zeros(s.ntasks, dtype=TASK_SUMMARY_DTYPE)
        pout = np.zeros(s.npairs, dtype=TASK_GOROUTINE_DTYPE)
        kout = np.zeros(s.nkeys, dtype=np.int64)
        _sum_fill(s, gout, bout, rtout, rout, rbout, rrout, tout, pout, kout)
        sum_free(s)
        memset(s, 0, sizeof(SumState))
        return {"goroutines": gout, "block_times": bout, "range_times": rtout,
                "regions": rout, "region_block_times": rbout, "region_range_times": rrout,
                "tasks": tout, "task_goroutines": pout, "range_reasons": kout}


def summarize(events, stacks, frames, string_data, string_offsets):
    """Go's Summarizer over a whole ordered event table.

    Arguments are the tables of a :class:`fastrace.Trace` (``events``,
    ``stacks``, ``frames``, ``strings.data``, ``strings.offsets``).
    Returns a dict of numpy arrays (dtypes from the structs in
    ``_analysis.pxd``):

    - ``goroutines``: GOROUTINE_SUMMARY_DTYPE, one row per goroutine id (the
      summary Go's map ends with), in order of first appearance;
    - ``block_times``, ``range_times``: SUMMARY_TIME_DTYPE, ``owner`` a
      goroutine id; ``key`` a reason string row / a range key;
    - ``regions``: REGION_SUMMARY_DTYPE, in order of creation;
    - ``region_block_times``, ``region_range_times``: ``owner`` a row of
      ``regions``;
    - ``tasks``: TASK_SUMMARY_DTYPE, in order of first mention;
    - ``task_goroutines``: TASK_GOROUTINE_DTYPE (repeats possible);
    - ``range_reasons``: int64, per range key the STW reason string row
      (-1 for keys 0-2, named by SUMMARY_RANGE_FIXED).
    """
    cdef Summarizer z = Summarizer()
    z.feed(events, stacks, frames, string_data, string_offsets)
    return z.finish()


cdef _sum_fill(SumState* s, cnp.ndarray gout, cnp.ndarray bout, cnp.ndarray rtout,
               cnp.ndarray rout, cnp.ndarray rbout, cnp.ndarray rrout, cnp.ndarray tout,
               cnp.ndarray pout, cnp.ndarray kout):
    cdef GoroutineSummaryRec* go = <GoroutineSummaryRec*>cnp.PyArray_DATA(gout)
    cdef SummaryTimeRec* bo = <SummaryTimeRec*>cnp.PyArray_DATA(bout)
    cdef SummaryTimeRec* rto = <SummaryTimeRec*>cnp.PyArray_DATA(rtout)
    cdef RegionSummaryRec* ro = <RegionSummaryRec*>cnp.PyArray_DATA(rout)
    cdef SummaryTimeRec* rbo = <SummaryTimeRec*>cnp.PyArray_DATA(rbout)
    cdef SummaryTimeRec* rro = <SummaryTimeRec*>cnp.PyArray_DATA(rrout)
    cdef TaskSummaryRec* to = <TaskSummaryRec*>cnp.PyArray_DATA(tout)
    cdef size_t i, k = 0, b = 0, q = 0, rb = 0, rr = 0
    cdef SumG* g
    cdef SumRegion* r
    cdef SumTask* t
    with nogil:
        for i in range(s.ngs):
            g = &s.gs[i]
            if not g.current:
                sum_g_release(g)
                continue
            go[k].id = g.id
            go[k].pc = g.pc
            go[k].creation_time = g.creation
            go[k].start_time = g.start if g.start != 0 else -1
            go[k].end_time = g.end if g.end != 0 else -1
            sum_fill_stats(&g.st, &go[k].exec_time, &go[k].sched_wait_time, &go[k].block_time,
                           &go[k].syscall_time, &go[k].syscall_block_time, &go[k].total_time,
                           &go[k].unknown_time)
            go[k].regions = g.nregions
            go[k].name = g.name
            b = sum_put_times(bo, b, g.id, &g.st.block)
            q = sum_put_times(rto, q, g.id, &g.st.ranges)
            sum_g_release(g)
            k += 1
        # Each summary's own memory is released above, in the same pass:
        # sum_free need not go over the 256-byte rows again (the rows stay
        # for the regions' loop below).
        s.ngs = 0
        k = 0
        for i in range(s.nregions):
            r = &s.regions[i]
            if not sum_region_kept(s, r):
                continue
            ro[k].goroutine = r.goroutine
            ro[k].task = r.task
            ro[k].start = r.start if r.start_kind else -1
            ro[k].end = r.end if r.end_kind else -1
            sum_fill_stats(&r.st, &ro[k].exec_time, &ro[k].sched_wait_time, &ro[k].block_time,
                           &ro[k].syscall_time, &ro[k].syscall_block_time, &ro[k].total_time,
                           &ro[k].unknown_time)
            ro[k].name = r.name
            ro[k].start_kind = r.start_kind
            ro[k].end_kind = r.end_kind
            ro[k].listed = r.listed and s.gs[r.gidx].current
            ro[k].in_task = r.in_task
            rb = sum_put_times(rbo, rb, <int64_t>k, &r.st.block)
            rr = sum_put_times(rro, rr, <int64_t>k, &r.st.ranges)
            k += 1
        for i in range(s.ntasks):
            t = &s.tasks[i]
            to[i].id = t.id
            to[i].parent = t.parent
            to[i].start = t.start
            to[i].end = t.end
            to[i].logs = t.logs
            to[i].regions = t.regions
            to[i].name = t.name
        if s.npairs:
            memcpy(cnp.PyArray_DATA(pout), s.pairs, s.npairs * sizeof(TaskGoroutineRec))
        if s.nkeys:
            memcpy(cnp.PyArray_DATA(kout), s.range_reason, s.nkeys * sizeof(int64_t))


def _sum_checked(arr, dtype, what):
    if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != 1 \
            or not arr.flags.c_contiguous:
        raise TypeError(f"{what} must be a 1-d C-contiguous array of dtype {dtype}")
    return arr


# ---------------------------------------------------------------------------
from cpython.ref cimport PyObject, Py_DECREF

cdef extern from "Python.h":
    PyObject* sum_bytes_new "PyBytes_FromStringAndSize" (const char* s, Py_ssize_t n)
    char* sum_bytes_data "PyBytes_AS_STRING" (PyObject* b)
    int sum_bytes_resize "_PyBytes_Resize" (PyObject** b, Py_ssize_t n)

# JSON rows written in C (`fastrace goroutines --format json`): the bytes
# Python's json module writes for the same objects (summary._ENCODER: keys
# in order, ", " and ": " separators, ints in decimal), one object a row.
# Strings come JSON-encoded already (quotes and escapes included), each
# distinct one once: Python's encoder decides their text, this pass only
# copies it.  On the 68 MB sched trace (200,000 goroutines, 66 MB of JSON)
# the document took 0.39 s with Python's %-formatting, 0.05 s with this pass
# (most of it here: 22.5 M instructions for the 20,000 rows of the 4.6 MB
# trace).

cdef enum SumJsonKind:        # what a column of json_rows' values holds
    SUM_JSON_INT = 0          # an int64, written in decimal
    SUM_JSON_TEXT = 1         # a row of the texts table
    SUM_JSON_MAP0 = 2         # the row's map in map table 0 (the value is ignored)
    SUM_JSON_MAP1 = 3         # the row's map in map table 1

# The kinds for Python (summary.goroutines_json_bytes).
JSON_INT, JSON_TEXT, JSON_MAP0, JSON_MAP1 = SUM_JSON_INT, SUM_JSON_TEXT, SUM_JSON_MAP0, SUM_JSON_MAP1

cdef enum SumJsonStatus:
    SUM_JSON_OK = 0
    SUM_JSON_NOMEM = 1
    SUM_JSON_BAD_TEXT = 2     # a text row out of range
    SUM_JSON_BAD_MAP = 3      # map offsets that are not a run inside the table


cdef struct SumJsonMap:       # one map table: the entries of row r are lo[r] .. hi[r] - 1
    const int64_t* lo         # row -> its first entry
    const int64_t* hi         # row -> one past its last entry
    const int64_t* key        # entry -> row of the texts table (its JSON-encoded key)
    const int64_t* val        # entry -> value
    size_t n                  # entries


cdef struct SumJsonIn:        # what sum_json_bound and sum_json_write read
    const int64_t* vals       # nrows x ncols values
    size_t nrows
    size_t ncols
    const uint8_t* kinds      # column -> SumJsonKind
    const char* pre           # the columns' prefixes (key, punctuation) in a row, 32 bytes to spare
    const int64_t* pre_off    # ncols + 1 offsets in pre
    size_t pre_len            # bytes of pre
    const char* texts         # the texts, JSON-encoded, one after the other
    const int64_t* text_off   # ntexts + 1 offsets in texts
    size_t ntexts
    size_t texts_len          # bytes of texts
    SumJsonMap maps[2]
    size_t first_row          # row 0 of vals is row first_row of the map tables
    const char* sep           # written between rows, 32 bytes to spare
    size_t nsep


cdef char[200] SUM_JSON_DIGITS       # "00" "01" ... "99"


cdef void sum_json_init_digits() noexcept:
    cdef int i
    for i in range(100):
        SUM_JSON_DIGITS[2 * i] = <char>(48 + i // 10)       # 48: '0'
        SUM_JSON_DIGITS[2 * i + 1] = <char>(48 + i % 10)


sum_json_init_digits()


cdef extern from *:
    int sum_clz64 "__builtin_clzll" (unsigned long long x) nogil

cdef uint64_t[20] SUM_POW10 = [
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
    10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000,
    1000000000000000, 10000000000000000, 100000000000000000, 1000000000000000000,
    10000000000000000000]


cdef inline char* sum_json_int(char* w, int64_t v) noexcept nogil:
    """v in decimal at w (20 bytes at most); the end of what was written."""
    cdef uint64_t u
    cdef int n
    cdef char* e
    if v < 0:
        w[0] = 45                                           # '-'
        w += 1
        u = <uint64_t>0 - <uint64_t>v
    else:
        u = <uint64_t>v
    # Digits: log10 from the bit length (1233 / 4096 ~ log10(2)), then
    # one comparison to correct it.
    n = ((64 - sum_clz64(u | 1)) * 1233) >> 12
    n += u >= SUM_POW10[n]
    n += n == 0
    e = w + n
    # Two digits at a time from the end.
    while u >= 100:
        e -= 2
        memcpy(e, &SUM_JSON_DIGITS[2 * (u % 100)], 2)
        u //= 100
    if u >= 10:
        memcpy(w, &SUM_JSON_DIGITS[2 * u], 2)
    else:
        w[0] = <char>(48 + u)
    return w + n


cdef inline char* sum_json_copy(char* w, const char* src, size_t n,
                                const char* src_end) noexcept nogil:
    """n bytes of src at w; w has 32 bytes to spare past them.  Short
    strings go 8 bytes at a time (fixed-size copies the compiler inlines)
    where src has 8 readable bytes past them, else through memcpy."""
    cdef size_t i = 0
    if src + n + 8 > src_end:
        memcpy(w, src, n)
        return w + n
    while i < n:
        memcpy(w + i, src + i, 8)
        i += 8
    return w + n


cdef inline char* sum_json_copy32(char* w, const char* src, size_t n) noexcept nogil:
    """n bytes of src at w, where src and w have 32 bytes to spare."""
    if n > 32:
        memcpy(w, src, n)
    else:
        memcpy(w, src, 16)
        memcpy(w + 16, src + 16, 16)
    return w + n


cdef int sum_json_bound(const SumJsonIn* d, size_t* total) noexcept nogil:
    """Check the rows' text and map references; total[0] = an upper bound
    of the bytes sum_json_write writes (with 32 to spare)."""
    cdef size_t r, c, e, lo, hi, need = 32
    cdef int64_t t
    cdef const int64_t* row
    cdef const SumJsonMap* m
    for r in range(d.nrows):
        row = d.vals + r * d.ncols
        need += d.nsep + 1 + d.pre_len
        for c in range(d.ncols):
            if d.kinds[c] == SUM_JSON_INT:
                need += 20
            elif d.kinds[c] == SUM_JSON_TEXT:
                t = row[c]
                if t < 0 or <size_t>t >= d.ntexts:
                    return SUM_JSON_BAD_TEXT
                need += <size_t>(d.text_off[t + 1] - d.text_off[t])
            else:
                m = &d.maps[d.kinds[c] - SUM_JSON_MAP0]
                if m.lo[d.first_row + r] < 0 or m.hi[d.first_row + r] < m.lo[d.first_row + r] \
                        or <size_t>m.hi[d.first_row + r] > m.n:
                    return SUM_JSON_BAD_MAP
                lo = <size_t>m.lo[d.first_row + r]
                hi = <size_t>m.hi[d.first_row + r]
                need += 2
                for e in range(lo, hi):
                    t = m.key[e]
                    if t < 0 or <size_t>t >= d.ntexts:
                        return SUM_JSON_BAD_TEXT
                    need += <size_t>(d.text_off[t + 1] - d.text_off[t]) + 24
    total[0] = need
    return SUM_JSON_OK


cdef char* sum_json_write(const SumJsonIn* d, char* w) noexcept nogil:
    """The rows as JSON objects separated by d.sep, at w (checked and
    bounded by sum_json_bound); the end of what was written.  Column c is
    its prefix (the key, with '{' or ', ' before it) then its value; '}'
    ends a row."""
    cdef size_t r, c, e, lo, hi
    cdef int64_t t
    cdef const int64_t* row
    cdef const SumJsonMap* m
    cdef const char* texts_end = d.texts + d.texts_len
    for r in range(d.nrows):
        row = d.vals + r * d.ncols
        if r > 0:
            w = sum_json_copy32(w, d.sep, d.nsep)
        for c in range(d.ncols):
            w = sum_json_copy32(w, d.pre + d.pre_off[c], <size_t>(d.pre_off[c + 1] - d.pre_off[c]))
            if d.kinds[c] == SUM_JSON_INT:
                w = sum_json_int(w, row[c])
            elif d.kinds[c] == SUM_JSON_TEXT:
                t = row[c]
                w = sum_json_copy(w, d.texts + d.text_off[t],
                                  <size_t>(d.text_off[t + 1] - d.text_off[t]), texts_end)
            else:
                m = &d.maps[d.kinds[c] - SUM_JSON_MAP0]
                lo = <size_t>m.lo[d.first_row + r]
                hi = <size_t>m.hi[d.first_row + r]
                w[0] = 123                                  # '{'
                w += 1
                for e in range(lo, hi):
                    # A key that comes again next (two string rows with one
                    # text) is written once, with its last value, where it
                    # first came: what a dict built in table order holds.
                    if e + 1 < hi and m.key[e + 1] == m.key[e]:
                        continue
                    if w[-1] != 123:
                        w[0] = 44                           # ', '
                        w[1] = 32
                        w += 2
                    t = m.key[e]
                    w = sum_json_copy(w, d.texts + d.text_off[t],
                                      <size_t>(d.text_off[t + 1] - d.text_off[t]), texts_end)
                    w[0] = 58                               # ': '
                    w[1] = 32
                    w = sum_json_int(w + 2, m.val[e])
                w[0] = 125                                  # '}'
                w += 1
        w[0] = 125
        w += 1
    return w


def _sum_json_map(lo, hi, key, val):
    """One map table's arrays, contiguous int64 (see SumJsonMap)."""
    return tuple(np.ascontiguousarray(a, dtype=np.int64) for a in (lo, hi, key, val))


cdef _sum_check_text_offsets(const int64_t* off, size_t ntexts, size_t texts_len):
    """A texts table's ntexts + 1 offsets run from 0, do not decrease, and
    stay inside its texts_len bytes (json_rows, text_rows)."""
    cdef size_t i
    if off[0] != 0 or off[ntexts] > <int64_t>texts_len:
        raise ValueError("text_offsets must run from 0 inside texts")
    for i in range(ntexts):
        if off[i + 1] < off[i]:
            raise ValueError("text_offsets must not decrease")


cdef _sum_fill_maps(SumJsonMap* out, maps, list keep, size_t first_row, size_t nrows):
    """out[0], out[1] from the first two (lo, hi, key, val) tables of maps
    (their arrays kept alive in keep), lo and hi checked to cover rows
    first_row .. first_row + nrows - 1 (json_rows, text_rows)."""
    cdef Py_ssize_t i
    for i in range(min(2, len(maps))):
        arrs = _sum_json_map(*maps[i])
        keep.append(arrs)
        for a in arrs[:2]:
            if a.ndim != 1 or <size_t>a.shape[0] < first_row + nrows:
                raise ValueError(f"maps[{i}]'s lo and hi do not cover the rows")
        if arrs[2].ndim != 1 or arrs[3].ndim != 1 or arrs[2].shape[0] != arrs[3].shape[0]:
            raise ValueError(f"maps[{i}]'s keys and values differ in length")
        out[i].lo = <const int64_t*>cnp.PyArray_DATA(arrs[0])
        out[i].hi = <const int64_t*>cnp.PyArray_DATA(arrs[1])
        out[i].key = <const int64_t*>cnp.PyArray_DATA(arrs[2])
        out[i].val = <const int64_t*>cnp.PyArray_DATA(arrs[3])
        out[i].n = <size_t>arrs[2].shape[0]


def json_rows(vals, kinds, bytes prefixes, prefix_offsets, bytes texts, text_offsets,
              maps, Py_ssize_t first_row=0, bytes sep=b",\n"):
    """JSON objects, one per row of ``vals`` (int64, rows x columns),
    joined by ``sep``, as bytes.

    Column ``c`` is written as ``prefixes[prefix_offsets[c]:prefix_offsets[c+1]]``
    (the key with the ``{"`` or ``, "`` before it and ``": `` after) and
    then its value, by ``kinds[c]``: JSON_INT the int64 in decimal;
    JSON_TEXT the text of row ``vals[r, c]`` of the texts table
    (``texts[text_offsets[t]:text_offsets[t+1]]``, JSON already); JSON_MAP0
    or JSON_MAP1 the row's map in ``maps[0]`` or ``maps[1]``, each
    ``(lo, hi, key, val)``: the entries of
    row ``first_row + r`` are ``lo[first_row + r]`` up to ``hi[first_row + r]``
    (excluded), their keys rows of the texts table (a key repeated in adjacent entries
    is written once, with the last value).  Used by
    :func:`fastrace.analysis.summary.goroutines_json_bytes`."""
    cdef cnp.ndarray v = np.ascontiguousarray(vals, dtype=np.int64)
    cdef cnp.ndarray k = np.ascontiguousarray(kinds, dtype=np.uint8)
    cdef cnp.ndarray po = np.ascontiguousarray(prefix_offsets, dtype=np.int64)
    cdef cnp.ndarray to = np.ascontiguousarray(text_offsets, dtype=np.int64)
    cdef SumJsonIn d
    cdef list keep = []
    cdef size_t i, total = 0
    cdef int st
    cdef char* w
    cdef char* end
    cdef PyObject* out
    if v.ndim != 2:
        raise ValueError("vals must be 2-d (rows x columns)")
    memset(&d, 0, sizeof(d))
    d.nrows, d.ncols = <size_t>v.shape[0], <size_t>v.shape[1]
    if k.ndim != 1 or <size_t>k.shape[0] != d.ncols or po.ndim != 1 \
            or <size_t>po.shape[0] != d.ncols + 1 or to.ndim != 1 or to.shape[0] < 1:
        raise ValueError("kinds, prefix_offsets and text_offsets do not fit vals")
    d.vals = <const int64_t*>cnp.PyArray_DATA(v)
    d.kinds = <const uint8_t*>cnp.PyArray_DATA(k)
    d.pre_off = <const int64_t*>cnp.PyArray_DATA(po)
    d.text_off = <const int64_t*>cnp.PyArray_DATA(to)
    # The prefixes and sep are copied 32 bytes at a time: padded copies.
    pre_pad = prefixes + bytes(32)
    sep_pad = sep + bytes(32)
    d.pre, d.pre_len = pre_pad, <size_t>len(prefixes)
    d.texts, d.texts_len = texts, <size_t>len(texts)
    d.sep, d.nsep = sep_pad, <size_t>len(sep)
    d.ntexts = <size_t>to.shape[0] - 1
    for i in range(d.ncols):
        if d.kinds[i] > SUM_JSON_MAP1:
            raise ValueError(f"unknown column kind {d.kinds[i]}")
        if d.pre_off[i + 1] < d.pre_off[i]:
            raise ValueError("prefix_offsets must not decrease")
    if d.pre_off[0] != 0 or <size_t>d.pre_off[d.ncols] != d.pre_len:
        raise ValueError("prefix_offsets must run from 0 to the end of prefixes")
    _sum_check_text_offsets(d.text_off, d.ntexts, d.texts_len)
    if first_row < 0:
        raise ValueError("first_row must not be negative")
    d.first_row = <size_t>first_row
    _sum_fill_maps(d.maps, maps, keep, d.first_row, d.nrows)
    for i in range(d.ncols):
        if d.kinds[i] >= SUM_JSON_MAP0 and d.maps[d.kinds[i] - SUM_JSON_MAP0].lo == NULL:
            raise ValueError(f"column {i} needs maps[{d.kinds[i] - SUM_JSON_MAP0}]")
    with nogil:
        st = sum_json_bound(&d, &total)
    if st == SUM_JSON_BAD_TEXT:
        raise ValueError("a text row is out of range")
    if st == SUM_JSON_BAD_MAP:
        raise ValueError("map entries (lo, hi) are not a run inside the map's table")
    # Written in place into a new bytes object of the bound's size, which is
    # then cut to what was written (no copy of the text).
    out = sum_bytes_new(NULL, <Py_ssize_t>total)
    if out == NULL:
        raise MemoryError("out of memory writing JSON")
    w = sum_bytes_data(out)
    with nogil:
        end = sum_json_write(&d, w)
    if sum_bytes_resize(&out, <Py_ssize_t>(end - w)) < 0:
        raise MemoryError("out of memory writing JSON")    # out was freed
    result = <object>out
    Py_DECREF(result)
    return result


# ---------------------------------------------------------------------------
# Copying columns between structured tables, row by row: numpy copies a
# structured array one field at a time, each pass over all of both arrays
# (12 passes over 2 x 22 MB for the 200,000 goroutines of the 68 MB sched
# trace: 64 ms with the reordering, 5 ms this way).

cdef void sum_gather(char* dst, size_t dst_size, const char* src, size_t src_size,
                     const int64_t* order, size_t n, const Py_ssize_t* dst_off,
                     const Py_ssize_t* src_off, size_t nf) noexcept nogil:
    cdef size_t i, f
    cdef const char* s
    for i in range(n):
        s = src + <size_t>order[i] * src_size
        for f in range(nf):
            memcpy(dst + dst_off[f], s + src_off[f], 8)
        dst += dst_size


def gather_fields(dst, src, order, fields):
    """``dst[f][i] = src[f][order[i]]`` for each field ``f`` of ``fields``
    (8-byte integers, of the same dtype in both tables) and each row ``i``
    of ``dst``; ``order`` holds rows of ``src``."""
    cdef cnp.ndarray d = dst
    cdef cnp.ndarray s = src
    cdef cnp.ndarray o = np.ascontiguousarray(order, dtype=np.int64)
    cdef size_t n, nf = len(fields), i
    cdef const int64_t* op
    cdef Py_ssize_t[:] doff = np.zeros(max(nf, 1), dtype=np.intp)
    cdef Py_ssize_t[:] soff = np.zeros(max(nf, 1), dtype=np.intp)
    for a, what in ((d, "dst"), (s, "src")):
        if a.ndim != 1 or not a.flags.c_contiguous or a.dtype.names is None:
            raise TypeError(f"{what} must be a 1-d C-contiguous structured array")
    if o.ndim != 1 or o.shape[0] != d.shape[0]:
        raise ValueError("order must have one entry per row of dst")
    n = <size_t>o.shape[0]
    op = <const int64_t*>cnp.PyArray_DATA(o)
    for i in range(n):
        if op[i] < 0 or op[i] >= s.shape[0]:
            raise IndexError(f"order[{i}] = {op[i]} is not a row of src")
    for i, f in enumerate(fields):
        if f not in d.dtype.fields or f not in s.dtype.fields:
            raise TypeError(f"field {f!r} must be an 8-byte integer in both tables")
        dt, doff[i] = d.dtype.fields[f][:2]
        st, soff[i] = s.dtype.fields[f][:2]
        if dt != st or dt.kind not in "iu" or dt.itemsize != 8:
            raise TypeError(f"field {f!r} must be an 8-byte integer in both tables")
    cdef size_t dsize = <size_t>d.dtype.itemsize, ssize = <size_t>s.dtype.itemsize
    cdef char* dp = <char*>cnp.PyArray_DATA(d)
    cdef const char* sp = <const char*>cnp.PyArray_DATA(s)
    with nogil:
        sum_gather(dp, dsize, sp, ssize, op, n, &doff[0], &soff[0], nf)
