"""Progress of long reads: how far into its input a reader has got.

The readers (``read``, ``iter_generations``, ``read(workers=N)``) report
each generation they finish to the sink installed with :func:`reporting`
(none by default: nothing is done).  The command line installs a progress
bar on stderr when stderr is a terminal (:func:`terminal_bar`, with tqdm
when it is installed: ``pip install 'fastrace[progress]'``).  A generation
covers about a second of tracing, so the bar moves in steps of that size.
One sink for the whole process: meant for a program's main work, as the CLI
uses it, not for libraries that read traces from several threads.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Callable, Iterator

__all__ = ["reporting", "generation_done", "terminal_bar"]

Sink = Callable[[int, int], None]     # (bytes done, bytes in the input)
_sink: Sink | None = None


@contextlib.contextmanager
def reporting(sink: Sink | None) -> Iterator[None]:
    """Report finished generations to ``sink(done, total)`` (bytes of the
    input) while the block runs."""
    global _sink
    old, _sink = _sink, sink
    try:
        yield
    finally:
        _sink = old


def generation_done(piece) -> None:
    """Called by the readers when they finish the generation(s) of ``piece``
    (a WireTrace whose offsets are into the whole input)."""
    sink = _sink
    if sink is not None and len(piece.generations):
        sink(int(piece.generations["end"][-1]), len(piece.buffer))


def terminal_bar(label: str, *, delay: float = 1.0) -> Sink | None:
    """A sink drawing a progress bar on stderr, shown only for work that
    lasts more than ``delay`` seconds; None when stderr is not a terminal
    or tqdm is not installed."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    start = time.monotonic()
    bar = None

    def sink(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            if time.monotonic() - start < delay:
                return
            bar = tqdm(total=total, desc=label, unit="B", unit_scale=True, leave=False,
                       file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return sink
