"""End to end in a real terminal: start smolgen in tmux, add a seed, generate one Magpie sample with the
real model, accept it in review, quit, and read the store file. The screen is polled, never slept on."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys

import pytest

from tests.conftest import run_cli, run_smolgen
from tui.bench.tmux import Terminal
from tui.engine.store import SampleStore

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def show_magpie_tab(terminal: Terminal, samples: int) -> None:
    """Show the Magpie tab through the command palette and say how many samples to make."""
    terminal.keys("C-p")
    terminal.wait_for("Search for commands")
    terminal.type("Technique: Magpie")
    terminal.wait_for("Show its settings tab")
    terminal.keys("Enter")
    terminal.wait_for("End on a user turn")  # a Magpie setting, near the top of its tab
    terminal.type(str(samples))  # the palette leaves the focus on the Samples field
    terminal.wait_for(f"Samples {samples} ")


def test_ctrl_q_leaves_no_lock_file_and_a_reader_works_while_the_app_runs(tmp_path):
    store_path = tmp_path / "smolgen.json"
    # The whole app, with the paced stand-in model loaded instead of llama.cpp's.
    command = [sys.executable, "-m", "tui.bench.paced_cli", "0.01", "--store", str(store_path), "--prompts", str(tmp_path / "prompts")]
    terminal = Terminal(command, cwd=tmp_path, env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    try:
        terminal.wait_for("null model")
        terminal.keys("n")
        terminal.wait_for("New seed")
        terminal.type("A seed typed in the app.")
        terminal.keys("C-s")
        terminal.wait_for("1 of 1 used")
        assert (tmp_path / "smolgen.json.lock").exists()
        listed = run_smolgen("seeds", "list", cwd=tmp_path)
        assert listed.returncode == 0 and "A seed typed in the app." in listed.stdout
        pid = terminal.pane_pid()
        terminal.keys("C-q")
        terminal.wait_exited(pid, timeout=10)
    finally:
        terminal.close()
    assert not (tmp_path / "smolgen.json.lock").exists()


@pytest.mark.model
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
        show_magpie_tab(terminal, samples=1)
        # The quality gates may fail what the real model writes (it differs between CPUs and seeds): a person
        # would generate again, so the test does, until a sample is stored.
        for attempt in range(1, 6):
            terminal.keys("C-g")
            terminal.wait_until(lambda screen, n=attempt: "new 1 ·" in screen or re.search(rf"· failed {n}\b", screen) is not None,
                                "the run's sample stored or failed", timeout=180)
            if "new 1 ·" in terminal.screen():
                break
        else:
            raise AssertionError("five Magpie samples in a row failed the quality gates")
        terminal.wait_for("Finished · 1 stored")
        terminal.keys("C-r")
        terminal.wait_for(" samples shown")
        terminal.keys("a")
        terminal.wait_for("accepted 1")
        pid = terminal.pane_pid()
        terminal.keys("C-q")
        terminal.wait_exited(pid, timeout=10)
    finally:
        terminal.close()
    assert not (tmp_path / "smolgen.json.lock").exists()
    with SampleStore(store_path) as store:
        samples = store.list_samples()
        assert [s["row"]["text"] for s in store.list_seeds()] == ["Generate a question about the Smol Course on small AI models."]
    assert len(samples) >= 1 and {s["technique"] for s in samples} == {"magpie"}
    [accepted] = [s for s in samples if s["status"] == "accepted"]  # the stored one; failed ones stay failed
    assert accepted["conversation"][0]["role"] == "user"


@pytest.mark.model
def test_bench_startup_times_the_first_frame_model_and_quit(tmp_path):
    from tests.conftest import run_smolgen

    result = run_smolgen("bench", "startup", "--repeat", "1", "--json", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)["median_seconds"]
    assert 0 < figures["first_frame"] <= figures["model_ready"]
    assert figures["quit"] > 0


@pytest.mark.model
def test_bench_terminal_runs_the_same_magpie_samples_in_the_app_and_the_cli(tmp_path):
    from tests.conftest import run_smolgen

    result = run_smolgen("bench", "terminal", "--samples", "1", "--repeat", "1", "--threads", "1", "--json", cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["same_samples"] is True  # the app was driven to the CLI's samples and seed
    (repetition,) = report["repetitions"]
    for variant in ("app", "cli", "cli-file"):
        assert repetition[variant]["completion_tokens"] == repetition["cli"]["completion_tokens"] > 0
        assert repetition[variant]["tokens_per_second"] > 0
    for reference in ("app_vs_cli", "app_vs_cli_file"):
        assert 0.5 < report["median"][reference] < 2 and 0.5 < report["median"][reference + "_wall"] < 2
        low, high = report["interval"][reference]
        assert low == high == report["median"][reference]  # one repetition: nothing to resample


def test_bench_terminal_explains_bad_figures(tmp_path):
    from tests.conftest import run_smolgen

    result = run_cli("bench", "terminal", "--samples", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["smolgen: --samples, --repeat and --threads must be at least 1"]
