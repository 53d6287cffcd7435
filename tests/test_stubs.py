"""The .pyi stubs of the compiled modules say what the modules have: every
name a stub declares exists in the module, and every function's and
method's parameters (names, order, defaults present or not) are those of
the compiled code (Cython embeds its signatures: ``embedsignature``)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import fastrace

pytestmark = pytest.mark.unit

PKG = Path(fastrace.__file__).resolve().parent
MODULES = ("_varint", "_order", "_analysis")


def _params(args: ast.arguments) -> list[tuple[str, bool]]:
    names = [a.arg for a in args.posonlyargs + args.args]
    defaults = [False] * (len(names) - len(args.defaults)) + [True] * len(args.defaults)
    out = list(zip(names, defaults))
    out += [(a.arg, d is not None) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return out


def _runtime_params(obj) -> list[tuple[str, bool]] | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None          # no signature to compare (a C slot wrapper)
    return [(p.name, p.default is not inspect.Parameter.empty)
            for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _declared(tree: ast.Module):
    """(qualified name, ast node) of every function, class, method and
    annotated name a stub declares (TypedDicts' keys are not attributes)."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            if any(getattr(d, "id", "") == "overload" for d in node.decorator_list):
                continue   # the implementation's signature is checked via its other uses
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            typed_dict = any(getattr(b, "id", "") == "TypedDict" for b in node.bases)
            if typed_dict:
                continue   # a type for the stubs only: what a function returns
            yield node.name, node
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield f"{node.name}.{item.name}", item
                elif isinstance(item, ast.AnnAssign):
                    yield f"{node.name}.{item.target.id}", item
        elif isinstance(node, ast.AnnAssign):
            yield node.target.id, node


@pytest.mark.parametrize("module", MODULES)
def test_stub_matches_compiled_module(module):
    mod = importlib.import_module(f"fastrace.{module}")
    tree = ast.parse((PKG / f"{module}.pyi").read_text())
    problems = []
    for name, node in _declared(tree):
        obj = mod
        for part in name.split("."):
            if not hasattr(obj, part):
                obj = None
                break
            obj = getattr(obj, part)
        if obj is None:
            owner = name.split(".")[0]
            if "." in name and isinstance(getattr(mod, owner, None), type) and \
                    isinstance(node, ast.AnnAssign):
                continue   # instance attributes (cdef public) are not on the class
            problems.append(f"{name}: declared in the stub, missing in fastrace.{module}")
            continue
        if isinstance(node, ast.FunctionDef) and callable(obj):
            want = _params(node.args)
            if "." in name and want and want[0][0] == "self":
                want = want[1:]
            got = _runtime_params(obj)
            if got and "." in name and got[0][0] == "self":
                got = got[1:]      # a cdef class's methods, seen unbound
            if got is not None and name.split(".")[-1] != "__init__" and got != want:
                problems.append(f"{name}: stub {want} != compiled {got}")
    assert not problems, "\n".join(problems)
