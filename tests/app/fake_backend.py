"""A scripted model for snapshots and error paths: fixed replies, streamed word by word, no llama.cpp."""

from __future__ import annotations

import threading
from pathlib import Path

from tui.app.backend import ModelRequest
from tui.bench.null_backend import CHATML, PacedModel  # ChatML, as SmolLM2 writes it
from tui.engine.chat_template import ChatTemplate
from tui.engine.errors import ModelFileError
from tui.engine.model_file import ModelInfo, default_model_path, inspect_model
from tui.engine.server.settings import SERVER_FLAGS, SettingNames

REPLIES = (
    "What is the purpose of the Smol Course?",
    "The Smol Course teaches how to train and use small language models on modest hardware.",
)


def fake_info() -> ModelInfo:
    return ModelInfo(
        path=Path("models/SmolLM2-fake.gguf"),
        name="SmolLM2 fake",
        architecture="llama",
        parameters=134_515_008,
        quantization="Q4_1",
        trained_context=8192,
        chat_template=CHATML,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        size_bytes=98_000_000,
        fingerprint="fake",
    )


class FakeModel(PacedModel):
    """Answers every call with the next scripted reply; each word is one streamed token."""

    n_threads = 2

    def __init__(self, replies: tuple[str, ...] = REPLIES, word_delay: float = 0.0):
        super().__init__(replies, word_delay)
        self.info = fake_info()
        self.chat_template = ChatTemplate(CHATML, self.info.bos_token, self.info.eos_token, origin="fake chat template")


class FakeBackend:
    """Hands out one FakeModel, or fails the way a bad model file does."""

    def __init__(self, model: FakeModel | None = None, load_error: str | None = None, hold: threading.Event | None = None,
                 aside: dict[str, FakeModel] | None = None):
        """`aside`: the models `open_aside` opens (a judge, a responder), by the path or URL a person gives."""
        self.model = model or FakeModel()
        self.load_error = load_error
        self.hold = hold  # set it to let a held load finish
        self.aside = aside or {}
        self.opened_aside: list[str] = []
        self.aside_servers: list[tuple[str | None, str | None]] = []  # the server model and key variable asked with each

    def inspect(self, path: Path | None) -> ModelInfo:
        return self.model.info

    def load(self, request: ModelRequest, on_progress=None) -> FakeModel:
        if on_progress is not None:
            on_progress(0.5)
        if self.hold is not None:
            self.hold.wait(10)
        if self.load_error:
            raise ModelFileError(self.load_error)
        return self.model


    def open_aside(self, spec: str, n_threads: int | None = None, server_model: str | None = None,
                   api_key_env: str | None = None, names: SettingNames = SERVER_FLAGS) -> FakeModel:
        if spec not in self.aside:
            raise ModelFileError(f"{spec}: no such model")
        self.opened_aside.append(spec)
        self.aside_servers.append((server_model, api_key_env))
        return self.aside[spec]


class FileCheckingBackend(FakeBackend):
    """Checks model files as the real backend does (GGUF headers, no weights) and loads the scripted model,
    which says it is the embedded one."""

    def __init__(self) -> None:
        super().__init__()
        self.model.info = inspect_model(default_model_path())

    def inspect(self, path: Path | None) -> ModelInfo:
        return inspect_model(path if path is not None else default_model_path())
