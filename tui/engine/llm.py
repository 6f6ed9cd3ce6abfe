"""A model handle that loads on first use, so a pipeline can be built before any model is loaded."""

from __future__ import annotations

from pathlib import Path

from tui.engine.model import DEFAULT_CONTEXT, Model
from tui.engine.model_file import default_model_path, inspect_model


class LlamaCppLLM:
    """The `llm=` of a pipeline step: a GGUF path (the embedded model by default), loaded once."""

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = DEFAULT_CONTEXT, n_threads: int | None = None,
                 model: Model | None = None):
        self.model_path = Path(model_path) if model_path else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._model = model
        self._fingerprint: str | None = None

    def load(self) -> Model:
        if self._model is None:
            self._model = Model.load(self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads)
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def fingerprint(self) -> str:
        """The model file's content fingerprint, read without loading the model (a cached run needs no model)."""
        if self._model is not None:
            return self._model.info.fingerprint
        if self._fingerprint is None:
            self._fingerprint = inspect_model(self.model_path or default_model_path()).fingerprint
        return self._fingerprint
