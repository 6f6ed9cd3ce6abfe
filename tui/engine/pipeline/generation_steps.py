"""Pipeline steps that run the engine's techniques on each row.

A step's keys are its technique's settings (`settings_schema`), by name: `template`, `n_turns`,
`num_instructions`... A key several settings share sets them all (`max_tokens` caps every model call
of the step); a group with a prefix has keys of its own (Magpie's `user_temperature`); system prompts
are `system_prompt` (one), or `system_prompts` with `system_weights`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from tui.engine import runner
from tui.engine.errors import BadInput, GenerationFailed
from tui.engine.judge import RATING_TEMPLATE, TAGS_TEMPLATE, JudgeSettings, judge
from tui.engine.judge_run import check_judge_model
from tui.engine.language_model import LanguageModel
from tui.engine.llm import LlamaCppLLM, OpenAICompatibleLLM
from tui.engine.model_file import inspect_model
from tui.engine.model_spec import is_server_url
from tui.engine.pipeline.steps import GenerationStep, Row, SourceStep, StepProblem
from tui.engine.preferences import PAIR_COLUMNS
from tui.engine.server.settings import SettingNames
from tui.engine.settings_schema import FieldPath, Setting, configured, describe, record, with_value
from tui.engine.techniques import chain, evol_instruct, magpie, preference, self_instruct, text_generation
from tui.engine.techniques.base import SystemPrompts, WeightsProblem

_SYSTEM_KEYS = ("_prompt", "_prompts", "_weights")


def setting_keys(settings_class: type) -> dict[str, list[Setting]]:
    """Each step key of a technique's settings, and the settings it sets."""
    keys: dict[str, list[Setting]] = {}
    for described in describe(settings_class):
        if not described.in_steps:
            continue
        names = [described.name + suffix for suffix in _SYSTEM_KEYS] if described.kind == "system" else [described.name]
        for name in names:
            keys.setdefault(name, []).append(described)
    return keys


def settings_from_keys(settings_class: type, given: dict[str, Any], names: Any = None) -> Any:
    """The technique's settings with the step's keys set, checked; BadInput names a wrong key. `names`: how the
    settings' own checks name them (their `names`), for a technique whose checks name several settings."""
    keys = setting_keys(settings_class)
    unknown = [key for key in given if key not in keys]
    if unknown:
        raise BadInput(f"unknown setting {unknown[0]!r} (known: {', '.join(sorted(keys))})")
    values: dict[FieldPath, Any] = {}
    systems: dict[FieldPath, tuple[list[str], list[float]]] = {}
    weights_keys: dict[FieldPath, str] = {}
    for key, value in given.items():
        if value is None:  # left unset: the default
            continue
        for described in keys[key]:
            if described.kind != "system":
                values[described.path] = value
                continue
            prompts, weights = systems.setdefault(described.path, ([], []))
            if key.endswith("_prompt"):
                prompts.append(value)
            elif not isinstance(value, list):
                raise BadInput(f"{key}: must be a list, e.g. {key} = [...]")
            elif key.endswith("_weights"):
                weights.extend(value)
                weights_keys[described.path] = key
            else:
                prompts.extend(value)
    for path, (prompts, weights) in systems.items():
        try:
            values[path] = SystemPrompts(prompts, weights)
        except WeightsProblem as error:
            raise BadInput(f"{weights_keys[path]}: {error.problem}") from None
    if names is not None:
        values[("names",)] = names
    return configured(settings_class, values)


