"""`smolgen bench stats`: how soon the stats screen shows its figures, and its clusters, on a large store.

A synthetic store is written to a temporary folder and the real app opens it headless (Textual's
`run_test`) with a backend that has no model, so nothing but the screen is measured: the seconds from
pressing ctrl+t until the cheap figures are on screen, and until the near-duplicate clusters are. The
engine's own times for the same work are printed beside them, so the app's share is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from tui.engine.errors import BadInput, ModelFileError

DEFAULT_SAMPLES = 10_000
TERMINAL_SIZE = (120, 40)
TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class StatsScreenTimes:
    samples: int
    figures_seconds: float
    clusters_seconds: float
    clusters: int
    engine_figures_seconds: float
    engine_clusters_seconds: float
    cpus: int
    load_average: float


class NoModelBackend:
    """A model backend with no model: the stats screen needs none, and loading one would skew the timing."""

    def inspect(self, path: Path | None) -> Any:
        raise ModelFileError("bench stats runs without a model")

    def load(self, request: Any) -> Any:
        raise ModelFileError("bench stats runs without a model")


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench stats`."""
    bench.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, metavar="N", help=f"samples in the store (default {DEFAULT_SAMPLES})")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench_stats(args: argparse.Namespace) -> int:
    """Time the stats screen on a synthetic store of --samples samples and print the seconds."""
    if args.samples < 2:
        raise BadInput(f"bench stats: --samples {args.samples}: must be at least 2")
    times = measure_stats_screen(args.samples)
    if args.json:
        print(json.dumps(asdict(times)))
        return 0
    print(f"stats screen on {times.samples:,} synthetic samples ({times.cpus} CPUs, load average {times.load_average:.2f}):")
    rows = (
        ("cheap figures on screen", times.figures_seconds, times.engine_figures_seconds),
        (f"near-duplicate clusters ({times.clusters:,}) on screen", times.clusters_seconds, times.engine_clusters_seconds),
    )
    for what, seconds, engine in rows:
        print(f"  {what:<40}{seconds:6.2f} s after ctrl+t   (the engine alone: {engine:.2f} s)")
    return 0


def measure_stats_screen(samples: int) -> StatsScreenTimes:
    """Open the app on a synthetic store of `samples` samples, press ctrl+t, and time the screen."""
    import asyncio

    from tui.bench.synthetic import write_synthetic_store
    from tui.engine.prompts import PromptLibrary
    from tui.engine.store import SampleStore

    with tempfile.TemporaryDirectory(prefix="smolgen-bench-stats-") as folder:
        store_path = write_synthetic_store(Path(folder) / "smolgen.json", samples)
        prompts = Path(folder) / "prompts"
        prompts.mkdir()
        with SampleStore(store_path) as store:
            figures, clusters, found = asyncio.run(_time_screen(store, PromptLibrary(prompts)))
            engine_figures, engine_clusters = _time_engine(store)
    return StatsScreenTimes(
        samples=samples,
        figures_seconds=round(figures, 3),
        clusters_seconds=round(clusters, 3),
        clusters=found,
        engine_figures_seconds=round(engine_figures, 3),
        engine_clusters_seconds=round(engine_clusters, 3),
        cpus=os.cpu_count() or 1,
        load_average=round(os.getloadavg()[0], 2),
    )


async def _time_screen(store: Any, prompts: Any) -> tuple[float, float, int]:
    from tui.app.app import SmolgenApp
    from tui.app.screens.stats import StatsScreen

    app = SmolgenApp(store, prompts, NoModelBackend(), cursor_blink=False)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await _until(pilot, lambda: app.model_error)  # the main screen is up and its model has been ruled out
        app.clear_notifications()
        await pilot.pause()
        pressed = time.monotonic()
        await pilot.press("ctrl+t")
        screen = app.screen
        if not isinstance(screen, StatsScreen):
            raise RuntimeError("ctrl+t did not open the stats screen")
        figures = await _until(pilot, lambda: screen.figures_shown_at)
        clusters = await _until(pilot, lambda: screen.clusters_shown_at)
        return figures - pressed, clusters - pressed, len(screen.clusters or [])


async def _until(pilot: Any, value: Callable[[], Any]) -> Any:
    """Let the app run until `value()` is set, and return it."""
    started = time.monotonic()
    while (result := value()) is None or result is False:
        if time.monotonic() - started > TIMEOUT_SECONDS:
            raise RuntimeError(f"the stats screen did not finish within {TIMEOUT_SECONDS:.0f} s")
        await pilot.pause(0.005)
    return result


def _time_engine(store: Any) -> tuple[float, float]:
    """The same work without the app: reading the samples and computing, then finding clusters."""
    from tui.engine.dataset_stats import compute_stats, instruction_items
    from tui.engine.minhash_clusters import find_clusters

    started = time.perf_counter()
    samples = store.list_samples()
    compute_stats(samples, with_clusters=False)
    figures = time.perf_counter() - started
    started = time.perf_counter()
    find_clusters(instruction_items(samples))
    return figures, time.perf_counter() - started
