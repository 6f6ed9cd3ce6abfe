"""What every technique shares: the context it runs in, system-prompt choice and the sample record."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from tui.engine.chat_template import Message
from tui.engine.errors import BadInput, GenerationFailed
from tui.engine.model import Completion, Model, derive_seed
from tui.engine.prompts import PromptLibrary


@dataclass
class GenerationContext:
    """Everything a technique needs for one sample, and the hooks that show its progress."""

    model: Model
    prompts: PromptLibrary
    run_seed: int
    cancel: threading.Event | None = None
    on_text: Callable[[str], None] = lambda _chunk: None
    on_stage: Callable[[str], None] = lambda _stage: None

    def call_seed(self, sample_index: int, call_index: int) -> int:
        return derive_seed(self.run_seed, sample_index, call_index)

    def rng(self, sample_index: int) -> random.Random:
        """The random generator of one sample (system-prompt choice, EvolInstruct operations...)."""
        return random.Random(derive_seed(self.run_seed, sample_index, -1))


@dataclass
class SystemPrompts:
    """No prompt (the template's default), one prompt, or weighted choices drawn per sample."""

    prompts: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prompts = [p for p in self.prompts if p and p.strip()]
        if self.weights and len(self.weights) != len(self.prompts):
            raise BadInput(f"--system-weights: {len(self.weights)} weights for {len(self.prompts)} system prompts")
        if any(w < 0 for w in self.weights) or (self.weights and sum(self.weights) <= 0):
            raise BadInput("--system-weights: weights must be 0 or more, and not all 0")

    def choose(self, rng: random.Random) -> str | None:
        if not self.prompts:
            return None
        if len(self.prompts) == 1:
            return self.prompts[0]
        return rng.choices(self.prompts, weights=self.weights or None, k=1)[0]

    def record(self) -> list[dict[str, Any]]:
        weights = self.weights or [1.0] * len(self.prompts)
        return [{"prompt": p, "weight": w} for p, w in zip(self.prompts, weights)]


def check_template(prompts: PromptLibrary, name: str, rows: list[dict[str, Any]]) -> None:
    """Render a template with every row, so a missing column is reported before generation starts."""
    template = prompts.load(name)
    for row in rows:
        template.render(**row)


def system_messages(system_prompt: str | None) -> list[Message]:
    return [{"role": "system", "content": system_prompt}] if system_prompt else []


class Technique(Protocol):
    """A way of producing one sample from an optional seed row."""

    name: str
    needs_seeds: bool

    def settings_record(self) -> dict[str, Any]: ...

    def check(self, prompts: PromptLibrary, rows: list[dict[str, Any]]) -> None:
        """Raise BadInput now, before any model call, if a template or a row cannot work."""

    def generate(self, ctx: GenerationContext, index: int, row: dict[str, Any] | None) -> dict[str, Any]: ...


def require_text(completion: Completion, what: str) -> str:
    """The completion's text, stripped; an empty one fails the sample with a recorded reason."""
    text = completion.text.strip()
    if not text:
        raise GenerationFailed("empty", f"the model wrote an empty {what}")
    return text


def build_sample(
    technique: str,
    conversation: list[Message],
    system_prompt: str | None,
    calls: list[Completion],
    row: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The stored record of one sample: the text, and everything needed to trust or replay it."""
    instruction = next((m["content"] for m in conversation if m["role"] == "user"), None)
    response = next((m["content"] for m in conversation if m["role"] == "assistant"), None)
    flags = ["truncated"] if any(c.finish_reason == "length" for c in calls) else []
    return {
        "technique": technique,
        "instruction": instruction,
        "response": response,
        "conversation": conversation,
        "system_prompt": system_prompt,
        "seed_row": row,
        "flags": flags,
        "calls": [c.record() for c in calls],
        "raw": [c.text for c in calls],
        "tokens": {
            "prompt": sum(c.prompt_tokens for c in calls),
            "completion": sum(c.completion_tokens for c in calls),
        },
        "seconds": round(sum(c.seconds for c in calls), 4),
        **extra,
    }

