"""The README's Python examples run as written (docs that match behaviour).

The ```python blocks run in order in one namespace, as a reader would
run them in a notebook, in a folder where ``trace.out`` is a committed
AllocFree fixture (Go 1.27), ``cut.trace`` a fixture cut short, ``out/``
is the export of ``trace.out`` and ``tests/`` is this folder.  (The outputs shown in comments are real output
of the committed fixtures, pasted; they are not compared here.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fastrace import cli

pytestmark = pytest.mark.unit

TESTS = Path(__file__).resolve().parent
README = TESTS.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
# Blocks that use names standing for the reader's own values.
PLACEHOLDERS = ("t.strings[i]",)
_NAMESPACE: dict = {"__name__": "readme"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    (d / "trace.out").write_bytes((TESTS / "fixtures" / "traces" / "go1.27" /
                                   "allocfree.trace").read_bytes())
    (d / "tests").symlink_to(TESTS)
    sched = (TESTS / "fixtures" / "traces" / "go1.27" / "sched.trace").read_bytes()
    (d / "cut.trace").write_bytes(sched[:len(sched) * 3 // 5])
    assert cli.main(["export", str(d / "trace.out"), "-o", str(d / "out")]) == 0
    return d


@pytest.mark.parametrize("k", range(len(BLOCKS)))
def test_readme_block_runs(k, folder, monkeypatch, capsys):
    block = BLOCKS[k]
    if any(p in block for p in PLACEHOLDERS):
        pytest.skip("uses placeholders for the reader's values")
    monkeypatch.chdir(folder)
    exec(compile(block, f"README block {k}", "exec"), _NAMESPACE)


def test_readme_has_examples():
    assert len(BLOCKS) >= 6
    assert sum(any(p in b for p in PLACEHOLDERS) for b in BLOCKS) <= 1
