"""``read(workers=N)``: ordering generations in parallel threads.

The first generation is ordered as usual while other threads order the
following ones each from an empty state (``_order.new_fresh_state``),
logging every assumption they make about the state they did not have.
Once the generation before is done, :func:`order_parallel` checks the
assumptions against the real state (``_State.merge_fresh``): if they hold,
the run's rows and generation records are merged; if not, that generation
is ordered again, in sequence.  When one generation dominates, threads
cannot pay, and :func:`order_with_prefault` instead backs the output's
memory pages from a helper thread while the ordering runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fastrace import _order, progress
from fastrace.errors import TraceError, TraceFormatError
from fastrace.wire import WireTrace, drop_pages

__all__ = ["row_bound", "order_parallel", "order_with_prefault", "FreshRun", "start_fresh",
           "PARALLEL_STATS"]


@dataclass
class _Run:
    """What ordering one generation in a worker thread gave."""
    outcome: str                       # "done" (the real state), "fresh", "skipped", "error"
    fresh: object = None               # "fresh": the run's _order._State
    rows: int = 0                      # "fresh": rows it wrote
    base: int = 0                      # "fresh": its first row in the real table
    error: BaseException | None = None  # "error": what was raised


def row_bound(piece: WireTrace) -> int:
    """At most how many rows ordering a piece gives: one per byte of event
    data at most (a 2-byte GoDestroySyscall can give two rows), plus CPU
    samples and Sync events."""
    b = piece.batches
    event_bytes = int(b["size"][b["kind"] == 0].sum())
    return event_bytes + len(piece.cpu_samples) + 2 * len(piece.generations) + 2


PARALLEL_STATS = {"merged": 0, "reordered": 0}
"""read(workers=2): generations ordered from an empty state and merged, and
those ordered again in sequence because an assumption did not hold (for
tests and benchmarks)."""


def order_parallel(state, pieces: list, keep, workers: int) -> int:
    """Order intact pieces (one generation each) with ``workers`` threads.

    The first generation is ordered as usual; every later one from an empty
    state (``_order.new_fresh_state``), straight into its final rows: each
    worker first counts its generation's rows (an upper bound), which places
    the next one.  This thread then checks and merges the runs in order
    (``merge_fresh``), ordering a generation again in sequence where an
    assumption of its run does not hold, so the result is that of ordering
    one generation after the other.  Returns how many pieces were ordered
    (the rest, from a broken table on, are left to the caller); errors are
    raised as ordering in sequence raises them.
    """
    # Prepare in order, so that string and stack rows are those of ordering
    # in sequence; a generation whose tables are broken, and all after it,
    # are left to the caller (which reports it after the ones before).
    marks = [state.tables.mark()]
    prepared = []
    for piece in pieces:
        try:
            prep = _order.prepare(piece, state)
        except TraceFormatError:
            break
        if len(prep) != 1:
            break
        prepared.append(prep)
        marks.append(state.tables.mark())
    n = len(prepared)
    state.tables.truncate(marks[n])
    if n < 2:
        return 0
    gen_base = len(state.gens)
    counts: list = [None] * n
    bases: list = [None] * n
    results: list = [None] * n
    bases[0] = state.rows()
    cond = threading.Condition()
    claim = [0]
    stop = [False]

    def place():
        # base of j = base of j-1 + rows counted in j-1 (None: not yet; -1: never)
        for j in range(1, n):
            if bases[j] is None and bases[j - 1] is not None and counts[j - 1] is not None:
                bases[j] = -1 if bases[j - 1] < 0 or counts[j - 1] < 0 else \
                    bases[j - 1] + counts[j - 1]

    def work():
        scratch = _order.new_state(pieces[0].version)
        while True:
            with cond:
                if stop[0] or claim[0] >= n:
                    return
                j = claim[0]
                claim[0] += 1
            try:
                c = (_order.count_generation(scratch, pieces[j], next(iter(prepared[j].values())))
                     if j < n - 1 else 0)
            except BaseException:
                c = -1
            with cond:
                counts[j] = c
                place()
                cond.notify_all()
                while bases[j] is None:
                    cond.wait()
                base = bases[j]
            fresh = None
            try:
                if j == 0:
                    # The real state: on an error its rows are collected
                    # (by read) only once every thread is done.
                    _order.order_trace(pieces[0], state, final=False, take=False,
                                       prepared=prepared[0])
                    result = _Run("done")
                elif base < 0:
                    result = _Run("skipped")    # a malformed event before: ordered in sequence
                else:
                    fresh = _order.new_fresh_state(state, base)
                    fresh.gen_base = gen_base + j
                    _order.order_trace(pieces[j], fresh, final=False, take=False,
                                       prepared=prepared[j])
                    result = _Run("fresh", fresh, fresh.rows(), base)
            except BaseException as e:
                if fresh is not None:
                    fresh.detach()
                result = _Run("error", error=e)
            with cond:
                results[j] = result
                cond.notify_all()

    threads = [threading.Thread(target=work, name=f"fastrace-order-{i}", daemon=True)
               for i in range(min(workers, n))]
    for t in threads:
        t.start()
    j = 0
    try:
        for j in range(n):
            with cond:
                while results[j] is None:
                    cond.wait()
                r = results[j]
            if r.outcome == "error" and j == 0:
                raise r.error
            if r.outcome == "fresh" and state.merge_fresh(r.fresh, r.base):
                _take_rows_of(state, r.fresh, state.rows() - r.rows)
            elif j > 0:
                PARALLEL_STATS["reordered"] += 1
                _order.order_trace(pieces[j], state, final=False, take=False,
                                   prepared=prepared[j])
            drop_pages(keep, pieces[j])
            progress.generation_done(pieces[j])
    except TraceError as e:
        with cond:
            stop[0] = True
        for t in threads:
            t.join()
        for r in results:
            if r is not None and r.outcome == "fresh":
                r.fresh.detach()
        # In sequence the generations after the failing one (j) would not
        # have been read: neither are their strings and stacks in the tables.
        # The caller makes e.partial from the state, now that no thread
        # writes into its table.
        state.tables.truncate(marks[j + 1])
        raise
    finally:
        with cond:
            stop[0] = True
        for t in threads:
            t.join()
    return n


def _take_rows_of(state, fresh, first: int) -> None:
    """After a merge: the fresh run's generation and experimental batch rows
    join ``state``'s, its rows (counted from 0) now starting at row
    ``first`` of the whole trace's table."""
    exp_base = len(state.exp_rows)
    for g in fresh.gens:
        state.gens.append(g._replace(sync_row=g.sync_row + first,
                                     exp_batch_start=g.exp_batch_start + exp_base))
    state.exp_rows.extend(fresh.exp_rows)
    PARALLEL_STATS["merged"] += 1


