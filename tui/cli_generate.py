"""`smolgen generate`: build a technique from flags, stream its samples to the terminal, summarise."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any, TextIO

from tui.cli_flags import DEFAULT_MAGPIE_NUM, TECHNIQUE_FLAGS
from tui.cli_signals import cancelled_by_signals, signal_name
from tui.engine.errors import BadInput
from tui.engine.model import Model, Sampling, new_run_seed
from tui.engine.prompts import PromptLibrary
from tui.engine.runner import RunObserver, check_run, run_generation
from tui.engine.seeds import read_seed_file
from tui.engine.store import SampleStore
from tui.engine.techniques.base import AnswerSettings, SystemPrompts, Technique
from tui.engine.instruction_filters import InstructionFilters
from tui.engine.techniques.chain import ChainSettings, InstructionResponse
from tui.engine.techniques.evol_instruct import EvolInstruct, EvolInstructSettings, rows_from_store
from tui.engine.techniques.magpie import Magpie, MagpieSettings
from tui.engine.techniques.self_instruct import TOKENS_PER_INSTRUCTION, SelfInstruct, SelfInstructSettings
from tui.engine.techniques.text_generation import TextGeneration, TextGenerationSettings

class TerminalObserver(RunObserver):
    """Streams tokens to stdout under a header per model call, and a progress line per sample."""

    def __init__(self, out: TextIO, err: TextIO, stream_tokens: bool, parallel: bool = False):
        self.out, self.err, self.stream_tokens, self.parallel = out, err, stream_tokens, parallel
        self.started = time.perf_counter()
        self.tokens = 0
        self.model_seconds = 0.0

    def stage(self, text: str) -> None:
        if self.stream_tokens:
            self.out.write(f"\n── {text} ──\n")
            self.out.flush()

    def text(self, chunk: str) -> None:
        if self.stream_tokens:
            self.out.write(chunk)
            self.out.flush()

    def sample_done(self, sample: dict[str, Any], done: int, total: int) -> None:
        if sample.get("tokens"):  # a rejected candidate cost model time too
            self.tokens += sample["tokens"]["completion"]
            self.model_seconds += sample["seconds"]
        if sample.get("status") == "failed":
            failure = sample["failure"]
            line = f"failed ({failure['reason']}): {failure['message']}"
            if sample.get("instruction"):
                line += f" · {_one_line(sample['instruction'])}"
        else:
            # Rows generated at once overlap: their rate is the tokens over the time since the start.
            seconds = time.perf_counter() - self.started if self.parallel else self.model_seconds
            rate = self.tokens / seconds if seconds else 0.0
            flags = f" [{', '.join(sample['flags'])}]" if sample.get("flags") else ""
            line = f"stored{flags} · {rate:.1f} tok/s"
        if self.stream_tokens:
            self.out.write("\n")
            self.out.flush()
        self.err.write(f"[{done}/{total}] {line}\n")
        self.err.flush()


def build_technique(args: argparse.Namespace) -> Technique:
    """The technique and settings the flags ask for."""
    _check_technique_flags(args)
    system = SystemPrompts(args.system, _weights(args.system_weights))
    answer = Sampling()
    if args.temperature is not None:
        answer.temperature = args.temperature
    if args.max_tokens is not None:
        answer.max_tokens = args.max_tokens
    answer.validate()
    if args.technique == "text":
        return TextGeneration(TextGenerationSettings(template=args.template or "text_generation", system=system, sampling=answer))
    if args.technique == "chain":
        settings = ChainSettings(system=system, response_sampling=answer)
        settings.instruction_template = args.template or settings.instruction_template
        settings.instruction_sampling = _override(settings.instruction_sampling, args.temperature, args.max_tokens)
        return InstructionResponse(settings)
    if args.technique == "self-instruct":
        return _self_instruct(args, system, answer)
    if args.technique == "evol-instruct":
        return _evol_instruct(args, system, answer)
    if args.template:
        raise BadInput("--template: magpie uses the model's own chat template, not a prompt template")
    settings = MagpieSettings(
        n_turns=args.turns,
        only_instruction=args.only_instruction,
        end_with_user=args.end_with_user,
        system=system,
        assistant_sampling=answer,
    )
    settings.user_sampling = _override(settings.user_sampling, args.user_temperature, args.max_tokens)
    return Magpie(settings)


def _self_instruct(args: argparse.Namespace, system: SystemPrompts, answer: Sampling) -> SelfInstruct:
    settings = SelfInstructSettings(answer=AnswerSettings(args.answer, system, answer))
    settings.template = args.template or settings.template
    if args.num_instructions is not None:
        settings.num_instructions = args.num_instructions
    if args.application_description is not None:
        settings.application_description = args.application_description
    filters = InstructionFilters()
    if args.rouge_threshold is not None:
        filters.rouge_threshold = args.rouge_threshold
    settings.filters = filters.without(args.no_filter)
    list_tokens = args.max_tokens if args.max_tokens is not None else TOKENS_PER_INSTRUCTION * max(settings.num_instructions, 1)
    settings.instruction_sampling = _override(settings.instruction_sampling, args.temperature, list_tokens)
    return SelfInstruct(settings)


def _evol_instruct(args: argparse.Namespace, system: SystemPrompts, answer: Sampling) -> EvolInstruct:
    if args.template:
        raise BadInput(
            "--template: evol-instruct uses one template per operation in evol_instruct/; override them with --prompts DIR"
        )
    settings = EvolInstructSettings(
        store_evolutions=args.store_evolutions,
        include_original=args.include_original,
        answer=AnswerSettings(args.answer, system, answer),
    )
    if args.num_evolutions is not None:
        settings.num_evolutions = args.num_evolutions
    if args.operations is not None:
        settings.operations = tuple(op.strip().replace("-", "_") for op in args.operations.split(",") if op.strip())
    settings.evolution_sampling = _override(settings.evolution_sampling, args.temperature, args.max_tokens)
    return EvolInstruct(settings)


def _check_technique_flags(args: argparse.Namespace) -> None:
    for attribute, flag, techniques in TECHNIQUE_FLAGS:
        if args.technique not in techniques and getattr(args, attribute) not in (None, False, []):
            raise BadInput(f"{flag}: only for {' and '.join(techniques)}, not {args.technique}")
    if args.from_store and args.seeds is not None:
        raise BadInput("--from-store and --seeds: evolve either the store's instructions or a seed file, not both")


def _override(sampling: Sampling, temperature: float | None, max_tokens: int | None) -> Sampling:
    changes: dict[str, Any] = {}
    if temperature is not None:
        changes["temperature"] = temperature
    if max_tokens is not None:
        changes["max_tokens"] = max_tokens
    return dataclasses.replace(sampling, **changes).validate()


def _weights(text: str | None) -> list[float]:
    if not text:
        return []
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise BadInput(f"--system-weights {text}: expected numbers separated by commas, e.g. 3,1,1") from None


def run_generate_command(args: argparse.Namespace) -> int:
    technique = build_technique(args)
    prompts = PromptLibrary(args.prompts)
    rows: list[dict[str, Any]] = []
    if args.seeds is not None:
        seed_file = read_seed_file(args.seeds)
        for problem in seed_file.problems:
            print(f"smolgen: {problem}", file=sys.stderr)
        rows = seed_file.rows
    with SampleStore(args.store) as store:
        if args.from_store:
            rows = rows_from_store(store.list_samples(statuses=("new", "accepted")))
            if not rows:
                raise BadInput(f"--from-store: {args.store} has no new or accepted sample with an instruction")
        elif technique.needs_seeds and not rows:
            rows = [seed["row"] for seed in store.list_seeds(selected_only=True)]
        num = args.num if args.num is not None else (len(rows) if technique.needs_seeds else DEFAULT_MAGPIE_NUM)
        check_run(technique, prompts, num, rows, args.parallel)  # bad input is reported before the model loads
        model = Model.load(args.model, n_ctx=args.context, n_threads=args.threads)
        run_seed = args.seed if args.seed is not None else new_run_seed()
        unit = "seeds" if isinstance(technique, (SelfInstruct, EvolInstruct)) else "samples"  # several samples each
        parallel = f", {args.parallel} rows at once" if args.parallel > 1 else ""
        print(
            f"{technique.name}: {num} {unit} with {model.info.name} ({model.info.parameters_label}, "
            f"{model.info.quantization}), {model.n_threads} threads{parallel}, seed {run_seed}, store {args.store}",
            file=sys.stderr,
        )
        # Several rows at once have no single stream of tokens to show.
        observer = TerminalObserver(sys.stdout, sys.stderr, not args.quiet and args.parallel == 1, args.parallel > 1)
        with cancelled_by_signals() as signals:
            summary = run_generation(technique, store, model, prompts, num, run_seed, rows, observer, signals.cancel, args.parallel)
    failures = ", ".join(f"{n} {reason}" for reason, n in summary.failures.items())
    print(
        f"run {summary.run_id} {summary.status}: {summary.stored} stored, {summary.failed} failed"
        + (f" ({failures})" if failures else "")
        + f"; {summary.completion_tokens} tokens at {summary.tokens_per_second:.1f} tok/s in {summary.wall_seconds:.1f} s"
        + f" → {args.store}",
        file=sys.stderr,
    )
    if signals.received is not None:
        print(f"smolgen: stopped by {signal_name(signals.received)}; the sample in progress was dropped", file=sys.stderr)
    return signals.exit_code()


def _one_line(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
