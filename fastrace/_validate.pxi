# The row checks of ``fastrace.validate`` in one C pass over the event table:
# the table invariants of each row, timestamps, stacks and the state machine
# of Go's validator (goroutines, Ps, threads, ranges, tasks, Syncs).
# Included by _analysis.pyx; record layouts in _analysis.pxd ("Validation").
#
# The pass does not build messages: it returns one ValidateProblemRec per
# problem (row, VaCode, up to two values the row does not hold) in the order
# fastrace.validate reports them (by row; within a row, in the order of the
# checks), and fastrace.validate words them.  What each wire type means
# comes in as a ValidateTypeRec table built by fastrace.validate from
# fastrace.spec, so nothing of the spec is written again here.
#
# Every C name here starts with ``va_``/``Va`` and every Python name with
# ``validate_``/``_va_``: the other concerns are compiled into the same module.

from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t, UINT64_MAX
from libc.string cimport memcmp, memset

from fastrace._order cimport (
    G_UNDETERMINED, G_NOT_EXIST, G_RUNNING, G_SYSCALL,
    P_UNDETERMINED, P_NOT_EXIST, P_RUNNING,
    K_SYNC, K_LABEL, K_STACK_SAMPLE, K_RANGE_BEGIN, K_RANGE_ACTIVE, K_RANGE_END,
    K_TASK_BEGIN, K_TASK_END, K_STATE_TRANSITION, K_EXPERIMENTAL,
)
from fastrace._hashmap cimport HMap, hmap_alloc, hmap_free, hmap_slot, hmap_value
from fastrace._varint cimport Growable, adopt, grow_slot, release

import numpy as np

from fastrace._order import EVENT_DTYPE as _VA_EVENT_DTYPE
from fastrace._varint import _dtype_of as _va_dtype_of


cdef ValidateProblemRec _va_problem_proto
cdef ValidateTypeRec _va_type_proto

VALIDATE_PROBLEM_DTYPE = _va_dtype_of(<ValidateProblemRec[:1]>&_va_problem_proto)
VALIDATE_TYPE_DTYPE = _va_dtype_of(<ValidateTypeRec[:1]>&_va_type_proto)


# What a ValidateProblemRec reports.  v0/v1 hold what the row itself does
# not say (the row's own fields are read again by fastrace.validate when it
# words the problem); "-" = unused.
cpdef enum VaCode:
    # Table invariants (one row at a time).
    VA_UNKNOWN_KIND = 1       # kind is not an EventKind
    VA_WIRE_TYPE = 2          # the wire type does not produce the kind
    VA_NO_STACK = 3           # the stack row does not exist
    VA_NO_THREAD = 4          # the thread row does not exist
    VA_BAD_G = 5              # g < -1
    VA_BAD_P = 6              # p < -1
    VA_NO_STRING_SLOT = 7     # v0: slot whose string row does not exist
    VA_NO_STACK_SLOT = 8      # v0: slot whose stack row does not exist
    VA_STATE_RANGE = 9        # from/to state out of range
    VA_NO_GENERATION = 10     # a Sync's generation row does not exist
    VA_GENERATION_BACK = 11   # v0: the row the Sync's generation names as its Sync
    VA_FIRST_NOT_SYNC = 12    # row 0 is not a Sync
    VA_LAST_NOT_SYNC = 13     # the last row is not a Sync
    VA_SCOPE_G = 14           # a range's scope (a0) is not the event's goroutine
    VA_SCOPE_P = 15           # a range's scope (a0) is not the event's P
    # Timestamps and stacks.
    VA_TIME = 16              # v0: the largest time so far, not before this one
    VA_STACK_FRAMES = 17      # the event's stack has an incomplete frame
    VA_TSTACK_FRAMES = 18     # the transition stack (a2) has an incomplete frame
    # The state machine.
    VA_CONTEXT = 19           # v0, v1: P and G the transitions leave on the thread
    VA_NO_EXEC_THREAD = 20    # a goroutine or P starts executing on no thread
    VA_SYNC_NUMBER = 21       # v0: N of the previous Sync (uint64 bits)
    VA_SYNC_NO_CLOCK = 22     # Sync without clock snapshot
    VA_SYNC_ZERO_WALL = 23
    VA_SYNC_ZERO_MONO = 24
    VA_SYNC_ZERO_TRACE = 25
    VA_SYNC_WALL = 26         # v0: generation row of the previous Sync's snapshot
    VA_SYNC_MONO = 27         # v0: as VA_SYNC_WALL
    VA_SYNC_TRACE = 28        # v0: as VA_SYNC_WALL
    VA_RANGE_BEGIN = 29       # the range begins while active on its scope
    VA_RANGE_END = 30         # the range ends but is not active on its scope
    VA_LABEL_EMPTY = 31
    VA_LABEL_G = 32           # the label's goroutine was never named by a transition
    VA_TASK_ID = 33           # a task id of 0 or NoTask
    VA_TASK_PARENT = 34       # the background task as parent
    VA_TASK_TYPE = 35         # v0: string row of the type its TaskBegin had
    VA_G_TO_UNDETERMINED = 36
    VA_G_FROM_UNDETERMINED = 37
    VA_G_RANGES = 38          # the goroutine stops existing with active ranges
    VA_G_OLD_STATE = 39       # v0: the state it is in
    VA_G_FIRST = 40           # first transition not from Undetermined or NotExist
    VA_G_BUSY_THREAD = 41     # v0: goroutine the thread already runs
    VA_G_UNBOUND = 42         # stops executing but bound to no thread
    VA_G_OTHER_THREAD = 43    # v0, v1: the thread it is bound to and the goroutine that runs there
    VA_G_TSTACK = 44          # the transition stack is not the event's stack
    # The P codes are the goroutine ones from VA_G_TO_UNDETERMINED to
    # VA_G_OTHER_THREAD, in the same order, plus VA_P_OFFSET.
    VA_P_TO_UNDETERMINED = 45
    VA_P_FROM_UNDETERMINED = 46
    VA_P_RANGES = 47
    VA_P_OLD_STATE = 48       # v0: the state it is in
    VA_P_FIRST = 49
    VA_P_BUSY_THREAD = 50     # v0: P the thread already has
    VA_P_UNBOUND = 51
    VA_P_OTHER_THREAD = 52    # v0, v1: the thread it is bound to and the P that runs there


