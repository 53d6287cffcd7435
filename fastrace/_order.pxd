# cython: language_level=3
#
# Record layouts of the ordering stage (stage 2: wire tables -> the ordered
# table of high-level events).  As in _varint.pxd, each struct is the single
# definition of a row; the numpy dtypes in _order.pyx are derived from them.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t


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
