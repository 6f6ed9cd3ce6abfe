"""A stand-in model backend for timing the app's screens headless: it loads at once and never generates."""

from __future__ import annotations

from pathlib import Path

from tui.app.backend import ModelRequest
from tui.engine.chat_template import ChatTemplate
from tui.engine.errors import ModelFileError
from tui.engine.model_file import ModelInfo

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def null_info() -> ModelInfo:
    return ModelInfo(
        path=Path("null.gguf"),
        name="null model (benchmark)",
        architecture="llama",
        parameters=0,
        quantization="none",
        trained_context=2048,
        chat_template=CHATML,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
    )


class NullModel:
    """Enough of a model for the status bar and technique tabs; asking it to generate is an error."""

    n_ctx = 2048
    n_threads = 1

    def __init__(self) -> None:
        self.info = null_info()
        self.chat_template = ChatTemplate(CHATML, self.info.bos_token, self.info.eos_token, origin="null chat template")

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def turn_stops(self) -> tuple[str, ...]:
        return ("<|im_end|>",)

    def complete(self, *args: object, **kwargs: object):
        raise ModelFileError("the benchmark's null model does not generate")

    def chat(self, *args: object, **kwargs: object):
        raise ModelFileError("the benchmark's null model does not generate")


class NullBackend:
    """Hands out one NullModel, instantly."""

    def __init__(self) -> None:
        self.model = NullModel()

    def inspect(self, path: Path | None) -> ModelInfo:
        return self.model.info

    def load(self, request: ModelRequest, on_progress: object = None) -> NullModel:
        return self.model
