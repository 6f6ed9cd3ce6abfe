"""Chat prompts rendered from the model's own `tokenizer.chat_template`, in a Jinja2 sandbox.

Nothing here knows a particular template family: Magpie's pre-query is found by rendering a
conversation whose next user message is a placeholder and cutting the text at that placeholder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tui.engine.errors import TemplateProblem

Message = dict[str, str]

# Unlikely to appear in any template or to be split by one.
_PLACEHOLDER = "SMOLGEN-USER-QUERY-7F3A"


def _raise_exception(message: str) -> None:
    raise jinja2.TemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@dataclass
class ChatTemplate:
    """A model's chat template with the special tokens it refers to."""

    source: str
    bos_token: str = ""
    eos_token: str = ""
    origin: str = "chat template"

    def __post_init__(self) -> None:
        # The settings Hugging Face's tokenizers use, so templates render the way their authors meant.
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        try:
            self._template = env.from_string(self.source)
        except jinja2.TemplateSyntaxError as error:
            raise TemplateProblem(f"{self.origin}:{error.lineno}: {error.message}") from None

    def render(self, messages: list[Message], add_generation_prompt: bool) -> str:
        """The prompt text for `messages`, optionally ending with the assistant's header."""
        variables: dict[str, Any] = {
            "messages": messages,
            "add_generation_prompt": add_generation_prompt,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
        }
        try:
            return self._template.render(**variables)
        except jinja2.TemplateError as error:
            raise TemplateProblem(f"{self.origin}: {error.message or type(error).__name__}") from None

    def fingerprint(self) -> str:
        """A short hash of the template's source, recorded with a run and part of cache signatures."""
        return hashlib.blake2b(self.source.encode("utf-8"), digest_size=8).hexdigest()

    def pre_query(self, messages: list[Message]) -> str:
        """The text that opens the next user turn after `messages` (Magpie's pre-query template).

        Keeps whatever the template adds before a user turn, such as its default system block.
        """
        rendered = self.render([*messages, {"role": "user", "content": _PLACEHOLDER}], False)
        cut = rendered.find(_PLACEHOLDER)
        if cut < 0:
            raise TemplateProblem(f"{self.origin}: the template drops the user's message, so Magpie cannot use it")
        return rendered[:cut]

    def end_of_turn(self) -> str:
        """The text the template writes right after a user message (e.g. `<|im_end|>`), stripped."""
        rendered = self.render([{"role": "user", "content": _PLACEHOLDER}], False)
        tail = rendered.split(_PLACEHOLDER, 1)[1]
        return tail.strip()
