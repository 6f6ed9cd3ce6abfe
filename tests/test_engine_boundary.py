"""The engine never imports Textual: every module under tui/engine, found by walking the package, is
imported in a fresh interpreter (with the headless `generate` command), and Textual is not among what
they pulled in."""

import json
import subprocess
import sys

from tests.conftest import REPO

IMPORT_EVERY_ENGINE_MODULE = """
import importlib, json, pkgutil, sys
import tui.engine
names = [module.name for module in pkgutil.walk_packages(tui.engine.__path__, "tui.engine.")]
for name in [*names, "tui.cli_generate"]:
    importlib.import_module(name)
print(json.dumps({"imported": names, "textual": sorted(m for m in sys.modules if m.split(".")[0] == "textual")}))
"""


def engine_modules_on_disk() -> set[str]:
    modules = set()
    for path in (REPO / "tui" / "engine").rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules - {"tui.engine"}


def test_no_engine_module_imports_textual():
    out = subprocess.run([sys.executable, "-c", IMPORT_EVERY_ENGINE_MODULE], capture_output=True, text=True, check=True, cwd=REPO)
    report = json.loads(out.stdout)
    assert set(report["imported"]) == engine_modules_on_disk()  # the walk found every module, none left out
    assert report["textual"] == []
