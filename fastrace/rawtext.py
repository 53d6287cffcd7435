"""The text form of the trace wire format (Go's ``internal/trace/raw``).

Go's trace tests are written as text: a header line ``Trace Go1.NN``, then
one wire event per line, ``Name arg=value ...``.  A ``Stack`` event is
followed by one line per frame (``pc=.. func=.. file=.. line=..``) and an
event with trailing data (``String``, ``ExperimentalBatch``) by a line
``data=<Go string literal>``.  Blank lines and lines whose first non-space
character is ``#`` are skipped.  This is also what ``go tool trace -d=wire``
prints after the header, so a dump is a text trace once the header is added.

The rules below follow Go 1.27's text reader, quirks included:

- "Space" is Unicode white space as Go's ``unicode.IsSpace`` defines it
  (not Python's ``str.isspace``, which also counts ``\\x1c``-``\\x1f``).
- Lines end at ``\\n``; one ``\\r`` before it is dropped.
- Arguments are ``name=decimal`` tokens in exactly the order of the event's
  specification; anything but space after the last one is an error, and
  that includes a ``#`` comment: comments only work as whole lines.
- The data value is ``strconv.Unquote``d, so double-quoted, back-quoted and
  single-quoted literals are all accepted (:func:`go_unquote`).
- A Stack's frame lines are read as many as its ``nframes`` says
  (``nframes`` of 2**63 or more counts as zero, as Go's int conversion makes
  it negative).
- The header version is parsed as a 64-bit number and then truncated to 32
  bits, as Go does (``Go1.4294967318`` is Go 1.22).  Go 1.11-1.21 headers
  are accepted but such traces have no event names, so only an empty trace
  of those versions parses.

Two deliberate differences from Go:

- The AllocFree experimental events (``Span``, ``HeapObjectAlloc``...) are
  accepted in Go 1.23 and 1.25 traces, as fastrace's wire decoder accepts
  them (Go's tables only name them from trace version 1.26 on).
- Go's line scanner gives up on lines of 64 KiB or more; this parser does not.

The binary encoding (:func:`encode_wire`) writes minimal varints, as Go's
raw writer does; the runtime pads each batch's size field to 10 bytes, so a
re-encoded runtime trace is shorter than the original, with the same
content.  The experiment id of an ``ExperimentalBatch`` is written as one
byte, which is what the runtime writes and Go's trace reader reads (Go's raw
writer writes a varint there, the same byte for ids below 128).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, TextIO

from fastrace import spec as _spec
from fastrace.errors import TraceFormatError
from fastrace.goquote import _decode_rune, go_quote

__all__ = [
    "RawEvent",
    "TextFormatError",
    "go_unquote",
    "parse_text",
    "encode_wire",
    "text_to_wire",
    "is_text_trace",
    "write_text",
    "format_event",
    "events_to_text",
    "parse_go_fuzz_corpus",
    "GO_SPACE",
    "is_go_space",
]

_U64 = 1 << 64

# Every version Go's version package knows; 22 and later are the v2 format.
_VALID_VERSIONS = frozenset(_spec.TRACE_VERSIONS) | frozenset(_spec.V1_VERSIONS)

# The code points unicode.IsSpace is true for (Latin-1 rules, then the
# White_Space property).
GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_SPACE_CLASS = "".join(re.escape(c) if c.isascii() else c for c in sorted(GO_SPACE))
_LEADING_SPACE = re.compile(f"[{_SPACE_CLASS}]*")
_TOKEN_BODY = re.compile(f"[^{_SPACE_CLASS}#]*")
_ALL_SPACE = re.compile(f"[{_SPACE_CLASS}]*\\Z")   # match: all space; search: trailing space
_ASCII_DIGITS = re.compile(r"[0-9]+\Z")

_FRAME_FIELDS = ("pc", "func", "file", "line")

_STACK = _spec.BY_NAME["Stack"].code
_EXP_BATCH = _spec.BY_NAME["ExperimentalBatch"].code
_BATCH = _spec.BY_NAME["EventBatch"].code


def is_go_space(ch: str) -> bool:
    """Whether Go's ``unicode.IsSpace`` is true for the one-character ``ch``."""
    return ch in GO_SPACE