cdef enum:
    VA_P_OFFSET = VA_P_TO_UNDETERMINED - VA_G_TO_UNDETERMINED
    VA_NOMEM = -1
    VA_MAX_GO_STATE = 5       # largest GoState
    VA_MAX_PROC_STATE = 3     # largest ProcState
    VA_SCOPE_NONE = 0         # ResourceKind
    VA_SCOPE_GOROUTINE = 1
    VA_SCOPE_PROC = 2


def _va_check_codes():
    # va_resource words a P's problems with the goroutine codes plus
    # VA_P_OFFSET: check at import that the two lists stay parallel.
    for name in ("TO_UNDETERMINED", "FROM_UNDETERMINED", "RANGES", "OLD_STATE", "FIRST",
                 "BUSY_THREAD", "UNBOUND", "OTHER_THREAD"):
        if VaCode["VA_G_" + name] + VA_P_OFFSET != VaCode["VA_P_" + name]:
            raise ImportError(f"_validate.pxi: VA_P_{name} is not VA_G_{name} + VA_P_OFFSET")


_va_check_codes()


# Go's time.Time zero value (1 January of year 1, UTC) in Unix seconds.
cdef int64_t VA_ZERO_WALL_SEC = -62135596800


# ---------------------------------------------------------------------------
# The pass.

cdef struct VaState:                # the walk's state (internal)
    HMap gs                  # goroutine id -> state | (1 + bound thread) << 8
    HMap ps                  # P id -> as gs
    HMap ms                  # thread id -> row in threads
    Growable threads          # VaThread rows
    HMap g_ranges            # goroutine id -> first VaRangeEntry of its active ranges; -1 = none
    HMap p_ranges            # P id -> as g_ranges
    int64_t none_ranges       # first VaRangeEntry of the global scope; -1 = none
    Growable entries          # VaRangeEntry rows
    int64_t free_entry        # first free VaRangeEntry; -1 = none
    HMap tasks               # task id -> string row of its TaskBegin's type; -1 = ended
    Growable out              # ValidateProblemRec rows


cdef inline int va_emit(VaState* s, int64_t row, int code, int64_t v0, int64_t v1) noexcept nogil:
    cdef ValidateProblemRec* p = <ValidateProblemRec*>grow_slot(&s.out)
    if p == NULL:
        return VA_NOMEM
    p.row = row
    p.code = code
    p.v0 = v0
    p.v1 = v1
    p.pad0 = 0
    return 0


