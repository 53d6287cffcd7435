# cython: language_level=3
#
# Record layouts of the analysis stage (stage 3: the ordered event table ->
# derived tables).  Each struct is the single definition of a row of one
# derived table; the numpy dtypes in _analysis.pyx are derived from them.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t


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
