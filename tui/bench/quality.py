"""`smolgen bench quality`: how much of what a model writes the default caps and quality gates keep.

Each technique runs once with caps wide enough that almost nothing is cut and every gate off; the
samples stay in a store (`--store`), so they can be read again without generating (`--reuse`). A cap
profile is then applied to the stored samples: a call whose completion reached a cap would have been
cut there (the same seed draws the same tokens up to the cap), and the gates judge the text of the
samples no cap cut. "before" is the first round's profile (answers capped at 256 tokens, no gates);
"after" is today's defaults, read from the settings themselves.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tui.engine.errors import BadInput

TECHNIQUES = ("magpie", "chain", "self-instruct")
# Seeds for the techniques that need them: topics, as most seed lists hold, and instructions, which the
# chain's template must also turn into a sensible pair.
SEEDS = [
    "The water cycle and how clouds form",
    "Give three tips for saving money on groceries.",
    "Photosynthesis in green plants",
    "How a bicycle gear system works",
    "Write a short poem about autumn leaves.",
    "The causes of the French Revolution",
    "Basic Python list comprehensions",
    "Why the sky is blue",
    "Healthy breakfast ideas for busy mornings",
    "Explain the difference between weather and climate.",
    "How vaccines train the immune system",
    "The rules of chess for beginners",
    "Planning a weekend trip on a small budget",
    "Fractions and how to add them",
    "How to write a polite email asking for a deadline extension",
    "The history of the printing press",
    "What makes a good password",
    "Recycling plastic at home",
    "How compound interest grows savings",
    "Tips for learning a new language",
    "The solar system's planets in order",
    "How to care for a houseplant",
    "Summarize the plot of Romeo and Juliet.",
    "Small language models and synthetic data",
    "Making a cup of tea",
]
# Wide enough that a cap almost never cuts what the embedded model writes, within its 2048-token context.
WIDE_CAP = 1024


@dataclass(frozen=True)
class Profile:
    """Caps of the first call (user turn, instruction or list) and of the answer, and whether the gates run."""

    name: str
    first_cap: int
    answer_cap: int
    gates: bool


@dataclass
class Figures:
    """One technique under one profile."""

    samples: int = 0
    truncated: int = 0
    failures: Counter = field(default_factory=Counter)
    exported: list[dict[str, Any]] = field(default_factory=list)
    near_duplicates: int = 0
    distinct_2: float = 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=int, default=100, help="samples per technique (default 100)")
    parser.add_argument("--techniques", default=",".join(TECHNIQUES), help=f"comma-separated, of {', '.join(TECHNIQUES)}")
    parser.add_argument("--store", type=Path, help="keep the generated samples in this store (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="read the samples already in --store instead of generating")
    parser.add_argument("--seed", type=int, default=21, help="the runs' seed (default 21)")
    parser.add_argument("--parallel", type=int, default=4, help="rows decoded together in one llama.cpp batch (default 4)")
    parser.add_argument("--wide-cap", type=int, default=WIDE_CAP, metavar="N",
                        help=f"token cap of every call of the generating runs (default {WIDE_CAP})")
    parser.add_argument("--threads", type=int, help="CPU threads of the model (default: the physical cores; 1 on a busy machine)")
    parser.add_argument("--prompts", type=Path, metavar="DIR", help="a folder of templates searched before the shipped ones (to measure one)")
    parser.add_argument("--show", type=int, default=0, metavar="N", help="print N exported samples per technique, to read")


def cmd_bench_quality(args: argparse.Namespace) -> int:
    """Generate (or reuse) one wide run per technique, then print the figures of each cap profile."""
    techniques = [name.strip() for name in args.techniques.split(",") if name.strip()]
    unknown = [name for name in techniques if name not in TECHNIQUES]
    if unknown:
        raise BadInput(f"bench quality: --techniques: unknown {', '.join(unknown)}; choose from {', '.join(TECHNIQUES)}")
    if args.samples < 1:
        raise BadInput(f"bench quality: --samples {args.samples}: must be at least 1")
    if args.wide_cap < 1:
        raise BadInput(f"bench quality: --wide-cap {args.wide_cap}: must be at least 1")
    if args.reuse and args.store is None:
        raise BadInput("bench quality: --reuse needs --store, the store an earlier run kept")
    from tui.engine.store import SampleStore, check_store_exists

    if args.reuse:
        check_store_exists(args.store, "reuse")

    with tempfile.TemporaryDirectory() as scratch:
        path = args.store or Path(scratch) / "quality.json"
        with SampleStore(path) as store:
            if not args.reuse:
                _generate(store, techniques, args.samples, args.seed, args.parallel, args.wide_cap, args.prompts, args.threads)
            samples = store.list_samples()
        for name in techniques:
            _report(name, [s for s in samples if s.get("technique") == name], args.show)
    return 0


def _wide_technique(name: str, wide_cap: int) -> Any:
    """The technique with today's settings, but caps that do not cut and every gate off."""
    from tui.engine.model import Sampling
    from tui.engine.quality_gates import QualityGates
    from tui.engine.techniques import chain, magpie, self_instruct
    from tui.engine.techniques.base import AnswerSettings

    wide = Sampling(max_tokens=wide_cap)
    if name == "magpie":
        return magpie.Magpie(magpie.MagpieSettings(
            user_sampling=replace(magpie.user_turn_sampling(), max_tokens=wide_cap), assistant_sampling=wide,
            gates=QualityGates.all_off(), check_user_turn_cap=False))
    if name == "chain":
        return chain.InstructionResponse(chain.ChainSettings(
            instruction_sampling=replace(chain.instruction_sampling(), max_tokens=wide_cap), response_sampling=wide,
            gates=QualityGates.all_off()))
    settings = self_instruct.SelfInstructSettings(gates=QualityGates.all_off(), answer=AnswerSettings(sampling=wide))
    return self_instruct.SelfInstruct(settings)


