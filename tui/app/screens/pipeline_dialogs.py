"""The Pipeline tab's dialogs: choose a step kind, load a pipeline, save one to TOML."""

from __future__ import annotations

import os
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.app import fast_paint
from tui.app.path_suggester import PathSuggester
from tui.app.pipeline_draft import STEP_CHOICES, PipelineDraft
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.dialog import Dialog
from tui.engine.errors import SmolgenError
from tui.engine.pipeline.toml_config import builtin_names


class StepKindScreen(Dialog[str | None]):
    """Dismissed with the kind of step to add, or None."""

    DEFAULT_CSS = "StepKindScreen OptionList { height: auto; max-height: 16; border: none; }"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="pipeline.kind_cancel", tooltip="Add nothing")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Add a step · enter adds · escape cancels"
            yield OptionList(*(Option(title, id=kind) for kind, title, _ in STEP_CHOICES), id="step-kinds")

    def on_mount(self) -> None:
        self.query_one("#step-kinds").focus()

    @on(OptionList.OptionSelected, "#step-kinds")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class PipelineLoadScreen(Dialog[PipelineDraft | None]):
    """A built-in pipeline from the list, or a TOML file by path; a file that cannot load says why here."""

    DEFAULT_CSS = """
    PipelineLoadScreen OptionList { height: auto; border: none; }
    PipelineLoadScreen .heading { margin-top: 1; text-style: bold; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="pipeline.load_cancel", tooltip="Keep the current pipeline")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Load a pipeline · escape cancels"
            yield Label("Built in (enter loads)", classes="heading")
            yield OptionList(*(Option(name, id=name) for name in builtin_names()), id="builtin-pipelines")
            yield Label("Or a TOML file (→ completes the path, enter loads)", classes="heading")
            yield fast_paint.text_input(placeholder="pipeline.toml", id="pipeline-load-path", suggester=PathSuggester((".toml",)))
            yield Static("", id="problem", classes="problem", markup=False)

    def on_mount(self) -> None:
        self.query_one("#builtin-pipelines").focus()

    @on(OptionList.OptionSelected, "#builtin-pipelines")
    def builtin_chosen(self, event: OptionList.OptionSelected) -> None:
        self._load(str(event.option.id))

    @on(Input.Submitted, "#pipeline-load-path")
    def path_entered(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._load(event.value)

    def _load(self, name_or_path: str) -> None:
        try:
            draft = PipelineDraft.load(os.path.expanduser(name_or_path))
        except SmolgenError as error:
            self.query_one("#problem", Static).update(str(error))
            return
        self.dismiss(draft)


class PipelineSaveScreen(Dialog[Path | None]):
    """Writes the pipeline to a TOML file (asking before overwriting); dismissed with the path written."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="pipeline.save_cancel", tooltip="Save nothing")]

    def __init__(self, draft: PipelineDraft) -> None:
        super().__init__()
        self.draft = draft

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Save the pipeline as TOML · enter saves · escape cancels"
            yield Label("File (→ completes the path); `smolgen run FILE` runs it")
            yield fast_paint.text_input(f"{self.draft.name}.toml", id="pipeline-save-path", suggester=PathSuggester((".toml",)))
            yield Static("", id="problem", classes="problem", markup=False)

    def on_mount(self) -> None:
        self.query_one("#pipeline-save-path").focus()

    @on(Input.Submitted, "#pipeline-save-path")
    def path_entered(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#problem", Static).update("Type a file name, e.g. my-pipeline.toml")
            return
        path = Path(os.path.expanduser(text))
        if path.suffix != ".toml":
            path = path.with_name(path.name + ".toml")  # `smolgen run` tells files from built-ins by the suffix
        if path.exists():
            self.app.push_screen(ConfirmScreen(f"{path} exists. Overwrite it?", "Overwrite"),
                                 lambda yes: self._save(path) if yes else None)
        else:
            self._save(path)

    def _save(self, path: Path) -> None:
        try:
            self.draft.save(path)
        except SmolgenError as error:
            self.query_one("#problem", Static).update(str(error))
            return
        self.dismiss(path)
