"""The compiled core must really be the compiled core."""

import importlib.machinery

import pytest

import fastrace
import fastrace._varint as _varint

pytestmark = pytest.mark.unit


def test_extension_is_compiled():
    # A pure-Python fallback or a stale source tree would not end in an
    # extension suffix.
    assert any(_varint.__file__.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)


def test_errors_are_value_errors():
    for cls in (fastrace.TraceError, fastrace.TraceFormatError,
                fastrace.TraceOrderError, fastrace.UnsupportedVersionError):
        assert issubclass(cls, ValueError)
        assert issubclass(cls, fastrace.TraceError)


def test_error_carries_location():
    e = fastrace.TraceFormatError("bad thing", offset=12, generation=3, batch=4, event=5)
    assert (e.offset, e.generation, e.batch, e.event) == (12, 3, 4, 5)
    assert str(e) == "bad thing (at offset 12, generation 3, batch 4, event 5)"
    import pickle
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is fastrace.TraceFormatError and e2.batch == 4 and str(e2) == str(e)


@pytest.mark.parametrize("argv, expected", [
    (["python", "-m", "fastrace", "pprof"], "1"),              # python -m fastrace
    (["python", "-X", "importtime", "-m", "fastrace"], "1"),
    (["python", "/venv/bin/fastrace", "goroutines"], "1"),     # the console script
    (["python", "-c", "import fastrace"], None),               # a program importing it
    (["python", "notebook.py"], None),
])
def test_command_keeps_openblas_to_one_thread(argv, expected):
    # The command never calls BLAS; OpenBLAS's worker threads would spin on
    # the second core while the ordering wants it.  Importing programs are
    # left alone.  Checked in a fresh interpreter, as it acts before numpy loads.
    import os
    import subprocess
    import sys
    code = (f"import sys, os; sys.orig_argv = {argv!r}; import fastrace; "
            "print(os.environ.get('OPENBLAS_NUM_THREADS'))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == str(expected)


def test_command_leaves_with_its_output_whole_and_its_exit_code(tmp_path, capsys):
    # `python -m fastrace` skips the interpreter's teardown once a command is
    # done (cli.run): what it wrote to a pipe and to files must all be
    # there, and its exit code kept.
    import gzip
    import os
    import subprocess
    import sys
    from pathlib import Path

    from fastrace import cli

    go127 = Path(__file__).parent / "fixtures" / "traces" / "go1.27"
    trace = go127 / "sched.trace"
    cmd = [sys.executable, "-m", "fastrace"]
    # Buffered standard streams, as they are unless PYTHONUNBUFFERED is set.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    # More than a pipe holds (64 KiB): Go's own dump of the trace.
    want = gzip.decompress((go127 / "sched.parsed.txt.gz").read_bytes())
    assert len(want) > 1 << 16
    proc = subprocess.run([*cmd, "dump", "--format", "go-parsed", str(trace)], capture_output=True, env=env)
    assert (proc.returncode, proc.stderr, proc.stdout) == (0, b"", want)
    # Text left in sys.stdout's buffer by the command (info does not flush):
    # the same as main() prints in this process.
    proc = subprocess.run([*cmd, "info", "--format", "json", str(trace)], capture_output=True,
                          text=True, env=env)
    assert cli.main(["info", "--format", "json", str(trace)]) == 0
    assert (proc.returncode, proc.stderr, proc.stdout) == (0, "", capsys.readouterr().out)
    # A file written with -o, as main() writes it in this process.
    subprocess.run([*cmd, "pprof", "sched", str(trace), "-o", str(tmp_path / "a.pb")], check=True,
                   env=env)
    assert cli.main(["pprof", "sched", str(trace), "-o", str(tmp_path / "b.pb")]) == 0
    assert (tmp_path / "a.pb").read_bytes() == (tmp_path / "b.pb").read_bytes()
    # An error: exit code 1 and the message.
    bad = tmp_path / "bad.trace"
    bad.write_bytes(b"# not a trace\n")
    proc = subprocess.run([*cmd, "goroutines", str(bad)], capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "not a Go execution trace" in proc.stderr
    # The reader goes away early (`| head`): exit code 0, nothing on stderr.
    with subprocess.Popen([*cmd, "dump", "--format", "go-parsed", str(trace)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as p:
        assert p.stdout.read(100) == want[:100]
        p.stdout.close()
        err = p.stderr.read()
    assert (p.returncode, err) == (0, b"")
