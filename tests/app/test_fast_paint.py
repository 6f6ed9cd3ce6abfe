"""Fast paint: Textual's private names only inside `tui/app/fast_paint`, behind one switch that an
untested Textual turns off."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import textual
import tui.app
from tests.conftest import REPO, run_smolgen
from tests.source_trees import SOURCE_TREES, class_source, parsed
from tui.app import fast_paint
from tui.engine.errors import BadInput

FENCE = REPO / "tui" / "app" / "fast_paint"
# Outside the fence: the app, the CLI, the benchmarks and the tests. The engine never imports Textual (test_engine_boundary).
OUTSIDE = [path for folder in ("tui", "tests") for path in (REPO / folder).rglob("*.py")
           if FENCE not in path.parents and "engine" not in path.relative_to(REPO).parts]


def _textual_private_names() -> set[str]:
    """Private names Textual gives its objects' attributes and methods."""
    pattern = re.compile(r"(?:self|cls)\.(_[a-z]\w*)|def (_[a-z]\w*)")
    found = (pattern.findall(path.read_text(encoding="utf-8")) for path in Path(textual.__file__).parent.rglob("*.py"))
    return {name for pairs in found for pair in pairs for name in pair if name}


def _own_private_names(walked_trees) -> set[str]:
    """The private names our code defines for its own objects (assigned to self, or methods)."""
    names = set()
    for walked in walked_trees:
        for node in walked:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("_"):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr.startswith("_"):
                names.add(node.attr)
    return names


def _private_module(name: str) -> bool:
    return name.split(".")[0] == "textual" and any(part.startswith("_") for part in name.split("."))


def _other_modules(nodes: list[ast.AST]) -> set[str]:
    """The names under which a module imports modules other than Textual's whole (`os` of `os._exit`)."""
    return {alias.asname or alias.name for each in nodes if isinstance(each, ast.Import)
            for alias in each.names if alias.name.split(".")[0] != "textual"}


@SOURCE_TREES
def test_textuals_private_names_are_used_only_inside_fast_paint():
    nodes = {path: list(ast.walk(parsed(path))) for path in OUTSIDE}
    textuals, ours = _textual_private_names(), _own_private_names(nodes.values())
    found = []
    for path, walked in nodes.items():
        other_modules = _other_modules(walked)
        for node in walked:
            if isinstance(node, ast.ImportFrom) and _private_module(node.module or ""):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} imports {node.module}")
            elif isinstance(node, ast.Import):
                found += [f"{path.relative_to(REPO)}:{node.lineno} imports {alias.name}" for alias in node.names
                          if _private_module(alias.name)]
            elif isinstance(node, ast.Attribute) and node.attr in textuals and node.attr not in ours \
                    and not (isinstance(node.value, ast.Name) and node.value.id in other_modules):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} uses {node.attr}")
    assert found == []


@SOURCE_TREES
def test_no_class_outside_fast_paint_touches_a_private_name_of_the_textual_class_it_extends():
    """A subclass's `self._x` that Textual's base also has is Textual's state, read or overwritten."""
    found = []
    for module in pkgutil.walk_packages(tui.app.__path__, "tui.app."):
        if module.name.startswith(fast_paint.__name__):
            continue
        for name, cls in vars(importlib.import_module(module.name)).items():
            bases = [base for base in inspect.getmro(cls)[1:] if base.__module__.startswith("textual")] if inspect.isclass(cls) else []
            if not bases or cls.__module__ != module.name:
                continue
            source = class_source(cls)
            used = set(re.findall(r"self\.(_[a-z]\w*)", source)) | set(re.findall(r"def (_[a-z]\w*)", source))
            for base in bases:
                found += [f"{module.name}.{name}.{attr} is {base.__name__}'s" for attr in sorted(used & _private_names_of(base))]
    assert found == []


@functools.cache
def _private_names_of(textual_class: type) -> frozenset[str]:
    """The private names a Textual class defines or sets on itself (many of our classes share a base: read each once)."""
    names = {key for key in vars(textual_class) if key.startswith("_") and not key.startswith("__")}
    return frozenset(names | set(re.findall(r"self\.(_[a-z]\w*)", class_source(textual_class))))


@pytest.mark.parametrize(
    "textual_version, setting, on",
    [("8.2.8", None, True), ("8.2.0", "on", True), ("8.2.8", "off", False), ("8.2.8", " OFF ", False)],
)
def test_the_switch_is_on_unless_set_off(textual_version, setting, on):
    assert fast_paint.decide(textual_version, setting) == (on, None)