def _generate(store: Any, techniques: list[str], samples: int, seed: int, parallel: int, wide_cap: int, prompts: Path | None,
              threads: int | None) -> None:
    from tui.engine.model import Model
    from tui.engine.prompts import PromptLibrary
    from tui.engine.runner import run_generation

    model = Model.load(n_ctx=2048, n_threads=threads)
    rows = [{"text": text} for text in SEEDS]
    for name in techniques:
        technique = _wide_technique(name, wide_cap)
        # SelfInstruct keeps several instructions of each seed's list: fewer rows give the samples asked for.
        num = samples if name != "self-instruct" else max(1, samples // 3)
        summary = run_generation(technique, store, model, PromptLibrary(prompts), num, seed, rows if technique.needs_seeds else None,
                                 parallel=parallel)
        print(f"{name}: generated {summary.stored} samples in {summary.wall_seconds:.0f} s", flush=True)


def profiles(name: str) -> list[Profile]:
    """The first round's caps without gates, and today's defaults with them."""
    from tui.engine.techniques import chain, magpie, self_instruct

    if name == "magpie":
        now = magpie.MagpieSettings()
        return [Profile("before", 128, 256, False), Profile("after", now.user_sampling.max_tokens, now.assistant_sampling.max_tokens, True)]
    if name == "chain":
        now = chain.ChainSettings()
        return [Profile("before", 96, 256, False), Profile("after", now.instruction_sampling.max_tokens, now.response_sampling.max_tokens, True)]
    now = self_instruct.SelfInstructSettings()
    return [Profile("before", WIDE_CAP, 256, False), Profile("after", WIDE_CAP, now.answer.sampling.max_tokens, True)]


def apply_profile(name: str, samples: list[dict[str, Any]], profile: Profile) -> Figures:
    """What a run with `profile` would have stored and exported, from samples generated with wide caps."""
    from tui.engine.dataset_stats import distinct_n
    from tui.engine.near_duplicates import NearDuplicateIndex
    from tui.engine.quality_gates import QualityGates, expected_language
    from tui.engine.run_quality import NEAR_DUPLICATE_ROUGE

    gates = QualityGates()
    figures = Figures()
    index = NearDuplicateIndex(NEAR_DUPLICATE_ROUGE)
    for sample in samples:
        figures.samples += 1
        if sample.get("status") == "failed":  # a filter the profiles share (SelfInstruct's), or an error
            figures.failures[(sample.get("failure") or {}).get("reason", "error")] += 1
            continue
        first, answer = _completion_tokens(sample)
        if name == "magpie" and profile.gates and first >= profile.first_cap:
            figures.failures["user_turn_truncated"] += 1
            continue
        if first >= profile.first_cap or answer >= profile.answer_cap:
            figures.truncated += 1
            if profile.gates:  # export leaves truncated samples out unless asked
                continue
        if profile.gates:
            language = expected_language(sample.get("seed_row"), sample.get("system_prompt"))
            rejection = (gates.instruction_rejection(sample.get("instruction") or "", language)
                         or gates.answer_rejection(sample.get("response") or "", language))
            if rejection is not None:
                figures.failures[rejection.reason] += 1
                continue
        figures.exported.append(sample)
        instruction = sample.get("instruction") or ""
        if index.closest(instruction) is not None:
            figures.near_duplicates += 1
        else:
            index.add(instruction)
    figures.distinct_2 = distinct_n((s.get("response") or "" for s in figures.exported), 2)
    return figures


def _completion_tokens(sample: dict[str, Any]) -> tuple[int, int]:
    """Tokens of the first call (user turn, instruction or list) and of the last (the answer)."""
    calls = sample.get("calls") or [{}]
    answer = (calls[-1].get("completion_tokens") or 0) if len(calls) > 1 else 0
    return calls[0].get("completion_tokens") or 0, answer


def _report(name: str, samples: list[dict[str, Any]], show: int) -> None:
    if not samples:
        print(f"{name}: no samples")
        return
    stored = [s for s in samples if s.get("status") != "failed"]
    firsts = [_completion_tokens(s)[0] for s in stored]
    answers = [_completion_tokens(s)[1] for s in stored]
    first_name = {"magpie": "user turn", "chain": "instruction"}.get(name, "list")
    print(f"\n{name}: {len(samples)} samples · tokens, median / 90th / 95th percentile: "
          f"{first_name} {_percentiles(firsts)} · answer {_percentiles(answers)}")
    print(f"  {'profile':<8} {'caps':<10} {'truncated':>9} {'failed':>7} {'exported':>8} {'near-dup':>8} {'distinct-2':>10}  failed by reason")
    for profile in profiles(name):
        f = apply_profile(name, samples, profile)
        reasons = ", ".join(f"{reason} {n}" for reason, n in f.failures.most_common()) or "-"
        near = f.near_duplicates / len(f.exported) if f.exported else 0.0
        caps = f"{profile.first_cap}/{profile.answer_cap}" if name != "self-instruct" else str(profile.answer_cap)
        print(f"  {profile.name:<8} {caps:<10} {f.truncated / f.samples:>9.0%} {sum(f.failures.values()) / f.samples:>7.0%} "
              f"{len(f.exported) / f.samples:>8.0%} {near:>8.0%} {f.distinct_2:>10.2f}  {reasons}")
        if profile.gates:
            for sample in f.exported[:show]:
                print(f"    · {_short(sample.get('instruction'))}\n      → {_short(sample.get('response'))}")


def _percentiles(values: list[int]) -> str:
    if len(values) < 2:
        return "-"
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return f"{statistics.median(values):.0f} / {cuts[17]:.0f} / {cuts[18]:.0f}"


def _short(text: str | None, width: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
