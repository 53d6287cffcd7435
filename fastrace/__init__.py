"""fastrace: fast decoding of Go execution traces into numpy arrays."""
from fastrace.errors import (
    TraceError,
    TraceFormatError,
    TraceOrderError,
    UnsupportedVersionError,
)
from fastrace.wire import WireTrace, decode_wire

__version__ = "0.1.0"
