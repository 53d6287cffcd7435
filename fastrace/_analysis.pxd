# cython: language_level=3
#
# Record layouts of the analysis stage (stage 3: the ordered event table ->
# derived tables).  Each struct is the single definition of a row of one
# derived table; the numpy dtypes in _analysis.pyx are derived from them.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t
