"""Command line: ``fastrace dump`` and ``fastrace info``.

Bad input gives one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from fastrace.errors import TraceError

__all__ = ["main", "example_trace_path"]

DUMP_FORMATS = ("go-wire", "go-parsed")


def example_trace_path() -> str:
    """Path of the small example trace shipped inside the package."""
    from importlib import resources     # here: its imports cost 15 ms of every command's start

    return str(resources.files("fastrace").joinpath("data", "example.trace"))


def _load(args, path: str | None = None):
    """The trace argument (``args.trace``, or ``path``) as every command's
    reader takes it: the path as given (``fastrace.wire.open_source`` takes
    binary, text-format and compressed traces alike); with ``--on-error
    truncate``, the Trace of what is readable (``read(on_error="truncate")``,
    which every reader takes as it is), after one line on stderr per
    warning saying what was dropped."""
    path = args.trace if path is None else path
    if getattr(args, "on_error", "raise") != "truncate":
        return path
    from fastrace.trace import read

    trace = read(path, on_error="truncate")
    for w in trace.warnings:
        print(f"fastrace: warning: {path}: {w}", file=sys.stderr)
    sys.stderr.flush()
    return trace


def _wire(args, path: str, *, quiet: bool = False):
    """The wire tables of ``path``; with ``--on-error truncate``, those of
    the generations before the damage (None if there are none), with a
    line on stderr about the rest unless ``quiet``."""
    from fastrace.wire import decode_wire

    if getattr(args, "on_error", "raise") != "truncate":
        return decode_wire(path)
    try:
        wire = decode_wire(path, salvage_prefix=True)
        error = wire.error
    except TraceError as e:
        wire, error = None, e
    if error is not None and not quiet:
        print(f"fastrace: warning: {path}: dropped the rest: {error}", file=sys.stderr)
    return wire


def _add_on_error(p) -> None:
    p.add_argument("--on-error", choices=("raise", "truncate"), default="raise",
                   help="raise (default): bad input is an error (exit status 1); truncate: "
                        "use every event Go's reader delivers before the damage, say on "
                        "stderr what was dropped, exit status 0")


def _add_workers(p) -> None:
    p.add_argument("--workers", type=int, choices=(1, 2), default=1,
                   help="2: order the next generation of the trace in another thread while "
                        "one is analysed (faster where two cores are free; holds up to one "
                        "generation's rows, 56 bytes an event, in memory); default 1")


def _cmd_dump(args) -> int:
    from fastrace.dump import write_go_wire
    from fastrace.parsed import write_go_parsed
    from fastrace.trace import read

    out = sys.stdout.buffer
    if args.format == "go-wire":
        wire = _wire(args, args.trace)
        if wire is not None:
            write_go_wire(wire, out)
    else:
        source = _load(args)
        try:
            trace = read(source)
        except TraceError as e:
            # Like Go's tool: print the events before the problem, then fail.
            partial = getattr(e, "partial", None)
            if partial is not None:
                write_go_parsed(partial, out)
                out.flush()
            raise
        write_go_parsed(trace, out)
    out.flush()
    return 0


def _cmd_validate(args) -> int:
    from fastrace.trace import read
    from fastrace.validate import validate

    problems = validate(read(_load(args)))
    for p in problems[:args.max]:
        print(p)
    if problems:
        print(f"fastrace: {len(problems)} problems", file=sys.stderr)
        return 1
    print("ok")
    return 0


def _cmd_info(args) -> int:
    import csv
    import io
    import json

    from fastrace.info import OVERVIEW_FIELDS, format_overview, format_summary, overview, summarize

    paths = args.trace or [example_trace_path()]
    names = args.trace or [f"{paths[0]} (example shipped with fastrace)"]
    out = sys.stdout
    rows = []
    for path, name in zip(paths, names):
        o = overview(_load(args, path), name)
        if args.format == "text":
            if rows:
                out.write("\n")
            out.write(format_overview(o))
            wire = _wire(args, path, quiet=True) if args.verbose else None
            if wire is not None:
                out.write("\n" + format_summary(summarize(wire), name))
        rows.append(o)
    if args.format == "json":
        json.dump(rows if len(rows) > 1 or args.trace and len(args.trace) > 1 else rows[0],
                  out, indent=1)
        out.write("\n")
    elif args.format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(OVERVIEW_FIELDS)
        for o in rows:
            w.writerow([json.dumps(o[k]) if isinstance(o[k], (dict, list)) else
                        ("" if o[k] is None else o[k]) for k in OVERVIEW_FIELDS])
        out.write(buf.getvalue())
    out.flush()
    return 0


# --- Summaries (fastrace.analysis.summary): `fastrace goroutines`, `fastrace tasks`.

SUMMARY_FORMATS = ("text", "csv", "json")


def _cmd_summary(args) -> int:
    from fastrace.analysis import summary

    # Streamed: the events are never all held.
    s = summary.summarize_file(_load(args), workers=args.workers)
    kind = "goroutines" if args.command == "goroutines" else "tasks"
    if args.format == "text":
        chunks = (summary.goroutines_text_chunks(s) if kind == "goroutines"
                  else [summary.tasks_text(s)])
    elif kind == "goroutines" and args.format == "json":
        chunks = summary.goroutines_json_bytes(s)        # UTF-8 already
    else:
        chunks = getattr(summary, f"{kind}_{args.format}_chunks")(s)
    out = sys.stdout.buffer
    for part in chunks:
        out.write(part if isinstance(part, bytes) else part.encode("utf-8"))
    out.flush()
    return 0


def _add_summary_parsers(sub) -> None:
    g = sub.add_parser("goroutines", help="per-goroutine times, as Go's trace summarizer computes "
                                          "them (go tool trace's goroutine pages)")
    t = sub.add_parser("tasks", help="user tasks (runtime/trace.NewTask): names, parents, times, "
                                     "logs, regions, goroutines, as Go's summarizer has them")
    for p in (g, t):
        p.add_argument("trace", help="trace file (binary, or Go's text format)")
        p.add_argument("--format", choices=SUMMARY_FORMATS, default="text",
                       help="text: a table for the terminal; csv: one row per item; "
                            "json: an array of objects, one per item (times in ns)")
        _add_on_error(p)
        _add_workers(p)
        p.set_defaults(func=_cmd_summary)

# Ranges, GC, MMU and wall clock (fastrace.analysis.gc): fastrace mmu

def _cmd_mmu(args) -> int:
    from fastrace.analysis import gc

    windows = args.window or list(gc.DEFAULT_WINDOWS)
    # Piece by piece: the utilisation pass needs the events only in order.
    values = gc.stream_mmu_curve(_load(args), per_proc=args.per_proc,
                                 workers=args.workers).mmu(windows)
    sys.stdout.write(gc.format_mmu(windows, values, args.format))
    sys.stdout.flush()
    return 0


def _window_ns(text: str) -> int:
    try:
        w = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of ns: {text!r}") from None
    if w <= 0:
        raise argparse.ArgumentTypeError(f"a window must be positive, not {w}")
    return w


def _add_mmu_parser(sub) -> None:
    m = sub.add_parser(
        "mmu", help="Go's minimum mutator utilisation per window (go tool trace's MMU)",
        description="Minimum mutator utilisation of the trace for each window, exactly as "
                    "Go's internal/trace computes it (MutatorUtilizationV2 with stop-the-world, "
                    "background workers, mark assists and sweeping counted, then MMUCurve.MMU).")
    m.add_argument("trace", help="trace file (binary, or Go's text format)")
    m.add_argument("--window", type=_window_ns, action="append", metavar="NS",
                   help="window length in ns (repeat for several; default: 1000, 10000, ..., "
                        "1000000000, i.e. 1 µs to 1 s)")
    m.add_argument("--per-proc", action="store_true",
                   help="one utilisation function per P (Go's UtilPerProc)")
    m.add_argument("--format", choices=("text", "csv", "json"), default="text",
                   help="text: a table; csv: window_ns,mmu; json: an object mapping each "
                        "window in ns (a string) to the MMU")
    _add_on_error(m)
    _add_workers(m)
    m.set_defaults(func=_cmd_mmu)


def _cmd_pprof(args) -> int:
    # pprof: a profile of a trace as pprof's gzip'd protobuf (fastrace.analysis.pprof),
    # read piece by piece: the memory of one piece, not of the whole event table.
    from fastrace.analysis.pprof import CPU_PERIOD, read_profile

    prof = read_profile(_load(args), args.type, workers=args.workers,
                        period=CPU_PERIOD if args.period is None else args.period)
    data = prof.to_pprof()
    if args.output and args.output != "-":
        with open(args.output, "wb") as f:
            f.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


# fastrace export (fastrace.export) ------------------------------------------

EXPORT_FORMATS = ("parquet", "csv", "perfetto", "chrome-json")


def _cmd_export(args) -> int:
    import time

    from fastrace.export import write_tables

    if args.format in PICTURE_FORMATS:
        return _cmd_export_timeline(args)
    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    size = _input_size(args.trace)
    start = time.perf_counter()

    def done(name, path, rows):
        print(f"{path}  {rows:,} rows  {os.path.getsize(path):,} bytes")
        sys.stdout.flush()

    try:
        write_tables(_load(args), args.output, format=args.format, tables=tables,
                     source_name=os.path.basename(args.trace),
                     resolve=not args.no_resolve, wall=args.wall_clock, on_table=done)
    except KeyError as e:
        print(f"fastrace: {e.args[0]}", file=sys.stderr)
        return 1
    secs = time.perf_counter() - start
    if size >= 1e6:
        print(f"fastrace: {size:,} bytes of trace in {secs:.2f} s "
              f"({size / 1e6 / max(secs, 1e-9):.1f} MB/s)", file=sys.stderr)
    return 0


def _input_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _export_parser(sub) -> None:
    e = sub.add_parser(
        "export", help="write a trace's tables as Parquet or CSV files, one per table",
        description="Write every table of a trace (events, threads, strings, stacks, frames, "
                    "stack_frames, generations, exp_batches, experiment tables) into DIR as "
                    "TABLE.parquet or TABLE.csv. Example: fastrace export trace.out -o out/ "
                    "&& duckdb -c \"select type, count(*) from 'out/events.parquet' group by "
                    "type\"")
    e.add_argument("trace", help="trace file (binary, Go's text format, gzip or zstd)")
    e.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="output directory (perfetto, chrome-json: output file)")
    e.add_argument("--format", choices=EXPORT_FORMATS, default="parquet",
                   help="parquet (default; the trace's metadata in each file's key-value "
                        "metadata) or csv (plus metadata.json); perfetto: one Perfetto "
                        "protobuf trace for ui.perfetto.dev; chrome-json: one Trace Event "
                        "Format file for chrome://tracing")
    e.add_argument("--tables", metavar="T1,T2", help="only these tables (default: all)")
    e.add_argument("--no-resolve", action="store_true",
                   help="keep string columns as rows of strings.parquet instead of text")
    wall = e.add_mutually_exclusive_group()
    wall.add_argument("--wall-clock", dest="wall_clock", action="store_true", default=None,
                      help="add wall-clock columns (default: when the trace has clock "
                           "snapshots, Go 1.25+)")
    wall.add_argument("--no-wall-clock", dest="wall_clock", action="store_false")
    _add_on_error(e)
    e.set_defaults(func=_cmd_export)


# Pictures (fastrace.perfetto, .chromejson, .plot): export --format perfetto|chrome-json,
# fastrace plot.

PICTURE_FORMATS = ("perfetto", "chrome-json")


def _cmd_export_timeline(args) -> int:
    # One file, not a directory of tables: the whole trace's timeline.
    from fastrace.trace import read

    trace = read(_load(args))
    if args.format == "perfetto":
        from fastrace.perfetto import write_perfetto

        n = write_perfetto(trace, args.output)
    else:
        from fastrace.chromejson import write_chrome_json

        n = write_chrome_json(trace, args.output)
    what = "packets" if args.format == "perfetto" else "events"
    print(f"{args.output}  {n:,} {what}  {os.path.getsize(args.output):,} bytes")
    return 0


def _cmd_plot(args) -> int:
    from fastrace.plot import plot
    from fastrace.trace import read

    plot(read(_load(args)), args.kind, args.output, dpi=args.dpi)
    print(f"{args.output}  {os.path.getsize(args.output):,} bytes")
    return 0


def _plot_parser(sub) -> None:
    from fastrace.plot import KINDS

    p = sub.add_parser(
        "plot", help="draw a picture of a trace into an image file (matplotlib)",
        description="Draw a plot of the trace with matplotlib (pip install 'fastrace[plot]'): "
                    "timeline (goroutines on Ps, GC, stop-the-world), heap (live heap and "
                    "goal), mmu (minimum mutator utilisation), goroutines (counts by state), "
                    "live_heap (by type, AllocFree traces). "
                    "Example: fastrace plot trace.out timeline -o timeline.png")
    p.add_argument("trace", help="trace file (binary, Go's text format, gzip or zstd)")
    p.add_argument("kind", choices=KINDS, help="which picture")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="image file; the format follows the extension (.png, .svg, .pdf)")
    p.add_argument("--dpi", type=int, default=120, help="resolution of raster images")
    _add_on_error(p)
    p.set_defaults(func=_cmd_plot)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fastrace", description="Decode Go execution traces (runtime/trace, go test -trace).")
    from fastrace import __version__
    p.add_argument("--version", action="version", version=f"fastrace {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="print every event of a trace as text")
    d.add_argument("--format", choices=DUMP_FORMATS, default="go-wire",
                   help="go-wire: exactly what `go tool trace -d=wire` prints; "
                        "go-parsed: exactly what `go tool trace -d=parsed` prints")
    d.add_argument("trace", help="trace file (binary, or Go's text format)")
    _add_on_error(d)
    d.set_defaults(func=_cmd_dump)
    v = sub.add_parser("validate", help="check a trace against the invariants of Go's validator")
    v.add_argument("trace", help="trace file (binary, or Go's text format)")
    v.add_argument("--max", type=int, default=20, help="problems to print at most")
    _add_on_error(v)
    v.set_defaults(func=_cmd_validate)
    i = sub.add_parser(
        "info", help="what a trace holds, first what a person looks for (default: the shipped "
                     "example)",
        description="Which Go wrote the trace, when, how long it covers, goroutines, "
                    "GOMAXPROCS, GC cycles and stop-the-world time, what goroutines blocked on, "
                    "CPU samples and experiments; --verbose adds the wire format's counts. "
                    "Example: fastrace info trace.out; fastrace info --format csv *.trace")
    i.add_argument("trace", nargs="*", help="trace files; none: the shipped example")
    i.add_argument("--format", choices=("text", "json", "csv"), default="text",
                   help="text: lines for a terminal; json: one object per trace (an array for "
                        "several); csv: one row per trace")
    i.add_argument("-v", "--verbose", action="store_true",
                   help="text: also the low-level counts (generations, batches, event types)")
    _add_on_error(i)
    i.set_defaults(func=_cmd_info)
    _add_summary_parsers(sub)
    _add_mmu_parser(sub)

    pp = sub.add_parser(
        "pprof", help="write a pprof profile of a trace (as `go tool trace -pprof=TYPE`)",
        description="Write a profile in pprof's format (gzip'd protobuf, for `go tool pprof`). "
                    "net, sync, syscall, sched: the latency profiles `go tool trace -pprof=TYPE` "
                    "writes (time goroutines spent waiting on the network, blocked on "
                    "synchronization, in system calls, runnable before running), with Go's "
                    "exact rules; cpu: the trace's CPU samples (when the program ran the CPU "
                    "profiler while tracing).")
    pp.add_argument("type", choices=("net", "sync", "syscall", "sched", "cpu"),
                    help="which profile")
    pp.add_argument("trace", help="trace file (binary, or Go's text format)")
    pp.add_argument("-o", "--output", metavar="FILE",
                    help="write the profile to FILE instead of standard output")
    pp.add_argument("--period", type=int, default=None, metavar="NS",
                    help="cpu only: sampling period in ns (default 10000000, the runtime's "
                         "100 Hz; the trace does not record it)")
    _add_on_error(pp)
    _add_workers(pp)
    pp.set_defaults(func=_cmd_pprof)

    _export_parser(sub)
    _plot_parser(sub)
    for name, parser in sub.choices.items():
        parser.epilog = "Examples:\n" + "\n".join(f"  {e}" for e in EXAMPLES[name])
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return p


# Shown under every command's --help (the README has more).
EXAMPLES = {
    "dump": ["fastrace dump --format go-parsed trace.out | less",
             "fastrace dump --format go-wire trace.out > wire.txt   # = go tool trace -d=wire"],
    "validate": ["fastrace validate trace.out", "fastrace validate --max 100 trace.out"],
    "info": ["fastrace info trace.out", "fastrace info -v trace.out",
             "fastrace info --format csv traces/*.out > traces.csv"],
    "goroutines": ["fastrace goroutines trace.out | head",
                   "fastrace goroutines --format json trace.out > goroutines.json"],
    "tasks": ["fastrace tasks trace.out", "fastrace tasks --format csv trace.out > tasks.csv"],
    "mmu": ["fastrace mmu trace.out", "fastrace mmu --window 1000000 --window 10000000 trace.out",
            "fastrace mmu --per-proc --format json trace.out"],
    "pprof": ["fastrace pprof sync trace.out -o sync.pb.gz && go tool pprof -top sync.pb.gz",
              "fastrace pprof cpu trace.out | go tool pprof -top -"],
    "export": ["fastrace export trace.out -o tables/               # Parquet, one file per table",
               "fastrace export trace.out -o tables/ --format csv --tables events,goroutines",
               "fastrace export trace.out --format perfetto -o trace.pftrace   # ui.perfetto.dev"],
    "plot": ["fastrace plot trace.out timeline -o timeline.png",
             "fastrace plot trace.out heap -o heap.svg"],
}


def main(argv: list[str] | None = None) -> int:
    from fastrace import progress

    args = _parser().parse_args(argv)
    try:
        # A progress bar on a terminal for work over a second (tqdm).
        with progress.reporting(progress.terminal_bar(f"fastrace {args.command}")):
            return args.func(args)
    except (TraceError, ImportError) as e:   # ImportError: an optional package is missing
        print(f"fastrace: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            # Reader went away (e.g. `| head`); not an error of ours.
            try:
                sys.stdout = None  # type: ignore[assignment]
            finally:
                return 0
        print(f"fastrace: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1


def run() -> None:
    """The ``fastrace`` command (the console script, ``python -m fastrace``):
    :func:`main`, then the exit.  Once a command is done every file it wrote
    is closed (``with`` blocks, the exporters' own writers) and its threads
    are joined, so only the standard streams need flushing; the process then
    leaves without the interpreter's teardown, which freed every object and
    unloaded every module one by one: 30-40 ms after ``fastrace pprof sched``
    on the 68 MB benchmark trace, ~5% of the command.  Callers of ``main()``
    (tests, programs) keep the normal exit."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            # A reader gone away (`| head`): as main() treats it, not an
            # error of ours; a closed stream has nothing left to flush.
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
