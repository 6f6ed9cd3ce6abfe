"""End to end in a real terminal: start smolgen in tmux, add a seed, generate one Magpie sample with the
real model, accept it in review, quit, and read the store file. The screen is polled, never slept on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tui.engine.store import SampleStore

pytestmark = [pytest.mark.model, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


class Terminal:
    """A detached tmux session of fixed size running one command."""

    def __init__(self, command: list[str], cwd: Path, width: int = 100, height: int = 32):
        self.name = f"smolgen-e2e-{uuid.uuid4().hex[:8]}"
        # COLUMNS and LINES: a pane started from a test runner may not report its size to the app.
        size = [f"COLUMNS={width}", f"LINES={height}"]
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), "-c", str(cwd),
                        "env", *size, *command], check=True)
        # A tmux server started elsewhere may impose its own default size.
        subprocess.run(["tmux", "resize-window", "-t", self.name, "-x", str(width), "-y", str(height)], check=True)

    def screen(self) -> str:
        result = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return result.stdout

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def test_add_seed_generate_magpie_accept_and_quit(tmp_path):
    store_path = tmp_path / "smolgen.json"
    command = [sys.executable, "-m", "tui", "--store", str(store_path), "--prompts", str(tmp_path / "prompts"), "--context", "2048", "--threads", "1"]
    terminal = Terminal(command, cwd=tmp_path)
    try:
        terminal.wait_for("Seeds")
        terminal.wait_for("Q4_1")  # the model is loaded: the status bar shows its quantization
        terminal.keys("n")
        terminal.wait_for("New seed")
        terminal.type("Generate a question about the Smol Course on small AI models.")
        terminal.keys("C-s")
        terminal.wait_for("1 of 1 used")
        terminal.keys("C-p")  # the command palette: show the Magpie tab
        terminal.wait_for("Search for commands")
        terminal.type("Technique: Magpie")
        terminal.wait_for("Show its settings tab")
        terminal.keys("Enter")
        terminal.wait_for("User turn sampling")
        terminal.type("1")  # the palette leaves the focus on the Samples field
        terminal.wait_for("Samples 1 ")
        terminal.keys("C-g")
        terminal.wait_for("Magpie · turn 1")  # the stage, while tokens stream
        terminal.wait_for("Finished · 1 stored", timeout=180)
        terminal.keys("C-r")
        terminal.wait_for("1 of 1 samples shown")
        terminal.keys("a")
        terminal.wait_for("accepted 1")
        terminal.keys("C-q")
        deadline = time.monotonic() + 10
        while terminal.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not terminal.alive(), "smolgen did not exit"
    finally:
        terminal.close()
    with SampleStore(store_path) as store:
        samples = store.list_samples()
        assert [s["row"]["text"] for s in store.list_seeds()] == ["Generate a question about the Smol Course on small AI models."]
    assert len(samples) >= 1 and {s["technique"] for s in samples} == {"magpie"}
    assert samples[0]["status"] == "accepted" and samples[0]["conversation"][0]["role"] == "user"


def test_bench_startup_times_the_first_frame_model_and_quit(tmp_path):
    from tests.conftest import run_smolgen

    result = run_smolgen("bench-startup", "--repeat", "1", "--json", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)["median_seconds"]
    assert 0 < figures["first_frame"] <= figures["model_ready"]
    assert figures["quit"] > 0
