"""A stand-in for the model that writes fixed texts, for tests where determinism matters more than realism.

It has the interface techniques use (`complete`, `chat`, `turn_stops`, `count_tokens`, `info`), so a
technique runs through it exactly as through llama.cpp, and it records every prompt it was given.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from tui.bench.null_backend import CHATML
from tui.engine.chat_template import ChatTemplate
from tui.engine.errors import BadInput
from tui.engine.model import ChatModel, Completion

Output = str | tuple[str, str]  # a text, or (text, finish reason) to play a call that hit the token cap


class ScriptedModel(ChatModel):
    """Answers each call with the next scripted output, in order; the texts that end a turn are the real
    model's (ChatModel's), from its ChatML template or, as a base model, its end-of-text token alone."""

    n_threads = 1

    def __init__(self, outputs: list[Output], base_model: bool = False):
        """`base_model`: like a GGUF without a chat template, it completes raw prompts and cannot chat."""
        self.outputs = list(outputs)
        self.base_model = base_model
        self.prompts: list[str] = []
        self.samplings: list = []  # the Sampling of each call, in order (a judge's answer schema rides on it)
        self.closed = False  # as Model.close frees llama.cpp's model: whoever opened it must close it
        self.info = SimpleNamespace(fingerprint="scripted", summary=lambda: {"file": "scripted.gguf", "fingerprint": "scripted"},
                                    chat_template=None if base_model else CHATML, eos_token="<|im_end|>")

    def complete(self, prompt, sampling, seed, stop=(), cancel=None, on_text=None, until=None) -> Completion:
        """The next scripted output, one word a token; `until` is asked after each word, as a real model does."""
        self.prompts.append(prompt)
        self.samplings.append(sampling)
        if not self.outputs:
            raise AssertionError(f"the script has no output left for prompt {prompt[-80:]!r}")
        output = self.outputs.pop(0)
        text, finish = output if isinstance(output, tuple) else (output, "stop")
        words = re.findall(r"\s*\S+\s*", text) or [text]
        if until is not None:
            for count in range(1, len(words) + 1):
                stopped = until("".join(words[:count]))
                if stopped is not None:
                    text, finish, words = "".join(words[:count]), stopped, words[:count]
                    break
        if on_text is not None:
            on_text(text)
        return Completion(text, len(prompt.split()), len(words), finish, seed, 0.01, prompt=prompt)

    @property
    def chat_template(self) -> ChatTemplate:
        if self.base_model:
            raise BadInput("scripted.gguf: this GGUF has no chat template (tokenizer.chat_template)")
        return ChatTemplate(CHATML, "<|im_start|>", "<|im_end|>", origin="scripted chat template")

    def chat(self, messages, sampling, seed, cancel=None, on_text=None, until=None) -> Completion:
        self.chat_template  # noqa: B018 - a base model cannot chat
        return self.complete(messages[-1]["content"], sampling, seed, (), cancel, on_text, until)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    label = "scripted model"

    def describe(self) -> dict:
        return self.info.summary()

    def fingerprint(self) -> str:
        return "scripted"

    def close(self) -> None:
        self.closed = True

