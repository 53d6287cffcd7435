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
