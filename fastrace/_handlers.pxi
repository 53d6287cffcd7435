# Included by fastrace/_order.pyx (one extension module, so calls
# between these parts stay inlined): Ranges, regions and the per-event-type handlers, with dispatch() and advance().

# ---------------------------------------------------------------------------
# Ranges and regions.

cdef inline uint8_t range_type(uint8_t typ) noexcept nogil:
    return START_OF[typ] if START_OF[typ] else typ


cdef bint has_range(ResourceState* r, uint8_t typ, uint64_t desc) noexcept nogil:
    cdef int32_t i
    for i in range(r.nranges):
        if r.ranges[i].typ == typ and r.ranges[i].desc == desc:
            return True
    return False


cdef int add_range(ResourceState* r, uint8_t typ, uint64_t desc) noexcept nogil:
    cdef RangeEntry* p
    if r.nranges == r.cap_ranges:
        r.cap_ranges = r.cap_ranges * 2 if r.cap_ranges else 4
        p = <RangeEntry*>PyMem_RawRealloc(r.ranges, r.cap_ranges * sizeof(RangeEntry))
        if p == NULL:
            return ST_NOMEM
        r.ranges = p
    r.ranges[r.nranges].typ = typ
    r.ranges[r.nranges].desc = desc
    r.nranges += 1
    return ST_OK


cdef int begin_range(OrderState* o, ResourceState* r, uint8_t typ, uint64_t desc) noexcept nogil:
    typ = range_type(typ)
    if has_range(r, typ, desc):
        snprintf(o.err, sizeof(o.err),
                 "discovered event already in-flight for when starting event %s", EV_NAME[typ])
        return ST_ERROR
    return add_range(r, typ, desc)


cdef int active_range(OrderState* o, ResourceState* r, uint8_t typ, bint initial) noexcept nogil:
    typ = range_type(typ)
    if initial:
        if has_range(r, typ, 0):
            snprintf(o.err, sizeof(o.err),
                     "found named active range already in first gen: {%d 0}", <int>typ)
            return ST_ERROR
        return add_range(r, typ, 0)
    if not has_range(r, typ, 0):
        snprintf(o.err, sizeof(o.err), "resource is missing active range: %s", EV_NAME[typ])
        return ST_ERROR
    return ST_OK


cdef int end_range(OrderState* o, ResourceState* r, uint8_t typ, uint64_t* desc) noexcept nogil:
    cdef uint8_t st = START_OF[typ]
    cdef int32_t i, idx = -1
    for i in range(r.nranges):
        if r.ranges[i].typ == st:
            idx = i
            break
    if idx < 0:
        snprintf(o.err, sizeof(o.err), "tried to end event %s, but not in-flight", EV_NAME[st])
        return ST_ERROR
    desc[0] = r.ranges[idx].desc
    # Swap-remove, as Go does (the order of the others matters to no one
    # but is kept identical anyway).
    r.ranges[idx] = r.ranges[r.nranges - 1]
    r.nranges -= 1
    return ST_OK


# ---------------------------------------------------------------------------
# Handlers, one per group of event types.  Each returns a Status and sets
# ok when the event could be taken now; *nc is the M's context afterwards.

cdef inline void set_seq(ResourceState* r, uint64_t gen, uint64_t seq) noexcept nogil:
    """Set a resource's sequence counter: seq within generation gen."""
    r.seq_gen = gen
    r.seq = seq


cdef inline bint seq_succeeds(uint64_t gen, uint64_t seq, ResourceState* r) noexcept nogil:
    return gen == r.seq_gen and seq == r.seq + 1


cdef inline int check_pid(OrderState* o, int64_t pid) noexcept nogil:
    # The P column is 32 bits wide: the runtime's P ids are int32, so only a
    # damaged or forged trace can hold a larger one.
    if pid != <int32_t>pid:
        snprintf(o.err, sizeof(o.err),
                 "P id %lld does not fit fastrace's 32-bit P column", <ll_t>pid)
        return ST_ERROR
    return ST_OK


