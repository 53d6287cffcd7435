"""How much memory fastrace may take, checked before it is taken.

Three kinds of input could make fastrace ask for more memory than the
machine has, and a process that does so is killed by the kernel (the
tables are memory-mapped with ``MAP_NORESERVE``: the pages are only backed
when written, so allocating never fails, writing does).  Each is checked
before the memory is used, and refused with :class:`TraceTooLargeError`
saying what to do instead:

- :func:`fastrace.read` of a trace whose event table (56 bytes a row, about
  ten times the file) would not fit: checked before each generation is
  ordered (:class:`TableRoom`).  :func:`fastrace.iter_generations` takes
  bounded memory and is never refused.
- Inputs held in memory because they cannot be mapped: standard input,
  pipes and sockets, and the decompressed bytes of gzip/zstd/xz/bzip2
  input (:func:`read_capped`); a gzip bomb stops at the cap.
- Work whose size comes from values in the trace rather than from its
  length, such as the AllocFree experiment's page-by-page lifetime checks
  (a damaged span size can ask for billions of pages): :func:`check_room`.

"What the machine has" is :func:`available_memory`: the kernel's
``MemAvailable`` plus free swap, or less where a cgroup (a container's
memory limit) allows less.  The environment variable
``FASTRACE_MEMORY_LIMIT`` replaces it: a size in bytes (suffixes K, M, G,
T: powers of 1024), or ``off`` to check nothing.
"""

from __future__ import annotations

import os
import re

from fastrace.errors import TraceTooLargeError

__all__ = ["available_memory", "memory_limit", "TableRoom", "read_capped", "check_room",
           "format_bytes", "ENV"]

ENV = "FASTRACE_MEMORY_LIMIT"

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def format_bytes(n: int) -> str:
    """``n`` bytes for people: 512 B, 3.4 MB, 21.7 GB (powers of 1000)."""
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _parse_size(text: str) -> int | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if m is None:
        raise ValueError(f"{ENV}={text!r}: expected a size such as 8G, 512M or 1000000, "
                         "or 'off'")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def _configured() -> str | None:
    """``FASTRACE_MEMORY_LIMIT`` as set, or None where it is not (or empty)."""
    text = os.environ.get(ENV, "").strip()
    return text or None


def memory_limit() -> int | None:
    """The bytes fastrace may take now: ``FASTRACE_MEMORY_LIMIT`` if set
    (None for ``off``), else :func:`available_memory`."""
    text = _configured()
    if text is None:
        return available_memory()
    if text.lower() in ("off", "none", "unlimited"):
        return None
    return _parse_size(text)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None    # "max": no limit


def available_memory() -> int | None:
    """Bytes this process can still take without being killed: the
    kernel's ``MemAvailable`` (free memory plus what can be reclaimed, such
    as the page cache holding a memory-mapped trace) plus free swap, capped
    by the room left under a cgroup v2 or v1 memory limit.  None where the
    system says nothing (not Linux): no check is made then."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            info = {}
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    info[key] = int(parts[0]) * 1024
        if "MemAvailable" in info:
            avail = info["MemAvailable"] + info.get("SwapFree", 0)
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < (1 << 60):
            avail = min(avail, max(limit - usage, 0))
            break
    return avail


def _how_to_override() -> str:
    return (f"(set {ENV} to a size such as 64G to allow more, or to 'off' to "
            "check nothing)")


class TableRoom:
    """The check :func:`fastrace.read` makes before it orders each
    generation: will the event table still fit?

    It first compares an upper bound of the generation's rows (one per
    byte of event data: free to compute) with the room left; only when the
    bound does not fit are the rows counted exactly (a pass over the
    generation's events, ~5% of ordering it), so small traces pay nothing.
    """

    def __init__(self, row_bytes: int):
        self.row_bytes = row_bytes

    def fits(self, rows_now: int, rows_more: int) -> bool:
        """Whether ``rows_more`` rows can be added to a table of
        ``rows_now`` rows (``FASTRACE_MEMORY_LIMIT`` bounds the whole
        table; available memory bounds what is still to be written)."""
        limit = memory_limit()
        if limit is None:
            return True
        rows = rows_now + rows_more if _configured() else rows_more
        return rows * self.row_bytes <= limit

    def refuse(self, rows_now: int, rows_more: int, offset: int | None,
               generation: int | None) -> TraceTooLargeError:
        """The error for a generation of ``rows_more`` rows that does not fit."""
        need = (rows_now + rows_more) * self.row_bytes
        limit = memory_limit()
        have = "an unknown amount" if limit is None else format_bytes(limit)
        return TraceTooLargeError(
            f"this trace's event table needs at least {format_bytes(need)} "
            f"({rows_now + rows_more:,} rows of {self.row_bytes} bytes) and only {have} "
            "of memory is available: read it in pieces of bounded memory with "
            "fastrace.iter_generations(path), or use the commands that stream "
            "(fastrace info, goroutines, tasks, mmu, pprof, export) "
            + _how_to_override(),
            offset=offset, generation=generation, needed=need, available=limit)


def check_room(need: float, what: str, advice: str) -> None:
    """Refuse with :class:`TraceTooLargeError` when ``need`` bytes (a float:
    sizes computed from damaged values may pass 2**63) are more than
    :func:`memory_limit`.  ``what`` says what needs them, ``advice`` what
    to do instead."""
    limit = memory_limit()
    if limit is not None and need > limit:
        needed = int(min(need, 2.0**63))
        raise TraceTooLargeError(
            f"{what} needs about {format_bytes(needed)} and only {format_bytes(limit)} of "
            f"memory is available: {advice} " + _how_to_override(),
            needed=needed, available=limit)


def read_capped(read, what: str, advice: str, chunk: int = 1 << 24) -> bytes:
    """All the bytes ``read(n)`` gives until it gives none, refusing with
    :class:`TraceTooLargeError` once they pass :func:`memory_limit`.
    ``what`` names the input and ``advice`` says how to read it instead."""
    limit = memory_limit()
    out = bytearray()
    while True:
        block = read(chunk)
        if not block:
            return out
        out += block
        if limit is not None and len(out) > limit:
            raise TraceTooLargeError(
                f"{what} passed {format_bytes(len(out))}, more than the "
                f"{format_bytes(limit)} of memory available to hold it: {advice} "
                + _how_to_override(), offset=0, needed=len(out), available=limit)
