"""fastrace: fast decoding of Go execution traces into numpy arrays."""
import os as _os
import sys as _sys


def _is_command() -> bool:
    """Whether this process is the ``fastrace`` command (the console script
    or ``python -m fastrace``), judged from the command line as typed."""
    argv = getattr(_sys, "orig_argv", None) or []
    if len(argv) > 1 and _os.path.basename(argv[1]) == "fastrace":
        return True
    return any(a == "-m" and b in ("fastrace", "fastrace.cli") for a, b in zip(argv, argv[1:]))


# numpy's OpenBLAS starts a worker thread per core when numpy is imported,
# and each spins for about 0.1 s of CPU before it sleeps.  The command never
# calls BLAS, and its own threads (ordering ahead, in parallel) want both
# cores from the start, so it keeps OpenBLAS to one thread unless the user
# chose otherwise.  This must happen before numpy loads; an importing
# program is left alone.
if _is_command() and "numpy" not in _sys.modules:
    _os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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