cdef int adv_proc_status(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                         bint* ok) noexcept nogil:
    cdef int64_t pid = <int64_t>cu.args[0]
    cdef uint64_t status = cu.args[1]
    cdef uint64_t old
    cdef ResourceState* s
    cdef int64_t i, found = 0
    cdef MState* ms
    cdef uint64_t args[4]
    memcpy(args, cu.args, sizeof(args))
    if status > PS_ABANDONED:
        snprintf(o.err, sizeof(o.err), "invalid status for proc %lld: %llu", <ll_t>pid, <ull_t>status)
        return ST_ERROR
    if check_pid(o, pid):
        return ST_ERROR
    old = proc_state_of(status)
    s = find_p_raw(o, pid)
    if s != NULL:
        if status == PS_ABANDONED and s.status == PS_SYSCALL:
            old = P_RUNNING
            args[1] = PS_SYSCALL
        elif status == PS_ABANDONED and s.status == PS_ABANDONED:
            old = P_IDLE
            args[1] = PS_ABANDONED
        elif s.status != status:
            snprintf(o.err, sizeof(o.err), "inconsistent status for proc %lld: old %s vs. new %s",
                     <ll_t>pid, proc_status_name(s.status), proc_status_name(<uint8_t>status))
            return ST_ERROR
        set_seq(s, gi.gen, 0)
    else:
        s = new_res(o, &o.ppool, &o.pmap, pid)
        if s == NULL:
            return ST_NOMEM
        s.status = <uint8_t>status
        set_seq(s, gi.gen, 0)
        old = P_UNDETERMINED if gi.gen == o.initial_gen else P_NOT_EXIST
        dep(o, DEP_P_STATUS, pid, o.out.n, status, 0)
    if status == PS_RUNNING or status == PS_SYSCALL:
        nc.p = pid
    if status == PS_ABANDONED and old == P_RUNNING:
        dep(o, DEP_GIVE_UP, pid, -1, 0, 0)
        # Emit in the context of the M the P is bound to.
        for i in range(o.mpool.n):
            ms = m_state(o, i)
            if ms.p == pid:
                c.m = ms.id
                c.mslot = i
                c.p = pid
                c.g = ms.g
                found = 1
        if not found:
            snprintf(o.err, sizeof(o.err),
                     "failed to find sched context for proc %lld that's about to be stolen", <ll_t>pid)
            return ST_ERROR
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, args, old, 0)


cdef int adv_proc_start(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                        bint* ok) noexcept nogil:
    cdef int64_t pid = <int64_t>cu.args[0]
    cdef ResourceState* s = find_p(o, pid)
    cdef int st
    if s == NULL or s.status != PS_IDLE or not seq_succeeds(gi.gen, cu.args[1], s) or c.p != NONE:
        return ST_OK
    st = check_ctx(o, c, MUST, MUST_NOT, MAY)
    if st:
        return st
    if check_pid(o, pid):
        return ST_ERROR
    s.status = PS_RUNNING
    set_seq(s, gi.gen, cu.args[1])
    nc.p = pid
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_proc_stop(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    cdef ResourceState* s = find_p(o, c.p)
    cdef int st
    if s == NULL:
        snprintf(o.err, sizeof(o.err), "event %s for proc (%lld) that doesn't exist",
                 EV_NAME[cu.typ], <ll_t>c.p)
        return ST_ERROR
    if s.status != PS_RUNNING and s.status != PS_SYSCALL:
        snprintf(o.err, sizeof(o.err), "%s event for proc that's not Running or Syscall",
                 EV_NAME[cu.typ])
        return ST_ERROR
    st = check_ctx(o, c, MUST, MUST, MAY)
    if st:
        return st
    s.status = PS_IDLE
    nc.p = NONE
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_proc_steal(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                        bint* ok) noexcept nogil:
    cdef int64_t pid = <int64_t>cu.args[0]
    cdef int64_t mid = <int64_t>cu.args[2]
    cdef ResourceState* s = find_p(o, pid)
    cdef uint8_t old
    cdef int st
    cdef int64_t slot
    cdef MState* ms
    if (s == NULL or (s.status != PS_SYSCALL and s.status != PS_ABANDONED)
            or not seq_succeeds(gi.gen, cu.args[1], s)):
        return ST_OK
    st = check_ctx(o, c, MUST, MAY, MAY)
    if st:
        return st
    old = s.status
    s.status = PS_IDLE
    set_seq(s, gi.gen, cu.args[1])
    if old == PS_ABANDONED:
        ok[0] = True
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, old, 0)
    if mid == c.m:
        if c.p != pid:
            snprintf(o.err, sizeof(o.err),
                     "tried to self-steal proc %lld (thread %lld), but got proc %lld instead",
                     <ll_t>pid, <ll_t>mid, <ll_t>c.p)
            return ST_ERROR
        nc.p = NONE
        ok[0] = True
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, old, 0)
    if not map_get(&o.mmap, <uint64_t>mid, &slot):
        dep(o, DEP_M_LOOKUP, mid, -1, 0, 0)
        snprintf(o.err, sizeof(o.err), "stole proc from non-existent thread %lld", <ll_t>mid)
        return ST_ERROR
    ms = m_state(o, slot)
    if ms.unknown:
        dep(o, DEP_M_LOOKUP, mid, -1, 1, ms.unknown)
    if ms.p != pid:
        snprintf(o.err, sizeof(o.err),
                 "tried to steal proc %lld from thread %lld, but got proc %lld instead",
                 <ll_t>pid, <ll_t>mid, <ll_t>ms.p)
        return ST_ERROR
    ms.p = NONE
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, old, 0)


