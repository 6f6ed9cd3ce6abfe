"""The import graph of tui/: no module imports itself back, imports sit at the top of a module, and
each layer (engine, app, its widgets) imports only what is below it.

Every import that runs counts, at the top of a module or inside a function: a circle hidden in a
function is still a circle. Imports under `if TYPE_CHECKING:` never run (they serve annotations
only) and are left out. The graph is of modules (a package's `__init__` is one), across all of tui/,
not only within each package.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

from tests.source_trees import SOURCE_TREES, parsed

# The tests read one graph, built once per process (import_graph), on the worker that parses tui/ for the other source tests.
pytestmark = SOURCE_TREES

PACKAGE = Path(__file__).resolve().parents[1] / "tui"

# Modules a function may import itself, to keep start-up light: each loads a heavy library.
HEAVY = (
    "llama_cpp",  # the model's native library: loaded with a model
    "gguf",  # numpy and the GGUF tables: loaded to read a model file's details
    "numpy",  # loaded with gguf anyway, when a GGUF header's vocabulary is stepped over
    "plotext",  # the terminal plots of `smolgen stats`
    "py3langid",  # numpy and its language model: loaded when a quality gate first identifies a language
    "tui.engine.minhash_clusters",  # datasketch and scipy: loaded when clusters are asked for
    "tui.engine.server.connect",  # httpx and the server client: loaded when a server is used
    "tui.engine.server.local",  # httpx and llama-server's process: loaded when the app starts one
)


def _is_heavy(module: str) -> bool:
    return any(module == heavy or module.startswith(f"{heavy}.") for heavy in HEAVY)


def _is_command(module: str) -> bool:
    """The CLI and the benchmarks: every `smolgen` command builds the whole parser, so each command
    imports what it runs when it runs (the app, and textual with it, only when the app opens)."""
    return module == "tui.cli" or module.startswith(("tui.cli_", "tui.bench."))


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(source: str, path: Path, known: dict[str, Path]) -> list[Import]:
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(ast.Module(body=child.orelse, type_ignores=[]), in_function)  # only its `else:` runs
            elif isinstance(child, ast.Import):
                found.extend(Import(source, alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                assert child.level == 0, f"{path}:{child.lineno}: a relative import (the graph reads absolute ones)"
                base = child.module or ""
                found.extend(Import(source, f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base,
                                    child.lineno, in_function) for alias in child.names)
            elif isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):  # an expression holds no import
                visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(parsed(path), in_function=False)
    return found


@functools.cache  # every test reads the same graph: the sources are parsed once per process
def import_graph() -> tuple[dict[str, Path], tuple[Import, ...]]:
    known = modules()
    return known, tuple(found for name, path in known.items() for found in imports(name, path, known))


def find_circle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                return [*path[path.index(target):], target]
            if target not in state and (circle := visit(target)):
                return circle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(edges):
        if module not in state and (circle := visit(module)):
            return circle
    return None


def _edges(found: tuple[Import, ...], known: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in known}
    for each in found:
        if each.target in known:
            edges[each.source].add(each.target)
    return edges


def test_the_graph_sees_imports_inside_functions_and_skips_type_checking_ones():
    known, found = import_graph()
    lazy = {(each.source, each.target) for each in found if each.in_function}
    assert ("tui.cli", "tui.app.app") in lazy  # the app loads only when it opens
    pipeline_building = {each.target for each in found if each.source == "tui.engine.pipeline.building"}
    assert "tui.engine.pipeline.graph" not in pipeline_building  # an annotation's import, under TYPE_CHECKING
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_module_imports_itself_back():
    known, found = import_graph()
    circle = find_circle(_edges(found, known))
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_imports_inside_functions_only_load_heavy_libraries_or_run_a_command():
    _, found = import_graph()
    misplaced = [
        f"{each.source}:{each.line} imports {each.target}"
        for each in found
        if each.in_function and not _is_command(each.source) and not _is_heavy(each.target)
    ]
    assert misplaced == []


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _is_cli(module: str) -> bool:
    return module == "tui.cli" or module.startswith("tui.cli_")


def _is_test_or_bench(module: str) -> bool:
    return _within(module, "tests") or _within(module, "tui.bench")


# (importing package, what it must not import, the rule's reason)
LAYERS = (
    ("tui.engine", lambda t: _within(t, "tui.app") or _is_cli(t) or _is_test_or_bench(t), "the engine knows no front end"),
    ("tui.app", lambda t: _is_cli(t) or _is_test_or_bench(t), "the app does not import the CLI, tests or benchmarks"),
    ("tui.app.widgets", lambda t: _within(t, "tui.app.screens"), "a widget posts a request; its screen opens the dialog"),
)


def test_each_layer_imports_only_what_is_below_it():
    _, found = import_graph()
    broken = [
        f"{each.source}:{each.line} imports {each.target}: {reason}"
        for package, forbidden, reason in LAYERS
        for each in found
        if _within(each.source, package) and forbidden(each.target)
    ]
    assert broken == []
