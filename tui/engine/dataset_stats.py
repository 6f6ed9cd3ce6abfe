"""Dataset quality at a glance: counts, token lengths, lexical diversity, question share, duplicates.

The chapter's best practices end with "evaluate the dataset regularly for diversity and quality" and
"iterate on the (system) prompt"; these figures make the effect of a prompt edit a number.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from tui.engine.judge import TAG_NAMES


TokenCounter = Callable[[str], int]
_WORD = re.compile(r"\w+", re.UNICODE)
_ASCII_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_ASCII_NON_WORD = bytes(c if c in _ASCII_WORD else ord(" ") for c in range(256))
# Words that open a question in English; any language's question mark counts too.
_QUESTION_OPENERS = {
    "what", "how", "why", "when", "where", "who", "whom", "whose", "which", "can", "could", "is", "are", "am",
    "do", "does", "did", "should", "would", "will", "shall", "may", "might", "has", "have", "was", "were",
}
FLAG_NAMES = ("duplicate", "truncated", "refused", "failed-evolution", "empty")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (Unicode aware, so Vietnamese words count as words)."""
    lowered = text.lower()
    if lowered.isascii():
        # Same words as the regex, three times faster: most responses are ASCII and long.
        return lowered.encode("ascii").translate(_ASCII_NON_WORD).decode("ascii").split()
    return _WORD.findall(lowered)


class DistinctCounter:
    """Distinct-n accumulated one tokenised text at a time, so each text is split into words only once."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.total = 0
        self.unique: set[Any] = set()

    def add(self, tokens: list[str]) -> None:
        if self.n == 1:
            self.unique.update(tokens)
        elif self.n == 2:  # the common case, without the general case's generator
            self.unique.update(zip(tokens, tokens[1:]))
        else:
            self.unique.update(zip(*(tokens[i:] for i in range(self.n))))
        self.total += max(0, len(tokens) - self.n + 1)

    @property
    def value(self) -> float:
        return len(self.unique) / self.total if self.total else 0.0


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct-n (Li et al., 2016): unique n-grams over all n-grams in the texts; 0 when there are none."""
    counter = DistinctCounter(n)
    for text in texts:
        counter.add(words(text))
    return counter.value


def is_question(text: str) -> bool:
    """A question ends with a question mark (in any script) or opens with an interrogative word."""
    return _asks(text, words(text.strip()[:40]))


def _asks(text: str, tokens: list[str]) -> bool:
    return text.rstrip().endswith(("?", "？", "؟")) or (bool(tokens) and tokens[0] in _QUESTION_OPENERS)


def first_word(text: str) -> str | None:
    found = words(text)
    return found[0] if found else None


