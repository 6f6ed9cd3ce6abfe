"""One line of plain text that draws itself at once when it changes, without a frame of the screen.

The output pane's stage and speed lines change a few times a second while a run streams; as Statics
each change was a frame (~1.3 ms of the UI thread, on two cores taken from llama.cpp). Here the new
line is written straight to the terminal when nothing is in the way (see `direct_paint`), and a
frame draws it otherwise.
"""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tui.app.direct_paint import paint_lines


class StatusLine(Widget):
    DEFAULT_CSS = "StatusLine { height: 1; }"

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = text

    @property
    def text(self) -> str:
        return self._text

    def update(self, text: str) -> None:
        if text == self._text:
            return
        self._text = text
        if not paint_lines(self, Region(0, 0, self.content_region.width, 1)):
            self.refresh()

    def render(self) -> str:
        return self._text

    def render_line(self, y: int) -> Strip:
        # Styled here, as the styles cache would: direct paint puts this strip on screen as it is.
        style, width = self.rich_style, self.content_region.width
        if y != 0 or not self._text:
            return Strip.blank(width, style)
        line = Text(self._text, no_wrap=True, overflow="ellipsis", end="")
        line.truncate(width, overflow="ellipsis")
        return Strip(line.render(self.app.console)).crop_extend(0, width, style).apply_style(style)
