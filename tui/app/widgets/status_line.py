"""One-line widgets that draw themselves at once when they change, without a frame of the screen.

The output pane's stage line, progress bar and speed line change a few times a second while a run
streams; as a Static and Textual's ProgressBar (three widgets) each change was a frame of the UI
thread, on two cores taken from llama.cpp. Here the new line is written straight to the
terminal when nothing is in the way (see `fast_paint`), and a frame draws it otherwise.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.renderables.bar import Bar as BarRenderable
from textual.strip import Strip
from textual.widget import Widget

from tui.app import fast_paint


class OneLine(Widget):
    """A widget one line high whose content is drawn by `line_text`."""

    DEFAULT_CSS = "OneLine { height: 1; }"

    def redraw(self) -> None:
        if not fast_paint.paint_lines(self, Region(0, 0, self.content_region.width, 1)):
            self.refresh()

    def line_text(self, width: int) -> Text:
        raise NotImplementedError

    def render_line(self, y: int) -> Strip:
        # Styled here, as the styles cache would: direct paint puts this strip on screen as it is.
        style, width = self.rich_style, self.content_region.width
        if y != 0:
            return Strip.blank(width, style)
        line = self.line_text(width)
        line.truncate(width, overflow="ellipsis")
        return Strip(line.render(self.app.console)).crop_extend(0, width, style).apply_style(style)


class StatusLine(OneLine):
    """A line of plain text, cut with an ellipsis when it is too long."""

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = text

    @property
    def text(self) -> str:
        return self._text

    def update(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.redraw()

    def render(self) -> str:
        return self._text

    def line_text(self, width: int) -> Text:
        return Text(self._text, end="")  # OneLine cuts it to the width


class ProgressLine(OneLine):
    """Samples done over total: Textual's progress bar drawn as one widget, with its percentage.

    Blank while there is no run (total 0): it keeps its line, so showing it at a run's start lays nothing out
    (showing a hidden bar laid the screen out twice).
    """

    COMPONENT_CLASSES = {"progress-line--bar", "progress-line--complete"}
    DEFAULT_CSS = """
    ProgressLine > .progress-line--bar { color: $primary; background: $surface; }
    ProgressLine > .progress-line--complete { color: $success; background: $surface; }
    """
    PERCENT_CELLS = 5  # " 100%"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.total, self.progress = 0, 0

    @property
    def percentage(self) -> float:
        return min(1.0, self.progress / self.total) if self.total > 0 else 0.0

    def update(self, *, total: int | None = None, progress: int | None = None) -> None:
        shown = self.render()
        self.total = self.total if total is None else total
        self.progress = self.progress if progress is None else progress
        if self.render() != shown:
            self.redraw()

    def clear(self) -> None:
        """No run to show: a blank line."""
        self.update(total=0, progress=0)

    def render(self) -> str:
        return f"{self.progress}/{self.total} {self.percentage:.0%}" if self.total > 0 else ""

    def line_text(self, width: int) -> Text:
        if self.total <= 0:
            return Text(end="")
        share = self.percentage
        bar_style = self.get_component_rich_style("progress-line--complete" if share >= 1 else "progress-line--bar")
        bar_width = max(0, width - self.PERCENT_CELLS)
        bar = BarRenderable((0, bar_width * share), Style.from_color(bar_style.color), Style.from_color(bar_style.bgcolor), width=bar_width)
        line = Text(end="")
        for segment in self.app.console.render(bar, self.app.console.options.update_width(bar_width)):
            line.append(segment.text, segment.style)
        return line.append(f"{share:>{self.PERCENT_CELLS}.0%}")
