"""Stand-in model backends for timing the app headless: one that never generates, one that writes at a set pace."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

from tui.app.backend import ModelRequest
from tui.engine.chat_template import ChatTemplate
from tui.engine.errors import ModelFileError
from tui.engine.model import Cancelled, ChatModel, Completion, Sampling, TextCheck
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

    @property
    def label(self) -> str:
        return self.info.name

    def describe(self) -> dict:
        return self.info.summary()

    def fingerprint(self) -> str:
        return self.info.fingerprint

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def turn_stops(self) -> tuple[str, ...]:
        return ("<|im_end|>",)

    def complete(self, *args: object, **kwargs: object):
        raise ModelFileError("the benchmark's null model does not generate")

    def chat(self, *args: object, **kwargs: object):
        raise ModelFileError("the benchmark's null model does not generate")


class NullBackend:
    """Hands out one model (a NullModel unless given another), instantly."""

    def __init__(self, model: NullModel | None = None) -> None:
        self.model = model or NullModel()

    def inspect(self, path: Path | None) -> ModelInfo:
        return self.model.info

    def load(self, request: ModelRequest, on_progress: object = None) -> NullModel:
        return self.model


class PacedModel(NullModel):
    """Writes fixed replies word by word (one word a token), `word_delay` seconds apart, sleeping in
    between: the app sees a model as fast as a real one, and the process's CPU time is then almost
    all the app's own. It reports the pace it was given (50 words a second when not paced)."""

    def __init__(self, replies: tuple[str, ...], word_delay: float = 0.0) -> None:
        super().__init__()
        self._replies = itertools.cycle(replies)
        self._word_delay = word_delay
        self._rate = 1.0 / word_delay if word_delay else 50.0

    def complete(self, prompt: str, sampling: Sampling, seed: int, stop: tuple[str, ...] = (), cancel=None, on_text=None,
                 until: TextCheck | None = None) -> Completion:
        # Held to a schema, it answers as a grammar would make it: a valid instance (a judge's verdict).
        text = next(self._replies) if sampling.json_schema is None else json.dumps(schema_instance(sampling.json_schema, seed))
        words = text.split(" ")
        wait = (cancel or threading.Event()).wait
        written, finish = "", "stop"
        for index, word in enumerate(words):
            if wait(self._word_delay):
                raise Cancelled()
            piece = word if index == 0 else f" {word}"
            written += piece
            if on_text is not None:
                on_text(piece)
            stopped = until(written) if until is not None else None
            if stopped is not None:
                finish, words = stopped, words[: index + 1]
                break
        return Completion(written, len(prompt) // 4, len(words), finish, seed, len(words) / self._rate, 1 / self._rate, prompt)

    chat = ChatModel.chat  # the chat template rendered, then `complete` (NullModel's chat refuses)


def schema_instance(schema: dict, seed: int) -> object:
    """A value the schema allows, picked by the seed: enums by index, strings a short sentence."""
    if "enum" in schema:
        return schema["enum"][seed % len(schema["enum"])]
    if schema.get("type") == "object":
        return {name: schema_instance(rule, seed) for name, rule in schema["properties"].items()}
    return "A plain answer to a plain request."
