"""fastrace against Go's own trace reader (internal/trace), speed and memory.

    python -m benchmarks.compare_go              # full: ~69 MB sched + ~60 MB AllocFree trace, 5 reps
    python -m benchmarks.compare_go --quick      # few-MB traces, 2 reps: a smoke run
    python -m benchmarks.compare_go --repeat 3 --tools go_stream,read

(from the repository root: ``benchmarks`` and ``tests`` are packages there,
and this script uses the helpers of ``tests``).

Traces are generated once with the reference Go toolchain (tests/gotool.py)
and cached under ``gotool.cache_dir() / "bench"``.  Go's reader is a small
program (benchmarks/goreader/main.go) compiled at run time against the
toolchain's own ``internal/trace`` through ``go build -overlay``; the binary
is cached next to the test programs and never lands in the repository.

Every measurement is a separate process, so its peak RSS belongs to that
measurement alone (the child's VmHWM; ru_maxrss from os.wait4 is recorded
too, but on Linux it includes the forking parent's RSS).  Tools alternate within each
repetition (the starting tool rotates), and medians are reported.  Times are
what each process reports for the work itself, without process start-up;
start-up is recorded separately.

fastrace is copied to a private directory first (the package with its
compiled extensions, which are compiled afresh there if the working tree's
are older than their sources; see --build, and --live to skip the copy), and
the Python children import that copy, so edits or rebuilds of the working
tree during a run cannot mix versions within one set of measurements.

Writes benchmarks/results/latest.{md,json} (``--quick``: quick.{md,json}).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import hashlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if not __package__:   # run as a file: the repository root is not on the path
    sys.exit("run this from the repository root as: python -m benchmarks.compare_go "
             + " ".join(sys.argv[1:]))

from tests import gotool  # noqa: E402

CHILD = HERE / "_fastrace_child.py"
GOREADER_SRC = HERE / "goreader" / "main.go"
# Where the reader's source is placed (virtually) in GOROOT/src: inside
# internal/trace so that it may import internal/trace.
GOREADER_PKG = "internal/trace/fastracebenchreader"

KIND_NAMES = ("Bad", "Sync", "Metric", "Label", "StackSample", "RangeBegin", "RangeActive",
              "RangeEnd", "TaskBegin", "TaskEnd", "RegionBegin", "RegionEnd", "Log",
              "StateTransition", "Experimental")

# tool key -> (label in tables, how it is run)
TOOLS = {
    "go_stream": "Go internal/trace, stream",
    "go_keepall": "Go internal/trace, keep all",
    "wire": "fastrace.decode_wire",
    "read": "fastrace.read",
    "iter": "fastrace.iter_generations",
    "read_w2": "fastrace.read(workers=2)",
}


# ---------------------------------------------------------------- traces

def sched_trace(quick: bool) -> dict:
    """The scheduling trace: ping-pong round trips, ~30 bytes each.  The
    full size is the one ``python -m benchmarks.wire_throughput --big`` makes, so the
    two scripts share the cached file."""
    mb = 4 if quick else 60
    args = ["-workers", "200000" if not quick else "20000", "-rounds", str(30000 * mb)]
    out = gotool.cache_dir() / "bench" / f"sched-{mb}mb.trace"
    if not out.exists():
        print(f"generating {out} (Go {gotool.REFERENCE} sched {' '.join(args)}) ...", flush=True)
        gotool.make_trace(gotool.REFERENCE, "sched", out, args=args, timeout=1800)
    return {"name": f"sched-{mb}mb", "path": out, "program": "sched", "args": args}


def multigen_trace(quick: bool) -> dict:
    """The scheduling program at a steady pace (a 1 ms sleep every 400 round
    trips): about 10 MB per generation over six generations, the kind of
    trace read(workers=2) orders in parallel (the other traces have most of
    their events in the first generation)."""
    rounds = 150000 if quick else 1500000
    args = ["-workers", "2000", "-rounds", str(rounds), "-pace", "400"]
    out = gotool.cache_dir() / "bench" / f"sched-multigen-r{rounds}.trace"
    if not out.exists():
        print(f"generating {out} (Go {gotool.REFERENCE} sched {' '.join(args)}) ...", flush=True)
        gotool.make_trace(gotool.REFERENCE, "sched", out, args=args, timeout=1800)
    return {"name": "sched-multigen", "path": out, "program": "sched", "args": args}


def allocfree_trace(quick: bool) -> dict:
    """gcalloc under GODEBUG=traceallocfree=1.  The trace grows at roughly
    40 MB per second of run time, and a generation lasts about a second, so
    ~1.5 s of run time gives a few tens of MB in two or more generations."""
    objects, rounds = (1000, 150) if quick else (1000, 2000)
    args = ["-objects", str(objects), "-rounds", str(rounds)]
    out = gotool.cache_dir() / "bench" / f"allocfree-o{objects}-r{rounds}.trace"
    if not out.exists():
        print(f"generating {out} (Go {gotool.REFERENCE} gcalloc {' '.join(args)}, "
              "GODEBUG=traceallocfree=1) ...", flush=True)
        got = gotool.make_trace(gotool.REFERENCE, "allocfree", out, args=args, timeout=1800)
        if got is None:
            raise SystemExit(f"Go {gotool.REFERENCE} cannot write AllocFree traces")
    return {"name": f"allocfree-o{objects}-r{rounds}", "path": out, "program": "gcalloc",
            "args": args, "godebug": "traceallocfree=1"}


# ---------------------------------------------------------------- Go reader

def goreader_binary() -> Path:
    """Build benchmarks/goreader/main.go inside GOROOT's tree (see
    gotool.build_std_prog) and cache the binary."""
    print(f"Go reader (Go {gotool.REFERENCE}) ...", flush=True)
    return gotool.build_std_prog(GOREADER_SRC, GOREADER_PKG, "fastrace-bench-goreader")


# ---------------------------------------------------------------- running

def run_measured(cmd: list[str], env: dict[str, str], timeout: float) -> dict:
    """Run ``cmd`` to completion; return its parsed JSON stdout plus the wall
    time and the rusage of exactly that child (os.wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=tempfile.gettempdir())
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise RuntimeError(f"timed out after {timeout:.0f} s: {' '.join(cmd)}")
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd)}\n{stderr.strip()[-2000:]}")
    res = json.loads(stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    # ru_maxrss of an exec'd child also counts what this (parent) process
    # had resident when it forked: Linux carries the old image's high-water
    # mark across exec.  The children therefore report their own VmHWM, which
    # starts afresh with the new image; ru_maxrss is kept for reference.
    res["ru_maxrss_kb"] = ru.ru_maxrss
    res["peak_rss_kb"] = res["vm_hwm_kb"] if res.get("vm_hwm_kb", -1) > 0 else ru.ru_maxrss
    res["user_s"] = ru.ru_utime
    res["sys_s"] = ru.ru_stime
    # The warm repeats (if any) ran in the same process: not start-up.
    res["startup_s"] = wall - res["seconds"] - sum(res.get("again_seconds") or [])
    return res


# Directory holding the copy of the fastrace package the children import
# (None: whatever ``import fastrace`` finds, i.e. the working tree).
SNAPSHOT: Path | None = None


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    # numpy's OpenBLAS starts a thread per core at import, and each spins for
    # about 0.1 s before it sleeps: in a child that times a call right after
    # its imports, that thread competes with read(workers=2) for the second
    # core.  fastrace never calls BLAS, so the children run without them.
    env["OPENBLAS_NUM_THREADS"] = "1"
    # As a user's install runs: modules compiled once (.pyc), not at every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if SNAPSHOT is not None:
        # Ahead of the editable install's finder, which Python consults last.
        env["PYTHONPATH"] = str(SNAPSHOT)
    return env


def command(tool: str, trace: Path, goreader: Path,
            again: int = 0) -> tuple[list[str], dict[str, str]]:
    """The child that measures ``tool``; with ``again``, it repeats the call
    that many times in the same process after the measured one (warm runs)."""
    extra = [str(again)] if again else []
    if tool.startswith("go_"):
        # The environment the test programs run in: no GOGC, GOMAXPROCS,
        # GODEBUG etc. inherited, so Go runs with its defaults.
        return [str(goreader), tool[3:], str(trace), *extra], gotool.program_env()
    return [sys.executable, str(CHILD), tool, str(trace), *extra], python_env()


def _stale_extensions(pkg: Path) -> list[str]:
    """Compiled extensions in ``pkg`` older than any .pyx/.pxd beside them
    (a cimported .pxd changes what every extension was built from)."""
    sources = [*pkg.glob("*.pyx"), *pkg.glob("*.pxd")]
    newest = max((p.stat().st_mtime for p in sources), default=0.0)
    return [so.name for so in sorted(pkg.glob("*.so")) if so.stat().st_mtime < newest]


def snapshot_fastrace(dest: Path, build: str) -> dict:
    """Put a private copy of the fastrace package into ``dest/fastrace``.

    ``build``: "never" copies the package with the extensions the working
    tree has; "always" compiles them afresh from the copied sources (Cython
    and a C compiler needed, as for ``pip install -e .``); "auto" compiles
    only when a built extension is older than the sources."""
    src = REPO / "fastrace"
    stale = _stale_extensions(src)
    compile_ = build == "always" or (build == "auto" and bool(stale))
    ignore = ["__pycache__", "*.c", "*.html"] + (["*.so"] if compile_ else [])
    shutil.copytree(src, dest / "fastrace", ignore=shutil.ignore_patterns(*ignore))
    info: dict = {"snapshot_of": str(src), "extensions_older_than_sources": stale,
                  "extensions_built_for_this_run": compile_}
    if compile_:
        print("compiling fastrace's extensions into a private copy"
              + (f" ({', '.join(stale)} older than the sources)" if stale else "") + " ...",
              flush=True)
        for name in ("setup.py", "pyproject.toml", "README.md"):
            shutil.copy2(REPO / name, dest / name)
        env = {k: v for k, v in os.environ.items() if k != "FASTRACE_DEBUG"}
        proc = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                              cwd=dest, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"building fastrace's extensions failed:\n{proc.stderr[-3000:]}")
    elif stale:
        print("warning: compiled extensions older than their sources (rebuild pending?): "
              + ", ".join(stale) + "; --build always compiles a fresh copy", flush=True)
    info["extensions_sha256_16"] = {
        so.name: hashlib.sha256(so.read_bytes()).hexdigest()[:16]
        for so in sorted((dest / "fastrace").glob("*.so"))}
    return info


