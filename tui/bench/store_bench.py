"""`smolgen bench store`: what one durable write and opening the store cost as it grows, and opening review.

For each size a synthetic store is written straight to disk, opened (timed), and given a few dozen
samples through `SampleStore.add_sample`, each fsynced before the next (timed one by one; the median
is the figure, the slowest is shown too because a rewrite of the whole store would hide in a median).
At the largest size the review screen is opened in a headless app with a stand-in model. Heavy
imports (the app, Textual) wait until the command runs, so `smolgen --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tui.engine.errors import BadInput

DEFAULT_SIZES = (1_000, 10_000, 100_000)
WRITES = 40


@dataclass(frozen=True)
class StoreFigures:
    """The measurements of one store size; `review_seconds` only for the largest."""

    size: int
    megabytes: float
    write_ms: float
    slowest_write_ms: float
    open_seconds: float
    review_seconds: float | None = None


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench store`."""
    bench.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), metavar="N,N,...",
                       help="samples already stored, one store per size (default 1000,10000,100000)")
    bench.add_argument("--writes", type=int, default=WRITES, metavar="N", help=f"durable writes timed per size (default {WRITES})")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench_store(args: argparse.Namespace) -> int:
    """Time the store at each of --sizes and print the figures."""
    sizes = parse_sizes(args.sizes)
    if args.writes < 1:
        raise BadInput(f"bench store: --writes {args.writes}: must be at least 1")
    with tempfile.TemporaryDirectory(prefix="smolgen-bench-store-") as folder:
        figures = run_store_benchmark(sizes, Path(folder), args.writes)
    if args.json:
        print(json.dumps({"writes_per_size": args.writes, "sizes": [asdict(f) for f in figures]}))
        return 0
    print(f"{'samples':>9}  {'MB':>7}  {'write ms':>9}  {'slowest':>8}  {'open s':>7}  {'review s':>8}")
    for f in figures:
        review = "" if f.review_seconds is None else f"{f.review_seconds:.2f}"
        print(f"{f.size:>9,}  {f.megabytes:>7.1f}  {f.write_ms:>9.2f}  {f.slowest_write_ms:>8.2f}  {f.open_seconds:>7.2f}  {review:>8}")
    print(f"write: median of {args.writes} durable add_sample calls (fsynced); review: opening the review screen, headless")
    return 0


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise BadInput(f"bench store: --sizes {text!r}: expected whole numbers separated by commas") from None
    if not sizes or sizes[0] < 1:
        raise BadInput(f"bench store: --sizes {text!r}: every size must be at least 1")
    return sizes


def run_store_benchmark(sizes: list[int], folder: Path, writes: int = WRITES) -> list[StoreFigures]:
    """Measure each size in its own store under `folder`; the review screen at the largest."""
    figures = []
    for size in sizes:
        path = folder / f"store-{size}.json"
        figures.append(measure_store(path, size, writes, review=size == sizes[-1]))
        for leftover in folder.glob(f"store-{size}.json*"):
            leftover.unlink()
    return figures


def measure_store(path: Path, size: int, writes: int, review: bool = False) -> StoreFigures:
    from tui.bench.synthetic import synthetic_samples, write_synthetic_store
    from tui.engine.store import SampleStore

    write_synthetic_store(path, size)
    megabytes = path.stat().st_size / 1e6
    new_samples = synthetic_samples(writes, seed=1)
    started = time.perf_counter()
    store = SampleStore(path)
    open_seconds = time.perf_counter() - started
    try:
        timings = []
        for sample in new_samples:
            started = time.perf_counter()
            store.add_sample(sample)
            timings.append((time.perf_counter() - started) * 1000)
        review_seconds = review_open_seconds(store) if review else None
    finally:
        store.close()
    return StoreFigures(size, round(megabytes, 1), statistics.median(timings), max(timings), open_seconds, review_seconds)


def review_open_seconds(store: Any) -> float:
    """Seconds from ctrl+r to the review screen drawn with its rows, in a headless app."""
    import asyncio

    from tui.app.app import SmolgenApp
    from tui.app.screens.review import ReviewScreen
    from tui.bench.null_backend import NullBackend
    from tui.engine.prompts import PromptLibrary

    async def timed() -> float:
        with tempfile.TemporaryDirectory(prefix="smolgen-bench-prompts-") as prompts:
            app = SmolgenApp(store, PromptLibrary(Path(prompts)), NullBackend(), cursor_blink=False)
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.pause()
                started = time.perf_counter()
                await pilot.press("ctrl+r")
                while not (isinstance(app.screen, ReviewScreen) and str(app.screen.query_one("#shown").render())):
                    await pilot.pause(0.01)
                await pilot.pause()  # one more frame: the rows are drawn
                return time.perf_counter() - started

    return asyncio.run(timed())
