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
