"""Perfetto and Chrome JSON exports (fastrace.perfetto, fastrace.chromejson)
on the committed fixtures: the Perfetto file decodes with the perfetto
package's own protos, has one track per goroutine in the state table and
as many running slices per goroutine as t.states() has Running intervals;
the JSON is valid and its event counts equal the tables'."""

from __future__ import annotations

import collections
import glob
import io
import json
import os

import numpy as np
import pytest

import fastrace
from fastrace import chromejson, cli, perfetto

pytestmark = pytest.mark.unit

pb = pytest.importorskip("perfetto.protos.perfetto.trace.perfetto_trace_pb2")

HERE = os.path.dirname(__file__)
FIXTURES = sorted(glob.glob(os.path.join(HERE, "fixtures", "traces", "go1.*", "*.trace")))
IDS = [os.path.relpath(f, os.path.join(HERE, "fixtures", "traces")) for f in FIXTURES]
TE = pb.TrackEvent


@pytest.fixture(scope="module")
def traces():
    return {}


def _read(cache, path):
    if path not in cache:
        cache[path] = fastrace.read(path)
    return cache[path]


def _decode(data: bytes):
    tr = pb.Trace()
    tr.ParseFromString(data)
    return tr


def _resolved(tr):
    """(packet, event name, category, {arg: value}) per TrackEvent, with the
    interned ids resolved the way a reader does: each packet's
    interned_data adds to the sequence's tables, in file order."""
    names, cats, args = {}, {}, {}
    out = []
    for p in tr.packet:
        d = p.interned_data
        names.update((x.iid, x.name) for x in d.event_names)
        cats.update((x.iid, x.name) for x in d.event_categories)
        args.update((x.iid, x.name) for x in d.debug_annotation_names)
        if p.HasField("track_event"):
            e = p.track_event
            assert p.trusted_packet_sequence_id == 1
            out.append((p, names.get(e.name_iid) if e.name_iid else None,
                        cats[e.category_iids[0]] if e.category_iids else None,
                        {args[a.name_iid]: a.int_value for a in e.debug_annotations}))
    return out


def _drawn_start(t, st):
    """Where the viewers draw each interval: as Go's viewer (cmd/trace
    procgen.go), Running and Syscall intervals of goroutines with no earlier
    record (prev_state Undetermined) from the trace's start."""
    back = (st["prev_state"] == 0) & np.isin(st["state"], [3, 5])
    return np.where(back, int(t.events["time"][0]), st["start"])


def _tracks(tr):
    """uuid -> (name, parent name)"""
    d = {p.track_descriptor.uuid: p.track_descriptor for p in tr.packet
         if p.HasField("track_descriptor")}
    return {u: (t.name, d[t.parent_uuid].name if t.parent_uuid in d else None)
            for u, t in d.items()}


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_perfetto_tracks_and_slices(traces, path):
    t = _read(traces, path)
    buf = io.BytesIO()
    n = perfetto.write_perfetto(t, buf)
    tr = _decode(buf.getvalue())
    assert len(tr.packet) == n
    tracks = _tracks(tr)
    st = t.states()

    # One track per goroutine of the state table, named "G<id> ...".
    g_tracks = {u: int(name.split()[0][1:]) for u, (name, parent) in tracks.items()
                if parent == "Goroutines"}
    assert sorted(g_tracks.values()) == np.unique(st["g"]).tolist()
    ran = set(st["g"][st["state"] == 3].tolist())
    assert ran <= set(g_tracks.values())

    # Running slices per goroutine = Running intervals per goroutine, same
    # times, named by the goroutine's function (Go's summary name).
    gs = t.goroutines()
    names = dict(zip(gs["id"].tolist(), gs["name"].tolist()))
    begins = collections.defaultdict(list)
    events = _resolved(tr)
    for p, name, cat, args in events:
        e = p.track_event
        if e.type == TE.TYPE_SLICE_BEGIN:
            begins[(e.track_uuid, cat)].append(p.timestamp)
            if cat == "running":
                g = g_tracks[e.track_uuid]
                assert name == (names[g] or f"G{g}")
    want = collections.Counter(st["g"][st["state"] == 3].tolist())
    got = collections.Counter({g: len(begins.get((u, "running"), ())) for u, g in g_tracks.items()})
    assert +got == +want
    drawn = _drawn_start(t, st)
    for u, g in g_tracks.items():
        k = (st["g"] == g) & (st["state"] == 3)
        assert begins.get((u, "running"), []) == drawn[k].tolist()

    # Procs: running slices per P.
    p_tracks = {u: int(name[1:]) for u, (name, parent) in tracks.items() if parent == "Procs"}
    on_p = st[(st["state"] == 3) & (st["p"] >= 0)]
    assert sorted(p_tracks.values()) == np.unique(on_p["p"]).tolist()
    # One slice per stretch on a P (Running, and through syscalls that kept
    # the P: compared with Go's viewer in test_proc_slices_equal_go_viewer).
    first, _ = perfetto._executions(st, (st["state"] == 3) & (st["p"] >= 0))
    for u, p in p_tracks.items():
        k = first[st["p"][first] == p]
        assert begins[(u, "proc")] == drawn[k].tolist()

    # Ranges, tasks, regions, logs, counters: as many as the tables' rows.
    def count(cat):
        return sum(len(v) for (u, c), v in begins.items() if c == cat)

    assert count("gc") == len(t.ranges())
    tk = t.tasks()
    assert count("task") == int(((tk["start"] >= 0) | (tk["end"] >= 0)).sum())
    assert count("region") == len(t.regions())
    assert count("thread-syscall") == int(((st["state"] == 5) & (st["m"] >= 0)).sum())
    logs = [(p, name) for p, name, _, _ in events if p.track_event.type == TE.TYPE_INSTANT]
    lg = t.logs()
    assert len(logs) == len(lg)
    assert [p.timestamp for p, _ in logs] == lg["time"].tolist()
    assert [n for _, n in logs] == [f"{c}: {m}" if c else m
                                    for c, m in zip(lg["category"], lg["message"])]
    heap_track = [u for u, (name, _) in tracks.items() if name == "Heap (bytes)"]
    heap = t.gc().heap
    if len(heap):
        vals = [p.track_event.counter_value for p in tr.packet
                if p.track_event.type == TE.TYPE_COUNTER and p.track_event.track_uuid ==
                heap_track[0]]
        assert vals == heap["value"].tolist()