def child_info() -> dict:
    proc = subprocess.run([sys.executable, str(CHILD), "info"], env=python_env(),
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        raise SystemExit(f"cannot import fastrace in a child process:\n{proc.stderr}")
    return json.loads(proc.stdout)


# ---------------------------------------------------------------- machine

def machine_info() -> dict:
    info: dict = {"platform": platform.platform(), "python": platform.python_version(),
                  "python_executable": sys.executable, "cores": os.cpu_count()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        models = [ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                  if ln.startswith("model name")]
        info["cpu_model"] = models[0] if models else platform.processor()
        info["cpu_threads"] = len(models)
    except OSError:
        info["cpu_model"] = platform.processor()
    try:
        info["affinity_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        for ln in Path("/proc/meminfo").read_text().splitlines():
            if ln.startswith("MemTotal:"):
                info["ram_gb"] = round(int(ln.split()[1]) / 2**20, 1)
    except OSError:
        pass
    proc = gotool.run_go(gotool.REFERENCE, "version", check=False)
    info["go"] = proc.stdout.decode().strip()
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "fastrace"], cwd=REPO,
                               capture_output=True, text=True).stdout.splitlines()
        info["git_head"] = head
        info["fastrace_uncommitted_files"] = [ln[3:] for ln in dirty]
    except OSError:
        pass
    return info


# ---------------------------------------------------------------- report

def _median(xs):
    return statistics.median(xs) if xs else None


def summarize(tool: str, runs: list[dict], size: int) -> dict:
    ok = [r for r in runs if "error" not in r]
    s: dict = {"tool": tool, "label": TOOLS[tool], "runs": runs, "n_ok": len(ok)}
    if not ok:
        return s
    med = _median([r["seconds"] for r in ok])
    ev = ok[0]["events"]
    s.update(
        median_s=med,
        min_s=min(r["seconds"] for r in ok),
        max_s=max(r["seconds"] for r in ok),
        events=ev,
        mb_per_s=size / med / 1e6,
        mev_per_s=ev / med / 1e6,
        peak_rss_mb=_median([r["peak_rss_kb"] for r in ok]) / 1024,
        rss_ratio=_median([r["peak_rss_kb"] for r in ok]) * 1024 / size,
        startup_s=_median([r["startup_s"] for r in ok]),
        # user + system CPU of the whole process (start-up and warm repeats
        # included): more than the wall time where work ran on several threads.
        cpu_s=_median([r["user_s"] + r["sys_s"] for r in ok]),
    )
    warm = [x for r in ok for x in r.get("again_seconds") or []]
    if warm:
        s["warm_median_s"] = _median(warm)
        s["warm_min_s"] = min(warm)
        s["warm_n"] = len(warm)
    if "rss_before_kb" in ok[0]:
        s["baseline_rss_mb"] = _median([r["rss_before_kb"] for r in ok]) / 1024
        s["import_s"] = _median([r["import_s"] for r in ok])
    if any(r["events"] != ev for r in ok):
        s["inconsistent_event_counts"] = sorted({r["events"] for r in ok})
    return s


def count_check(summ: dict) -> dict:
    """Go's reader and fastrace.read should emit the same events (Sync
    events included), hence the same count per kind."""
    go = summ.get("go_stream") or summ.get("go_keepall")
    out: dict = {"ok": True, "notes": []}
    if not go or "events" not in go:
        out["notes"].append("no Go count")
        return out
    go_run = next(r for r in go["runs"] if "error" not in r)
    out["go_events"] = go["events"]
    out["go_kinds"] = go_run.get("kinds")
    for key in ("go_keepall", "read", "iter", "read_w2"):
        s = summ.get(key)
        if not s or "events" not in s:
            continue
        run = next(r for r in s["runs"] if "error" not in r)
        out[f"{key}_events"] = s["events"]
        same = s["events"] == go["events"]
        kinds = run.get("kinds")
        if kinds is not None and go_run.get("kinds") is not None:
            a, b = list(kinds), list(go_run["kinds"])
            n = max(len(a), len(b))
            a += [0] * (n - len(a))
            b += [0] * (n - len(b))
            if a != b:
                same = False
                diff = {KIND_NAMES[i] if i < len(KIND_NAMES) else str(i): (a[i], b[i])
                        for i in range(n) if a[i] != b[i]}
                out["notes"].append(f"{key} kind counts differ from Go's (ours, Go's): {diff}")
        if not same:
            out["ok"] = False
            out["notes"].append(f"MISMATCH: {TOOLS[key]} has {s['events']:,} events, "
                                f"Go has {go['events']:,}")
    if "wire" in summ and "events" in summ["wire"]:
        w = summ["wire"]["events"]
        out["wire_events"] = w
        kinds = go_run.get("kinds") or []
        syncs = kinds[1] if len(kinds) > 1 else 0
        out["notes"].append(f"decode_wire counts timed wire events ({w:,}): {go['events'] - w:,} "
                            f"fewer than Go's ordered events, which include {syncs} Sync events "
                            "(one per generation and one at the end)")
    return out


def targets(summ: dict, size: int) -> list[dict]:
    """The goals of the speed issue, each as measured / target."""
    res = []

    def add(name, value, goal, ok, unit="", higher_is_better=True, best=None, warm=None):
        # ``best``: the same figure from each tool's fastest run, a check on
        # medians disturbed by other load on the machine; ``warm``: from the
        # medians of the in-process repeats (verdicts use the fresh-process
        # medians).
        res.append({"target": name, "value": value, "goal": goal, "met": ok, "unit": unit,
                    "higher_is_better": higher_is_better, "from_fastest_runs": best,
                    "warm": warm})

    def warm_ratio(a, b):
        if "warm_median_s" in a and "warm_median_s" in b:
            return a["warm_median_s"] / b["warm_median_s"]
        return None

    go, rd = summ.get("go_stream", {}), summ.get("read", {})
    if "median_s" in go and "median_s" in rd:
        r = go["median_s"] / rd["median_s"] * rd["events"] / go["events"]
        best = go["min_s"] / rd["min_s"] * rd["events"] / go["events"]
        w = warm_ratio(go, rd)
        add("read() events/s >= 5x Go stream", r, 5.0, r >= 5.0, "x", best=best,
            warm=w * rd["events"] / go["events"] if w is not None else None)
    wr = summ.get("wire", {})
    if "median_s" in wr:
        add("wire decode >= 300 MB/s", wr["mb_per_s"], 300.0, wr["mb_per_s"] >= 300.0, "MB/s",
            best=size / wr["min_s"] / 1e6,
            warm=size / wr["warm_median_s"] / 1e6 if "warm_median_s" in wr else None)
    if "median_s" in rd:
        add("read() peak RSS <= 12x file size", rd["rss_ratio"], 12.0, rd["rss_ratio"] <= 12.0, "x",
            higher_is_better=False)
    it = summ.get("iter", {})
    if "median_s" in it and "median_s" in go:
        r = it["peak_rss_mb"] / go["peak_rss_mb"]
        add("iter_generations RSS <= Go stream RSS", r, 1.0, r <= 1.0, "x Go",
            higher_is_better=False)
    w2 = summ.get("read_w2")
    if w2 is None:
        add("read(workers=2) >= 1.7x read()", None, 1.7, None, "n/a")
    elif "median_s" in w2 and "median_s" in rd:
        r = rd["median_s"] / w2["median_s"]
        add("read(workers=2) >= 1.7x read()", r, 1.7, r >= 1.7, "x",
            best=rd["min_s"] / w2["min_s"], warm=warm_ratio(rd, w2))
    return res


def fmt_target(t: dict) -> str:
    if t["value"] is None:
        return f"- {t['target']}: n/a (fastrace.read has no `workers` argument)"
    unit = t["unit"]

    def fmt(v):
        return f"{v:.0f} MB/s" if unit == "MB/s" else f"{v:.2f}{unit}"

    v = t["value"]
    # How far along the goal is, as a fraction where 1.0 means "just met".
    progress = v / t["goal"] if t["higher_is_better"] else t["goal"] / v
    verdict = "MET" if t["met"] else "not met"
    best = t.get("from_fastest_runs")
    extra = f"; fastest runs: {fmt(best)}" if best is not None else ""
    if t.get("warm") is not None:
        extra += f"; warm: {fmt(t['warm'])}"
    return f"- {t['target']}: **{fmt(v)}** ({progress:.2f} of the goal{extra}) -> {verdict}"


def render(results: dict) -> str:
    m = results["machine"]
    lines = [
        "# fastrace vs Go internal/trace",
        "",
        f"{results['date']} — `{results['command']}`",
        "",
        f"Machine: {m.get('cpu_model')}, {m.get('cores')} cores, {m.get('ram_gb')} GB RAM; "
        f"Python {m['python']}, numpy {m['numpy']}, {m['go']}; fastrace {m['fastrace']} "
        f"at {m.get('git_head', '?')[:10]}"
        + (f" + uncommitted changes in {', '.join(m['fastrace_uncommitted_files'])}"
           if m.get("fastrace_uncommitted_files") else "")
        + ((" (a copy of the package taken at the start of the run"
            + (", extensions compiled for the run)" if m.get("extensions_built_for_this_run")
               else ")"))
           if m.get("snapshot_of") else " (the live working tree)"),
        "",
        f"Median of {results['repeat']} runs per tool, each in its own process (\"fastest s\": "
        "the fastest of them); time excludes process start-up; peak RSS is the process's VmHWM "
        "(Python rows include the interpreter, numpy and the memory-mapped file pages that were "
        "touched). \"warm s\": median of the "
        + (f"{results['again']} more calls each process made after its measured one (the previous "
           "result dropped first), which reuse memory the process already has instead of paying "
           "for fresh memory; Go keep-all has none."
           if results.get("again") else "in-process repeats (none in this run)."),
        "",
        "| trace | size MB | events | tool | median s | MB/s | M events/s | peak RSS MB "
        "| RSS / file | speed vs Go stream | fastest s | warm s | warm vs Go stream |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for tr in results["traces"]:
        size = tr["bytes"]
        summ = tr["tools"]
        go = summ.get("go_stream", {})
        for key in TOOLS:
            if key not in summ:
                if key == "read_w2":
                    lines.append(f"| {tr['name']} | {size / 1e6:.1f} | | {TOOLS[key]} "
                                 "| n/a | | | | | | | | |")
                continue
            s = summ[key]
            if "median_s" not in s:
                lines.append(f"| {tr['name']} | {size / 1e6:.1f} | | {s['label']} "
                             "| failed | | | | | | | | |")
                continue
            vs = f"{go['median_s'] / s['median_s']:.2f}x" if "median_s" in go else ""
            warm = f"{s['warm_median_s']:.3f}" if "warm_median_s" in s else ""
            wvs = (f"{go['warm_median_s'] / s['warm_median_s']:.2f}x"
                   if "warm_median_s" in s and "warm_median_s" in go else "")
            lines.append(
                f"| {tr['name']} | {size / 1e6:.1f} | {s['events']:,} | {s['label']} "
                f"| {s['median_s']:.3f} | {s['mb_per_s']:.1f} | {s['mev_per_s']:.2f} "
                f"| {s['peak_rss_mb']:.0f} | {s['rss_ratio']:.2f} | {vs} | {s['min_s']:.3f} "
                f"| {warm} | {wvs} |")
    lines.append("")
    for tr in results["traces"]:
        summ = tr["tools"]
        lines.append(f"## {tr['name']}")
        lines.append("")
        lines.append(f"- file: `{tr['path']}`, {tr['bytes'] / 1e6:.1f} MB, written by Go "
                     f"{tr['go_version']} ({tr['program']} {' '.join(tr['args'])}"
                     + (f", GODEBUG={tr['godebug']}" if tr.get("godebug") else "") + ")")
        gb = tr.get("generation_bytes") or []
        if gb:
            lines.append(f"- generations: {tr['generations']} "
                         f"(MB each: {', '.join(f'{b / 1e6:.1f}' for b in gb)})")
        cc = tr["count_check"]
        lines.append(f"- event counts: Go {cc.get('go_events', 0):,}, fastrace.read "
                     f"{cc.get('read_events', 0):,}, iter_generations {cc.get('iter_events', 0):,}"
                     f" -> {'consistent' if cc['ok'] else 'MISMATCH'}")
        for n in cc["notes"]:
            lines.append(f"  - {n}")
        py = [s for k, s in summ.items() if not k.startswith("go_") and "baseline_rss_mb" in s]
        if py:
            lines.append(f"- Python baseline before the call (interpreter + numpy + fastrace): "
                         f"~{statistics.median(s['baseline_rss_mb'] for s in py):.0f} MB RSS, "
                         f"import {statistics.median(s['import_s'] for s in py) * 1e3:.0f} ms; "
                         f"process start-up + import + exit: "
                         f"{statistics.median(s['startup_s'] for s in py):.2f} s")
        gos = [s for k, s in summ.items() if k.startswith("go_") and "startup_s" in s]
        if gos:
            lines.append(f"- Go process start-up + exit: "
                         f"{statistics.median(s['startup_s'] for s in gos) * 1e3:.0f} ms")
        for key in ("go_stream", "go_keepall"):
            s = summ.get(key)
            if s and s.get("n_ok"):
                r = next(x for x in s["runs"] if "error" not in x)
                lines.append(f"- {s['label']}: Go heap at the end {r['heap_inuse'] / 2**20:.0f} MB "
                             f"in use / {r['heap_sys'] / 2**20:.0f} MB from the OS, "
                             f"{r['total_alloc'] / 2**20:.0f} MB allocated in total, "
                             f"{r['num_gc']} GCs, GOMAXPROCS {r['gomaxprocs']}"
                             + (f"; a trace.Event value is {r['event_size']} bytes"
                                if key == "go_keepall" and "event_size" in r else ""))
        spread = [f"{s['label']} {s['min_s']:.3f}-{s['max_s']:.3f}"
                  for s in summ.values() if "min_s" in s]
        lines.append("- fastest-slowest run (s): " + "; ".join(spread))
        touch = sorted(t["seconds"] for t in tr.get("fresh_memory_touch", []) if "seconds" in t)
        if touch:
            mb = tr["fresh_memory_touch"][0]["mb"]
            lines.append(f"- first write of {mb:.0f} MB of fresh memory in a new process (the size "
                         f"of read()'s table; no decoding): median {touch[len(touch) // 2]:.3f} s, "
                         f"{touch[0]:.3f}-{touch[-1]:.3f} s over {len(touch)} rounds")
        loads = [r["loadavg"][0] for s in summ.values() for r in s["runs"] if "loadavg" in r]
        if loads:
            lines.append(f"- 1-minute load average during the runs: {min(loads):.1f}-{max(loads):.1f} "
                         f"on {results['machine'].get('cores')} cores (this benchmark adds ~1)")
        fails = [(k, r["error"]) for k, s in summ.items() for r in s["runs"] if "error" in r]
        for k, e in fails:
            lines.append(f"- FAILED run of {TOOLS[k]}: {e.splitlines()[0]}")
        lines.append("")
        lines.append("Targets of the speed issue:")
        lines.append("")
        for t in tr["targets"]:
            lines.append(fmt_target(t))
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few-MB traces, 2 repetitions")
    ap.add_argument("--repeat", type=int, help="repetitions per tool (default 5, --quick 2)")
    ap.add_argument("--tools", help=f"comma-separated subset of {','.join(TOOLS)}")
    ap.add_argument("--traces", help="comma-separated subset of: sched,allocfree,multigen")
    ap.add_argument("--timeout", type=float, default=1800, help="per run, seconds")
    ap.add_argument("--again", type=int, default=2,
                    help="warm runs: calls each process repeats after its measured one "
                         "(default 2; 0 = none; never for Go keep-all)")
    ap.add_argument("--out", type=Path, help="results directory (default benchmarks/results)")
    ap.add_argument("--live", action="store_true",
                    help="children import the working tree's fastrace, not a copy made at start")
    ap.add_argument("--build", choices=("auto", "always", "never"), default="auto",
                    help="compile the copy's extensions from source: when the working tree's "
                         "are older than their sources (auto, the default), always, or never")
    args = ap.parse_args()
    repeat = args.repeat or (2 if args.quick else 5)

    tools = list(TOOLS)
    if args.tools:
        tools = [t.strip() for t in args.tools.split(",") if t.strip()]
        bad = [t for t in tools if t not in TOOLS]
        if bad:
            ap.error(f"unknown tools: {bad}")
    snapdir = None if args.live else Path(tempfile.mkdtemp(prefix="fastrace-bench-"))
    try:
        return run(args, repeat, tools, snapdir)
    finally:
        if snapdir is not None:
            shutil.rmtree(snapdir, ignore_errors=True)


def run(args, repeat: int, tools: list[str], snapdir: Path | None) -> int:
    global SNAPSHOT
    machine = machine_info()
    if snapdir is not None:
        machine.update(snapshot_fastrace(snapdir, args.build))
        SNAPSHOT = snapdir
    ci = child_info()
    machine["fastrace"] = ci["fastrace_version"]
    machine["fastrace_imported_from"] = ci["fastrace_file"]
    machine["numpy"] = ci["numpy"]
    workers = ci["read_accepts_workers"]
    if not workers and "read_w2" in tools:
        tools.remove("read_w2")
        print("fastrace.read has no `workers` argument: read(workers=2) is n/a")

    makers = {"sched": sched_trace, "allocfree": allocfree_trace, "multigen": multigen_trace}
    wanted = args.traces.split(",") if args.traces else list(makers)
    traces = [makers[t.strip()](args.quick) for t in wanted]
    goreader = goreader_binary()

    results: dict = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python", "-m", "benchmarks.compare_go", *sys.argv[1:]]),
        "repeat": repeat,
        "again": args.again,
        "quick": args.quick,
        "read_accepts_workers": workers,
        "loadavg_start": os.getloadavg(),
        "machine": machine,
        "traces": [],
    }

    for tr in traces:
        path = tr["path"]
        size = path.stat().st_size
        # Warm the page cache and learn the generations (not a measurement).
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass
        probe = run_measured(*command("wire", path, goreader), timeout=args.timeout)
        gens = probe["generations"]
        print(f"\n== {tr['name']}: {size / 1e6:.1f} MB, {probe['events']:,} wire events, "
              f"{gens} generations ({', '.join(f'{b / 1e6:.1f}' for b in probe['generation_bytes'])} MB)"
              + (f", experiments {probe['experiments']}" if probe["experiments"] else ""), flush=True)
        if gens < 2 and not args.quick:
            print(f"  warning: only {gens} generation(s)", flush=True)
        runs: dict[str, list] = {t: [] for t in tools}
        # The tools take turns, the first one rotating.  Go's keep-all mode
        # runs after all the others: it frees ~3 GB at exit, and on a virtual
        # machine whose host takes freed memory back, the next process pays
        # for touching memory again (seen: 0.5 s -> 1.4 s).  The unmeasured
        # probe at the start of each trace absorbs that for the next trace.
        rest = [t for t in tools if t != "go_keepall"]
        schedule = [(rep, rest[rep % len(rest):] + rest[:rep % len(rest)] if rest else [])
                    for rep in range(repeat)]
        if "go_keepall" in tools:
            schedule += [(rep, ["go_keepall"]) for rep in range(repeat)]
        # What a new process pays to touch as much fresh memory as read()'s
        # table (56 bytes per event): measured before each round, since on a
        # virtual machine it moves with the host (it is part of read()'s time).
        table_mb = (probe["events"] + gens + 1) * 56 / 1e6
        touches: list[dict] = []
        for rep, order in schedule:
            if order and order != ["go_keepall"]:
                try:
                    touches.append(run_measured([sys.executable, str(CHILD), "touch",
                                                 f"{table_mb:.1f}"], python_env(), args.timeout))
                except (RuntimeError, ValueError, json.JSONDecodeError):
                    pass
            for tool in order:
                cmd, env = command(tool, path, goreader,
                                   0 if tool == "go_keepall" else args.again)
                try:
                    r = run_measured(cmd, env, args.timeout)
                except (RuntimeError, ValueError, json.JSONDecodeError) as e:
                    # e.g. fastrace's extension being rebuilt under us: retry once
                    time.sleep(5)
                    try:
                        r = run_measured(cmd, env, args.timeout)
                    except (RuntimeError, ValueError, json.JSONDecodeError) as e2:
                        r = {"error": f"{e2}", "first_error": f"{e}"}
                r["rep"] = rep
                r["loadavg"] = os.getloadavg()
                runs[tool].append(r)
                if "error" in r:
                    print(f"  rep {rep + 1}/{repeat} {TOOLS[tool]:<30} FAILED: "
                          f"{r['error'].splitlines()[0]}", flush=True)
                else:
                    print(f"  rep {rep + 1}/{repeat} {TOOLS[tool]:<30} {r['seconds']:8.3f} s "
                          f"{r['events']:>12,} events  peak RSS {r['peak_rss_kb'] / 1024:8.0f} MB",
                          flush=True)
        summ = {t: summarize(t, runs[t], size) for t in tools}
        entry = {
            "name": tr["name"], "path": str(path), "bytes": size, "program": tr["program"],
            "args": tr["args"], "godebug": tr.get("godebug"), "go_version": gotool.REFERENCE,
            "wire_version": probe["wire_version"], "generations": gens,
            "generation_bytes": probe["generation_bytes"], "experiments": probe["experiments"],
            "tools": summ,
            "fresh_memory_touch": touches,
        }
        entry["count_check"] = count_check(summ)
        entry["targets"] = targets(summ, size)
        results["traces"].append(entry)

    results["loadavg_end"] = os.getloadavg()
    md = render(results)
    print()
    print(md)
    outdir = args.out or HERE / "results"
    outdir.mkdir(parents=True, exist_ok=True)
    stem = "quick" if args.quick and not args.out else "latest"
    (outdir / f"{stem}.md").write_text(md + "\n")
    (outdir / f"{stem}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"wrote {outdir / (stem + '.md')} and {outdir / (stem + '.json')}")
    bad = [tr["name"] for tr in results["traces"] if not tr["count_check"]["ok"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
