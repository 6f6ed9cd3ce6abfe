"""The app on a read-only store, on a disk that fills up, and told to stop by SIGTERM or SIGHUP."""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

import tui.engine.journal as journal_module
from tests.app.conftest import make_app, notifications, show_form, wait_for
from tests.app.fake_backend import FakeBackend, FakeModel, fake_info
from tests.app.test_app_review import add_samples
from tui.app.app import ORDERLY_EXIT_SECONDS
from tui.app.messages import ModelInspected, ModelLoaded, ModelLoadProgress
from tui.app.screens.export import ExportScreen
from tui.app.screens.review import ReviewScreen
from tui.app.screens.stats import StatsScreen
from tui.bench.tmux import Terminal, process_ended
from tui.engine.store import SampleStore


def _bindings_shown(app) -> set[str]:
    """The keys the footer offers on the current screen."""
    return {binding.key for (_, binding, enabled, _) in app.screen.active_bindings.values() if enabled and binding.show}


async def test_a_model_that_reports_as_the_app_quits_is_no_crash(app_store, prompts):
    """The model loads on a thread of its own: its reports can reach an app that has already taken its screens apart."""
    hold = threading.Event()
    app = make_app(app_store, prompts, FakeBackend(hold=hold))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "Loading" in str(app.main_screen.query_one("#model-status").render()), what="the load")
    hold.set()
    assert not app.main_screen.query("StatusBar")  # the quit took the screen apart, as Textual does
    app.model_inspected(ModelInspected(fake_info()))
    app.model_load_progress(ModelLoadProgress(0.5))
    app.model_loaded(ModelLoaded(FakeModel()))
    app.model_failed("the file went away")


async def test_a_read_only_store_says_so_and_offers_review_stats_and_export_only(tmp_path, monkeypatch, prompts):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        first, _ = add_samples(store, "What is SmolLM2?", "Explain Magpie.")
        store.set_status([first], "accepted")
    before = path.read_bytes()
    with SampleStore(path, read_only=True) as store:
        app = make_app(store, prompts, FakeBackend())
        app.read_only_reason = f"{path}: cannot write in {tmp_path} (Read-only file system)"
        async with app.run_test(size=(100, 32)) as pilot:
            assert isinstance(app.screen, ReviewScreen)
            assert any("Read-only file system" in n and "review, stats and export" in n for n in notifications(app))
            assert "read-only" in app.sub_title
            assert {"a", "r", "e", "A", "R"}.isdisjoint(_bindings_shown(app))
            await pilot.press("a", "r", "e")  # not offered: nothing happens, nothing is raised
            assert isinstance(app.screen, ReviewScreen) and app.screen.samples[first]["status"] == "accepted"
            await pilot.press("ctrl+e")
            assert isinstance(app.screen, ExportScreen)
            await pilot.press("ctrl+s")
            # Written in the working folder: the store's own cannot be written.
            assert (tmp_path / "work" / "s-messages.jsonl").read_text(encoding="utf-8").count("\n") == 1
            await pilot.press("ctrl+t")
            assert isinstance(app.screen, StatsScreen)
            assert "K" not in _bindings_shown(app)
            while app.screen is not app.main_screen:  # stats, then review, the first shown
                await pilot.press("escape")
            assert "ctrl+g" not in _bindings_shown(app) and app.main_screen.query_one("#seed-list").disabled
            await pilot.press("ctrl+g")
            assert not app.running
    assert path.read_bytes() == before and not path.with_name("s.json.journal").exists()


async def test_a_full_disk_while_reviewing_is_a_notification_and_nothing_changes(app_store, prompts, monkeypatch):
    first, second = add_samples(app_store, "What is SmolLM2?", "Explain Magpie.")

    def full_disk(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        monkeypatch.setattr(journal_module, "write_all", full_disk)
        await pilot.press("a")
        assert any("Not saved" in n and "No space left on device" in n for n in notifications(app))
        assert isinstance(app.screen, ReviewScreen) and app.screen.selected_id() == first  # the cursor stayed
        assert app_store.get_sample(first)["status"] == "new" and app.screen.rows[0].status == "new"
        monkeypatch.undo()  # room again
        await pilot.press("a")
        assert app_store.get_sample(first)["status"] == "accepted" and app.screen.selected_id() == second


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
async def test_a_stop_signal_quits_like_ctrl_q_and_records_the_run_as_cancelled(app_store, prompts, signum):
    app = make_app(app_store, prompts, FakeBackend(FakeModel(word_delay=0.02)))
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await show_form(pilot, "magpie")
        app.main_screen.query_one("#run-num").value = "50"
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: len(app_store.list_samples()) >= 2, what="two finished samples")
        os.kill(os.getpid(), signum)
        await wait_for(pilot, lambda: app.return_code is not None, what="the app to quit")
    assert app.stop_generation(timeout=5.0)
    assert app.return_code == 128 + signum
    [run] = app_store.list_runs()
    finished = len(app_store.list_samples())
    assert run["status"] == "cancelled" and run["summary"]["stored"] == finished and 2 <= finished < 50


