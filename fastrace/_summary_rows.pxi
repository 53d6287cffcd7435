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
            st = sum_end(s)
        if st:
            raise MemoryError("out of memory summarizing the trace")
        ng = nb = nrt = 0
        for i in range(s.ngs):
            g = &s.gs[i]
            if g.current:
                ng += 1
                nb += sum_count_nonzero(&g.st.block)
                nrt += sum_count_nonzero(&g.st.ranges)
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
            k += 1
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
