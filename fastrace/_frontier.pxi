# Included by fastrace/_order.pyx (one extension module, so calls
# between these parts stay inlined): Reading each M's events (cursors), the frontier heap and the generation loop.

# ---------------------------------------------------------------------------
# Cursors and the frontier heap (the same heap operations as Go's reader, so
# that ties between equal timestamps resolve the same way).

cdef inline int cursor_next(OrderState* o, GenIn* gi, OCursor* cu) noexcept nogil:
    """Load the M's next event into cu: 1, or 0 at its end, -1 on error.

    Events are read and checked straight from the input when the ordering
    gets to them, as Go's batch cursors do: the wire stage only indexed the
    batches, so no per-event table is ever built.  A malformed event is an
    ST_FORMAT error (o.ferr_*) located at the event (o.cur_*).  Times follow
    Go's reader exactly: the running time restarts at every batch, and each
    event adds its delta converted to ns on its own.
    """
    cdef const BatchRec* b
    cdef Cursor c
    cdef uint64_t dt
    cdef Py_ssize_t at
    cdef int i, n, st
    cdef int64_t slot
    # Move to the M's next batch with events (Go resets the running time at
    # every batch, empty ones included).
    while cu.bpos >= cu.bend:
        if cu.pos >= cu.end:
            return 0
        cu.batch = gi.order[cu.pos]
        cu.pos += 1
        b = &gi.batches[cu.batch]
        cu.bpos = <Py_ssize_t>b.data_offset
        cu.bend = <Py_ssize_t>(b.data_offset + b.size)
        cu.k = -1
        cu.last_ts = 0
        if cu.bend > gi.buf_len:
            fail(o, "internal error: batch outside the input")
            return -1
    b = &gi.batches[cu.batch]
    c.buf = gi.buf
    c.pos = cu.bpos
    c.end = cu.bend
    at = c.pos
    cu.typ = c.buf[c.pos]
    c.pos += 1
    if not o.batch_type[cu.typ]:
        if not (EVT.flags[cu.typ] & EVF_DEFINED) or EVT.since[cu.typ] > o.version:
            return format_error(o, cu, WIRE_BAD_EVENT_TYPE, at, cu.typ, <uint64_t>o.version)
        return format_error(o, cu, WIRE_UNTIMED_IN_BATCH, at, cu.typ, 0)
    n = EVT.nargs[cu.typ] - 1
    st = read_uvarint(&c, &dt)
    if st:
        return format_error(o, cu, st, c.pos, 0, 0)
    # Four plain stores: a loop over the unused tail became a memset call.
    cu.args[0] = 0
    cu.args[1] = 0
    cu.args[2] = 0
    cu.args[3] = 0
    for i in range(n):
        st = read_uvarint(&c, &cu.args[i])
        if st:
            return format_error(o, cu, st, c.pos, 0, 0)
    cu.bpos = c.pos
    cu.k += 1
    if (cu.typ == EvGoStart or cu.typ == EvGoUnblock) and cu.args[0] < o.gmap.ndense:
        # The event names a goroutine whose state is likely out of cache
        # (one of possibly hundreds of thousands): start loading it now, a
        # few events before the ordering gets to this one.
        slot = o.gmap.dense[cu.args[0]]
        if slot >= 0:
            prefetch(g_state(o, slot))
    if cu.last_ts == 0:
        cu.last_ts = tick_ns(gi.ns_per_tick, b.time)
    cu.time = <int64_t>(<uint64_t>delta_ns(gi, dt) + <uint64_t>cu.last_ts)
    cu.last_ts = cu.time
    return 1


cdef int format_error(OrderState* o, OCursor* cu, int code, Py_ssize_t offset,
                      uint64_t a, uint64_t b) noexcept nogil:
    o.ferr_code = code
    o.ferr_offset = offset
    o.ferr_a = a
    o.ferr_b = b
    o.cur_m = cu.m
    o.cur_batch = cu.batch
    o.cur_event = cu.k + 1
    return -2


cdef inline int64_t ftime(OrderState* o, int64_t k) noexcept nogil:
    return o.ftimes[k]


