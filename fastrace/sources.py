"""Input as people have it: from a path, a file object or bytes to trace bytes.

:func:`open_input` is what ``fastrace.read``, ``iter_generations``,
``decode_wire`` and the command line call (through
``fastrace.wire.open_source``) to turn their ``source`` argument into one
read-only byte view of a binary trace:

- a path (``str`` or ``os.PathLike``): memory-mapped, never read as a whole;
- bytes-like objects (``bytes``, ``bytearray``, ``memoryview``, ``mmap``,
  numpy ``uint8`` arrays): used in place;
- an open binary file object: a regular file is memory-mapped from its
  current position to its end; anything else (``io.BytesIO``, a pipe, a
  socket file) is read to its end.  A text-mode file is read through its
  binary ``buffer``.

The bytes may be a binary trace (``go 1.NN trace`` header), a trace in Go's
text format (first line ``Trace Go1.NN``, converted to binary with
:func:`fastrace.rawtext.text_to_wire`), or either of these compressed with
gzip, zstd (needs the ``zstandard`` package, or Python 3.14's
``compression.zstd``), xz or bzip2, recognised by their magic bytes, not by
the file name.  Decompressed and converted traces are held in memory.

Anything else raises :class:`fastrace.TraceFormatError` saying what the
input looks like (an HTML page, JSON, an executable, a pprof profile, an
archive, the text output of ``go tool trace -d=...``, ...) and what to do;
bytes that look like nothing known are left to the decoder, which reports
them as "bad file format: not a Go execution trace".
"""

from __future__ import annotations

import io
import mmap
import os
import stat
import sys

from fastrace import limits
from fastrace.errors import TraceFormatError, TraceTooLargeError

__all__ = ["open_input", "describe", "NOT_A_TRACE"]

NOT_A_TRACE = "bad file format: not a Go execution trace"

# How much of the start of the input is looked at to recognise it.  Enough
# for a tar header (its magic is at offset 257) and a long first text line.
_HEAD = 4096

# Where a Go execution trace comes from; said to everyone who has something else.
_HOW = ("a Go execution trace is the file written by runtime/trace (trace.Start), "
        "`go test -trace=trace.out` or net/http/pprof's /debug/pprof/trace")

_EMPTY = ("empty input: not a Go execution trace (a program writes its trace as it runs "
          "and flushes it in trace.Stop: was it stopped before that?)")


def open_input(source) -> tuple[memoryview, object]:
    """``source`` as a read-only byte view of a binary trace, and the object
    that must stay alive while the view is used (see the module docstring
    for what ``source`` may be)."""
    view, keep = _raw(source)
    return _unwrap(view, keep, ())


# --------------------------------------------------------------------------
# Getting the bytes


def _raw(source) -> tuple[memoryview, object]:
    if isinstance(source, (str, os.PathLike)):
        if os.fspath(source) == "-":
            # The command-line convention for standard input.
            return _from_file_object(sys.stdin.buffer)
        with open(source, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                # A pipe, FIFO or device (/dev/stdin, <(zcat ...)): it cannot
                # be mapped, so it is read to its end into memory.
                return _from_file_object(f)
            return _map_file(f, 0)
    if isinstance(source, mmap.mmap):
        return memoryview(source), source
    if hasattr(source, "read") and not isinstance(source, (bytes, bytearray, memoryview)):
        return _from_file_object(source)
    try:
        view = memoryview(source)
    except TypeError:
        raise TypeError(
            "expected a path, a bytes-like object or a binary file object, "
            f"got {type(source).__name__}") from None
    if not view.c_contiguous:
        raise ValueError("trace buffer must be contiguous")
    if view.ndim != 1 or view.itemsize != 1 or view.format not in ("B", "b", "c"):
        view = view.cast("B")
    return view, source


def _map_file(f, start: int) -> tuple[memoryview, object]:
    """Memory-map the open regular file ``f`` from byte ``start`` on."""
    size = os.fstat(f.fileno()).st_size
    if size <= start:
        return memoryview(b""), None
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mm)
    return (view[start:] if start else view), mm


