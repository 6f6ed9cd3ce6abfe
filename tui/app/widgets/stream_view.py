"""The model's text as it streams: soft-wrapped, and cheap to append to.

The UI thread shares two cores with llama.cpp, so every millisecond it spends on a batch of tokens
is taken from the model. A TextArea re-measured and re-rendered its whole view for each batch (15%
of the model's speed in `smolgen bench`); here an append re-wraps only the last paragraph, and a
frame only copies the wrapped lines that are on screen.
"""

from __future__ import annotations

from rich.text import Text
from textual.events import Resize
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class StreamView(ScrollView, can_focus=True):
    """Text that grows at its end, wrapped to the widget's width, following the end unless scrolled up."""

    DEFAULT_CSS = """
    StreamView { overflow-x: hidden; overflow-y: scroll; scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._paragraphs: list[str] = [""]
        self._first_line: list[int] = [0]  # the wrapped line each paragraph starts on
        self._lines: list[Strip] = []
        self._width = 0

    @property
    def text(self) -> str:
        return "\n".join(self._paragraphs)

    def clear(self) -> None:
        self._paragraphs, self._first_line, self._lines = [""], [0], []
        self._rewrap_from(0)
        self.scroll_to(y=0, animate=False)
        self.refresh()

    def append(self, text: str) -> None:
        if not text:
            return
        following = self.scroll_offset.y >= self._bottom()  # the reader has not scrolled up
        changed = len(self._paragraphs) - 1
        head, *rest = text.split("\n")
        self._paragraphs[-1] += head
        self._paragraphs.extend(rest)
        first_line = self._first_line[changed]
        self._rewrap_from(changed)
        self.refresh_lines(first_line, len(self._lines) - first_line)
        if following:
            self.scroll_to(y=self._bottom(), animate=False)

    def _bottom(self) -> int:
        """The scroll position that shows the last line of text at the bottom."""
        return max(0, len(self._lines) - self.scrollable_content_region.height)

    def _rewrap_from(self, paragraph: int) -> None:
        """Wrap the paragraphs from this one on again (all of them after a resize or a clear)."""
        del self._lines[self._first_line[paragraph] :]
        del self._first_line[paragraph:]
        for text in self._paragraphs[paragraph:]:
            self._first_line.append(len(self._lines))
            self._lines.extend(self._wrap(text))
        size = Size(self._width, len(self._lines))
        if size != self.virtual_size:
            # Setting `virtual_size` lays out the whole screen again (35 ms, every new line); the text's
            # size changes nothing around it, so only the scroll bar is told. The bar is always shown
            # (overflow-y: scroll), so its gutter never changes either.
            self.set_reactive(ScrollView.virtual_size, size)
            self._scroll_update(size)
            self.refresh()

    def _wrap(self, paragraph: str) -> list[Strip]:
        if not paragraph or self._width < 1:
            return [Strip.blank(0)]
        console = self.app.console
        return [Strip(line.render(console)) for line in Text(paragraph).wrap(console, self._width, overflow="fold")]

    def on_resize(self, event: Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._rewrap_from(0)

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        strip = self._lines[index] if index < len(self._lines) else Strip.blank(0)
        return strip.crop_extend(0, width, self.rich_style).apply_style(self.rich_style)
