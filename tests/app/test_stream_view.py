"""The streamed-text view: wraps at its width, appends to the last paragraph, follows the end."""

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.screen import Screen
from textual.widgets import Static

from tests.app.conftest import cells, drawn_at_once, fast_paint_only, wait_for
from tui.app.fast_paint import probe
from tui.app.widgets.stream_view import StreamView


class StreamApp(App):
    def compose(self) -> ComposeResult:
        yield StreamView(id="stream")


async def test_appends_wrap_follow_the_end_and_clear():
    app = StreamApp()
    async with app.run_test(size=(21, 5)) as pilot:  # 20 columns of text beside a 1-column scroll bar
        view = app.query_one(StreamView)
        view.append("one two three four five six")
        view.append(" seven\nsecond paragraph")
        await pilot.pause()
        assert view.text == "one two three four five six seven\nsecond paragraph"
        assert [line.text.rstrip() for line in view._lines] == ["one two three four", "five six seven", "second paragraph"]
        for _ in range(10):
            view.append("\nmore")
        await pilot.pause()
        assert view.scroll_offset.y == len(view._lines) - 5  # the last line is at the bottom
        view.scroll_to(y=0, animate=False)
        view.append(" text")
        await pilot.pause()
        assert view.scroll_offset.y == 0  # scrolled up by the reader: it stays there
        view.clear()
        await pilot.pause()
        assert view.text == "" and view.virtual_size.height == 1


async def test_appending_piece_by_piece_wraps_as_wrapping_the_whole_text_at_once():
    """An append re-wraps only the last wrapped line: the result must not depend on how the text arrived."""
    pieces = ["The", " quick brown", " fox jum", "ps over", " the lazy dog", "  ", "and keeps", " going\n\n",
              "averyveryverylongwordthatdoesnotfit", "inonelineatall", " then a short one", "\nexactly twenty cells", "\n",
              "a\ttab", " then", "\nTiếng Việt", " có dấu", " 日本語の文", "字も\nlast", " line  ", "end"]
    app = StreamApp()
    async with app.run_test(size=(21, 8)) as pilot:
        view = app.query_one(StreamView)
        for piece in pieces:
            view.append(piece)
        await pilot.pause()
        streamed = [list(line) for line in view._lines]  # segments: text and style
        shown = [view.render_line(y).text.rstrip() for y in range(8)]
        view.clear()
        view.append("".join(pieces))
        await pilot.pause()
        assert streamed == [list(line) for line in view._lines]
        assert shown[-1] == "last line  end" and shown == [view.render_line(y).text.rstrip() for y in range(8)]


@fast_paint_only
@pytest.mark.parametrize("tint", [None, "red 30%"])  # a tint: drawn through Textual's styles cache
async def test_text_added_to_the_last_line_is_drawn_at_once_as_a_frame_would_draw_it(tint):
    """A frame costs ~1 ms of the UI thread for each streamed batch, taken from the model on two cores:
    a batch that only lengthens the last line is drawn straight away, without the scroll bar's column."""
    app = StreamApp()
    async with app.run_test(size=(21, 5)) as pilot:
        view = app.query_one(StreamView)
        view.styles.padding = (0, 1)  # as in the output pane
        if tint:
            view.styles.tint = tint
        view.append("one two three four five six seven eight nine ten eleven twelve")
        await pilot.pause()  # a frame: the view sees the padding, and wraps again inside it
        await pilot.pause()
        drawn = drawn_at_once(app, lambda: view.append(" x"))  # fits on the last line
        assert len(drawn) == 1 and not probe.asks_for_frame(view)  # drawn, and no frame asked for
        screen = probe.frame_lines(app.screen)
        last = len(view._lines) - 1
        assert screen[last].text.rstrip() == " eleven twelve x"  # wrapped inside the padding
        bar = view.vertical_scrollbar.region
        for y, x1, x2 in drawn[0].spans:
            assert y == last and x2 <= bar.x
            assert cells(drawn[0].chops[y][x1]) == cells(screen[y].crop(x1, x2))