cdef inline bint va_same_string(const VaInput* I, uint64_t x, uint64_t y) noexcept nogil:
    """Rows x and y of the string table hold the same bytes (both exist)."""
    cdef uint64_t nx, ny
    if x == y:
        return True
    nx = I.soff[x + 1] - I.soff[x]
    ny = I.soff[y + 1] - I.soff[y]
    return nx == ny and memcmp(I.sdata + I.soff[x], I.sdata + I.soff[y], <size_t>nx) == 0


cdef inline int64_t* va_range_head(VaState* s, int scope, int64_t id) noexcept nogil:
    """The list head of a scope's active ranges (inserted empty); NULL when
    out of memory."""
    if scope == VA_SCOPE_NONE:
        return &s.none_ranges
    if scope == VA_SCOPE_PROC:
        return hmap_slot(&s.p_ranges, <uint64_t>id, -1)
    return hmap_slot(&s.g_ranges, <uint64_t>id, -1)


cdef inline int64_t va_find_range(const VaInput* I, VaState* s, int64_t head, uint8_t name,
                                  bint stw, uint64_t str, int64_t* prev) noexcept nogil:
    """The first entry of the list at head with this name (and, for
    stop-the-world ranges, the same kind string); -1 = none.  prev gets the
    entry before it (-1: it is the head)."""
    cdef VaRangeEntry* e
    cdef VaRangeEntry* base = <VaRangeEntry*>s.entries.data
    prev[0] = -1
    while head >= 0:
        e = &base[head]
        if e.name == name and (not stw or va_same_string(I, e.str, str)):
            return head
        prev[0] = head
        head = e.next
    return -1


cdef int va_clock_later(const VaInput* I, uint64_t gen, uint64_t last, int which) noexcept nogil:
    """Whether clock ``which`` (0 wall, 1 monotonic, 2 trace) of generation
    gen is after that of generation last."""
    cdef int64_t sec, nsec, lsec, lnsec
    if which == 1:
        return I.clock_mono[gen] > I.clock_mono[last]
    if which == 2:
        return I.clock_trace[gen] > I.clock_trace[last]
    va_wall(I, gen, &sec, &nsec)
    va_wall(I, last, &lsec, &lnsec)
    return sec > lsec or (sec == lsec and nsec > lnsec)


cdef inline void va_wall(const VaInput* I, uint64_t gen, int64_t* sec, int64_t* nsec) noexcept nogil:
    # As Go's time.Unix: nsec brought into [0, 1e9), the carry into sec.
    cdef int64_t ns = I.clock_nsec[gen]
    cdef int64_t carry = ns // 1000000000
    if ns % 1000000000 < 0:
        carry -= 1
    sec[0] = I.clock_sec[gen] + carry
    nsec[0] = ns - carry * 1000000000


cdef int va_sync_clock(const VaInput* I, VaState* s, int64_t row, uint64_t n, bint has,
                       uint64_t gen, bint last_has, uint64_t last) noexcept nogil:
    cdef int64_t sec, nsec
    if not has:
        return va_emit(s, row, VA_SYNC_NO_CLOCK, 0, 0)
    va_wall(I, gen, &sec, &nsec)
    if sec == VA_ZERO_WALL_SEC and nsec == 0:
        if va_emit(s, row, VA_SYNC_ZERO_WALL, 0, 0):
            return VA_NOMEM
    if I.clock_mono[gen] == 0:
        if va_emit(s, row, VA_SYNC_ZERO_MONO, 0, 0):
            return VA_NOMEM
    if I.clock_trace[gen] == 0:
        if va_emit(s, row, VA_SYNC_ZERO_TRACE, 0, 0):
            return VA_NOMEM
    if not I.clock_checks or n < 2 or not last_has:
        return 0
    if not va_clock_later(I, gen, last, 0):
        if va_emit(s, row, VA_SYNC_WALL, <int64_t>last, 0):
            return VA_NOMEM
    if not va_clock_later(I, gen, last, 1):
        if va_emit(s, row, VA_SYNC_MONO, <int64_t>last, 0):
            return VA_NOMEM
    if not va_clock_later(I, gen, last, 2):
        if va_emit(s, row, VA_SYNC_TRACE, <int64_t>last, 0):
            return VA_NOMEM
    return 0


