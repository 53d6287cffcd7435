# Type stub for the compiled analysis stage (fastrace/_analysis.pyx and its
# included .pxi files), one section per included file.
from typing import Literal, overload

import numpy as np

# Goroutine and task summaries (_summary.pxi)

GOROUTINE_SUMMARY_DTYPE: np.dtype   # GoroutineSummaryRec: one row per goroutine
SUMMARY_TIME_DTYPE: np.dtype        # SummaryTimeRec: (owner, ns, key) of per-reason / per-range maps
REGION_SUMMARY_DTYPE: np.dtype      # RegionSummaryRec: one row per user region
TASK_SUMMARY_DTYPE: np.dtype        # TaskSummaryRec: one row per user task
TASK_GOROUTINE_DTYPE: np.dtype      # TaskGoroutineRec: (task row, goroutine id)
SUMMARY_RANGE_FIXED: tuple[str, str, str]

class Summarizer:
    """Go's Summarizer fed the event table piece by piece."""
    def __init__(self) -> None: ...
    def feed(self, events: np.ndarray, stacks: np.ndarray, frames: np.ndarray,
             string_data: bytes, string_offsets: np.ndarray) -> None: ...
    def finish(self) -> dict[str, np.ndarray]: ...

def summarize(events: np.ndarray, stacks: np.ndarray, frames: np.ndarray,
              string_data: bytes, string_offsets: np.ndarray) -> dict[str, np.ndarray]: ...


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
