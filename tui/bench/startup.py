"""`smolgen bench-startup`: how long a person waits for the app, measured in a real terminal (tmux).

From the moment tmux starts `smolgen` to: the first frame (the panes and the footer are on the
screen), the model ready (its description replaces "Loading…" in the status bar), and, after
ctrl+q, the process gone. The screen is polled with capture-pane; nothing sleeps blindly.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from tui.engine.errors import BadInput

POLL_SECONDS = 0.005
TIMEOUT_SECONDS = 60.0


def add_bench_startup_command(commands: Any) -> None:
    bench = commands.add_parser("bench-startup", help="time the app's first frame, model ready and quit in a real terminal (tmux)")
    bench.add_argument("--model", type=Path, metavar="PATH", help="a GGUF model (default: the embedded SmolLM2-135M-Instruct)")
    bench.add_argument("--repeat", type=int, default=5, metavar="R", help="starts to time; figures are medians (default 5)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench_startup(args: argparse.Namespace) -> int:
    if shutil.which("tmux") is None:
        raise BadInput("bench-startup: tmux is not installed (apt-get install tmux)")
    if args.repeat < 1:
        raise BadInput("--repeat must be at least 1")
    runs = [time_one_start(args.model) for _ in range(args.repeat)]
    report = {key: round(statistics.median(run[key] for run in runs), 3) for key in runs[0]}
    report = {"median_seconds": report, "runs": runs}
    if args.json:
        print(json.dumps(report))
    else:
        figures = report["median_seconds"]
        print(f"median of {args.repeat} starts: first frame {figures['first_frame']:.2f} s · "
              f"model ready {figures['model_ready']:.2f} s · quit {figures['quit']:.2f} s")
    return 0


def time_one_start(model: Path | None = None) -> dict[str, float]:
    session = f"smolgen-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "tui", "--store", str(Path(folder) / "smolgen.json")]
        if model is not None:
            command += ["--model", str(model)]
        # A config folder of its own, so templates a person saved do not change what is timed.
        # COLUMNS and LINES: a pane started from another program may not report its size to the app.
        env_command = ["env", f"XDG_CONFIG_HOME={folder}", "COLUMNS=100", "LINES=30", *command]
        start = time.perf_counter()
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", *env_command], check=True)
        try:
            first_frame = _wait(session, lambda screen: "Seeds" in screen and "Quit" in screen) - start
            model_ready = _wait(session, lambda screen: " ctx " in screen) - start
            quit_pressed = time.perf_counter()
            subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
            gone = _wait_gone(session) - quit_pressed
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return {"first_frame": first_frame, "model_ready": model_ready, "quit": gone}


def _screen(session: str) -> str | None:
    result = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def _wait(session: str, seen: Callable[[str], bool]) -> float:
    deadline = time.perf_counter() + TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        screen = _screen(session)
        if screen is None:
            raise BadInput("bench-startup: the app exited before its first frame (try `smolgen` by hand)")
        if seen(screen):
            return time.perf_counter()
        time.sleep(POLL_SECONDS)
    raise BadInput(f"bench-startup: nothing after {TIMEOUT_SECONDS:.0f} s; the last screen was:\n{_screen(session)}")


def _wait_gone(session: str) -> float:
    """The moment the app's process ended (its tmux session closes with it)."""
    deadline = time.perf_counter() + TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        if subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode != 0:
            return time.perf_counter()
        time.sleep(POLL_SECONDS)
    raise BadInput(f"bench-startup: the app did not quit within {TIMEOUT_SECONDS:.0f} s of ctrl+q")
