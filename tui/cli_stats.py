"""`smolgen stats`: the dataset's quality figures in the terminal, as JSON, or two runs side by side."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from tui.cli_flags import add_store_flag
from tui.engine.dataset_stats import DatasetStats, Histogram, change_text, compare, compute_stats, figure_text
from tui.engine.errors import BadInput
from tui.engine.run_names import JUDGING_TECHNIQUE, run_choices
from tui.engine.store import STATUSES, SampleStore, check_store_exists


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # plotext's "clear" theme still writes colour resets


def add_arguments(stats: argparse.ArgumentParser) -> None:
    """The flags of `smolgen stats`."""
    stats.add_argument("--run", type=int, action="append", metavar="ID", help="only samples of this run (repeatable)")
    stats.add_argument("--status", action="append", choices=STATUSES, help="only samples with this status (repeatable)")
    stats.add_argument("--compare", type=int, nargs=2, metavar=("RUN_A", "RUN_B"), help="two runs side by side")
    stats.add_argument("--threshold", type=float, default=0.7, help="near-duplicate Jaccard threshold (default 0.7)")
    stats.add_argument("--format", choices=("text", "json"), default="text")
    add_store_flag(stats)
    stats.add_argument("--model", type=Path, metavar="PATH", help="count tokens with this GGUF's tokenizer (default: the embedded model)")


def cmd_stats(args: argparse.Namespace) -> int:
    if not 0 < args.threshold <= 1:
        raise BadInput(f"--threshold {args.threshold}: must be above 0 and at most 1")
    check_store_exists(args.store, "show")
    with SampleStore(args.store, read_only=True) as store:
        samples = store.list_samples(statuses=args.status)
        recorded = store.list_runs()
        runs = {choice.id: choice for choice in run_choices(recorded, store.samples_by_run())}
    judging = {run["id"] for run in recorded if run.get("technique") == JUDGING_TECHNIQUE}
    for run_id in [*(args.run or []), *(args.compare or [])]:
        if run_id in judging:
            raise BadInput(f"--run {run_id}: that run judged samples and stored none of its own (runs with samples: "
                           f"{', '.join(map(str, sorted(runs))) or 'none'})")
        if run_id not in runs:
            raise BadInput(f"--run {run_id}: {args.store} has no run with that id (runs: {', '.join(map(str, sorted(runs))) or 'none'})")
    counter = _token_counter(args.model)
    if args.compare:
        left, right = ([s for s in samples if s.get("run_id") == run] for run in args.compare)
        rows = compare(compute_stats(left, counter, args.threshold), compute_stats(right, counter, args.threshold))
        if args.format == "json":
            print(json.dumps({"runs": list(args.compare), "figures": {name: [a, b] for name, a, b in rows}}))
        else:
            print(render_comparison(rows, *(runs[run_id].name for run_id in args.compare)))
        return 0
    if args.run:
        samples = [s for s in samples if s.get("run_id") in set(args.run)]
    stats = compute_stats(samples, counter, args.threshold)
    if args.format == "json":
        print(json.dumps(stats.record(), ensure_ascii=False))
    else:
        print(render_text(stats, samples))
    return 0


def _token_counter(model_path: Path | None):
    """Tokens counted by the model's own tokenizer (vocabulary only), loaded when a sample without recorded
    lengths is first counted: a generated sample records its own. A --model that is no GGUF fails at once."""
    from tui.engine.model import load_tokenizer
    from tui.engine.model_file import inspect_model

    if model_path is not None:
        inspect_model(model_path)
    count = None

    def counter(text: str) -> int:
        nonlocal count
        if count is None:
            count = load_tokenizer(model_path)
        return count(text)

    return counter


def histogram_text(histogram: Histogram, title: str, width: int = 72, height: int = 12) -> str:
    """A terminal histogram drawn by plotext, plain text (no colour codes); its axes mark whole tokens and
    whole samples from the shortest sample up, never below 0."""
    import plotext as plt

    bins = histogram.bins()
    if not bins:
        return f"{title}: no samples"
    starts = [start for start, _ in bins]
    counts = [count for _, count in bins]
    step = starts[1] - starts[0] if len(starts) > 1 else 1
    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(width, height)
    plt.bar([start + step / 2 for start in starts], counts, width=1)
    plt.xlim(starts[0], starts[-1] + step)
    edges = [*starts, starts[-1] + step]
    plt.xticks(edges[:: max(1, len(edges) // 6)])
    plt.yticks(range(0, max(counts) + 1, max(1, -(-max(counts) // 5))))
    plt.title(title)
    plt.xlabel("tokens")
    return _ANSI.sub("", plt.build())


def render_text(stats: DatasetStats, samples: list[dict[str, Any]]) -> str:
    record = stats.record()
    counts = record["counts"]
    diversity = record["diversity"]
    by_id = {s["id"]: s for s in samples}
    lines = [f"{stats.samples} samples"]
    for title, key in (("technique", "technique"), ("status", "status"), ("run", "run"), ("flag", "flag")):
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counts[key].items(), key=lambda kv: -kv[1])) or "none"
        lines.append(f"  by {title:<10} {shown}")
    lines.append("")
    for name, label in (("instruction_tokens", "instruction"), ("response_tokens", "response")):
        h = record["lengths"][name]
        if h["count"]:
            lines.append(f"{label} length: median {h['median']} tokens, mean {h['mean']}, p90 {h['p90']}, max {h['max']}")
    lines.append(histogram_text(stats.instruction_tokens, "instruction length (tokens)"))
    lines.append(histogram_text(stats.response_tokens, "response length (tokens)"))
    lines.append("")
    lines.append(
        f"diversity: distinct-1 {diversity['distinct_1']:.3f}, distinct-2 {diversity['distinct_2']:.3f} "
        f"(responses: {diversity['response_distinct_2']:.3f})"
    )
    lines.append(
        f"questions {stats.questions}, imperatives {stats.imperatives} ({100 * stats.question_share:.0f}% questions)"
    )
    lines.append("first words: " + (", ".join(f"{w} {c}" for w, c in stats.first_words) or "none"))
    lines.append("")
    lines.extend(rating_lines(stats))
    lines.append("")
    lines.append(f"near-duplicate clusters: {len(stats.clusters)} ({sum(map(len, stats.clusters))} samples)")
    for cluster in stats.clusters[:10]:
        first = by_id.get(cluster[0], {}).get("instruction", "")
        lines.append(f"  {len(cluster):>3} × ids {', '.join(map(str, cluster[:8]))}{'…' if len(cluster) > 8 else ''}: {_short(first)}")
    return "\n".join(lines)


def rating_lines(stats: DatasetStats) -> list[str]:
    """The judge's ratings (`smolgen judge`): the distribution over 1 to 5, by run and technique, and the tags."""
    overall = stats.ratings
    if not overall.ratings and not overall.failed:
        return ["ratings: none yet (`smolgen judge` rates samples)"]
    failed = f" ({overall.failed} judgement{'' if overall.failed == 1 else 's'} failed)" if overall.failed else ""
    mean = f", mean {overall.mean:.2f}" if overall.mean is not None else ""
    lines = [f"ratings: {len(overall.ratings)} samples rated{mean}{failed}; samples rated 1/2/3/4/5:"]

    def row(label: str, group: Any) -> str:
        mean = f"mean {group.mean:.2f}" if group.mean is not None else "no rating"
        return f"  {label:<20} {'/'.join(map(str, group.distribution().values())):<18} {mean} of {len(group.ratings)}"

    lines.append(row("all", overall))
    lines += [row(f"run {run}", group) for run, group in sorted(stats.ratings_by_run.items())]
    lines += [row(technique, group) for technique, group in sorted(stats.ratings_by_technique.items())]
    for name, counts in stats.tags.items():
        if counts:
            lines.append(f"  {name.replace('_', ' '):<20} " + ", ".join(f"{value} {n}" for value, n in counts.most_common()))
    return lines


def render_comparison(rows: list[tuple[str, float | None, float | None]], run_a: str, run_b: str) -> str:
    """The figures of two runs, named above the table ("A  run 8 · magpie · 12:04 · 40 samples"); "–" where a
    run has no such figure (a mean rating where nothing was rated)."""
    lines = [f"A  {run_a}", f"B  {run_b}", "", f"{'figure':<28}{'run A':>12}{'run B':>12}{'change':>12}"]
    for name, a, b in rows:
        lines.append(f"{name:<28}{figure_text(a):>12}{figure_text(b):>12}{change_text(a, b):>12}")
    return "\n".join(lines)


def _short(text: str, width: int = 70) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"

