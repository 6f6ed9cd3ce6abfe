"""The output pane's list of finished samples: one line each, enter opens one in review.

A sample is added while the model writes the next one, so adding must not lay the screen out (an
OptionList does, 35 ms a time): the list only grows its scroll range (`grow_quietly`).
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from tui.app.widgets.cursor_view import CursorView, cursor_bindings, grow_quietly


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

    @property
    def row_count(self) -> int:
        return len(self.lines)

    def add(self, lines: list[tuple[int | None, Text]]) -> None:
        following = self.cursor_row >= len(self.lines) - 1
        self.lines.extend(lines)
        grow_quietly(self, Size(self.scrollable_content_region.width, len(self.lines)))
        if following:
            self.move_cursor(len(self.lines) - 1)
        self.refresh()

    def action_choose(self) -> None:
        if 0 <= self.cursor_row < len(self.lines):
            sample_id = self.lines[self.cursor_row][0]
            if sample_id is not None:
                self.post_message(self.Chosen(sample_id))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = round(self.scroll_offset.y) + y
        if index >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        style = self.get_component_rich_style("finished-list--cursor") if index == self.cursor_row else self.rich_style
        text = self.lines[index][1].copy()
        text.truncate(width, overflow="ellipsis")
        return Strip(text.render(self.app.console)).crop_extend(0, width, style).apply_style(style)
