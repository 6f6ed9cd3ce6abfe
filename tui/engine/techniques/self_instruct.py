"""SelfInstruct: from one seed (an instruction or a passage of context) the model writes a list of new
instructions; the Self-Instruct paper's filters keep those that are new and well formed.

Each instruction of the list becomes its own sample, stored before the next is checked, so the
near-duplicate check sees the ones just kept; rows run in parallel see each other's too (a kept
instruction is checked again and entered in the index in one step, just before it is stored). A
dropped instruction is stored as a failed sample with its reason (too_short, too_long,
unservable_keyword, starts_with_punctuation, near_duplicate, token_cap, beyond_count: the list went on
past the number asked for, or a quality gate's: not_a_request, language_mismatch, repetition of its
answer) and is never exported.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from tui.engine.instruction_filters import InstructionFilters, Rejection, borrowed_example_word
from tui.engine.instruction_parsing import parse_instructions
from tui.engine.model import Completion, Sampling
from tui.engine.near_duplicates import NearDuplicate, NearDuplicateIndex
from tui.engine.prompts import PromptLibrary
from tui.engine.quality_gates import QualityGates, expected_language
from tui.engine.seeds import seed_text
from tui.engine.settings_schema import setting, validate, with_value
from tui.engine.techniques.base import (
    AnswerSettings,
    GenerationContext,
    InstructionsFromSeeds,
    SampleStream,
    answer_instruction,
    build_sample,
    gated,
    rejected,
)

# distilabel's defaults, from the Self-Instruct paper.
DEFAULT_CRITERIA = (
    "Incorporate a diverse range of verbs, avoiding repetition.\n"
    "Ensure queries are compatible with AI model's text generation functions and are limited to 1-2 sentences.\n"
    "Design queries to be self-contained and standalone.\n"
    'Blend interrogative (e.g., "What is the significance of x?") and imperative (e.g., "Detail the process of x.") styles.'
)
DEFAULT_APPLICATION = "AI assistant"
# Room for one instruction of the list; the list's token cap is this times the instructions asked for.
TOKENS_PER_INSTRUCTION = 48
# A heading ("# Context", "## Notes") after the list means the model has moved on to something else.
_LIST_STOPS = ("\n#",)
_QUOTED = re.compile(r'"([^"\n]{8,})"')


def list_sampling(num_instructions: int = 5) -> Sampling:
    """Sampling for the list, chosen on SmolLM2-135M (docs/performance.md): at 0.4 it writes one question
    five times; above 0.9 it drifts into prose; a mild repeat penalty keeps the items apart."""
    return Sampling(temperature=0.7, repeat_penalty=1.1, max_tokens=TOKENS_PER_INSTRUCTION * num_instructions)


@dataclass
class SelfInstructSettings:
    template: str = setting("self_instruct", label="Prompt template", kind="template", flag="--template", metavar="NAME",
                            help="the prompt template that asks each seed for a list of instructions")
    num_instructions: int = setting(5, label="Instructions per seed", flag="--num-instructions", at_least=1,
                                    help="instructions asked per seed")
    criteria_for_query_generation: str = setting(DEFAULT_CRITERIA, label="Criteria for the instructions",
                                                 help="what makes a good instruction, as the prompt tells the model")
    application_description: str = setting(DEFAULT_APPLICATION, label="Application description",
                                           flag="--application-description", help="the AI application")
    filters: InstructionFilters = setting(default_factory=InstructionFilters, label="Filters")
    gates: QualityGates = setting(default_factory=QualityGates, label="Quality gates")
    instruction_sampling: Sampling = setting(default_factory=list_sampling, label="Instruction list sampling")
    # A pipeline step makes the list only: answering is the next step's work.
    answer: AnswerSettings = setting(default_factory=AnswerSettings, label="Answer", in_steps=False)

    def follow_given(self, given: set[tuple[str, ...]]) -> "SelfInstructSettings":
        """Unless its token cap is given, the list has room for the number of instructions asked."""
        if ("instruction_sampling", "max_tokens") in given:
            return self
        return with_value(self, ("instruction_sampling", "max_tokens"), TOKENS_PER_INSTRUCTION * max(self.num_instructions, 1))


class SelfInstruct(InstructionsFromSeeds):
    """Many new instructions from each seed, filtered as in the Self-Instruct paper."""

    name = "self-instruct"
    summary = "new instructions listed from each seed; the new, well-formed ones are kept"
    settings_class = SelfInstructSettings

    def __init__(self, settings: SelfInstructSettings | None = None):
        self.settings = validate(settings or SelfInstructSettings())
        self._known = NearDuplicateIndex(self.settings.filters.rouge_threshold)
        self._known_lock = threading.Lock()  # rows run in parallel (`--parallel`) share the index

    def check(self, prompts: PromptLibrary, rows: list[dict[str, Any]]) -> None:
        template = prompts.load(self.settings.template)
        for row in rows:
            template.render(**self._variables(row))

    def prepare_run(self, stored: list[dict[str, Any]]) -> None:
        """Index the store's instructions: a new one too close to any of them is not new."""
        self._known = NearDuplicateIndex(self.settings.filters.rouge_threshold)
        if self.settings.filters.check_near_duplicates:
            self._known.add_all((s["instruction"], s["id"]) for s in stored if s.get("instruction"))

    def _variables(self, row: dict[str, Any] | None) -> dict[str, Any]:
        s = self.settings
        return {
            "num_instructions": s.num_instructions,
            "criteria_for_query_generation": s.criteria_for_query_generation,
            "application_description": s.application_description,
            "input": seed_text(row or {}),
        }

    def generate(self, ctx: GenerationContext, index: int, row: dict[str, Any] | None) -> SampleStream:
        s = self.settings
        variables = self._variables(row)
        prompt, example_words = ctx.prompts.load(s.template).render_with_example_words(**variables)
        if not s.filters.check_example_topic:
            example_words = ()
        ctx.on_stage("SelfInstruct · instructions")
        stops = (*ctx.model.turn_stops(), *_LIST_STOPS)
        listed = ctx.model.complete(prompt, s.instruction_sampling, ctx.call_seed(index, 0), stops, ctx.cancel, ctx.on_text)
        candidates = candidate_instructions(listed, s.num_instructions)
        if not candidates:  # stored as a failed sample that still accounts for the call's tokens
            unlisted = build_sample(self.name, [], None, [], row, [listed], source=_source(prompt, listed, None))
            yield rejected(unlisted, "no_instructions", f"the model's list held no instruction: {listed.text.strip()[:80]!r}")
            return
        own_prompt = NearDuplicateIndex(s.filters.rouge_threshold)
        own_prompt.add_all((line, "its own prompt") for line in parse_instructions(prompt))
        own_prompt.add_all((quoted, "its own prompt") for quoted in _QUOTED.findall(prompt))  # the criteria's examples
        rng = ctx.rng(index)
        language = expected_language(row)
        uncounted = [listed]  # the list's call is counted once, with the row's first sample
        for position, (instruction, dropped) in enumerate(candidates, start=1):
            counted, uncounted = uncounted, []
            source = _source(prompt, listed, position)
            question = [{"role": "user", "content": instruction}]
            rejection = (
                dropped
                or self._rejection(instruction, own_prompt)
                or borrowed_example_word(instruction, variables["input"], example_words)
                or s.gates.instruction_rejection(instruction, language)
            )
            if rejection is not None:
                yield rejected(
                    build_sample(self.name, question, None, [], row, counted, source=source), rejection.reason, rejection.message
                )
                continue
            conversation, system_prompt, calls = question, None, []
            if s.answer.enabled:
                ctx.on_stage(f"SelfInstruct · answer {position}")
                conversation, system_prompt, answered = answer_instruction(
                    ctx, instruction, s.answer, rng, ctx.call_seed(index, position), s.gates.answer_stop()
                )
                calls, counted = [answered], [*counted, answered]
                gate = (Rejection("empty", "the model wrote an empty answer") if not answered.text.strip()
                        else s.gates.answer_rejection(answered.text, language))
                if gate is not None:
                    yield gated(build_sample(self.name, conversation, system_prompt, calls, row, counted, source=source), gate)
                    continue
            sample = build_sample(self.name, conversation, system_prompt, calls, row, counted, source=source)
            claim = self._claim(instruction)
            if isinstance(claim, Rejection):  # a row running alongside kept a near-duplicate meanwhile
                yield rejected(sample, claim.reason, claim.message)
                continue
            claim.sample_id = yield sample

    def _rejection(self, instruction: str, own_prompt: NearDuplicateIndex) -> Rejection | None:
        """The first filter the instruction fails: the paper's three, then near-duplicates of a line of
        its own prompt (the seed, the template's example), of a stored instruction or of one just kept."""
        filters = self.settings.filters
        rejection = filters.check(instruction)
        if rejection is not None or not filters.check_near_duplicates:
            return rejection
        copied = own_prompt.closest(instruction)
        if copied is not None:
            return Rejection("near_duplicate", f"ROUGE-L {copied.score:.2f} with a line of its own prompt: {copied.text!r}")
        with self._known_lock:
            return _near_known(self._known.closest(instruction))

    def _claim(self, instruction: str) -> "_Claim | Rejection":
        """Check a kept instruction against the index once more and enter it, in one step.

        Rows run in parallel check their instructions, answer them, then store them: without this, two
        rows could both pass the check before either was stored, and keep the same instruction twice.
        """
        claim = _Claim()
        with self._known_lock:
            if self.settings.filters.check_near_duplicates:
                rejection = _near_known(self._known.closest(instruction))
                if rejection is not None:
                    return rejection
            self._known.add(instruction, claim)
        return claim