cdef int adv_go_status(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    cdef int64_t gid = <int64_t>cu.args[0]
    cdef int64_t mid = <int64_t>cu.args[1]
    cdef uint64_t status = cu.args[2]
    cdef uint8_t old
    cdef ResourceState* s
    cdef int64_t slot
    cdef MState* ms
    if status > GS_WAITING:
        snprintf(o.err, sizeof(o.err), "invalid status for goroutine %lld: %llu", <ll_t>gid, <ull_t>status)
        return ST_ERROR
    old = go_state_of(status)
    s = find_g_raw(o, gid)
    if s != NULL:
        if s.status != status:
            snprintf(o.err, sizeof(o.err), "inconsistent status for goroutine %lld: old %s vs. new %s",
                     <ll_t>gid, go_status_name(s.status), go_status_name(<uint8_t>status))
            return ST_ERROR
        set_seq(s, gi.gen, 0)
    elif gi.gen == o.initial_gen:
        s = new_res(o, &o.gpool, &o.gmap, gid)
        if s == NULL:
            return ST_NOMEM
        s.status = <uint8_t>status
        set_seq(s, gi.gen, 0)
        old = G_UNDETERMINED
        dep(o, DEP_G_STATUS, gid, o.out.n, status, 0)
    else:
        snprintf(o.err, sizeof(o.err),
                 "found goroutine status for new goroutine after the first generation: id=%lld status=%s",
                 <ll_t>gid, go_status_name(<uint8_t>status))
        return ST_ERROR
    if status == GS_RUNNING:
        nc.g = gid
    elif status == GS_SYSCALL:
        if mid == NONE:
            snprintf(o.err, sizeof(o.err), "found goroutine %lld in syscall without a thread", <ll_t>gid)
            return ST_ERROR
        if mid == c.m:
            if gi.gen != o.initial_gen and c.g != gid:
                snprintf(o.err, sizeof(o.err),
                         "inconsistent thread for syscalling goroutine %lld: thread has goroutine %lld",
                         <ll_t>gid, <ll_t>c.g)
                return ST_ERROR
            if o.fresh:
                # In sequence this generation is not the first: the check above applies.
                if c.unknown & UNK_G:
                    dep(o, DEP_M_SYSCALL_G, c.unknown_slot, -1, <uint64_t>gid, 0)
                elif c.g != gid:
                    dep(o, DEP_GIVE_UP, gid, -1, 0, 0)
            nc.g = gid
        else:
            if map_get(&o.mmap, <uint64_t>mid, &slot):
                ms = m_state(o, slot)
                if ms.unknown:
                    dep(o, DEP_M_LOOKUP, mid, -1, 1, ms.unknown)
                c.unknown &= ~UNK_G     # the row's goroutine is that M's
                if ms.g != gid:
                    snprintf(o.err, sizeof(o.err),
                             "inconsistent thread for syscalling goroutine %lld: thread has goroutine %lld",
                             <ll_t>gid, <ll_t>ms.g)
                    return ST_ERROR
                c.g = ms.g
            else:
                dep(o, DEP_M_LOOKUP, mid, -1, 0, 0)
                slot = m_slot(o, mid)
                if slot < 0:
                    return ST_NOMEM
                ms = m_state(o, slot)
                ms.g = gid
                ms.unknown &= ~UNK_G
            c.m = mid
            c.mslot = slot
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, old, 0)


cdef int adv_go_create(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    cdef int st = check_ctx(o, c, MUST, MUST, MAY)
    cdef ResourceState* s
    cdef int64_t newg = <int64_t>cu.args[0]
    if st:
        return st
    s = find_g(o, c.g)
    if s != NULL and s.status != GS_RUNNING:
        snprintf(o.err, sizeof(o.err), "%s event for goroutine that's not Running", EV_NAME[cu.typ])
        return ST_ERROR
    if find_g(o, newg) != NULL:
        snprintf(o.err, sizeof(o.err), "tried to create goroutine (%lld) that already exists", <ll_t>newg)
        return ST_ERROR
    s = new_res(o, &o.gpool, &o.gmap, newg)
    if s == NULL:
        return ST_NOMEM
    s.status = GS_WAITING if cu.typ == EvGoCreateBlocked else GS_RUNNABLE
    set_seq(s, gi.gen, 0)
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int context_g(OrderState* o, Ctx* c, uint8_t typ, uint8_t status,
                   ResourceState** out) noexcept nogil:
    """The state of the context's goroutine, which must exist with ``status``.
    (Go says "not Running" for a goroutine not in a syscall too.)"""
    cdef ResourceState* s = find_g(o, c.g)
    if s == NULL:
        snprintf(o.err, sizeof(o.err), "event %s for goroutine (%lld) that doesn't exist",
                 EV_NAME[typ], <ll_t>c.g)
        return ST_ERROR
    if s.status != status:
        snprintf(o.err, sizeof(o.err), "%s event for goroutine that's not Running", EV_NAME[typ])
        return ST_ERROR
    out[0] = s
    return ST_OK


cdef int running_g(OrderState* o, Ctx* c, uint8_t typ, ResourceState** out) noexcept nogil:
    """The state of the context's goroutine, which must exist and be running
    in a full user context (M, P and G)."""
    cdef int st = user_go(o, c)
    if st:
        return st
    return context_g(o, c, typ, GS_RUNNING, out)


cdef int adv_go_stop_exec(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                          bint* ok) noexcept nogil:
    cdef ResourceState* s
    cdef int st = running_g(o, c, cu.typ, &s)
    if st:
        return st
    nc.g = NONE
    ok[0] = True
    if cu.typ == EvGoDestroy:
        delete_g(o, c.g)
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)
    s.status = GS_RUNNABLE if cu.typ == EvGoStop else GS_WAITING
    return push_own_stack_row(o, gi, c, cu.typ, cu.time, cu.args, <uint64_t>c.g, True)