@fast_paint_only
@pytest.mark.parametrize("following", [True, False])
async def test_new_lines_are_drawn_at_once_with_the_scroll_bar_as_a_frame_would_draw_them(following):
    """Each new line of a stream that follows its end moved every row and the bar's thumb: a frame of
    ~1.5 ms, several a second, taken from the model. They are drawn at once instead; a reader who
    scrolled up sees only the bar change."""
    app = StreamApp()
    async with app.run_test(size=(21, 6)) as pilot:
        view = app.query_one(StreamView)
        view.styles.padding = (0, 1)
        view.append("\n".join(f"line {n}" for n in range(12)))
        await pilot.pause()
        if not following:
            view.scroll_to(y=2, animate=False)
            await pilot.pause()
        bar = view.vertical_scrollbar
        # On a busy machine a pause can end before the frame: wait for it, so what follows asked for none.
        await wait_for(pilot, lambda: not probe.asks_for_frame(view) and not probe.asks_for_frame(bar), timeout=10, what="the frame")
        top = view.scroll_offset.y
        drawn = drawn_at_once(app, lambda: view.append(" and more words, wrapped to new lines\nlast"))
        assert drawn and not probe.asks_for_frame(view) and not probe.asks_for_frame(bar)  # no frame asked for
        assert view.virtual_size.height == len(view._lines) == 15
        assert view.scroll_offset.y == (view._bottom() if following else top)
        probe.forget_changes(app.screen)
        screen = probe.frame_lines(app.screen)  # what a frame draws now
        assert screen[5].text.rstrip() == (" last" if following else " line 7")
        painted = {(y, x1): update.chops[y][x1] for update in drawn for y, x1, _x2 in update.spans}
        assert {x1 for _y, x1 in painted} == ({view.content_region.x, bar.region.x} if following else {bar.region.x})
        for (y, x1), strip in painted.items():
            assert cells(strip) == cells(screen[y].crop(x1, x1 + strip.cell_length))


@fast_paint_only
@pytest.mark.parametrize("change", ["padding", "tint", "theme"])
async def test_lines_drawn_at_once_follow_a_change_of_style(change):
    """What a direct paint needs from the styles (padding, effects, colours) is worked out once and
    kept in Textual's per-widget cache, which a style change empties: the next batch is drawn as the
    frame after the change would draw it, not as before."""
    app = StreamApp()
    async with app.run_test(size=(21, 5)) as pilot:
        view = app.query_one(StreamView)
        view.append("one")
        await pilot.pause()
        assert len(drawn_at_once(app, lambda: view.append(" two"))) == 1  # the plan is made and kept
        if change == "padding":
            view.styles.padding = (0, 3)
        elif change == "tint":
            view.styles.tint = "red 40%"
        else:
            app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        await pilot.pause()
        drawn = drawn_at_once(app, lambda: view.append(" three"))
        assert len(drawn) == 1
        probe.forget_changes(app.screen)
        screen = probe.frame_lines(app.screen)  # what a frame draws now
        assert screen[0].text.strip() == "one two three"
        for y, x1, x2 in drawn[0].spans:
            assert cells(drawn[0].chops[y][x1]) == cells(screen[y].crop(x1, x2))


class CoveredStreamApp(App):
    CSS = "Screen { layers: below above; } #cover { layer: above; offset: 0 4; width: 5; height: 1; }"

    def compose(self) -> ComposeResult:
        yield StreamView(id="stream")
        yield Static("cover", id="cover")


