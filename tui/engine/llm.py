"""Model handles that load on first use, so a pipeline can be built before any model is loaded: a GGUF
in-process (`LlamaCppLLM`) or OpenAI-compatible servers (`OpenAICompatibleLLM`)."""

from __future__ import annotations

import threading
from pathlib import Path

from tui.engine.errors import BadInput
from tui.engine.language_model import LanguageModel
from tui.engine.model import DEFAULT_CONTEXT, Model
from tui.engine.model_file import default_model_path, inspect_model
from tui.engine.server.settings import (
    DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SECONDS, SERVER_FLAGS, ServerSettings, SettingNames,
)


class LlamaCppLLM:
    """The `llm=` of a pipeline step: a GGUF path (the embedded model by default), loaded once, or a
    model already loaded (the app's, in-process or on servers)."""

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = DEFAULT_CONTEXT, n_threads: int | None = None,
                 model: LanguageModel | None = None):
        self.model_path = Path(model_path) if model_path else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._model = model
        self._loaded_here = False  # a model handed in belongs to its giver, who closes it
        self._fingerprint: str | None = None

    @property
    def concurrency(self) -> int:
        """Rows a pipeline keeps in flight: one for a GGUF in-process; a loaded server model's own setting."""
        if self._model is not None and getattr(self._model, "serves_concurrently", False):
            return self._model.settings.concurrency
        return 1

    def load(self) -> LanguageModel:
        if self._model is None:
            self._model = Model.load(self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads)
            self._loaded_here = True
        return self._model

    def close(self) -> None:
        """Free the model this handle loaded (the next `load()` opens it again); a model handed in stays open."""
        if self._loaded_here and self._model is not None:
            self._model.close()
            self._model, self._loaded_here = None, False

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def fingerprint(self) -> str:
        """The model file's content fingerprint, read without loading the model (a cached run needs no model)."""
        if self._model is not None:
            return self._model.fingerprint()
        if self._fingerprint is None:
            self._fingerprint = inspect_model(self.model_path or default_model_path()).fingerprint
        return self._fingerprint


class OpenAICompatibleLLM:
    """The `llm=` of a pipeline step on OpenAI-compatible servers, connected once on first use.

    `concurrency` rows of the pipeline are in flight at once; the key is read from `api_key_env`. A bad-input
    line names the URLs, model and key variable as `names` says they were set, after `where` (a file's table, a step);
    a step's line that names a setting it took from here names it as `lent_names` says (default: `names`).
    """

    def __init__(
        self,
        base_url: str | list[str],
        model: str | None = None,
        api_key_env: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = DEFAULT_MAX_RETRIES,
        chat_template: str | Path | None = None,
        names: SettingNames = SERVER_FLAGS,
        where: str = "",
        lent_names: SettingNames | None = None,
    ):
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.where = where
        self.lent_names = lent_names or names
        try:
            self.settings = ServerSettings(
                urls=urls, model=model, api_key_env=api_key_env, concurrency=concurrency, timeout=timeout,
                max_retries=max_retries, chat_template=Path(chat_template) if chat_template else None, names=names,
            ).validate()
        except BadInput as error:
            raise self._located(error) from None
        self._model: LanguageModel | None = None
        self._lock = threading.Lock()

    @property
    def concurrency(self) -> int:
        return self.settings.concurrency

    def load(self) -> LanguageModel:
        from tui.engine.server.connect import connect

        with self._lock:
            if self._model is None:
                try:
                    self._model = connect(self.settings)
                except BadInput as error:
                    raise self._located(error) from None
            return self._model

    def _located(self, error: BadInput) -> BadInput:
        """The error after `where`, of its own kind (a refused key stays KeyRefused)."""
        return error.located(self.where) if self.where else error

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def fingerprint(self) -> str:
        """The served model's name and chat template: the same pipeline on another model recomputes."""
        return self.load().fingerprint()

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None
