"""The app part of `smolgen bench server`: the whole app (headless, under Textual's `run_test`) runs
Magpie against the canned stub server with many rows in flight, while a key is pressed every
fifth of a second. It reports the run's samples per second (every sample durable in the store, from
the run record) and how long each keypress took to reach its handler, the app's responsiveness under
that load.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tui.engine.errors import SmolgenError

PROBE_KEY = "f12"
PROBE_EVERY_SECONDS = 0.2
RUN_TIMEOUT_SECONDS = 600.0


def app_part(url: str, concurrency: int, samples: int) -> dict[str, Any]:
    """Samples per second of one app run against `url`, and the keypress latencies measured during it."""
    from tui.engine.store import SampleStore

    with tempfile.TemporaryDirectory() as folder, SampleStore(Path(folder) / "bench.json") as store:
        latencies = asyncio.run(_drive(store, Path(folder) / "prompts", url, concurrency, samples))
        run = store.list_runs()[-1]
    summary = run["summary"]
    done = summary["stored"] + summary["failed"]
    milliseconds = sorted(seconds * 1000 for seconds in latencies)
    return {
        "concurrency": concurrency,
        "requested": run["num"],
        "stored": summary["stored"],
        "failed": summary["failed"],
        "samples_per_second": round(done / summary["wall_seconds"], 1),
        "keypresses": len(milliseconds),
        "keypress_ms_median": round(statistics.median(milliseconds), 1) if milliseconds else None,
        "keypress_ms_p95": round(milliseconds[round(0.95 * (len(milliseconds) - 1))], 1) if milliseconds else None,
        "keypress_ms_max": round(milliseconds[-1], 1) if milliseconds else None,
    }


async def _drive(store: Any, prompts_dir: Path, url: str, concurrency: int, samples: int) -> list[float]:
    from textual.binding import Binding

    from tui.app.app import SmolgenApp
    from tui.app.backend import LlamaBackend, ModelRequest
    from tui.engine.prompts import PromptLibrary
    from tui.engine.server.settings import ServerSettings

    class ProbedApp(SmolgenApp):
        """The app with one more key, whose handler notes when it ran."""

        BINDINGS = [*SmolgenApp.BINDINGS, Binding(PROBE_KEY, "probe", show=False, priority=True)]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.probed_at: float | None = None

        def action_probe(self) -> None:
            self.probed_at = time.perf_counter()

    prompts_dir.mkdir(parents=True, exist_ok=True)
    backend = LlamaBackend()
    request = ModelRequest(servers=ServerSettings([url], concurrency=concurrency))
    app = ProbedApp(store, PromptLibrary(prompts_dir), backend, request, cursor_blink=False)
    latencies: list[float] = []
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await _until(lambda: app.model is not None or app.model_error is not None, 60, pilot)
            if app.model is None:
                raise SmolgenError(f"the app could not use the stub server: {app.model_error}")
            app.main_screen.technique.show_technique("magpie")
            await _until(lambda: bool(app.main_screen.query("#form-magpie")), 20, pilot)
            app.main_screen.query_one("#run-num").value = str(samples)
            app.main_screen.query_one("#run-seed").value = "7"
            await pilot.pause()
            runs_before = len(store.list_runs())
            # Posted as the probes are: the pilot's press waits for an idle app, which a run never is, so its
            # first second or two would go unprobed (a short run, all of it).
            _post_key(app, "ctrl+g")
            deadline = time.monotonic() + 20
            while not (app.running or len(store.list_runs()) > runs_before):
                if time.monotonic() > deadline:
                    raise SmolgenError("the app's bench run stalled: ctrl+g started no run in 20 s")
                await asyncio.sleep(0.001)
            deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
            while app.running and time.monotonic() < deadline:
                app.probed_at = None
                pressed = time.perf_counter()
                _post_key(app, PROBE_KEY)
                while app.probed_at is None and app.running:
                    await asyncio.sleep(0.001)
                if app.probed_at is not None:
                    latencies.append(app.probed_at - pressed)
                await asyncio.sleep(PROBE_EVERY_SECONDS)
            await _until(lambda: not app.running, 60, pilot)
    finally:
        backend.close()
    return latencies


async def _until(condition: Any, timeout: float, pilot: Any) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SmolgenError(f"the app's bench run stalled: nothing happened for {timeout:.0f} s")
        await pilot.pause(0.05)


def _post_key(app: Any, key: str) -> None:
    """As a terminal's key arrives: posted to the app, which handles it between its other messages."""
    from textual import events

    event = events.Key(key, None)
    event.set_sender(app)
    app.post_message(event)