# --------------------------------------------------------------------------
# Go string literals


class _Syntax(ValueError):
    pass


def _syntax() -> _Syntax:
    # strconv.ErrSyntax's text.
    return _Syntax("invalid syntax")


_HEX = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}
_SIMPLE_ESCAPES = {
    ord("a"): 0x07, ord("b"): 0x08, ord("f"): 0x0C, ord("n"): 0x0A,
    ord("r"): 0x0D, ord("t"): 0x09, ord("v"): 0x0B, ord("\\"): 0x5C,
}
_REPLACEMENT = "\ufffd".encode()


def _as_go_bytes(s: str | bytes | bytearray | memoryview) -> bytes:
    """The bytes of a Go string given as Python bytes or str.

    A str is taken as UTF-8, with lone surrogates U+DC80-U+DCFF standing for
    the raw bytes 0x80-0xFF (Python's ``surrogateescape`` convention, which is
    how fastrace turns arbitrary bytes into str).
    """
    if isinstance(s, str):
        try:
            return s.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise _Syntax("invalid syntax: string holds a surrogate code point") from None
    return bytes(s)


def go_unquote(s: str | bytes) -> bytes:
    """Go's ``strconv.Unquote``: the bytes that the Go literal ``s`` denotes.

    ``s`` is a double-quoted, back-quoted or single-quoted Go literal with
    nothing before or after it.  Go's rules, exactly:

    - double quotes: the escapes ``\\a \\b \\f \\n \\r \\t \\v \\\\ \\"``,
      ``\\xHH`` (one raw byte, any value), ``\\OOO`` (three octal digits, at
      most 0o377, one raw byte), ``\\uHHHH`` and ``\\UHHHHHHHH`` (a Unicode
      scalar value, written as UTF-8; surrogates and values past U+10FFFF
      are errors).  ``\\'`` is an error.  A raw newline is an error, a raw
      carriage return or other control byte is kept.  Bytes that are not
      valid UTF-8 each become U+FFFD (EF BF BD), as Go re-encodes every
      multi-byte character.
    - back quotes: the bytes up to the closing back quote, with every ``\\r``
      removed; no escapes; newlines allowed.
    - single quotes: exactly one character (or escape; ``\\"`` is an error
      there, ``\\'`` is allowed), and ``''`` is the empty string.

    Raises ValueError("invalid syntax") where Go returns ErrSyntax.
    """
    b = _as_go_bytes(s)
    n = len(b)
    if n < 2:
        raise _syntax()
    quote = b[0]
    end = b.find(quote, 1)
    if end < 0:
        raise _syntax()
    if quote == 0x60:  # back quote: raw string
        if end != n - 1:
            raise _syntax()
        return b[1:end].replace(b"\r", b"")
    if quote not in (0x22, 0x27):
        raise _syntax()
    out = bytearray()
    i = 1
    while i < n and b[i] != quote:
        if b[i] == 0x0A:
            raise _syntax()  # unescaped newline
        value, multibyte, i = _unquote_char(b, i, quote)
        if value < 0x80 or not multibyte:
            out.append(value)
        else:
            out += chr(value).encode("utf-8")
        if quote == 0x27:
            break  # a character literal holds one character
    if not (i < n and b[i] == quote):
        raise _syntax()
    if i + 1 != n:
        raise _syntax()  # something after the closing quote
    return bytes(out)


