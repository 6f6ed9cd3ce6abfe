"""The model picker's Server tab: OpenAI-compatible servers (or a llama-server smolgen starts), the model
they offer, the API key's variable (never the key), the requests in flight and a chat template file."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Select, Static

from tui.app import fast_paint
from tui.app.backend import ModelBackend, ModelRequest
from tui.app.path_suggester import PathSuggester
from tui.app.widgets.technique_pane import parse_optional_int
from tui.engine.errors import BadInput
from tui.engine.server.settings import DEFAULT_CONCURRENCY, SERVER_TAB_FIELDS, ServerSettings

# Asking servers what they offer waits this long for each: a form that hangs on a dead URL helps nobody.
SURVEY_TIMEOUT_SECONDS = 5.0
# The servers are asked once the URL field has been still this long, not at every key.
SURVEY_AFTER_SECONDS = 0.5


def split_urls(text: str) -> list[str]:
    """The URLs of the field: separated by spaces or commas."""
    return [url for url in re.split(r"[\s,]+", text.strip()) if url]


def survey_text(found: list[dict[str, Any]]) -> str:
    """What each server offers, one line each: its models and where its chat template comes from."""
    lines = []
    for server in found:
        template = f"chat template from {server['chat_template']}" if server["chat_template"] else \
            "no chat template reported (Magpie needs a chat template file)"
        lines.append(f"{server['url']}: {', '.join(server['models'])} · {template}")
    return "\n".join(lines)


@dataclass(frozen=True)
class _Survey:
    urls: str
    key_env: str


class ServerForm(Vertical):
    """Posts `Chosen` with the request to open when a field is submitted (enter) and the form is valid."""

    DEFAULT_CSS = """
    ServerForm { height: auto; }
    ServerForm .server-row { height: 1; }
    ServerForm .server-row Label { width: 16; }
    ServerForm .server-row Input, ServerForm .server-row Select { width: 1fr; }
    ServerForm #server-slots { width: 8; }
    ServerForm #server-found { height: auto; min-height: 2; margin-top: 1; color: $text-muted; }
    ServerForm #server-found.-problem { color: $error; }
    """

    class Chosen(Message):
        """The servers to switch to, checked."""

        def __init__(self, request: ModelRequest) -> None:
            super().__init__()
            self.request = request

    class Surveyed(Message):
        """The servers named in the form said what they offer, or why they cannot be used."""

        def __init__(self, asked: _Survey, found: list[dict[str, Any]] | None, problem: str | None) -> None:
            super().__init__()
            self.asked = asked
            self.found = found
            self.problem = problem

    def __init__(self, backend: ModelBackend, current: ModelRequest, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backend = backend
        self.current = current
        self._survey_timer: Any = None

    def compose(self) -> ComposeResult:
        settings = self.current.servers or ServerSettings()
        with Horizontal(classes="server-row"):
            yield Label(SERVER_TAB_FIELDS.server)
            yield fast_paint.text_input(" ".join(settings.urls), placeholder="http://127.0.0.1:8080/v1 (several: separated by spaces)",
                        id="server-urls", compact=True)
        with Horizontal(classes="server-row"):
            yield Label(SERVER_TAB_FIELDS.model)
            model = [(settings.model, settings.model)] if settings.model else []
            yield Select(model, prompt="the server's only model", value=settings.model or Select.NULL, id="server-model",
                         compact=True)
        with Horizontal(classes="server-row"):
            yield Label(SERVER_TAB_FIELDS.key)
            yield fast_paint.text_input(settings.api_key_env or "", placeholder="the variable's name, e.g. VLLM_KEY (the key is never shown)",
                        id="server-key-env", compact=True)
        with Horizontal(classes="server-row"):
            yield Label(SERVER_TAB_FIELDS.concurrency)
            yield fast_paint.text_input(str(settings.concurrency) if self.current.on_servers else "", type="integer",
                        placeholder=f"requests in flight (default {DEFAULT_CONCURRENCY}; a local server: its slots)",
                        id="server-concurrency", compact=True)
        with Horizontal(classes="server-row"):
            yield Label(SERVER_TAB_FIELDS.chat_template)
            yield fast_paint.text_input(str(settings.chat_template or ""), placeholder="the server's, or a .jinja, tokenizer_config.json or GGUF",
                        id="server-chat-template", compact=True,
                        suggester=PathSuggester((".jinja", ".json", ".gguf")))
        with Horizontal(classes="server-row"):
            yield Checkbox("Start a local llama-server with the GGUF, slots", self.current.local_slots is not None,
                           id="server-local", compact=True)
            yield fast_paint.text_input(str(self.current.local_slots or ""), type="integer", placeholder="4", id="server-slots", compact=True)
        yield Static("", id="server-found", markup=False)

    def on_mount(self) -> None:
        if self.query_one("#server-urls", Input).value.strip():
            self.survey()

    # Asking the servers what they offer ---------------------------------------------------------

    @on(Input.Changed, "#server-urls, #server-key-env")
    def servers_edited(self) -> None:
        if self._survey_timer is not None:
            self._survey_timer.stop()
        self._survey_timer = self.set_timer(SURVEY_AFTER_SECONDS, self.survey)

    def survey(self) -> None:
        """Ask the servers in the URL field for their models (again)."""
        self._survey_timer = None
        asked = self._asked()
        if not split_urls(asked.urls):
            self._found("", problem=False)
            return
        self._found("Asking the servers for their models…", problem=False)
        self._survey(asked)

    def _asked(self) -> _Survey:
        return _Survey(self.query_one("#server-urls", Input).value, self.query_one("#server-key-env", Input).value.strip())

    @work(thread=True, exclusive=True, exit_on_error=False, group="survey")
    def _survey(self, asked: _Survey) -> None:
        settings = ServerSettings(split_urls(asked.urls), api_key_env=asked.key_env or None, timeout=SURVEY_TIMEOUT_SECONDS,
                                  names=SERVER_TAB_FIELDS)
        try:
            found = self.backend.survey(settings)
        except BadInput as error:  # any server problem is one line naming it
            self.post_message(self.Surveyed(asked, None, str(error)))
        else:
            self.post_message(self.Surveyed(asked, found, None))

    @on(Surveyed)
    def show_survey(self, message: Surveyed) -> None:
        if message.asked != self._asked():
            return  # an answer about URLs that have since been edited
        if message.found is None:
            self._found(message.problem or "", problem=True)
            return
        offered = set.intersection(*(set(server["models"]) for server in message.found))
        select = self.query_one("#server-model", Select)
        chosen = select.value
        select.set_options([(name, name) for name in sorted(offered)])
        if chosen in offered:
            select.value = chosen
        elif len(offered) == 1:
            select.value = next(iter(offered))
        self._found(survey_text(message.found), problem=False)

    def _found(self, text: str, problem: bool) -> None:
        found = self.query_one("#server-found", Static)
        found.update(text)
        found.set_class(problem, "-problem")

    # Choosing ------------------------------------------------------------------------------------

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            request = self.request()
        except BadInput as problem:
            self._found(str(problem), problem=True)
            return
        self.post_message(self.Chosen(request))

    def request(self) -> ModelRequest:
        """The request the form describes; BadInput naming the field at fault."""
        local = self.query_one("#server-local", Checkbox).value
        slots = parse_optional_int(self.query_one("#server-slots", Input).value, "slots", 1) if local else None
        if local and slots is None:
            from tui.engine.server.local import DEFAULT_SLOTS

            slots = DEFAULT_SLOTS
        concurrency = parse_optional_int(self.query_one("#server-concurrency", Input).value, SERVER_TAB_FIELDS.concurrency, 1)
        model = self.query_one("#server-model", Select).value
        template = self.query_one("#server-chat-template", Input).value.strip()
        urls = [] if local else split_urls(self.query_one("#server-urls", Input).value)
        if not local and not urls:
            raise BadInput(f"{SERVER_TAB_FIELDS.server}: name at least one, e.g. http://127.0.0.1:8080/v1 "
                           "(or start a local llama-server)")
        from tui.engine.server.connect import check_settings

        kept = self.current.servers or ServerSettings()  # what the tab has no field for: the flags' timeout and retries stay
        settings = check_settings(ServerSettings(
            urls=urls,
            model=model if isinstance(model, str) else None,
            api_key_env=self.query_one("#server-key-env", Input).value.strip() or None,
            concurrency=concurrency or slots or DEFAULT_CONCURRENCY,
            timeout=kept.timeout,
            max_retries=kept.max_retries,
            chat_template=Path(template).expanduser() if template else None,
            names=SERVER_TAB_FIELDS,
        ), local_server=local)
        return replace(self.current, servers=settings, local_slots=slots)