class TechniqueStep(GenerationStep):
    """A step that runs one technique on each row; its keys are the technique's settings."""

    technique_class: ClassVar[type]
    fixed_settings: ClassVar[dict[FieldPath, Any]] = {}  # what a step of this kind always has, whatever its keys
    key_names: ClassVar[Any] = None  # how its technique's own checks name the step's keys, where they name several

    def __init__(self, llm: LlamaCppLLM | None = None, max_retries: int = 2, name: str | None = None,
                 input_mappings: dict[str, str] | None = None, output_mappings: dict[str, str] | None = None,
                 **settings: Any):
        super().__init__(llm=llm, max_retries=max_retries, name=name, input_mappings=input_mappings,
                         output_mappings=output_mappings)
        try:
            self.settings_value = settings_from_keys(self.technique_class.settings_class, settings, self.key_names)
        except BadInput as error:
            raise StepProblem(self.name, str(error)) from None
        for path, value in self.fixed_settings.items():
            self.settings_value = with_value(self.settings_value, path, value)

    def check_model(self, model: LanguageModel) -> None:
        # What the technique needs of the model (Magpie a chat template), as `smolgen generate` checks it.
        runner.check_model(self.technique_class(self.settings_value), model)

    @classmethod
    def setting_keys(cls) -> dict[str, list[Setting]]:
        """The keys a step of this kind takes for its technique's settings."""
        return setting_keys(cls.technique_class.settings_class)

    def technique(self) -> Any:
        return self.technique_class(self.settings_value)

    def settings(self) -> dict[str, Any]:
        return record(self.settings_value)


class TextGeneration(TechniqueStep):
    """A template rendered with the row (default: its `instruction`), answered by the model."""

    kind = "text_generation"
    technique_class = text_generation.TextGeneration
    inputs = ("instruction",)
    outputs = ("generation",)

    def template_text(self, prompts: Any) -> str:
        return prompts.load(self.settings_value.template).source

    def produced(self, sample: Row) -> Row:
        return {"generation": sample["generation"]}


class InstructionResponse(TechniqueStep):
    """The instruction → response chain as one step: the seed asks for an instruction, then it is answered."""

    kind = "instruction_response"
    technique_class = chain.InstructionResponse
    inputs = ("text",)
    outputs = ("instruction", "response")

    def template_text(self, prompts: Any) -> str:
        return prompts.load(self.settings_value.instruction_template).source

    def produced(self, sample: Row) -> Row:
        return {"instruction": sample["instruction"], "response": sample["response"]}


class Magpie(TechniqueStep):
    """Magpie on each row; a row's `system_prompt` column, when present, steers it."""

    kind = "magpie"
    technique_class = magpie.Magpie
    inputs = ()
    outputs = ("instruction", "response", "conversation", "system_prompt")

    def technique_for(self, row: Row) -> magpie.Magpie:
        """A row that carries its own system prompt steers the conversation with it."""
        system_prompt = row.get("system_prompt")
        if not system_prompt:
            return self.technique()
        return magpie.Magpie(dataclasses.replace(self.settings_value, system=SystemPrompts([system_prompt])))

    def produced(self, sample: Row) -> Row:
        return {key: sample[key] for key in self.outputs}


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


class SelfInstruct(TechniqueStep):
    """New instructions from a seed (an instruction or a passage of context), filtered as the paper does.

    Output `instructions` is the list that passed the filters; `expand_columns` turns it into rows.
    Candidates the filters rejected are counted by reason in the step's summary.
    """

    kind = "self_instruct"
    technique_class = self_instruct.SelfInstruct
    fixed_settings = {("answer", "enabled"): False}  # a pipeline answers in a step of its own
    inputs = ("text",)
    outputs = ("instructions",)

    def template_text(self, prompts: Any) -> str:
        return prompts.load(self.settings_value.template).source

    def technique_row(self, row: Row) -> Row:
        # Only the step's input: the technique takes its seed from the first text column it finds.
        view = self.view(row)
        return {column: view[column] for column in self.inputs}

    def collect(self, samples: list[Row]) -> Row:
        return {"instructions": [s["instruction"] for s in samples if s.get("status") != "failed"]}


