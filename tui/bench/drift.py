"""`smolgen bench drift`: how well EvolInstruct's off_topic flag tells an evolution that kept its parent's
subject from one that lost it, on real evolutions of the embedded model read by hand
(data/evolution_drift.json). For each signal it prints the chance that a kept evolution scores higher
than a lost one (the ROC AUC), over all pairs and over the clear ones (no judgement call); for the flag's
own signal, the shares it flags at the threshold in use. Besides the flag's content-word overlap it
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


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench drift`."""
    bench.add_argument("--words-only", action="store_true", help="measure the flag's content-word overlap only (no model)")
    bench.add_argument("--model", type=Path, metavar="PATH", help="a GGUF to score with (default: the embedded model)")
    bench.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: the physical cores)")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")


def cmd_bench_drift(args: argparse.Namespace) -> int:
    """Score every labelled pair with each signal and report how well each separates kept from lost."""
    from tui.engine.quality_gates import OFF_TOPIC_EVOLUTION_BELOW, topic_overlap

    pairs = json.loads(LABELLED.read_text(encoding="utf-8"))["pairs"]

    def overlap(parent: str, evolution: str) -> float:
        found = topic_overlap(parent, evolution)
        return 1.0 if found is None else found  # a parent with nothing to keep is never flagged

    signals: dict[str, Callable[[str, str], float]] = {"content-word overlap (the flag)": overlap}
    if not args.words_only:
        signals.update(_model_signals(args.model, args.threads))
    figures: dict[str, Any] = {"pairs": len(pairs), "kept": sum(p["kept"] for p in pairs),
                               "clear": sum(not p["judgement_call"] for p in pairs), "signals": {}}
    for name, signal in signals.items():
        scores = [signal(p["parent"], p["evolution"]) for p in pairs]
        clear = [(s, p) for s, p in zip(scores, pairs) if not p["judgement_call"]]
        figures["signals"][name] = {"auc": _auc(list(zip(scores, pairs))), "auc_clear": _auc(clear)}
    words = [overlap(p["parent"], p["evolution"]) for p in pairs]
    figures["threshold"] = OFF_TOPIC_EVOLUTION_BELOW
    figures["flagged"] = {
        group: {"flagged": sum(w < OFF_TOPIC_EVOLUTION_BELOW for w, _p in chosen), "of": len(chosen)}
        for group, chosen in (
            ("lost", [(w, p) for w, p in zip(words, pairs) if not p["kept"]]),
            ("lost, clear", [(w, p) for w, p in zip(words, pairs) if not p["kept"] and not p["judgement_call"]]),
            ("kept", [(w, p) for w, p in zip(words, pairs) if p["kept"]]),
            ("kept, clear", [(w, p) for w, p in zip(words, pairs) if p["kept"] and not p["judgement_call"]]),
        )
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{figures['pairs']} labelled evolutions: {figures['kept']} kept their parent's subject, "
          f"{figures['pairs'] - figures['kept']} lost it; {figures['clear']} clear cases")
    for name, row in figures["signals"].items():
        print(f"{name:>48}: AUC {row['auc']:.3f} (clear cases {row['auc_clear']:.3f})")
    shares = {group: f"{row['flagged']}/{row['of']}" for group, row in figures["flagged"].items()}
    print(f"flagged below {OFF_TOPIC_EVOLUTION_BELOW}: lost {shares['lost']} (clear {shares['lost, clear']}), "
          f"kept {shares['kept']} (clear {shares['kept, clear']})")
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
