"""Pieces of a trace produced by another thread, a few ahead of their use.

The ordering engine (``iter_generations``) runs in C without the GIL, and
so do the passes that consume its pieces (the summarizer, the profiles):
with the producer in a thread of its own, the next piece is ordered while
this thread works on the last one, and on two cores a pass costs little
more than reading the trace.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def ahead(make: Callable[[], Iterable[T]], depth: int = 4) -> Iterator[T]:
    """The items of the iterable ``make()``, produced by another thread at
    most ``depth`` items ahead of the consumer (so at most ``depth + 2``
    items are alive at once: queued, being consumed, being produced).

    An exception raised by the producer is raised here after the items it
    produced before it, in order.  Closing the iterator early (or an
    exception in the consumer's loop, once the generator is closed) stops
    the producer after its current item and waits for it."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def produce():
        try:
            for item in make():
                if not put((True, item)):
                    return
        except BaseException as e:      # handed to the consumer
            put((False, e))
            return
        put((False, None))

    worker = threading.Thread(target=produce, name="fastrace-pieces", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = q.get()
            if ok:
                yield item
            elif item is None:
                return
            else:
                raise item
    finally:
        stop.set()
        worker.join()
