# cython: language_level=3
"""Stage 3: analyses of the ordered event table, in C.

Each concern is one included source file, all compiled into this one
extension module (as msgpack and asyncpg split theirs):

- ``_summary.pxi``: Go's goroutine and user-task summaries
  (``internal/trace/summary.go``); ``_summary_rows.pxi`` and
  ``_summary_text.pxi`` write them as tables, JSON and text.
- ``_gcutil.pxi``: ranges, GC cycles and mutator utilisation
  (``internal/trace/gc.go``).
- ``_states.pxi``: goroutine state intervals and the latency profiles of
  ``cmd/trace/pprof.go``.
- ``_validate.pxi``: the validator's per-row checks (``fastrace.validate``).
- ``_columns.pxi``: ``pack_columns``, which writes a Python-level pass's
  columns into a wide structured table row by row (the experiment
  interpreters' tables).
- ``_lives.pxi``: ``pair_lives``, the starts and frees of the AllocFree
  experiment's slots, spans and stacks matched in one pass.

Every pass reads the rows of ``Trace.events`` (``TraceEventRec`` in
``_order.pxd``) with the GIL released and returns numpy structured arrays
whose dtypes are derived from structs in ``_analysis.pxd``.  The Python
layer over them is ``fastrace.analysis``.
"""

cimport numpy as cnp

# The enums every stage shares: trace statuses (GS_*, PS_*), GoStateC (G_*),
# ProcStateC (P_*), KindC (K_*) and the wire types (Ev*), checked against
# fastrace.kinds and fastrace.spec when fastrace._order is imported.
from fastrace._order cimport *

cnp.import_array()

include "_summary.pxi"
include "_summary_rows.pxi"
include "_summary_text.pxi"
include "_gcutil.pxi"
include "_mmu.pxi"
include "_states.pxi"
include "_validate.pxi"
include "_columns.pxi"
include "_lives.pxi"
