"""Magpie: the model writes the user's turn itself from the pre-query part of its chat template.

The pre-query is derived from the model's own template (render a conversation whose next user
message is a placeholder and cut there), so it works for any template family. It keeps the system
block, the user's or the template's default: SmolLM2 rambles without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tui.engine.instruction_filters import Rejection
from tui.engine.model import Sampling
from tui.engine.prompts import PromptLibrary
from tui.engine.quality_gates import OFF_TOPIC_BELOW, QualityGates, expected_language, topic_gain
from tui.engine.settings_schema import setting, validate
from tui.engine.techniques.base import (
    GenerationContext,
    SystemPrompts,
    build_sample,
    gated,
    require_text,
    system_messages,
    system_prompts_setting,
)


def user_turn_sampling() -> Sampling:
    """The Magpie paper's sampling for the user turn: temperature 1, no top-p, top-k or min-p cut, no repeat penalty."""
    return Sampling(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, repeat_penalty=1.0, max_tokens=128)


@dataclass
class MagpieSettings:
    n_turns: int = setting(1, label="Turns", flag="--turns", at_least=1, help="conversation turns")
    only_instruction: bool = setting(False, label="Only the instruction (no answer)", flag="--only-instruction",
                                     help="write the user turn only")
    end_with_user: bool = setting(False, label="End on a user turn", flag="--end-with-user",
                                  help="end the conversation on a user turn")
    system: SystemPrompts = system_prompts_setting()
    # The user turn keeps its own sampling (the paper's) and its own cap: one that cuts it fails the
    # sample (`user_turn_truncated`), so `--max-tokens`, meant for shorter answers, leaves it alone.
    user_sampling: Sampling = setting(default_factory=user_turn_sampling, label="User turn sampling", prefix="user")
    assistant_sampling: Sampling = setting(default_factory=Sampling, label="Assistant turn sampling")
    gates: QualityGates = setting(default_factory=QualityGates, label="Quality gates")
    check_user_turn_cap: bool = setting(True, label="Cut user turn gate", switched_off_by=("--no-filter", "user-turn-truncated"),
                                        help="fail samples whose user turn the token cap cut off")
    flag_off_topic: bool = setting(True, label="Off-topic flag", switched_off_by=("--no-filter", "off-topic"),
                                   help="flag user turns a custom English system prompt did not steer (in-process models)")

    # Flags of other techniques that would mislead here, and why.
    refused_flags = {"--template": "magpie uses the model's own chat template, not a prompt template"}


class Magpie:
    """Instructions (and conversations) with no seed at all, from the template's pre-query."""

    name = "magpie"
    summary = "needs no seeds: the model writes the user's turn itself, then answers it"
    settings_class = MagpieSettings
    needs_seeds = False
    needs_chat_template = True  # the pre-query is cut from it

    def __init__(self, settings: MagpieSettings | None = None):
        self.settings = validate(settings or MagpieSettings())

    def check(self, prompts: PromptLibrary, rows: list[dict[str, Any]]) -> None:
        """Magpie needs no seed and no prompt template."""

    def generate(self, ctx: GenerationContext, index: int, row: dict[str, Any] | None) -> dict[str, Any]:
        s = self.settings
        template = ctx.model.chat_template
        stops = ctx.model.turn_stops()
        system_prompt = s.system.choose(ctx.rng(index))
        messages = system_messages(system_prompt)
        opening = template.pre_query(messages)  # the first turn's pre-query, recorded with the sample
        language = expected_language(None, system_prompt)  # the template's default prompt sets none
        calls = []
        gain = None
        for turn in range(1, s.n_turns + 1):
            ctx.on_stage(f"Magpie · turn {turn} · user")
            pre_query = template.pre_query(messages)
            asked = ctx.model.complete(pre_query, s.user_sampling, ctx.call_seed(index, len(calls)), stops, ctx.cancel, ctx.on_text)
            calls.append(asked)
            messages.append({"role": "user", "content": require_text(asked, f"user turn {turn}")})
            rejection = (
                Rejection("user_turn_truncated", f"user turn {turn} hit the token cap ({s.user_sampling.max_tokens})")
                if asked.finish_reason == "length" and s.check_user_turn_cap  # a cut user turn is not a question
                else s.gates.instruction_rejection(messages[-1]["content"], language)
            )
            if rejection is not None:
                return gated(build_sample(self.name, messages, system_prompt, calls, None, pre_query=opening), rejection)
            if turn == 1 and s.flag_off_topic:
                gain = _topic_gain(ctx.model, template, system_prompt, messages[-1]["content"])
            if s.only_instruction or (s.end_with_user and turn == s.n_turns):
                break
            ctx.on_stage(f"Magpie · turn {turn} · assistant")
            answered = ctx.model.chat(messages, s.assistant_sampling, ctx.call_seed(index, len(calls)), ctx.cancel, ctx.on_text,
                                      until=s.gates.answer_stop())
            calls.append(answered)
            messages.append({"role": "assistant", "content": require_text(answered, f"assistant turn {turn}")})
            rejection = s.gates.answer_rejection(messages[-1]["content"], language)
            if rejection is not None:
                return gated(build_sample(self.name, messages, system_prompt, calls, None, pre_query=opening), rejection)
        sample = build_sample(self.name, messages, system_prompt, calls, None, pre_query=opening)
        if gain is not None:
            sample["topic_gain"] = round(gain, 3)
            if gain < OFF_TOPIC_BELOW:
                sample["flags"].append("off_topic")
        return sample


def _topic_gain(model: Any, template: Any, system_prompt: str | None, user_turn: str) -> float | None:
    """The off-topic figure of a first user turn, where the model can score texts (in-process) and it applies."""
    scorer = getattr(model, "text_scorer", None)
    return topic_gain(scorer(), template, system_prompt, user_turn) if scorer is not None and system_prompt else None
