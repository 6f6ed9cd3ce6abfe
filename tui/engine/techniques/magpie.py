"""Magpie: the model writes the user's turn itself from the pre-query part of its chat template.

The pre-query is derived from the model's own template (render a conversation whose next user
message is a placeholder and cut there), so it works for any template family. It keeps the system
block, the user's or the template's default: SmolLM2 rambles without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui.engine.errors import BadInput
from tui.engine.model import Sampling
from tui.engine.prompts import PromptLibrary
from tui.engine.techniques.base import GenerationContext, SystemPrompts, build_sample, require_text, system_messages


def user_turn_sampling() -> Sampling:
    """The Magpie paper's sampling for the user turn: temperature 1, no top-p, top-k or min-p cut."""
    return Sampling(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, max_tokens=128)


@dataclass
class MagpieSettings:
    n_turns: int = 1
    only_instruction: bool = False
    end_with_user: bool = False
    system: SystemPrompts = field(default_factory=SystemPrompts)
    user_sampling: Sampling = field(default_factory=user_turn_sampling)
    assistant_sampling: Sampling = field(default_factory=Sampling)

    def validate(self) -> "MagpieSettings":
        if self.n_turns < 1:
            raise BadInput(f"n_turns={self.n_turns}: must be at least 1")
        self.user_sampling.validate()
        self.assistant_sampling.validate()
        return self


class Magpie:
    """Instructions (and conversations) with no seed at all, from the template's pre-query."""

    name = "magpie"
    needs_seeds = False
    needs_chat_template = True  # the pre-query is cut from it

    def __init__(self, settings: MagpieSettings | None = None):
        self.settings = (settings or MagpieSettings()).validate()

    def settings_record(self) -> dict[str, Any]:
        s = self.settings
        return {
            "n_turns": s.n_turns,
            "only_instruction": s.only_instruction,
            "end_with_user": s.end_with_user,
            "system_prompts": s.system.record(),
            "user_sampling": s.user_sampling.as_dict(),
            "assistant_sampling": s.assistant_sampling.as_dict(),
        }

    def check(self, prompts: PromptLibrary, rows: list[dict[str, Any]]) -> None:
        """Magpie needs no seed and no prompt template."""

    def generate(self, ctx: GenerationContext, index: int, row: dict[str, Any] | None) -> dict[str, Any]:
        s = self.settings
        template = ctx.model.chat_template
        stops = ctx.model.turn_stops()
        system_prompt = s.system.choose(ctx.rng(index))
        messages = system_messages(system_prompt)
        calls = []
        for turn in range(1, s.n_turns + 1):
            ctx.on_stage(f"Magpie · turn {turn} · user")
            pre_query = template.pre_query(messages)
            asked = ctx.model.complete(pre_query, s.user_sampling, ctx.call_seed(index, len(calls)), stops, ctx.cancel, ctx.on_text)
            calls.append(asked)
            messages.append({"role": "user", "content": require_text(asked, f"user turn {turn}")})
            if s.only_instruction or (s.end_with_user and turn == s.n_turns):
                break
            ctx.on_stage(f"Magpie · turn {turn} · assistant")
            answered = ctx.model.chat(messages, s.assistant_sampling, ctx.call_seed(index, len(calls)), ctx.cancel, ctx.on_text)
            calls.append(answered)
            messages.append({"role": "assistant", "content": require_text(answered, f"assistant turn {turn}")})
        return build_sample(self.name, messages, system_prompt, calls, None, pre_query=template.pre_query(system_messages(system_prompt)))
