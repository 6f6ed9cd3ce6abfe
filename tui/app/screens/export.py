"""The export dialog: format, statuses, truncated samples or not, and path; it warns before overwriting and
reports rows written and left out. `dpo` writes the preference pairs (a least margin, or only the pairs a
person picked, if asked). The `hf` format writes a folder for the Hub instead of a file: it asks for the
folder, the test share and the license (config.toml's `export_license` first), and asks before writing
into a folder that is not empty."""

from __future__ import annotations

import os
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, SelectionList, Static
from textual.widgets.selection_list import Selection

from tui.app import fast_paint
from tui.app.path_suggester import PathSuggester
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.dialog import Dialog
from tui.engine.chat_template import ChatTemplate
from tui.engine.dataset_card import upload_command
from tui.engine.errors import BadInput, SmolgenError
from tui.engine.export import FORMATS, HUB_FOLDER, PAIR_FORMAT, ExportResult, PairExportResult, export_pairs, export_samples, is_truncated
from tui.engine.hub_folder import HubFolderResult, check_test_size, export_hub_folder
from tui.engine.preferences import TECHNIQUE as PREFERENCE
from tui.engine.store import REVIEW_STATUSES, SampleStore

FORMAT_SUMMARIES = {**{name: fmt.summary for name, fmt in FORMATS.items()},
                    PAIR_FORMAT: "preference pairs: prompt, chosen, rejected (TRL)", HUB_FOLDER: "a folder for the Hugging Face Hub"}
DEFAULT_LICENSE = "apache-2.0"

def default_export_path(store: SampleStore, fmt: str) -> str:
    """`<store name>-<format>.jsonl` (a folder `<store name>-hf` for the Hub) beside the store (in the working
    folder when the store is read-only), relative to the working folder when inside it."""
    name = f"{store.path.stem}-{fmt}" + ("" if fmt == HUB_FOLDER else ".jsonl")
    path = (Path.cwd() if store.read_only else store.path.parent) / name
    relative = os.path.relpath(path.resolve(), Path.cwd())
    return relative if not relative.startswith("..") else str(path)


