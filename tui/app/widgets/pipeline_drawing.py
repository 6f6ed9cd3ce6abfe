"""The pipeline drawn as boxes and arrows, each step with its columns, mappings and live counts."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len

from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import Static

from tui.engine.pipeline.draw import draw_text
from tui.engine.pipeline.executor import StepCounts
from tui.engine.pipeline.graph import Pipeline


class PipelineDrawing(ScrollableContainer):
    """The engine's text drawing in a container that scrolls both ways (boxes can be wider than the pane)."""

    DEFAULT_CSS = """
    PipelineDrawing { height: auto; max-height: 30; overflow-x: auto; overflow-y: auto; }
    PipelineDrawing > Static { width: auto; height: auto; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text = ""

    def compose(self) -> ComposeResult:
        yield Static("", markup=False)

    def show(self, pipeline: Pipeline | None, counts: dict[str, StepCounts] | None = None, problem: str = "") -> None:
        """Draw `pipeline`, with each step's counts when given (steps not reached yet count zero)."""
        if pipeline is None:
            text = problem
        else:
            if counts is not None:
                counts = {step.name: counts.get(step.name, StepCounts()) for step in pipeline.ordered()}
            text = draw_text(pipeline, counts)
        if text == self.text:
            return
        # Counts change with every row of a run: the screen is laid out again only if the drawing's size changed.
        layout = _size(text) != _size(self.text)
        self.text = text
        self.query_one(Static).update(text, layout=layout)


def _size(text: str) -> tuple[int, int]:
    lines = text.splitlines()
    return len(lines), max(map(cell_len, lines), default=0)
