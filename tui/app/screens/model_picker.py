"""The model picker: the GGUF files found where people keep them (one key opens one), or a path with
completion; the file's metadata, or why it cannot be used; or, on its Server tab, OpenAI-compatible
servers (or a llama-server smolgen starts)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.content import Content
from textual.widgets import Input, Label, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from tui.app import fast_paint
from tui.app.backend import ModelBackend, ModelRequest
from tui.app.path_suggester import PathSuggester
from tui.app.screens.dialog import Dialog
from tui.app.techniques import available_techniques
from tui.app.widgets.server_form import ServerForm
from tui.app.widgets.status_bar import describe_model
from tui.engine.model_catalog import FoundModel, list_models
from tui.engine.model_file import ModelInfo, parameters_label
from tui.engine.settings_schema import with_value


def describe_file(info: ModelInfo) -> str:
    """The metadata a person needs to choose a model, and which techniques it can run."""
    lines = [
        describe_model(info),
        f"architecture  {info.architecture}",
        f"parameters    {info.parameters:,}",
        f"size          {info.size_bytes / 1e6:.1f} MB",
    ]
    if info.chat_template:
        return "\n".join([*lines, "chat template yes: every technique runs"])
    built = {entry.title: entry.build(_unanswered(entry.default_settings())) for entry in available_techniques()}
    chatting = [title for title, technique in built.items()
                if getattr(technique, "needs_chat_template", False) or getattr(technique, "chats", False)]
    runs = [title for title in built if title not in chatting]
    return "\n".join([*lines, "chat template none (a base model)", f"runs          {', '.join(runs)}",
                       f"cannot run    {', '.join(chatting)}, nor answer instructions: they need a chat template"])


def describe_found(model: FoundModel) -> str:
    """One line of the picker's list: what a person compares models by, or why one cannot be used."""
    if not model.usable:
        return f"✗ {model.name} · cannot be used: {model.survey.problem}"
    survey = model.survey
    chat = "chat template" if survey.chat_template else "no chat template"
    return (f"{model.name} · {parameters_label(survey.parameters)} {survey.quantization} · "
            f"{model.size_bytes / 1e6:.0f} MB · {chat} · {model.source}")


def _unanswered(settings: Any) -> Any:
    """The settings with answering off, where a technique answers: what runs on raw prompts alone."""
    return with_value(settings, ("answer", "enabled"), False) if hasattr(settings, "answer") else settings