cdef int64_t va_thread(VaState* s, int64_t row, int64_t m, bint lenient) noexcept nogil:
    """Row in s.threads of thread m, added if new; -1 (and a problem) for
    m == -1 unless lenient; VA_NOMEM - 1 when out of memory."""
    cdef int64_t* slot
    cdef VaThread* t
    if m == -1 and not lenient:
        if va_emit(s, row, VA_NO_EXEC_THREAD, 0, 0):
            return VA_NOMEM - 1
        return -1
    slot = hmap_slot(&s.ms, <uint64_t>m, -1)
    if slot == NULL:
        return VA_NOMEM - 1
    if slot[0] < 0:
        t = <VaThread*>grow_slot(&s.threads)
        if t == NULL:
            return VA_NOMEM - 1
        t.m = m
        t.p = -1
        t.g = -1
        slot[0] = s.threads.n - 1
    return slot[0]


cdef int va_resource(const VaInput* I, VaState* s, int64_t row, const TraceEventRec* e,
                     int64_t m, uint64_t last_n, bint proc) noexcept nogil:
    """One goroutine (proc = 0) or P transition; the codes of the two
    differ by a fixed offset."""
    cdef int64_t rid = <int64_t>e.a[0]
    cdef int old = e.from_state
    cdef int new = e.to_state
    cdef int off = VA_P_OFFSET if proc else 0
    cdef int undet = <int>P_UNDETERMINED if proc else <int>G_UNDETERMINED
    cdef int gone = <int>P_NOT_EXIST if proc else <int>G_NOT_EXIST
    cdef bint new_exec, old_exec, lenient
    cdef int64_t* slot
    cdef int64_t val, bound, t
    cdef VaThread* th
    cdef HMap* ranges = &s.p_ranges if proc else &s.g_ranges
    if proc:
        new_exec = new == P_RUNNING
        old_exec = old == P_RUNNING
    else:
        new_exec = new == G_RUNNING or new == G_SYSCALL
        old_exec = old == G_RUNNING or old == G_SYSCALL
    if new == undet:
        if va_emit(s, row, VA_G_TO_UNDETERMINED + off, 0, 0):
            return VA_NOMEM
    if last_n > 1 and old == undet:
        if va_emit(s, row, VA_G_FROM_UNDETERMINED + off, 0, 0):
            return VA_NOMEM
    if new == gone and hmap_value(ranges, <uint64_t>rid, -1) >= 0:
        if va_emit(s, row, VA_G_RANGES + off, 0, 0):
            return VA_NOMEM
    slot = hmap_slot(&s.ps if proc else &s.gs, <uint64_t>rid, -1)
    if slot == NULL:
        return VA_NOMEM
    if slot[0] >= 0:
        if old != (slot[0] & 0xff):
            if va_emit(s, row, VA_G_OLD_STATE + off, slot[0] & 0xff, 0):
                return VA_NOMEM
        bound = (slot[0] >> 8) - 1
    else:
        if old != undet and old != gone:
            if va_emit(s, row, VA_G_FIRST + off, 0, 0):
                return VA_NOMEM
        bound = -1
    val = new
    if new_exec:
        lenient = (not proc) and I.version < 22 and old == G_UNDETERMINED and new == G_SYSCALL
        t = va_thread(s, row, m, lenient)
        if t < -1:
            return VA_NOMEM
        if t >= 0:
            th = &(<VaThread*>s.threads.data)[t]
            if proc:
                if th.p != -1 and th.p != rid:
                    if va_emit(s, row, VA_P_BUSY_THREAD, th.p, 0):
                        return VA_NOMEM
                th.p = rid
            else:
                if th.g != -1 and th.g != rid:
                    if va_emit(s, row, VA_G_BUSY_THREAD, th.g, 0):
                        return VA_NOMEM
                th.g = rid
            bound = t
    elif old_exec:
        if not proc and e.a[2] != e.stack:
            if va_emit(s, row, VA_G_TSTACK, 0, 0):
                return VA_NOMEM
        if bound < 0:
            if va_emit(s, row, VA_G_UNBOUND + off, 0, 0):
                return VA_NOMEM
        else:
            th = &(<VaThread*>s.threads.data)[bound]
            if proc:
                if th.p != rid:
                    if va_emit(s, row, VA_P_OTHER_THREAD, th.m, th.p):
                        return VA_NOMEM
                th.p = -1
            else:
                if th.g != rid:
                    if va_emit(s, row, VA_G_OTHER_THREAD, th.m, th.g):
                        return VA_NOMEM
                th.g = -1
            bound = -1
    # (slot is still valid: va_thread puts into s.ms, another map.)
    slot[0] = val | ((bound + 1) << 8)
    return 0


