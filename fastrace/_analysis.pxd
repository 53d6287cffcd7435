# cython: language_level=3
#
# Record layouts of the analysis stage (stage 3: the ordered event table ->
# derived tables).  Each struct is the single definition of a row of one
# derived table; the numpy dtypes in _analysis.pyx are derived from them.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t


# Goroutine and task summaries
#
# Rows of the tables of Go's Summarizer (internal/trace/summary.go), built by
# _summary.pxi.  Times are ns on the trace clock; durations are ns.

cdef struct GoroutineSummaryRec:
    int64_t id                    # goroutine id
    uint64_t pc                   # PC of the outermost frame of the stack that named it; 0 = none
    int64_t creation_time         # ns: its creation, or the Sync before its first event if it already existed
    int64_t start_time            # ns: first time it ran; -1 = never ran
    int64_t end_time              # ns: when it exited or blocked forever; -1 = did not end
    int64_t exec_time             # ns running
    int64_t sched_wait_time       # ns runnable, waiting for a P (Go adds here a syscall still without P at the end)
    int64_t block_time            # ns waiting, all reasons together (per reason: SummaryTimeRec rows)
    int64_t syscall_time          # ns in syscalls, while holding a P
    int64_t syscall_block_time    # ns in syscalls after the P was taken away
    int64_t total_time            # ns from creation_time to end_time (or to the last event)
    int64_t unknown_time          # ns of total_time in none of the five states above (Go's UnknownTime)
    int64_t regions               # regions in its list (Go's GoroutineSummary.Regions)
    uint32_t name                 # string row of its start function (Go's name rule); 0 = unknown
    uint32_t pad0

cdef struct SummaryTimeRec:      # one (owner, key) -> ns entry of a per-reason or per-range map
    int64_t owner                 # goroutine id, or row in the regions table
    int64_t ns                    # time, never 0 (zero entries are left out)
    uint32_t key                  # string row of a block reason; or range-name key (row of SUMMARY range names)
    uint32_t pad0

cdef struct RegionSummaryRec:
    int64_t goroutine             # goroutine the region ran on
    uint64_t task                 # task id (0 = background task)
    int64_t start                 # ns of its start event; -1 = none (began before the trace)
    int64_t end                   # ns of its end event; -1 = none (still open at the end)
    int64_t exec_time             # ns, as in GoroutineSummaryRec, for the goroutine while in the region
    int64_t sched_wait_time       # ns
    int64_t block_time            # ns, all reasons
    int64_t syscall_time          # ns
    int64_t syscall_block_time    # ns
    int64_t total_time            # ns
    int64_t unknown_time          # ns
    uint32_t name                 # string row of the region type ("" for inherited regions)
    uint8_t start_kind            # 0 = none, 1 = RegionBegin, 2 = creation of its goroutine (inherited region)
    uint8_t end_kind              # 0 = none, 1 = RegionEnd, 2 = end of its goroutine
    uint8_t listed                # 1 = in its goroutine's region list
    uint8_t in_task               # 1 = in its task's region list

cdef struct TaskSummaryRec:
    uint64_t id                   # task id (0 = background task)
    uint64_t parent               # parent task id; 2**64-1 = none
    int64_t start                 # ns of its TaskBegin; -1 = none in the trace
    int64_t end                   # ns of its TaskEnd; -1 = none in the trace
    int64_t logs                  # Log events naming it
    int64_t regions               # regions in its list
    uint32_t name                 # string row of its type
    uint32_t pad0

cdef struct TaskGoroutineRec:    # a goroutine associated with a task
    int64_t task                  # row in the tasks table
    int64_t goroutine             # goroutine id (-1 = an event without goroutine)

# Ranges, GC and mutator utilisation (fastrace/_gcutil.pxi, fastrace.analysis.gc)

