# Type stub for the compiled analysis stage (fastrace/_analysis.pyx and its
# included .pxi files), one section per included file.
from typing import Literal, overload

import numpy as np

# Ranges, GC and mutator utilisation (fastrace/_gcutil.pxi)

RANGE_DTYPE: np.dtype          # RangeRec: one range (see fastrace.analysis.gc.ranges)
MUTATOR_UTIL_DTYPE: np.dtype   # MutatorUtilRec: time (int64 ns), util (float64)
METRIC_DTYPE: np.dtype         # MetricRec: time (int64 ns), value (uint64)
RANGE_KINDS: dict[str, int]    # RangeRec.range_kind values by name

@overload
def range_table(events: np.ndarray, metrics: Literal[False] = ...) -> np.ndarray: ...
@overload
def range_table(events: np.ndarray,
                metrics: Literal[True]) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

class UtilPass:
    def __init__(self, flags: int) -> None: ...
    def feed(self, events: np.ndarray, string_data: bytes,
             string_offsets: np.ndarray) -> None: ...
    def finish(self) -> tuple[np.ndarray, np.ndarray]: ...

def mutator_utilization(events: np.ndarray, string_data: bytes, string_offsets: np.ndarray,
                        flags: int) -> tuple[np.ndarray, np.ndarray]: ...

class MMUCurve:
    def __init__(self, util: np.ndarray, bounds: np.ndarray) -> None: ...
    def mmu(self, windows: np.ndarray) -> np.ndarray: ...