cdef int va_range(const VaInput* I, VaState* s, int64_t row, const TraceEventRec* e) noexcept nogil:
    cdef const ValidateTypeRec* T = &I.types[e.type]
    cdef int k = e.kind
    cdef int scope
    cdef int64_t id, found, prev
    cdef int64_t* head
    cdef VaRangeEntry* base
    cdef VaRangeEntry* ent
    cdef uint64_t str = e.a[1] if T.is_stw else 0
    # As in Go, a begin's or end's scope is the context's goroutine or P
    # (none for the global GC mark phase); only RangeActive names it (a0).
    if T.is_stw:
        scope = VA_SCOPE_GOROUTINE
        id = e.g
    elif T.range_scope == VA_SCOPE_NONE:
        scope = VA_SCOPE_NONE
        id = 0
    else:
        scope = T.range_scope
        if k == K_RANGE_ACTIVE:
            id = <int64_t>e.a[0]
        elif scope == VA_SCOPE_PROC:
            id = e.p
        else:
            id = e.g
    head = va_range_head(s, scope, id)
    if head == NULL:
        return VA_NOMEM
    found = va_find_range(I, s, head[0], T.range_name, T.is_stw, str, &prev)
    if k == K_RANGE_END:
        if found < 0:
            return va_emit(s, row, VA_RANGE_END, 0, 0)
        base = <VaRangeEntry*>s.entries.data
        if prev < 0:
            head[0] = base[found].next
        else:
            base[prev].next = base[found].next
        base[found].next = s.free_entry
        s.free_entry = found
        return 0
    if found >= 0:
        if k == K_RANGE_ACTIVE:
            return 0
        if va_emit(s, row, VA_RANGE_BEGIN, 0, 0):
            return VA_NOMEM
    # Append (order in the list does not matter: lookups compare names).
    if s.free_entry >= 0:
        found = s.free_entry
        s.free_entry = (<VaRangeEntry*>s.entries.data)[found].next
    else:
        if grow_slot(&s.entries) == NULL:
            return VA_NOMEM
        found = s.entries.n - 1
    # head may point into a map slot: no put has happened since it was taken.
    ent = &(<VaRangeEntry*>s.entries.data)[found]
    ent.next = head[0]
    ent.str = <uint32_t>str
    ent.name = T.range_name
    ent.pad0 = 0
    ent.pad1 = 0
    head[0] = found
    return 0


