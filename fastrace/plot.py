"""Pictures of a trace with matplotlib (``pip install 'fastrace[plot]'``).

``Trace.plot`` is a :class:`Plotter`; each method draws on ``ax`` (a new
figure when None) and returns the matplotlib Axes:

- :meth:`Plotter.timeline`: one row per P with the goroutines running on
  it (``t.states()``, Running), colour by goroutine function, and rows for
  the GC mark phases and stop-the-world pauses (``t.ranges()``).
- :meth:`Plotter.heap`: live heap and heap goal over time (``t.gc()``),
  GC mark phases shaded.
- :meth:`Plotter.mmu`: Go's minimum mutator utilisation curve
  (``t.mmu()``) over windows from 1 µs to the trace's length.
- :meth:`Plotter.goroutines`: how many goroutines are Running, Runnable,
  Waiting and in Syscall over time (from ``t.states()``).
- :meth:`Plotter.live_heap`: live heap by type, from the AllocFree
  experiment (``GODEBUG=traceallocfree=1``).

Times on the x axes are ms from the trace's first event.  :func:`html_summary`
is ``Trace._repr_html_``: the trace's facts as a small HTML table.
"""

from __future__ import annotations

import importlib

import numpy as np

from fastrace.kinds import GoState

__all__ = ["Plotter", "plot", "KINDS", "html_summary"]

KINDS = ("timeline", "heap", "mmu", "goroutines", "live_heap")
"""What ``fastrace plot TRACE KIND`` draws."""


def _plt():
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        raise ImportError("matplotlib is needed for plots: pip install 'fastrace[plot]'") from None
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize=(10, 4)):
    if ax is not None:
        return ax
    _, ax = _plt().subplots(figsize=figsize)
    return ax


def _ms(ns, t0: int) -> np.ndarray:
    return (np.asarray(ns, dtype=np.int64) - t0) / 1e6


class Plotter:
    """The plots of one trace (``Trace.plot``); see the module docstring."""

    def __init__(self, trace):
        self._t = trace

    def _t0(self) -> int:
        ev = self._t.events
        return int(ev["time"][0]) if len(ev) else 0

    def _t1(self) -> int:
        ev = self._t.events
        return int(ev["time"][-1]) if len(ev) else 0

    def timeline(self, start: int | None = None, end: int | None = None, *, ax=None):
        """Gantt chart of the Ps between ``start`` and ``end`` (ns on the
        trace clock; default the whole trace).  Row "P n" holds one bar per
        Running interval on P n (one ``broken_barh`` collection per row,
        its bars in ``get_paths()``), coloured by the goroutine's function;
        rows "GC" and "STW" the GC mark phases and stop-the-world pauses.
        Bars are cut to the window."""
        t = self._t
        ax = _axes(ax, (12, 4))
        t0 = self._t0()
        lo = t0 if start is None else int(start)
        hi = self._t1() if end is None else int(end)
        st = t.states(state=GoState.RUNNING)
        st = st[(st["p"] >= 0) & (st["end"] >= lo) & (st["start"] <= hi)]
        names = dict(zip(t.goroutines()["id"].tolist(), t.goroutines()["name"].tolist()))
        funcs = sorted({names.get(g, "") for g in np.unique(st["g"]).tolist()})
        cmap = _plt().get_cmap("tab20")
        colour = {f: cmap(i % 20) for i, f in enumerate(funcs)}
        rows = []
        rg = t.ranges()
        rg = rg[(rg["end"] >= lo) & (rg["start"] <= hi)]
        gc_rows = (("STW", rg[np.char.startswith(rg["name"].astype(str), "stop-the-world")]),
                   ("GC", rg[rg["name"] == "GC concurrent mark phase"]))
        y = 0
        for label, r in gc_rows:
            if len(r):
                s, e = np.maximum(r["start"], lo), np.minimum(r["end"], hi)
                ax.broken_barh(list(zip(_ms(s, t0), (e - s) / 1e6)), (y, 0.8),
                               facecolors="tab:red" if label == "STW" else "tab:orange")
                rows.append(label)
                y += 1
        for p in np.unique(st["p"]).tolist()[::-1]:
            r = st[st["p"] == p]
            s, e = np.maximum(r["start"], lo), np.minimum(r["end"], hi)
            ax.broken_barh(list(zip(_ms(s, t0), (e - s) / 1e6)), (y, 0.8),
                           facecolors=[colour[names.get(g, "")] for g in r["g"].tolist()])
            rows.append(f"P{p}")
            y += 1
        ax.set_yticks(np.arange(len(rows)) + 0.4, rows)
        ax.set_ylim(-0.2, max(len(rows), 1))
        ax.set_xlim((lo - t0) / 1e6, (hi - t0) / 1e6)
        ax.set_xlabel("ms from the trace's start")
        ax.set_title("Goroutines on Ps")
        if funcs:
            from matplotlib.patches import Patch

            top = funcs[:12]
            ax.legend([Patch(color=colour[f]) for f in top], [f or "(unnamed)" for f in top],
                      loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small",
                      title="goroutine function" + (f" (12 of {len(funcs)})"
                                                    if len(funcs) > 12 else ""))
        return ax

    def heap(self, *, ax=None):
        """Live heap (line "heap") and heap goal (line "heap goal") in MB
        over time, as steps, one point per metric event of ``t.gc()``;
        GC mark phases shaded."""
        g = self._t.gc()
        ax = _axes(ax)
        t0 = self._t0()
        for label, table in (("heap", g.heap), ("heap goal", g.heap_goal)):
            if len(table):
                ax.step(_ms(table["time"], t0), table["value"] / 1e6, where="post", label=label)
        for c in g.cycles.tolist():
            ax.axvspan((c[0] - t0) / 1e6, (c[1] - t0) / 1e6, color="tab:orange", alpha=0.2,
                       lw=0)
        ax.set_xlabel("ms from the trace's start")
        ax.set_ylabel("MB")
        ax.set_title(f"Heap ({len(g.cycles)} GC cycles shaded)")
        ax.legend(loc="upper left")
        return ax

    def mmu(self, windows=None, *, ax=None, **flags):
        """Go's minimum mutator utilisation for ``windows`` (ns; default 50
        log-spaced from 1 µs to the trace's length): one line, x = window
        (log scale, seconds), y = MMU.  ``flags`` as in ``Trace.mmu``."""
        t = self._t
        ax = _axes(ax)
        if windows is None:
            span = max(self._t1() - self._t0(), 1000)
            windows = np.unique(np.logspace(3, np.log10(span), 50).astype(np.int64))
        windows = np.asarray(windows, dtype=np.int64)
        values = t.mmu(windows, **flags)
        ax.plot(windows / 1e9, values, label="MMU")
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("window (s)")
        ax.set_ylabel("minimum mutator utilisation")
        ax.set_title("MMU")
        return ax

    def goroutines(self, *, ax=None):
        """How many goroutines are in each state over time: one step line
        per state (Running, Runnable, Waiting, Syscall) that occurs, from
        ``fastrace.perfetto.state_counts``."""
        from fastrace.perfetto import COUNTED_STATES, state_counts

        st = self._t.states()
        ax = _axes(ax)
        t0 = self._t0()
        for s in COUNTED_STATES:
            x, c = state_counts(st, s)
            if len(x):
                ax.step(_ms(x, t0), c, where="post", label=str(s))
        ax.set_xlabel("ms from the trace's start")
        ax.set_ylabel("goroutines")
        ax.set_title("Goroutines by state")
        ax.legend(loc="upper left")
        return ax

    def live_heap(self, top: int = 5, *, ax=None):
        """Live heap bytes of the ``top`` types with the most bytes
        allocated, over time, from the AllocFree experiment (one step line
        per type with objects, MB, its last value held to the trace's end);
        needs a trace written with
        ``GODEBUG=traceallocfree=1`` (Go 1.23+)."""
        af = self._t.experiment("AllocFree")
        ax = _axes(ax)
        curve = af.live_heap(by_type=True)
        tops = af.top_types(top)
        t0 = self._t0()
        for row, name in zip(tops["type"].tolist(), tops["name"].tolist()):
            c = curve[curve["type"] == row]
            if len(c):      # held to the trace's end after the last change
                x = np.r_[c["time"], max(self._t1(), int(c["time"][-1]))]
                ax.step(_ms(x, t0), np.r_[c["bytes"], c["bytes"][-1]] / 1e6, where="post",
                        label=name)
        ax.set_xlabel("ms from the trace's start")
        ax.set_ylabel("MB live")
        ax.set_title(f"Live heap by type (top {top} by bytes allocated)")
        ax.legend(loc="upper left", fontsize="small")
        return ax