@pytest.mark.parametrize("path", FIXTURES[::5], ids=IDS[::5])
def test_perfetto_slices_nest_per_track(traces, path):
    """On every track, begin/end pairs nest: sorted by time (file order on
    ties, as Perfetto's sorter keeps), no end without an open slice, none
    left open."""
    tr = _decode(_bytes(_read(traces, path)))
    evs = collections.defaultdict(list)
    for i, p in enumerate(tr.packet):
        e = p.track_event
        if p.HasField("track_event") and e.type in (TE.TYPE_SLICE_BEGIN, TE.TYPE_SLICE_END):
            evs[e.track_uuid].append((p.timestamp, i, e.type))
    assert evs
    for track, items in evs.items():
        depth = 0
        for _, _, kind in sorted(items):
            depth += 1 if kind == TE.TYPE_SLICE_BEGIN else -1
            assert depth >= 0, track
        assert depth == 0, track


def _bytes(t) -> bytes:
    b = io.BytesIO()
    perfetto.write_perfetto(t, b)
    return b.getvalue()


class _Writes(io.BytesIO):
    def __init__(self):
        super().__init__()
        self.sizes = []

    def write(self, b):
        self.sizes.append(len(b))
        return super().write(b)


def test_perfetto_written_in_chunks(traces, monkeypatch):
    """Packets go out CHUNK at a time: the same bytes as in one piece,
    written in many writes none holding more than CHUNK packets."""
    t = _read(traces, os.path.join(HERE, "fixtures", "traces", "go1.27", "sched.trace"))
    whole = _bytes(t)
    monkeypatch.setattr(perfetto, "CHUNK", 100)
    w = _Writes()
    n = perfetto.write_perfetto(t, w)
    assert w.getvalue() == whole
    assert len(w.sizes) == -(-n // 100) > 10
    off = 0
    for size in w.sizes:
        assert len(_decode(w.getvalue()[off:off + size]).packet) <= 100
        off += size


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_chrome_json_counts(traces, path):
    t = _read(traces, path)
    buf = io.StringIO()
    n = chromejson.write_chrome_json(t, buf)
    doc = json.loads(buf.getvalue())
    ev = doc["traceEvents"]
    assert len(ev) == n
    assert doc["displayTimeUnit"] == "ns"
    st = t.states()
    by = collections.Counter((e["ph"], e.get("cat")) for e in ev)
    assert by[("X", "running")] == int((st["state"] == 3).sum())
    assert by[("X", "runnable")] == int((st["state"] == 2).sum())
    assert by[("X", "waiting")] == int((st["state"] == 4).sum())
    assert by[("X", "syscall")] == int((st["state"] == 5).sum())
    first, _ = perfetto._executions(st, (st["state"] == 3) & (st["p"] >= 0))
    assert by[("X", "proc")] == len(first)
    assert by[("X", "gc")] == len(t.ranges())
    assert by[("X", "region")] == len(t.regions())
    assert by[("i", "log")] == len(t.logs())
    gc = t.gc()
    counters = collections.Counter(e["name"] for e in ev if e["ph"] == "C")
    assert counters.get("Heap (bytes)", 0) == len(gc.heap)
    assert counters.get("Heap goal (bytes)", 0) == len(gc.heap_goal)

    # Every slice's thread is named; goroutine threads are "G<id> ...".
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "thread_name"}
    running = collections.Counter()
    t0 = int(t.events["time"][0])
    starts = collections.defaultdict(list)
    for e in ev:
        if e["ph"] in "Xi":
            assert (e["pid"], e["tid"]) in names
        if e["ph"] == "X" and e["cat"] == "running":
            g = int(names[(e["pid"], e["tid"])].split()[0][1:])
            running[g] += 1
            starts[g].append(round(e["ts"] * 1000) + t0)
    assert running == collections.Counter(st["g"][st["state"] == 3].tolist())
    drawn = _drawn_start(t, st)
    for g, s in starts.items():
        assert s == drawn[(st["g"] == g) & (st["state"] == 3)].tolist()


