"""EvolInstruct: rewrite an instruction into harder ones, round after round, with elimination evolving.

Each round draws an operation from the enabled set with the row's seeded generator (so `--seed`
replays the same sequence), renders its template in `prompts/evol_instruct/` and lets the model
complete it. A failed evolution (see `elimination.py`) is stored as a failed sample with its reason
and the parent stays for the next round. Every evolved sample keeps its parent's text and, when the
parent is stored, its id, so a reviewer can put the two side by side: an evolution can drift from its
parent's meaning. One that shares few content words with its parent is flagged `off_topic`, with the
share recorded as `topic_overlap`.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any, Iterator

from tui.engine.elimination import eliminate
from tui.engine.model import Completion, Sampling
from tui.engine.prompts import PromptLibrary
from tui.engine.quality_gates import OFF_TOPIC_EVOLUTION_AT_MOST, QualityGates, expected_language, topic_overlap
from tui.engine.seeds import seed_text
from tui.engine.settings_schema import setting, validate
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
from tui.engine.techniques.chain import clean_instruction

# The Evol-Instruct paper's five in-depth operations, then in-breadth evolution.
OPERATIONS = ("add_constraints", "deepening", "concretizing", "increase_reasoning_steps", "complicate_input", "in_breadth")
TEMPLATE_FOLDER = "evol_instruct"
# The templates are completion prompts that end on an open "Rewritten instruction:" line; the
# instruction is that line (a 135M model goes on to comment on its rewrite on the next one).
_EVOLUTION_STOPS = ("\n",)
# Rows taken from the store (`--from-store`) carry the stored sample's id under this key.
SAMPLE_ID_COLUMN = "sample_id"


def evolution_sampling() -> Sampling:
    """Sampling for a rewrite, chosen on SmolLM2-135M (docs/performance.md)."""
    return Sampling(temperature=0.7, repeat_penalty=1.1, max_tokens=128)


@dataclass
class EvolInstructSettings:
    num_evolutions: int = setting(1, label="Rounds of evolution", flag="--num-evolutions", at_least=1,
                                  help="rounds of evolution")
    # A pipeline step passes on the last generation only: these two are for runs into the store.
    store_evolutions: bool = setting(False, label="Store every generation", flag="--store-evolutions", in_steps=False,
                                     help="keep every generation, not only the last")
    include_original: bool = setting(False, label="Store the original too", flag="--include-original", in_steps=False,
                                     help="store the original instruction too")
    operations: tuple[str, ...] = setting(OPERATIONS, label="Operations", flag="--operations", choices=OPERATIONS,
                                          metavar="OP,OP,...", help="the operations drawn from")
    evolution_sampling: Sampling = setting(default_factory=evolution_sampling, label="Evolution sampling")
    answer: AnswerSettings = setting(default_factory=AnswerSettings, label="Answer", in_steps=False)
    # An evolution is an instruction the model wrote, so it passes the instruction gates as well as its answer.
    gates: QualityGates = setting(default_factory=QualityGates, label="Quality gates", in_steps=False)
    # A pipeline step passes the instruction on without the sample's flags: the flag is for runs into the store.
    flag_off_topic: bool = setting(True, label="Off-topic flag", switched_off_by=("--no-filter", "off-topic"), in_steps=False,
                                   help="flag evolutions that share few content words with their parent")

    # Flags of other techniques that would mislead here, and why.
    refused_flags = {
        "--template": "evol-instruct uses one template per operation in evol_instruct/; override them with --prompts DIR",
    }


@dataclass
class Generation:
    """One instruction in a row's line of descent: the original (round 0) or a successful evolution."""

    instruction: str
    round: int
    operation: str | None
    prompt: str | None = None
    sample_id: int | None = None
    calls: list[Completion] = field(default_factory=list)  # the evolution calls that led to it, not yet stored


