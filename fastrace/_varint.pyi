# Type stub for the compiled wire decoder (fastrace/_varint.pyx).
from typing import Any, TypedDict

import numpy as np

BATCH_DTYPE: np.dtype
EVENT_DTYPE: np.dtype
STRING_DTYPE: np.dtype
STACK_DTYPE: np.dtype
FRAME_DTYPE: np.dtype
CPU_SAMPLE_DTYPE: np.dtype
SYNC_DTYPE: np.dtype
EXP_BATCH_DTYPE: np.dtype
GENERATION_DTYPE: np.dtype
BATCH_KINDS: dict[str, int]

class WireTables(TypedDict):
    version: int
    header_size: int
    batches: np.ndarray
    events: np.ndarray
    strings: np.ndarray
    stacks: np.ndarray
    frames: np.ndarray
    cpu_samples: np.ndarray
    syncs: np.ndarray
    exp_batches: np.ndarray
    generations: np.ndarray

def parse_header(data: Any) -> tuple[int, int]: ...
def decode_wire(data: Any, salvage_prefix: bool = False, start: int = -1,
                max_generations: int = 0, index_only: bool = False) -> WireTables: ...
def uvarint(data: Any, pos: int = 0) -> tuple[int, int]: ...
def mapped_growths() -> int: ...
