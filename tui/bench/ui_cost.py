"""`smolgen bench ui`: how much of a CPU core the app's UI thread uses while a run streams.

On a 2-core laptop llama.cpp wants both cores, so every millisecond the UI thread spends drawing is
taken from the model: this is the app's whole share of `smolgen bench`'s app/engine gap, measured
without the model's noise. A headless app runs Magpie on a paced stand-in model (it sleeps between
words, at the real model's speed) and the main thread's CPU time over the run is divided by the
run's wall time. Frames and layouts of the screen during the run are counted too, and every update
written to the terminal (a frame, or lines a widget drew at once without one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tui.engine.errors import BadInput, SmolgenError

ANSWER = (
    "Synthetic data lets a small team build an instruction dataset on a laptop: a seed passage, a prompt "
    "template and a small model are enough to write questions, answers and longer conversations. "
)


@dataclass
class UiCost:
    samples: int
    words_per_second: float
    batch_seconds: float
    wall_seconds: float
    ui_cpu_seconds: float
    frames: int
    layouts: int
    updates: int

    @property
    def ui_share(self) -> float:
        """The share of one core the UI thread kept busy."""
        return self.ui_cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench ui`."""
    bench.description = (
        "Runs Magpie in a headless app on a stand-in model that writes at a set pace and sleeps in between, and prints "
        "the UI thread's CPU time over the run's wall time, frames and layouts drawn. Lower is better: on two cores "
        "that time is taken from llama.cpp."
    )
    bench.add_argument("--samples", type=int, default=6, metavar="N", help="Magpie samples (default 6)")
    bench.add_argument("--rate", type=float, default=60.0, metavar="W", help="words (tokens) a second the stand-in writes (default 60)")
    bench.add_argument("--answer-words", type=int, default=120, metavar="N", help="words in each answer (default 120)")
    bench.add_argument("--batch-seconds", type=float, metavar="S", help="how often streamed text reaches the screen (default: the app's)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench_ui(args: argparse.Namespace) -> int:
    """Run the paced Magpie run headless and print the UI thread's share of a core and what it drew."""
    from tui.app import streaming

    if args.samples < 1 or args.answer_words < 1 or args.rate <= 0:
        raise BadInput("bench ui: --samples and --answer-words must be at least 1, --rate above 0")
    batch = args.batch_seconds if args.batch_seconds is not None else streaming.BATCH_SECONDS
    if batch <= 0:
        raise BadInput(f"bench ui: --batch-seconds {batch}: must be above 0")
    cost = measure_ui_cost(args.samples, args.rate, args.answer_words, batch)
    record = asdict(cost) | {"ui_share": round(cost.ui_share, 4)}
    if args.json:
        print(json.dumps(record))
        return 0
    per_update = 1000 * cost.ui_cpu_seconds / cost.updates if cost.updates else 0.0
    print(f"{cost.samples} Magpie samples at {cost.words_per_second:g} words/s, text batched every {1000 * cost.batch_seconds:g} ms")
    print(f"UI thread: {cost.ui_cpu_seconds:.2f} s of CPU in {cost.wall_seconds:.2f} s = {100 * cost.ui_share:.1f}% of a core")
    print(f"frames {cost.frames} ({cost.frames / cost.wall_seconds:.1f}/s) · layouts of the screen {cost.layouts}")
    print(f"updates written to the terminal {cost.updates} ({cost.updates / cost.wall_seconds:.1f}/s, ~{per_update:.2f} ms of UI CPU each): "
          "frames, and lines drawn at once without one")
    return 0


def measure_ui_cost(samples: int, rate: float, answer_words: int, batch_seconds: float) -> UiCost:
    words = ANSWER.split()
    answer = " ".join(words[i % len(words)] for i in range(answer_words))
    with tempfile.TemporaryDirectory(prefix="smolgen-bench-ui-") as folder:
        return asyncio.run(_drive(Path(folder), samples, rate, answer, batch_seconds))


async def _drive(folder: Path, samples: int, rate: float, answer: str, batch_seconds: float) -> UiCost:
    from tui.app import streaming
    from tui.app.app import RunRequest, SmolgenApp
    from tui.app.fast_paint.probe import count_drawing
    from tui.app.messages import RunEnded
    from tui.bench.null_backend import NullBackend, PacedModel
    from tui.bench.workloads import Workload, technique_for
    from tui.engine.prompts import PromptLibrary
    from tui.engine.store import SampleStore

    ended = asyncio.Event()
    model = PacedModel(("What should a small team know before generating synthetic data?", answer), 1.0 / rate)
    streaming_interval = streaming.BATCH_SECONDS
    streaming.BATCH_SECONDS = batch_seconds  # read when the run's observer is made
    try:
        with SampleStore(folder / "bench.json") as store:
            app = SmolgenApp(store, PromptLibrary(folder), NullBackend(model), cursor_blink=False)
            hook = lambda message: ended.set() if isinstance(message, RunEnded) else None  # noqa: E731
            async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
                while app.model is None:
                    await pilot.pause(0.02)
                await pilot.pause(0.3)  # the first frames and layouts of the screen are not the run's
                counts = count_drawing(app, app.main_screen)
                entry = next(e for e in app.techniques if e.key == "magpie")
                technique = technique_for(Workload("magpie", samples, 64, len(answer.split())))
                cpu, wall = time.thread_time(), time.perf_counter()
                app._start(RunRequest(entry.title, entry.build(technique.settings), samples, 1, []))
                await asyncio.wait_for(ended.wait(), timeout=60 + 3 * samples * len(answer.split()) / rate)
                cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            if len(store.list_samples()) != samples:
                raise SmolgenError(f"bench ui: the run stored {len(store.list_samples())} of {samples} samples")
    finally:
        streaming.BATCH_SECONDS = streaming_interval
    return UiCost(samples, rate, batch_seconds, wall, cpu, counts["frames"], counts["layouts"], counts["updates"])
