"""`smolgen bench compare`: how soon the next preference pair is on screen after a person's key.

A store of preference samples with long responses is written to a temporary folder and the real app
opens it headless (Textual's `run_test`) with no model. Each pick is a key pressed on the compare
screen; the time runs from the key until the screen has drawn the next pair, the pick's durable
store write included. The issue's target is 50 ms. The process's CPU time over the same span is
printed beside it: on a machine shared with other work the wall time also holds the waits for a core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tui.bench.stats_screen import NoModelBackend, _until
from tui.engine.errors import BadInput

TERMINAL_SIZE = (120, 36)
RESPONSE_WORDS = 400
KEYS = ("1", "2", "equals_sign", "s")  # left, right, tie and skip, in turn


@dataclass(frozen=True)
class CompareTimes:
    pairs: int
    picks: int
    median_ms: float
    p95_ms: float
    max_ms: float
    cpu_median_ms: float
    cpus: int
    load_average: float


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench compare`."""
    bench.add_argument("--pairs", type=int, default=200, metavar="N", help="preference samples in the store (default 200)")
    bench.add_argument("--picks", type=int, default=60, metavar="N", help="keys pressed, one pair each (default 60)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench_compare(args: argparse.Namespace) -> int:
    """Time key-to-next-pair on the compare screen and print the figures."""
    if args.picks < 1 or args.pairs < args.picks:
        raise BadInput(f"bench compare: --picks {args.picks}: must be at least 1 and at most --pairs ({args.pairs})")
    times = measure_compare_screen(args.pairs, args.picks)
    if args.json:
        print(json.dumps(asdict(times)))
        return 0
    print(f"compare screen, {times.picks} keys over {times.pairs} pairs of {RESPONSE_WORDS}-word responses "
          f"({times.cpus} CPUs, load average {times.load_average:.2f}):")
    print(f"  key to next pair on screen: median {times.median_ms:.1f} ms, p95 {times.p95_ms:.1f} ms, max {times.max_ms:.1f} ms "
          f"(target 50 ms); CPU median {times.cpu_median_ms:.1f} ms")
    return 0


def measure_compare_screen(pairs: int, picks: int) -> CompareTimes:
    """Open the app on a store of `pairs` preference samples and time `picks` keys on the compare screen."""
    from tui.engine.prompts import PromptLibrary
    from tui.engine.store import SampleStore

    with tempfile.TemporaryDirectory(prefix="smolgen-bench-compare-") as folder:
        prompts = Path(folder) / "prompts"
        prompts.mkdir()
        with SampleStore(Path(folder) / "smolgen.json") as store:
            _add_pairs(store, pairs)
            seconds, cpu_seconds = asyncio.run(_time_keys(store, PromptLibrary(prompts), picks))
    millis = sorted(1000 * s for s in seconds)
    return CompareTimes(
        pairs=pairs, picks=picks, median_ms=round(statistics.median(millis), 2),
        p95_ms=round(millis[min(len(millis) - 1, int(0.95 * len(millis)))], 2), max_ms=round(millis[-1], 2),
        cpu_median_ms=round(1000 * statistics.median(cpu_seconds), 2),
        cpus=os.cpu_count() or 1, load_average=round(os.getloadavg()[0], 2),
    )


def _add_pairs(store: Any, count: int) -> None:
    from tui.engine.preferences import preference_sample, response_record

    words = "synthetic data lets a small team build an instruction dataset on a laptop".split()
    for number in range(count):
        prompt = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": f"Question {number}?"}]
        texts = [" ".join(words[(number + i + side) % len(words)] for i in range(RESPONSE_WORDS)) for side in range(2)]
        responses = [response_record(text, "bench", temperature=0.7, rating={"rating": 5 - 3 * side, "failure": None})
                     for side, text in enumerate(texts)]
        store.add_sample(preference_sample(prompt, responses))


async def _time_keys(store: Any, prompts: Any, picks: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds from each key to the next pair drawn."""
    from tui.app.app import SmolgenApp
    from tui.app.screens.compare import CompareScreen

    app = SmolgenApp(store, prompts, NoModelBackend(), cursor_blink=False)
    seconds, cpu_seconds = [], []
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await _until(pilot, lambda: app.model_error)  # the main screen is up and its model has been ruled out
        app.clear_notifications()
        app.action_compare_pairs()
        await _until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.shown_at)
        screen = app.screen
        for number in range(picks):
            pressed, cpu = time.perf_counter(), time.process_time()
            await pilot.press(KEYS[number % len(KEYS)])
            shown = await _until(pilot, lambda: screen.shown_at if screen.shown_at > pressed else None)
            seconds.append(shown - pressed)
            cpu_seconds.append(time.process_time() - cpu)
    return seconds, cpu_seconds
