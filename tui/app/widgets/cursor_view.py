"""A list drawn line by line on demand, with a cursor moved by keys: the base of the review table and
the output pane's finished samples.

Only the lines on screen are drawn, so its length costs nothing.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.events import Click
from textual.scroll_view import ScrollView


def cursor_bindings(prefix: str, noun: str, up: str = "up", down: str = "down") -> list[Binding]:
    """The keys that move a CursorView's cursor, with ids `prefix.up` and so on (for keymaps)."""
    return [
        Binding(up, "cursor(-1)", "Up", show=False, id=f"{prefix}.up", tooltip=f"Previous {noun}"),
        Binding(down, "cursor(1)", "Down", show=False, id=f"{prefix}.down", tooltip=f"Next {noun}"),
        Binding("pageup", "page(-1)", "Page up", show=False, id=f"{prefix}.page_up", tooltip="A screenful back"),
        Binding("pagedown", "page(1)", "Page down", show=False, id=f"{prefix}.page_down", tooltip="A screenful on"),
        Binding("home", "cursor_to(0)", "First", show=False, id=f"{prefix}.first", tooltip=f"First {noun}"),
        Binding("end", "cursor_to(-1)", "Last", show=False, id=f"{prefix}.last", tooltip=f"Last {noun}"),
    ]


class CursorView(ScrollView, can_focus=True):
    """`row_count` rows under `HEADER_LINES` fixed lines; subclasses draw them in `render_line`."""

    HEADER_LINES = 0

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.cursor_row = 0

    @property
    def row_count(self) -> int:
        raise NotImplementedError

    def cursor_moved(self, row: int) -> None:
        """Called when the cursor lands on another row."""

    def refresh_row(self, index: int) -> None:
        """Draw a row again after it changed in place."""
        self.refresh_line(index + self.HEADER_LINES)

    def move_cursor(self, row: int) -> None:
        if not self.row_count:
            return
        row = max(0, min(row, self.row_count - 1))
        if row == self.cursor_row:
            return
        previous, self.cursor_row = self.cursor_row, row
        self.refresh_row(previous)
        self.refresh_row(row)
        self._scroll_cursor_into_view()
        self.cursor_moved(row)

    def _scroll_cursor_into_view(self) -> None:
        visible = max(1, self.scrollable_content_region.height - self.HEADER_LINES)
        top = round(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * max(1, self.scrollable_content_region.height - 1 - self.HEADER_LINES))

    def action_cursor_to(self, row: int) -> None:
        self.move_cursor(row if row >= 0 else self.row_count - 1)

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= self.HEADER_LINES:
            self.move_cursor(round(self.scroll_offset.y) + offset.y - self.HEADER_LINES)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