def _from_file_object(f) -> tuple[memoryview, object]:
    if isinstance(f, io.TextIOBase):
        if getattr(f, "buffer", None) is None:
            raise TypeError("a trace is binary: open the file in binary mode ('rb')")
        f = f.buffer
    # Only plain files are mapped: other objects with a fileno() (a GzipFile,
    # a socket) have bytes that are not those of the descriptor.
    if isinstance(f, (io.BufferedReader, io.FileIO)):
        try:
            st = os.fstat(f.fileno())
            pos = f.tell()
        except (OSError, ValueError):
            st = None
        if st is not None and stat.S_ISREG(st.st_mode):
            out = _map_file(f, pos)
            f.seek(0, os.SEEK_END)   # consumed, as if read
            return out
    def read(n: int) -> bytes:
        block = f.read(n)
        if block is None:
            raise TypeError(f"{type(f).__name__}.read() returned None (a non-blocking file?)")
        return block.encode("utf-8", "surrogateescape") if isinstance(block, str) else block

    name = getattr(f, "name", None)
    data = limits.read_capped(
        read, f"the input read from {name if isinstance(name, str) else type(f).__name__}",
        "save it to a file and pass the file's path: files are memory-mapped, not held "
        "in memory")
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view, data


# --------------------------------------------------------------------------
# Compression


class _Codec:
    """A compression format: its magic bytes, the command that decompresses
    it, and how to decompress all of the input (:meth:`all`, capped by the
    memory available: see fastrace.limits) or only its first ``n`` bytes
    (to recognise what is inside without inflating a large archive that is
    not a trace)."""

    errors: tuple = (OSError, EOFError, ValueError)   # what a broken stream raises

    def __init__(self, name: str, magic: bytes, command: str):
        self.name = name
        self.magic = magic
        self.command = command

    def prefix(self, data: memoryview, n: int) -> bytes:
        raise NotImplementedError

    def reader(self, data: memoryview):
        """A file object giving the decompressed bytes."""
        raise NotImplementedError

    def all(self, data: memoryview) -> bytes:
        try:
            return limits.read_capped(
                self.reader(data).read, f"the {self.name}-decompressed input",
                f"decompress it to a file first ({self.command} FILE) and read that: "
                "files are memory-mapped, not held in memory")
        except TraceTooLargeError:
            raise
        except self.errors as e:
            raise _broken(self.name, e) from None


class _Gzip(_Codec):
    def __init__(self, name, magic, command):
        import zlib

        super().__init__(name, magic, command)
        self.errors = (OSError, EOFError, zlib.error)

    def prefix(self, data, n):
        import zlib

        # wbits 16 + 15: the gzip wrapper; a truncated stream gives what it has.
        try:
            return zlib.decompressobj(31).decompress(data, n)
        except zlib.error as e:
            raise _broken(self.name, e) from None

    def reader(self, data):
        import gzip

        return gzip.GzipFile(fileobj=io.BytesIO(data))   # every member, like gunzip


class _Stdlib(_Codec):
    """bzip2 and xz, whose stdlib decompressors share an interface."""

    def __init__(self, name, magic, command, module):
        super().__init__(name, magic, command)
        self.module = module
        if module == "lzma":
            try:
                import lzma
            except ImportError:
                pass
            else:
                self.errors = self.errors + (lzma.LZMAError,)   # not an OSError

    def _mod(self):
        import importlib

        try:
            return importlib.import_module(self.module)
        except ImportError:
            raise ImportError(f"this input is {self.name}-compressed and this Python lacks its "
                              f"{self.module} module: decompress it first") from None

    def prefix(self, data, n):
        mod = self._mod()
        try:
            d = mod.BZ2Decompressor() if self.module == "bz2" else mod.LZMADecompressor()
            return d.decompress(data, n)
        except self.errors as e:
            raise _broken(self.name, e) from None

    def reader(self, data):
        mod = self._mod()
        f = io.BytesIO(data)
        return mod.BZ2File(f) if self.module == "bz2" else mod.LZMAFile(f)


