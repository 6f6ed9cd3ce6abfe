"""Pipeline steps that run the engine's techniques on each row."""

from __future__ import annotations

import dataclasses
from typing import Any

from tui.engine.errors import BadInput, GenerationFailed
from tui.engine.model import Sampling
from tui.engine.pipeline.steps import GenerationStep, Row, SourceStep
from tui.engine.techniques import chain, evol_instruct, magpie, self_instruct, text_generation
from tui.engine.techniques.base import SystemPrompts

SAMPLING_KEYS = tuple(field.name for field in dataclasses.fields(Sampling))


def _sampling(step: str, base: Sampling, overrides: dict[str, Any]) -> Sampling:
    unknown = set(overrides) - set(SAMPLING_KEYS)
    if unknown:
        raise BadInput(f"{step}: unknown setting {sorted(unknown)[0]!r}; sampling settings are {', '.join(SAMPLING_KEYS)}")
    try:
        return dataclasses.replace(base, **overrides).validate()
    except BadInput as error:
        raise BadInput(f"{step}: {error}") from None


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate sampling settings from the step's other keyword arguments."""
    sampling = {k: kwargs.pop(k) for k in list(kwargs) if k in SAMPLING_KEYS}
    return sampling, kwargs


class TextGeneration(GenerationStep):
    """A template rendered with the row (default: its `instruction`), answered by the model."""

    kind = "text_generation"
    inputs = ("instruction",)
    outputs = ("generation",)

    def __init__(self, template: str = "text_generation", system_prompt: str | None = None, **kwargs: Any):
        sampling, rest = _split(kwargs)
        super().__init__(**rest)
        self.template = template
        self.system_prompt = system_prompt
        self.sampling = _sampling(self.name, Sampling(), sampling)

    def technique(self) -> text_generation.TextGeneration:
        system = SystemPrompts([self.system_prompt] if self.system_prompt else [])
        return text_generation.TextGeneration(
            text_generation.TextGenerationSettings(template=self.template, system=system, sampling=self.sampling)
        )

    def template_text(self, prompts: Any) -> str:
        return prompts.load(self.template).source

    def produced(self, sample: Row) -> Row:
        return {"generation": sample["generation"]}

    def settings(self) -> dict[str, Any]:
        return {"template": self.template, "system_prompt": self.system_prompt, **self.sampling.as_dict()}


class InstructionResponse(GenerationStep):
    """The instruction → response chain as one step: the seed asks for an instruction, then it is answered."""

    kind = "instruction_response"
    inputs = ("text",)
    outputs = ("instruction", "response")

    def __init__(self, template: str = "chain_instruction", system_prompt: str | None = None, **kwargs: Any):
        sampling, rest = _split(kwargs)
        super().__init__(**rest)
        self.template = template
        self.system_prompt = system_prompt
        defaults = chain.ChainSettings()
        self.instruction_sampling = _sampling(self.name, defaults.instruction_sampling, sampling)
        self.response_sampling = _sampling(self.name, defaults.response_sampling, sampling)

    def technique(self) -> chain.InstructionResponse:
        system = SystemPrompts([self.system_prompt] if self.system_prompt else [])
        return chain.InstructionResponse(
            chain.ChainSettings(self.template, system, self.instruction_sampling, self.response_sampling)
        )

    def template_text(self, prompts: Any) -> str:
        return prompts.load(self.template).source

    def produced(self, sample: Row) -> Row:
        return {"instruction": sample["instruction"], "response": sample["response"]}

    def settings(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "system_prompt": self.system_prompt,
            "instruction_sampling": self.instruction_sampling.as_dict(),
            "response_sampling": self.response_sampling.as_dict(),
        }


class Magpie(GenerationStep):
    """Magpie on each row; a row's `system_prompt` column, when present, steers it."""

    kind = "magpie"
    inputs = ()
    outputs = ("instruction", "response", "conversation", "system_prompt")

    def __init__(self, n_turns: int = 1, system_prompts: list[str] | None = None, system_weights: list[float] | None = None,
                 only_instruction: bool = False, end_with_user: bool = False, **kwargs: Any):
        sampling, rest = _split(kwargs)
        super().__init__(**rest)
        defaults = magpie.MagpieSettings()
        self.settings_value = magpie.MagpieSettings(
            n_turns=n_turns,
            only_instruction=only_instruction,
            end_with_user=end_with_user,
            system=SystemPrompts(list(system_prompts or []), list(system_weights or [])),
            user_sampling=_sampling(self.name, defaults.user_sampling, {k: v for k, v in sampling.items() if k == "max_tokens"}),
            assistant_sampling=_sampling(self.name, defaults.assistant_sampling, sampling),
        ).validate()

    def technique(self) -> magpie.Magpie:
        return magpie.Magpie(self.settings_value)

    def technique_for(self, row: Row) -> magpie.Magpie:
        """A row that carries its own system prompt steers the conversation with it."""
        system_prompt = row.get("system_prompt")
        if not system_prompt:
            return self.technique()
        return magpie.Magpie(dataclasses.replace(self.settings_value, system=SystemPrompts([system_prompt])))

    def produced(self, sample: Row) -> Row:
        return {key: sample[key] for key in self.outputs}

    def settings(self) -> dict[str, Any]:
        s = self.settings_value
        return {
            "n_turns": s.n_turns,
            "system_prompts": s.system.prompts,
            "system_weights": s.system.weights,
            "only_instruction": s.only_instruction,
            "end_with_user": s.end_with_user,
            "user_sampling": s.user_sampling.as_dict(),
            "assistant_sampling": s.assistant_sampling.as_dict(),
        }