cdef struct RangeRec:           # one range (GC phase, STW, sweep, assist); 64 bytes
    int64_t start             # ns on the trace clock; where the trace (generation) starts if clipped_start
    int64_t end               # ns on the trace clock; the trace's last timestamp if clipped_end
    int64_t scope             # goroutine or P id the range belongs to; -1 = none (global range)
    int64_t swept             # sweep ranges that ended: bytes swept; -1 = none
    int64_t reclaimed         # sweep ranges that ended: bytes reclaimed; -1 = none
    int64_t begin_row         # row in Trace.events of the RangeBegin/RangeActive event; -1 = none
    int64_t end_row           # row in Trace.events of the RangeEnd event; -1 = none (open at the end)
    uint32_t stw_kind         # stop-the-world ranges: row in Trace.strings of the kind; 0 otherwise
    uint8_t range_kind        # which range (fastrace.analysis.gc.RangeKind): its name in Go
    uint8_t scope_kind        # fastrace.kinds.ResourceKind of scope: 0 none, 1 goroutine, 2 P
    uint8_t clipped_start     # 1 = already in progress where the events begin (RangeActive, or an end without begin)
    uint8_t clipped_end       # 1 = still in progress at the end of the trace

cdef struct MutatorUtilRec:     # one change of a mutator utilisation function (Go's MutatorUtil)
    int64_t time              # ns on the trace clock
    double util               # mean mutator utilisation from time on, in [0, 1]

cdef struct MetricRec:          # one metric event (heap, heap goal)
    int64_t time              # ns on the trace clock
    uint64_t value            # the metric's value (bytes)

# Goroutine state intervals and latency profiles
# (_states.pxi; Python layer: fastrace.analysis.states and .pprof)

from fastrace._order cimport TraceEventRec
from fastrace._varint cimport Growable, prefetch
from fastrace._hashmap cimport HMap


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


cdef struct StPending:              # a sample of a goroutine that has not run yet (internal)
    int64_t delay             # ns: the interval's whole length
    int64_t seq               # order in which the sample ended
    int64_t next              # next pending sample of the goroutine, or next free row; -1 = none
    uint32_t stack            # row in Trace.stacks
    uint32_t pad0


# Working state of the passes in _states.pxi (not tables handed out).

cdef struct StIndex:                # goroutine id -> dense number 0, 1, 2... (order of first sight)
    int32_t* dense            # id -> number, for ids < dense_cap; -1 = none
    Py_ssize_t dense_cap      # entries in dense (a power of two, or 0)
    HMap hashed               # id -> number, for ids >= ST_DENSE_MAX
    int64_t n                 # numbers given


cdef struct StStrings:              # the string table, with per-row reason flags
    const uint8_t* data       # Trace.strings.data: every string, concatenated
    const uint64_t* offsets   # nstrings + 1 entries: where each string starts in data
    Py_ssize_t nstrings       # rows
    uint8_t* flags            # per row, ST_STR_*; 0 = not computed yet


cdef enum:
    ST_DENSE_MAX = 1 << 22    # goroutine ids below this are looked up directly (StIndex.dense, StLat.dense)
    ST_BLOCK_BITS = 12        # StLat.dense is marked in use by blocks of 4096 records (128 KiB)

cdef enum:
    # StG.flags
    STG_TRACKING = 1          # in the profiled state: an interval is open
    STG_SEEN = 2              # a transition changed its state: Go's summary has it
    STG_HAS_SAMPLES = 4       # an interval of it ended (counted or not)
    STG_PENDING = 8           # it has pending samples (StLat.pending)


cdef struct StG:                    # one goroutine in a latency profile (32 bytes: two a cache line)
    int64_t lo                # Go's summary StartTime: first GoRunning time of the goroutine's current life, 0 = not yet
    int64_t hi                # Go's summary EndTime: when that life ended (NotExist, Waiting "forever"); 0 = not yet
    int64_t track_start       # ns: when the tracked interval began
    uint32_t track_stack      # row in Trace.stacks of the event that began the tracked interval
    uint8_t flags             # STG_*; a record never written is all zero: not seen, not tracked, no window
    uint8_t pad0
    uint16_t pad1


