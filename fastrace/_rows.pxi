# Included by fastrace/_order.pyx (one extension module, so calls
# between these parts stay inlined): Errors in Go's wording, and writing rows of the event table.

# ---------------------------------------------------------------------------
# Errors: Go's wording where Go has one, so that messages match its tests.

cdef inline int fail(OrderState* o, const char* msg) noexcept nogil:
    snprintf(o.err, sizeof(o.err), "%s", msg)
    return ST_ERROR


cdef const char* go_status_name(uint8_t s) noexcept nogil:
    if s == GS_RUNNABLE:
        return "Runnable"
    if s == GS_RUNNING:
        return "Running"
    if s == GS_SYSCALL:
        return "Syscall"
    if s == GS_WAITING:
        return "Waiting"
    return "Bad"


cdef const char* proc_status_name(uint8_t s) noexcept nogil:
    if s == PS_RUNNING:
        return "Running"
    if s == PS_IDLE:
        return "Idle"
    if s == PS_SYSCALL:
        return "Syscall"
    if s == PS_ABANDONED:
        return "SyscallAbandoned"
    return "Bad"


cdef enum Req:
    MUST_NOT = 0
    MAY = 1
    MUST = 2


cdef inline int check_ctx(OrderState* o, Ctx* c, int rm, int rp, int rg) noexcept nogil:
    if rm == MUST and c.m == NONE:
        return fail(o, "expected a thread but didn't have one")
    if rm == MUST_NOT and c.m != NONE:
        return fail(o, "expected no thread but had one")
    if rp == MUST and c.p == NONE:
        return fail(o, "expected a proc but didn't have one")
    if rp == MUST_NOT and c.p != NONE:
        return fail(o, "expected no proc but had one")
    if rg == MUST and c.g == NONE:
        return fail(o, "expected a goroutine but didn't have one")
    if rg == MUST_NOT and c.g != NONE:
        return fail(o, "expected no goroutine but had one")
    return ST_OK


cdef inline int user_go(OrderState* o, Ctx* c) noexcept nogil:
    return check_ctx(o, c, MUST, MUST, MUST)


# ---------------------------------------------------------------------------
# Emitting rows.

cdef inline int lookup_string(OrderState* o, GenIn* gi, uint64_t id, uint32_t* row,
                              uint8_t typ) noexcept nogil:
    cdef int64_t v
    if id == 0:
        row[0] = 0
        return ST_OK
    if id_row(gi.strings, id, &v):
        row[0] = <uint32_t>v
        return ST_OK
    return bad_id(o, "string", id, typ)


cdef inline int lookup_stack(OrderState* o, GenIn* gi, uint64_t id, uint32_t* row,
                             uint8_t typ) noexcept nogil:
    cdef int64_t v
    if id == 0:
        row[0] = 0
        return ST_OK
    if id_row(gi.stacks, id, &v):
        row[0] = <uint32_t>v
        return ST_OK
    return bad_id(o, "stack", id, typ)


cdef int bad_id(OrderState* o, const char* what, uint64_t id, uint8_t typ) noexcept nogil:
    snprintf(o.err, sizeof(o.err), "found invalid %s ID %llu for event %s",
             what, <ull_t>id, EV_NAME[typ])
    return ST_ERROR


cdef inline uint32_t string_or_empty(GenIn* gi, uint64_t id) noexcept nogil:
    cdef int64_t v
    if id != 0 and map_get(gi.strings, id, &v):
        return <uint32_t>v
    return 0


cdef inline TraceEventRec* row_slot(OrderState* o, int64_t t, Ctx* c, uint8_t kind,
                                    uint8_t typ) noexcept nogil:
    """The next row with its time, context, kind and type set; the caller
    sets a, stack, from_state and to_state (no zeroing pass: this is the
    hottest store in the engine)."""
    cdef TraceEventRec* r = <TraceEventRec*>grow_slot(&o.out)
    if r == NULL:
        return NULL
    # Go's reader makes times strictly increasing as it hands events out.
    if t <= o.last_ts:
        t = o.last_ts + 1
    o.last_ts = t
    if c.unknown:
        dep(o, DEP_ROW_CTX, c.unknown_slot, o.out.n - 1, c.unknown, 0)
    r.time = t
    r.g = c.g
    r.p = <int32_t>c.p        # checked to fit where P ids enter (check_pid)
    r.m = <uint32_t>(c.mslot + 1)
    r.kind = kind
    r.type = typ
    return r


cdef TraceEventRec* new_row(OrderState* o, int64_t t, Ctx* c, uint8_t kind,
                            uint8_t typ) noexcept nogil:
    """The next row, with every field set: a, stack and states zero."""
    cdef TraceEventRec* r = row_slot(o, t, c, kind, typ)
    if r == NULL:
        return NULL
    r.a[0] = 0
    r.a[1] = 0
    r.a[2] = 0
    r.stack = 0
    r.from_state = 0
    r.to_state = 0
    return r