def rows_from_store(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seed rows from stored samples (new or accepted, with an instruction) that link back to them."""
    return [
        {"instruction": s["instruction"], SAMPLE_ID_COLUMN: s["id"]}
        for s in samples
        if s.get("status") in ("new", "accepted") and s.get("instruction")
    ]


class EvolInstruct(InstructionsFromSeeds):
    """Harder instructions from each instruction, over `num_evolutions` rounds."""

    name = "evol-instruct"
    summary = "each instruction rewritten into harder ones, round after round"
    settings_class = EvolInstructSettings

    def __init__(self, settings: EvolInstructSettings | None = None):
        self.settings = validate(settings or EvolInstructSettings())

    def check(self, prompts: PromptLibrary, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            seed_text(row)
        for operation in self.settings.operations:
            prompts.load(f"{TEMPLATE_FOLDER}/{operation}").render(instruction="Name a fruit.")

    def generate(self, ctx: GenerationContext, index: int, row: dict[str, Any] | None) -> SampleStream:
        s = self.settings
        row = row or {}
        operations = ctx.rng(index)
        answers = ctx.rng(index, stream=1)  # answering (or not) leaves the operation sequence as it is
        call_numbers = itertools.count()
        parent = Generation(seed_text(row).strip(), 0, None, sample_id=row.get(SAMPLE_ID_COLUMN))
        lineage = [parent]
        if s.include_original and parent.sample_id is None:
            sample = self._kept(ctx, index, row, lineage, answers, call_numbers)
            sample_id = yield sample
            parent.sample_id = _kept_id(sample, sample_id)
        stored = parent  # the nearest generation in the store, the one a new sample links to
        for round_ in range(1, s.num_evolutions + 1):
            operation = operations.choice(s.operations)
            template = ctx.prompts.load(f"{TEMPLATE_FOLDER}/{operation}")
            prompt, example_words = template.render_with_example_words(instruction=parent.instruction)
            ctx.on_stage(f"EvolInstruct · round {round_} · {operation.replace('_', ' ')}")
            stops = (*ctx.model.turn_stops(), *_EVOLUTION_STOPS)
            evolved = ctx.model.complete(
                prompt, s.evolution_sampling, ctx.call_seed(index, next(call_numbers)), stops, ctx.cancel, ctx.on_text
            )
            candidate = clean_instruction(evolved.text)
            failure = (eliminate(parent.instruction, candidate, evolved.finish_reason, prompt, example_words)
                       or s.gates.instruction_rejection(candidate, expected_language(row)))
            if failure is not None:
                failed = build_sample(
                    self.name,
                    [{"role": "user", "content": candidate}],
                    None,
                    [evolved],
                    row,
                    parent_id=stored.sample_id,
                    parent_instruction=parent.instruction,
                    evolution={"round": round_, "operation": operation, "prompt": prompt},
                )
                yield rejected(failed, failure.reason, failure.message)
                continue  # the parent stays in the pool for the next round
            carried = parent.calls if parent.sample_id is None else []  # not yet counted in a stored sample
            parent = Generation(candidate, round_, operation, prompt, calls=[*carried, evolved])
            lineage.append(parent)
            if s.store_evolutions:
                sample = self._kept(ctx, index, row, lineage, answers, call_numbers, stored)
                sample_id = yield sample
                parent.sample_id = _kept_id(sample, sample_id)
                parent.calls = []
                if parent.sample_id is not None:
                    stored = parent
        if not s.store_evolutions and parent.round > 0:  # only the last generation is kept
            yield self._kept(ctx, index, row, lineage, answers, call_numbers, stored)

    def _kept(
        self,
        ctx: GenerationContext,
        index: int,
        row: dict[str, Any],
        lineage: list[Generation],
        rng: random.Random,
        call_numbers: Iterator[int],
        stored: Generation | None = None,
    ) -> dict[str, Any]:
        """The sample of the last generation of `lineage`, answered when asked, linked to its parent.

        An empty answer makes it a failed sample; the generation still evolves in the next round.
        """
        generation = lineage[-1]
        conversation = [{"role": "user", "content": generation.instruction}]
        system_prompt, calls = None, list(generation.calls)
        if self.settings.answer.enabled:
            ctx.on_stage(f"EvolInstruct · answer · round {generation.round}")
            conversation, system_prompt, answered = answer_instruction(
                ctx, generation.instruction, self.settings.answer, rng, ctx.call_seed(index, next(call_numbers)),
                self.settings.gates.answer_stop(),
            )
            calls.append(answered)
        parent = lineage[-2] if len(lineage) > 1 else None
        sample = build_sample(
            self.name,
            conversation,
            system_prompt,
            calls,
            row,
            parent_id=stored.sample_id if stored is not None else None,
            parent_instruction=parent.instruction if parent is not None else None,
            evolution={
                "round": generation.round,
                "operation": generation.operation,
                "prompt": generation.prompt,
                "lineage": [{"round": g.round, "operation": g.operation, "instruction": g.instruction} for g in lineage],
            },
        )
        if parent is not None and self.settings.flag_off_topic:
            _flag_off_topic(sample, parent.instruction, generation.instruction)
        if not self.settings.answer.enabled:
            return sample
        if not sample["response"]:
            return rejected(sample, "empty", "the model wrote an empty answer")
        return gated(sample, self.settings.gates.answer_rejection(sample["response"], expected_language(row)))


def _flag_off_topic(sample: dict[str, Any], parent: str, evolution: str) -> None:
    """Record how many content words the evolution kept from its parent, and flag it when too few."""
    overlap = topic_overlap(parent, evolution)
    if overlap is None:
        return
    sample["topic_overlap"] = round(overlap, 2)
    if overlap <= OFF_TOPIC_EVOLUTION_AT_MOST:
        sample["flags"].append("off_topic")


def _kept_id(sample: dict[str, Any], sample_id: int) -> int | None:
    """The id a later generation links to: none when the sample was stored as failed."""
    return None if sample.get("status") == "failed" else sample_id
