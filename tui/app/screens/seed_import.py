"""Import seeds from a file (.txt, .jsonl, .csv), the path typed with completion."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from tui.app import fast_paint
from tui.app.path_suggester import PathSuggester
from tui.app.screens.dialog import Dialog
from tui.engine.errors import BadInput
from tui.engine.seeds import SEED_SUFFIXES, SeedFile, read_seed_file


class SeedImportScreen(Dialog[SeedFile | None]):
    """Dismissed with the file's seeds once it reads, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="seed_import.cancel", tooltip="Close without importing")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Import seeds"
            yield Label("One seed per line (.txt), JSON Lines (.jsonl) or CSV with a header (.csv).", classes="hint")
            yield fast_paint.text_input(placeholder="path/to/seeds.txt", id="seed-path", suggester=PathSuggester(SEED_SUFFIXES))
            yield Static("", id="problem", classes="problem", markup=False)
            yield Label("→ completes the path · enter imports · escape cancels", classes="hint")

    @on(Input.Submitted, "#seed-path")
    def import_file(self, event: Input.Submitted) -> None:
        try:
            seed_file = read_seed_file(event.value.strip())
        except BadInput as error:
            self.query_one("#problem", Static).update(str(error))
            return
        self.dismiss(seed_file)

    def action_cancel(self) -> None:
        self.dismiss(None)
