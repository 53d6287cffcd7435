# Type stub for the compiled analysis stage (fastrace/_analysis.pyx).
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
