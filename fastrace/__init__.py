"""fastrace: fast decoding of Go execution traces into numpy arrays."""
from fastrace.errors import (
    TraceError,
    TraceFormatError,
    TraceOrderError,
    TraceTooLargeError,
    TraceWarning,
    UnsupportedVersionError,
    WholeTraceRequiredError,
)
from fastrace.wire import WireTrace, decode_wire
from fastrace.trace import Trace, iter_generations, read
from fastrace.fields import EventView
from fastrace._order import EVENT_DTYPE
from fastrace import kinds, spec, validate

__version__ = "0.1.0"
