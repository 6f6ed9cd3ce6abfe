"""The chapter's two-step example: generate an instruction from a seed, then answer it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tui.engine.model import Sampling
from tui.engine.prompts import PromptLibrary
from tui.engine.quality_gates import QualityGates, expected_language, not_a_request
from tui.engine.settings_schema import setting, validate
from tui.engine.techniques.base import (GenerationContext, SystemPrompts, build_sample, check_template, gated, require_text,
                                       system_messages, system_prompts_setting)

_WRAPPERS = ('"', "'", "“", "”", "`")
# A small model often frames the question it was asked for: 'A user might ask, "How do …?"'.
_ASKED_QUOTE = re.compile(r"\bask(?:s|ed|ing)?\b[^\"“\n]{0,20}[\"“]([^\"”\n]+\?)[\"”]", re.IGNORECASE)
# Or it labels it: "The answer is: How does …?", "Here's a possible request: Explain …".
_FRAME_LABEL = re.compile(r"\b(?:answers?|questions?|requests?|asks?|prompts?|instructions?|query)\b[^:]*$", re.IGNORECASE)


def instruction_sampling() -> Sampling:
    """Sampling for the instruction the seed asks for: a short one, a little more varied than the answer."""
    return Sampling(temperature=0.8, repeat_penalty=1.0, max_tokens=96)  # the answers' penalty was measured, not this


@dataclass
class ChainSettings:
    instruction_template: str = setting("chain_instruction", label="Instruction template", kind="template", flag="--template",
                                        metavar="NAME", step_key="template",
                                        help="the prompt template that asks each seed for an instruction")
    system: SystemPrompts = system_prompts_setting()
    instruction_sampling: Sampling = setting(default_factory=instruction_sampling, label="Instruction sampling")
    response_sampling: Sampling = setting(default_factory=Sampling, label="Response sampling")
    gates: QualityGates = setting(default_factory=QualityGates, label="Quality gates")


def clean_instruction(text: str) -> str:
    """The instruction a model wrote, without surrounding quotes or a leading label."""
    text = text.strip()
    for label in ("A question:", "Question:", "Instruction:", "Prompt:"):
        if text.lower().startswith(label.lower()):
            text = text[len(label):].strip()
    while len(text) > 1 and text[0] in _WRAPPERS and text[-1] in _WRAPPERS:
        text = text[1:-1].strip()
    return text


def instruction_from_reply(text: str) -> str:
    """The instruction in the model's reply to the chain's first step: the question it quoted after "ask",
    else its first paragraph (what follows is most often the model answering its own question), cleaned."""
    quoted = _ASKED_QUOTE.search(text)
    if quoted is not None:
        return quoted.group(1).strip()
    return _unframed(clean_instruction(text.strip().split("\n\n", 1)[0]))


def _unframed(instruction: str) -> str:
    """The request after a label that names it ("One question: How …?"), when what follows asks something."""
    label, colon, request = instruction.rpartition(": ")
    request = clean_instruction(request)
    if colon and _FRAME_LABEL.search(label) and len(request.split()) >= 3 and not_a_request(request) is None:
        return request
    return instruction


class InstructionResponse:
    """Instruction → response: one sample holds the generated instruction and its answer."""

    name = "chain"
    summary = "an instruction written from each seed, then answered"
    chats = True  # both the instruction and the answer are chat turns
    settings_class = ChainSettings
    needs_seeds = True

    def __init__(self, settings: ChainSettings | None = None):
        self.settings = validate(settings or ChainSettings())

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
        instruction = instruction_from_reply(require_text(asked, "instruction"))
        system_prompt = self.settings.system.choose(ctx.rng(index))
        messages = [*system_messages(system_prompt), {"role": "user", "content": instruction}]
        language = expected_language(row)
        rejection = self.settings.gates.instruction_rejection(instruction, language)
        if rejection is not None:  # not answered: its answer would not be kept
            return gated(build_sample(self.name, messages, system_prompt, [asked], row, seed_prompt=seed_prompt), rejection)
        ctx.on_stage("Instruction → response · response")
        answered = ctx.model.chat(messages, self.settings.response_sampling, ctx.call_seed(index, 1), ctx.cancel, ctx.on_text,
                                  until=self.settings.gates.answer_stop())
        response = require_text(answered, "response")
        conversation = [*messages, {"role": "assistant", "content": response}]
        sample = build_sample(self.name, conversation, system_prompt, [asked, answered], row, seed_prompt=seed_prompt)
        return gated(sample, self.settings.gates.answer_rejection(response, language))