def test_cli_export_perfetto_and_chrome_json(tmp_path, capsys):
    src = os.path.join(HERE, "fixtures", "traces", "go1.27", "annotations.trace")
    t = fastrace.read(src)
    out = tmp_path / "a.pftrace"
    assert cli.main(["export", src, "--format", "perfetto", "-o", str(out)]) == 0
    assert out.read_bytes() == _bytes(t)
    js = tmp_path / "a.json"
    assert cli.main(["export", src, "--format", "chrome-json", "-o", str(js)]) == 0
    assert len(json.loads(js.read_text())["traceEvents"]) > 100
    printed = capsys.readouterr().out
    assert "a.pftrace" in printed and "a.json" in printed


# --- Go's own trace viewer in headless Chromium -------------------------------
# The page below is ours: it loads the viewer shipped in the Go toolchain
# (static/ of internal/trace/traceviewer, copied from the installed GOROOT at
# test time, never committed), imports the JSON file named in the URL's
# query, and reports what the viewer's model holds in document.title.

VIEWER_PAGE = """<html><head>
<script src="webcomponents.min.js"></script>
<link rel="import" href="trace_viewer_full.html">
<style>html,body{margin:0;width:100%;height:100%;overflow:hidden}#v{width:100%;height:100%}</style>
<script>
'use strict';
function report(text) { document.title = text; }
window.addEventListener('error', function(e) { report('error: ' + e.message); });
document.addEventListener('WebComponentsReady', function() {
  var view = document.createElement('tr-ui-timeline-view');
  var tracks = document.createElement('track-view-container');
  tracks.id = 'track_view_container';
  view.track_view_container = tracks;
  Polymer.dom(view).appendChild(tracks);
  view.id = 'v';
  view.globalMode = true;
  Polymer.dom(document.body).appendChild(view);
  var req = new XMLHttpRequest();
  req.open('GET', window.location.search.substr(1), true);
  req.onload = function() {
    var model = new tr.Model();
    var opts = new tr.importer.ImportOptions();
    opts.shiftWorldToZero = false;
    try {
      new tr.importer.Import(model, opts).importTraces([req.responseText]);
    } catch (err) {
      report('error: ' + tr.b.normalizeException(err).message);
      return;
    }
    view.model = model;
    var out = {slices: 0, threads: 0, counters: 0};
    model.getAllThreads().forEach(function(t) {
      out.threads++;
      out.slices += t.sliceGroup.slices.length;
    });
    model.getAllProcesses().forEach(function(p) {
      for (var k in p.counters) out.counters += p.counters[k].series[0].samples.length;
    });
    out.warnings = model.importWarnings.map(function(w) { return w.message; });
    report('loaded ' + JSON.stringify(out));
  };
  req.send(null);
});
</script></head><body></body></html>
"""


def _chromium():
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def viewer_dir(dest) -> str:
    """Go's trace viewer from the installed reference toolchain, plus our
    page, in directory ``dest``; skips when the toolchain lacks it."""
    import shutil

    from tests import gotool

    static = gotool.go_root(gotool.REFERENCE) / "src" / "internal" / "trace" / "traceviewer" / \
        "static"
    if not (static / "trace_viewer_full.html").exists():
        pytest.skip(f"no Go trace viewer in {static}")
    for name in ("trace_viewer_full.html", "webcomponents.min.js"):
        shutil.copy(static / name, dest / name)
    (dest / "view.html").write_text(VIEWER_PAGE)
    return str(dest)


