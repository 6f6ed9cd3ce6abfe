"""What a technique needs of a model: the one seam between techniques and the models that serve them.

Implemented by the in-process llama.cpp model (`model.Model`), several rows decoded together
(`batched_model.BatchedModel`), OpenAI-compatible servers (`server.server_model.ServerModel`) and
the test doubles.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, runtime_checkable

from tui.engine.chat_template import ChatTemplate, Message
from tui.engine.model import Completion, Sampling, TextCallback, TextCheck


@runtime_checkable
class LanguageModel(Protocol):
    """Completes prompts and chats; a cancel event set by another thread abandons the call (Cancelled)."""

    @property
    def chat_template(self) -> ChatTemplate:
        """The model's chat template; raises BadInput when it has none (a base model, a server that does not say)."""

    @property
    def label(self) -> str:
        """A short human description (a header line, a status bar)."""

    def turn_stops(self) -> tuple[str, ...]:
        """Texts that end a turn, for raw completions."""

    def complete(
        self,
        prompt: str,
        sampling: Sampling,
        seed: int,
        stop: tuple[str, ...] = (),
        cancel: threading.Event | None = None,
        on_text: TextCallback | None = None,
        until: TextCheck | None = None,
    ) -> Completion:
        """Raw completion of `prompt`; `on_text` gets each chunk as it arrives. `until`, given the text so far,
        may end the call early (its reason becomes the finish reason) where the text arrives piece by piece:
        in-process, or streamed from a server; an answer a server sends whole is not checked."""

    def chat(
        self,
        messages: list[Message],
        sampling: Sampling,
        seed: int,
        cancel: threading.Event | None = None,
        on_text: TextCallback | None = None,
        until: TextCheck | None = None,
    ) -> Completion:
        """The assistant's next message after `messages` (`until` as in `complete`)."""

    def count_tokens(self, text: str) -> int | None:
        """Tokens in `text`; None where they cannot be counted (never a made-up 0)."""

    def describe(self) -> dict[str, Any]:
        """The model as recorded with a run and each of its samples."""

    def fingerprint(self) -> str:
        """What a cached pipeline output depends on (the weights, or a served model's name and template)."""


def requests_in_flight(model: LanguageModel) -> int:
    """Calls a run keeps going at once: the servers' concurrency, or one for the in-process model."""
    return model.settings.concurrency if getattr(model, "serves_concurrently", False) else 1