cdef struct StLat:                  # one latency profile being computed (StatesLatency)
    StG* dense                # goroutine id < ST_DENSE_MAX -> dense[id] (a mapping of ST_DENSE_MAX records); NULL until the first feed, or if the mapping failed (every id then goes to big)
    uint8_t dense_blocks[ST_DENSE_MAX >> (ST_BLOCK_BITS + 3)]  # bit per block of 2**ST_BLOCK_BITS dense ids: set when a record in it first gets a flag
    HMap big_ids              # the other goroutine ids -> row in big
    Growable big              # StG rows of those goroutines
    HMap pending              # goroutine id -> its latest pending sample (StPending row; the rows chain by next)
    Growable pend             # StPending rows
    int64_t free_pend         # first free StPending row; -1 = none
    int64_t seq               # samples ended so far
    int64_t last_time         # time of the last event fed
    uint8_t target            # the GoState profiled
    uint8_t want              # ST_STR_* flag the reason must have; 0 = any reason
    uint8_t fixed             # second pass: windows fixed, nothing pending
    uint8_t ambiguous         # the one-pass answer cannot be trusted: run the second pass
    uint8_t reserved          # st_lat_reserve has run

# Validation
# (_validate.pxi; Python layer: fastrace.validate)

cdef struct ValidateProblemRec:     # one problem found by the validation pass
    int64_t row               # row in Trace.events the problem is about
    int64_t v0                # code-specific value (a state, an id, a row; see VaCode in _validate.pxi)
    int64_t v1                # second code-specific value; 0 if unused
    int32_t code              # VaCode: which check failed
    int32_t pad0


cdef struct ValidateTypeRec:        # what the validator needs to know of one wire type (256 rows)
    uint8_t kind              # fastrace.kinds.EventKind its rows have; 0 = none (and Sync's code)
    uint8_t string_slots      # bit s set: a[s] holds a row of Trace.strings
    uint8_t stack_slots       # bit s set: a[s] holds a row of Trace.stacks
    uint8_t is_proc           # 1 = a P transition (fastrace.spec.PROC_TYPES)
    uint8_t range_name        # ranges: 1 + index of its range name (fastrace.spec.RANGE_TYPES); 0 = not a range
    uint8_t range_scope       # ranges: fastrace.kinds.ResourceKind of its scope
    uint8_t is_stw            # 1 = a stop-the-world range (its name includes the kind string a[1])
    uint8_t is_go_status      # 1 = GoStatus or GoStatusStack


cdef struct VaThread:               # what the transitions so far leave on one thread (internal)
    int64_t m                 # thread (M) id
    int64_t p                 # P id running on it; -1 = none
    int64_t g                 # goroutine id running on it; -1 = none


cdef struct VaRangeEntry:           # one active range on a scope, in a singly linked list (internal)
    int64_t next              # next entry of the scope's list, or of the free list; -1 = none
    uint32_t str              # stop-the-world ranges: string row of the kind (a[1]); 0 otherwise
    uint8_t name              # ValidateTypeRec.range_name of the range
    uint8_t pad0
    uint16_t pad1


cdef struct VaInput:                # the tables one validation pass reads (internal)
    const TraceEventRec* ev   # Trace.events
    Py_ssize_t n              # rows of ev
    const int64_t* threads    # Trace.threads: M id per row
    Py_ssize_t nthreads       # rows of threads
    const uint8_t* sdata      # Trace.strings.data
    const uint64_t* soff      # Trace.strings.offsets: nstrings + 1 entries
    Py_ssize_t nstrings       # rows of Trace.strings
    Py_ssize_t nstacks        # rows of Trace.stacks
    const uint8_t* bad_stack  # per stack row: 1 = a frame after the first lacks information
    Py_ssize_t ngens          # rows of Trace.generations
    const int64_t* sync_row   # per generation: row of its Sync; NULL = the column is absent
    const uint8_t* has_clock  # per generation: 1 = a clock snapshot exists
    const int64_t* clock_trace  # per generation: snapshot on the trace clock, ns
    const uint64_t* clock_mono  # per generation: snapshot of the monotonic clock, ns
    const int64_t* clock_sec  # per generation: wall clock, s (normalised with clock_nsec here)
    const int64_t* clock_nsec # per generation: wall clock, ns part
    const ValidateTypeRec* types  # 256 rows, per wire type
    int version               # trace format version the rules follow
    bint extra                # fastrace's own invariants too
    bint context              # the execution-context check
    bint clock_checks         # clocks must increase from Sync to Sync
