"""TextGeneration: a template rendered with the seed row's columns, answered by the model (a base model
without a chat template continues the prompt as raw text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tui.engine.model import Sampling
from tui.engine.prompts import PromptLibrary
from tui.engine.quality_gates import AnswerGates, expected_language
from tui.engine.settings_schema import setting, validate
from tui.engine.techniques.base import (GenerationContext, SystemPrompts, build_sample, can_chat, check_template, gated,
                                       require_text, system_messages, system_prompts_setting)


@dataclass
class TextGenerationSettings:
    template: str = setting("text_generation", label="Prompt template", kind="template", flag="--template", metavar="NAME",
                            help="the prompt template filled with each seed")
    system: SystemPrompts = system_prompts_setting()
    sampling: Sampling = setting(default_factory=Sampling, label="Sampling")
    gates: AnswerGates = setting(default_factory=AnswerGates, label="Quality gates")


class TextGeneration:
    """The chapter's basic prompting: one prompt in, one generation out (output column `generation`)."""

    name = "text"
    summary = "a prompt template filled with each seed, answered by the model"
    settings_class = TextGenerationSettings
    needs_seeds = True

    def __init__(self, settings: TextGenerationSettings | None = None):
        self.settings = validate(settings or TextGenerationSettings())

    def check(self, prompts: PromptLibrary, rows: list[dict[str, Any]]) -> None:
        check_template(prompts, self.settings.template, rows)

    def generate(self, ctx: GenerationContext, index: int, row: dict[str, Any] | None) -> dict[str, Any]:
        template = ctx.prompts.load(self.settings.template)
        prompt = template.render(**(row or {}))
        system_prompt = self.settings.system.choose(ctx.rng(index))
        messages = [*system_messages(system_prompt), {"role": "user", "content": prompt}]
        ctx.on_stage("Text generation · assistant")
        until = self.settings.gates.answer_stop()
        if can_chat(ctx.model):
            completion = ctx.model.chat(messages, self.settings.sampling, ctx.call_seed(index, 0), ctx.cancel, ctx.on_text,
                                        until=until)
        else:  # a base model continues the prompt as written, the system prompt first
            raw = "\n\n".join(message["content"] for message in messages) + "\n\n"
            completion = ctx.model.complete(raw, self.settings.sampling, ctx.call_seed(index, 0), ctx.model.turn_stops(),
                                            ctx.cancel, ctx.on_text, until=until)
        generation = require_text(completion, "generation")
        conversation = [*messages, {"role": "assistant", "content": generation}]
        sample = build_sample(self.name, conversation, system_prompt, [completion], row, generation=generation)
        return gated(sample, self.settings.gates.answer_rejection(generation, expected_language(row, system_prompt)))
