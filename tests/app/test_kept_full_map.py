"""The app's screens arrange their widgets in their layouts only: not again at the next look for a widget
off screen after a layout, nor after a widget placed off screen asks for a frame."""

from __future__ import annotations

from textual.widgets import Input, Static

from tests.app.conftest import fast_paint_only, make_app, settle, show_form, wait_for
from tests.app.fake_backend import FakeBackend
from tests.app.test_app_review import add_samples
from tui.app.fast_paint.probe import count_drawing, on_screen


@fast_paint_only  # Textual arranges the whole screen again at the next look for a widget off screen
async def test_the_main_screen_arranges_its_widgets_only_as_it_lays_them_out(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        screen = app.main_screen
        form = await show_form(pilot, "magpie")
        await settle(pilot, count_drawing(app, screen))
        below = [field for field in form.query(Input) if not on_screen(screen, field)]
        assert len(below) >= 2 and below[-1].region  # placed, below the fold
        drawing = count_drawing(app, screen)
        await form.mount(Static("A new line at the form's end"))  # laid out, and the map of every widget built with it
        await pilot.pause()
        assert below[-1].region and drawing["layouts"] == 1 and drawing["arrangements"] == 1
        below[0].refresh()  # a field below the fold asks for a frame
        await pilot.pause()
        assert below[-1].region and drawing["arrangements"] == drawing["layouts"] == 1


@fast_paint_only
async def test_the_stats_screen_arranges_its_widgets_only_as_it_lays_them_out(app_store, prompts):
    add_samples(app_store, *[f"Question number {number} about small models" for number in range(12)])
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: app.screen.id == "stats", what="the stats screen")
        await pilot.pause()
        drawing = count_drawing(app, app.screen)
        await pilot.press("down", "down", "tab", "down")
        await pilot.pause()
        assert drawing["layouts"] >= 1 and drawing["arrangements"] == drawing["layouts"]