def _unquote_char(b: bytes, i: int, quote: int) -> tuple[int, bool, int]:
    """Go's strconv.UnquoteChar on b[i:]: (value, multibyte, next index).

    ``value`` is a byte when ``multibyte`` is false (plain ASCII, ``\\xHH``,
    octal escapes) and a code point otherwise; bytes that are not valid
    UTF-8 give U+FFFD, one per byte.
    """
    n = len(b)
    if i >= n:
        raise _syntax()
    c = b[i]
    if c == quote:
        raise _syntax()
    if c >= 0x80:
        cp, width = _decode_rune(b, i)
        return (0xFFFD if cp < 0 else cp), True, i + width
    if c != 0x5C:
        return c, False, i + 1
    # A backslash: the escape letter follows.
    i += 1
    if i >= n:
        raise _syntax()
    c = b[i]
    i += 1
    simple = _SIMPLE_ESCAPES.get(c)
    if simple is not None:
        return simple, False, i
    if c in (0x78, 0x75, 0x55):  # x u U
        width = 2 if c == 0x78 else 4 if c == 0x75 else 8
        if n - i < width:
            raise _syntax()
        v = 0
        for k in range(i, i + width):
            d = _HEX.get(b[k])
            if d is None:
                raise _syntax()
            v = (v << 4) | d
        i += width
        if c == 0x78:
            return v, False, i  # one raw byte, UTF-8 or not
        if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
            raise _syntax()
        return v, True, i
    if 0x30 <= c <= 0x37:  # octal: exactly three digits, at most 0o377
        if n - i < 2:
            raise _syntax()
        v = c - 0x30
        for k in range(i, i + 2):
            d = b[k] - 0x30
            if not 0 <= d <= 7:
                raise _syntax()
            v = (v << 3) | d
        if v > 255:
            raise _syntax()
        return v, False, i + 2
    if c in (0x22, 0x27):  # \" and \' only inside their own kind of quotes
        if c != quote:
            raise _syntax()
        return c, False, i
    raise _syntax()


# --------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class RawEvent:
    """One wire event as the text format writes it.

    ``code`` is the event type byte (see :mod:`fastrace.spec`); ``args`` the
    argument values in specification order, followed for a ``Stack`` by
    four values (pc, func, file, line) per frame; ``data`` the trailing
    bytes of events that have them (``String``, ``ExperimentalBatch``) and
    None for the others.  ``line`` is the text line the event started on
    (0 when not parsed from text; not part of equality).
    """

    code: int
    args: tuple[int, ...]
    data: bytes | None = None
    line: int = field(default=0, compare=False)

    @property
    def spec(self) -> _spec.EventSpec:
        return _spec.spec(self.code)

    @property
    def name(self) -> str:
        return self.spec.name

    def frames(self) -> list[tuple[int, int, int, int]]:
        """For a Stack event, its frames as (pc, func, file, line)."""
        extra = self.args[self.spec.nargs:]
        return [tuple(extra[i:i + 4]) for i in range(0, len(extra) - 3, 4)]

    def __str__(self) -> str:
        return format_event(self)


def format_event(ev: RawEvent) -> str:
    """The text of one event (several lines for stacks and data), without a
    final newline: the format Go's raw event String method produces."""
    sp = _spec.spec(ev.code)
    parts = [sp.name]
    for name, v in zip(sp.args, ev.args):
        parts.append(f" {name}={v}")
    if sp.is_stack:
        extra = ev.args[sp.nargs:]
        for i, v in enumerate(extra):
            parts.append("\n\t" if i % 4 == 0 else " ")
            parts.append(f"{_FRAME_FIELDS[i % 4]}={v}")
    if ev.data is not None:
        parts.append("\n\tdata=")
        parts.append(go_quote(ev.data))
    return "".join(parts)


def events_to_text(version: int, events: Iterable[RawEvent]) -> str:
    """A whole text trace: the header and one event after another."""
    out = [f"Trace Go1.{version}\n"]
    for ev in events:
        out.append(format_event(ev))
        out.append("\n")
    return "".join(out)


# --------------------------------------------------------------------------
# Parsing


class TextFormatError(TraceFormatError):
    """A text trace breaks the text format.  ``line`` is the 1-based line
    number (also in the message); ``offset`` the byte offset of that line's
    start in the text."""

    def __init__(self, problem: str, *, line: int | None = None, **kw) -> None:
        self.line = line
        super().__init__(problem, **kw)

    def __reduce__(self):
        return (_rebuild_text_error,
                (self.problem, self.line, self.offset, self.generation, self.batch, self.event))


def _rebuild_text_error(problem, line, offset, generation, batch, event):
    return TextFormatError(problem, line=line, offset=offset, generation=generation,
                           batch=batch, event=event)


