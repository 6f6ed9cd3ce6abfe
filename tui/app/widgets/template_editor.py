"""A technique's prompt template in a TextArea; saving checks the Jinja2 and writes the user's copy.

The shipped template is never overwritten: a saved edit goes to the user's prompts folder, which
the library searches first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, Static, TextArea

from tui.app.widgets.rewrapped_text_area import RewrappedTextArea
from tui.engine.errors import TemplateProblem
from tui.engine.prompts import TEMPLATE_SUFFIX, PromptLibrary


class TemplateEditor(Vertical):
    """Shows and edits one template by name; ctrl+s saves it."""

    DEFAULT_CSS = """
    TemplateEditor { height: auto; }
    TemplateEditor TextArea { height: 8; }
    TemplateEditor .origin { color: $text-muted; }
    TemplateEditor .template-problem { color: $error; height: auto; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save template", id="template.save", tooltip="Check the template and save your copy"),
    ]

    class Saved(Message):
        """The template was saved to the user's folder."""

        def __init__(self, editor: "TemplateEditor", path: Path) -> None:
            super().__init__()
            self.editor = editor
            self.path = path

        @property
        def control(self) -> "TemplateEditor":
            return self.editor

    def __init__(self, prompts: PromptLibrary, name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompts = prompts
        self.template_name = name

    def compose(self) -> ComposeResult:
        yield Label("", classes="origin")
        yield RewrappedTextArea("", soft_wrap=True, classes="template-source")
        yield Static("", classes="template-problem", markup=False)

    def on_mount(self) -> None:
        self.show_template(self.template_name)

    def show_template(self, name: str) -> None:
        """Load the template `name` (the user's copy if there is one)."""
        self.template_name = name
        problem = self.query_one(".template-problem", Static)
        try:
            template = self.prompts.load(name)
        except TemplateProblem as error:
            # A broken file is still shown, so it can be fixed here.
            path = self._path_or_none(name)
            source = path.read_text(encoding="utf-8", errors="replace") if path else ""
            problem.update(str(error))
        else:
            path, source = template.path, template.source
            problem.update("")
        self.query_one(".template-source", TextArea).load_text(source)
        self._show_origin(path)

    def _path_or_none(self, name: str) -> Path | None:
        try:
            return self.prompts.path_of(name)
        except TemplateProblem:
            return None

    def _show_origin(self, path: Path | None) -> None:
        user_dir = self.prompts.user_dir
        if path is not None and user_dir is not None and path.parent == user_dir:
            text = "your copy · ctrl+s saves it"
        else:
            text = "shipped · ctrl+s saves your own copy"
        self.query_one(".origin", Label).update(text)

    def action_save(self) -> None:
        source = self.query_one(".template-source", TextArea).text
        problem = self.query_one(".template-problem", Static)
        user_dir = self.prompts.user_dir
        if user_dir is None:
            problem.update("No prompts folder of your own to save into.")
            return
        target = user_dir / f"{self.template_name}{TEMPLATE_SUFFIX}"
        try:
            self.prompts.check_source(source, target)
        except TemplateProblem as error:
            problem.update(f"Not saved: {error}")
            self.notify(f"Template not saved: {error}", severity="error", timeout=8, markup=False)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
        problem.update("")
        self._show_origin(target)
        self.notify(f"Saved your copy of the template: {target}", markup=False)
        self.post_message(self.Saved(self, target))