class ExportScreen(Dialog[ExportResult | PairExportResult | HubFolderResult | None]):
    """Dismissed with what was written, or None when cancelled."""

    DEFAULT_CSS = """
    ExportScreen .dialog { width: 72; }
    ExportScreen RadioSet, ExportScreen SelectionList { width: 1fr; height: auto; }
    ExportScreen .heading { margin-top: 1; text-style: bold; }
    ExportScreen #export-count { color: $text-muted; }
    ExportScreen #export-hub, ExportScreen #export-pairs { display: none; }
    ExportScreen #export-hub.-shown, ExportScreen #export-pairs.-shown { display: block; align-horizontal: left; }
    ExportScreen #export-hub Label, ExportScreen #export-pairs Label { margin: 1 1 0 0; }
    ExportScreen #export-test-size, ExportScreen #export-min-margin { width: 10; }
    ExportScreen #export-license { width: 1fr; }
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
        Binding("ctrl+s", "export", "Export", id="export.run", tooltip="Write the file (the folder for hf)"),
        Binding("escape", "cancel", "Cancel", id="export.cancel", tooltip="Close without exporting"),
    ]

    def __init__(self, store: SampleStore, chat_template: ChatTemplate | None = None, license: str | None = None) -> None:
        """`chat_template`: what `text` renders with (the loaded model's); None for the embedded model's.
        `license`: the one a Hub folder's card names unless changed here (config.toml's `export_license`)."""
        super().__init__()
        self.store = store
        self.chat_template = chat_template
        self.license = license or DEFAULT_LICENSE
        self.format = next(iter(FORMATS))

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog") as box:
            box.border_title = "Export samples"
            yield Label("Format", classes="heading")
            with RadioSet(id="export-format"):
                for fmt, summary in FORMAT_SUMMARIES.items():
                    yield RadioButton(f"{fmt} · {summary}", value=fmt == self.format, id=f"format-{fmt}")
            yield Label("Statuses (space toggles)", classes="heading")
            yield SelectionList[str](
                *(Selection(status, status, status == "accepted") for status in REVIEW_STATUSES), id="export-statuses"
            )
            yield Checkbox("Include truncated samples (cut off by a token cap)", False, id="export-truncated")
            yield Label("File (→ completes the path)", classes="heading", id="export-path-label")
            yield fast_paint.text_input(default_export_path(self.store, self.format), id="export-path", suggester=PathSuggester((".jsonl",)))
            with Horizontal(id="export-hub"):
                yield Label("Test share")
                yield fast_paint.text_input("0.1", id="export-test-size")
                yield Label("License")
                yield fast_paint.text_input(self.license, id="export-license")
            with Horizontal(id="export-pairs"):
                yield Label("Least margin")
                yield fast_paint.text_input("", placeholder="any", id="export-min-margin")
                yield Checkbox("Only the pairs a person picked", False, id="export-human-only")
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
        pairs = self.format == PAIR_FORMAT
        samples = self.store.list_samples(statuses=statuses, technique=PREFERENCE if pairs else None) if statuses else []
        if pairs:
            self.query_one("#export-count", Static).update(f"{len(samples)} preference samples have the statuses chosen")
            return
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
        hub = self.format == HUB_FOLDER
        self.query_one("#export-hub").set_class(hub, "-shown")
        self.query_one("#export-pairs").set_class(self.format == PAIR_FORMAT, "-shown")
        self.query_one("#export-path-label", Label).update(f"{'Folder' if hub else 'File'} (→ completes the path)")
        self._show_count()

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
            self._problem(f"Give the {'folder' if self.format == HUB_FOLDER else 'file'} to write.")
        elif self.format == HUB_FOLDER:
            self._ask_then_write_folder(out, statuses)
        elif out.exists() and not out.is_dir():
            question = f"{out} already exists. Overwrite it?"
            self.app.push_screen(ConfirmScreen(question, "Overwrite"), lambda yes: self._write(out, statuses) if yes else None)
        else:
            self._write(out, statuses)

    def _ask_then_write_folder(self, out: Path, statuses: list[str]) -> None:
        text = self.query_one("#export-test-size", Input).value.strip()
        try:
            test_size = float(text)
        except ValueError:
            self._problem(f"Test share {text!r}: not a number; 0.1 keeps a tenth for testing")
            return
        try:
            check_test_size(test_size)
        except BadInput as error:
            self._problem(str(error).replace("--test-size", "Test share"))
            return
        if out.is_dir() and any(out.iterdir()):
            question = f"{out} is not empty. Write the dataset into it? (its README.md and data files are replaced, other files stay)"
            self.app.push_screen(ConfirmScreen(question, "Write into it"),
                                 lambda yes: self._write_folder(out, statuses, test_size) if yes else None)
        else:
            self._write_folder(out, statuses, test_size)

    def _write_folder(self, out: Path, statuses: list[str], test_size: float) -> None:
        try:
            result = export_hub_folder(
                self.store.iter_samples(statuses=statuses), out, runs={run["id"]: run for run in self.store.list_runs()},
                store_statuses=self.store.status_counts(), statuses=statuses, test_size=test_size,
                license=self.query_one("#export-license", Input).value.strip() or self.license, force=True,
                include_truncated=self.includes_truncated(),
            )
        except (SmolgenError, OSError) as error:
            self._problem(str(error))
            return
        left_out = result.export.left_out("messages", "its checkbox")
        if not result.export.written:
            self._nothing_written(out, left_out)
            return
        splits = " and ".join(f"{count} {split}" for split, count in result.splits.items())
        self.notify(f"Wrote {splits} rows and README.md to {out}{left_out}. Nothing uploaded; to publish: {upload_command(out)}",
                    markup=False, timeout=20)
        self.dismiss(result)

    def _write(self, out: Path, statuses: list[str]) -> None:
        if self.format == PAIR_FORMAT:
            self._write_pairs(out, statuses)
            return
        try:
            result = export_samples(self.store.iter_samples(statuses=statuses), self.format, out, overwrite=True,
                                    include_truncated=self.includes_truncated(), chat_template=self.chat_template)
        except (SmolgenError, OSError) as error:
            self._problem(str(error))
            return
        left_out = result.left_out(self.format, "its checkbox")
        if not result.written:
            self._nothing_written(out, left_out)
            return
        self.notify(f"Wrote {result.written} rows ({self.format}, {', '.join(statuses)}) to {result.path}{left_out}", markup=False)
        self.dismiss(result)

    def _write_pairs(self, out: Path, statuses: list[str]) -> None:
        text = self.query_one("#export-min-margin", Input).value.strip()
        try:
            min_margin = float(text) if text else None
        except ValueError:
            self._problem(f"Least margin {text!r}: not a number; ratings run from 1 to 5")
            return
        try:
            result = export_pairs(self.store.iter_samples(statuses=statuses), out, overwrite=True, min_margin=min_margin,
                                  human_only=self.query_one("#export-human-only", Checkbox).value,
                                  include_truncated=self.includes_truncated())
        except (SmolgenError, OSError) as error:
            self._problem(str(error).replace("--min-margin", "Least margin"))
            return
        left_out = result.left_out("the least margin", "only the pairs a person picked", "its checkbox")
        if not result.written:
            self._problem(f"{out}: not written, no pair among the preference samples chosen{left_out}")
            return
        self.notify(f"Wrote {result.written} pairs ({PAIR_FORMAT}, {', '.join(statuses)}) to {result.path}{left_out}", markup=False)
        self.dismiss(result)

    def _nothing_written(self, out: Path, left_out: str) -> None:
        why = f"every sample chosen was left out{left_out}" if left_out else "no sample has the statuses chosen"
        self._problem(f"{out}: not written, {why}")

    def _problem(self, text: str) -> None:
        self.query_one("#problem", Static).update(text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
