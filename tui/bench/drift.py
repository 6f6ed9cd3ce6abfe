"""`smolgen bench drift`: how well EvolInstruct's off_topic flag tells an evolution that kept its parent's
subject from one that lost it, on real evolutions of the embedded model read by hand
(data/evolution_drift.json). For each signal it prints the chance that a kept evolution scores higher
than a lost one (the ROC AUC) over all pairs, the clear ones (no judgement call) and those that pass the
instruction gates (the ones the flag sees); for the flag's own signal, the shares it flags at the
threshold in use. Besides the flag's content-word overlap it
measures what the embedded model itself offers, for comparison: the likelihood gain the Magpie flag
uses (with the parent as context, and backwards) and sentence embeddings from its weights."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Callable

LABELLED = Path(__file__).parent / "data" / "evolution_drift.json"
# Contexts for the likelihood gains: the evolution after its parent, and the parent after its evolution.
HARDER = "A harder version of the instruction: "
SIMPLER = "A simpler version of the instruction: "
# A prompt that asks a decoder for a one-word summary: its last token's state stands for the whole text.
SUMMARY_PROMPT = 'This request: "{}" means in one word: "'
FLAG_SIGNAL = "content-word overlap (the flag)"


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench drift`."""
    bench.add_argument("--words-only", action="store_true", help="measure the flag's content-word overlap only (no model)")
    bench.add_argument("--model", type=Path, metavar="PATH", help="a GGUF to score with (default: the embedded model)")
    bench.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: the physical cores)")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")


def cmd_bench_drift(args: argparse.Namespace) -> int:
    """Score every labelled pair with each signal and report how well each separates kept from lost."""
    from tui.engine.quality_gates import OFF_TOPIC_EVOLUTION_AT_MOST, QualityGates, expected_language, topic_overlap

    pairs = json.loads(LABELLED.read_text(encoding="utf-8"))["pairs"]
    gates = QualityGates()
    # The flag sees only the evolutions that pass the instruction gates (a language switch, a statement fail).
    gated = [p for p in pairs if gates.instruction_rejection(p["evolution"], expected_language({"text": p["seed"]})) is None]

    def overlap(parent: str, evolution: str) -> float:
        found = topic_overlap(parent, evolution)
        return 1.0 if found is None else found  # a parent with nothing to keep is never flagged

    signals: dict[str, Callable[[str, str], float]] = {FLAG_SIGNAL: overlap}
    if not args.words_only:
        signals.update(_model_signals(args.model, args.threads))
    populations = {"all": pairs, "clear": [p for p in pairs if not p["judgement_call"]], "gated": gated}
    figures: dict[str, Any] = {
        "threshold": OFF_TOPIC_EVOLUTION_AT_MOST,
        "populations": {name: {"kept": sum(p["kept"] for p in chosen), "lost": sum(not p["kept"] for p in chosen)}
                        for name, chosen in populations.items()},
        "auc": {},
    }
    for name, signal in signals.items():
        scores = {id(p): signal(p["parent"], p["evolution"]) for p in pairs}
        figures["auc"][name] = {population: _auc([(scores[id(p)], p) for p in chosen]) for population, chosen in populations.items()}
    for population, chosen in populations.items():
        flagged = [overlap(p["parent"], p["evolution"]) <= OFF_TOPIC_EVOLUTION_AT_MOST for p in chosen]
        figures["populations"][population].update(
            lost_flagged=sum(f for f, p in zip(flagged, chosen) if not p["kept"]),
            kept_flagged=sum(f for f, p in zip(flagged, chosen) if p["kept"]))
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print("populations: all labelled evolutions; clear, without the judgement calls; gated, those that pass the instruction gates")
    for name, row in figures["auc"].items():
        print(f"{name:>48}: AUC " + ", ".join(f"{population} {auc:.3f}" for population, auc in row.items()))
    for population, row in figures["populations"].items():
        print(f"{population:>6}: flagged at {OFF_TOPIC_EVOLUTION_AT_MOST} or less: lost {row['lost_flagged']}/{row['lost']}, "
              f"kept {row['kept_flagged']}/{row['kept']}")
    return 0


def _model_signals(path: Path | None, threads: int | None) -> dict[str, Callable[[str, str], float]]:
    """The signals the embedded model's weights give: likelihood gains and embedding cosines."""
    from llama_cpp import LLAMA_POOLING_TYPE_LAST, LLAMA_POOLING_TYPE_MEAN, Llama

    from tui.engine.model import Model
    from tui.engine.text_likelihood import context_gain

    model = Model.load(path, n_threads=threads)
    scorer = model.text_scorer()
    embedders = {
        pooling: Llama(model_path=str(model.info.path), embedding=True, pooling_type=pooling, n_threads=model.n_threads,
                       n_threads_batch=model.n_threads, verbose=False)
        for pooling in (LLAMA_POOLING_TYPE_MEAN, LLAMA_POOLING_TYPE_LAST)
    }

    def cosine(pooling: int, wrapper: str) -> Callable[[str, str], float]:
        def score(parent: str, evolution: str) -> float:
            a, b = (embedders[pooling].embed(wrapper.format(text)) for text in (parent, evolution))
            dot = sum(x * y for x, y in zip(a, b))
            return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
        return score

    return {
        "likelihood gain, parent as context": lambda parent, evolution: context_gain(
            scorer, f"Instruction: {parent}\n{HARDER}", HARDER, evolution),
        "likelihood gain, evolution as context": lambda parent, evolution: context_gain(
            scorer, f"Instruction: {evolution}\n{SIMPLER}", SIMPLER, parent),
        "embedding cosine, mean-pooled": cosine(LLAMA_POOLING_TYPE_MEAN, "{}"),
        "embedding cosine, last token of a summary prompt": cosine(LLAMA_POOLING_TYPE_LAST, SUMMARY_PROMPT),
    }


def _auc(scored: list[tuple[float, dict[str, Any]]]) -> float:
    """The chance that a kept pair scores higher than a lost one (ties count half)."""
    kept = [s for s, p in scored if p["kept"]]
    lost = [s for s, p in scored if not p["kept"]]
    return round(sum((a > b) + 0.5 * (a == b) for a in kept for b in lost) / (len(kept) * len(lost)), 3)