cdef int va_row_table(const VaInput* I, VaState* s, Py_ssize_t r, bint* bad) noexcept nogil:
    """The table invariants of row r (fastrace.validate's _structure)."""
    cdef const TraceEventRec* e = &I.ev[r]
    cdef const ValidateTypeRec* T = &I.types[e.type]
    cdef int k = e.kind
    cdef bint known = 1 <= k <= K_EXPERIMENTAL
    cdef bint ok_type
    cdef int slot, limit
    cdef uint64_t gen
    bad[0] = False
    if not known:
        if va_emit(s, r, VA_UNKNOWN_KIND, 0, 0):
            return VA_NOMEM
        bad[0] = True
    if k == K_SYNC:
        ok_type = e.type == 0
    else:
        ok_type = T.kind == k
    # A CPU sample may also be stored without a wire type.
    if k == K_STACK_SAMPLE and e.type == 0:
        ok_type = True
    if known and not ok_type:
        if va_emit(s, r, VA_WIRE_TYPE, 0, 0):
            return VA_NOMEM
        bad[0] = True
    if e.stack >= I.nstacks:
        if va_emit(s, r, VA_NO_STACK, 0, 0):
            return VA_NOMEM
        bad[0] = True
    if e.m >= I.nthreads:
        if va_emit(s, r, VA_NO_THREAD, 0, 0):
            return VA_NOMEM
        bad[0] = True
    if I.extra:
        if e.g < -1:
            if va_emit(s, r, VA_BAD_G, 0, 0):
                return VA_NOMEM
        if e.p < -1:
            if va_emit(s, r, VA_BAD_P, 0, 0):
                return VA_NOMEM
    if known and ok_type:
        for slot in range(3):
            if (T.string_slots >> slot) & 1 and e.a[slot] >= <uint64_t>I.nstrings:
                if va_emit(s, r, VA_NO_STRING_SLOT, slot, 0):
                    return VA_NOMEM
                bad[0] = True
            if (T.stack_slots >> slot) & 1 and e.a[slot] >= <uint64_t>I.nstacks:
                if va_emit(s, r, VA_NO_STACK_SLOT, slot, 0):
                    return VA_NOMEM
                bad[0] = True
    if k == K_STATE_TRANSITION:
        limit = VA_MAX_PROC_STATE if T.is_proc else VA_MAX_GO_STATE
        if e.from_state > limit or e.to_state > limit:
            if va_emit(s, r, VA_STATE_RANGE, 0, 0):
                return VA_NOMEM
            bad[0] = True
    if k == K_SYNC:
        gen = e.a[1]
        if gen != UINT64_MAX:
            if gen >= <uint64_t>I.ngens:
                if va_emit(s, r, VA_NO_GENERATION, 0, 0):
                    return VA_NOMEM
                bad[0] = True
            elif I.extra and I.sync_row != NULL and I.sync_row[gen] != r:
                if va_emit(s, r, VA_GENERATION_BACK, I.sync_row[gen], 0):
                    return VA_NOMEM
    if not I.extra:
        return 0
    if r == 0 and k != K_SYNC:
        if va_emit(s, r, VA_FIRST_NOT_SYNC, 0, 0):
            return VA_NOMEM
    if r == I.n - 1 and k != K_SYNC:
        if va_emit(s, r, VA_LAST_NOT_SYNC, 0, 0):
            return VA_NOMEM
    if (k == K_RANGE_BEGIN or k == K_RANGE_END) and T.range_name:
        # Scopes Go derives from the context: the goroutine's (STW, mark
        # assist), the P's (sweep).
        if T.range_scope == VA_SCOPE_GOROUTINE and <int64_t>e.a[0] != e.g:
            if va_emit(s, r, VA_SCOPE_G, 0, 0):
                return VA_NOMEM
        elif T.range_scope == VA_SCOPE_PROC and <int64_t>e.a[0] != e.p:
            if va_emit(s, r, VA_SCOPE_P, 0, 0):
                return VA_NOMEM
    return 0


