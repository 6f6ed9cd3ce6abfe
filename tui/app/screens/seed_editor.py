"""Add or edit one seed: plain text for a one-column seed, JSON for a seed with several columns."""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, Static, TextArea

from tui.app.screens.dialog import Dialog


class SeedEditorScreen(Dialog[dict[str, Any] | None]):
    """Dismissed with the seed's new row, or None when cancelled."""

    DEFAULT_CSS = """
    SeedEditorScreen .dialog { height: 20; }
    SeedEditorScreen TextArea { height: 1fr; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save seed", id="seed_editor.save", tooltip="Save the seed to the store"),
        Binding("escape", "cancel", "Cancel", id="seed_editor.cancel", tooltip="Close without saving"),
    ]

    def __init__(self, row: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.row = row
        self.as_json = row is not None and set(row) != {"text"}

    def compose(self) -> ComposeResult:
        title = "New seed" if self.row is None else "Edit seed"
        with Vertical(classes="dialog") as box:
            box.border_title = title
            if self.as_json:
                yield Label("The seed's columns as a JSON object (templates read them by name).", classes="hint")
                text = json.dumps(self.row, ensure_ascii=False, indent=2)
            else:
                yield Label("The seed's text: an instruction or a passage of context ({{ text }} in templates).", classes="hint", markup=False)
                text = (self.row or {}).get("text", "")
            yield TextArea(text, id="seed-text", soft_wrap=True, language="json" if self.as_json else None)
            yield Static("", id="problem", classes="problem", markup=False)
            yield Label("ctrl+s save · escape cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        text = self.query_one("#seed-text", TextArea).text
        problem = self.query_one("#problem", Static)
        if not text.strip():
            problem.update("A seed needs some text.")
            return
        if not self.as_json:
            self.dismiss({"text": text.strip()})
            return
        try:
            row = json.loads(text)
        except json.JSONDecodeError as error:
            problem.update(f"line {error.lineno}: not valid JSON ({error.msg})")
            return
        if not isinstance(row, dict) or not row:
            problem.update("A seed is a JSON object with at least one column.")
            return
        self.dismiss(row)

    def action_cancel(self) -> None:
        self.dismiss(None)
