"""The output pane's list of finished samples: one line each, enter opens one in review.

A sample is added while the model writes the next one, so adding must not lay the screen out (an
OptionList does, each time): the list only grows its scroll range (`fast_paint.grow_quietly`).
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from tui.app import fast_paint
from tui.app.widgets.cursor_view import CursorView, cursor_bindings


class FinishedList(CursorView):
    """Lines with the sample id each stands for; the cursor follows new lines while it is on the last."""

    DEFAULT_CSS = """
    FinishedList {
        overflow-x: hidden; overflow-y: scroll; scrollbar-size-vertical: 1;
        & > .finished-list--cursor { background: $block-cursor-blurred-background; }
        &:focus > .finished-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    COMPONENT_CLASSES = {"finished-list--cursor"}
    BINDINGS = [
        *cursor_bindings("output.finished", "finished sample", up="up,k", down="down,j"),
        Binding("enter", "choose", "Open in review", id="output.finished.open", tooltip="Open this sample in review"),
    ]

    class Chosen(Message):
        """Enter on a line that stands for a stored sample."""

        def __init__(self, sample_id: int) -> None:
            super().__init__()
            self.sample_id = sample_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[tuple[int | None, Text]] = []
        # Each line as drawn, by (index, has the cursor): a new line scrolls the others, drawn before.
        self._drawn: dict[tuple[int, bool], Strip] = {}
        self._drawn_for: tuple[object, ...] = ()

    @property
    def row_count(self) -> int:
        return len(self.lines)

    def add(self, lines: list[tuple[int | None, Text]]) -> None:
        following = self.cursor_row >= len(self.lines) - 1
        self.lines.extend(lines)
        fast_paint.grow_quietly(self, Size(self.scrollable_content_region.width, len(self.lines)))
        if following:
            self.move_cursor(len(self.lines) - 1)
        self.refresh()

    def action_choose(self) -> None:
        if 0 <= self.cursor_row < len(self.lines):
            sample_id = self.lines[self.cursor_row][0]
            if sample_id is not None:
                self.post_message(self.Chosen(sample_id))

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        return fast_paint.vertical_scrollbar(self) or super().vertical_scrollbar

    def render_lines(self, crop: Region) -> list[Strip]:
        # The styles come from the CSS of every ancestor: work them out once per frame, not per line.
        self._check_looks()
        return super().render_lines(crop)

    def _check_looks(self) -> None:
        looks = (self.scrollable_content_region.width, self.rich_style, self.get_component_rich_style("finished-list--cursor"))
        if looks != self._drawn_for:
            self._drawn_for = looks
            self._drawn.clear()

    def render_line(self, y: int) -> Strip:
        if not self._drawn_for:  # called on its own, not from render_lines
            self._check_looks()
        width, base_style, cursor_style = self._drawn_for
        index = round(self.scroll_offset.y) + y
        if index >= len(self.lines):
            return Strip.blank(width, base_style)
        key = (index, index == self.cursor_row)
        strip = self._drawn.get(key)
        if strip is None:
            style = cursor_style if key[1] else base_style
            text = self.lines[index][1].copy()
            text.truncate(width, overflow="ellipsis")
            strip = self._drawn[key] = Strip(text.render(self.app.console)).crop_extend(0, width, style).apply_style(style)
        return strip