@fast_paint_only
async def test_new_lines_covered_lines_and_hidden_screens_are_left_to_a_frame():
    app = CoveredStreamApp()
    async with app.run_test(size=(21, 5)) as pilot:
        view = app.query_one(StreamView)
        view.append("one")
        await pilot.pause()
        view.append("\n" * 5 + "six")
        await pilot.pause()
        assert not drawn_at_once(app, lambda: view.append(" 7"))  # on the last line, under the cover
        assert probe.asks_for_frame(view)
        await pilot.pause()
        view.scroll_to(y=0, animate=False)
        await pilot.pause()
        assert not drawn_at_once(app, lambda: view.append(" 8"))  # scrolled out of sight: nothing to draw
        assert not probe.asks_for_frame(view)
        view.scroll_end(animate=False)
        app.query_one("#cover").display = False
        await app.push_screen(Screen())
        await pilot.pause()
        assert not drawn_at_once(app, lambda: view.append(" 9"))  # its screen is not the one shown
        app.pop_screen()
        await pilot.pause()
        assert len(drawn_at_once(app, lambda: view.append(" 10"))) == 1
        assert probe.frame_lines(app.screen)[4].text.rstrip() == "six 7 8 9 10"


@fast_paint_only
async def test_its_scroll_bar_redraws_only_changed_cells_and_draws_what_textuals_would():
    from textual.widget import Widget

    from tui.app.fast_paint.line_cached_scroll_bar import LineCachedScrollBar

    app = StreamApp()
    async with app.run_test(size=(21, 8)) as pilot:
        view = app.query_one(StreamView)
        bar = view.vertical_scrollbar
        assert isinstance(bar, LineCachedScrollBar)
        whole = Region(0, 0, bar.size.width, bar.size.height)

        def textuals() -> list:
            probe.forget_drawn_lines(bar)
            return Widget.render_lines(bar, whole)

        states = [lambda i=i: view.append(f"line {i}\n") for i in range(30)]
        states += [lambda: view.scroll_to(y=3, animate=False), lambda: setattr(bar, "mouse_over", True),
                   lambda: setattr(bar, "mouse_over", False), view.clear]
        for change in states:
            change()
            await pilot.pause()
            assert bar.render_lines(whole) == textuals()
            assert bar.render_lines(Region(0, 2, 1, 3)) == textuals()[2:5]


async def test_it_keeps_following_the_end_when_the_terminal_is_resized():
    app = StreamApp()
    async with app.run_test(size=(41, 6)) as pilot:
        view = app.query_one(StreamView)
        view.append(" ".join(f"word{n}" for n in range(80)))
        await pilot.pause()
        assert view.scroll_offset.y == view._bottom() > 0
        await pilot.resize_terminal(25, 6)  # narrower: more lines, so the end is further down
        await pilot.pause()
        assert view.scroll_offset.y == view._bottom()
        assert view.render_line(5).text.strip().endswith("word79")
        view.scroll_to(y=0, animate=False)
        await pilot.pause()
        await pilot.resize_terminal(41, 6)
        await pilot.pause()
        assert view.scroll_offset.y == 0  # scrolled up by the reader: it stays there


@fast_paint_only
async def test_a_clear_draws_at_once_only_the_rows_that_showed_text():
    """Each sample starts with a clear: drawn at once, without a frame, and not the rows below the
    text, blank already; after a scrolled run it goes back to the top and draws every row."""
    app = StreamApp()
    async with app.run_test(size=(21, 8)) as pilot:
        view = app.query_one(StreamView)
        bar = view.vertical_scrollbar
        for text, rows in [("one two three four five six", {0, 1}), ("\n".join(f"line {n}" for n in range(20)), set(range(8)))]:
            view.append(text)
            await pilot.pause()
            drawn = drawn_at_once(app, view.clear)
            assert not probe.asks_for_frame(view) and not probe.asks_for_frame(bar)
            assert {y for update in drawn for y, x1, _x2 in update.spans if x1 < bar.region.x} == rows
            assert view.scroll_offset.y == 0 and view.virtual_size.height == 1
            probe.forget_changes(app.screen)
            screen = probe.frame_lines(app.screen)  # what a frame draws now
            assert [line.crop(0, bar.region.x).text.strip() for line in screen] == [""] * 8
            for update in drawn:
                for y, x1, x2 in update.spans:
                    assert cells(update.chops[y][x1]) == cells(screen[y].crop(x1, x2))
