"""`smolgen bench`: time the same work through a bare loop, a tuned loop, the engine and the app.

Every (variant, workload) pair runs in a fresh process, alternating variants within each repetition,
so the machine's drift touches them alike; figures are medians over the repetitions.
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

from tui.bench.workloads import Workload
from tui.engine.errors import BadInput

VARIANTS = ("bare", "tuned", "engine", "app")


def add_bench_command(commands: Any) -> None:
    bench = commands.add_parser("bench", help="time generation: bare llama-cpp-python loops vs the engine vs the app")
    bench.add_argument("--model", type=Path, metavar="PATH", help="a GGUF model (default: the embedded SmolLM2-135M-Instruct)")
    bench.add_argument("--items", type=int, default=3, metavar="N", help="samples per workload (default 3)")
    bench.add_argument("--repeat", type=int, default=3, metavar="R", help="repetitions; figures are medians (default 3)")
    bench.add_argument("--user-tokens", type=int, default=48, metavar="N", help="cap of a user turn or instruction (default 48)")
    bench.add_argument("--answer-tokens", type=int, default=64, metavar="N", help="cap of an answer (default 64)")
    bench.add_argument("--workloads", default="magpie,chain", help="comma-separated: magpie, chain (default both)")
    bench.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated: {', '.join(VARIANTS)}")
    bench.add_argument("--smoke", action="store_true", help="a tiny run that only checks everything works (CI)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench(args: argparse.Namespace) -> int:
    from tui.engine.model_file import default_model_path, inspect_model

    model_path = inspect_model(args.model or default_model_path()).path
    if args.smoke:
        args.items, args.repeat, args.user_tokens, args.answer_tokens = 1, 1, 8, 8
    workloads = [_workload(kind, args) for kind in args.workloads.split(",") if kind]
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise BadInput(f"--variants: unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    if args.items < 1 or args.repeat < 1:
        raise BadInput("--items and --repeat must be at least 1")
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for repetition in range(args.repeat):
        for workload in workloads:
            order = variants if repetition % 2 == 0 else list(reversed(variants))
            for variant in order:
                runs[variant].append(_run_in_subprocess(variant, workload, model_path))
                if not args.json:
                    last = runs[variant][-1]
                    print(f"  rep {repetition + 1} {workload.kind:<7} {variant:<7} {last['tokens_per_second']:7.1f} tok/s", file=sys.stderr)
    report = summarise(runs, workloads, model_path, args)
    print(json.dumps(report) if args.json else render(report))
    return 0


def _workload(kind: str, args: argparse.Namespace) -> Workload:
    if kind not in ("magpie", "chain"):
        raise BadInput(f"--workloads: unknown workload {kind!r}; choose from magpie, chain")
    return Workload(kind, args.items, args.user_tokens, args.answer_tokens)


def _run_in_subprocess(variant: str, workload: Workload, model_path: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "tui.bench.worker", variant, json.dumps(asdict(workload)), str(model_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BadInput(f"bench variant {variant} on {workload.kind} failed: {tail}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def summarise(runs: dict[str, list[dict[str, Any]]], workloads: list[Workload], model_path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Medians per variant over repetitions (all workloads of a repetition pooled), and the ratios."""
    per_variant: dict[str, dict[str, float]] = {}
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

    def ratio(a: str, b: str) -> float | None:
        if a in per_variant and b in per_variant and per_variant[b]["tokens_per_second"]:
            return round(per_variant[a]["tokens_per_second"] / per_variant[b]["tokens_per_second"], 3)
        return None

    return {
        "model": str(model_path),
        "machine": {"cpus": _cpu_count(), "processor": platform.processor() or platform.machine(), "python": platform.python_version()},
        "workload": {"workloads": [w.kind for w in workloads], "items": args.items, "repeat": args.repeat,
                     "user_tokens": args.user_tokens, "answer_tokens": args.answer_tokens},
        "variants": per_variant,
        "ratios": {
            "engine_vs_bare": ratio("engine", "bare"),
            "engine_vs_tuned": ratio("engine", "tuned"),
            "app_vs_engine": ratio("app", "engine"),
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
    lines.append("ratios (generated tokens per second): " + ", ".join(
        f"{name} {value:.3f}" if value is not None else f"{name} n/a" for name, value in ratios.items()
    ))
    return "\n".join(lines)
