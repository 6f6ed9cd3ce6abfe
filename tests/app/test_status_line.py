"""The output pane's stage, progress and speed lines: a change is drawn at once, as a frame would draw it."""

from textual.app import App, ComposeResult
from textual.widgets import Static

from tests.app.conftest import cells, drawn_at_once, fast_paint_only
from tui.app.fast_paint import probe
from tui.app.widgets.status_line import ProgressLine, StatusLine


class LinesApp(App):
    CSS = "StatusLine { padding: 0 1; color: red; text-style: bold; }  #cover { offset: 0 -1; width: 4; height: 1; }"

    def compose(self) -> ComposeResult:
        yield StatusLine("Idle", id="first")
        yield StatusLine("", id="second")
        yield Static("", id="gap")


@fast_paint_only
async def test_a_change_is_drawn_at_once_as_a_frame_would_draw_it():
    app = LinesApp()
    async with app.run_test(size=(20, 4)) as pilot:
        line = app.query_one("#first", StatusLine)
        await pilot.pause()
        drawn = drawn_at_once(app, lambda: line.update("Magpie · turn 1 · assistant"))
        assert len(drawn) == 1 and not probe.asks_for_frame(line)  # no frame asked for
        assert line.render() == line.text == "Magpie · turn 1 · assistant"
        assert not drawn_at_once(app, lambda: line.update("Magpie · turn 1 · assistant"))  # unchanged: nothing drawn
        probe.forget_changes(app.screen)
        screen = probe.frame_lines(app.screen)  # what a frame draws now
        assert screen[0].text == " Magpie · turn 1 ·… "  # cut to the width, inside the padding
        for y, x1, x2 in drawn[0].spans:
            assert y == 0 and cells(drawn[0].chops[y][x1]) == cells(screen[y].crop(x1, x2))
        await pilot.pause()
        await app.mount(Static("over", id="cover"), after="#second")  # covers the second line
        await pilot.pause()
        second = app.query_one("#second", StatusLine)
        assert not drawn_at_once(app, lambda: second.update("0/3 samples"))  # hidden in part: a frame draws it
        assert probe.asks_for_frame(second)
        await pilot.pause()
        assert probe.frame_lines(app.screen)[1].text.startswith("over")


class ProgressApp(App):
    CSS = "ProgressLine { padding: 0 1; }"

    def compose(self) -> ComposeResult:
        yield ProgressLine(id="progress")


@fast_paint_only
async def test_progress_is_drawn_at_once_as_a_bar_and_a_percentage():
    app = ProgressApp()
    async with app.run_test(size=(22, 2)) as pilot:
        progress = app.query_one(ProgressLine)
        progress.update(total=3, progress=0)
        await pilot.pause()
        for done, shown in [(1, "━" * 5 + "╺" + "━" * 9 + "  33%"), (3, "━" * 15 + " 100%")]:
            drawn = drawn_at_once(app, lambda done=done: progress.update(progress=done))
            assert len(drawn) == 1 and not probe.asks_for_frame(progress)  # no frame asked for
            probe.forget_changes(app.screen)
            screen = probe.frame_lines(app.screen)  # what a frame draws now
            assert screen[0].text == f" {shown} "
            for y, x1, x2 in drawn[0].spans:
                assert cells(drawn[0].chops[y][x1]) == cells(screen[y].crop(x1, x2))
        colours = {segment.style.color for segment in screen[0] if segment.text.startswith("━")}
        assert colours == {progress.get_component_rich_style("progress-line--complete").color}  # done: the success colour
        assert not drawn_at_once(app, lambda: progress.update(progress=3))  # unchanged: nothing drawn