class EvolInstruct(TechniqueStep):
    """A harder version of the row's instruction after `num_evolutions` rounds of elimination evolving.

    A row none of whose rounds survived elimination fails with the last round's reason (and is retried).
    """

    kind = "evol_instruct"
    technique_class = evol_instruct.EvolInstruct
    fixed_settings = {("answer", "enabled"): False}  # a pipeline answers in a step of its own
    inputs = ("instruction",)
    outputs = ("evolved_instruction", "evolution")

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


# The preference settings as a preference_pairs step's keys name them; its response servers' URL, model and key too.
PREFERENCE_STEP_KEYS = preference.PreferenceNames(
    responses="responses", temperatures="temperatures", system="system_prompts", system_weights="system_weights",
    servers=SettingNames(server="responders", model="response_server_model", key="response_api_key_env"),
)
# What response servers always take from the step's own servers (the step has no keys for them), as smolgen generate's
# take the run's flags: ServerSettings' fields, named alike in SettingNames.
LENT_SERVER_SETTINGS = ("concurrency", "timeout", "max_retries", "chat_template")


class PreferencePairs(TechniqueStep):
    """K responses to the row's instruction, each judged by the step's model; the pair is the best against the
    worst. `responders` (GGUF paths or server URLs, asked for `response_server_model` with the key in
    `response_api_key_env`, each left out: those of the step's own servers, as smolgen generate falls back on
    --server-model and --api-key-env; with the own servers' timeout, retries, concurrency and chat template) write the
    responses in turn instead of the step's model.
    A pipeline that ends here stores preference samples (`smolgen export --format dpo`, Compare pairs)."""

    kind = "preference_pairs"
    technique_class = preference.Preference
    inputs = ("instruction",)
    outputs = PAIR_COLUMNS
    key_names = PREFERENCE_STEP_KEYS

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        for spec in self.settings_value.responders:
            if not is_server_url(spec):
                inspect_model(spec)  # a file that is no GGUF is bad input before anything runs
        self.settings_value = self._response_servers_asked(kwargs.get("response_server_model"), kwargs.get("response_api_key_env"))
        # Loaded on the first row not served from the cache, once for the whole run.
        settings = self.settings_value
        lent = ({name: getattr(self.llm.settings, name) for name in LENT_SERVER_SETTINGS}
                if isinstance(self.llm, OpenAICompatibleLLM) else {})
        self.responder_llms = [
            OpenAICompatibleLLM(spec, settings.response_server_model or None, settings.response_api_key_env or None,
                                **lent, names=settings.names.servers)
            if is_server_url(spec) else LlamaCppLLM(spec) for spec in settings.responders
        ]

    def _response_servers_asked(self, model: str | None, key: str | None) -> preference.PreferenceSettings:
        """The settings with the model and key variable the response servers are asked with (blank: none, recorded
        as null): each left out is the step's own servers', named as where it was set, as smolgen generate falls
        back on --server-model and --api-key-env; so are the settings they always take (LENT_SERVER_SETTINGS).
        None applies when no responder is a server."""
        settings = self.settings_value
        if not any(is_server_url(spec) for spec in settings.responders):
            return dataclasses.replace(settings, response_server_model="", response_api_key_env="")
        own = PREFERENCE_STEP_KEYS.servers
        if isinstance(self.llm, OpenAICompatibleLLM):
            lent = self.llm.lent_names
            own = dataclasses.replace(own, **{name: getattr(lent, name) for name in LENT_SERVER_SETTINGS})
            if model is None and self.llm.settings.model is not None:
                model, own = self.llm.settings.model, dataclasses.replace(own, model=lent.model)
            if key is None and self.llm.settings.api_key_env is not None:
                key, own = self.llm.settings.api_key_env, dataclasses.replace(own, key=lent.key)
        names = dataclasses.replace(PREFERENCE_STEP_KEYS, servers=own)
        return dataclasses.replace(settings, response_server_model=(model or "").strip(), response_api_key_env=(key or "").strip(),
                                   names=names)

    def check_before_run(self, model: LanguageModel | None) -> None:
        super().check_before_run(model)
        for llm in self.responder_llms:
            if isinstance(llm, OpenAICompatibleLLM):  # connecting is cheap; a GGUF loads once a row needs it
                llm.load()

    def technique(self) -> Any:
        technique = self.technique_class(self.settings_value)
        technique.use_responders([llm.load() for llm in self.responder_llms])
        return technique

    def cache_settings(self) -> dict[str, Any]:
        # A GGUF responder enters the signature by its weights' fingerprint, as the judge does; a server by its URL.
        responders = [llm.fingerprint() if isinstance(llm, LlamaCppLLM) else spec
                      for llm, spec in zip(self.responder_llms, self.settings_value.responders)]
        return {**super().settings(), "responders": responders}

    def template_text(self, prompts: Any) -> str:
        return prompts.load(RATING_TEMPLATE).source

    def technique_row(self, row: Row) -> Row:
        # Only the step's input: the technique answers the first text column it finds.
        view = self.view(row)
        return {column: view[column] for column in self.inputs}

    def produced(self, sample: Row) -> Row:
        return {key: sample[key] for key in self.outputs}


