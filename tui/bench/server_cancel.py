"""The cancel part of `smolgen bench server`: how long a run on a server that stopped answering takes to
close its open requests and end once it is cancelled, from the engine (the app's escape sets the same
cancel) and from a `smolgen generate` process sent SIGINT (Ctrl-C)."""

from __future__ import annotations

import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tui.bench.stub_server import Answer, ServerThread, StubServer

IN_FLIGHT = 8


class HangingStub(StubServer):
    """The stub, answering nothing once asked for a completion; `hanging` is set once IN_FLIGHT wait."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = 0
        self.hanging = threading.Event()

    async def handle(self, method: str, target: str, body: bytes) -> Answer:
        if target.endswith("completions"):
            self.waiting += 1
            if self.waiting >= IN_FLIGHT:
                self.hanging.set()
            await asyncio.sleep(3600)
        return await super().handle(method, target, body)


def cancel_part(repeats: int) -> dict[str, Any]:
    """Seconds from the cancel to the run's end, with IN_FLIGHT requests hanging: median and worst."""
    engine = [_engine_cancel() for _ in range(repeats)]
    cli = [_cli_interrupt() for _ in range(repeats)]
    return {
        "in_flight": IN_FLIGHT,
        "repeats": repeats,
        "engine_seconds_median": round(statistics.median(engine), 3),
        "engine_seconds_max": round(max(engine), 3),
        "cli_seconds_median": round(statistics.median(s for s, _ in cli), 3),
        "cli_seconds_max": round(max(s for s, _ in cli), 3),
        "cli_runs_recorded_cancelled": all(recorded for _, recorded in cli),
    }


def _engine_cancel() -> float:
    from tui.engine.prompts import PromptLibrary
    from tui.engine.runner import run_generation
    from tui.engine.server.connect import connect
    from tui.engine.server.settings import ServerSettings
    from tui.engine.store import SampleStore
    from tui.engine.techniques.magpie import Magpie

    stub = HangingStub()
    cancel = threading.Event()
    ended: list[float] = []
    with ServerThread(stub.handle) as server, tempfile.TemporaryDirectory() as folder:
        model = connect(ServerSettings([server.url], concurrency=IN_FLIGHT))
        try:
            with SampleStore(Path(folder) / "bench.json") as store:
                def run() -> None:
                    run_generation(Magpie(), store, model, PromptLibrary(), 4 * IN_FLIGHT, 1, cancel=cancel, parallel=IN_FLIGHT)
                    ended.append(time.perf_counter())

                runner = threading.Thread(target=run)
                runner.start()
                stub.hanging.wait(60)
                cancelled = time.perf_counter()
                cancel.set()
                runner.join(120)
        finally:
            model.close()
    return ended[0] - cancelled if ended else float("inf")


def _cli_interrupt() -> tuple[float, bool]:
    from tui.engine.store import SampleStore

    stub = HangingStub()
    with ServerThread(stub.handle) as server, tempfile.TemporaryDirectory() as folder:
        store_path = Path(folder) / "bench.json"
        command = [sys.executable, "-m", "tui", "generate", "magpie", "--server", server.url, "--concurrency", str(IN_FLIGHT),
                   "--num", str(4 * IN_FLIGHT), "--quiet", "--store", str(store_path)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            stub.hanging.wait(60)
            interrupted = time.perf_counter()
            process.send_signal(signal.SIGINT)
            process.wait(120)
            seconds = time.perf_counter() - interrupted
        finally:
            if process.poll() is None:
                process.kill()
        with SampleStore(store_path, read_only=True) as store:
            runs = store.list_runs()
    return seconds, bool(runs) and runs[-1]["status"] == "cancelled"