class ModelPickerScreen(Dialog[ModelRequest | None]):
    """Dismissed with the model to open (a usable GGUF, or servers), or None when cancelled."""

    DEFAULT_CSS = """
    ModelPickerScreen TabPane { padding: 1 0 0 0; height: auto; }
    ModelPickerScreen TabbedContent { height: auto; }
    ModelPickerScreen #model-meta { height: auto; min-height: 5; margin-top: 1; }
    ModelPickerScreen #model-meta.-problem { color: $error; }
    ModelPickerScreen .hint { width: 1fr; }
    ModelPickerScreen #found-models { height: auto; max-height: 8; margin-top: 1; }
    """
    BINDINGS = [
        Binding("ctrl+f", "show_tab('gguf')", "GGUF file", id="model_picker.gguf_tab", tooltip="A GGUF model in this process"),
        Binding("ctrl+s", "show_tab('server')", "Server", id="model_picker.server_tab",
                tooltip="OpenAI-compatible servers, or a llama-server started here"),
        Binding("ctrl+l", "list_models", "List models", id="model_picker.list_models",
                tooltip="Ask the servers for their models again"),
        # A priority key: the path field's own ctrl+d would take it otherwise.
        Binding("ctrl+d", "default_model", "Embedded model", id="model_picker.default", priority=True,
                tooltip="Back to SmolLM2-135M-Instruct, the model that ships with smolgen"),
        Binding("escape", "cancel", "Cancel", id="model_picker.cancel", tooltip="Keep the current model"),
    ]

    class ModelsFound(Message):
        """The GGUF files in the usual places were listed."""

        def __init__(self, found: list[FoundModel]) -> None:
            super().__init__()
            self.found = found

    class Inspected(Message):
        """The file under the path was checked: its metadata, or the problem."""

        def __init__(self, path: Path, info: ModelInfo | None, problem: str | None) -> None:
            super().__init__()
            self.path = path
            self.info = info
            self.problem = problem

    def __init__(self, backend: ModelBackend, current: ModelInfo | None, request: ModelRequest | None = None,
                 model_folders: tuple[Path, ...] = ()) -> None:
        """`current`: the GGUF open now, if any; `request`: how the model open now was asked for;
        `model_folders`: the person's own folders, listed beside the usual places."""
        super().__init__()
        self.backend = backend
        self.current = current
        self.request = request or ModelRequest()
        self.model_folders = model_folders
        self.usable: Path | None = None
        self.found: list[FoundModel] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Open a model"
            with TabbedContent(initial="server" if self.request.on_servers else "gguf"):
                with TabPane("GGUF file", id="gguf"):
                    yield fast_paint.text_input(str(self.current.path) if self.current else "", placeholder="path/to/model.gguf", id="model-path",
                                suggester=PathSuggester((".gguf",)))
                    yield OptionList(Option("Looking for GGUF files…", disabled=True), id="found-models")
                    yield Static("", id="model-meta", markup=False)
                    yield Label("→ completes the path · enter opens the path or the file chosen in the list · "
                                "ctrl+d embedded model · ctrl+s servers · escape cancels", classes="hint")
                with TabPane("Server", id="server"):
                    yield ServerForm(self.backend, self.request, id="server-form")
                    yield Label("enter connects · ctrl+l asks the servers again · ctrl+f GGUF file · escape cancels", classes="hint")

    def on_mount(self) -> None:
        self.action_show_tab("server" if self.request.on_servers else "gguf")
        self.inspect(self.query_one("#model-path", Input).value)
        self.find_models()

    @work(thread=True, exclusive=True, exit_on_error=False, group="find_models")
    def find_models(self) -> None:
        """List the GGUF files off the UI thread (it reads each new file's header)."""
        self.post_message(self.ModelsFound(list_models(self.model_folders)))

    @on(ModelsFound)
    def show_found(self, message: ModelsFound) -> None:
        self.found = message.found
        listing = self.query_one("#found-models", OptionList)
        listing.clear_options()
        if not self.found:
            listing.add_option(Option("No GGUF files in the Hugging Face cache, LM Studio, llama.cpp's cache, Ollama "
                                      "or your model folders: type a path above", disabled=True))
            return
        listing.add_options(Option(Content(describe_found(model))) for model in self.found)

    @on(OptionList.OptionHighlighted, "#found-models")
    def found_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """The highlighted file's path goes in the field, so its metadata shows below."""
        if event.option_index < len(self.found):
            self.query_one("#model-path", Input).value = str(self.found[event.option_index].path)

    @on(OptionList.OptionSelected, "#found-models")
    def found_chosen(self, event: OptionList.OptionSelected) -> None:
        """Enter on a file in the list opens it, or says why it cannot be."""
        model = self.found[event.option_index]
        if not model.usable:
            self.notify(f"{model.name} cannot be used: {model.survey.problem}", severity="warning", markup=False)
            return
        self.dismiss(replace(self.request, path=model.path, servers=None, local_slots=None))

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one("#server-urls" if tab == "server" else "#model-path", Input).focus()

    def action_list_models(self) -> None:
        self.action_show_tab("server")
        self.query_one(ServerForm).survey()

    @on(ServerForm.Chosen)
    def servers_chosen(self, message: ServerForm.Chosen) -> None:
        self.dismiss(message.request)

    @on(Input.Changed, "#model-path")
    def path_changed(self, event: Input.Changed) -> None:
        self.usable = None
        self.inspect(event.value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="inspect")
    def inspect(self, text: str) -> None:
        """Check the file off the UI thread (it reads the header and hashes a few MB)."""
        if not text.strip():
            return
        path = Path(text.strip()).expanduser()
        try:
            info = self.backend.inspect(path)
        except Exception as error:  # any failure to read the file is the reason it cannot be used
            self.post_message(self.Inspected(path, None, str(error)))
        else:
            self.post_message(self.Inspected(path, info, None))

    @on(Inspected)
    def show_inspection(self, message: Inspected) -> None:
        typed = Path(self.query_one("#model-path", Input).value.strip()).expanduser()
        if message.path != typed:
            return  # an answer about a path that has since been edited
        meta = self.query_one("#model-meta", Static)
        meta.set_class(message.problem is not None, "-problem")
        if message.info is not None:
            self.usable = message.path
            meta.update(describe_file(message.info))
        else:
            meta.update(f"Cannot use this file: {message.problem}")

    @on(Input.Submitted, "#model-path")
    def open_model(self) -> None:
        if self.usable is not None:
            self.dismiss(replace(self.request, path=self.usable, servers=None, local_slots=None))
        else:
            self.notify("Choose a file the picker can read (see the message above).", severity="warning")

    def action_default_model(self) -> None:
        """Open the embedded model at once (or say why it cannot be)."""
        self.action_show_tab("gguf")
        try:
            self.backend.inspect(None)
        except Exception as error:  # the embedded model may be missing: say so
            self.query_one("#model-meta", Static).update(f"Cannot use the embedded model: {error}")
            return
        self.dismiss(replace(self.request, path=None, servers=None, local_slots=None))

    def action_cancel(self) -> None:
        self.dismiss(None)