cdef int adv_go_start(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                      bint* ok) noexcept nogil:
    cdef int64_t gid = <int64_t>cu.args[0]
    cdef ResourceState* s = find_g(o, gid)
    cdef int st
    if s == NULL or s.status != GS_RUNNABLE or not seq_succeeds(gi.gen, cu.args[1], s):
        return ST_OK
    st = check_ctx(o, c, MUST, MUST, MUST_NOT)
    if st:
        return st
    s.status = GS_RUNNING
    set_seq(s, gi.gen, cu.args[1])
    nc.g = gid
    ok[0] = True
    return push_start_row(o, c, cu.typ, cu.time, cu.args[0])


cdef int adv_go_unblock(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                        bint* ok) noexcept nogil:
    cdef ResourceState* s = find_g(o, <int64_t>cu.args[0])
    if s == NULL or s.status != GS_WAITING or not seq_succeeds(gi.gen, cu.args[1], s):
        return ST_OK
    s.status = GS_RUNNABLE
    set_seq(s, gi.gen, cu.args[1])
    ok[0] = True
    return push_own_stack_row(o, gi, c, cu.typ, cu.time, cu.args, cu.args[0], False)


cdef int adv_go_switch(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    cdef ResourceState* cur
    cdef ResourceState* nxt
    cdef int st = running_g(o, c, cu.typ, &cur)
    cdef int64_t nextg = <int64_t>cu.args[0]
    cdef uint64_t none_args[4]
    cdef Ctx start_ctx
    if st:
        return st
    nxt = find_g(o, nextg)
    if nxt == NULL or nxt.status != GS_WAITING or not seq_succeeds(gi.gen, cu.args[1], nxt):
        return ST_OK
    st = push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)
    if st:
        return st
    memset(none_args, 0, sizeof(none_args))
    if cu.typ == EvGoSwitch:
        cur.status = GS_WAITING
        st = push_event(o, gi, c, EvGoBlock, cu.time, none_args, 0, 0)
    else:
        delete_g(o, c.g)
        st = push_event(o, gi, c, EvGoDestroy, cu.time, none_args, 0, 0)
    if st:
        return st
    nxt = find_g(o, nextg)  # the pool may have moved
    nxt.status = GS_RUNNING
    set_seq(nxt, gi.gen, cu.args[1])
    nc.g = nextg
    start_ctx = c[0]
    start_ctx.g = NONE
    none_args[0] = <uint64_t>nextg
    none_args[1] = cu.args[1]
    ok[0] = True
    return push_event(o, gi, &start_ctx, EvGoStart, cu.time, none_args, 0, 0)


