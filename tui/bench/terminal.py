"""`smolgen bench-terminal`: the same Magpie run in the app and in the headless CLI, in a real terminal.

Each repetition starts both as a person would, each a fresh process in its own tmux session of the
same size: `smolgen generate magpie --num N --seed S` (it streams its tokens to the terminal, as it
does by default), and `smolgen` with the Magpie tab chosen from the command palette, the same samples
and seed typed into the run options, and ctrl+g. Their order alternates between repetitions. The
figures are read from each one's store afterwards, the run record both write: completion tokens
over the seconds inside model calls (the tok/s each shows a person) and over the run's wall time.
Both runs store the same conversations (the bench checks it), so they did the same work. The screen
is polled once a second while a run goes, so the polling itself stays out of the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from tui.bench.tmux import Terminal, require_tmux
from tui.engine.errors import BadInput, SmolgenError

VARIANTS = ("cli", "app")
WIDTH, HEIGHT = 120, 40
STEP_TIMEOUT, RUN_TIMEOUT = 120.0, 1800.0
# While a run goes, each look at the screen is a tmux client and a redraw: rarely, alike for both.
RUN_POLL_SECONDS = 1.0


def add_bench_terminal_command(commands: Any) -> None:
    bench = commands.add_parser(
        "bench-terminal",
        help="tok/s of the same Magpie run in the app and in the headless CLI, in a real terminal (tmux)",
        description="Run the same Magpie samples (same seed) through `smolgen generate magpie` and through the app, "
        "each in a fresh tmux session, and compare their tokens per second. About 35 s a repetition on a quiet "
        "2-core machine with the defaults.",
    )
    bench.add_argument("--model", type=Path, metavar="PATH", help="a GGUF model (default: the embedded SmolLM2-135M-Instruct)")
    bench.add_argument("--samples", type=int, default=4, metavar="N", help="Magpie samples per run (default 4)")
    bench.add_argument("--repeat", type=int, default=6, metavar="R",
                       help="repetitions, each a new seed, the order of app and CLI alternating; figures are medians (default 6)")
    bench.add_argument("--seed", type=int, default=1000, metavar="S", help="seed of the first repetition; the next add 1 (default 1000)")
    bench.add_argument("--threads", type=int, metavar="N", help="CPU threads of both (default: the physical cores, as both choose)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench_terminal(args: argparse.Namespace) -> int:
    if min(args.samples, args.repeat, 1 if args.threads is None else args.threads) < 1:
        raise BadInput("--samples, --repeat and --threads must be at least 1")
    if args.seed < 0:
        raise BadInput("--seed must be 0 or more")
    require_tmux("bench-terminal")
    repetitions = []
    for index in range(args.repeat):
        seed = args.seed + index
        order = VARIANTS if index % 2 == 0 else tuple(reversed(VARIANTS))
        runs = {variant: run_variant(variant, args.samples, seed, args.model, args.threads) for variant in order}
        repetition = compare(runs, seed)
        repetitions.append(repetition)
        if not args.json:
            print(f"  rep {index + 1} seed {seed}: cli {runs['cli']['tokens_per_second']:.1f} · app "
                  f"{runs['app']['tokens_per_second']:.1f} tok/s · app/cli {repetition['app_vs_cli']:.3f}", file=sys.stderr)
    report = summarise(repetitions, args)
    print(json.dumps(report) if args.json else render(report))
    return 0


def run_variant(variant: str, samples: int, seed: int, model: Path | None, threads: int | None) -> dict[str, Any]:
    """One run in a fresh process and terminal; its run record and conversations, read from its store."""
    from tui.engine.store import SampleStore

    with tempfile.TemporaryDirectory() as folder:
        store_path = Path(folder) / "smolgen.json"
        options = ["--store", str(store_path)]
        options += ["--model", str(model)] if model is not None else []
        options += ["--threads", str(threads)] if threads is not None else []
        # A config folder of its own, so templates a person saved do not change what is timed.
        env = {"XDG_CONFIG_HOME": folder}
        if variant == "cli":
            command = [sys.executable, "-m", "tui", "generate", "magpie", "--num", str(samples), "--seed", str(seed), *options]
            with Terminal(command, width=WIDTH, height=HEIGHT, env=env) as terminal:
                terminal.wait_gone(RUN_TIMEOUT, RUN_POLL_SECONDS)
        else:
            with Terminal([sys.executable, "-m", "tui", *options], width=WIDTH, height=HEIGHT, env=env) as terminal:
                _drive_app(terminal, samples, seed)
        with SampleStore(store_path) as store:
            finished = [run for run in store.list_runs() if run.get("summary")]
            conversations = [sample["conversation"] for sample in store.list_samples()]
    if len(finished) != 1 or finished[0]["status"] != "finished":
        raise SmolgenError(f"bench-terminal: the {variant}'s run did not finish (its store holds {finished or 'no finished run'})")
    summary = finished[0]["summary"]
    return {
        "tokens_per_second": summary["tokens_per_second"],
        "wall_tokens_per_second": round(summary["completion_tokens"] / summary["wall_seconds"], 2),
        "completion_tokens": summary["completion_tokens"],
        "wall_seconds": summary["wall_seconds"],
        "conversations": conversations,
    }


def _drive_app(terminal: Terminal, samples: int, seed: int) -> None:
    """The keys a person presses: the Magpie tab from the palette, samples, seed, ctrl+g; ctrl+q at the end."""
    terminal.wait_for(" ctx ", STEP_TIMEOUT)  # the model is loaded: the status bar describes it
    terminal.keys("C-p")
    terminal.wait_for("Search for commands", STEP_TIMEOUT)
    terminal.type("Technique: Magpie")
    terminal.wait_for("Show its settings tab", STEP_TIMEOUT)
    terminal.keys("Enter")
    terminal.wait_for("User turn sampling", STEP_TIMEOUT)
    terminal.type(str(samples))  # the palette leaves the focus on the Samples field
    terminal.keys("Tab")
    terminal.type(str(seed))
    terminal.wait_until(lambda screen: re.search(rf"Samples {samples} +Seed {seed} ", screen) is not None,
                        f"samples {samples} and seed {seed} in the run options", STEP_TIMEOUT)
    terminal.keys("C-g")
    terminal.wait_until(lambda screen: "Finished ·" in screen or "Stopped by an error" in screen,
                        "end of the app's run", RUN_TIMEOUT, RUN_POLL_SECONDS)
    terminal.keys("C-q")
    terminal.wait_gone(STEP_TIMEOUT)


def compare(runs: dict[str, dict[str, Any]], seed: int) -> dict[str, Any]:
    app, cli = runs["app"], runs["cli"]
    return {
        "seed": seed,
        "same_samples": app.pop("conversations") == cli.pop("conversations"),
        "app_vs_cli": round(app["tokens_per_second"] / cli["tokens_per_second"], 4),
        "app_vs_cli_wall": round(app["wall_tokens_per_second"] / cli["wall_tokens_per_second"], 4),
        **runs,
    }


def summarise(repetitions: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    def median(key: str, variant: str | None = None) -> float:
        return round(statistics.median(r[variant][key] if variant else r[key] for r in repetitions), 3)

    return {
        "workload": {"samples": args.samples, "repeat": args.repeat, "first_seed": args.seed,
                     "threads": args.threads or "physical cores", "terminal": f"tmux {WIDTH}x{HEIGHT}"},
        "median": {
            "cli_tokens_per_second": median("tokens_per_second", "cli"),
            "app_tokens_per_second": median("tokens_per_second", "app"),
            "app_vs_cli": median("app_vs_cli"),
            "app_vs_cli_wall": median("app_vs_cli_wall"),
        },
        "same_samples": all(r["same_samples"] for r in repetitions),
        "repetitions": repetitions,
    }


def render(report: dict[str, Any]) -> str:
    figures, workload = report["median"], report["workload"]
    same = "the same conversations in both" if report["same_samples"] else "DIFFERENT conversations: not the same run"
    return (
        f"{workload['repeat']} repetitions of {workload['samples']} Magpie samples in {workload['terminal']} ({same})\n"
        f"median tok/s: cli {figures['cli_tokens_per_second']:.1f} · app {figures['app_tokens_per_second']:.1f}\n"
        f"app/cli (median of each repetition's ratio): model time {figures['app_vs_cli']:.3f} · wall time {figures['app_vs_cli_wall']:.3f}"
    )