@dataclass
class Histogram:
    """Token lengths and a summary of them."""

    values: list[int] = field(default_factory=list)

    def bins(self, most: int = 20) -> list[tuple[int, int]]:
        """(first length of the bin, samples in it) for at most `most` bins of equal whole widths."""
        if not self.values:
            return []
        low, high = min(self.values), max(self.values)
        width = max(1, -(-(high - low + 1) // most))  # whole tokens, so no bin straddles a length
        counts = Counter((int(value) - low) // width for value in self.values)
        return [(low + index * width, counts[index]) for index in range((high - low) // width + 1)]

    def record(self) -> dict[str, Any]:
        if not self.values:
            return {"count": 0}
        ordered = sorted(self.values)
        return {
            "count": len(ordered),
            "min": ordered[0],
            "median": statistics.median(ordered),
            "mean": round(statistics.fmean(ordered), 1),
            "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            "max": ordered[-1],
            "values": self.values,
        }


@dataclass
class RatingGroup:
    """The judge's ratings of a group of samples (all, a run, a technique): how many it rated, how many of
    its judgements failed, the mean and how many samples have each rating, rounded half up to 1 to 5."""

    ratings: list[float] = field(default_factory=list)
    failed: int = 0

    def add(self, verdict: dict[str, Any]) -> None:
        if verdict.get("failure") is not None:
            self.failed += 1
        elif verdict.get("rating") is not None:
            self.ratings.append(verdict["rating"])

    @property
    def mean(self) -> float | None:
        return round(statistics.fmean(self.ratings), 2) if self.ratings else None

    def distribution(self) -> dict[int, int]:
        counts = Counter(int(rating + 0.5) for rating in self.ratings)
        return {score: counts[score] for score in range(1, 6)}

    def record(self) -> dict[str, Any]:
        return {"rated": len(self.ratings), "failed": self.failed, "mean": self.mean,
                "distribution": {str(score): n for score, n in self.distribution().items()}}


@dataclass
class DatasetStats:
    """Every figure of one selection of samples."""

    samples: int = 0
    by_technique: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    by_run: Counter = field(default_factory=Counter)
    by_flag: Counter = field(default_factory=Counter)
    instruction_tokens: Histogram = field(default_factory=Histogram)
    response_tokens: Histogram = field(default_factory=Histogram)
    distinct_1: float = 0.0
    distinct_2: float = 0.0
    response_distinct_2: float = 0.0
    first_words: list[tuple[str, int]] = field(default_factory=list)
    questions: int = 0
    imperatives: int = 0
    clusters: list[list[int]] = field(default_factory=list)
    ratings: RatingGroup = field(default_factory=RatingGroup)
    ratings_by_run: dict[int, RatingGroup] = field(default_factory=dict)
    ratings_by_technique: dict[str, RatingGroup] = field(default_factory=dict)
    tags: dict[str, Counter] = field(default_factory=lambda: {name: Counter() for name in TAG_NAMES})

    @property
    def question_share(self) -> float:
        asked = self.questions + self.imperatives
        return self.questions / asked if asked else 0.0

    def record(self, with_values: bool = False) -> dict[str, Any]:
        """Plain JSON-ready figures (`smolgen stats --format json`)."""

        def hist(h: Histogram) -> dict[str, Any]:
            data = h.record()
            if not with_values:
                data.pop("values", None)
            return data

        return {
            "samples": self.samples,
            "counts": {
                "technique": dict(self.by_technique),
                "status": dict(self.by_status),
                "run": {str(k): v for k, v in self.by_run.items()},
                "flag": dict(self.by_flag),
            },
            "lengths": {"instruction_tokens": hist(self.instruction_tokens), "response_tokens": hist(self.response_tokens)},
            "diversity": {
                "distinct_1": round(self.distinct_1, 4),
                "distinct_2": round(self.distinct_2, 4),
                "response_distinct_2": round(self.response_distinct_2, 4),
                "first_words": [{"word": w, "count": c} for w, c in self.first_words],
                "questions": self.questions,
                "imperatives": self.imperatives,
                "question_share": round(self.question_share, 4),
            },
            "near_duplicates": {"clusters": len(self.clusters), "samples_in_clusters": sum(map(len, self.clusters)),
                                "cluster_ids": self.clusters},
            "ratings": {
                **self.ratings.record(),
                "by_run": {str(run): group.record() for run, group in self.ratings_by_run.items()},
                "by_technique": {technique: group.record() for technique, group in self.ratings_by_technique.items()},
                "tags": {name: dict(counts.most_common()) for name, counts in self.tags.items()},
            },
        }


def compute_stats(
    samples: list[dict[str, Any]],
    count_tokens: TokenCounter | None = None,
    duplicate_threshold: float = 0.7,
    top_words: int = 10,
    with_clusters: bool = True,
) -> DatasetStats:
    """All figures for `samples`; token lengths use recorded ones, else `count_tokens`, else words.

    Near-duplicate clusters are the slow part: a screen can ask for the
    rest first with `with_clusters=False` and fill them in later with `find_clusters`.
    """
    stats = DatasetStats(samples=len(samples))
    counter = count_tokens or (lambda text: len(words(text)))
    distinct_1, distinct_2, response_distinct_2 = DistinctCounter(1), DistinctCounter(2), DistinctCounter(2)
    firsts: Counter = Counter()
    for sample in samples:
        stats.by_technique[sample.get("technique", "?")] += 1
        stats.by_status[sample.get("status", "new")] += 1
        if sample.get("run_id") is not None:
            stats.by_run[sample["run_id"]] += 1
        for flag in sample.get("flags") or []:
            stats.by_flag[flag] += 1
        if sample.get("judgement"):
            _add_judgement(stats, sample)
        if sample.get("status") == "failed":
            continue
        lengths = sample.get("lengths") or {}
        instruction, response = sample.get("instruction"), sample.get("response")
        if instruction:
            # Split once: distinct-n, the first word and the question test all read the same words.
            tokens = words(instruction)
            distinct_1.add(tokens)
            distinct_2.add(tokens)
            stats.instruction_tokens.values.append(lengths.get("instruction") or counter(instruction))
            if tokens:
                firsts[tokens[0]] += 1
            if _asks(instruction, tokens):
                stats.questions += 1
            else:
                stats.imperatives += 1
        if response:
            response_distinct_2.add(words(response))
            stats.response_tokens.values.append(lengths.get("response") or counter(response))
    stats.distinct_1 = distinct_1.value
    stats.distinct_2 = distinct_2.value
    stats.response_distinct_2 = response_distinct_2.value
    stats.first_words = firsts.most_common(top_words)
    items = instruction_items(samples) if with_clusters else []
    if len(items) >= 2:  # a cluster needs two: datasketch and scipy load only when one can be found
        from tui.engine.minhash_clusters import find_clusters

        stats.clusters = find_clusters(items, duplicate_threshold)
    return stats


def _add_judgement(stats: DatasetStats, sample: dict[str, Any]) -> None:
    """Count a sample's stored verdict (`smolgen judge`) in the totals, its run's and its technique's."""
    verdict = sample["judgement"]
    groups = [stats.ratings, stats.ratings_by_technique.setdefault(sample.get("technique", "?"), RatingGroup())]
    if sample.get("run_id") is not None:
        groups.append(stats.ratings_by_run.setdefault(sample["run_id"], RatingGroup()))
    for group in groups:
        group.add(verdict)
    for name, value in (verdict.get("tags") or {}).items():
        if name in stats.tags:
            stats.tags[name][value] += 1


def instruction_items(samples: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(id, instruction) of every sample that has one and did not fail: what clusters are found over."""
    return [(s["id"], s["instruction"]) for s in samples if s.get("instruction") and s.get("status") != "failed"]


def compare(a: DatasetStats, b: DatasetStats) -> list[tuple[str, float | None, float | None]]:
    """The headline figures of two selections side by side (e.g. before and after a prompt edit); once a judge
    rated samples of either, how many it rated and their mean rating (None for a selection without ratings)."""

    def median(h: Histogram) -> float:
        return float(statistics.median(h.values)) if h.values else 0.0

    def rows(s: DatasetStats) -> dict[str, float]:
        return {
            "samples": s.samples,
            "distinct_1": round(s.distinct_1, 4),
            "distinct_2": round(s.distinct_2, 4),
            "response_distinct_2": round(s.response_distinct_2, 4),
            "question_share": round(s.question_share, 4),
            "median_instruction_tokens": median(s.instruction_tokens),
            "median_response_tokens": median(s.response_tokens),
            "near_duplicate_clusters": len(s.clusters),
            "truncated": s.by_flag.get("truncated", 0),
            "failed": s.by_status.get("failed", 0),
        }

    left, right = rows(a), rows(b)
    if a.ratings.ratings or b.ratings.ratings:
        for figures, stats in ((left, a), (right, b)):
            figures["rated"] = len(stats.ratings.ratings)
            figures["mean_rating"] = stats.ratings.mean
    return [(name, left[name], right[name]) for name in left]


def figure_text(value: float | None) -> str:
    """A figure of the comparison; "–" where a run has none (a mean rating of a run nobody judged)."""
    return "–" if value is None else f"{value:g}"


def change_text(a: float | None, b: float | None) -> str:
    """The change from run A to run B, signed; blank when either run lacks the figure."""
    return "" if a is None or b is None else f"{b - a:+.4g}"