def serve(directory):
    """A local HTTP server for ``directory`` (the viewer loads its parts with
    XMLHttpRequest, which file:// URLs refuse): (server, base URL)."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=directory))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def run_chromium(url: str, *extra: str) -> str:
    import subprocess

    chrome = _chromium()
    # The browser is a tool here, not code under test: without the
    # sanitizer runtimes tests/sanitize.sh preloads into its processes.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    r = subprocess.run([chrome, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--virtual-time-budget=60000", *extra, url],
                       capture_output=True, text=True, timeout=120, env=env)
    return r.stdout


@pytest.mark.slow
@pytest.mark.live
@pytest.mark.skipif(_chromium() is None, reason="needs Chromium (apt-get install chromium)")
def test_chrome_json_loads_in_go_trace_viewer(tmp_path, traces):
    import re

    srv, base = serve(viewer_dir(tmp_path))
    try:
        for name in ("go1.27/sched", "go1.22/annotations", "go1.25/gcalloc"):
            t = _read(traces, os.path.join(HERE, "fixtures", "traces", f"{name}.trace"))
            out = tmp_path / (name.replace("/", "-") + ".json")
            chromejson.write_chrome_json(t, out)
            ev = json.loads(out.read_text())["traceEvents"]
            dom = run_chromium(f"{base}/view.html?{out.name}", "--dump-dom")
            m = re.search(r"<title>loaded (\{.*?\})</title>", dom)
            assert m, re.search(r"<title>.*?</title>", dom)
            got = json.loads(m.group(1).replace("&quot;", '"'))
            assert got["warnings"] == []
            assert got["slices"] == sum(e["ph"] in "Xi" for e in ev)
            assert got["counters"] == sum(e["ph"] == "C" for e in ev)
            # Counter tracks are the process's counters, not threads.
            counters = perfetto.GROUPS.index("Counters")
            assert got["threads"] == sum(e["ph"] == "M" and e["name"] == "thread_name"
                                         and e["pid"] != counters for e in ev)
    finally:
        srv.shutdown()


# --- Against Go's own viewer data --------------------------------------------
# `go tool trace` (the reference toolchain) serves the JSON its viewer loads
# at /jsontrace; its proc view has one slice per goroutine execution on a P.
# fastrace's Procs tracks must hold the same slices: same goroutine, P,
# start and duration.

GO_VIEWER_TRACES = ["go1.22/sched", "go1.23/cgo", "go1.25/syscalls", "go1.26/procs",
                    "go1.27/sched", "go1.27/gcalloc", "go1.27/flight"]


def go_viewer_json(path: str) -> dict:
    import signal
    import socket
    import subprocess
    import time
    import urllib.request

    from tests import gotool

    go = gotool.ensure_go(gotool.REFERENCE)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(gotool.go_env(gotool.REFERENCE), BROWSER="true")
    # In a process group of its own: `go tool trace` runs the trace tool as a
    # child, which killing the go command alone left serving after the test.
    proc = subprocess.Popen([str(go), "tool", "trace", f"-http=127.0.0.1:{port}", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/jsontrace") as r:
                    return json.loads(r.read())
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.live
@pytest.mark.parametrize("name", GO_VIEWER_TRACES)
def test_proc_slices_equal_go_viewer(traces, name):
    import re

    path = os.path.join(HERE, "fixtures", "traces", f"{name}.trace")
    go = go_viewer_json(path)["traceEvents"]
    want = collections.Counter()
    for e in go:
        m = re.match(r"G(\d+)\b", e.get("name", ""))
        if e["ph"] == "X" and e["pid"] == 0 and m:
            want[(int(m.group(1)), e["tid"], round(e["ts"] * 1000),
                  round(e["dur"] * 1000))] += 1
    assert want

    t = _read(traces, path)
    buf = io.StringIO()
    chromejson.write_chrome_json(t, buf)
    ev = json.loads(buf.getvalue())["traceEvents"]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "thread_name"}
    got = collections.Counter()
    for e in ev:
        if e["ph"] == "X" and e["cat"] == "proc":
            p = int(names[(e["pid"], e["tid"])][1:])
            got[(e["args"]["g"], p, round(e["ts"] * 1000), round(e["dur"] * 1000))] += 1
    # One known difference: when a system call blocks, Go's slice goes on
    # until the P is taken from the goroutine (ProcSteal) and shows the
    # syscall inside it; fastrace's ends where the syscall begins.  Those
    # slices must agree in all but the end.
    st = t.states()
    t0 = int(t.events["time"][0])
    syscall_starts = set(zip(st["g"][st["state"] == 5].tolist(),
                             (st["start"][st["state"] == 5] - t0).tolist()))
    extra, missing = got - want, want - got
    for (g, p, ts, dur), n in extra.items():
        assert (g, ts + dur) in syscall_starts, (g, p, ts, dur)
        longer = [k for k in missing if k[:3] == (g, p, ts) and k[3] > dur]
        assert longer, (g, p, ts, dur)
        missing[longer[0]] -= n
    assert +missing == collections.Counter()
