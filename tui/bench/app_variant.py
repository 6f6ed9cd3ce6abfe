"""Variant (d) of `smolgen bench`: the app's own generation path, in a headless Textual app.

A real `SmolgenApp` (the llama.cpp backend, the shipped templates, a temporary store) runs under
`App.run_test()`. Once its model is loaded, each workload starts the way ctrl+g starts a run,
`SmolgenApp._start(RunRequest(...))`, with the technique of the workload's tab; the clock runs from
there until the app receives `RunEnded`, so the UI's share of the work (streamed text, counts,
notifications) is inside it, and the model load is not.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from tui.bench.workloads import Measurement, TimedStore, Workload, process_peak_rss_mb, seed_rows, technique_for

MODEL_TIMEOUT = 300.0
RUN_TIMEOUT = 1200.0
# How often the wait for a run's end looks whether the app stopped: it runs on the UI thread, inside
# the timed window, so it wakes rarely (waking often was a large share of the UI thread's work).
WATCH_SECONDS = 1.0
SETTLE_SECONDS = 0.5


def run_app(model_path: Path, workloads: list[Workload], threads: int | None = None) -> list[Measurement]:
    """Run every workload in one headless app, one after another, as a person would."""
    from tui.engine.errors import SmolgenError
    from tui.engine.store import SampleStore

    with tempfile.TemporaryDirectory() as folder, SampleStore(Path(folder) / "bench.json") as store:
        try:
            return asyncio.run(_drive(model_path, workloads, threads, TimedStore(store, Measurement("app", "load"))))
        except SmolgenError:
            raise
        except Exception as error:  # the app itself failed (run_test re-raises what stopped it)
            raise SmolgenError(f"the app stopped: {type(error).__name__}: {error}") from None


class _RunWatch:
    """Sees the app's messages as the app receives them: first tokens, the end of a run, worker errors."""

    def __init__(self) -> None:
        self.measurement: Measurement | None = None
        self.ended = asyncio.Event()
        self.summary: Any = None
        self.error: str | None = None
        self._stage_time: float | None = None

    def begin(self, measurement: Measurement) -> None:
        self.measurement, self.summary, self._stage_time = measurement, None, None
        self.ended.clear()

    def hook(self, message: Any) -> None:
        from textual.worker import Worker, WorkerState

        from tui.app.messages import RunEnded, StageStarted, TextStreamed

        if isinstance(message, StageStarted):
            self._stage_time = message.started  # stamped in the generating thread as the model call starts
        elif isinstance(message, TextStreamed) and self._stage_time is not None and self.measurement is not None:
            # The first token a person could see: the first batch of text the UI receives after the call starts.
            self.measurement.first_token_seconds.append(time.monotonic() - self._stage_time)
            self._stage_time = None
        elif isinstance(message, RunEnded):
            self.summary = message.summary
            self.ended.set()
        elif isinstance(message, Worker.StateChanged) and message.state == WorkerState.ERROR:
            error = message.worker.error
            self.error = f"{message.worker.group} worker failed: {type(error).__name__}: {error}"
            self.ended.set()


async def _drive(model_path: Path, workloads: list[Workload], threads: int | None, store: TimedStore) -> list[Measurement]:
    from tui.app.app import RunRequest, SmolgenApp
    from tui.app.backend import LlamaBackend, ModelRequest
    from tui.engine.errors import SmolgenError
    from tui.engine.prompts import PromptLibrary

    watch = _RunWatch()
    app = SmolgenApp(store, PromptLibrary(), LlamaBackend(), ModelRequest(model_path, n_threads=threads), cursor_blink=False)
    measurements = []
    async with app.run_test(size=(120, 40), message_hook=watch.hook) as pilot:
        deadline = time.monotonic() + MODEL_TIMEOUT
        while app.model is None:
            if watch.error or app.model_error:
                raise SmolgenError(f"the app could not load the model: {app.model_error or watch.error}")
            if time.monotonic() > deadline:
                raise SmolgenError(f"the app did not load the model within {MODEL_TIMEOUT:.0f} s")
            await pilot.pause(0.02)
        # A person starts a run a moment after the model is ready, not while the screen still shows it.
        await pilot.pause(SETTLE_SECONDS)
        for workload in workloads:
            technique = technique_for(workload)
            entry = next((e for e in app.techniques if e.key == technique.name), None)
            if entry is None:
                raise SmolgenError(f"the app has no tab for {technique.name}")
            request = RunRequest(entry.title, entry.build(technique.settings), workload.items, workload.seed, seed_rows(workload))
            measurement = Measurement("app", workload.kind)
            store.measurement = measurement
            watch.begin(measurement)
            started = time.perf_counter()
            app._start(request)
            await _run_end(app, watch, workload)
            measurement.seconds = time.perf_counter() - started
            if watch.error or watch.summary.status != "finished":
                raise SmolgenError(watch.error or f"the app's {workload.kind} run ended {watch.summary.status}")
            measurement.samples = watch.summary.stored
            measurement.generated_tokens = watch.summary.completion_tokens
            measurement.peak_rss_mb = process_peak_rss_mb()
            measurements.append(measurement)
            await pilot.pause()  # let the app finish handling RunEnded before the next run starts
    return measurements


async def _run_end(app: Any, watch: _RunWatch, workload: Workload) -> None:
    """Wait for the run's end; an app that stopped (an exception in a handler) or a stuck run ends the wait."""
    from tui.engine.errors import SmolgenError

    deadline = time.monotonic() + RUN_TIMEOUT
    while not watch.ended.is_set():
        if not app.is_running:  # leaving run_test then raises what stopped it
            raise SmolgenError(f"the app stopped during its {workload.kind} run")
        if time.monotonic() > deadline:
            app.stop_generation(timeout=5.0)
            raise SmolgenError(f"the app's {workload.kind} run did not end within {RUN_TIMEOUT:.0f} s")
        try:
            await asyncio.wait_for(watch.ended.wait(), WATCH_SECONDS)
        except asyncio.TimeoutError:
            pass