cdef inline void fswap(OrderState* o, int64_t i, int64_t j) noexcept nogil:
    cdef int32_t t = o.frontier[i]
    cdef int64_t x = o.ftimes[i]
    o.frontier[i] = o.frontier[j]
    o.frontier[j] = t
    o.ftimes[i] = o.ftimes[j]
    o.ftimes[j] = x


cdef int64_t sift_up(OrderState* o, int64_t i) noexcept nogil:
    while i > 0 and ftime(o, (i - 1) // 2) > ftime(o, i):
        fswap(o, (i - 1) // 2, i)
        i = (i - 1) // 2
    return i


cdef void sift_down(OrderState* o, int64_t i) noexcept nogil:
    # Moves i below the smaller of its children while that one is earlier;
    # on equal children the left one (as Go's heap does).  Written so that
    # the choice of child compiles to conditional moves.
    cdef int64_t n = o.nfrontier
    cdef int64_t c, tl, tr
    cdef int64_t* tm = o.ftimes
    while 2 * i + 1 < n:
        c = 2 * i + 1
        tl = tm[c]
        tr = tm[c + 1] if c + 1 < n else 0x7FFFFFFFFFFFFFFF
        if tr < tl:
            c += 1
            tl = tr
        if tl >= tm[i]:
            return
        fswap(o, i, c)
        i = c


cdef void heap_insert(OrderState* o, int32_t cursor) noexcept nogil:
    o.frontier[o.nfrontier] = cursor
    o.ftimes[o.nfrontier] = o.cursors[cursor].time
    o.nfrontier += 1
    sift_up(o, o.nfrontier - 1)


cdef inline void heap_update(OrderState* o, int64_t i) noexcept nogil:
    o.ftimes[i] = o.cursors[o.frontier[i]].time
    # At the root (nearly always: the earliest M advanced) there is
    # nothing above to move past.
    if i > 0 and sift_up(o, i) != i:
        return
    sift_down(o, i)


cdef void heap_remove(OrderState* o, int64_t i) noexcept nogil:
    while i > 0:
        fswap(o, (i - 1) // 2, i)
        i = (i - 1) // 2
    fswap(o, 0, o.nfrontier - 1)
    o.nfrontier -= 1
    sift_down(o, 0)

cdef void sort_frontier(OrderState* o) noexcept nogil:
    # Go sorts its frontier (a slice of cursors) by time when the head
    # cannot advance; ties are left as its sort leaves them.
    cdef int64_t i
    for i in range(o.nfrontier):
        o.sort_keys[o.frontier[i]] = o.cursors[o.frontier[i]].time
    go_sort(o.frontier, o.sort_keys, o.nfrontier)
    for i in range(o.nfrontier):
        o.ftimes[i] = o.sort_keys[o.frontier[i]]


cdef int try_advance(OrderState* o, GenIn* gi, int64_t i, bint* ok, Py_ssize_t full) noexcept nogil:
    """Take the next event of the M at frontier position i if it can happen
    now (ok), and load the M's next one.  From the root (i == 0) the M's
    events are taken in a run while the M stays the earliest: the order is
    the step loop's, without going back to it (a quarter fewer instructions
    an event on a scheduler trace).  i > 0: one event (after a sort)."""
    cdef OCursor* cu = &o.cursors[o.frontier[i]]
    cdef Py_ssize_t rows
    cdef int64_t last_ts
    cdef int64_t horizon = 0
    cdef int st
    if i == 0:
        # The root may go on while its next event is no later than this: the
        # earlier of its two children (neither moves while only the root
        # advances) and the next CPU sample, which goes first when earlier.
        horizon = 0x7FFFFFFFFFFFFFFF
        if o.nfrontier > 1:
            horizon = o.ftimes[1]
        if o.nfrontier > 2 and o.ftimes[2] < horizon:
            horizon = o.ftimes[2]
        if o.next_cpu < gi.ncpu and gi.cpu_time[o.next_cpu] < horizon:
            horizon = gi.cpu_time[o.next_cpu]
    while True:
        rows = o.out.n
        last_ts = o.last_ts
        st = advance(o, gi, cu, ok)
        if st:
            # Where, for the error (noted here rather than for every event).
            o.cur_m = cu.m
            o.cur_batch = cu.batch
            o.cur_event = cu.k
            return st
        if not ok[0]:
            return ST_OK
        st = cursor_next(o, gi, cu)
        if st == 1:
            # Mostly the M just advanced is still the earliest: then it
            # stays at the root (where sifting it down would leave it) and
            # its next event is tried at once, unless the step loop has to
            # pause first.
            if i == 0 and cu.time <= horizon and o.out.n <= full:
                o.ftimes[0] = cu.time
                continue
            heap_update(o, i)
        elif st == 0:
            heap_remove(o, i)
        elif st == -2:
            # Go's reader reports a malformed next event of this M before it
            # hands out the events the advance just produced: drop their rows.
            o.out.n = rows
            o.last_ts = last_ts
            return ST_FORMAT
        else:
            o.cur_m = cu.m
            o.cur_batch = cu.batch
            o.cur_event = cu.k
            return ST_ERROR
        return ST_OK


cdef int begin_generation(OrderState* o, GenIn* gi) noexcept nogil:
    """Emit the generation's Sync and load every M's first event."""
    cdef int64_t k
    cdef int st
    cdef OCursor* cu
    o.nfrontier = 0
    o.next_cpu = 0
    # Every M's first event is read before the Sync is emitted: Go's reader
    # reports a malformed one without a Sync for the generation.
    for k in range(gi.nm):
        cu = &o.cursors[k]
        memset(cu, 0, sizeof(OCursor))
        cu.m = gi.m_ids[k]
        cu.mslot = -1
        cu.pos = gi.m_bounds[k]
        cu.end = gi.m_bounds[k + 1]
        st = cursor_next(o, gi, cu)
        if st == -2:
            return ST_FORMAT
        if st < 0:
            return ST_ERROR
        if st == 1:
            heap_insert(o, <int32_t>k)
    return push_sync(o, gi.sync_time, gi.gen_row)


cdef int step_generation(OrderState* o, GenIn* gi) noexcept nogil:
    """Order the generation's events: ST_OK when all are taken, ST_PAUSED
    when the output holds o.limit rows (then call again to go on; all the
    state needed to resume is in o), else an error."""
    cdef int64_t i
    cdef int st
    cdef bint ok
    cdef Ctx c
    cdef TraceEventRec* r
    cdef uint32_t srow
    # One step adds at most three rows (a GoSwitch is followed by the
    # switching goroutine's GoBlock or GoDestroy and the next one's GoStart):
    # pause before a step once the output holds more than this.
    cdef Py_ssize_t full = o.limit - 3 if o.limit else PY_SSIZE_T_MAX
    while o.nfrontier > 0 or o.next_cpu < gi.ncpu:
        if o.out.n > full:
            return ST_PAUSED
        if o.next_cpu < gi.ncpu and (o.nfrontier == 0 or gi.cpu_time[o.next_cpu] < ftime(o, 0)):
            c.m = gi.cpu_m[o.next_cpu]
            c.mslot = NONE
            c.unknown = 0
            if c.m != NONE:
                c.mslot = m_slot(o, c.m)
                if c.mslot < 0:
                    return ST_NOMEM
            c.p = gi.cpu_p[o.next_cpu]
            c.g = gi.cpu_g[o.next_cpu]
            # Go checks a sample's stack when it hands the sample out, after
            # every event before it.
            st = lookup_stack(o, gi, gi.cpu_stack_id[o.next_cpu], &srow, EvCPUSample)
            if st:
                o.cur_m = NONE
                o.cur_batch = -1
                return st
            r = new_row(o, gi.cpu_time[o.next_cpu], &c, K_STACK_SAMPLE, EvCPUSample)
            if r == NULL:
                return ST_NOMEM
            r.stack = srow
            o.next_cpu += 1
            continue
        st = try_advance(o, gi, 0, &ok, full)
        if st:
            return st
        if ok:
            continue
        sort_frontier(o)
        for i in range(1, o.nfrontier):
            st = try_advance(o, gi, i, &ok, full)
            if st:
                return st
            if ok:
                break
        if not ok:
            o.cur_m = NONE
            o.cur_batch = -1
            snprintf(o.err, sizeof(o.err),
                     "broken trace: failed to advance: no M's next event can happen next "
                     "(generation %llu, %lld Ms with events left)",
                     <ull_t>gi.gen, <ll_t>o.nfrontier)
            return ST_ERROR
    return ST_OK