class MagpieGenerator(Magpie, SourceStep):
    """Magpie as the first step: `num_rows` conversations from nothing but the chat template."""

    kind = "magpie_generator"

    def __init__(self, num_rows: int = 5, **kwargs: Any):
        if num_rows < 1:
            raise BadInput(f"magpie_generator: num_rows={num_rows} must be at least 1")
        self.num_rows = num_rows
        super().__init__(**kwargs)

    def load_rows(self) -> list[Row]:
        # The index keeps rows apart in the cache; columns starting with "_" are never exported.
        return [{"_row": index} for index in range(self.limit or self.num_rows)]

    def settings(self) -> dict[str, Any]:
        return {"num_rows": self.num_rows, **super().settings()}

    def cache_settings(self) -> dict[str, Any]:
        return Magpie.settings(self)  # asking for more rows must not invalidate the ones already made


class SelfInstruct(GenerationStep):
    """New instructions from a seed (an instruction or a passage of context), filtered as the paper does.

    Output `instructions` is the list that passed the filters; `expand_columns` turns it into rows.
    Candidates the filters rejected are counted by reason in the step's summary.
    """

    kind = "self_instruct"
    inputs = ("text",)
    outputs = ("instructions",)

    def __init__(self, num_instructions: int = 5, application_description: str | None = None,
                 template: str = "self_instruct", **kwargs: Any):
        sampling, rest = _split(kwargs)
        super().__init__(**rest)
        defaults = self_instruct.SelfInstructSettings()
        self.settings_value = self_instruct.SelfInstructSettings(
            template=template,
            num_instructions=num_instructions,
            application_description=application_description or defaults.application_description,
            instruction_sampling=_sampling(self.name, self_instruct.list_sampling(num_instructions), sampling),
        )
        self.settings_value.validate()

    def technique(self) -> Any:
        return self_instruct.SelfInstruct(self.settings_value)

    def template_text(self, prompts: Any) -> str:
        return prompts.load(self.settings_value.template).source

    def technique_row(self, row: Row) -> Row:
        # Only the step's input: the technique takes its seed from the first text column it finds.
        view = self.view(row)
        return {column: view[column] for column in self.inputs}

    def collect(self, samples: list[Row]) -> Row:
        return {"instructions": [s["instruction"] for s in samples if s.get("status") != "failed"]}

    def settings(self) -> dict[str, Any]:
        s = self.settings_value
        return {
            "template": s.template,
            "num_instructions": s.num_instructions,
            "application_description": s.application_description,
            **s.instruction_sampling.as_dict(),
        }


class EvolInstruct(GenerationStep):
    """A harder version of the row's instruction after `num_evolutions` rounds of elimination evolving.

    A row none of whose rounds survived elimination fails with the last round's reason (and is retried).
    """

    kind = "evol_instruct"
    inputs = ("instruction",)
    outputs = ("evolved_instruction", "evolution")

    def __init__(self, num_evolutions: int = 1, operations: list[str] | None = None, **kwargs: Any):
        sampling, rest = _split(kwargs)
        super().__init__(**rest)
        self.settings_value = evol_instruct.EvolInstructSettings(
            num_evolutions=num_evolutions,
            operations=tuple(operations or evol_instruct.OPERATIONS),
            evolution_sampling=_sampling(self.name, evol_instruct.evolution_sampling(), sampling),
        )
        try:
            self.settings_value.validate()
        except BadInput as error:
            raise BadInput(f"{self.name}: {error}") from None

    def technique(self) -> Any:
        return evol_instruct.EvolInstruct(self.settings_value)

    def template_text(self, prompts: Any) -> str:
        return "\n".join(prompts.load(f"{evol_instruct.TEMPLATE_FOLDER}/{op}").source for op in self.settings_value.operations)

    def technique_row(self, row: Row) -> Row:
        # Only the step's input: the technique takes its seed from the first text column it finds.
        view = self.view(row)
        return {column: view[column] for column in self.inputs}

    def collect(self, samples: list[Row]) -> Row:
        kept = [s for s in samples if s.get("status") != "failed"]
        if not kept:
            failures = [s["failure"] for s in samples if s.get("failure")]
            last = failures[-1] if failures else {"reason": "empty", "message": "no evolution survived"}
            raise GenerationFailed(last["reason"], last["message"])
        final = kept[-1]
        return {"evolved_instruction": final["instruction"], "evolution": final.get("evolution", {}).get("lineage", [])}

    def settings(self) -> dict[str, Any]:
        s = self.settings_value
        return {"num_evolutions": s.num_evolutions, "operations": list(s.operations), **s.evolution_sampling.as_dict()}
