"""Memory meters for the tests: what a call really holds, including the
tables fastrace keeps in their own memory mappings.

``tracemalloc`` sees the Python and numpy allocators only.  fastrace's
growable tables move to a private anonymous mapping once they pass
``MAP_THRESHOLD`` (2 MiB, fastrace/_varint.pyx), and parts of the C
analyses call libc's malloc directly: neither shows in tracemalloc.  The
meters here see them:

- :func:`peak_rss_growth`: the process's peak resident set (``VmHWM``),
  reset through ``/proc/self/clear_refs`` just before the call, minus the
  resident set at that moment: every page the call touched, whoever
  allocated it (Linux only: :data:`CAN_RESET_PEAK`);
- :func:`own_mapping`: whether an array's data is room that ``mmap`` gave:
  it starts on a page boundary, inside one mapping of ``/proc/self/maps``
  that holds all of it.  Memory from malloc does not start on a page
  boundary (glibc puts a 16-byte header in front of the blocks it maps;
  its heap blocks are 16-byte aligned).  The start of the mapping itself
  is not compared: the kernel merges neighbouring anonymous mappings.

The allocator's own counter, ``fastrace._varint.mapped_growths()``, counts
moves into and growths within such mappings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

CAN_RESET_PEAK = os.access("/proc/self/clear_refs", os.W_OK) and Path("/proc/self/status").exists()

SANITIZED = "libasan" in os.environ.get("LD_PRELOAD", "")
"""Running under tests/sanitize.sh's AddressSanitizer build: its allocator
touches the memory it hands out and keeps freed blocks in quarantine, so
the peak RSS says nothing about what fastrace holds."""

RSS_METER = CAN_RESET_PEAK and not SANITIZED
"""Whether :func:`peak_rss_growth` measures fastrace's own use here."""


def status_kb(field: str) -> int:
    """A ``kB`` field of /proc/self/status (``VmRSS``, ``VmHWM``, ...)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def peak_rss_growth(call: Callable[[], object]) -> int:
    """Bytes by which the process's peak RSS rose above its RSS at the start
    of ``call()``.  Exceptions from ``call`` propagate (catch them inside)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")      # resets VmHWM to the current RSS
    base = status_kb("VmRSS")
    call()
    return (status_kb("VmHWM") - base) * 1024


def mappings() -> list[tuple[int, int]]:
    """The process's mappings as (start, end) addresses, from /proc/self/maps."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = line.split(None, 1)[0].split("-")
            out.append((int(lo, 16), int(hi, 16)))
    return out


def own_mapping(arr: np.ndarray) -> bool:
    """Whether ``arr``'s data starts on a page boundary inside a mapping
    that holds all of it (see the module's docstring)."""
    start = arr.__array_interface__["data"][0]
    return start % os.sysconf("SC_PAGE_SIZE") == 0 and any(
        lo <= start and start + arr.nbytes <= hi for lo, hi in mappings())
