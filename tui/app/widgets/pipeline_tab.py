"""The Pipeline tab: build a chain of steps by keys, edit each step, load and save TOML, watch it run.

A key that needs a dialog (the kind of step to add, the pipeline to load, where to save) posts a
request; the screen opens the dialog and hands its answer back to the tab.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Checkbox, Input, Label, OptionList, Static

from tui.app import fast_paint
from tui.app.pipeline_draft import KIND_TITLES, PipelineDraft
from tui.app.pipeline_run import PipelineRunRequest, pipeline_request
from tui.app.widgets.pipeline_drawing import PipelineDrawing
from tui.app.widgets.pipeline_step_form import PipelineStepForm
from tui.app.widgets.pipeline_step_list import PipelineStepList
from tui.engine.errors import BadInput
from tui.engine.pipeline.executor import PipelineSummary, StepCounts
from tui.engine.pipeline.graph import Pipeline
from tui.engine.prompts import PromptLibrary
from tui.engine.technique_guides import GUIDES

# A step form's edits are checked by the engine once typing pauses this long.
CHECK_AFTER_SECONDS = 0.15


# The tab's keys, bound on the main screen so that they work as soon as the tab is in front, wherever the
# focus is; each runs the PipelineTab action it names.
PIPELINE_BINDINGS = [
    Binding("f5", "pipeline_key('load')", "Load pipeline", id="pipeline.load", tooltip="Load a built-in pipeline or a TOML file"),
    Binding("f6", "pipeline_key('save')", "Save pipeline", id="pipeline.save", tooltip="Save the pipeline as a TOML file"),
    Binding("f7", "pipeline_key('show_drawing')", "Drawing", id="pipeline.drawing", tooltip="Scroll to the drawing and focus it"),
    Binding("f8", "pipeline_key('toggle_cache')", "No cache", id="pipeline.no_cache",
            tooltip="Switch between reusing cached step outputs and generating again"),
]


def summary_text(summary: PipelineSummary) -> str:
    """The end of a run: what was stored, then each step's counts and failure reasons."""
    status = {"finished": "Finished", "cancelled": "Cancelled (resume with ctrl+g: nothing is generated twice)"}
    lines = [f"{status.get(summary.status, summary.status)} · {summary.stored} new samples stored"
             f" ({summary.already_stored} already stored) · {summary.wall_seconds:.1f} s"]
    for name, counts in summary.steps.items():
        line = f"  {name}: done {counts.generated} · cached {counts.cached} · failed {counts.failed} · rows {counts.rows}"
        if counts.failures:
            line += " · failed because " + ", ".join(f"{reason} ×{n}" for reason, n in counts.failures.items())
        if counts.rejected:
            line += " · filtered out " + ", ".join(f"{reason} ×{n}" for reason, n in counts.rejected.items())
        lines.append(line)
    return "\n".join(lines)


