"""Preference pairs: K responses to each instruction, each rated by a judge; the pair is the highest rated
against the lowest (the chapter's next step: preference datasets for DPO).

The responses differ by model, system prompt or temperature, each taken in turn (response k uses the
k-th of each list, wrapping around), and every response records what made it. The judge is the model
in use; the responders are it too unless the settings name others (GGUF paths or server URLs, the
servers asked for the model and with the key variable the settings name), which the front end opens.
A response the model left empty, or one the judge could not rate, is kept with its reason and left out
of the pair; equal ratings make no pair, and the sample says why (a person can still pick one on the
compare screen).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tui.engine.errors import BadInput
from tui.engine.judge import ASPECTS, RATING_TEMPLATE, judge
from tui.engine.language_model import LanguageModel
from tui.engine.model import Completion, Sampling
from tui.engine.model_spec import check_key_variable, check_model_spec, is_server_url
from tui.engine.preferences import TECHNIQUE, preference_sample, response_record
from tui.engine.prompts import PromptLibrary
from tui.engine.seeds import seed_text
from tui.engine.server.settings import SettingNames, is_flag
from tui.engine.settings_schema import describe, set_by_code, setting, validate
from tui.engine.techniques.base import GenerationContext, SystemPrompts, build_sample, can_chat, system_messages
from tui.engine.techniques.evol_instruct import rows_from_store

MIN_RESPONSES, MAX_RESPONSES = 2, 4


# A response server's URL, model and key variable as the preference tab's fields name them in a bad-input line.
RESPONSE_SERVER_FIELDS = SettingNames(server="response model", model="response server model", key="response key variable")


@dataclass(frozen=True)
class PreferenceNames:
    """What the person called the settings the preference checks name, so that a bad-input line names what they
    typed: the command's flags; the response models, which the command takes by flags of its own, by the
    preference tab's fields. A pipeline step names its keys."""

    responses: str = "--responses"
    temperatures: str = "--temperatures"
    system: str = "--system"
    system_weights: str = "--system-weights"
    servers: SettingNames = RESPONSE_SERVER_FIELDS

    def system_prompts(self) -> str:
        """The system prompts as a line calls them: a flag's prompts, or a key that says it."""
        return f"{self.system} prompts" if is_flag(self.system) else self.system


@dataclass
class PreferenceSettings:
    responses: int = setting(2, label="Responses per instruction", flag="--responses", at_least=MIN_RESPONSES, at_most=MAX_RESPONSES,
                             help="responses to each instruction, each judged; the pair is the best against the worst")
    system: SystemPrompts = setting(default_factory=SystemPrompts, label="System prompts", flag="--system", metavar="TEXT",
                                    help="system prompt; repeat to give the responses different ones, in turn")
    temperatures: tuple[float, ...] = setting((), label="Temperatures", flag="--temperatures", metavar="T,T",
                                              help="a temperature per response, in turn (default: the sampling temperature)")
    aspects: tuple[str, ...] = setting(("overall",), label="Judged aspects", flag="--aspects", choices=ASPECTS, metavar="A,A",
                                       help="what the judge rates, 1 to 5 each; a response's rating is their mean")
    responders: list[str] = setting(default_factory=list, label="Response models",
                                    help="GGUF paths or server URLs that write the responses, in turn (blank: the model in use, which judges)")
    response_server_model: str = setting("", label="Response server model", flag="--response-server-model", metavar="NAME",
                                         help="the model to ask response servers for (blank: the server's only model). "
                                         "Left out: the run's --server-model, or a pipeline's [llm] model.", blank_records_null=True)
    response_api_key_env: str = setting("", label="Response key variable", flag="--response-api-key-env", metavar="VAR",
                                        help="the environment variable holding the response servers' API key (blank: no key). "
                                        "Left out: the run's --api-key-env, or a pipeline's [llm] api_key_env.", blank_records_null=True)
    sampling: Sampling = setting(default_factory=Sampling, label="Sampling")
    names: PreferenceNames = set_by_code(PreferenceNames())  # how the checks name the settings, not a setting

    def check_together(self) -> None:
        """Each temperature within the sampling temperature's bounds, no more temperatures or prompts than
        responses, each response model a GGUF file or a server's URL, and the servers' key variable set."""
        names = self.names
        for spec in self.responders:
            check_model_spec(spec, names.servers.server)
        if any(is_server_url(spec) for spec in self.responders):
            check_key_variable(self.response_api_key_env, names.servers.key)
        if self.system.weights:
            raise BadInput(
                f"{names.system_weights}: preference gives the {names.system_prompts()} to the responses in turn, not by weight")
        bounds = next(s.bounds for s in describe(Sampling) if s.path == ("temperature",))
        for temperature in self.temperatures:
            if not bounds.holds(temperature):
                raise BadInput(f"{names.temperatures} {temperature:g}: must be {bounds.expected()}")
        for count, what, name in ((len(self.temperatures), "temperatures", names.temperatures),
                                  (len(self.system.prompts), "system prompts", names.system)):
            if count > self.responses:
                raise BadInput(f"{name}: {count} {what} for {self.responses} responses ({names.responses})")


