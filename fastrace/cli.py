"""Command line: ``fastrace dump`` and ``fastrace info``.

Bad input gives one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources

from fastrace.errors import TraceError

__all__ = ["main", "example_trace_path"]

DUMP_FORMATS = ("go-wire", "go-parsed")


def example_trace_path() -> str:
    """Path of the small example trace shipped inside the package."""
    return str(resources.files("fastrace").joinpath("data", "example.trace"))


def _load(path: str):
    """The trace argument as given: ``fastrace.wire.open_source`` (used by
    every reader) takes binary, text-format and compressed traces alike."""
    return path


def _cmd_dump(args) -> int:
    from fastrace.dump import write_go_wire
    from fastrace.parsed import write_go_parsed
    from fastrace.trace import read
    from fastrace.wire import decode_wire

    source = _load(args.trace)
    out = sys.stdout.buffer
    if args.format == "go-wire":
        write_go_wire(decode_wire(source), out)
    else:
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

    problems = validate(read(_load(args.trace)))
    for p in problems[:args.max]:
        print(p)
    if problems:
        print(f"fastrace: {len(problems)} problems", file=sys.stderr)
        return 1
    print("ok")
    return 0


def _cmd_info(args) -> int:
    from fastrace.info import format_summary, summarize
    from fastrace.wire import decode_wire

    path = args.trace or example_trace_path()
    name = args.trace or f"{path} (example shipped with fastrace)"
    sys.stdout.write(format_summary(summarize(decode_wire(_load(path))), name))
    sys.stdout.flush()
    return 0


# fastrace export (fastrace.export) ------------------------------------------

EXPORT_FORMATS = ("parquet", "csv")


def _cmd_export(args) -> int:
    import time

    from fastrace.export import write_tables

    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    size = _input_size(args.trace)
    start = time.perf_counter()

    def done(name, path, rows):
        print(f"{path}  {rows:,} rows  {os.path.getsize(path):,} bytes")
        sys.stdout.flush()

    try:
        write_tables(args.trace, args.output, format=args.format, tables=tables,
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
    e.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    e.add_argument("--format", choices=EXPORT_FORMATS, default="parquet",
                   help="parquet (default; the trace's metadata in each file's key-value "
                        "metadata) or csv (plus metadata.json)")
    e.add_argument("--tables", metavar="T1,T2", help="only these tables (default: all)")
    e.add_argument("--no-resolve", action="store_true",
                   help="keep string columns as rows of strings.parquet instead of text")
    wall = e.add_mutually_exclusive_group()
    wall.add_argument("--wall-clock", dest="wall_clock", action="store_true", default=None,
                      help="add wall-clock columns (default: when the trace has clock "
                           "snapshots, Go 1.25+)")
    wall.add_argument("--no-wall-clock", dest="wall_clock", action="store_false")
    e.set_defaults(func=_cmd_export)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fastrace", description="Decode Go execution traces (runtime/trace, go test -trace).")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="print every event of a trace as text")
    d.add_argument("--format", choices=DUMP_FORMATS, default="go-wire",
                   help="go-wire: exactly what `go tool trace -d=wire` prints; "
                        "go-parsed: exactly what `go tool trace -d=parsed` prints")
    d.add_argument("trace", help="trace file (binary, or Go's text format)")
    d.set_defaults(func=_cmd_dump)
    v = sub.add_parser("validate", help="check a trace against the invariants of Go's validator")
    v.add_argument("trace", help="trace file (binary, or Go's text format)")
    v.add_argument("--max", type=int, default=20, help="problems to print at most")
    v.set_defaults(func=_cmd_validate)
    i = sub.add_parser("info", help="summarize a trace (default: the shipped example)")
    i.add_argument("trace", nargs="?", help="trace file; omit to use the shipped example")
    i.set_defaults(func=_cmd_info)
    _export_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
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


if __name__ == "__main__":
    sys.exit(main())