cdef int adv_syscall_begin(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                           bint* ok) noexcept nogil:
    cdef ResourceState* s
    cdef ResourceState* p
    cdef int st = running_g(o, c, cu.typ, &s)
    if st:
        return st
    s.status = GS_SYSCALL
    p = find_p(o, c.p)
    if p == NULL:
        snprintf(o.err, sizeof(o.err), "uninitialized proc %lld found during %s",
                 <ll_t>c.p, EV_NAME[cu.typ])
        return ST_ERROR
    p.status = PS_SYSCALL
    if not seq_succeeds(gi.gen, cu.args[0], p):
        snprintf(o.err, sizeof(o.err),
                 "failed to advance %s: can't make sequence: %llu (gen=%llu) -> %llu (gen=%llu)",
                 EV_NAME[cu.typ], <ull_t>p.seq, <ull_t>p.seq_gen, <ull_t>cu.args[0], <ull_t>gi.gen)
        return ST_ERROR
    set_seq(p, gi.gen, cu.args[0])
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_syscall_end(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                         bint* ok) noexcept nogil:
    cdef ResourceState* s
    cdef ResourceState* p
    cdef int st = user_go(o, c)
    if st:
        return st
    st = context_g(o, c, cu.typ, GS_SYSCALL, &s)
    if st:
        return st
    s.status = GS_RUNNING
    p = find_p(o, c.p)
    if p == NULL:
        snprintf(o.err, sizeof(o.err), "uninitialized proc %lld found during %s",
                 <ll_t>c.p, EV_NAME[cu.typ])
        return ST_ERROR
    if p.status != PS_SYSCALL:
        snprintf(o.err, sizeof(o.err), "expected proc %lld in state Syscall, but got %s instead",
                 <ll_t>c.p, proc_status_name(p.status))
        return ST_ERROR
    p.status = PS_RUNNING
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_syscall_end_blocked(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                                 bint* ok) noexcept nogil:
    cdef ResourceState* s
    cdef ResourceState* p
    cdef int st
    if c.p != NONE:
        p = find_p(o, c.p)
        if p == NULL:
            snprintf(o.err, sizeof(o.err), "uninitialized proc %lld found during %s",
                     <ll_t>c.p, EV_NAME[cu.typ])
            return ST_ERROR
        if p.status == PS_SYSCALL:
            return ST_OK
    st = check_ctx(o, c, MUST, MAY, MUST)
    if st:
        return st
    st = context_g(o, c, cu.typ, GS_SYSCALL, &s)
    if st:
        return st
    nc.g = NONE
    s.status = GS_RUNNABLE
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_go_create_syscall(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                               bint* ok) noexcept nogil:
    cdef int st = check_ctx(o, c, MUST, MAY, MUST_NOT)
    cdef int64_t newg = <int64_t>cu.args[0]
    cdef ResourceState* s
    if st:
        return st
    if find_g(o, newg) != NULL:
        snprintf(o.err, sizeof(o.err),
                 "tried to create goroutine (%lld) in syscall that already exists", <ll_t>newg)
        return ST_ERROR
    s = new_res(o, &o.gpool, &o.gmap, newg)
    if s == NULL:
        return ST_NOMEM
    s.status = GS_SYSCALL
    set_seq(s, gi.gen, 0)
    nc.g = newg
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_go_destroy_syscall(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                                bint* ok) noexcept nogil:
    cdef int st = check_ctx(o, c, MUST, MAY, MUST)
    cdef ResourceState* s
    cdef ResourceState* p
    cdef uint64_t steal[4]
    if st:
        return st
    s = find_g(o, c.g)
    if s == NULL:
        snprintf(o.err, sizeof(o.err), "event %s for goroutine (%lld) that doesn't exist",
                 EV_NAME[cu.typ], <ll_t>c.g)
        return ST_ERROR
    if s.status != GS_SYSCALL:
        snprintf(o.err, sizeof(o.err), "%s event for goroutine that's not Syscall", EV_NAME[cu.typ])
        return ST_ERROR
    delete_g(o, c.g)
    nc.g = NONE
    if c.p != NONE:
        p = find_p(o, c.p)
        if p == NULL:
            snprintf(o.err, sizeof(o.err), "found invalid proc %lld during %s",
                     <ll_t>c.p, EV_NAME[cu.typ])
            return ST_ERROR
        if p.status != PS_SYSCALL:
            snprintf(o.err, sizeof(o.err), "proc %lld in unexpected state %s during %s",
                     <ll_t>c.p, proc_status_name(p.status), EV_NAME[cu.typ])
            return ST_ERROR
        p.status = PS_ABANDONED
        nc.p = NONE
        # The thread may be reused by the OS: record that it let go of its
        # P, as a self-steal (Go's reader does the same).
        memset(steal, 0, sizeof(steal))
        steal[0] = <uint64_t>c.p
        st = push_event(o, gi, c, EvProcSteal, cu.time, steal, PS_SYSCALL, 0)
        if st:
            return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_task_begin(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                        bint* ok) noexcept nogil:
    cdef uint64_t id = cu.args[0]
    cdef uint64_t args[4]
    cdef int64_t v
    cdef int64_t slot
    cdef TaskState* t
    cdef int st
    memcpy(args, cu.args, sizeof(args))
    if map_get(&o.tmap, id, NULL):
        snprintf(o.err, sizeof(o.err), "task ID conflict: %llu", <ull_t>id)
        return ST_ERROR
    dep(o, DEP_TASK_ABSENT, <int64_t>id, -1, 0, 0)
    if args[1] == 0:
        args[1] = NO_TASK   # 0 means no parent here, not the background task
    if args[2] != 0 and not map_get(gi.strings, args[2], &v):
        snprintf(o.err, sizeof(o.err), "invalid string ID %llu for %d event",
                 <ull_t>args[2], <int>cu.typ)
        return ST_ERROR
    slot = pool_alloc(&o.tpool)
    if slot < 0 or map_put(&o.tmap, id, slot):
        return ST_NOMEM
    t = task_state(o, slot)
    t.parent = args[1]
    t.name = string_or_empty(gi, args[2])
    t.next_free = -1
    st = user_go(o, c)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, args, 0, 0)


cdef int adv_task_end(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                      bint* ok) noexcept nogil:
    cdef uint64_t id = cu.args[0]
    cdef int64_t slot
    cdef uint64_t parent = NO_TASK
    cdef uint64_t name = 0
    cdef TaskState* t
    cdef int st
    if map_get(&o.tmap, id, &slot):
        t = task_state(o, slot)
        parent = t.parent
        name = t.name
        map_del(&o.tmap, id)
        pool_release(&o.tpool, slot)
    else:
        dep(o, DEP_TASK_END, <int64_t>id, o.out.n, 0, 0)
    st = user_go(o, c)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, parent, name)


