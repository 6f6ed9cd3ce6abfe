"""The model's text as it streams: soft-wrapped, and cheap to append to.

The UI thread shares two cores with llama.cpp, so every millisecond it spends on a batch of tokens
is taken from the model. A TextArea re-measured and re-rendered its whole view for each batch, which
`smolgen bench` saw in the model's speed; here an append re-wraps only the last wrapped line, only
the lines that changed are redrawn, and a drawn line is kept until its text or style changes.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.events import Resize
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from tui.app import fast_paint


class StreamView(ScrollView, can_focus=True):
    """Text that grows at its end, wrapped to the widget's width, following the end unless scrolled up."""

    DEFAULT_CSS = """
    StreamView { overflow-x: hidden; overflow-y: scroll; scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._paragraphs: list[str] = [""]
        self._lines: list[Strip] = []
        # Greedy wrapping never changes a line once a later one exists, so an append re-wraps the
        # last paragraph from its last line on: that line's index and where its text starts.
        self._tail_line = 0
        self._tail_offset = 0
        # The text area's size (without padding and scroll bar), kept from the last resize or frame:
        # working it out for each batch cost about as much as drawing the batch.
        self._width = 0
        self._height = 0
        # Each line cropped to the width and styled, as drawn: a frame mostly draws lines drawn before.
        self._drawn: dict[int, Strip] = {}
        self._drawn_style: Style | None = None

    @property
    def text(self) -> str:
        return "\n".join(self._paragraphs)

    def clear(self) -> None:
        # Each sample starts with a clear: only the lines that showed text are drawn again, not the rows
        # below them, blank already (unless the view scrolls back to its top, which draws it all).
        shown = Region(0, 0, self._width, max(1, min(len(self._lines) - self.scroll_offset.y, self._height)))
        self._paragraphs = [""]
        self._rewrap_all(repaint=False)
        self._redraw(shown, top=0)

    def append(self, text: str) -> None:
        if not text:
            return
        following = self.scroll_offset.y >= self._bottom()  # the reader has not scrolled up
        first_changed, line_count = self._tail_line, len(self._lines)
        head, *rest = text.split("\n")
        self._paragraphs[-1] += head
        self._rewrap_tail()
        for paragraph in rest:
            self._paragraphs.append(paragraph)
            self._tail_line, self._tail_offset = len(self._lines), 0
            self._rewrap_tail()
        changed = self._content_lines(first_changed, len(self._lines) - first_changed)
        # Most batches only lengthen the last line: nothing moves, so it is drawn at once, without a frame.
        if len(self._lines) == line_count:
            if not fast_paint.paint_lines(self, changed):
                self.refresh(changed)
            return
        self._redraw(changed, top=self._bottom() if following else None)

    def _redraw(self, changed: Region, top: int | None) -> None:
        """Show new or cleared lines: at once if it can be, else in the next frame."""
        if self._redraw_at_once(changed, top):
            return
        self._size_changed()
        self.refresh(changed)
        if top is not None:
            self.scroll_to(y=top, animate=False)

    def _redraw_at_once(self, changed: Region, top: int | None) -> bool:
        """After lines were added or cleared, draw the view and its scroll bar at once, not in a frame.

        `changed` is the rows to draw (view coordinates), `top` the line to scroll to (None: stay). The
        scroll range, the bar and the scroll position change quietly, so nothing asks for a frame; if
        either cannot be drawn now, it is refreshed as usual.
        """
        bar = self.vertical_scrollbar
        if not fast_paint.ENABLED or not self.show_vertical_scrollbar or not bar.display:
            return False
        size = Size(self._width, len(self._lines))
        self.set_reactive(ScrollView.virtual_size, size)
        bar.set_reactive(ScrollBar.window_virtual_size, size.height)
        if top is not None and top != self.scroll_offset.y:
            self.set_reactive(ScrollView.scroll_y, float(top))
            self.set_reactive(ScrollView.scroll_target_y, float(top))
            bar.set_reactive(ScrollBar.position, float(top))
            changed = Region(0, 0, self._width, self._height)  # every row moved
        if not fast_paint.paint_lines(self, changed):
            self.refresh(changed)
        if not fast_paint.paint_lines(bar, Region(0, 0, *bar.size)):
            bar.refresh()
        return True

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        return fast_paint.vertical_scrollbar(self) or super().vertical_scrollbar

    def refresh_lines(self, y_start: int, line_count: int = 1) -> None:
        self.refresh(self._content_lines(y_start, line_count))

    def _content_lines(self, y_start: int, line_count: int) -> Region:
        # Not the scroll bar's column, unlike Textual's refresh_lines: the bar changes only as lines
        # are added (then it is refreshed itself), and each streamed batch drew it again for nothing.
        return Region(0, y_start - self.scroll_offset.y, self._width, line_count)

    def _bottom(self) -> int:
        """The scroll position that shows the last line of text at the bottom."""
        return max(0, len(self._lines) - self._height)

    def _rewrap_tail(self) -> None:
        """Wrap the last paragraph again from its last wrapped line on."""
        for index in range(self._tail_line, len(self._lines)):
            self._drawn.pop(index, None)
        del self._lines[self._tail_line :]
        tail = self._paragraphs[-1][self._tail_offset :]
        # Most batches leave the tail short enough for its line: that line is what Rich's wrap would make.
        if tail.isprintable() and 0 < (width := cell_len(tail)) <= self._width:
            self._lines.append(Strip([Segment(tail)], width))
            return
        wrapped = self._wrap(tail)
        self._lines.extend(strip for strip, _ in wrapped)
        last = wrapped[-1][1]
        # The last line's text ends the tail unless wrapping trimmed spaces off it: then wrap it all next time.
        if len(wrapped) > 1 and tail.endswith(last):
            self._tail_offset += len(tail) - len(last)
            self._tail_line = len(self._lines) - 1

    def _rewrap_all(self, repaint: bool = True) -> None:
        """Wrap every paragraph again (after a resize or a clear)."""
        self._lines, self._drawn = [], {}
        for paragraph in self._paragraphs[:-1]:
            self._lines.extend(strip for strip, _ in self._wrap(paragraph))
        self._tail_line, self._tail_offset = len(self._lines), 0
        self._rewrap_tail()  # the last paragraph, minding where its last line starts
        if repaint:
            self._size_changed()
            self.refresh()

    def _size_changed(self) -> None:
        fast_paint.grow_quietly(self, Size(self._width, len(self._lines)))

    def _wrap(self, text: str) -> list[tuple[Strip, str]]:
        """The wrapped lines of a text, each as a strip and as its plain text."""
        if not text or self._width < 1:
            return [(Strip.blank(0), "")]
        console = self.app.console
        return [(Strip(line.render(console)), line.plain) for line in Text(text).wrap(console, self._width, overflow="fold")]

    def on_resize(self, event: Resize) -> None:
        self._fit()

    def _fit(self) -> None:
        """Take the text area's size again (on a resize, or padding changed)."""
        width, height = self.scrollable_content_region.size
        if (width, height) == (self._width, self._height):
            return
        following = self.scroll_offset.y >= len(self._lines) - self._height  # at the end before the change
        self._height = height
        if width != self._width:
            self._width = width
            self._rewrap_all()
        if following:  # the text is wrapped anew, so the end moved
            self.scroll_to(y=self._bottom(), animate=False)

    def render_lines(self, crop: Region) -> list[Strip]:
        if self.scrollable_content_region.size != (self._width, self._height):  # no Resize comes when only padding changes
            self.call_after_refresh(self._fit)
        # The style comes from the CSS of every ancestor: work it out once per frame, not per line.
        style = self.rich_style
        if style != self._drawn_style:
            self._drawn_style = style
            self._drawn.clear()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        if index >= len(self._lines):
            index = -1  # every row below the text is the same blank line
        strip = self._drawn.get(index)
        if strip is None:
            style = self._drawn_style
            line = self._lines[index] if index >= 0 else Strip.blank(0)
            strip = self._drawn[index] = line.crop_extend(0, self._width, style).apply_style(style)
        return strip
