"""Throughput of fastrace's wire decoder (stage 1: bytes -> wire tables).

    python -m benchmarks.wire_throughput                 # largest committed fixture
    python -m benchmarks.wire_throughput TRACE [TRACE..] # any traces
    python -m benchmarks.wire_throughput --big           # a ~60 MB scheduling trace,
                                                         # generated once into the Go cache

(from the repository root: it imports the helpers of the ``tests`` package).

Prints, per trace: size, batches, events, the median of --repeat decodes,
MB/s and events/s.  Timings are medians of repeated runs on an input that is
already in memory (the file is read once), so they measure decoding, not I/O.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

if not __package__:   # run as a file: the repository root is not on the path
    sys.exit("run this from the repository root as: python -m benchmarks.wire_throughput "
             + " ".join(sys.argv[1:]))

import fastrace  # noqa: E402
from fastrace import _varint  # noqa: E402
from tests import FIXTURES  # noqa: E402


def largest_fixture() -> Path:
    traces = sorted(FIXTURES.rglob("*.trace"),
                    key=lambda p: p.stat().st_size)
    return traces[-1]


def big_trace(target_mb: int) -> Path:
    from tests import gotool

    out = gotool.cache_dir() / "bench" / f"sched-{target_mb}mb.trace"
    if out.exists():
        return out
    # Ping-pong round trips dominate: about 30 bytes of trace each.
    scale = ["-workers", "200000", "-rounds", str(30000 * target_mb)]
    gotool.make_trace(gotool.REFERENCE, "sched", out, args=scale, timeout=1800)
    return out


def measure(path: Path, repeat: int) -> dict:
    data = path.read_bytes()
    tables = _varint.decode_wire(data)  # warm-up, and the counts
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _varint.decode_wire(data)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    n_ev = len(tables["events"])
    return {
        "trace": str(path),
        "bytes": len(data),
        "go_format": f"1.{tables['version']}",
        "batches": len(tables["batches"]),
        "events": n_ev,
        "median_s": med,
        "mb_per_s": len(data) / med / 1e6,
        "events_per_s": n_ev / med,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("traces", nargs="*", type=Path)
    ap.add_argument("--big", action="store_true", help="also a generated large scheduling trace")
    ap.add_argument("--big-mb", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", type=Path, help="write results here too")
    args = ap.parse_args()
    traces = list(args.traces) or [largest_fixture()]
    if args.big:
        traces.append(big_trace(args.big_mb))
    results = []
    print(f"fastrace {fastrace.__version__}, wire decode, median of {args.repeat}")
    print(f"{'trace':<48} {'MB':>8} {'events':>11} {'ms':>9} {'MB/s':>8} {'Mev/s':>7}")
    for p in traces:
        r = measure(p, args.repeat)
        results.append(r)
        name = p.name if len(str(p)) > 48 else str(p)
        print(f"{name:<48} {r['bytes'] / 1e6:8.2f} {r['events']:11,} {r['median_s'] * 1e3:9.2f} "
              f"{r['mb_per_s']:8.1f} {r['events_per_s'] / 1e6:7.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
