"""The main screen arranges its widgets in its layouts only: not again at the next look for a widget off
screen after a layout, nor after a widget it has placed, off screen, asks for a frame."""

from __future__ import annotations

from textual.widgets import Input

from tests.app.conftest import fast_paint_only, make_app, wait_for
from tests.app.fake_backend import FakeBackend
from tests.app.test_form_check_cost import show_form
from tui.app.fast_paint.probe import count_drawing, on_screen


@fast_paint_only  # Textual arranges the whole screen again at the next look for a widget off screen
async def test_the_main_screen_arranges_its_widgets_only_as_it_lays_them_out(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        screen = app.main_screen
        drawing = count_drawing(app, screen)
        form = await show_form(pilot, "magpie")  # a new form: laid out with the widgets it brings
        below = [field for field in form.query(Input) if not on_screen(screen, field)]
        assert len(below) >= 2 and drawing["layouts"] >= 1
        assert below[-1].region  # placed, below the fold
        assert drawing["arrangements"] == drawing["layouts"]
        below[0].refresh()  # a field below the fold asks for a frame
        await pilot.pause()
        assert below[-1].region and drawing["arrangements"] == drawing["layouts"]
