"""A vertical scroll bar that redraws only the cells whose look changed.

Textual redraws a whole bar whenever its position or size changes, most of the time going to
styling each line. While a run streams that happens with each new line of text (the stream
follows its end), on two cores that time is taken from llama.cpp, and usually only the thumb's two
ends look different.
"""

from __future__ import annotations

from typing import Any

from rich.color import Color
from textual.geometry import Region
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip
from textual.widget import Widget


class LineCachedScrollBar(ScrollBar):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._drawn_for: tuple[Any, ...] = ()
        self._drawn: dict[int, tuple[Any, Strip]] = {}  # line -> (the bar's cell there, its drawn strip)

    def render_lines(self, crop: Region) -> list[Strip]:
        bar = self.render()
        width, height = self.size
        if not self.vertical or not isinstance(bar, ScrollBarRender):
            return super().render_lines(crop)
        style = self.app.console.get_style(bar.style)
        cells = bar.render_bar(
            size=height, virtual_size=bar.virtual_size, window_size=bar.window_size, position=bar.position,
            thickness=width, vertical=True, back_color=style.bgcolor or Color.parse("#555555"),
            bar_color=style.color or Color.parse("bright_magenta"),
        ).segments
        if len(cells) != height:
            return super().render_lines(crop)
        # What else a line's look depends on: when any of it changes, every line is drawn again.
        app = self.app
        context = (self.size, style, self.background_colors, self.opacity, self.styles.tint,
                   tuple(self.get_line_filters()), app.ansi_theme, app.native_ansi_color)
        if context != self._drawn_for:
            self._drawn_for, self._drawn = context, {}
        changed = [y for y in crop.line_range if y not in self._drawn or self._drawn[y][0] != cells[y]]
        if changed:
            first, last = min(changed), max(changed) + 1
            for y, strip in zip(range(first, last), super().render_lines(Region(0, first, width, last - first))):
                self._drawn[y] = (cells[y], strip)
        return [self._drawn[y][1].crop(crop.x, crop.right) for y in crop.line_range]


def use_line_cached_scroll_bar(widget: Widget) -> ScrollBar:
    """Give `widget` a LineCachedScrollBar as its vertical bar (before Textual makes its own).

    Textual makes the bar in `Widget.vertical_scrollbar` the same way; the stream view's tests check
    that the bar in use is this one and that it draws what Textual's bar draws.
    """
    if widget._vertical_scrollbar is None:
        widget._vertical_scrollbar = bar = LineCachedScrollBar(vertical=True, name="vertical", thickness=widget.scrollbar_size_vertical)
        bar.display = False
        widget.app._start_widget(widget, bar)
    return widget._vertical_scrollbar
