"""Edit a sample's conversation in a modal TextArea; the store keeps the model's original beside it."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, Static, TextArea

from tui.app.conversation_text import conversation_to_text, text_to_conversation
from tui.app.screens.dialog import Dialog
from tui.engine.chat_template import Message
from tui.engine.errors import BadInput


class EditSampleScreen(Dialog[list[Message] | None]):
    """Dismissed with the edited conversation, or None when cancelled."""

    DEFAULT_CSS = """
    EditSampleScreen .dialog { width: 100; height: 90%; }
    EditSampleScreen TextArea { height: 1fr; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save edit", id="edit_sample.save", tooltip="Store the edited conversation"),
        Binding("escape", "cancel", "Cancel", id="edit_sample.cancel", tooltip="Close without saving"),
    ]

    def __init__(self, sample: dict[str, Any]) -> None:
        super().__init__()
        self.sample = sample

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = f"Edit sample #{self.sample['id']}"
            yield Label("Each message starts with its role on its own line: [system], [user], [assistant].", classes="hint", markup=False)
            yield TextArea(conversation_to_text(self.sample.get("conversation") or []), id="conversation-text", soft_wrap=True)
            yield Static("", id="problem", classes="problem", markup=False)
            yield Label("ctrl+s saves (the model's original is kept) · escape cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        try:
            conversation = text_to_conversation(self.query_one("#conversation-text", TextArea).text)
        except BadInput as error:
            self.query_one("#problem", Static).update(str(error))
            return
        self.dismiss(conversation)

    def action_cancel(self) -> None:
        self.dismiss(None)