def order_with_prefault(state, piece: WireTrace) -> None:
    """Order one piece while a helper thread backs the output's pages."""
    state.reserve(row_bound(piece))
    state.arm_prefault()
    helper = threading.Thread(target=state.prefault, name="fastrace-prefault", daemon=True)
    helper.start()
    try:
        _order.order_trace(piece, state, final=False, take=False)
    finally:
        state.stop_prefault()
        helper.join()


class FreshRun:
    """iter_generations(workers=2): the generation after the one being
    ordered, ordered meanwhile from an empty state in a thread of its own,
    into a table of its own.  Once the generation before is done,
    :meth:`merge` checks the run's assumptions against the real state and,
    if they hold, hands its rows over whole; if not, the generation is
    ordered again in sequence from ``prepared``."""

    def __init__(self, state, wire: WireTrace, prepared: dict, mark, gen_base: int):
        self.wire = wire
        self.prepared = prepared          # its inputs (made in order, after the one before)
        self.mark = mark                  # the tables before they were made
        self.error: BaseException | None = None
        self.fresh = _order.new_fresh_state(state)
        self.fresh.gen_base = gen_base
        self.thread = threading.Thread(target=self._run, name="fastrace-fresh", daemon=True)
        self.thread.start()

    def _run(self):
        try:
            _order.order_trace(self.wire, self.fresh, final=False, take=False,
                               prepared=self.prepared)
        except BaseException as e:        # the generation is ordered again in sequence
            self.error = e

    def cancel(self, state) -> None:
        """Forget the run, and what preparing its generation added to the
        tables (the generation before failed: in sequence it would not have
        been read)."""
        self.thread.join()
        self.fresh.detach()
        state.tables.truncate(self.mark)

    def merge(self, state) -> bool:
        """Wait for the run; fold it into ``state`` (whose rows must all have
        been taken) if its assumptions hold.  Returns whether it did."""
        self.thread.join()
        if self.error is not None:
            self.fresh.detach()
            PARALLEL_STATS["reordered"] += 1
            return False
        if not state.take_fresh(self.fresh):
            PARALLEL_STATS["reordered"] += 1
            return False
        _take_rows_of(state, self.fresh, state.taken)
        return True


def _prepare(state, wire: WireTrace):
    """(wire's inputs from _order.prepare, the tables' mark before them);
    None for the inputs, and the tables as they were, when its tables are
    broken (ordering in sequence then reports that in its turn)."""
    mark = state.tables.mark()
    try:
        return _order.prepare(wire, state), mark
    except TraceFormatError:
        state.tables.truncate(mark)
        return None, mark


def start_fresh(state, current: WireTrace, prepared, nxt: WireTrace):
    """Prepare ``current`` (unless ``prepared`` already holds its inputs) and
    then ``nxt``, in that order as in sequence, and start ordering ``nxt``
    in another thread.  Returns (current's inputs or None, the FreshRun or
    None): no run when either is not one whole generation or its tables are
    broken."""
    if prepared is None:
        prepared, _ = _prepare(state, current)
        if prepared is None:
            return None, None
    if len(prepared) != 1:
        return prepared, None
    nxt_prepared, mark = _prepare(state, nxt)
    if nxt_prepared is None:
        return prepared, None
    if len(nxt_prepared) != 1:
        state.tables.truncate(mark)
        return prepared, None
    # current adds one generation row, so nxt's is the one after it.
    return prepared, FreshRun(state, nxt, nxt_prepared, mark, len(state.gens) + 1)