cdef int row_values(OrderState* o, GenIn* gi, Ctx* c, uint8_t typ, uint8_t kind,
                    uint64_t* args, uint64_t x0, uint64_t x1, uint32_t s0, uint32_t s1,
                    uint64_t* vals) noexcept nogil:
    """push_event's a[0..2] (into vals) for the kinds other than state
    transitions: out of line, so that push_event stays small enough for
    the C compiler to inline where the commonest events are taken."""
    cdef uint64_t a0 = 0, a1 = 0, a2 = 0
    cdef uint32_t v
    cdef int st
    if kind == K_EXPERIMENTAL:
        # Second: AllocFree traces are mostly these.
        a0 = args[0]
        a1 = args[1]
        a2 = args[2]
        if EXP_STRING_MASK[typ] & 1:
            st = lookup_string(o, gi, a0, &v, typ)
            if st:
                return st
            a0 = v
        if EXP_STRING_MASK[typ] & 2:
            st = lookup_string(o, gi, a1, &v, typ)
            if st:
                return st
            a1 = v
        if EXP_STRING_MASK[typ] & 4:
            st = lookup_string(o, gi, a2, &v, typ)
            if st:
                return st
            a2 = v
    elif kind == K_METRIC:
        a0 = args[0]
    elif kind == K_LABEL:
        a0 = s0
    elif typ == EvSTWBegin:
        a0 = <uint64_t>c.g
        a1 = s0
    elif typ == EvSTWEnd:
        a0 = <uint64_t>c.g
        a1 = string_or_empty(gi, x0)
    elif typ == EvGCSweepActive or typ == EvGCMarkAssistActive:
        a0 = args[0]
    elif typ == EvGCSweepBegin or typ == EvGCSweepEnd:
        a0 = <uint64_t>c.p
        if typ == EvGCSweepEnd:
            a1 = args[0]
            a2 = args[1]
    elif typ == EvGCMarkAssistBegin or typ == EvGCMarkAssistEnd:
        a0 = <uint64_t>c.g
    elif typ == EvUserTaskBegin:
        a0 = args[0]
        a1 = args[1]
        a2 = s0
    elif typ == EvUserTaskEnd:
        a0 = args[0]
        a1 = x0
        a2 = x1
    elif kind == K_REGION_BEGIN or kind == K_REGION_END:
        a0 = args[0]
        a1 = s0
    elif kind == K_LOG:
        a0 = args[0]
        a1 = s0
        a2 = s1
    vals[0] = a0
    vals[1] = a1
    vals[2] = a2
    return ST_OK


cdef inline int push_event(OrderState* o, GenIn* gi, Ctx* c, uint8_t typ, int64_t t,
                           uint64_t* args, uint64_t x0, uint64_t x1) noexcept nogil:
    """Append the row of one event taken by the ordering.

    args are the event's arguments after the time delta (as adjusted by the
    handler, like Go's smuggled values); x0, x1 are extra values a handler
    passes (old state of a status event, task info of a task end, ...).
    Stack and string ids are checked and turned into global rows here, as
    Go checks them when it hands the event out.
    """
    cdef uint32_t own_stack = 0, s0 = 0, s1 = 0, tstack = 0
    cdef int j, st
    cdef uint8_t kind = KIND_OF[typ]
    cdef TraceEventRec* r
    cdef uint8_t fr = 0, to = 0
    cdef uint64_t a0 = 0, a1 = 0, a2 = 0
    cdef uint64_t vals[3]
    cdef uint32_t v
    if HAS_IDS[typ]:
        for j in range(2):
            if STACK_POS[typ][j] >= 0:
                st = lookup_stack(o, gi, args[STACK_POS[typ][j]], &v, typ)
                if st:
                    return st
                if j == 0:
                    own_stack = v
        for j in range(2):
            if STRING_POS[typ][j] >= 0:
                st = lookup_string(o, gi, args[STRING_POS[typ][j]], &v, typ)
                if st:
                    return st
                if j == 0:
                    s0 = v
                else:
                    s1 = v

    if kind == K_STATE_TRANSITION:
        # First: in scheduler-heavy traces nearly every event is one.  The
        # states are the spec's where they are fixed; the branches below say
        # whose transition it is (a0) and read the states an event carries.
        fr = FROM_STATE[typ]
        to = TO_STATE[typ]
        if typ == EvProcStop:
            a0 = <uint64_t>c.p
        elif typ == EvProcSteal:
            a0, to = args[0], P_IDLE
            fr = P_IDLE if x0 == PS_ABANDONED else P_RUNNING
        elif typ == EvProcStatus:
            a0, fr = args[0], <uint8_t>x0
            to = proc_state_of(args[1])
        elif typ == EvGoCreate or typ == EvGoCreateBlocked:
            a0 = args[0]
            # Go gives a created goroutine a transition stack handle even
            # when its id is 0; row 1 is the empty stack.
            st = lookup_stack(o, gi, args[1], &tstack, typ)
            if st:
                return st
            a2 = tstack if tstack else 1
        elif typ == EvGoDestroy or typ == EvGoDestroySyscall or typ == EvGoSyscallEnd \
                or typ == EvGoSyscallEndBlocked:
            a0 = <uint64_t>c.g
        elif typ == EvGoStop or typ == EvGoBlock:
            a0 = <uint64_t>c.g
            a1 = s0
            a2 = own_stack
        elif typ == EvGoSyscallBegin:
            a0 = <uint64_t>c.g
            a2 = own_stack
        elif typ == EvGoStatus or typ == EvGoStatusStack:
            a0, fr = args[0], <uint8_t>x0
            to = go_state_of(args[2])
            a2 = own_stack
        else:
            # ProcStart, GoCreateSyscall, GoStart, GoUnblock, GoSwitch and
            # GoSwitchDestroy name the P or goroutine in their first argument.
            a0 = args[0]
    else:
        st = row_values(o, gi, c, typ, kind, args, x0, x1, s0, s1, vals)
        if st:
            return st
        a0 = vals[0]
        a1 = vals[1]
        a2 = vals[2]
    r = row_slot(o, t, c, kind, typ)
    if r == NULL:
        return ST_NOMEM
    r.a[0] = a0
    r.a[1] = a1
    r.a[2] = a2
    r.stack = own_stack
    r.from_state = fr
    r.to_state = to
    return ST_OK


