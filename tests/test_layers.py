"""The suite's own layout: every test module declares its layer(s), and the
helpers are imported from the ``tests`` package, never through ``sys.path``
edits (see tests/__init__.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import LAYERS, REPO, TESTS

pytestmark = pytest.mark.unit

TEST_MODULES = sorted(TESTS.glob("test_*.py"))
# The harness under tests/fuzz/ is a script run on its own (the fuzzing
# runs), which sets up its own path; it is not a test module.
PYTHON_FILES = sorted(p for p in [*TESTS.rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]
                      if "fuzz" not in p.relative_to(REPO).parts)
# Modules of the two packages: imported by their package name only.
PACKAGE_MODULES = {p.stem for p in [*TESTS.glob("*.py"), *(REPO / "benchmarks").glob("*.py")]
                   if p.stem != "__init__"} | {"fuzz_trace"}


def module_marks(tree: ast.Module) -> set[str]:
    """Marker names in a module-level ``pytestmark = pytest.mark.X`` or
    ``pytestmark = [pytest.mark.X, ...]``."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            for sub in ast.walk(node.value):
                if (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute)
                        and sub.value.attr == "mark"):
                    names.add(sub.attr)
    return names


def test_layers_are_registered(pytestconfig):
    registered = {line.split(":")[0].strip() for line in pytestconfig.getini("markers")}
    assert set(LAYERS) <= registered


def test_every_module_declares_a_layer():
    assert len(TEST_MODULES) >= 30
    missing = [p.name for p in TEST_MODULES
               if not module_marks(ast.parse(p.read_text())) & set(LAYERS)]
    assert not missing, (f"test modules without a layer: {missing}; add a module-level "
                         f"`pytestmark = pytest.mark.<layer>` with a layer of {LAYERS} "
                         "(see tests/__init__.py)")


def test_module_marks_are_read():
    # The reader above on the shapes it must recognise (and one it must not).
    assert module_marks(ast.parse("pytestmark = pytest.mark.unit")) == {"unit"}
    assert module_marks(ast.parse("pytestmark = [pytest.mark.unit, pytest.mark.reference]")) == {
        "unit", "reference"}
    assert module_marks(ast.parse("@pytest.mark.unit\ndef test_x(): pass")) == set()


def sys_path_edits(tree: ast.Module) -> list[int]:
    """Lines that call ``sys.path.insert/append/extend`` or add to it."""
    def is_sys_path(node) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "path"
                and isinstance(node.value, ast.Name) and node.value.id == "sys")
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("insert", "append", "extend") and is_sys_path(node.func.value)):
            lines.append(node.lineno)
        elif isinstance(node, ast.AugAssign) and is_sys_path(node.target):
            lines.append(node.lineno)
    return sorted(lines)


def bare_helper_imports(tree: ast.Module) -> list[int]:
    """Lines that import a module of ``tests`` or ``benchmarks`` by its bare
    name (``import gotool``), which works only with that folder on sys.path."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name.split(".")[0] in PACKAGE_MODULES for a in node.names):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in PACKAGE_MODULES:
                lines.append(node.lineno)
    return sorted(lines)


def test_no_sys_path_edits_and_helpers_come_from_the_packages():
    assert len(PYTHON_FILES) >= 40
    found = {}
    for p in PYTHON_FILES:
        tree = ast.parse(p.read_text())
        bad = sys_path_edits(tree) + bare_helper_imports(tree)
        if bad:
            found[str(p.relative_to(REPO))] = sorted(bad)
    assert not found, (f"sys.path edits or bare helper imports at {found}: import helpers as "
                       "`from tests import gotool` / `from tests.tracebuild import ev`")


def test_checkers_see_what_they_look_for():
    src = "import sys\nsys.path.insert(0, 'x')\nimport gotool\nfrom tracebuild import ev\n" \
          "from tests import gotool\nfrom tests.tracebuild import ev\nsys.path += ['y']\n"
    tree = ast.parse(src)
    assert sys_path_edits(tree) == [2, 7]
    assert bare_helper_imports(tree) == [3, 4]
