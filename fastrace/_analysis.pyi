# Type stub for the compiled analysis stage (fastrace/_analysis.pyx and its
# included .pxi files), one section per included file.
import enum
from typing import Literal, Sequence, overload

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

class RangePass:
    """range_table fed piece by piece (iter_generations' pieces, in order)."""
    def __init__(self, metrics: bool = False) -> None: ...
    def feed(self, events: np.ndarray, first_row: int = 0) -> None: ...
    def finish(self) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]: ...

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


# Row checks of fastrace.validate (_validate.pxi)

VALIDATE_PROBLEM_DTYPE: np.dtype   # ValidateProblemRec: row, v0, v1, code (a VaCode)
VALIDATE_TYPE_DTYPE: np.dtype      # ValidateTypeRec: what the pass knows of each wire type

class VaCode(enum.IntEnum):   # which check a problem of validate_rows failed
    VA_UNKNOWN_KIND = 1
    VA_WIRE_TYPE = 2
    VA_NO_STACK = 3
    VA_NO_THREAD = 4
    VA_BAD_G = 5
    VA_BAD_P = 6
    VA_NO_STRING_SLOT = 7
    VA_NO_STACK_SLOT = 8
    VA_STATE_RANGE = 9
    VA_NO_GENERATION = 10
    VA_GENERATION_BACK = 11
    VA_FIRST_NOT_SYNC = 12
    VA_LAST_NOT_SYNC = 13
    VA_SCOPE_G = 14
    VA_SCOPE_P = 15
    VA_TIME = 16
    VA_STACK_FRAMES = 17
    VA_TSTACK_FRAMES = 18
    VA_CONTEXT = 19
    VA_NO_EXEC_THREAD = 20
    VA_SYNC_NUMBER = 21
    VA_SYNC_NO_CLOCK = 22
    VA_SYNC_ZERO_WALL = 23
    VA_SYNC_ZERO_MONO = 24
    VA_SYNC_ZERO_TRACE = 25
    VA_SYNC_WALL = 26
    VA_SYNC_MONO = 27
    VA_SYNC_TRACE = 28
    VA_RANGE_BEGIN = 29
    VA_RANGE_END = 30
    VA_LABEL_EMPTY = 31
    VA_LABEL_G = 32
    VA_TASK_ID = 33
    VA_TASK_PARENT = 34
    VA_TASK_TYPE = 35
    VA_G_TO_UNDETERMINED = 36
    VA_G_FROM_UNDETERMINED = 37
    VA_G_RANGES = 38
    VA_G_OLD_STATE = 39
    VA_G_FIRST = 40
    VA_G_BUSY_THREAD = 41
    VA_G_UNBOUND = 42
    VA_G_OTHER_THREAD = 43
    VA_G_TSTACK = 44
    VA_P_TO_UNDETERMINED = 45
    VA_P_FROM_UNDETERMINED = 46
    VA_P_RANGES = 47
    VA_P_OLD_STATE = 48
    VA_P_FIRST = 49
    VA_P_BUSY_THREAD = 50
    VA_P_UNBOUND = 51
    VA_P_OTHER_THREAD = 52

def validate_rows(events: np.ndarray, threads: np.ndarray, strings: object, nstacks: int,
                  bad_stack: np.ndarray, generations: np.ndarray, types: np.ndarray,
                  version: int, extra: bool, context: bool, clock_checks: bool) -> np.ndarray: ...

JSON_INT: int
JSON_TEXT: int
JSON_MAP0: int
JSON_MAP1: int

def json_rows(vals: np.ndarray, kinds: np.ndarray, prefixes: bytes, prefix_offsets: np.ndarray,
              texts: bytes, text_offsets: np.ndarray,
              maps: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
              first_row: int = 0, sep: bytes = b",\n") -> bytes: ...

TEXT_INT: int
TEXT_DUR: int
TEXT_TEXT: int
TEXT_TOP0: int
TEXT_TOP1: int

def text_widths(vals: np.ndarray, kinds: np.ndarray, texts: bytes, text_offsets: np.ndarray,
                key_rank: np.ndarray, key_text: np.ndarray,
                maps: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                first_row: int = 0) -> np.ndarray: ...
def text_rows(vals: np.ndarray, kinds: np.ndarray, right: np.ndarray, widths: np.ndarray,
              texts: bytes, text_offsets: np.ndarray, key_rank: np.ndarray, key_text: np.ndarray,
              maps: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
              first_row: int = 0) -> bytes: ...
def gather_fields(dst: np.ndarray, src: np.ndarray, order: np.ndarray,
                  fields: Sequence[str]) -> None: ...

# Tables from columns (_columns.pxi)

def pack_columns(out: np.ndarray, columns: dict[str, np.ndarray]) -> None: ...

# AllocFree lives (_lives.pxi)

def pair_lives(keys: np.ndarray, written: np.ndarray, is_free: np.ndarray,
               shared: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
