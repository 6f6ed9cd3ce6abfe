"""The stats screen's figures as Rich renderables: counts, diversity, first words, clusters, a comparison."""

from __future__ import annotations

from collections import Counter
from rich.table import Table
from rich.text import Text

from tui.engine.dataset_stats import DatasetStats, Histogram, change_text, figure_text

# The engine's figure names as a person reads them.
FIGURE_LABELS = {
    "samples": "samples",
    "distinct_1": "distinct-1",
    "distinct_2": "distinct-2",
    "response_distinct_2": "distinct-2 of responses",
    "question_share": "share of questions",
    "median_instruction_tokens": "median instruction tokens",
    "median_response_tokens": "median response tokens",
    "near_duplicate_clusters": "near-duplicate clusters",
    "truncated": "truncated",
    "failed": "failed",
    "rated": "samples rated",
    "mean_rating": "mean rating",
}
BAR_WIDTH = 12


def _bar(count: int, largest: int) -> str:
    filled = round(BAR_WIDTH * count / largest) if largest else 0
    return "█" * max(filled, 1 if count else 0)


def _figures_table() -> Table:
    table = Table(show_header=False, box=None, expand=True, padding=(0, 1))
    table.add_column("name", ratio=3, no_wrap=True, overflow="ellipsis")
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True, style="dim")
    return table


def counts_table(stats: DatasetStats) -> Table:
    """Samples by technique, status, run and flag, each with its share of the selection."""
    table = _figures_table()
    groups: list[tuple[str, Counter]] = [
        ("Technique", stats.by_technique),
        ("Status", stats.by_status),
        ("Run", Counter({f"run {run}": n for run, n in stats.by_run.items()})),
        ("Flag", stats.by_flag),
    ]
    for index, (title, counts) in enumerate(groups):
        if index:
            table.add_row("", "", "")
        table.add_row(Text(title, style="bold underline"), "", "")
        if not counts:
            table.add_row(Text("none", style="dim"), "", "")
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], str(item[0]))):
            share = f"{100 * count / stats.samples:.0f}%" if stats.samples else ""
            table.add_row(f"  {name}", f"{count:,}", share)
    return table


def diversity_table(stats: DatasetStats) -> Table:
    """Distinct-n, the question share and the most frequent first words of the instructions."""
    table = _figures_table()
    table.add_row(Text("Diversity of instructions", style="bold underline"), "", "")
    table.add_row("  distinct-1", f"{stats.distinct_1:.3f}", "")
    table.add_row("  distinct-2", f"{stats.distinct_2:.3f}", "")
    table.add_row("  distinct-2 of responses", f"{stats.response_distinct_2:.3f}", "")
    table.add_row("", "", "")
    asked = stats.questions + stats.imperatives
    table.add_row(Text("Questions and imperatives", style="bold underline"), "", "")
    table.add_row("  questions", f"{stats.questions:,}", f"{100 * stats.question_share:.0f}%" if asked else "")
    table.add_row("  imperatives", f"{stats.imperatives:,}", f"{100 * (1 - stats.question_share):.0f}%" if asked else "")
    table.add_row("", "", "")
    table.add_row(Text("First words", style="bold underline"), "", "")
    if not stats.first_words:
        table.add_row(Text("none", style="dim"), "", "")
    largest = stats.first_words[0][1] if stats.first_words else 0
    for word, count in stats.first_words:
        table.add_row(Text.assemble(f"  {word:<12} ", (_bar(count, largest), "cyan")), f"{count:,}", "")
    return table


def length_summary(histogram: Histogram) -> str:
    """One line under a histogram: the figures a person compares between runs."""
    record = histogram.record()
    if not record["count"]:
        return "no samples"
    return f"median {record['median']:g} · mean {record['mean']:g} · p90 {record['p90']} · max {record['max']}"


def cluster_statuses(cluster: list[int], samples: dict[int, tuple[str, str]]) -> str:
    counts = Counter(samples.get(sample_id, ("?", ""))[0] for sample_id in cluster)
    return " · ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def cluster_ids(cluster: list[int], shown: int = 6) -> str:
    listed = ", ".join(f"#{sample_id}" for sample_id in cluster[:shown])
    return listed + (f" +{len(cluster) - shown}" if len(cluster) > shown else "")


def comparison_cells(name: str, a: float | None, b: float | None) -> tuple[str, str, str, Text]:
    """One row of the two-run comparison: the figure, each run's value and the change (a dash for a run without it)."""
    return FIGURE_LABELS.get(name, name), figure_text(a), figure_text(b), Text(change_text(a, b), justify="right")

