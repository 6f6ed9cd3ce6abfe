"""What the app needs from the outside world to run a model, passed to the App so tests can script it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tui.engine.model import DEFAULT_CONTEXT, Model, ProgressCallback
from tui.engine.model_file import ModelInfo, default_model_path, inspect_model


@dataclass(frozen=True)
class ModelRequest:
    """Which model to open and how: None is the embedded SmolLM2-135M-Instruct."""

    path: Path | None = None
    n_ctx: int = DEFAULT_CONTEXT
    n_threads: int | None = None


class ModelBackend(Protocol):
    """Reads a model file's metadata and loads it; both may be slow, so the app calls them in threads."""

    def inspect(self, path: Path | None) -> ModelInfo:
        """The file's metadata; ModelFileError explains why a file cannot be used."""
        ...

    def load(self, request: ModelRequest, on_progress: ProgressCallback | None = None) -> Model:
        """The loaded model, ready to generate; `on_progress` hears the loaded share (0.0 to 1.0)."""
        ...


class LlamaBackend:
    """The real backend: GGUF checks and llama.cpp through the engine."""

    def inspect(self, path: Path | None) -> ModelInfo:
        return inspect_model(path if path is not None else default_model_path())

    def load(self, request: ModelRequest, on_progress: ProgressCallback | None = None) -> Model:
        return Model.load(request.path, n_ctx=request.n_ctx, n_threads=request.n_threads, on_progress=on_progress)