class _Zstd(_Codec):
    errors = (Exception,)   # zstandard.ZstdError and stdlib ZstdError: no common base

    def _module(self):
        try:
            from compression import zstd   # Python 3.14+

            return "stdlib", zstd
        except ImportError:
            pass
        try:
            import zstandard

            return "zstandard", zstandard
        except ImportError:
            raise ImportError(
                "this input is zstd-compressed: reading it needs the zstandard package: "
                "pip install zstandard (or pip install 'fastrace[zstd]'), or decompress "
                "it first (zstd -d FILE)") from None

    def prefix(self, data, n):
        kind, mod = self._module()
        try:
            if kind == "stdlib":
                return mod.ZstdDecompressor().decompress(data, n)
            with mod.ZstdDecompressor().stream_reader(data, read_across_frames=True) as r:
                return r.read(n)
        except Exception as e:
            raise _broken(self.name, e) from None

    def reader(self, data):
        kind, mod = self._module()
        if kind == "stdlib":
            return mod.ZstdFile(io.BytesIO(data))
        # Frames without a content size (streamed writers) need the reader.
        return mod.ZstdDecompressor().stream_reader(data, read_across_frames=True)


_CODECS = (
    _Gzip("gzip", b"\x1f\x8b", "gunzip -k"),
    _Zstd("zstd", b"\x28\xb5\x2f\xfd", "zstd -d"),
    _Stdlib("xz", b"\xfd7zXZ\x00", "xz -dk", "lzma"),
    _Stdlib("bzip2", b"BZh", "bunzip2 -k", "bz2"),
)


def _broken(name: str, e: Exception) -> TraceFormatError:
    return TraceFormatError(f"{NOT_A_TRACE}: the input is {name}-compressed but does not "
                            f"decompress ({e}): is the file complete?", offset=0)


# --------------------------------------------------------------------------
# Recognising what the bytes are


def _unwrap(view: memoryview, keep, layers: tuple[str, ...]) -> tuple[memoryview, object]:
    head = bytes(view[:_HEAD])
    if head.startswith(b"go 1."):
        return view, keep            # a binary trace header: the decoder takes it from here
    if not head:
        if layers:
            raise TraceFormatError(f"{NOT_A_TRACE}: the input is {_layered(layers)}-compressed "
                                   "and decompresses to nothing", offset=0)
        raise TraceFormatError(_EMPTY, offset=0)
    for codec in _CODECS:
        if head.startswith(codec.magic):
            if len(layers) >= 3:
                break                    # a compression bomb's nesting: stop here
            # Inflate everything only for a trace (or another layer): a
            # large archive of something else is recognised from its start.
            inner = codec.prefix(view, _HEAD)
            if (not inner or inner.startswith(b"go 1.") or _is_text_trace(inner)
                    or any(inner.startswith(c.magic) for c in _CODECS)):
                data = codec.all(view)
                return _unwrap(memoryview(data), data, layers + (codec.name,))
            raise _not_a_trace(inner, layers + (codec.name,))
    if _is_text_trace(head):
        from fastrace import rawtext

        data = rawtext.text_to_wire(bytes(view))
        return memoryview(data), data
    if layers or describe(head) is not None:
        raise _not_a_trace(head, layers)
    return view, keep                    # unknown bytes: the decoder says what is wrong


def _is_text_trace(head: bytes) -> bool:
    if b"Trace" not in head[:_HEAD]:
        return False                     # the cheap common case
    from fastrace import rawtext

    return rawtext.is_text_trace(head)


def _layered(layers: tuple[str, ...]) -> str:
    return "+".join(layers)              # outermost first: "gzip+zstd"


def _not_a_trace(head: bytes, layers: tuple[str, ...]) -> TraceFormatError:
    what = describe(head, compressed=bool(layers))
    if what is None:
        what = ("bytes that are none of the formats fastrace knows (they start with "
                f"{head[:8].hex(' ')})",
                "check that this is the file the program wrote")
    looks, advice = what
    where = f"the input is {_layered(layers)}-compressed; inside is " if layers else "it is "
    return TraceFormatError(f"{NOT_A_TRACE}: {where}{looks}: {advice}", offset=0)


def _text_line(head: bytes) -> str | None:
    """The first line of ``head`` if it reads as text, else None."""
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:      # not just a character cut at the end of the head
            return None
        text = head[:e.start].decode("utf-8")
    if "\n" not in text:
        return None                      # too little to call it a text file
    line = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    return line if line.isprintable() or not line else None