cdef int va_pass(const VaInput* I, VaState* s) noexcept nogil:
    cdef Py_ssize_t r
    cdef const TraceEventRec* e
    cdef const ValidateTypeRec* T
    cdef int k
    cdef bint bad, any_bad_stack = False, steal, prev_steal, has_clock, last_has = False
    cdef bint check_ctx = I.context and I.extra
    cdef bint exempt
    cdef int64_t last_time = 0, m, want_p, want_g, t, steal_m = 0, steal_p = 0, ts
    cdef uint64_t last_n = 0, n, gen, last_gen = 0
    cdef int64_t* slot
    cdef const VaThread* th
    for r in range(I.nstacks):
        if I.bad_stack[r]:
            any_bad_stack = True
            break
    steal = False
    for r in range(I.n):
        e = &I.ev[r]
        k = e.kind
        T = &I.types[e.type]
        if va_row_table(I, s, r, &bad):
            return VA_NOMEM
        # Timestamps strictly increase; one that goes back is reported and
        # does not move the reference (0: none yet).
        if last_time != 0 and e.time <= last_time:
            if va_emit(s, r, VA_TIME, last_time, 0):
                return VA_NOMEM
        else:
            last_time = e.time
        if any_bad_stack:
            if e.stack < I.nstacks and I.bad_stack[e.stack]:
                if va_emit(s, r, VA_STACK_FRAMES, 0, 0):
                    return VA_NOMEM
            ts = <int64_t>e.a[2]
            if k == K_STATE_TRANSITION and ts >= 0 and ts < I.nstacks and I.bad_stack[ts]:
                if va_emit(s, r, VA_TSTACK_FRAMES, 0, 0):
                    return VA_NOMEM

        # The state machine, over rows that can be interpreted.  A
        # self-steal (see below) only matters to the next row, bad or not.
        prev_steal = steal
        steal = False
        if bad:
            continue
        m = I.threads[e.m]
        if check_ctx and k != K_SYNC and k != K_STACK_SAMPLE:
            t = hmap_value(&s.ms, <uint64_t>m, -1)
            if t >= 0:
                th = &(<VaThread*>s.threads.data)[t]
                want_p = th.p
                want_g = th.g
            else:
                want_p = -1
                want_g = -1
            # Exempt: a goroutine status naming a goroutine in a syscall
            # (reported on the syscall's thread), and the goroutine's end
            # that Go reports right after its self-steal, in the context
            # from before the pair.
            exempt = (T.is_go_status and e.to_state == G_SYSCALL) or (
                prev_steal and steal_m == m and steal_p == e.p and e.g == want_g
                and k == K_STATE_TRANSITION and not T.is_proc
                and e.from_state == G_SYSCALL and e.to_state == G_NOT_EXIST)
            if not exempt and (e.p != want_p or e.g != want_g):
                if va_emit(s, r, VA_CONTEXT, want_p, want_g):
                    return VA_NOMEM
        if k == K_STATE_TRANSITION:
            if va_resource(I, s, r, e, m, last_n, T.is_proc):
                return VA_NOMEM
            if T.is_proc and e.from_state == P_RUNNING and e.to_state != P_RUNNING \
                    and e.p == <int64_t>e.a[0]:
                steal = True
                steal_m = m
                steal_p = <int64_t>e.a[0]
        elif k == K_SYNC:
            n = e.a[0]
            if last_n == UINT64_MAX or n != last_n + 1:
                if va_emit(s, r, VA_SYNC_NUMBER, <int64_t>last_n, 0):
                    return VA_NOMEM
            gen = e.a[1]
            has_clock = gen != UINT64_MAX and gen < <uint64_t>I.ngens \
                and I.has_clock[gen]
            # The final Sync ends the trace without a generation (and is all a
            # trace of only a header has): it has no snapshot.
            if I.version >= 25 and gen != UINT64_MAX and not (n > 1 and not has_clock):
                if va_sync_clock(I, s, r, n, has_clock, gen, last_has, last_gen):
                    return VA_NOMEM
            last_n = n
            last_has = has_clock
            last_gen = gen
        elif k == K_RANGE_BEGIN or k == K_RANGE_ACTIVE or k == K_RANGE_END:
            if va_range(I, s, r, e):
                return VA_NOMEM
        elif k == K_LABEL:
            if I.soff[e.a[0] + 1] == I.soff[e.a[0]]:
                if va_emit(s, r, VA_LABEL_EMPTY, 0, 0):
                    return VA_NOMEM
            if hmap_value(&s.gs, <uint64_t>e.g, -1) < 0:
                if va_emit(s, r, VA_LABEL_G, 0, 0):
                    return VA_NOMEM
        elif k == K_TASK_BEGIN:
            if e.a[0] == UINT64_MAX or e.a[0] == 0:
                if va_emit(s, r, VA_TASK_ID, 0, 0):
                    return VA_NOMEM
            if e.a[1] == 0:
                if va_emit(s, r, VA_TASK_PARENT, 0, 0):
                    return VA_NOMEM
            slot = hmap_slot(&s.tasks, e.a[0], -1)
            if slot == NULL:
                return VA_NOMEM
            slot[0] = <int64_t>e.a[2]
        elif k == K_TASK_END:
            slot = hmap_slot(&s.tasks, e.a[0], -1)
            if slot == NULL:
                return VA_NOMEM
            if slot[0] >= 0:
                if not va_same_string(I, <uint64_t>slot[0], e.a[2]):
                    if va_emit(s, r, VA_TASK_TYPE, slot[0], 0):
                        return VA_NOMEM
                slot[0] = -1
        # Metrics, logs, regions, samples and experimental events have
        # nothing to check beyond the table invariants.
    return 0


cdef void va_state_free(VaState* s) noexcept nogil:
    hmap_free(&s.gs)
    hmap_free(&s.ps)
    hmap_free(&s.ms)
    hmap_free(&s.g_ranges)
    hmap_free(&s.p_ranges)
    hmap_free(&s.tasks)
    release(&s.threads)
    release(&s.entries)


cdef inline void va_growable(Growable* g, Py_ssize_t size) noexcept:
    g.data = NULL
    g.n = 0
    g.cap = 0
    g.size = size
    g.mapped = False
    g.fixed = False


def _va_column(table, name, dtype):
    return np.ascontiguousarray(table[name], dtype=dtype)


