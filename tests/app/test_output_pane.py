"""The output pane during a run: what it redraws, and its list of finished samples (scripted model)."""

from __future__ import annotations

from tests.app.conftest import fast_paint_only, make_app, shown_text, wait_for
from tests.app.fake_backend import FakeBackend, FakeModel
from tui.app.fast_paint import probe
from tui.app.screens.review import ReviewScreen
from tui.app.widgets import output_pane
from tui.app.widgets.finished_list import FinishedList
from tui.app.widgets.status_line import ProgressLine

LONG_REPLY = " ".join(f"word{n}" for n in range(120))  # wraps over several lines of the stream


async def _run(pilot, samples: int) -> None:
    app = pilot.app
    app.main_screen.technique.show_technique("magpie")
    await wait_for(pilot, lambda: bool(app.main_screen.query("#run-num")), what="the Magpie form")
    app.main_screen.query_one("#run-num").value = str(samples)
    await pilot.pause()
    await pilot.press("ctrl+g")
    await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), what="the run to finish")
    await pilot.pause()


@fast_paint_only
async def test_a_longer_run_lays_out_and_repaints_the_screen_no_more_often(app_store, prompts, monkeypatch):
    """Streamed text, finished samples and the header's counts are drawn in place: a layout of the screen
    or a repaint of all of it costs tens of milliseconds, taken from the model while a run goes."""
    monkeypatch.setattr(output_pane, "FINISHED_SECONDS", 0.02)  # the list and counts change with every sample
    backend = FakeBackend(FakeModel(("Tell me about bees?", LONG_REPLY), word_delay=0.002))
    app = make_app(app_store, prompts, backend)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        drawing = probe.count_drawing(app, app.main_screen)
        counts = lambda: {key: drawing[key] for key in ("layouts", "full repaints")}  # noqa: E731
        await _run(pilot, 1)  # the first run also lays out the Magpie form it shows
        before = counts()
        await _run(pilot, 1)
        one_sample = {key: drawing[key] - before[key] for key in before}
        before = counts()
        await _run(pilot, 6)
        six_samples = {key: drawing[key] - before[key] for key in before}
        assert six_samples == one_sample
        assert len(app.main_screen.query_one(FinishedList).lines) == 8
        assert "new 8" in app.sub_title
    assert len(app_store.list_samples()) == 8


async def test_the_progress_bar_keeps_its_line_so_a_run_start_lays_nothing_out_for_it(app_store, prompts, monkeypatch):
    """The progress bar is a blank line until a run starts (showing a hidden bar laid the screen out
    twice, ~60 ms taken from the model), and blank again after a run stopped by an error."""
    app = make_app(app_store, prompts, FakeBackend(FakeModel(("Tell me about bees?", "Bees make honey."))))
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        app.main_screen.technique.show_technique("magpie")
        await wait_for(pilot, lambda: bool(app.main_screen.query("#run-num")), what="the Magpie form")
        assert shown_text(app, "#progress") == ""
        layouts = []
        refresh = ProgressLine.refresh

        def recorded_refresh(self, *args, **kwargs):
            if kwargs.get("layout"):
                layouts.append(self)
            return refresh(self, *args, **kwargs)

        monkeypatch.setattr(ProgressLine, "refresh", recorded_refresh)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), what="the run to finish")
        assert layouts == [] and shown_text(app, "#progress").endswith(" 100%")
        app.main_screen.output.run_failed("the model file went away")
        assert layouts == [] and shown_text(app, "#progress") == ""


async def test_enter_on_a_finished_sample_opens_it_in_review(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await _run(pilot, 3)
        finished = app.main_screen.query_one(FinishedList)
        assert [sample_id for sample_id, _ in finished.lines] == [1, 2, 3]
        assert finished.cursor_row == 2  # it follows the newest sample
        finished.focus()
        await pilot.press("k", "k", "j")
        assert finished.cursor_row == 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="the review screen")
        await pilot.pause()
        assert app.screen.selected_id() == 2


async def test_no_progress_bar_animates_when_idle(app_store, prompts):
    """A progress bar without a total pulses 15 times a second, hidden or not: an idle app woke for it."""
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        bars = list(app.main_screen.query("Bar"))
        # The model's load bar; a run's progress is a ProgressLine, which has no animation at all.
        assert len(bars) == 1 and all(bar.auto_refresh is None for bar in bars)
        await _run(pilot, 1)
        assert all(bar.auto_refresh is None for bar in app.main_screen.query("Bar"))


async def test_the_finished_list_redraws_its_cursor_line_when_the_cursor_or_the_focus_moves(app_store, prompts):
    """Its lines are kept as drawn (a new sample scrolls them all): the cursor's look must still follow."""
    from rich.text import Text

    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        finished = app.main_screen.query_one(FinishedList)
        finished.add([(1, Text("#1 first")), (2, Text("#2 second"))])
        await pilot.pause()

        def background(row: int):
            strip = probe.frame_lines(app.main_screen)[finished.region.y + row]
            return next(iter(strip.crop(finished.region.x, finished.region.x + 1))).style.bgcolor

        cursor = lambda: finished.get_component_rich_style("finished-list--cursor").bgcolor  # noqa: E731
        blurred = cursor()
        assert finished.cursor_row == 1 and background(1) == blurred != background(0)
        finished.focus()
        await pilot.pause()
        assert cursor() != blurred and background(1) == cursor()
        await pilot.press("k")
        await pilot.pause()
        assert background(0) == cursor() and background(1) != cursor()


async def test_the_finished_list_is_headed_by_the_runs_quality_so_far(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())  # the same question every time: near-duplicates from the second on
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        app.main_screen.technique.show_technique("magpie")
        await wait_for(pilot, lambda: bool(app.main_screen.query("#run-num")), what="the Magpie form")
        app.main_screen.query_one("#run-num").value = "3"
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "kept 3" in shown_text(app, "#finished-title"), what="the quality line")
        assert "kept 3 · near-duplicates 67% · failed 0" in shown_text(app, "#finished-title")