def _paced_app(tmp_path) -> tuple[Path, list[str]]:
    """A store of 20 seeds, and the whole app on it with the paced stand-in model loaded instead of llama.cpp's."""
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        store.add_seeds([{"text": f"Seed question {i}?"} for i in range(20)])
    return path, [sys.executable, "-m", "tui.bench.paced_cli", "0.02", "--store", str(path), "--prompts", str(tmp_path / "prompts")]


def _start_run(terminal: Terminal) -> None:
    """Text generation, one sample per seed, until three samples are finished."""
    terminal.wait_for("20 of 20 used")
    terminal.wait_for("null model")
    terminal.keys("C-g")
    terminal.wait_until(lambda screen: re.search(r"\b([3-9]|1\d)/20\b", screen) is not None, "three finished samples")


def _stored(path: Path) -> int:
    """How many samples the store holds now, read beside the app writing it."""
    with SampleStore(path, read_only=True) as store:
        return len(store.list_samples())


def _recorded_run(path: Path, finished_at_least: int) -> None:
    """The store's one run is recorded as cancelled with its count of stored samples, all kept."""
    with SampleStore(path) as store:  # the lock is free
        [run] = store.list_runs()
        finished = len(store.list_samples())
    assert run["status"] == "cancelled" and run["summary"]["stored"] == finished and finished_at_least <= finished < 20


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("how", ["kill -TERM", "the terminal closed (SIGHUP)"])
def test_in_a_real_terminal_a_stop_signal_records_the_run_as_cancelled(tmp_path, how):
    path, command = _paced_app(tmp_path)
    terminal = Terminal(command, cwd=tmp_path, env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    try:
        _start_run(terminal)
        pid = terminal.pane_pid()
        signalled = time.perf_counter()
        if how == "kill -TERM":
            os.kill(pid, signal.SIGTERM)
        else:
            terminal.close()
        exited = terminal.wait_exited(pid, timeout=30)
    finally:
        terminal.close()
    # Quit as ctrl+q does, not ended by the exit watch once the shutdown had its time (it hung on the closed terminal).
    assert exited - signalled < ORDERLY_EXIT_SECONDS
    _recorded_run(path, finished_at_least=3)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_terminal_closed_with_no_sighup_for_the_app_still_ends_it_and_records_the_run(tmp_path):
    """With no SIGHUP the app would spin a core reading its closed terminal for good: it notices the terminal is
    gone and quits as on one. It draws on for a moment first, for a terminal that is gone: Textual's writer dies
    at the first such write, and writes queued behind it blocked the app for good."""
    path, command = _paced_app(tmp_path)
    # The app in a session of its own, under a parent that waits for it: neither the kernel's SIGHUP on the
    # hangup nor tmux's reaches it, as when a script that ignores SIGHUP started it.
    wrapped = [sys.executable, "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], start_new_session=True))", *command]
    terminal = Terminal(wrapped, cwd=tmp_path, env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    app_pid = None
    try:
        _start_run(terminal)
        parent = terminal.pane_pid()
        [app_pid] = map(int, Path(f"/proc/{parent}/task/{parent}/children").read_text().split())
        closed = time.perf_counter()
        terminal.close()
        exited = terminal.wait_exited(app_pid, timeout=30)
    finally:
        terminal.close()
        if app_pid is not None and not process_ended(app_pid):
            os.kill(app_pid, signal.SIGKILL)  # still running: no orphan left behind
    assert exited - closed < ORDERLY_EXIT_SECONDS  # quit as ctrl+q does, not ended by the exit watch
    _recorded_run(path, finished_at_least=3)