def _q(s: str) -> str:
    """Go's %q of a string held as surrogate-escaped str."""
    return go_quote(s.encode("utf-8", "surrogateescape"))


def _printable(s: str) -> str:
    """``s`` for a message: bytes that are not UTF-8 become U+FFFD, so the
    message can always be printed (Go's messages hold the raw bytes)."""
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read_token(s: str) -> tuple[str, str]:
    """The first token of ``s`` and the rest after it, as Go's text reader
    splits lines: tokens end at space or ``#``; a ``#`` where a token would
    start makes the rest of the line a comment (token and rest empty)."""
    start = _LEADING_SPACE.match(s).end()
    if start == len(s) or s[start] == "#":
        return "", ""
    end = _TOKEN_BODY.match(s, start).end()
    return s[start:end], s[end:]


def _parse_uint(text: str) -> tuple[int | None, str]:
    """strconv.ParseUint(text, 10, 64): (value, "") or (None, Go's error)."""
    if _ASCII_DIGITS.match(text):
        v = int(text)
        if v < _U64:
            return v, ""
        return None, f"strconv.ParseUint: parsing {_q(text)}: value out of range"
    return None, f"strconv.ParseUint: parsing {_q(text)}: invalid syntax"


class _Lines:
    """The lines of a text trace with their numbers and byte offsets; skips
    blank and comment lines as Go's reader does."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.lineno = 0        # number of the line last returned (1-based)
        self.line_offset = 0   # byte offset of that line

    def next(self) -> str | None:
        data = self.data
        while self.pos < len(data):
            start = self.pos
            nl = data.find(b"\n", start)
            if nl < 0:
                raw = data[start:]
                self.pos = len(data)
            else:
                raw = data[start:nl]
                self.pos = nl + 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            self.lineno += 1
            self.line_offset = start
            line = raw.decode("utf-8", "surrogateescape")
            tok, _ = _read_token(line)
            if tok:
                return line
        return None


def _fail(lines: _Lines, message: str) -> TextFormatError:
    return TextFormatError(f"line {lines.lineno}: {message}", line=lines.lineno,
                           offset=lines.line_offset)


def _read_args(s: str, names: Iterable[str]) -> tuple[list[int] | None, str]:
    """Go's readArgs: the values of ``names`` in order, or (None, error)."""
    values = []
    for name in names:
        tok, rest = _read_token(s)
        if not tok:
            return None, "no argument"
        arg, eq, val = tok.partition("=")
        if not eq:
            return None, f"malformed argument: {_q(tok)}"
        v, err = _parse_uint(val)
        if v is None:
            return None, f"failed to parse argument value {_q(val)} for arg {_q(arg)}"
        if arg != name:
            return None, f"expected argument {_q(name)}, but got {_q(arg)}"
        values.append(v)
        s = rest
    if not _ALL_SPACE.match(s):
        return None, f"encountered unexpected non-space at the end of an event: {_q(s)}"
    return values, ""


def _trim_go_space(s: str) -> str:
    start = _LEADING_SPACE.match(s).end()
    end = _ALL_SPACE.search(s, start).start()
    return s[start:end]


def _read_data(line: str) -> tuple[bytes | None, str]:
    key, eq, value = line.partition("=")
    if not eq or _trim_go_space(key) != "data":
        return None, f"malformed data: {_q(line)}"
    try:
        return go_unquote(_trim_go_space(value)), ""
    except ValueError:
        return None, f"failed to parse data: {_q(line)}: invalid syntax"


def _to_bytes(text: str | bytes | bytearray | memoryview) -> bytes:
    if isinstance(text, str):
        try:
            return text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as e:
            raise TextFormatError(
                f"text holds a surrogate code point (U+{ord(e.object[e.start]):04X}) "
                "that cannot be encoded as UTF-8") from None
    return bytes(text)


def _names_for(version: int) -> dict[str, _spec.EventSpec]:
    if version in _spec.TRACE_VERSIONS:
        return {s.name: s for s in _spec.specs_for(version)}
    return {}  # Go 1.11-1.21: a valid version without event specs