def plot(trace, kind: str, output: str, *, dpi: int = 120) -> None:
    """Draw ``kind`` (one of :data:`KINDS`) for ``trace`` into the image
    file ``output`` (format from its extension, e.g. .png, .svg, .pdf) with
    matplotlib's Agg backend (``fastrace plot``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown plot {kind!r}; one of {', '.join(KINDS)}")
    _plt()
    import matplotlib

    matplotlib.use("Agg")
    ax = getattr(Plotter(trace), kind)()
    fig = ax.figure
    fig.tight_layout()
    fig.savefig(output, dpi=dpi)
    _plt().close(fig)


def html_summary(trace) -> str:
    """``Trace._repr_html_``: the facts of ``fastrace info``
    (:func:`fastrace.info.overview_of`) as an HTML table."""
    from fastrace.info import format_ns as _fmt_ns, overview_of

    o = overview_of(trace, repr(trace))
    rows = [("format", f"{o['format']}, written by {o['go']}")]
    if o["wall_clock_start"]:
        rows.append(("started", o["wall_clock_start"]))
    rows.append(("duration", f"{_fmt_ns(o['duration_ns'])} ({o['events']:,} events, "
                             f"{o['generations']} generations)"))
    if o["goroutines"] is not None:
        top = o["top_block_reasons"]
        rows += [
            ("goroutines", f"{o['goroutines']:,}"),
            ("GOMAXPROCS", str(o["max_procs"]) if o["max_procs"] is not None else "unknown"),
            ("GC", f"{o['gc_cycles']} cycles; stop-the-world {o['stw_pauses']} pauses, "
                   f"{_fmt_ns(o['stw_total_ns'])} in all"),
            ("blocked on", ", ".join(f"{r or '(no reason)'} {_fmt_ns(ns)}" for r, ns in top.items())
             or "nothing"),
        ]
    rows.append(("experiments", ", ".join(o["experiments"]) or "none"))
    import html     # here: every start of the command imports this module (for KINDS)

    body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                   f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table><caption>{html.escape(repr(trace))}</caption>{body}</table>"