def instruction_rows(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seed rows from the store's instructions (`--from-store`); preference samples are left out: theirs are answered."""
    return rows_from_store([sample for sample in samples if sample.get("technique") != TECHNIQUE])


def check_writes_responses(model: LanguageModel, named: str) -> None:
    """A model that writes responses must chat; BadInput names it as `named` (the setting and the model)."""
    if not can_chat(model):
        raise BadInput(f"{named}: cannot chat (no chat template), so it cannot write responses")


@dataclass(frozen=True)
class ResponsePlan:
    """What makes one response: its model, its system prompt (or none) and its temperature."""

    model: LanguageModel
    system_prompt: str | None
    temperature: float


class Preference:
    """K responses to each instruction, judged; stored as one preference sample with its pair."""

    name = TECHNIQUE
    summary = "K responses to each instruction, rated by a judge: the best against the worst, for DPO"
    settings_class = PreferenceSettings
    needs_seeds = True
    chats = True

    def __init__(self, settings: PreferenceSettings | None = None, responders: list[LanguageModel] | None = None):
        """`responders`: the models that write the responses, in turn (default: the model in use, which also
        judges); the front end opens those `settings.responders` names and gives them here."""
        self.settings = validate(settings or PreferenceSettings())
        self.responders = list(responders or [])

    def use_responders(self, models: list[LanguageModel]) -> None:
        """Write the responses with these models, opened from `settings.responders` in order; each must chat."""
        for spec, model in zip(self.settings.responders, models):
            check_writes_responses(model, f"{self.settings.names.servers.server} {spec}")
        self.responders = list(models)

    def check(self, prompts: PromptLibrary, rows: list[dict[str, Any]]) -> None:
        prompts.load(RATING_TEMPLATE)
        for row in rows:
            seed_text(row)

    def plan(self, judge_model: LanguageModel) -> list[ResponsePlan]:
        """The responses to write for each instruction, in order."""
        if len(self.responders) < len(self.settings.responders):
            raise BadInput(f"response models {', '.join(self.settings.responders)}: named but not opened for this run")
        models = self.responders or [judge_model]
        prompts = self.settings.system.prompts or [None]
        temperatures = self.settings.temperatures or (self.settings.sampling.temperature,)
        return [ResponsePlan(models[k % len(models)], prompts[k % len(prompts)], temperatures[k % len(temperatures)])
                for k in range(self.settings.responses)]

    def generate(self, ctx: GenerationContext, index: int, row: dict[str, Any] | None) -> dict[str, Any]:
        instruction = seed_text(row or {})
        plans = self.plan(ctx.model)
        shared = {plan.system_prompt for plan in plans}
        # A system prompt every response had is part of the prompt; differing ones only steered each response.
        shared_system = shared.pop() if len(shared) == 1 else None
        prompt = [*system_messages(shared_system), {"role": "user", "content": instruction}]
        calls: list[Completion] = []
        texts = []
        for k, plan in enumerate(plans):
            ctx.on_stage(f"Preference · response {k + 1} of {len(plans)}")
            messages = [*system_messages(plan.system_prompt), {"role": "user", "content": instruction}]
            sampling = dataclasses.replace(self.settings.sampling, temperature=plan.temperature)
            completion = plan.model.chat(messages, sampling, ctx.call_seed(index, k), ctx.cancel, ctx.on_text)
            calls.append(completion)
            texts.append(completion.text.strip())
        responses = []
        for k, (plan, text) in enumerate(zip(plans, texts)):
            record = response_record(text, plan.model.label, plan.system_prompt, plan.temperature)
            record["truncated"] = calls[k].finish_reason == "length"
            if not text:
                record["failure"] = "the model wrote an empty response"
            else:
                ctx.on_stage(f"Preference · judging response {k + 1} of {len(plans)}")
                verdict = judge(ctx.model, [*prompt, {"role": "assistant", "content": text}], self.settings.aspects, tag=False,
                                seed=ctx.call_seed(index, len(plans) + k), prompts=ctx.prompts, cancel=ctx.cancel)
                record["rating"] = verdict.record()
            responses.append(record)
        sample = build_sample(self.name, prompt, shared_system, calls, row)
        return {**sample, **preference_sample(prompt, responses)}