def _parse_header(lines: _Lines) -> int:
    line = lines.next()
    if line is None:
        raise TextFormatError("line 1: failed to parse header: EOF (no header line)",
                              line=1, offset=0)
    tok, rest = _read_token(line)
    if tok != "Trace":
        raise _fail(lines, "failed to parse header")
    gover, rest = _read_token(rest)
    if not gover.startswith("Go1."):
        raise _fail(lines, "failed to parse header Go version")
    raw, err = _parse_uint(gover[4:])
    if raw is None:
        raise _fail(lines, f"failed to parse header Go version: {err}")
    version = raw & 0xFFFFFFFF  # Go stores the version as a uint32
    if version not in _VALID_VERSIONS:
        raise _fail(lines, f"unknown or unsupported Go version 1.{version}")
    if not _ALL_SPACE.match(rest):
        raise _fail(lines, f"encountered unexpected non-space at the end of the header: {_q(rest)}")
    return version


def _fmt_args(args: list[int]) -> str:
    return "[" + " ".join(map(str, args)) + "]"


def parse_text(text: str | bytes) -> tuple[int, list[RawEvent]]:
    """Parse a text trace into its version (the NN of Go 1.NN) and events.

    Raises :class:`TextFormatError` (a :class:`fastrace.TraceFormatError`)
    with Go's wording and the line number, e.g. ``line 7: unidentified
    event: Foo``.
    """
    lines = _Lines(_to_bytes(text))
    version = _parse_header(lines)
    names = _names_for(version)
    events: list[RawEvent] = []
    while True:
        line = lines.next()
        if line is None:
            break
        start_line = lines.lineno
        name, rest = _read_token(line)
        sp = names.get(name)
        if sp is None:
            raise _fail(lines, f"unidentified event: {_printable(name)}")
        args, err = _read_args(rest, sp.args)
        if args is None:
            raise _fail(lines, f"reading args for {name}: {err}")
        if sp.is_stack:
            nframes = args[1] if args[1] < (1 << 63) else 0
            for _ in range(nframes):
                fline = lines.next()
                if fline is None:
                    raise _fail(lines, "unexpected EOF while reading stack: "
                                       f"args={_fmt_args(args)}")
                frame, err = _read_args(fline, _FRAME_FIELDS)
                if frame is None:
                    raise _fail(lines, err)
                args.extend(frame)
        data = None
        if sp.has_data:
            dline = lines.next()
            if dline is None:
                raise _fail(lines, f"unexpected EOF while reading data for {name}: "
                                   f"args={_fmt_args(args)}")
            data, err = _read_data(dline)
            if data is None:
                raise _fail(lines, err)
        events.append(RawEvent(sp.code, tuple(args), data, start_line))
    return version, events


def is_text_trace(first_bytes: bytes | str) -> bool:
    """Whether input starting with ``first_bytes`` is a text trace: its first
    line that is not blank or a comment starts with ``Trace Go1.``.  False
    when the prefix is too short to tell."""
    if isinstance(first_bytes, str):
        first_bytes = first_bytes.encode("utf-8", "surrogateescape")
    lines = _Lines(bytes(first_bytes))
    line = lines.next()
    if line is None:
        return False
    tok, rest = _read_token(line)
    if tok != "Trace":
        return False
    gover, _ = _read_token(rest)
    return gover.startswith("Go1.")


# --------------------------------------------------------------------------
# Binary encoding


