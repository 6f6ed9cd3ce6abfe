"""The pipeline drawn as boxes and arrows, each step with its columns, mappings and live counts."""

from __future__ import annotations

from typing import Any

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
            self.text = problem
        else:
            if counts is not None:
                counts = {step.name: counts.get(step.name, StepCounts()) for step in pipeline.ordered()}
            self.text = draw_text(pipeline, counts)
        self.query_one(Static).update(self.text)
