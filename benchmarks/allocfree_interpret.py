"""The cost of interpreting the AllocFree experiment on the large benchmark
AllocFree trace, next to Go's streaming reader of the same file.

Each round runs, in turns, Go's reader (``benchmarks/goreader``, streaming,
the reference of every benchmark here) and one fresh Python process that
reads the trace, interprets it (``t.experiment("AllocFree")``) and asks for
``live_heap()``, ``lifetimes()`` and ``live_heap(by_type=True)``, timing
each step and its peak RSS (VmHWM) after it.  Go has no interpreter of the
experiment: its reader only hands out the raw events, so the ratios say how
much an answer costs against merely reading the file in Go.

    python -m benchmarks.allocfree_interpret            # 3 rounds
    python -m benchmarks.allocfree_interpret --repeat 5

(from the repository root, like every script here).  Prints a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

if not __package__:   # run as a file: the repository root is not on the path
    sys.exit("run this from the repository root as: python -m benchmarks.allocfree_interpret "
             + " ".join(sys.argv[1:]))

from benchmarks import compare_go  # noqa: E402  (the benchmark traces, made once and cached)

# The child: one step after another, each timed, the peak RSS read after it.
CHILD = r"""
import json, sys, time
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1
out = {}
t0 = time.perf_counter()
import fastrace
out["import"] = (time.perf_counter() - t0, hwm())
def step(name, fn):
    t0 = time.perf_counter()
    r = fn()
    out[name] = (time.perf_counter() - t0, hwm())
    return r
t = step("read", lambda: fastrace.read(sys.argv[1]))
af = step("experiment", lambda: t.experiment("AllocFree"))
step("live_heap", af.live_heap)
step("lifetimes", af.lifetimes)
step("live_heap_by_type", lambda: af.live_heap(by_type=True))
out["object_events"] = len(af.heap_objects)
print(json.dumps(out))
"""

STEPS = ("read", "experiment", "live_heap", "lifetimes", "live_heap_by_type")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--quick", action="store_true", help="the small AllocFree trace")
    args = ap.parse_args()
    trace = compare_go.allocfree_trace(args.quick)
    path = trace["path"]
    goreader = compare_go.goreader_binary()
    gocmd, goenv = compare_go.command("go_stream", path, goreader)
    py = [sys.executable, "-c", CHILD, str(path)]
    go_runs, py_runs = [], []
    for r in range(args.repeat):
        go_runs.append(compare_go.run_measured(gocmd, goenv, timeout=600))
        res = subprocess.run(py, env=compare_go.python_env(), check=True,
                             stdout=subprocess.PIPE, text=True, timeout=1800)
        py_runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(f"round {r + 1}/{args.repeat} done", file=sys.stderr, flush=True)
    go_s = statistics.median(x["wall_s"] for x in go_runs)
    go_mb = statistics.median(x["peak_rss_kb"] for x in go_runs) / 1024
    size = path.stat().st_size / 1e6
    print(f"# AllocFree interpretation, {trace['name']} ({size:.0f} MB, "
          f"{py_runs[0]['object_events']:,} object events), medians of {args.repeat}\n")
    print(f"Go's streaming reader of the same file: {go_s:.2f} s, {go_mb:.0f} MiB peak\n")
    print("| step | s (min-max) | x Go reader | peak RSS after it, MiB |")
    print("| --- | ---: | ---: | ---: |")
    for name in STEPS:
        secs = [x[name][0] for x in py_runs]
        mb = statistics.median(x[name][1] for x in py_runs)
        med = statistics.median(secs)
        print(f"| {name} | {med:.2f} ({min(secs):.2f}-{max(secs):.2f}) | "
              f"{med / go_s:.2f} | {mb:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