cdef int adv_region(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                    bint* ok) noexcept nogil:
    cdef int st = user_go(o, c)
    cdef uint64_t task = cu.args[0]
    cdef int64_t v
    cdef uint32_t name
    cdef ResourceState* s
    cdef RegionEntry* top
    cdef RegionEntry* p
    cdef bint begin = cu.typ == EvUserRegionBegin
    if st:
        return st
    if cu.args[1] != 0 and not map_get(gi.strings, cu.args[1], &v):
        snprintf(o.err, sizeof(o.err), "invalid string ID %llu for %d event",
                 <ull_t>cu.args[1], <int>cu.typ)
        return ST_ERROR
    name = string_or_empty(gi, cu.args[1])
    s = find_g(o, c.g)
    if s == NULL:
        snprintf(o.err, sizeof(o.err),
                 "encountered %s without known state for current goroutine %lld",
                 "EvUserRegionBegin" if begin else "EvUserRegionEnd", <ll_t>c.g)
        return ST_ERROR
    if begin:
        if s.nregions == s.cap_regions:
            s.cap_regions = s.cap_regions * 2 if s.cap_regions else 4
            p = <RegionEntry*>PyMem_RawRealloc(s.regions, s.cap_regions * sizeof(RegionEntry))
            if p == NULL:
                return ST_NOMEM
            s.regions = p
        s.regions[s.nregions].task = task
        s.regions[s.nregions].name = name
        s.nregions += 1
    elif s.nregions == 0:
        # Maybe begun in an earlier generation (checked by check_fresh).
        dep(o, DEP_REGION_POP, s.id, -1, task, name)
    else:
        # Regions begun before the trace started are unknown; otherwise the
        # end must match the innermost active region.
        top = &s.regions[s.nregions - 1]
        if top.task != task or top.name != name:
            snprintf(o.err, sizeof(o.err),
                     "misuse of region in goroutine %lld: region end {%llu ...} when the "
                     "inner-most active region start event is {%llu ...}",
                     <ll_t>s.id, <ull_t>task, <ull_t>top.task)
            return ST_ERROR
        s.nregions -= 1
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef void fresh_first_gc(OrderState* o, Ctx* c, uint8_t typ, uint64_t seq) noexcept nogil:
    # In sequence this GC event would also need a running goroutine.
    dep(o, DEP_GC_FIRST, -1, -1, typ, seq)
    if user_go(o, c):
        dep(o, DEP_GIVE_UP, -1, -1, 0, 0)


cdef int adv_gc_active(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    cdef uint64_t seq = cu.args[0]
    cdef int st
    if gi.gen == o.initial_gen:
        if o.gc_state != GC_UNDETERMINED:
            return fail(o, "GCActive in the first generation isn't first GC event")
        if o.fresh:
            fresh_first_gc(o, c, cu.typ, seq)
        o.gc_seq = seq
        o.gc_state = GC_RUNNING
        ok[0] = True
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)
    if seq != o.gc_seq + 1:
        return ST_OK
    if o.gc_state != GC_RUNNING:
        return fail(o, "encountered GCActive while GC was not in progress")
    o.gc_seq = seq
    st = user_go(o, c)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_gc_begin(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                      bint* ok) noexcept nogil:
    cdef uint64_t seq = cu.args[0]
    cdef int st
    if o.gc_state == GC_UNDETERMINED:
        if o.fresh:
            fresh_first_gc(o, c, cu.typ, seq)
        o.gc_seq = seq
        o.gc_state = GC_RUNNING
        ok[0] = True
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)
    if seq != o.gc_seq + 1:
        return ST_OK
    if o.gc_state == GC_RUNNING:
        return fail(o, "encountered GCBegin while GC was already in progress")
    o.gc_seq = seq
    o.gc_state = GC_RUNNING
    st = user_go(o, c)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_gc_end(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                    bint* ok) noexcept nogil:
    cdef uint64_t seq = cu.args[0]
    cdef int st
    if seq != o.gc_seq + 1:
        return ST_OK
    if o.gc_state == GC_NOT_RUNNING:
        return fail(o, "encountered GCEnd when GC was not in progress")
    if o.gc_state == GC_UNDETERMINED:
        return fail(o, "encountered GCEnd when GC was in an undetermined state")
    o.gc_seq = seq
    o.gc_state = GC_NOT_RUNNING
    st = user_go(o, c)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_simple(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc, bint* ok,
                    int rm, int rp, int rg) noexcept nogil:
    cdef int st = check_ctx(o, c, rm, rp, rg)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_experimental(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                          bint* ok) noexcept nogil:
    """An experimental event: an M and whatever P and goroutine it has.  The
    row of one without string or stack ids (all of AllocFree's) is written
    here, its arguments as they are (push_event's rule for the kind)."""
    cdef TraceEventRec* r
    cdef int st = check_ctx(o, c, MUST, MAY, MAY)
    if st:
        return st
    ok[0] = True
    if HAS_IDS[cu.typ] or EXP_STRING_MASK[cu.typ]:
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)
    r = row_slot(o, cu.time, c, K_EXPERIMENTAL, cu.typ)
    if r == NULL:
        return ST_NOMEM
    r.a[0] = cu.args[0]
    r.a[1] = cu.args[1]
    r.a[2] = cu.args[2]
    r.stack = 0
    r.from_state = 0
    r.to_state = 0
    return ST_OK


