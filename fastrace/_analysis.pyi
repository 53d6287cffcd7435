# Type stub for the compiled analysis stage (fastrace/_analysis.pyx).
import enum

import numpy as np

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
