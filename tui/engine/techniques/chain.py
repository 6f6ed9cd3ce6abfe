"""The chapter's two-step example: generate an instruction from a seed, then answer it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui.engine.model import Sampling
from tui.engine.prompts import PromptLibrary
from tui.engine.techniques.base import GenerationContext, check_template, SystemPrompts, build_sample, require_text, system_messages

_WRAPPERS = ('"', "'", "“", "”", "`")


@dataclass
class ChainSettings:
    instruction_template: str = "chain_instruction"
    system: SystemPrompts = field(default_factory=SystemPrompts)
    instruction_sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.8, max_tokens=96))
    response_sampling: Sampling = field(default_factory=Sampling)


def clean_instruction(text: str) -> str:
    """The instruction a model wrote, without surrounding quotes or a leading label."""
    text = text.strip()
    for label in ("Question:", "Instruction:", "Prompt:"):
        if text.lower().startswith(label.lower()):
            text = text[len(label):].strip()
    while len(text) > 1 and text[0] in _WRAPPERS and text[-1] in _WRAPPERS:
        text = text[1:-1].strip()
    return text


class InstructionResponse:
    """Instruction → response: one sample holds the generated instruction and its answer."""

    name = "chain"
    needs_seeds = True

    def __init__(self, settings: ChainSettings | None = None):
        self.settings = settings or ChainSettings()

    def settings_record(self) -> dict[str, Any]:
        return {
            "instruction_template": self.settings.instruction_template,
            "system_prompts": self.settings.system.record(),
            "instruction_sampling": self.settings.instruction_sampling.as_dict(),
            "response_sampling": self.settings.response_sampling.as_dict(),
        }

    def check(self, prompts: PromptLibrary, rows: list[dict[str, Any]]) -> None:
        check_template(prompts, self.settings.instruction_template, rows)

    def generate(self, ctx: GenerationContext, index: int, row: dict[str, Any] | None) -> dict[str, Any]:
        template = ctx.prompts.load(self.settings.instruction_template)
        seed_prompt = template.render(**(row or {}))
        ctx.on_stage("Instruction → response · instruction")
        asked = ctx.model.chat(
            [{"role": "user", "content": seed_prompt}],
            self.settings.instruction_sampling,
            ctx.call_seed(index, 0),
            ctx.cancel,
            ctx.on_text,
        )
        instruction = clean_instruction(require_text(asked, "instruction"))
        system_prompt = self.settings.system.choose(ctx.rng(index))
        messages = [*system_messages(system_prompt), {"role": "user", "content": instruction}]
        ctx.on_stage("Instruction → response · response")
        answered = ctx.model.chat(messages, self.settings.response_sampling, ctx.call_seed(index, 1), ctx.cancel, ctx.on_text)
        response = require_text(answered, "response")
        conversation = [*messages, {"role": "assistant", "content": response}]
        return build_sample(self.name, conversation, system_prompt, [asked, answered], row, seed_prompt=seed_prompt)
