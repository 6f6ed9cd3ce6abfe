"""`smolgen bench generation`, also `smolgen bench` alone: the same work through bare loops, the engine and the app.

Every variant runs in a fresh process per repetition (the model loads once there, outside the clock,
then the workloads run in turn), alternating the variants' order between repetitions so the
machine's drift touches them alike; figures are medians over the repetitions, and a ratio of two
variants is the median of their ratios within each repetition.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tui.bench.workloads import WORKLOADS, Workload
from tui.cli_flags import add_model_flag
from tui.engine.errors import BadInput, SmolgenError

VARIANTS = ("bare", "tuned", "engine", "app", "parallel")
# `parallel` (the engine with --parallel S) is asked for by name: it pays only with many items, and
# the default bench must stay about a minute.
DEFAULT_VARIANTS = ("bare", "tuned", "engine", "app")
DEFAULT_PARALLEL = 8
# Sized for about a minute on a quiet 2-core machine: 4 variants x 2 repetitions is 8 processes, each
# starting and loading the model off the clock, then two items of each workload, at most 24 + 32 tokens
# for Magpie and the chain, a list of 3 x 24 for SelfInstruct (whose long prompt takes a while to read).
# Items matter more than repetitions: the variants' samplers write answers of different lengths, and
# with one item that alone moves a ratio; for the README's table, --items 8 --repeat 3.
DEFAULT_ITEMS, DEFAULT_REPEAT, DEFAULT_USER_TOKENS, DEFAULT_ANSWER_TOKENS = 2, 2, 24, 32


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench generation` (and of `smolgen bench` alone)."""
    bench.description = (
        "Time the same generation work done four ways on one model: Magpie samples, instruction → response rows and "
        "SelfInstruct seeds. Each variant runs in a fresh process per repetition (start-up and model load are off the "
        "clock) and does --items items of each workload with short caps. For steadier figures raise --items before "
        "--repeat. `smolgen bench` with no name runs this."
    )
    add_model_flag(bench)
    bench.add_argument("--items", type=int, default=DEFAULT_ITEMS, metavar="N",
                       help=f"Magpie samples, chain rows and SelfInstruct seeds per workload and repetition (default {DEFAULT_ITEMS}: "
                       "each is two or more model calls, and three workloads x four variants x two repetitions add up)")
    bench.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, metavar="R",
                       help=f"repetitions, each variant in a fresh process, their order reversed every other time; figures are "
                       f"medians (default {DEFAULT_REPEAT}; 3 or more lets the median drop an outlier)")
    bench.add_argument("--user-tokens", type=int, default=DEFAULT_USER_TOKENS, metavar="N",
                       help=f"cap of a Magpie user turn, a chain instruction and each instruction of a SelfInstruct list of 3 "
                       f"(default {DEFAULT_USER_TOKENS}: room for a one-sentence question)")
    bench.add_argument("--answer-tokens", type=int, default=DEFAULT_ANSWER_TOKENS, metavar="N",
                       help=f"cap of an answer (default {DEFAULT_ANSWER_TOKENS}: answers usually run to the cap, so this sets "
                       "most of the decoding time)")
    bench.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated: {', '.join(WORKLOADS)} (default all)")
    bench.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                       help=f"comma-separated: {', '.join(VARIANTS)} (default {','.join(DEFAULT_VARIANTS)}; parallel is the "
                       "engine with --parallel S rows at once, and is worth timing only with --items of S or more)")
    bench.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, metavar="S",
                       help=f"rows at once in the parallel variant (default {DEFAULT_PARALLEL})")
    bench.add_argument("--threads", type=int, metavar="N",
                       help="CPU threads of the tuned, engine and app variants (default: the physical cores, as the app; "
                       "the bare loop keeps llama-cpp-python's default)")
    bench.add_argument("--smoke", action="store_true",
                       help="a tiny run that only checks everything works (CI): 1 item, 1 repetition, 8-token caps, 1 thread")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench(args: argparse.Namespace) -> int:
    """Run every variant in fresh processes, alternating their order, and print the medians and ratios."""
    from tui.engine.model_file import default_model_path, inspect_model

    if args.smoke:
        args.items, args.repeat, args.user_tokens, args.answer_tokens = 1, 1, 8, 8
        # Two threads on a busy CI core wait on each other far longer than one works alone.
        args.threads = args.threads or 1
    workloads = [_workload(kind, args) for kind in args.workloads.split(",") if kind]
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise BadInput(f"--variants: unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    if not workloads or not variants:
        raise BadInput("--workloads and --variants need at least one name each")
    if min(args.items, args.repeat, args.user_tokens, args.answer_tokens, 1 if args.threads is None else args.threads) < 1:
        raise BadInput("--items, --repeat, --user-tokens, --answer-tokens and --threads must be at least 1")
    if "parallel" in variants:
        from tui.engine.batched_model import check_parallel

        check_parallel(args.parallel)
    model_path = inspect_model(args.model or default_model_path()).path
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for repetition in range(args.repeat):
        order = variants if repetition % 2 == 0 else list(reversed(variants))
        for variant in order:
            measured = _run_in_subprocess(variant, workloads, model_path, args.threads, args.parallel)
            runs[variant].extend(measured)
            if not args.json:
                for record in measured:
                    print(f"  rep {repetition + 1} {record['workload']:<12} {variant:<7} {record['tokens_per_second']:7.1f} tok/s", file=sys.stderr)
    report = summarise(runs, workloads, model_path, args)
    print(json.dumps(report) if args.json else render(report))
    return 0


def _workload(kind: str, args: argparse.Namespace) -> Workload:
    if kind not in WORKLOADS:
        raise BadInput(f"--workloads: unknown workload {kind!r}; choose from {', '.join(WORKLOADS)}")
    return Workload(kind, args.items, args.user_tokens, args.answer_tokens)


def _run_in_subprocess(
    variant: str, workloads: list[Workload], model_path: Path, threads: int | None, parallel: int = DEFAULT_PARALLEL
) -> list[dict[str, Any]]:
    workloads_json = json.dumps([asdict(w) for w in workloads])
    command = [sys.executable, "-m", "tui.bench.worker", variant, workloads_json, str(model_path), str(threads or 0), str(parallel)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        raise SmolgenError(f"bench variant {variant} did not finish within 30 minutes") from None
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise SmolgenError(f"bench variant {variant} failed: {tail}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def summarise(runs: dict[str, list[dict[str, Any]]], workloads: list[Workload], model_path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Medians per variant over repetitions (all workloads of a repetition pooled), and the ratios."""
    per_variant: dict[str, dict[str, float]] = {}
    pooled_by_variant: dict[str, list[dict[str, float]]] = {}
    for variant, measurements in runs.items():
        reps = [measurements[i : i + len(workloads)] for i in range(0, len(measurements), len(workloads))]
        pooled = []
        for rep in reps:
            seconds = sum(m["seconds"] for m in rep)
            pooled.append({
                "tokens_per_second": sum(m["generated_tokens"] for m in rep) / seconds if seconds else 0.0,
                "samples_per_minute": 60 * sum(m["samples"] for m in rep) / seconds if seconds else 0.0,
                "first_token_seconds": statistics.median(m["first_token_seconds"] or 0.0 for m in rep),
                "peak_rss_mb": max(m["peak_rss_mb"] for m in rep),
                "store_share": sum(m["store_seconds"] for m in rep) / seconds if seconds else 0.0,
            })
        per_variant[variant] = {key: round(statistics.median(p[key] for p in pooled), 4) for key in pooled[0]}
        pooled_by_variant[variant] = pooled

    def ratio(a: str, b: str) -> float | None:
        """The median over repetitions of a's tok/s over b's in the same repetition: the two ran back to
        back, so the machine's drift touches both (a ratio of the two medians mixes repetitions)."""
        if a not in pooled_by_variant or b not in pooled_by_variant:
            return None
        pairs = [x["tokens_per_second"] / y["tokens_per_second"]
                 for x, y in zip(pooled_by_variant[a], pooled_by_variant[b]) if y["tokens_per_second"]]
        return round(statistics.median(pairs), 3) if pairs else None

    return {
        "model": str(model_path),
        "machine": {"cpus": _cpu_count(), "processor": platform.processor() or platform.machine(), "python": platform.python_version()},
        "workload": {"workloads": [w.kind for w in workloads], "items": args.items, "repeat": args.repeat,
                     "user_tokens": args.user_tokens, "answer_tokens": args.answer_tokens,
                     "threads": args.threads or "physical cores",
                     **({"parallel": args.parallel} if "parallel" in runs else {})},
        "variants": per_variant,
        "ratios": {
            "engine_vs_bare": ratio("engine", "bare"),
            "engine_vs_tuned": ratio("engine", "tuned"),
            "app_vs_engine": ratio("app", "engine"),
            "parallel_vs_engine": ratio("parallel", "engine"),
        },
        "runs": runs,
    }


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def render(report: dict[str, Any]) -> str:
    lines = [
        f"model {Path(report['model']).name} · {report['machine']['cpus']} CPUs · "
        f"{report['workload']['items']} items × {', '.join(report['workload']['workloads'])} × {report['workload']['repeat']} repetitions",
        f"{'variant':<8}{'tok/s':>9}{'samples/min':>13}{'first token s':>15}{'peak MB':>9}{'store %':>9}",
    ]
    for variant, figures in report["variants"].items():
        lines.append(
            f"{variant:<8}{figures['tokens_per_second']:>9.1f}{figures['samples_per_minute']:>13.1f}"
            f"{figures['first_token_seconds']:>15.3f}{figures['peak_rss_mb']:>9.0f}{100 * figures['store_share']:>9.2f}"
        )
    ratios = report["ratios"]
    lines.append("ratios (generated tokens per second, median of each repetition's ratio): " + ", ".join(
        f"{name} {value:.3f}" if value is not None else f"{name} n/a" for name, value in ratios.items()
    ))
    return "\n".join(lines)
