"""`smolgen bench startup`: how long a person waits for the app, measured in a real terminal (tmux).

From the moment tmux starts `smolgen` to: the first frame (the panes and the footer are on the
screen), the model ready (its description replaces "Loading…" in the status bar), and, after
ctrl+q, the process gone. The screen is polled with capture-pane; nothing sleeps blindly.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tui.bench.tmux import Terminal, model_described, require_tmux
from tui.cli_flags import add_model_flag
from tui.engine.errors import BadInput

POLL_SECONDS = 0.005
TIMEOUT_SECONDS = 60.0


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench startup`."""
    add_model_flag(bench)
    bench.add_argument("--repeat", type=int, default=5, metavar="R", help="starts to time; figures are medians (default 5)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench_startup(args: argparse.Namespace) -> int:
    """Start the app --repeat times in tmux and print the median seconds to each moment."""
    require_tmux("bench startup")
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
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "tui", "--store", str(Path(folder) / "smolgen.json")]
        if model is not None:
            command += ["--model", str(model)]
        start = time.perf_counter()
        # A config folder of its own: a person's config, remembered settings and templates do not change what is timed.
        with Terminal(command, width=100, height=30, env={"SMOLGEN_CONFIG_DIR": folder}) as terminal:
            first_frame = terminal.wait_until(lambda screen: "Seeds" in screen and "Quit" in screen, "first frame",
                                              TIMEOUT_SECONDS, POLL_SECONDS) - start
            model_ready = terminal.wait_until(model_described, "model in the status bar", TIMEOUT_SECONDS, POLL_SECONDS) - start
            quit_pressed = time.perf_counter()
            terminal.keys("C-q")
            gone = terminal.wait_gone(TIMEOUT_SECONDS, POLL_SECONDS) - quit_pressed
    return {"first_frame": first_frame, "model_ready": model_ready, "quit": gone}
