# Type stub for the compiled analysis stage (fastrace/_analysis.pyx and its
# included .pxi files), one section per included file.
import enum
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


# Goroutine state intervals and latency profiles (_states.pxi)

STATE_INTERVAL_DTYPE: np.dtype   # GoStateIntervalRec: Trace.states(), 72 bytes a row

class StReasonFilter(enum.IntEnum):
    ST_REASON_ANY = 0
    ST_REASON_NETWORK = 1
    ST_REASON_SYNC = 2

def states_intervals(events: np.ndarray, threads: np.ndarray) -> np.ndarray: ...
class StatesLatency:
    ambiguous: bool
    def __init__(self, target: int, reasons: int) -> None: ...
    def feed(self, events: np.ndarray, string_data: np.ndarray, string_offsets: np.ndarray,
             nstacks: int) -> None: ...
    def second_pass(self) -> None: ...
    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

def states_cpu_samples(events: np.ndarray, nstacks: int) -> np.ndarray: ...