class _Claim:
    """A kept instruction's key in the index: the id of its sample once stored."""

    def __init__(self) -> None:
        self.sample_id: int | None = None

    def __str__(self) -> str:
        return str(self.sample_id) if self.sample_id is not None else "being stored"


def _near_known(match: NearDuplicate | None) -> Rejection | None:
    if match is None:
        return None
    return Rejection("near_duplicate", f"ROUGE-L {match.score:.2f} with sample {match.key}: {match.text!r}")


def _source(prompt: str, listed: Completion, position: int | None) -> dict[str, Any]:
    """Where a sample's instruction came from: the prompt, the model's whole list and its place in it."""
    return {"prompt": prompt, "raw": listed.text, "call": listed.record(), "position": position}


def candidate_instructions(listed: Completion, limit: int) -> list[tuple[str, Rejection | None]]:
    """Every instruction of a model's list, each with why it is dropped before the filters, if it is.

    Past the `limit` asked for, an instruction is dropped as beyond the count. When the model hit the
    token cap, its last line stopped mid-way: an instruction parsed from it is dropped as cut off rather
    than passed off as complete.
    """
    text = listed.text
    if listed.finish_reason != "length" or text.endswith("\n"):
        whole, cut = parse_instructions(text), []
    else:
        complete, _, last_line = text.rpartition("\n")
        whole, cut = parse_instructions(complete), parse_instructions(last_line)
    beyond = Rejection("beyond_count", f"the list went on past the {limit} instruction{'s' if limit != 1 else ''} asked for")
    cut_off = Rejection("token_cap", "cut off by the token cap of the list")
    found = [(instruction, None) for instruction in whole] + [(instruction, cut_off) for instruction in cut]
    return [(instruction, beyond if position >= limit else dropped) for position, (instruction, dropped) in enumerate(found)]
