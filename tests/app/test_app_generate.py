"""Generating from the app with the real embedded model: stream, store, cancel, quit, model not ready yet."""

from __future__ import annotations

import re
import threading
import time

import pytest

from textual.widgets import ProgressBar

from tests.app.conftest import CancelledBeforeCall, LoadedModelBackend, make_app, show_form, shown_text, wait_for
from tests.app.fake_backend import FakeBackend, FakeModel
from tui.engine import cpu_load
from tui.engine.cpu_load import CpuReading
from tui.engine.store import SampleStore



async def _magpie(pilot, samples: str = "1", max_tokens: str = "16") -> None:
    """Show the Magpie tab and set how many samples and how many tokens per turn."""
    app = pilot.app
    await show_form(pilot, "magpie")
    app.main_screen.query_one("#run-num").value = samples
    app.main_screen.query_one("#run-seed").value = "11"
    for turn in ("user_sampling", "assistant_sampling"):
        app.main_screen.query_one(f"#magpie--{turn}--max_tokens").value = max_tokens
    # Turns this short are often cut: these tests are about running, not about what the gates keep.
    for gate in ("check_user_turn_cap", "gates--check_repetition", "gates--check_language", "gates--check_request"):
        app.main_screen.query_one(f"#magpie--{gate}").value = False
    await pilot.pause()


async def test_generate_one_magpie_sample_streams_and_stores_it(app_store, prompts, real_backend):
    app = make_app(app_store, prompts, real_backend)
    streamed: list[str] = []
    async with app.run_test(size=(100, 32), message_hook=lambda m: streamed.append(getattr(m, "text", ""))) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        assert "135M · Q4_1 · ctx 2,048 · 1 thread" in shown_text(app, "#model-status")
        await _magpie(pilot)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), what="the run to finish")
        assert "Magpie · turn 1 · user" in streamed and "Magpie · turn 1 · assistant" in streamed
        assert "── Magpie · turn 1 · assistant ──" in app.main_screen.output.stream.text
        assert "1/1 samples" in shown_text(app, "#run-stats") and "tok/s" in shown_text(app, "#run-stats")
        # The header's counts follow the finished list, a message later than the stage line.
        await wait_for(pilot, lambda: "new 1" in app.sub_title, what="the header's counts")
    [sample] = app_store.list_samples()
    assert sample["technique"] == "magpie" and sample["seed"] == 11
    assert [m["role"] for m in sample["conversation"]] == ["user", "assistant"]
    assert sample["instruction"] in "".join(streamed)  # what was stored is what streamed


async def test_a_run_asked_for_while_the_model_loads_starts_when_it_is_ready(app_store, prompts, real_backend):
    release = threading.Event()
    load = real_backend.load

    def slow_load(request, on_progress=None):
        release.wait(10)
        return load(request, on_progress)

    real_backend.load = slow_load
    app = make_app(app_store, prompts, real_backend)
    async with app.run_test(size=(100, 32)) as pilot:
        await _magpie(pilot)
        await pilot.press("ctrl+g")
        assert "waiting for the model" in shown_text(app, "#stage")
        assert app.model is None
        release.set()
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), what="the run to finish")
    assert len(app_store.list_samples()) == 1


async def test_the_status_bar_shows_how_much_of_the_model_is_loaded(app_store, prompts):
    held = threading.Event()
    app = make_app(app_store, prompts, FakeBackend(hold=held))  # reports 50 %, then waits
    async with app.run_test(size=(100, 32)) as pilot:
        bar = app.main_screen.status_bar.query_one("#model-progress", ProgressBar)
        await wait_for(pilot, lambda: bar.percentage == 0.5, timeout=10, what="the load progress")
        assert bar.display and "Loading" in shown_text(app, "#model-status")
        held.set()
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        assert not bar.display


async def test_escape_cancels_within_a_token_and_keeps_finished_samples(app_store, prompts, app_model):
    model = CancelledBeforeCall(app_model, held_call=3)  # the second sample's user turn
    app = make_app(app_store, prompts, LoadedModelBackend(model))
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await _magpie(pilot, samples="3")
        await pilot.press("ctrl+g")
        await wait_for(pilot, model.waiting.is_set, timeout=60, what="the second sample to start")
        await pilot.press("escape")
        pressed = time.monotonic()
        await wait_for(pilot, lambda: not app.running, timeout=5, what="the run to stop")
        assert time.monotonic() - pressed < 2.0  # one token, with room for a busy machine
        await wait_for(pilot, lambda: "Cancelled" in shown_text(app, "#stage"))
        assert "discarded" in shown_text(app, "#stage")
    [run] = app_store.list_runs()
    assert run["status"] == "cancelled"
    assert len(app_store.list_samples()) == 1


async def test_quitting_during_a_run_is_fast_and_loses_no_finished_sample(tmp_path, prompts, real_backend):
    path = tmp_path / "quit.json"
    with SampleStore(path) as store:
        app = make_app(store, prompts, real_backend)
        async with app.run_test(size=(100, 32)) as pilot:
            await wait_for(pilot, lambda: app.model is not None, what="the model")
            await _magpie(pilot, samples="5", max_tokens="200")
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: bool(store.list_samples()), timeout=60, what="a first finished sample")
            finished = len(store.list_samples())
            quit_pressed = time.monotonic()
            await pilot.press("ctrl+q")
        assert app.stop_generation(timeout=1.0)
        assert time.monotonic() - quit_pressed < 1.0
    with SampleStore(path) as reopened:
        assert len(reopened.list_samples()) >= finished
        assert reopened.list_runs()[0]["status"] == "cancelled"


async def test_self_instruct_counts_seeds_done_and_instructions_kept_apart(app_store, prompts):
    from tests.app.fake_backend import FakeModel

    app_store.add_seeds([{"text": "Rivers and tides."}, {"text": "Kitchen chemistry."}])
    lists = ("1. Which river is the longest in Europe?\n2. Explain how tides follow the moon.\n3. Why do rivers flood?",
             "A) Name three uses of baking soda.\nB: Why does bread rise?")
    app = make_app(app_store, prompts, FakeBackend(FakeModel(lists)))
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await show_form(pilot, "self-instruct")
        app.main_screen.query_one("#self-instruct--answer--enabled").value = False  # the script holds the lists only
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), what="the run to finish")
        assert shown_text(app, "#run-stats").startswith("2/2 seeds done · 5 kept · 0 failed")
    kept = [s["instruction"] for s in app_store.list_samples()]
    assert kept[3:] == ["Name three uses of baking soda.", "Why does bread rise?"]  # the letters are gone


async def test_the_speed_line_says_when_other_programs_keep_cores_busy(app_store, prompts, monkeypatch):
    # Every window of the scripted readings: 15 CPU seconds of other programs in 10 s.
    ticks = iter(range(1_000_000))
    monkeypatch.setattr(cpu_load, "read_cpu", lambda: (lambda n: CpuReading(15.0 * n, 0.0, 10.0 * n))(next(ticks)))
    held = CancelledBeforeCall(FakeModel(), held_call=3)  # the second sample waits: the line is read mid-run
    app = make_app(app_store, prompts, FakeBackend(held))
    async with app.run_test(size=(160, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await _magpie(pilot, samples="2")
        await pilot.press("ctrl+g")
        await wait_for(pilot, held.waiting.is_set, what="the second sample")
        await wait_for(pilot, lambda: "1/2 samples" in shown_text(app, "#run-stats"), what="the first sample counted")
        assert re.search(r"tok/s \(1\.5 of \d+ cores busy elsewhere\)", shown_text(app, "#run-stats"))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.running, what="the run cancelled")