# push_event written out for the three commonest events of scheduler traces
# (GoStart, GoUnblock, GoBlock: over 90% of sched-4mb's), called where they
# are handled: they skip push_event's call and its branches on the type
# (callgrind, sched-4mb: 346.4 -> 292.8 M instructions in State.step, 409 -> 346 an
# event; 328.5 M with GoStart's alone).
# check_spec makes sure the spec still gives these types the ids read here.
# Their six stores after row_slot repeat push_event's (and adv_experimental's)
# on purpose: one inline put_row for all of them measured 1.3% more
# instructions (sched-4mb, 280.8 -> 284.4 M), gcc then no longer inlining
# push_event into the loop.

cdef inline int push_start_row(OrderState* o, Ctx* c, uint8_t typ, int64_t t,
                               uint64_t a0) noexcept nogil:
    """GoStart's row: no ids, a[0] the goroutine."""
    cdef TraceEventRec* r = row_slot(o, t, c, K_STATE_TRANSITION, typ)
    if r == NULL:
        return ST_NOMEM
    r.a[0] = a0
    r.a[1] = 0
    r.a[2] = 0
    r.stack = 0
    r.from_state = FROM_STATE[typ]
    r.to_state = TO_STATE[typ]
    return ST_OK


cdef inline int push_own_stack_row(OrderState* o, GenIn* gi, Ctx* c, uint8_t typ, int64_t t,
                                   uint64_t* args, uint64_t a0, bint reason) noexcept nogil:
    """The row of GoUnblock (a[0] the goroutine, its stack) or, with
    ``reason``, of GoStop or GoBlock (a[0] the goroutine stopping, a[1] the
    reason's string row, a[2] and its stack the stack row).  Ids checked in
    push_event's order: stack first."""
    cdef uint32_t stack = 0, why = 0
    cdef TraceEventRec* r
    cdef int st = lookup_stack(o, gi, args[STACK_POS[typ][0]], &stack, typ)
    if st:
        return st
    if reason:
        st = lookup_string(o, gi, args[STRING_POS[typ][0]], &why, typ)
        if st:
            return st
    r = row_slot(o, t, c, K_STATE_TRANSITION, typ)
    if r == NULL:
        return ST_NOMEM
    r.a[0] = a0
    r.a[1] = why
    r.a[2] = stack if reason else 0
    r.stack = stack
    r.from_state = FROM_STATE[typ]
    r.to_state = TO_STATE[typ]
    return ST_OK


cdef inline uint8_t proc_state_of(uint64_t status) noexcept nogil:
    if status == PS_RUNNING or status == PS_SYSCALL:
        return P_RUNNING
    if status == PS_IDLE or status == PS_ABANDONED:
        return P_IDLE
    return P_UNDETERMINED


cdef inline uint8_t go_state_of(uint64_t status) noexcept nogil:
    if status == GS_RUNNABLE:
        return G_RUNNABLE
    if status == GS_RUNNING:
        return G_RUNNING
    if status == GS_SYSCALL:
        return G_SYSCALL
    if status == GS_WAITING:
        return G_WAITING
    return G_UNDETERMINED


cdef int push_sync(OrderState* o, int64_t t, uint64_t gen_row) noexcept nogil:
    cdef Ctx c
    cdef TraceEventRec* r
    c.g = NONE
    c.p = NONE
    c.m = NONE
    c.mslot = NONE
    c.unknown = 0
    r = new_row(o, t, &c, K_SYNC, 0)
    if r == NULL:
        return ST_NOMEM
    o.syncs += 1
    r.a[0] = <uint64_t>o.syncs
    r.a[1] = gen_row
    return ST_OK
