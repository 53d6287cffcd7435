"""Command line: ``fastrace dump`` and ``fastrace info``.

Bad input gives one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources

from fastrace.errors import TraceError

__all__ = ["main", "example_trace_path"]

DUMP_FORMATS = ("go-wire", "go-parsed")


def example_trace_path() -> str:
    """Path of the small example trace shipped inside the package."""
    return str(resources.files("fastrace").joinpath("data", "example.trace"))


def _load(path: str):
    """A binary trace as a path (memory-mapped later), or a text-format trace
    (first line ``Trace Go1.NN``) converted to wire bytes."""
    from fastrace import rawtext

    with open(path, "rb") as f:
        head = f.read(4096)
    if rawtext.is_text_trace(head):
        with open(path, "rb") as f:
            return rawtext.text_to_wire(f.read())
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


def _cmd_pprof(args) -> int:
    # pprof: a profile of a trace as pprof's gzip'd protobuf (fastrace.analysis.pprof),
    # read piece by piece: the memory of one piece, not of the whole event table.
    from fastrace.analysis.pprof import CPU_PERIOD, read_profile

    prof = read_profile(_load(args.trace), args.type,
                        period=CPU_PERIOD if args.period is None else args.period)
    data = prof.to_pprof()
    if args.output and args.output != "-":
        with open(args.output, "wb") as f:
            f.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


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
    pp.set_defaults(func=_cmd_pprof)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except TraceError as e:
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