@pytest.mark.parametrize("textual_version", ["8.3.0", "8.1.9", "9.0.0", "7.2.8"])
def test_a_textual_outside_the_tested_series_turns_it_off_with_a_warning(textual_version):
    on, warning = fast_paint.decide(textual_version, "on")
    assert not on and warning == f"fast paint off: Textual {textual_version} is not the 8.2 series it was tested with"


def test_a_bad_switch_value_names_the_variable():
    with pytest.raises(BadInput, match="^SMOLGEN_FAST_PAINT=fast: must be on or off$"):
        fast_paint.decide("8.2.8", "fast")


def test_an_untested_textual_logs_one_line_and_the_app_runs_on_the_public_path(tmp_path):
    """Another Textual is pretended by the version it reports: fast paint must not be imported at all."""
    code = """
import asyncio, importlib.metadata, logging, sys
real = importlib.metadata.version
importlib.metadata.version = lambda name: "9.0.0" if name == "textual" else real(name)
logging.basicConfig(stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
from tests.app.fake_backend import FakeBackend
from tui.app import fast_paint
from tui.app.app import SmolgenApp
from tui.engine.prompts import PromptLibrary
from tui.engine.store import SampleStore

async def run():
    with SampleStore(sys.argv[1] + "/store.json") as store:
        app = SmolgenApp(store, PromptLibrary(sys.argv[1]), FakeBackend(), cursor_blink=False)
        async with app.run_test(size=(100, 32)) as pilot:
            while app.model is None:
                await pilot.pause(0.05)
            app.main_screen.technique.show_technique("magpie")
            while not app.main_screen.query("#run-num"):
                await pilot.pause(0.05)
            app.main_screen.query_one("#run-num").value = "2"
            await pilot.press("ctrl+g")
            while "Finished" not in str(app.main_screen.query_one("#stage").render()):
                await pilot.pause(0.05)
            print(len(store.list_samples()))
    print(sorted(name for name in sys.modules if name.startswith("tui.app.fast_paint.")))

asyncio.run(run())
"""
    env = {**os.environ, fast_paint.SWITCH: "on"}  # whatever this suite runs with: only the version turns it off
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "smolgen.app.fast_paint WARNING fast paint off: Textual 9.0.0 is not the 8.2 series it was tested with"
    ]
    assert result.stdout.splitlines() == ["2", "[]"]  # two samples stored, and no module of fast paint imported


# The snapshot tests run with the switch in both positions (tests/app/conftest.py's `fast_paint_switch`): the
# public path must draw the same pixels fast paint draws.


@SOURCE_TREES
def test_the_switch_is_read_as_each_use_is_called_so_a_test_can_turn_it_off():
    """`fast_paint_switch` sets `fast_paint.ENABLED` in the test's process: a use decided at import, or a copy of
    the switch taken by `from … import ENABLED`, would keep drawing the fast way."""
    found = []
    for path in (REPO / "tui").rglob("*.py"):
        tree = parsed(path)
        for node in _run_at_import(tree):
            if isinstance(node, ast.ImportFrom) and any(alias.name == "ENABLED" for alias in node.names):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} imports ENABLED")
            elif isinstance(node, ast.If) and ast.unparse(node.test) == "ENABLED" and path.parent == FENCE:
                found += [f"{path.relative_to(REPO)}:{node.lineno} does more than import" for each in node.body
                          if not isinstance(each, (ast.Import, ast.ImportFrom))]
            elif isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load) \
                    and (node.id if isinstance(node, ast.Name) else node.attr) == "ENABLED" and not _the_import_block(node, tree):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} reads ENABLED as it is imported")
    assert found == []


def _run_at_import(node: ast.AST):
    """The nodes a module runs as it is imported: all but what functions and lambdas hold (class bodies run)."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _run_at_import(child)


def _the_import_block(node: ast.AST, tree: ast.Module) -> bool:
    """The test of fast paint's `if ENABLED:` that imports its modules."""
    return any(isinstance(each, ast.If) and each.test is node for each in tree.body)


def test_a_bad_switch_value_stops_the_app_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(fast_paint.SWITCH, "fast")
    result = run_smolgen("--store", "smolgen.json", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["smolgen: SMOLGEN_FAST_PAINT=fast: must be on or off"]


def test_pyproject_pins_textual_to_the_series_fast_paint_was_tested_with():
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    major, minor = fast_paint.TESTED_TEXTUAL
    pins = [dependency for dependency in dependencies if re.match(r"textual\s*[<>=!~]", dependency)]
    assert len(pins) == 1 and re.fullmatch(rf"textual>={major}\.{minor}\.\d+,<{major}\.{minor + 1}", pins[0]), pins
    assert fast_paint.decide(version("textual"), "on") == (True, None)  # the Textual installed is that series
