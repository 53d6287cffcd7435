"""fastrace's analyses against Go's own, on the large benchmark traces.

Each measurement is one process, timed with its peak RSS (os.wait4), and
the tools alternate within each round:

- ``go tool trace -pprof=sched`` (Go 1.27.3's trace tool, run directly) vs
  ``fastrace pprof sched`` (and with ``--workers 2``);
- Go's Summarizer (``tests/gostd/summary``, Go's ``internal/trace``): in
  streaming mode and keeping every event as ``go tool trace`` does, vs
  ``fastrace goroutines --format json`` (and with ``--workers 2``);
- Go's ``MutatorUtilizationV2`` + ``MMUCurve`` (``tests/gostd/mmu``) vs
  ``fastrace mmu --format json``.

Outputs go to /dev/null; the outputs' equality is what the test suite
checks (tests/test_pprof.py, test_summary.py, test_gc.py).

    python -m benchmarks.compare_analyses                # sched and AllocFree traces, 3 rounds
    python -m benchmarks.compare_analyses --repeat 5 --traces sched

(from the repository root, like every script here).

The table goes to stdout and to benchmarks/results/analyses.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if not __package__:   # run as a file: the repository root is not on the path
    sys.exit("run this from the repository root as: python -m benchmarks.compare_analyses "
             + " ".join(sys.argv[1:]))

from benchmarks import compare_go  # noqa: E402  (the benchmark traces, made once and cached)
from tests import gotool  # noqa: E402

GOSTD = REPO / "tests" / "gostd"


def go_trace_tool() -> Path:
    """The ``trace`` tool binary of the reference toolchain (what ``go tool
    trace`` runs, without the go command's start-up)."""
    out = gotool.run_go(gotool.REFERENCE, "tool", "-n", "trace", cwd=REPO)
    return Path(out.stdout.decode().strip())


def commands(trace: Path) -> dict[str, list[str]]:
    py = [sys.executable, "-m", "fastrace"]
    summary = gotool.build_std_prog(GOSTD / "summary" / "main.go",
                                    "internal/trace/fastracesummary", "fastrace-summary")
    mmu = gotool.build_std_prog(GOSTD / "mmu" / "main.go", "internal/trace/fastracemmu",
                                "fastrace-mmu")
    return {
        "go tool trace -pprof=sched": [str(go_trace_tool()), "-pprof=sched", str(trace)],
        "fastrace pprof sched": py + ["pprof", "sched", str(trace), "-o", os.devnull],
        "fastrace pprof sched --workers 2": py + ["pprof", "sched", str(trace), "-o", os.devnull,
                                                  "--workers", "2"],
        "Go Summarizer, streaming": [str(summary), str(trace)],
        "Go Summarizer, keeping every event (as go tool trace)": [str(summary), "-keep",
                                                                  str(trace)],
        "fastrace goroutines --format json": py + ["goroutines", str(trace), "--format", "json"],
        "fastrace goroutines --format json --workers 2": py + ["goroutines", str(trace), "--format",
                                                               "json", "--workers", "2"],
        "Go MMU (MutatorUtilizationV2 + MMUCurve)": [str(mmu), str(trace)],
        "fastrace mmu --format json": py + ["mmu", str(trace), "--format", "json"],
    }


def run(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one run of ``cmd``."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    # As a user's install runs: with its modules compiled once (.pyc), not
    # compiled again at every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err}")
    return wall, ru.ru_maxrss * 1024


def start_up(n: int) -> tuple[float, float]:
    """Median wall seconds of a process of this interpreter that does
    nothing, and of one that imports what ``fastrace pprof`` imports before
    reading (``fastrace.cli``, which imports numpy): the fixed cost in
    every fastrace time.  An interpreter whose ``site-packages`` holds
    ``.pth`` import hooks pays for them here (see benchmarks/README.md)."""
    for cmd in ([sys.executable, "-c", "pass"], [sys.executable, "-c", "import fastrace.cli"]):
        run(cmd)    # not measured: the page cache and .pyc files
    empty = [run([sys.executable, "-c", "pass"])[0] for _ in range(n)]
    full = [run([sys.executable, "-c", "import fastrace.cli"])[0] for _ in range(n)]
    return statistics.median(empty), statistics.median(full)


# (fastrace tool, Go tool it is compared with)
PAIRS = (
    ("fastrace pprof sched", "go tool trace -pprof=sched"),
    ("fastrace pprof sched --workers 2", "go tool trace -pprof=sched"),
    ("fastrace goroutines --format json", "Go Summarizer, streaming"),
    ("fastrace goroutines --format json", "Go Summarizer, keeping every event (as go tool trace)"),
    ("fastrace goroutines --format json --workers 2",
     "Go Summarizer, keeping every event (as go tool trace)"),
    ("fastrace mmu --format json", "Go MMU (MutatorUtilizationV2 + MMUCurve)"),
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--traces", default="sched,allocfree",
                    help="comma-separated subset of: sched,allocfree")
    args = ap.parse_args()
    makers = {"sched": compare_go.sched_trace, "allocfree": compare_go.allocfree_trace}
    lines = ["# fastrace analyses vs Go's", "",
             f"{time.strftime('%Y-%m-%d %H:%M')}, medians of {args.repeat} runs, "
             f"{os.cpu_count()} cores, load average at start "
             f"{os.getloadavg()[0]:.1f}", ""]
    start, imports = start_up(max(args.repeat, 5))
    lines += [f"Part of every fastrace time below: starting `{sys.executable}` "
              f"({start:.3f} s) and importing fastrace with numpy ({imports - start:.3f} s "
              "more), medians.", ""]
    for name in args.traces.split(","):
        t = makers[name](False)
        path = Path(t["path"])
        size = path.stat().st_size
        cmds = commands(path)
        runs: dict[str, list[tuple[float, int]]] = {k: [] for k in cmds}
        for cmd in cmds.values():
            run(cmd)    # not measured: fills the page cache and writes the .pyc files
        for r in range(args.repeat):
            for tool, cmd in cmds.items():
                runs[tool].append(run(cmd))
                print(f"{name} round {r + 1}: {tool}: {runs[tool][-1][0]:.2f} s, "
                      f"{runs[tool][-1][1] / 2**20:.0f} MiB", flush=True)
        med = {k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v))
               for k, v in runs.items()}
        lines += [f"## {t['name']} ({size / 1e6:.0f} MB)", "",
                  "| tool | s | peak RSS MiB |", "| --- | ---: | ---: |"]
        lines += [f"| {k} | {w:.2f} | {m / 2**20:.0f} |" for k, (w, m) in med.items()]
        lines += ["", "| fastrace vs Go | faster | memory |", "| --- | ---: | ---: |"]
        for ours, go in PAIRS:
            lines.append(f"| {ours} vs {go} | {med[go][0] / med[ours][0]:.1f}x | "
                         f"{med[ours][1] / med[go][1]:.1%} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    out = HERE / "results" / "analyses.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
