"""The export dialog: format, statuses, truncated samples or not, and path; it warns before overwriting and
reports rows written and left out."""

from __future__ import annotations

import os
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, SelectionList, Static
from textual.widgets.selection_list import Selection

from tui.app.path_suggester import PathSuggester
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.dialog import Dialog
from tui.engine.errors import SmolgenError
from tui.engine.export import FORMATS, ExportResult, export_samples, is_truncated
from tui.engine.store import REVIEW_STATUSES, SampleStore

def default_export_path(store: SampleStore, fmt: str) -> str:
    """`<store name>-<format>.jsonl` beside the store (in the working folder when the store is read-only),
    relative to the working folder when inside it."""
    path = (Path.cwd() if store.read_only else store.path.parent) / f"{store.path.stem}-{fmt}.jsonl"
    relative = os.path.relpath(path.resolve(), Path.cwd())
    return relative if not relative.startswith("..") else str(path)


class ExportScreen(Dialog[ExportResult | None]):
    """Dismissed with what was written, or None when cancelled."""

    DEFAULT_CSS = """
    ExportScreen .dialog { width: 72; }
    ExportScreen RadioSet, ExportScreen SelectionList { width: 1fr; height: auto; }
    ExportScreen .heading { margin-top: 1; text-style: bold; }
    ExportScreen #export-count { color: $text-muted; }
    ExportScreen Horizontal { height: auto; align-horizontal: right; }
    ExportScreen Button { margin-left: 2; }
    /* The chosen format and statuses have a filled box, the others an empty one. */
    ExportScreen RadioSet > RadioButton > .toggle--button, ExportScreen SelectionList > .selection-list--button,
    ExportScreen SelectionList > .selection-list--button-highlighted { color: $panel; background: $panel; }
    ExportScreen RadioSet > RadioButton.-on > .toggle--button, ExportScreen SelectionList > .selection-list--button-selected,
    ExportScreen SelectionList > .selection-list--button-selected-highlighted {
        color: $background; background: $success; text-style: bold;
    }
    """
    BINDINGS = [
        Binding("ctrl+s", "export", "Export", id="export.run", tooltip="Write the file"),
        Binding("escape", "cancel", "Cancel", id="export.cancel", tooltip="Close without exporting"),
    ]

    def __init__(self, store: SampleStore) -> None:
        super().__init__()
        self.store = store
        self.format = next(iter(FORMATS))

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog") as box:
            box.border_title = "Export samples"
            yield Label("Format", classes="heading")
            with RadioSet(id="export-format"):
                for fmt in FORMATS:
                    yield RadioButton(f"{fmt} · {FORMATS[fmt].summary}", value=fmt == self.format, id=f"format-{fmt}")
            yield Label("Statuses (space toggles)", classes="heading")
            yield SelectionList[str](
                *(Selection(status, status, status == "accepted") for status in REVIEW_STATUSES), id="export-statuses"
            )
            yield Checkbox("Include truncated samples (cut off by a token cap)", False, id="export-truncated")
            yield Label("File (→ completes the path)", classes="heading")
            yield Input(default_export_path(self.store, self.format), id="export-path", suggester=PathSuggester((".jsonl",)))
            yield Static("", id="export-count", markup=False)
            yield Static("", id="problem", classes="problem", markup=False)
            with Horizontal():
                yield Button("Cancel (esc)", id="cancel")
                yield Button("Export (ctrl+s)", id="export", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#export-format", RadioSet).focus()
        self._show_count()

    def statuses(self) -> list[str]:
        return list(self.query_one("#export-statuses", SelectionList).selected)

    def includes_truncated(self) -> bool:
        return self.query_one("#export-truncated", Checkbox).value

    def _show_count(self) -> None:
        statuses = self.statuses()
        samples = self.store.list_samples(statuses=statuses) if statuses else []
        truncated = sum(map(is_truncated, samples))
        left_out = f", {truncated} of them truncated and left out" if truncated and not self.includes_truncated() else ""
        self.query_one("#export-count", Static).update(f"{len(samples)} samples have the statuses chosen{left_out}")

    @on(RadioSet.Changed, "#export-format")
    def format_changed(self, event: RadioSet.Changed) -> None:
        path_input = self.query_one("#export-path", Input)
        follows_format = path_input.value == default_export_path(self.store, self.format)
        self.format = (event.pressed.id or "").removeprefix("format-")
        if follows_format:
            path_input.value = default_export_path(self.store, self.format)

    @on(SelectionList.SelectedChanged, "#export-statuses")
    @on(Checkbox.Changed, "#export-truncated")
    def choice_changed(self) -> None:
        self._show_count()

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export")
    def action_export(self) -> None:
        statuses = self.statuses()
        out = Path(os.path.expanduser(self.query_one("#export-path", Input).value.strip()))
        if not statuses:
            self._problem("Choose at least one status.")
        elif not out.name:
            self._problem("Give the file to write.")
        elif out.exists() and not out.is_dir():
            question = f"{out} already exists. Overwrite it?"
            self.app.push_screen(ConfirmScreen(question, "Overwrite"), lambda yes: self._write(out, statuses) if yes else None)
        else:
            self._write(out, statuses)

    def _write(self, out: Path, statuses: list[str]) -> None:
        try:
            result = export_samples(self.store.list_samples(statuses=statuses), self.format, out, overwrite=True,
                                    include_truncated=self.includes_truncated())
        except (SmolgenError, OSError) as error:
            self._problem(str(error))
            return
        left_out = result.left_out(self.format, "its checkbox")
        if not result.written:
            why = f"every sample chosen was left out{left_out}" if left_out else "no sample has the statuses chosen"
            self._problem(f"{out}: not written, {why}")
            return
        self.notify(f"Wrote {result.written} rows ({self.format}, {', '.join(statuses)}) to {result.path}{left_out}", markup=False)
        self.dismiss(result)

    def _problem(self, text: str) -> None:
        self.query_one("#problem", Static).update(text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