def _uvarint(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _padded_uvarint(out: bytearray, v: int) -> None:
    # The runtime reserves 10 bytes for a batch's size and fills them in
    # when the batch is done: a varint with continuation bits on 9 bytes.
    for _ in range(9):
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _check_u64(v: int, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"{what}: not an integer: {v!r}")
    if not 0 <= v < _U64:
        raise ValueError(f"{what}: {v} does not fit in 64 bits")
    return v


def _encode_event(out: bytearray, codes: frozenset, ev: RawEvent, pad: bool) -> None:
    code = ev.code
    if code not in codes:
        raise ValueError(f"event type {code} is not part of this trace version")
    sp = _spec.BY_CODE[code]
    args = ev.args
    if sp.is_stack:
        if len(args) < sp.nargs or (len(args) - sp.nargs) % 4:
            raise ValueError(f"{sp.name}: expected id, nframes and 4 values per frame, "
                             f"got {len(args)} values")
    elif len(args) != sp.nargs:
        raise ValueError(f"{sp.name}: expected {sp.nargs} arguments, got {len(args)}")
    if sp.has_data:
        if ev.data is None:
            raise ValueError(f"{sp.name}: event needs data")
    elif ev.data is not None:
        raise ValueError(f"{sp.name}: event has no data")
    out.append(code)
    for i, v in enumerate(args):
        _check_u64(v, f"{sp.name} argument {i}")
    if code == _EXP_BATCH:
        # The experiment id is one byte in the real format.
        if not 0 <= args[0] < 256:
            raise ValueError(f"ExperimentalBatch: experiment id {args[0]} does not fit in a byte")
        out.append(args[0])
        args = args[1:]
    if pad and code == _BATCH:
        for v in args[:-1]:
            _uvarint(out, v)
        _padded_uvarint(out, args[-1])
        return
    for v in args:
        _uvarint(out, v)
    if sp.has_data:
        data = bytes(ev.data)
        (_padded_uvarint if pad and code == _EXP_BATCH else _uvarint)(out, len(data))
        out += data


def encode_wire(version: int, events: Iterable[RawEvent], *, pad_sizes: bool = False) -> bytes:
    """The binary trace (``go 1.NN trace`` header and events) of ``events``.

    Each event is its type byte, its arguments as minimal unsigned LEB128
    varints (frames included for stacks), and for data events the data
    length and bytes.  The ``size`` of an ``EventBatch`` is written as
    given, not recomputed.  With ``pad_sizes`` the size of every
    ``EventBatch`` and the data length of every ``ExperimentalBatch`` take
    10 bytes, as the runtime writes them (a runtime trace then re-encodes
    to its exact bytes).  Raises ValueError for events that cannot be
    encoded (unknown type for the version, wrong argument count, values
    outside 64 bits, an experiment id above 255).
    """
    if version not in _VALID_VERSIONS:
        raise ValueError(f"unknown or unsupported trace version go 1.{version}")
    codes = frozenset(s.code for s in _names_for(version).values())
    out = bytearray(f"go 1.{version} trace\x00\x00\x00".encode())
    for i, ev in enumerate(events):
        try:
            _encode_event(out, codes, ev, pad_sizes)
        except ValueError as e:
            raise ValueError(f"event {i}: {e}") from None
    return bytes(out)


def text_to_wire(text: str | bytes, *, pad_sizes: bool = False) -> bytes:
    """Parse a text trace and encode it in the binary wire format (see
    :func:`encode_wire` for ``pad_sizes``)."""
    version, events = parse_text(text)
    codes = frozenset(s.code for s in _names_for(version).values())
    out = bytearray(f"go 1.{version} trace\x00\x00\x00".encode())
    for ev in events:
        try:
            _encode_event(out, codes, ev, pad_sizes)
        except ValueError as e:
            raise TextFormatError(f"line {ev.line}: {e}", line=ev.line) from None
    return bytes(out)


def write_text(wire_trace, out: BinaryIO | TextIO, *, empty_data: bool = False) -> None:
    """Write a decoded :class:`fastrace.WireTrace` as a text trace: the
    header ``Trace Go1.NN`` and the lines of ``go tool trace -d=wire``.

    ``out`` may be a binary or a text stream.  As in Go's dump and text
    writer, a ``String`` or ``ExperimentalBatch`` with empty data gets no
    data line, and such text does not parse back: the data line is
    mandatory.  ``empty_data=True`` writes ``data=""`` for them instead, so
    that every trace survives the trip through text.
    """
    from fastrace.dump import iter_go_wire

    text_mode = isinstance(out, io.TextIOBase)
    chunk: list[str] = [f"Trace Go1.{wire_trace.version}"]

    def flush() -> None:
        chunk.append("")
        s = "\n".join(chunk)
        out.write(s if text_mode else s.encode("utf-8", "surrogateescape"))
        chunk.clear()

    for line in iter_go_wire(wire_trace):
        if empty_data and line.startswith(_DATA_EVENT_PREFIXES) and "\n" not in line:
            line += '\n\tdata=""'
        chunk.append(line)
        if len(chunk) >= 4096:
            flush()
    if chunk:
        flush()


_DATA_EVENT_PREFIXES = tuple(f"{s.name} " for s in _spec.SPECS if s.has_data)


# --------------------------------------------------------------------------
# Go fuzz corpus files

_CORPUS_HEADER = "go test fuzz v1"
_CALL = re.compile(r"\A(\[\s*\]\s*byte|[A-Za-z_][A-Za-z0-9_]*)\s*\(\s*(.*?)\s*\)\Z", re.S)
_INT_TYPES = {
    "int": (True, 64), "int8": (True, 8), "int16": (True, 16), "int32": (True, 32),
    "int64": (True, 64), "rune": (True, 32),
    "uint": (False, 64), "uint8": (False, 8), "uint16": (False, 16), "uint32": (False, 32),
    "uint64": (False, 64), "byte": (False, 8),
}
_GO_INT = re.compile(r"\A-?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)\Z")


def _corpus_int(lit: str, typ: str) -> int:
    signed, bits = _INT_TYPES[typ]
    if lit.startswith("'"):
        if typ not in ("byte", "rune"):
            raise ValueError(f"integer literal required for {typ}")
        b = _as_go_bytes(lit)
        # A character literal: one character or escape between single quotes.
        if len(b) < 3 or b[-1] != 0x27 or b[1] == 0x0A:
            raise ValueError("malformed character literal")
        value, _, end = _unquote_char(b, 1, 0x27)
        if end != len(b) - 1:
            raise ValueError("malformed character literal")
        if typ == "byte" and value >= 256:
            raise ValueError("can only encode single byte to a byte type")
        return value
    if not _GO_INT.match(lit) or (not signed and lit.startswith("-")):
        raise ValueError(f"integer literal required for {typ}: {lit}")
    digits = lit.replace("_", "")
    legacy_octal = re.match(r"-?0[0-7]", digits)
    v = int(digits, 8) if legacy_octal else int(digits, 0)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    if not lo <= v < hi:
        raise ValueError(f"value out of range for {typ}: {lit}")
    return v


def parse_go_fuzz_corpus(text: str | bytes) -> list:
    """The values of a Go fuzz corpus file (``go test fuzz v1`` format).

    ``[]byte(...)`` gives bytes and ``string(...)`` gives bytes too (Go
    strings are byte strings); ``bool(...)`` gives a bool and the integer
    types (``int8(-3)``, ``byte('x')``, ``rune('é')``...) give int.
    Floats are not supported.  Raises ValueError for anything malformed.
    """
    data = _to_bytes(text) if isinstance(text, str) else bytes(text)
    if not data:
        raise ValueError("cannot unmarshal empty string")
    lines = data.split(b"\n")
    if len(lines) < 2:
        raise ValueError("must include version and at least one value")
    first = lines[0][:-1] if lines[0].endswith(b"\r") else lines[0]
    if first != _CORPUS_HEADER.encode():
        raise ValueError(f"unknown encoding version: {first.decode('utf-8', 'replace')}")
    values: list = []
    for raw in lines[1:]:
        line = raw.decode("utf-8", "surrogateescape").strip(" \t\r\n\v\f")
        if not line:
            continue
        m = _CALL.match(line)
        if not m:
            raise ValueError(f"malformed line {line!r}: expected a call expression")
        typ, arg = m.group(1), m.group(2)
        if typ.startswith("["):
            typ = "[]byte"
        try:
            if typ in ("[]byte", "string"):
                if arg[:1] not in ('"', "`"):
                    raise ValueError(f"string literal required for type {typ}")
                values.append(go_unquote(arg))
            elif typ == "bool":
                if arg not in ("true", "false"):
                    raise ValueError("true or false required for type bool")
                values.append(arg == "true")
            elif typ in _INT_TYPES:
                values.append(_corpus_int(arg, typ))
            else:
                raise ValueError(f"unsupported type {typ}")
        except ValueError as e:
            raise ValueError(f"malformed line {line!r}: {e}") from None
    return values
