"""One fastrace measurement, run in its own process by compare_go.py.

    python benchmarks/_fastrace_child.py MODE TRACE [AGAIN]
    python benchmarks/_fastrace_child.py info

MODE is one of

    wire       fastrace.decode_wire(TRACE)              (stage 1 only)
    read       fastrace.read(TRACE)                     (the whole ordered table)
    iter       fastrace.iter_generations(TRACE)         (every piece consumed, then dropped)
    read_w2    fastrace.read(TRACE, workers=2)          (only if read() takes ``workers``)

``info`` prints which fastrace is imported (file, version), whether read()
takes ``workers``, and numpy's version.  ``touch MB`` times the first write
of MB megabytes of fresh memory (no fastrace involved).

With AGAIN > 0, the call is then repeated AGAIN times in the same process,
each result dropped before the next call (``again_seconds``): the "warm"
figure, free of what a new process pays for fresh memory.

The trace is passed as a path (fastrace memory-maps it), just as the Go
reader is given a path.  Only the call itself is timed; the interpreter's
start-up and ``import fastrace`` are not (the import is timed separately and
the parent measures the whole process).  Counting events per kind happens
after the clock stops, while the result is still alive.

Prints one JSON object: seconds, events, per-kind counts (ordered modes),
generations, the import time, and the peak RSS (VmHWM) before the call,
right after it (``vm_hwm_kb``, what the report shows) and at exit.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _vm_hwm_kb() -> int:
    """This process's RSS high-water mark (KiB) from /proc/self/status.
    ru_maxrss also counts what the parent had resident when it forked this
    process (Linux carries it across exec); VmHWM belongs to this image
    alone.  -1 where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def _count_kinds(events):
    """Events per kind, counted 1 M rows at a time: np.bincount converts its
    input to intp, and a whole-table copy would add 8 bytes per event to
    the peak RSS this script reports."""
    import numpy as np

    counts = np.zeros(32, dtype=np.int64)
    kind = events["kind"]
    for i in range(0, len(kind), 1 << 20):
        c = np.bincount(kind[i:i + (1 << 20)], minlength=len(counts))
        counts[:len(c)] += c[:len(counts)]
    return counts


def info() -> dict:
    import inspect

    import numpy as np

    import fastrace

    try:
        workers = "workers" in inspect.signature(fastrace.read).parameters
    except (TypeError, ValueError):
        workers = False
    return {"fastrace_file": fastrace.__file__, "fastrace_version": fastrace.__version__,
            "read_accepts_workers": workers, "numpy": np.__version__}


def touch(mb: float) -> dict:
    """First write of ``mb`` MB of fresh anonymous memory (huge pages asked
    for, as fastrace's large tables do): the least read() pays for its
    table, and on a virtual machine a figure that moves with the host."""
    import ctypes
    import mmap

    n = max(int(mb * 1e6), mmap.PAGESIZE)
    m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        m.madvise(mmap.MADV_HUGEPAGE)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    t0 = time.perf_counter()
    ctypes.memset(addr, 1, n)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    ctypes.memset(addr, 2, n)
    again = time.perf_counter() - t0
    return {"mode": "touch", "mb": n / 1e6, "seconds": first, "rewrite_seconds": again}


def _call(mode: str, path: str):
    """The fastrace call MODE stands for (wire, read, read_w2)."""
    import fastrace

    if mode == "wire":
        return fastrace.decode_wire(path)
    return fastrace.read(path, **({"workers": 2} if mode == "read_w2" else {}))


def _again(mode: str, path: str) -> float:
    """One more timed call of MODE in this process, its result dropped."""
    import fastrace

    t0 = time.perf_counter()
    if mode != "iter":
        res = _call(mode, path)
    else:
        res = 0
        for piece in fastrace.iter_generations(path):
            res += len(piece.events)
            del piece
    seconds = time.perf_counter() - t0
    del res
    return seconds


def main() -> int:
    if sys.argv[1:] == ["info"]:
        print(json.dumps(info()))
        return 0
    if sys.argv[1:2] == ["touch"]:
        print(json.dumps(touch(float(sys.argv[2]))))
        return 0
    mode, path = sys.argv[1], sys.argv[2]
    again = int(sys.argv[3]) if len(sys.argv) > 3 else 0

    t0 = time.perf_counter()
    import numpy as np

    import fastrace
    import_s = time.perf_counter() - t0
    rss_before = _vm_hwm_kb()

    out: dict = {"mode": mode}
    if mode == "wire":
        t0 = time.perf_counter()
        w = _call(mode, path)
        seconds = time.perf_counter() - t0
        hwm_call = _vm_hwm_kb()
        out["events"] = int(len(w.events))
        g = w.generations
        out["generations"] = int(len(g))
        out["generation_bytes"] = [int(e - o) for o, e in zip(g["offset"].tolist(), g["end"].tolist())]
        out["wire_version"] = int(w.version)
        out["experiments"] = list(w.experiments())
        del w, g
    elif mode in ("read", "read_w2"):
        t0 = time.perf_counter()
        tr = _call(mode, path)
        seconds = time.perf_counter() - t0
        hwm_call = _vm_hwm_kb()
        out["events"] = int(len(tr.events))
        kinds = _count_kinds(tr.events)
        last = int(np.flatnonzero(kinds)[-1]) + 1 if kinds.any() else 0
        out["kinds"] = kinds[:last].tolist()
        out["generations"] = int(len(tr.generations))
        del tr
    elif mode == "iter":
        n = 0
        pieces = 0
        kinds = np.zeros(32, dtype=np.int64)
        largest = 0
        count_s = 0.0
        t0 = time.perf_counter()
        for piece in fastrace.iter_generations(path):
            k = len(piece.events)
            n += k
            largest = max(largest, k)
            pieces += 1
            # Counting kinds is how a piece is "consumed"; its (small) cost
            # is taken out of the time, as read()'s counting is.
            c0 = time.perf_counter()
            kinds += _count_kinds(piece.events)
            count_s += time.perf_counter() - c0
            del piece  # drop it before the next one is made
        seconds = time.perf_counter() - t0 - count_s
        hwm_call = _vm_hwm_kb()
        out["events"] = n
        last = int(np.flatnonzero(kinds)[-1]) + 1 if kinds.any() else 0
        out["kinds"] = kinds[:last].tolist()
        out["pieces"] = pieces
        out["largest_piece_events"] = largest
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2

    out["seconds"] = seconds
    out["import_s"] = import_s
    out["rss_before_kb"] = rss_before
    out["rss_after_kb"] = _maxrss_kb()
    # The peak of the call itself (read before anything else allocates);
    # the peak once the result is counted is kept too, for comparison.
    out["vm_hwm_kb"] = hwm_call
    out["vm_hwm_exit_kb"] = _vm_hwm_kb()
    out["again_seconds"] = [_again(mode, path) for _ in range(again)]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