class RowJudge:
    """The LLM judge as a step's technique: a row's conversation in, the verdict out; a verdict that
    failed fails the row (it is retried, then stored as failed with the reason), never a made-up score."""

    settings_class = JudgeSettings

    def __init__(self, settings: JudgeSettings):
        self.settings = settings

    def generate(self, ctx: Any, index: int, row: Row) -> Row:
        verdict = judge(ctx.model, conversation_of(row), self.settings.aspects, tag=self.settings.tag,
                        seed=ctx.call_seed(index, 0), prompts=ctx.prompts, cancel=ctx.cancel)
        if not verdict.ok:
            raise GenerationFailed(verdict.failure_reason or "unreadable", verdict.failure or "")
        return {"judgement": verdict.record()}


def conversation_of(row: Row) -> list[dict[str, str]]:
    """The conversation a row holds (Magpie's), else its instruction and response as one exchange."""
    conversation = row.get("conversation")
    if isinstance(conversation, list) and conversation:
        return [m for m in conversation if m.get("role") != "system"]
    turns = [("user", row.get("instruction")), ("assistant", row.get("response"))]
    return [{"role": role, "content": str(text)} for role, text in turns if text]


class Judge(TechniqueStep):
    """Rates each row's answer 1 to 5 per aspect and tags its instruction (`smolgen judge`); output
    `judgement`, kept on the stored sample as the command keeps it. A bigger judge than the generator
    is the point: give the step an `llm` of its own."""

    kind = "judge"
    technique_class = RowJudge
    inputs = ("instruction", "response")
    outputs = ("judgement",)

    def __init__(self, judge_model: str | None = None, **kwargs: Any):
        """`judge_model`: a GGUF judging in-process in place of the pipeline's model (TOML: `judge_model = "…"`)."""
        self.judge_model = judge_model
        if judge_model is not None:
            inspect_model(judge_model)  # a file that is no GGUF is bad input before anything runs
            kwargs["llm"] = LlamaCppLLM(judge_model)
        super().__init__(**kwargs)

    def settings(self) -> dict[str, Any]:
        judge_model = {"judge_model": self.judge_model} if self.judge_model else {}
        return {**judge_model, **super().settings()}

    def cache_settings(self) -> dict[str, Any]:
        return super().settings()  # the judge's weights enter the signature through its fingerprint, not its path

    def check_model(self, model: LanguageModel) -> None:
        check_judge_model(model)  # as `smolgen judge` checks its judge

    def template_text(self, prompts: Any) -> str:
        return "\n".join(prompts.load(name).source for name in (RATING_TEMPLATE, TAGS_TEMPLATE))

    def produced(self, sample: Row) -> Row:
        return {"judgement": sample["judgement"]}