def validate_rows(events, const int64_t[::1] threads, strings, Py_ssize_t nstacks,
                  const uint8_t[::1] bad_stack, generations, types, int version, bint extra,
                  bint context, bint clock_checks):
    """The per-row checks of fastrace.validate over ``events`` (Trace.events):
    a numpy array of VALIDATE_PROBLEM_DTYPE, in the order the problems are
    reported.  ``strings`` is a Trace.strings (``data``, ``offsets``);
    ``bad_stack`` has one byte per stack row (1: a frame after the first
    lacks information); ``types`` is 256 rows of VALIDATE_TYPE_DTYPE."""
    cdef VaInput I
    cdef VaState s
    cdef int status
    cdef const uint8_t[::1] sdata
    cdef const uint64_t[::1] soff
    cdef const int64_t[::1] sync_row
    cdef const uint8_t[::1] has_clock
    cdef const int64_t[::1] ctrace
    cdef const uint64_t[::1] cmono
    cdef const int64_t[::1] csec
    cdef const int64_t[::1] cnsec
    cdef const uint8_t[::1] tview
    if not isinstance(events, np.ndarray) or events.dtype != _VA_EVENT_DTYPE \
            or events.ndim != 1 or not events.flags.c_contiguous:
        raise TypeError("expected Trace.events: a contiguous 1-d array of fastrace._order.EVENT_DTYPE")
    if not isinstance(types, np.ndarray) or types.dtype != VALIDATE_TYPE_DTYPE \
            or types.shape != (256,) or not types.flags.c_contiguous:
        raise TypeError("types: expected 256 rows of VALIDATE_TYPE_DTYPE")
    if bad_stack.shape[0] != nstacks:
        raise ValueError(f"bad_stack has {bad_stack.shape[0]} rows for {nstacks} stacks")
    soff = np.ascontiguousarray(strings.offsets, dtype=np.uint64)
    sdata = np.frombuffer(strings.data, dtype=np.uint8) if len(strings.data) \
        else np.zeros(1, dtype=np.uint8)
    if soff.shape[0] == 0:
        soff = np.zeros(1, dtype=np.uint64)
    if soff[soff.shape[0] - 1] > <uint64_t>len(strings.data):
        raise ValueError("the string offsets run past the string data")
    names = generations.dtype.names or ()
    ngens = len(generations)
    has_clock = _va_column(generations, "has_clock", np.uint8) if "has_clock" in names \
        else np.zeros(ngens, dtype=np.uint8)
    ctrace = _va_column(generations, "clock_trace", np.int64)
    cmono = _va_column(generations, "clock_mono", np.uint64)
    csec = _va_column(generations, "clock_sec", np.int64)
    cnsec = _va_column(generations, "clock_nsec", np.int64)
    tview = types.view(np.uint8)

    memset(&I, 0, sizeof(VaInput))
    I.n = len(events)
    I.ev = <const TraceEventRec*>cnp.PyArray_DATA(events)
    I.nthreads = threads.shape[0]
    I.threads = &threads[0] if I.nthreads else NULL
    I.sdata = &sdata[0]
    I.soff = &soff[0]
    I.nstrings = soff.shape[0] - 1
    I.nstacks = nstacks
    I.bad_stack = &bad_stack[0] if nstacks else NULL
    I.ngens = ngens
    if "sync_row" in names and ngens:
        sync_row = _va_column(generations, "sync_row", np.int64)
        I.sync_row = &sync_row[0]
    if ngens:
        I.has_clock = &has_clock[0]
        I.clock_trace = &ctrace[0]
        I.clock_mono = &cmono[0]
        I.clock_sec = &csec[0]
        I.clock_nsec = &cnsec[0]
    I.types = <const ValidateTypeRec*>&tview[0]
    I.version = version
    I.extra = extra
    I.context = context
    I.clock_checks = clock_checks

    memset(&s, 0, sizeof(VaState))
    va_growable(&s.threads, sizeof(VaThread))
    va_growable(&s.entries, sizeof(VaRangeEntry))
    va_growable(&s.out, sizeof(ValidateProblemRec))
    s.none_ranges = -1
    s.free_entry = -1
    status = 0
    if (hmap_alloc(&s.gs, 1024) or hmap_alloc(&s.ps, 64) or hmap_alloc(&s.ms, 64)
            or hmap_alloc(&s.g_ranges, 64) or hmap_alloc(&s.p_ranges, 64)
            or hmap_alloc(&s.tasks, 64)):
        status = VA_NOMEM
    if status == 0:
        with nogil:
            status = va_pass(&I, &s)
    va_state_free(&s)
    if status != 0:
        release(&s.out)
        raise MemoryError("out of memory validating the event table")
    return adopt(&s.out, VALIDATE_PROBLEM_DTYPE)
