"""Sources the tests read as code (tui/'s import graph, where Textual's private names are used), each parsed
once per process: parsing is most of what those tests cost. They share an xdist group (`SOURCE_TREES`), so
one worker parses each file once for all of them."""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest

SOURCE_TREES = pytest.mark.xdist_group("source_trees")


@functools.cache
def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@functools.cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(_text(path), filename=str(path))


def class_source(cls: type) -> str:
    """What `inspect.getsource(cls)` returns (the class with its decorators), from the module's parse kept
    here: inspect parses the whole module again for every class it is asked about."""
    path = Path(sys.modules[cls.__module__].__file__)
    node = _class_nodes(path)[cls.__qualname__]
    first = min([node.lineno, *(each.lineno for each in node.decorator_list)])
    return "".join(_lines(path)[first - 1:node.end_lineno])


@functools.cache
def _class_nodes(path: Path) -> dict[str, ast.ClassDef]:
    """The classes a module defines, by qualified name (the first of a name, as inspect finds it)."""
    found: dict[str, ast.ClassDef] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                continue  # an expression holds no class statement
            if isinstance(child, ast.ClassDef):
                found.setdefault(prefix + child.name, child)
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, f"{prefix}{child.name}.<locals>.")
            else:
                visit(child, prefix)

    visit(parsed(path), "")
    return found


@functools.cache
def _lines(path: Path) -> list[str]:
    return _text(path).splitlines(keepends=True)
