"""How long the near-duplicate check takes against a large store (`smolgen bench dedup`).

The stored instructions are built deterministically from word lists, the way instructions really
look ("Explain the causes of inflation to a beginner."), and include many near-duplicates of one
another (the same request with one part changed), which is the hard case for the index: they share
most of their words. The queries are half rewordings of stored instructions, half new ones.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass

from tui.engine.errors import BadInput
from tui.engine.near_duplicates import NearDuplicateIndex

_OPENINGS = (
    "Explain", "Describe", "Summarize", "Compare", "Give an overview of", "Write a short essay about",
    "List the main points of", "What is", "Why does anyone study", "How would you teach", "Outline",
    "Critically assess", "Write a paragraph on", "Tell me about", "Analyse", "Discuss",
    "Create a study guide on", "Draft an introduction to", "Break down", "Illustrate with an example",
)
_ASPECTS = (
    "the causes of", "the effects of", "the history of", "the main ideas behind", "common mistakes in",
    "the future of", "the ethics of", "the costs of", "recent progress in", "the basic rules of",
    "the key terms used in", "the debate around", "practical uses of", "myths about", "the science behind",
    "the economics of", "how to get started with", "the risks of", "famous examples of", "the limits of",
)
_TOPICS = (
    "photosynthesis", "inflation", "the French Revolution", "machine learning", "climate change",
    "the immune system", "black holes", "supply chains", "the Roman Empire", "quantum computing",
    "renewable energy", "the stock market", "plate tectonics", "social media", "vaccines",
    "the printing press", "urban planning", "coral reefs", "cryptography", "the water cycle",
    "jazz music", "the Silk Road", "antibiotics", "electric cars", "the human brain",
    "volcanoes", "public libraries", "chess openings", "sourdough baking", "the Olympic Games",
    "language learning", "space exploration", "honey bees", "the internet", "desert ecosystems",
    "medieval castles", "solar panels", "ocean currents", "game theory", "the Renaissance",
    "remote work", "nuclear power", "bird migration", "microfinance", "tea ceremonies",
    "earthquakes", "open source software", "the Great Wall of China", "sleep", "recycling",
)
_AUDIENCES = (
    "", "to a beginner", "for a ten-year-old", "in three sentences", "for a university student",
    "in simple terms", "with one concrete example", "for a busy manager", "in under 100 words",
    "step by step", "for a newspaper column", "as a list of five points",
)


def stored_instructions(size: int, seed: int = 0) -> list[str]:
    """`size` distinct, realistic instructions, the same ones every time for the same seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    result: list[str] = []
    limit = len(_OPENINGS) * len(_ASPECTS) * len(_TOPICS) * len(_AUDIENCES)
    if size > limit:
        raise BadInput(f"--size {size}: the word lists make at most {limit:,} distinct instructions")
    while len(result) < size:
        text = _instruction(rng)
        if text not in seen:
            seen.add(text)
            result.append(text)
    return result


def query_instructions(stored: list[str], count: int, seed: int = 1) -> list[str]:
    """Half near-rewordings of stored instructions (one part swapped), half fresh instructions."""
    rng = random.Random(seed)
    queries = []
    for i in range(count):
        if i % 2 == 0:
            words = rng.choice(stored).rstrip(".").split()
            words[rng.randrange(len(words))] = rng.choice(("carefully", "briefly", "clearly", "again"))
            queries.append(" ".join(words) + ".")
        else:
            queries.append(_instruction(rng))
    return queries


def _instruction(rng: random.Random) -> str:
    parts = [rng.choice(_OPENINGS), rng.choice(_ASPECTS), rng.choice(_TOPICS), rng.choice(_AUDIENCES)]
    return " ".join(p for p in parts if p) + "."


@dataclass
class BenchmarkResult:
    size: int
    queries: int
    build_seconds: float
    median_ms: float
    p95_ms: float
    max_ms: float
    duplicates_found: int


def run_benchmark(size: int = 10_000, queries: int = 200, threshold: float = 0.7) -> BenchmarkResult:
    """Index `size` instructions, then time the near-duplicate check of each query one by one."""
    stored = stored_instructions(size)
    started = time.perf_counter()
    index = NearDuplicateIndex(threshold)
    index.add_all((text, i) for i, text in enumerate(stored))
    build_seconds = time.perf_counter() - started
    timings, found = [], 0
    for query in query_instructions(stored, queries):
        began = time.perf_counter()
        match = index.closest(query)
        timings.append((time.perf_counter() - began) * 1000)
        found += match is not None
    timings.sort()
    return BenchmarkResult(
        size=size,
        queries=queries,
        build_seconds=build_seconds,
        median_ms=statistics.median(timings),
        p95_ms=timings[min(len(timings) - 1, int(0.95 * len(timings)))],
        max_ms=timings[-1],
        duplicates_found=found,
    )

