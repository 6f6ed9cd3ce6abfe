"""The steps of the pipeline in order, with the keys that add, remove and move them."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.app.pipeline_draft import KIND_TITLES


class PipelineStepList(OptionList):
    """One line per step: its number, name and kind. The keys only say what to do; the tab does it."""

    DEFAULT_CSS = """
    PipelineStepList { height: auto; max-height: 12; border: none; }
    """
    BINDINGS = [
        Binding("a", "step('add')", "Add step", id="pipeline.add_step", tooltip="Add a step after the highlighted one"),
        Binding("d,delete", "step('remove')", "Remove step", id="pipeline.remove_step", tooltip="Remove the highlighted step"),
        Binding("shift+up", "step('up')", "Move up", id="pipeline.move_up", tooltip="Move the highlighted step up"),
        Binding("shift+down", "step('down')", "Move down", id="pipeline.move_down", tooltip="Move the highlighted step down"),
        Binding("e", "step('edit')", "Edit step", id="pipeline.edit_step", tooltip="Edit the highlighted step's settings"),
    ]

    class Asked(Message):
        """A key asked for `what` (add, remove, up, down, edit) on the step at `index` (None when empty)."""

        def __init__(self, what: str, index: int | None) -> None:
            super().__init__()
            self.what = what
            self.index = index

    def show_steps(self, steps: list[dict[str, Any]], highlighted: int | None) -> None:
        """List the steps, keeping the highlight where the caller says."""
        self.clear_options()
        for number, table in enumerate(steps, start=1):
            kind = str(table.get("type"))
            line = Text.assemble((f"{number}. ", "dim"), (str(table.get("name")), "bold"), (f" · {KIND_TITLES.get(kind, kind)}", "dim"))
            self.add_option(Option(line))
        if steps:
            self.highlighted = min(highlighted or 0, len(steps) - 1)

    def action_step(self, what: str) -> None:
        self.post_message(self.Asked(what, self.highlighted))
