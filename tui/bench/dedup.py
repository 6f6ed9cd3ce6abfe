"""`smolgen bench dedup`: how long the near-duplicate check of one new instruction takes against a store."""

from __future__ import annotations

import argparse

from tui.engine.errors import BadInput


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench dedup`."""
    bench.add_argument("--size", type=int, default=10_000, metavar="N", help="instructions already indexed (default 10000)")
    bench.add_argument("--queries", type=int, default=200, metavar="N", help="new instructions checked one by one (default 200)")
    bench.add_argument(
        "--rouge-threshold", type=float, default=0.7, metavar="X", help="ROUGE-L above X is a near-duplicate (default 0.7)"
    )


def cmd_bench_dedup(args: argparse.Namespace) -> int:
    """Index --size instructions, time the check of --queries new ones, print the figures."""
    from tui.bench.near_duplicate_benchmark import run_benchmark  # rapidfuzz: not loaded by every command's parser

    if args.size < 1 or args.queries < 1:
        raise BadInput(f"bench dedup: --size {args.size} and --queries {args.queries} must be at least 1")
    if not 0 < args.rouge_threshold <= 1:
        raise BadInput(f"bench dedup: --rouge-threshold {args.rouge_threshold}: must be above 0 and at most 1")
    result = run_benchmark(args.size, args.queries, args.rouge_threshold)
    print(
        f"near-duplicate check (ROUGE-L > {args.rouge_threshold}) against {result.size:,} stored instructions: "
        f"{result.queries} new instructions, {result.duplicates_found} near-duplicates found, "
        f"index built in {result.build_seconds:.2f} s"
    )
    print(f"per instruction: median {result.median_ms:.2f} ms, p95 {result.p95_ms:.2f} ms, max {result.max_ms:.2f} ms")
    return 0