cdef int adv_sweep(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                   bint* ok) noexcept nogil:
    cdef int st
    cdef ResourceState* p
    cdef uint64_t desc
    if cu.typ == EvGCSweepActive:
        p = find_p(o, <int64_t>cu.args[0])
        if p == NULL:
            snprintf(o.err, sizeof(o.err), "encountered GCSweepActive for unknown proc %lld",
                     <ll_t><int64_t>cu.args[0])
            return ST_ERROR
        st = active_range(o, p, cu.typ, gi.gen == o.initial_gen)
        dep(o, DEP_RANGE, p.id, -1, 1, range_type(cu.typ))
    else:
        st = check_ctx(o, c, MUST, MUST, MAY)
        if st:
            return st
        p = find_p(o, c.p)
        if p == NULL:
            snprintf(o.err, sizeof(o.err), "uninitialized proc %lld found during %s",
                     <ll_t>c.p, EV_NAME[cu.typ])
            return ST_ERROR
        if cu.typ == EvGCSweepBegin:
            st = begin_range(o, p, cu.typ, 0)
        else:
            st = end_range(o, p, cu.typ, &desc)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)


cdef int adv_go_range(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                      bint* ok) noexcept nogil:
    cdef int st
    cdef ResourceState* s
    cdef uint64_t desc = 0
    cdef int64_t gid
    if cu.typ == EvGCMarkAssistActive:
        gid = <int64_t>cu.args[0]
        s = find_g(o, gid)
        if s == NULL:
            snprintf(o.err, sizeof(o.err), "uninitialized goroutine %lld found during %s",
                     <ll_t>gid, EV_NAME[cu.typ])
            return ST_ERROR
        st = active_range(o, s, cu.typ, gi.gen == o.initial_gen)
        dep(o, DEP_RANGE, s.id, -1, 0, range_type(cu.typ))
        if st:
            return st
        ok[0] = True
        return push_event(o, gi, c, cu.typ, cu.time, cu.args, 0, 0)
    st = user_go(o, c)
    if st:
        return st
    s = find_g(o, c.g)
    if s == NULL:
        snprintf(o.err, sizeof(o.err),
                 "encountered event of type %d without known state for current goroutine %lld",
                 <int>cu.typ, <ll_t>c.g)
        return ST_ERROR
    if cu.typ == EvSTWBegin or cu.typ == EvGCMarkAssistBegin:
        st = begin_range(o, s, cu.typ, cu.args[0] if cu.typ == EvSTWBegin else 0)
    else:
        st = end_range(o, s, cu.typ, &desc)
    if st:
        return st
    ok[0] = True
    return push_event(o, gi, c, cu.typ, cu.time, cu.args, desc, 0)


ctypedef int (*Handler)(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                        bint* ok) noexcept nogil


cdef inline int dispatch(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                         bint* ok) noexcept nogil:
    # The types of scheduler-heavy traces, nearly every event there, are
    # handled here, inlined into the ordering loop; every other type through
    # a pointer to dispatch_rest, which the C compiler cannot see through and
    # so does not inline: the hot loop stays small enough for it to inline
    # the cursor too.
    cdef uint8_t t = cu.typ
    if t == EvGoStart:
        return adv_go_start(o, gi, cu, c, nc, ok)
    elif t == EvGoDestroy or t == EvGoStop or t == EvGoBlock:
        return adv_go_stop_exec(o, gi, cu, c, nc, ok)
    elif t == EvGoUnblock:
        return adv_go_unblock(o, gi, cu, c, nc, ok)
    return DISPATCH_REST(o, gi, cu, c, nc, ok)


