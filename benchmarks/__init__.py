"""Benchmark scripts (not part of the test suite); see benchmarks/README.md.

A package so that the scripts import the test helpers (``from tests import
gotool``) and each other without ``sys.path`` edits: run them from the
repository root as ``python -m benchmarks.compare_go`` and so on.
"""