# profile.proto's Profile message: field number -> allowed wire types
# (0 varint, 2 length-delimited).  Go's writers put the fields in
# different orders, so a profile is recognised by its structure.
_PPROF_FIELDS = {1: (2,), 2: (2,), 3: (2,), 4: (2,), 5: (2,), 6: (2,), 7: (0,), 8: (0,),
                 9: (0,), 10: (0,), 11: (2,), 12: (0,), 13: (0, 2), 14: (0,)}


def _varint(b: bytes, i: int) -> tuple[int, int] | None:
    """The varint at ``b[i]`` and the offset after it; None if it is cut or
    too long (the wire decoder's reader)."""
    from fastrace import _varint as wire_varint

    try:
        return wire_varint.uvarint(b, i)
    except ValueError:
        return None


def _looks_like_pprof(head: bytes) -> bool:
    """Whether ``head`` parses as the start of a protobuf Profile message:
    at least three fields (or all of a shorter input), each a field number
    and wire type the message has, with lengths that fit."""
    i = fields = 0
    while i < len(head) and fields < 16:
        tag = _varint(head, i)
        if tag is None:
            break                        # cut at the end of the head
        (t, i) = tag
        if t & 7 not in _PPROF_FIELDS.get(t >> 3, ()):
            return False
        val = _varint(head, i)
        if val is None:
            break
        (v, i) = val
        if t & 7 == 2:
            i += v
        fields += 1
    return fields >= 3


def describe(head: bytes, *, compressed: bool = False) -> tuple[str, str] | None:
    """What the input starting with ``head`` looks like, and what to do
    instead: ``(looks, advice)``; None when it looks like nothing known.
    ``compressed`` says it came out of a decompressor (which makes a
    binary protobuf a likely pprof profile)."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    low = stripped[:64].lower()
    if head.startswith(b"\x7fELF"):
        return ("an ELF executable or library (a program, not a trace it wrote)",
                f"run the program with tracing on; {_HOW}")
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf",
                    b"\xfe\xed\xfa\xce"):
        return ("a Mach-O executable (a program, not a trace it wrote)",
                f"run the program with tracing on; {_HOW}")
    if head.startswith(b"MZ") and b"This program cannot be run in DOS mode" in head:
        return ("a Windows executable (a program, not a trace it wrote)",
                f"run the program with tracing on; {_HOW}")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return ("a zip archive", "extract the trace from it first (unzip)")
    if head[257:262] == b"ustar":
        return ("a tar archive", "extract the trace from it first (tar -xf)")
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff") \
            or head.startswith(b"GIF8"):
        return ("an image", _HOW)
    if head.startswith(b"%PDF"):
        return ("a PDF document", _HOW)
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<script")):
        return ("an HTML page (a web page saved instead of the trace file it links to, "
                "or a page of go tool trace's viewer)",
                "download the trace file itself, e.g. curl -o trace.out "
                "'http://HOST/debug/pprof/trace?seconds=5'")
    if low.startswith(b"<?xml") or low.startswith(b"<svg"):
        return ("an XML or SVG document", _HOW)
    if stripped[:1] in (b"{", b"["):
        if b'"traceEvents"' in head or (b'"ph"' in head and b'"ts"' in head):
            return ("a JSON trace-event file (Chrome/Perfetto format: a trace already "
                    "converted for a viewer)",
                    f"fastrace reads the binary trace it was made from; {_HOW}")
        return ("a JSON document", f"fastrace reads binary Go execution traces; {_HOW}")
    if compressed and _looks_like_pprof(head):
        return ("a pprof profile (go tool pprof reads it)",
                f"a profile is not an execution trace; {_HOW} (not /debug/pprof/profile)")
    line = _text_line(head)
    if line is not None:
        if line.startswith("M=") and " Sync " in line:
            return ("the text that `go tool trace -d=parsed` prints",
                    "pass fastrace the trace file that was given to go tool trace")
        if line.startswith("EventBatch gen="):
            return ("the text that `go tool trace -d=wire` prints (Go's text trace format "
                    "starts with a line 'Trace Go1.NN')",
                    "pass fastrace the trace file that was given to go tool trace")
        if line.startswith("Trace "):
            return (f"a text trace with an unknown header {line[:40]!r}",
                    "Go's text trace format starts with a line 'Trace Go1.NN'")
        return (f"a text file starting {line[:60]!r}", _HOW)
    return None