cdef int dispatch_rest(OrderState* o, GenIn* gi, OCursor* cu, Ctx* c, Ctx* nc,
                       bint* ok) noexcept nogil:
    # Cython tests the conditions of this chain in turn.  Experimental
    # events first: AllocFree traces are nearly all allocations and frees.
    cdef uint8_t t = cu.typ
    if KIND_OF[t] == K_EXPERIMENTAL:
        return adv_experimental(o, gi, cu, c, nc, ok)
    elif t == EvProcStatus:
        return adv_proc_status(o, gi, cu, c, nc, ok)
    elif t == EvProcStart:
        return adv_proc_start(o, gi, cu, c, nc, ok)
    elif t == EvProcStop:
        return adv_proc_stop(o, gi, cu, c, nc, ok)
    elif t == EvProcSteal:
        return adv_proc_steal(o, gi, cu, c, nc, ok)
    elif t == EvGoStatus or t == EvGoStatusStack:
        return adv_go_status(o, gi, cu, c, nc, ok)
    elif t == EvGoCreate or t == EvGoCreateBlocked:
        return adv_go_create(o, gi, cu, c, nc, ok)
    elif t == EvGoCreateSyscall:
        return adv_go_create_syscall(o, gi, cu, c, nc, ok)
    elif t == EvGoDestroySyscall:
        return adv_go_destroy_syscall(o, gi, cu, c, nc, ok)
    elif t == EvGoSwitch or t == EvGoSwitchDestroy:
        return adv_go_switch(o, gi, cu, c, nc, ok)
    elif t == EvGoSyscallBegin:
        return adv_syscall_begin(o, gi, cu, c, nc, ok)
    elif t == EvGoSyscallEnd:
        return adv_syscall_end(o, gi, cu, c, nc, ok)
    elif t == EvGoSyscallEndBlocked:
        return adv_syscall_end_blocked(o, gi, cu, c, nc, ok)
    elif t == EvSTWBegin or t == EvSTWEnd or t == EvGCMarkAssistActive \
            or t == EvGCMarkAssistBegin or t == EvGCMarkAssistEnd:
        return adv_go_range(o, gi, cu, c, nc, ok)
    elif t == EvGCActive:
        return adv_gc_active(o, gi, cu, c, nc, ok)
    elif t == EvGCBegin:
        return adv_gc_begin(o, gi, cu, c, nc, ok)
    elif t == EvGCEnd:
        return adv_gc_end(o, gi, cu, c, nc, ok)
    elif t == EvGCSweepActive or t == EvGCSweepBegin or t == EvGCSweepEnd:
        return adv_sweep(o, gi, cu, c, nc, ok)
    elif t == EvHeapAlloc or t == EvHeapGoal:
        return adv_simple(o, gi, cu, c, nc, ok, MUST, MUST, MAY)
    elif t == EvProcsChange or t == EvGoLabel or t == EvUserLog:
        return adv_simple(o, gi, cu, c, nc, ok, MUST, MUST, MUST)
    elif t == EvUserTaskBegin:
        return adv_task_begin(o, gi, cu, c, nc, ok)
    elif t == EvUserTaskEnd:
        return adv_task_end(o, gi, cu, c, nc, ok)
    elif t == EvUserRegionBegin or t == EvUserRegionEnd:
        return adv_region(o, gi, cu, c, nc, ok)
    snprintf(o.err, sizeof(o.err), "bad event type found while ordering: %d", <int>t)
    return ST_ERROR


cdef Handler DISPATCH_REST = dispatch_rest   # a variable, not a constant (see dispatch)


cdef int advance(OrderState* o, GenIn* gi, OCursor* cu, bint* ok) noexcept nogil:
    """Try to take the current event of cursor cu (Go's ordering.Advance).
    On an error the caller (try_advance) notes where (o.cur_*)."""
    cdef Ctx c, nc
    cdef int64_t slot = -1, g = NONE, p = NONE, mslot = NONE
    cdef uint8_t unknown = 0
    cdef MState* ms
    cdef int st
    if o.initial_gen == 0:
        o.initial_gen = gi.gen
    if cu.m != NONE:
        # Ms are never forgotten, so their slot can be kept in the cursor
        # (created at the M's first event, as Go creates its state).
        if cu.mslot < 0:
            cu.mslot = m_slot(o, cu.m)
            if cu.mslot < 0:
                return ST_NOMEM
        slot = cu.mslot
        ms = m_state(o, slot)
        mslot = slot
        # One by one, as they were stored (see the end of this function).
        p = fr_load_alone(&ms.p)
        g = fr_load_alone(&ms.g)
        unknown = ms.unknown
        if unknown and not (cu.typ == EvProcStatus or cu.typ == EvGoStatus
                            or cu.typ == EvGoStatusStack):
            # Fresh run: an event that may depend on what this M was doing
            # before the generation began.  From here on the M's context
            # is the run's own, provided check_fresh finds it was empty.
            dep(o, DEP_M_CTX, slot, -1, unknown, 0)
            ms.unknown = 0
            unknown = 0
    # c and nc are both filled from registers: copying c into nc (nc = c)
    # loaded it back 16 bytes at a time just after it was stored field by
    # field, a store-forwarding stall that perf put at a third of this
    # function's time on the 68 MB trace.
    c.m = cu.m
    c.p = p
    c.g = g
    c.mslot = mslot
    c.unknown_slot = slot
    c.unknown = unknown
    nc.m = cu.m
    nc.p = p
    nc.g = g
    nc.mslot = mslot
    nc.unknown_slot = slot
    nc.unknown = unknown
    ok[0] = False
    st = dispatch(o, gi, cu, &c, &nc, ok)
    if st == ST_OK and ok[0] and slot >= 0:
        ms = m_state(o, slot)  # handlers may have moved the pool
        # The handler has just stored nc's fields one by one: read them one
        # by one too (perf found a stall on the 16-byte load gcc made of the
        # pair, on 12% of the command's samples in this function).
        p = fr_load_alone(&nc.p)
        g = fr_load_alone(&nc.g)
        if ms.unknown:
            # A status event binding a P or a goroutine to the M makes that
            # part of its context known.
            if p != ms.p:
                ms.unknown &= ~UNK_P
            if g != ms.g:
                ms.unknown &= ~UNK_G
        ms.p = p
        ms.g = g
    return st