class PipelineTab(VerticalScroll):
    """The pipeline being edited (`draft`), checked by the engine after every change."""

    DEFAULT_CSS = """
    PipelineTab { padding: 0 1; }
    PipelineTab #pipeline-header { height: 1; }
    PipelineTab .technique-summary { color: $text-muted; height: auto; }
    PipelineTab #pipeline-header Label { padding: 0 1 0 0; }
    PipelineTab #pipeline-name { width: 1fr; margin-right: 1; }
    PipelineTab #pipeline-no-cache { width: auto; }
    PipelineTab #pipeline-problem { color: $error; height: auto; }
    PipelineTab #pipeline-status { color: $text-muted; height: auto; }
    PipelineTab .group { text-style: bold; color: $accent; margin-top: 1; }
    PipelineTab #pipeline-step-slot { height: auto; }
    """

    @dataclass
    class StepKindRequested(Message):
        """a: ask which kind of step to add after step `after`, then call `add_step` with it."""

        after: int | None

    @dataclass
    class LoadRequested(Message):
        """f5: ask for a pipeline to load, then call `load_draft` with it."""

    @dataclass
    class SaveRequested(Message):
        """f6: ask where to save `draft`, then call `show_saved` with the path written."""

        draft: PipelineDraft

    def __init__(self, prompts: PromptLibrary, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompts = prompts
        self.draft = PipelineDraft.new()
        self.selected = 0
        self.pipeline: Pipeline | None = None
        self.problem: str | None = None
        self._check_timer: Timer | None = None
        self.running = False
        self._run_pipeline: Pipeline | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"{GUIDES['pipeline'].summary} F1: an example.", classes="technique-summary", markup=False)
        with Horizontal(id="pipeline-header"):
            yield Label("Name")
            yield fast_paint.text_input(self.draft.name, id="pipeline-name", compact=True, select_on_focus=False)
            yield Checkbox("No cache", id="pipeline-no-cache", compact=True)
        yield Static("", id="pipeline-problem", markup=False)
        yield Static("f5 loads chapter or evol-chain · ctrl+g runs", id="pipeline-status", markup=False)
        yield Label("Steps · a add · d remove · shift+↑/↓ move · enter edits", classes="group")
        yield PipelineStepList(id="pipeline-steps")
        yield Label("Drawing", classes="group")
        yield PipelineDrawing(id="pipeline-drawing")
        yield Label("Step settings", id="pipeline-step-title", classes="group")
        yield Vertical(id="pipeline-step-slot")

    async def on_mount(self) -> None:
        await self._show_all()

    @property
    def step_list(self) -> PipelineStepList:
        return self.query_one(PipelineStepList)

    @property
    def drawing(self) -> PipelineDrawing:
        return self.query_one(PipelineDrawing)

    @property
    def use_cache(self) -> bool:
        return not self.query_one("#pipeline-no-cache", Checkbox).value

    # Showing the draft ----------------------------------------------------------------------------

    async def _show_all(self) -> None:
        self.step_list.show_steps(self.draft.steps, self.selected)
        self._check()
        await self._show_form()

    def _check(self) -> None:
        """Let the engine build and validate the draft; show its problem and the drawing."""
        self.pipeline, self.problem = self.draft.checked()
        shown = self.query_one("#pipeline-problem", Static)
        shown.update(self.problem or "")
        shown.display = self.problem is not None
        # An edit redraws without counts: they belong to the pipeline that ran, not to the edited one.
        self.drawing.show(self.pipeline, problem="(the pipeline cannot be drawn until the problem above is fixed)")

    async def _show_form(self) -> None:
        slot = self.query_one("#pipeline-step-slot", Vertical)
        await slot.remove_children()  # gone before the next form, which has the same id, is mounted
        title = self.query_one("#pipeline-step-title", Label)
        if not self.draft.steps:
            title.update("Step settings · no steps: a adds one")
            return
        table = self.draft.steps[self.selected]
        kind = str(table.get("type"))
        title.update(f"Step settings · {table.get('name')} ({KIND_TITLES.get(kind, kind)})")
        columns = None
        if self.pipeline is not None:
            step = self.pipeline.ordered()[self.selected]
            columns = (step.inputs, step.outputs)
        await slot.mount(PipelineStepForm(self.selected, table, columns, self.prompts, id="pipeline-step-form"))

    async def set_draft(self, draft: PipelineDraft) -> None:
        self.draft, self.selected = draft, 0
        self.query_one("#pipeline-name", Input).value = draft.name
        await self._show_all()

    def _status(self, text: str) -> None:
        self.query_one("#pipeline-status", Static).update(text)

    # Editing by keys ------------------------------------------------------------------------------

    def _editable(self) -> bool:
        if self.running:
            self.notify("The pipeline is running: escape cancels it, then edit.", severity="warning")
        return not self.running

    @on(PipelineStepList.Asked)
    async def step_asked(self, event: PipelineStepList.Asked) -> None:
        if event.what == "edit":
            self._edit(event.index)
            return
        if not self._editable():
            return
        if event.what == "add":
            self.post_message(self.StepKindRequested(event.index))
            return
        if event.index is None:
            return
        if event.what == "remove":
            removed = self.draft.steps[event.index].get("name")
            self.draft.remove(event.index)
            self.selected = max(0, min(event.index, len(self.draft.steps) - 1))
            self._status(f"Removed step {removed}")
        else:
            self.selected = self.draft.move(event.index, -1 if event.what == "up" else 1)
        await self._show_all()

    async def add_step(self, after: int | None, kind: str | None) -> None:
        """Add a step of `kind` after step `after` (None: the kind dialog was cancelled)."""
        if kind is None:
            return
        self.selected = self.draft.add(kind, after)
        self._status(f"Added step {self.draft.steps[self.selected]['name']}")
        await self._show_all()
        self.step_list.focus()

    def _edit(self, index: int | None) -> None:
        if index is not None and self.query("#pipeline-step-form"):
            self.query_one(PipelineStepForm).focus_first()

    @on(OptionList.OptionSelected, "#pipeline-steps")
    def step_chosen(self, event: OptionList.OptionSelected) -> None:
        self._edit(event.option_index)

    @on(OptionList.OptionHighlighted, "#pipeline-steps")
    async def step_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.selected:
            self.selected = event.option_index
            await self._show_form()

    @on(PipelineStepForm.Changed)
    def step_changed(self, event: PipelineStepForm.Changed) -> None:
        # Typing posts a change per key: the list, the engine's check and the drawing (a layout of the
        # screen each) follow once the keys pause. Running or saving first catches up (`_checked_now`).
        self.draft.steps[event.index] = event.table
        if self._check_timer is not None:
            self._check_timer.stop()
        self._check_timer = self.set_timer(CHECK_AFTER_SECONDS, self._checked_now)

    def _checked_now(self) -> None:
        if self._check_timer is not None:
            self._check_timer.stop()
            self._check_timer = None
            self.step_list.show_steps(self.draft.steps, self.selected)
            self._check()

    @on(Input.Changed, "#pipeline-name")
    def name_changed(self, event: Input.Changed) -> None:
        if event.value.strip() and event.value.strip() != self.draft.name:
            self.draft.name = event.value.strip()
            self._check()

    def action_load(self) -> None:
        if self._editable():
            self.post_message(self.LoadRequested())

    async def load_draft(self, draft: PipelineDraft | None) -> None:
        """Show a loaded pipeline (None: the load dialog was cancelled)."""
        if draft is not None:
            await self.set_draft(draft)
            loaded = f"Loaded {draft.name}: {draft.description}" if draft.description else f"Loaded {draft.name}"
            self._status(" · ".join(filter(None, [loaded, draft.runs_on()])))
            self.step_list.focus()

    def action_save(self) -> None:
        self._checked_now()
        self.post_message(self.SaveRequested(self.draft))

    def show_saved(self, path: Path | None) -> None:
        """Say where the pipeline was saved, and whether it can run (None: the save dialog was cancelled)."""
        if path is not None:
            self._status(f"Saved {self.draft.name} to {path} · smolgen run {path}")
            if self.problem is None:
                self.notify(f"Saved the pipeline to {path}", markup=False)
            else:
                self.notify(f"Saved to {path}, but it cannot run yet: {self.problem}", severity="warning", markup=False)

    def action_show_drawing(self) -> None:
        self.drawing.focus()
        self.drawing.scroll_visible()

    def action_toggle_cache(self) -> None:
        switch = self.query_one("#pipeline-no-cache", Checkbox)
        switch.value = not switch.value

    @on(Checkbox.Changed, "#pipeline-no-cache")
    def cache_switched(self, event: Checkbox.Changed) -> None:
        self._status("Next run generates again (new samples)" if event.value else "Next run reuses cached step outputs")

    # Running --------------------------------------------------------------------------------------

    def run_request(self, limit: int | None) -> PipelineRunRequest | None:
        """The run of the pipeline shown, or None when it cannot run (the engine's reason is shown)."""
        self._checked_now()
        if self.pipeline is None or self.problem is not None:
            self.notify(f"The pipeline cannot run: {self.problem}", severity="error", timeout=10, markup=False)
            return None
        try:
            pipeline = self.draft.build()  # a pipeline of its own: edits during the run do not touch it
            return pipeline_request(pipeline, self.app.store, limit, self.use_cache, self.draft.runs_on())
        except BadInput as error:
            self.notify(str(error), severity="error", timeout=10, markup=False)
            self._status(str(error))
            return None

    def run_started(self, request: PipelineRunRequest) -> None:
        self.running = True
        self._run_pipeline = request.pipeline
        self.drawing.show(request.pipeline, {})
        self._status(f"{request.title} · running · escape cancels")
        self.drawing.scroll_visible(animate=False)

    def run_progress(self, counts: dict[str, StepCounts]) -> None:
        if self._run_pipeline is not None:
            self.drawing.show(self._run_pipeline, counts)

    def run_ended(self, summary: PipelineSummary) -> None:
        self.running = False
        if self._run_pipeline is not None:
            self.drawing.show(self._run_pipeline, summary.steps)
        self._status(summary_text(summary))

    def run_failed(self, message: str) -> None:
        self.running = False
        self._status(f"Stopped by an error: {message}")
