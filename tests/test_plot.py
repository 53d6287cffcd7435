"""Plots (fastrace.plot) rendered to PNG with matplotlib's Agg backend on
the committed fixtures: each file is a real, non-blank PNG, and what was
drawn equals the tables it comes from (bars per P = Running intervals on
it, heap line points = heap metric events, MMU line = t.mmu(), state
counts = intervals open at each time)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import fastrace
from fastrace import cli, plot

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

pytestmark = pytest.mark.unit

HERE = os.path.dirname(__file__)
FIX = os.path.join(HERE, "fixtures", "traces")
PNG = b"\x89PNG\r\n\x1a\n"


def _trace(version: str, name: str):
    return fastrace.read(os.path.join(FIX, version, f"{name}.trace"))


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _save(ax, path) -> None:
    ax.figure.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB"))
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 20      # not blank


@pytest.mark.parametrize("version", ["go1.22", "go1.27"])
def test_timeline(tmp_path, version):
    t = _trace(version, "gcalloc")
    ev = t.events["time"]
    lo, hi = int(ev[0] + (ev[-1] - ev[0]) // 4), int(ev[-1] - (ev[-1] - ev[0]) // 4)
    ax = t.plot.timeline(lo, hi)
    _save(ax, tmp_path / "timeline.png")
    st = t.states(state="Running")
    st = st[(st["p"] >= 0) & (st["end"] >= lo) & (st["start"] <= hi)]
    labels = [x.get_text() for x in ax.get_yticklabels()]
    ps = [f"P{p}" for p in np.unique(st["p"]).tolist()[::-1]]
    rg = t.ranges()
    rg = rg[(rg["end"] >= lo) & (rg["start"] <= hi)]
    stw = rg[[n.startswith("stop-the-world") for n in rg["name"]]]
    mark = rg[rg["name"] == "GC concurrent mark phase"]
    gc_rows = [lab for lab, r in (("STW", stw), ("GC", mark)) if len(r)]
    assert labels == gc_rows + ps
    cols = ax.collections
    assert len(cols) == len(labels)
    for col, lab in zip(cols, labels):
        want = {"STW": len(stw), "GC": len(mark)}.get(lab)
        if want is None:
            want = int((st["p"] == int(lab[1:])).sum())
        assert len(col.get_paths()) == want, lab


def test_heap(tmp_path):
    t = _trace("go1.27", "gcalloc")
    ax = t.plot.heap()
    _save(ax, tmp_path / "heap.png")
    g = t.gc()
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"heap", "heap goal"}
    assert np.allclose(lines["heap"].get_ydata(), g.heap["value"] / 1e6)
    assert np.allclose(lines["heap goal"].get_ydata(), g.heap_goal["value"] / 1e6)
    assert len(ax.patches) == len(g.cycles)


def test_mmu(tmp_path):
    t = _trace("go1.27", "gcalloc")
    ax = t.plot.mmu()
    _save(ax, tmp_path / "mmu.png")
    (line,) = ax.get_lines()
    w = np.round(line.get_xdata() * 1e9).astype(np.int64)
    assert len(w) > 20
    assert np.array_equal(line.get_ydata(), t.mmu(w))


@pytest.mark.parametrize("name", ["sched", "syscalls"])
def test_goroutines(tmp_path, name):
    t = _trace("go1.27", name)
    ax = t.plot.goroutines()
    _save(ax, tmp_path / "goroutines.png")
    st = t.states()
    t0 = int(t.events["time"][0])
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    present = {str(fastrace.kinds.GoState(s)) for s in np.unique(st["state"]).tolist()}
    assert set(lines) == present
    for label, ln in lines.items():
        code = int(getattr(fastrace.kinds.GoState, label.upper()))
        s = st[st["state"] == code]
        # At each step, the count of intervals open there (start <= x < end).
        x = np.round(ln.get_xdata() * 1e6).astype(np.int64) + t0
        y = ln.get_ydata()
        for xi, yi in list(zip(x.tolist(), y.tolist()))[::7]:
            assert yi == int(((s["start"] <= xi) & (s["end"] > xi)).sum())


def test_live_heap(tmp_path):
    t = _trace("go1.27", "allocfree")
    ax = t.plot.live_heap(top=3)
    _save(ax, tmp_path / "live.png")
    af = t.experiment("AllocFree")
    top = af.top_types(3)
    assert [ln.get_label() for ln in ax.get_lines()] == top["name"].tolist()
    curve = af.live_heap(by_type=True)
    for ln, ty in zip(ax.get_lines(), top["type"].tolist()):
        assert np.allclose(ln.get_ydata()[:-1], curve["bytes"][curve["type"] == ty] / 1e6)


@pytest.mark.parametrize("kind", plot.KINDS)
def test_cli_plot(tmp_path, kind, capsys):
    name = "allocfree" if kind == "live_heap" else "gcalloc"
    out = tmp_path / f"{kind}.png"
    src = os.path.join(FIX, "go1.27", f"{name}.trace")
    assert cli.main(["plot", src, kind, "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 5000
    assert str(out) in capsys.readouterr().out


def test_repr_html():
    from fastrace.info import overview

    path = os.path.join(FIX, "go1.27", "gcalloc.trace")
    o = overview(path, "x")
    h = _trace("go1.27", "gcalloc")._repr_html_()
    assert h.startswith("<table>")
    assert f"<td style='text-align:left'>{o['goroutines']}</td>" in h
    assert f"{o['gc_cycles']} cycles; stop-the-world {o['stw_pauses']} pauses" in h
    assert o["wall_clock_start"] in h
