"""`smolgen` with no command, and `smolgen app`, open the app with the store and model options."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_smolgen
from tui import cli
from tui.app.backend import ModelRequest
from tui.engine.store import SampleStore


def test_no_command_and_app_open_the_app_with_their_options(monkeypatch):
    calls = []
    monkeypatch.setattr("tui.app.app.run_app", lambda store, request, prompts, *_: calls.append((store, request, prompts)) or 0)
    assert cli.main(["--store", "mine.json", "--threads", "1", "--context", "2048"]) == 0
    assert cli.main(["app", "--model", "other.gguf", "--prompts", "p"]) == 0
    assert cli.main([]) == 0
    assert calls == [
        (Path("mine.json"), ModelRequest(None, 2048, 1), None),
        (Path("smolgen.json"), ModelRequest(Path("other.gguf"), 4096, None), Path("p")),
        (Path("smolgen.json"), ModelRequest(None, 4096, None), None),
    ]


def test_a_store_in_use_is_one_line_before_the_app_starts(tmp_path):
    with SampleStore(tmp_path / "smolgen.json"):
        result = run_smolgen("--prompts", str(tmp_path), cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "in use by PID" in result.stderr
