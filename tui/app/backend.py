"""What the app needs from the outside world to run a model, passed to the App so tests can script it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tui.engine.model import DEFAULT_CONTEXT, Model, ProgressCallback
from tui.engine.model_file import ModelInfo, default_model_path, inspect_model
from tui.engine.model_spec import is_server_url
from tui.engine.server.settings import SERVER_FLAGS, ServerSettings, SettingNames

if TYPE_CHECKING:  # the HTTP client is imported when servers are first used, not when the app starts
    from tui.engine.language_model import LanguageModel
    from tui.engine.server.pool import EventCallback


@dataclass(frozen=True)
class ModelRequest:
    """Which model to open and how: a GGUF (None is the embedded SmolLM2-135M-Instruct) in process,
    OpenAI-compatible `servers`, or a llama-server started with the GGUF and `local_slots` slots."""

    path: Path | None = None
    n_ctx: int = DEFAULT_CONTEXT
    n_threads: int | None = None
    servers: ServerSettings | None = None
    local_slots: int | None = None

    @property
    def on_servers(self) -> bool:
        return self.servers is not None or self.local_slots is not None


class ModelBackend(Protocol):
    """Reads a model file's metadata and opens a model; both may be slow, so the app calls them in threads."""

    def inspect(self, path: Path | None) -> ModelInfo:
        """The file's metadata; ModelFileError explains why a file cannot be used."""
        ...

    def load(self, request: ModelRequest, on_progress: ProgressCallback | None = None,
             on_event: EventCallback | None = None) -> LanguageModel:
        """The model, ready to generate; `on_progress` hears the loaded share of a GGUF (0.0 to 1.0),
        `on_event` what servers report (one failed, one answers again)."""
        ...

    def survey(self, settings: ServerSettings) -> list[dict[str, Any]]:
        """What each server offers: its models and where its chat template comes from (BadInput: why not)."""
        ...

    def open_aside(self, spec: str, n_threads: int | None = None, server_model: str | None = None,
                   api_key_env: str | None = None, names: SettingNames = SERVER_FLAGS) -> LanguageModel:
        """A model opened beside the one in use (a judge, a responder): a GGUF path or a server's URL (asked
        for `server_model`, with the key in `api_key_env`). The caller closes it (`close_aside`) when its
        run ends; BadInput (naming the fields as `names` says) or ModelFileError says why it cannot open."""
        ...


class LlamaBackend:
    """The real backend: GGUF checks and llama.cpp through the engine, or servers through its client."""

    def __init__(self) -> None:
        self._servers = contextlib.ExitStack()  # the open connections, and a local llama-server

    def inspect(self, path: Path | None) -> ModelInfo:
        return inspect_model(path if path is not None else default_model_path())

    def load(self, request: ModelRequest, on_progress: ProgressCallback | None = None,
             on_event: EventCallback | None = None) -> LanguageModel:
        """Open the model asked for; the servers of the model opened before are let go first."""
        self.close()
        if not request.on_servers:
            return Model.load(request.path, n_ctx=request.n_ctx, n_threads=request.n_threads, on_progress=on_progress)
        from tui.engine.server.connect import connect

        with contextlib.ExitStack() as opened:
            settings = request.servers or ServerSettings()
            if request.local_slots is not None:
                from tui.engine.server.local import LocalServer

                local = opened.enter_context(LocalServer(request.path, slots=request.local_slots, threads=request.n_threads))
                settings = replace(settings, urls=[local.url])
            model = connect(settings, on_event=on_event)
            opened.callback(model.close)
            self._servers = opened.pop_all()
        return model

    def survey(self, settings: ServerSettings) -> list[dict[str, Any]]:
        from tui.engine.server.connect import survey

        return survey(settings)

    def open_aside(self, spec: str, n_threads: int | None = None, server_model: str | None = None,
                   api_key_env: str | None = None, names: SettingNames = SERVER_FLAGS) -> LanguageModel:
        spec = spec.strip()
        if not is_server_url(spec):
            return Model.load(Path(spec).expanduser(), n_threads=n_threads)
        from tui.engine.server.connect import connect

        settings = ServerSettings(urls=[spec], model=server_model or None, api_key_env=api_key_env or None, names=names)
        return connect(settings.validate())

    def close(self) -> None:
        """Close the servers' connections and stop a llama-server started here; nothing for a GGUF."""
        self._servers.close()


def close_aside(model: LanguageModel) -> None:
    """Let go of a model opened aside: a server's connections closed; a GGUF is freed with the object."""
    close = getattr(model, "close", None)
    if callable(close):
        close()
