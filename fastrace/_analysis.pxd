# cython: language_level=3
#
# Record layouts of the analysis stage (stage 3: the ordered event table ->
# derived tables).  Each struct is the single definition of a row of one
# derived table; the numpy dtypes in _analysis.pyx are derived from them.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t


# Goroutine state intervals and latency profiles
# (_states.pxi; Python layer: fastrace.analysis.states and .pprof)

from fastrace._order cimport TraceEventRec
from fastrace._varint cimport Growable


cdef struct GoStateIntervalRec:     # 72 bytes: one row of Trace.states()
    int64_t g                 # goroutine id
    int64_t start             # ns, trace clock: time of the transition into the state
    int64_t end               # ns: time of the transition out; the trace's last timestamp if none
    int64_t m                 # thread (M) id the goroutine ran or made its syscall on (Running, Syscall); -1 otherwise
    int64_t start_row         # row in Trace.events of the transition that began the interval
    int64_t end_row           # row in Trace.events of the transition that ended it; -1 = open at the trace's end
    uint32_t reason           # row in Trace.strings: reason given by that transition (0 = "")
    uint32_t stack            # row in Trace.stacks: stack of that transition event (what Go's profiles use); 0 = none
    uint32_t transition_stack # row in Trace.stacks: the goroutine's own stack given by the transition (a[2]); 0 = none
    int32_t p                 # P the goroutine ran on (Running); -1 otherwise
    uint8_t state             # fastrace.kinds.GoState: Runnable 2, Running 3, Waiting 4, Syscall 5
    uint8_t prev_state        # GoState before the transition (Undetermined 0: first seen in the trace)
    uint16_t pad0
    uint32_t pad1


cdef struct StGoroutine:            # per-goroutine state of a latency profile (internal)
    int64_t lo                # Go's summary StartTime: first GoRunning time of the goroutine's current life, 0 = not yet
    int64_t hi                # Go's summary EndTime: when that life ended (NotExist, Waiting "forever"); 0 = not yet
    int64_t track_start       # ns: when the tracked interval began
    int64_t pending           # first of the goroutine's pending samples (StPending row); -1 = none
    uint32_t track_stack      # row in Trace.stacks of the event that began the tracked interval
    uint8_t tracking          # 1 while the goroutine is in the profiled state
    uint8_t seen              # 1 once a transition changed its state: Go's summary has it
    uint8_t has_samples       # 1 once an interval of it ended (counted or not)
    uint8_t pad0


cdef struct StPending:              # a sample of a goroutine that has not run yet (internal)
    int64_t delay             # ns: the interval's whole length
    int64_t seq               # order in which the sample ended
    int64_t next              # next pending sample of the goroutine, or next free row; -1 = none
    uint32_t stack            # row in Trace.stacks
    uint32_t pad0


# Working state of the passes in _states.pxi (not tables handed out).

cdef struct StMap:                  # goroutine id -> int64, open addressing, linear probing
    uint64_t* keys            # goroutine id per slot
    int64_t* vals             # value per slot
    uint8_t* used             # 1 where the slot holds a key
    Py_ssize_t cap            # slots, a power of two
    Py_ssize_t n              # slots in use


cdef struct StIndex:                # goroutine id -> dense number 0, 1, 2... (order of first sight)
    int32_t* dense            # id -> number, for ids < dense_cap; -1 = none
    Py_ssize_t dense_cap      # entries in dense (a power of two, or 0)
    StMap hashed              # id -> number, for ids >= ST_DENSE_MAX
    int64_t n                 # numbers given


cdef struct StStrings:              # the string table, with per-row reason flags
    const uint8_t* data       # Trace.strings.data: every string, concatenated
    const uint64_t* offsets   # nstrings + 1 entries: where each string starts in data
    Py_ssize_t nstrings       # rows
    uint8_t* flags            # per row, ST_STR_*; 0 = not computed yet


cdef struct StLatency:              # one latency profile being computed (StatesLatency)
    StIndex index             # goroutine id -> row in gs
    Growable gs               # StGoroutine rows
    Growable pend             # StPending rows
    int64_t free_pend         # first free StPending row; -1 = none
    int64_t seq               # samples ended so far
    int64_t last_time         # time of the last event fed
    uint8_t target            # the GoState profiled
    uint8_t want              # ST_STR_* flag the reason must have; 0 = any reason
    uint8_t fixed             # second pass: windows fixed, nothing pending
    uint8_t ambiguous         # the one-pass answer cannot be trusted: run the second pass
