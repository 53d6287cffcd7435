# cython: language_level=3
#
# Record layouts of the ordering stage (stage 2: wire tables -> the ordered
# table of high-level events).  As in _varint.pxd, each struct is the single
# definition of a row; the numpy dtypes in _order.pyx are derived from them.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t


# Enums shared by the ordering engine and the analysis stage (cimport them
# from here).  The cpdef ones are also Python enums of fastrace._order, and
# _order checks them against fastrace.kinds and fastrace.spec at import.

cdef enum GoStatusC:          # goroutine status as written in the trace
    GS_BAD = 0
    GS_RUNNABLE = 1
    GS_RUNNING = 2
    GS_SYSCALL = 3
    GS_WAITING = 4

cdef enum ProcStatusC:        # P status as written in the trace
    PS_BAD = 0
    PS_RUNNING = 1
    PS_IDLE = 2
    PS_SYSCALL = 3
    PS_ABANDONED = 4

cpdef enum GoStateC:         # fastrace.kinds.GoState (checked at import)
    G_UNDETERMINED = 0
    G_NOT_EXIST = 1
    G_RUNNABLE = 2
    G_RUNNING = 3
    G_WAITING = 4
    G_SYSCALL = 5

cpdef enum ProcStateC:       # fastrace.kinds.ProcState (checked at import)
    P_UNDETERMINED = 0
    P_NOT_EXIST = 1
    P_RUNNING = 2
    P_IDLE = 3

cpdef enum KindC:            # fastrace.kinds.EventKind (checked at import)
    K_BAD = 0
    K_SYNC = 1
    K_METRIC = 2
    K_LABEL = 3
    K_STACK_SAMPLE = 4
    K_RANGE_BEGIN = 5
    K_RANGE_ACTIVE = 6
    K_RANGE_END = 7
    K_TASK_BEGIN = 8
    K_TASK_END = 9
    K_REGION_BEGIN = 10
    K_REGION_END = 11
    K_LOG = 12
    K_STATE_TRANSITION = 13
    K_EXPERIMENTAL = 14

cpdef enum Ev:               # the wire types the engine handles (dispatch() and CPU samples), Ev + name in fastrace.spec
                             # (checked at import: codes, and no type of the spec left out)
    EvCPUSample = 7           # not timed: CPU samples come in their own batches
    EvProcsChange = 9
    EvProcStart = 10
    EvProcStop = 11
    EvProcSteal = 12
    EvProcStatus = 13
    EvGoCreate = 14
    EvGoCreateSyscall = 15
    EvGoStart = 16
    EvGoDestroy = 17
    EvGoDestroySyscall = 18
    EvGoStop = 19
    EvGoBlock = 20
    EvGoUnblock = 21
    EvGoSyscallBegin = 22
    EvGoSyscallEnd = 23
    EvGoSyscallEndBlocked = 24
    EvGoStatus = 25
    EvSTWBegin = 26
    EvSTWEnd = 27
    EvGCActive = 28
    EvGCBegin = 29
    EvGCEnd = 30
    EvGCSweepActive = 31
    EvGCSweepBegin = 32
    EvGCSweepEnd = 33
    EvGCMarkAssistActive = 34
    EvGCMarkAssistBegin = 35
    EvGCMarkAssistEnd = 36
    EvHeapAlloc = 37
    EvHeapGoal = 38
    EvGoLabel = 39
    EvUserTaskBegin = 40
    EvUserTaskEnd = 41
    EvUserRegionBegin = 42
    EvUserRegionEnd = 43
    EvUserLog = 44
    EvGoSwitch = 45
    EvGoSwitchDestroy = 46
    EvGoCreateBlocked = 47
    EvGoStatusStack = 48


cdef struct TraceEventRec:      # 56 bytes
    int64_t time              # ns on Go's trace clock (trace.Time); strictly increasing down the table
    int64_t g                 # goroutine of the execution context; -1 = none
    uint64_t a[3]             # kind-specific values, see fastrace.kinds.EventKind
    int32_t p                 # P of the execution context; -1 = none (P ids are int32 in the runtime)
    uint32_t m                # row in Trace.threads of the context's M (thread); 0 = none
    uint32_t stack            # row in Trace.stacks of the event's own stack; 0 = no stack
    uint8_t kind              # fastrace.kinds.EventKind
    uint8_t type              # wire event type that produced the row (fastrace.spec); 0 for Sync
    uint8_t from_state        # state transitions: GoState / ProcState before
    uint8_t to_state          # state transitions: GoState / ProcState after

cdef struct StackRowRec:
    uint32_t frame_start      # first row in Trace.frames
    uint32_t nframes          # frames, innermost first

cdef struct FrameRowRec:
    uint64_t pc               # program counter
    uint64_t line             # line number
    uint32_t func             # row in Trace.strings: function name
    uint32_t file             # row in Trace.strings: file name

cdef struct GenerationRowRec:
    uint64_t gen              # generation number written in the trace
    int64_t sync_row          # row in Trace.events of this generation's Sync event
    int64_t clock_trace       # clock snapshot on the trace clock, ns (valid if has_clock)
    uint64_t clock_mono       # clock snapshot: monotonic clock, ns
    int64_t clock_sec         # clock snapshot: wall clock, seconds since the Unix epoch
    int64_t clock_nsec        # clock snapshot: wall clock, nanoseconds part
    uint64_t freq             # trace clock ticks per second
    uint32_t exp_batch_start  # first row in Trace.exp_batches
    uint32_t exp_batch_count  # rows in Trace.exp_batches
    uint8_t has_clock         # a clock snapshot exists (Go 1.25+)
    uint8_t pad0
    uint16_t pad1
    uint32_t pad2

cdef struct ExpBatchRowRec:
    int64_t m                 # thread that wrote the batch (-1 = none)
    uint64_t offset           # byte offset of the batch data in the input
    uint32_t length           # data bytes
    uint32_t generation       # row in Trace.generations
    uint8_t exp               # experiment id (fastrace.spec.EXPERIMENTS)
    uint8_t pad0
    uint16_t pad1
    uint32_t pad2
