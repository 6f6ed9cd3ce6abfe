"""The footer composes its keys anew only when the keys shown change; a key turning on or off is dimmed in place."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Button, Footer

from tests.app.conftest import fast_paint_only, make_app, shown_text, wait_for
from tests.app.fake_backend import FakeBackend, FakeModel
from tui.app import fast_paint
from tui.app.fast_paint import probe


class FooterApp(App):
    BINDINGS = [Binding("f5", "go", "Go"), Binding("f6", "stop", "Stop")]

    def __init__(self) -> None:
        super().__init__()
        self.going = False

    def compose(self) -> ComposeResult:
        yield Button("one", id="one")
        yield fast_paint.footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return True if self.going else None  # shown dimmed while nothing goes
        return True

    def action_go(self) -> None:
        self.going = True
        self.refresh_bindings()


def _keys(app: App) -> list[Widget]:
    return list(app.screen.query_one(Footer).query("FooterKey"))


@fast_paint_only
async def test_a_key_turning_on_is_undimmed_in_place():
    app = FooterApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        before = _keys(app)
        stop = next(key for key in before if key.action == "stop")
        assert stop.has_class("-disabled")
        await pilot.press("f5")
        await pilot.pause()
        assert _keys(app) == before  # the same widgets, not composed anew
        assert not stop.has_class("-disabled") and not probe.footer_key_disabled(stop)


async def test_keys_that_appear_are_composed(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        app.main_screen.query_one("#seed-list").focus()
        await pilot.pause()
        assert any(key.description == "Add seed" for key in _keys(app))  # the seeds pane's keys
        app.main_screen.output.stream.focus()
        await wait_for(pilot, lambda: not any(key.description == "Add seed" for key in _keys(app)), what="the keys to go")
        app.main_screen.query_one("#seed-list").focus()
        await wait_for(pilot, lambda: any(key.description == "Add seed" for key in _keys(app)), what="the keys to come back")


async def test_a_run_changes_no_key_in_the_footer_and_says_how_to_cancel(app_store, prompts):
    """Composing the footer anew lays the screen out twice, as a run starts and as it ends."""
    app = make_app(app_store, prompts, FakeBackend(FakeModel(word_delay=0.01)))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        app.main_screen.technique.show_technique("magpie")
        await pilot.pause()
        before = _keys(app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "esc cancels" in shown_text(app, "#run-stats"), what="the run's speed line")
        assert _keys(app) == before or not fast_paint.ENABLED  # Textual's own footer composes its keys anew
        await wait_for(pilot, lambda: not app.running, what="the run to end")
        await pilot.pause()
        assert _keys(app) == before or not fast_paint.ENABLED
        assert [key.description for key in _keys(app)] == [key.description for key in before]
        assert "esc cancels" not in shown_text(app, "#run-stats")
