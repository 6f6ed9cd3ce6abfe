"""`smolgen bench terminal`: the same Magpie run in the app and in the headless CLI, in a real terminal.

Each repetition starts every variant as a person would, each a fresh process in its own tmux session
of the same size:
- `cli`: `smolgen generate magpie --num N --seed S`, streaming its tokens to the terminal (its default);
- `cli-file`: the same command with its output sent to a file, so no terminal draws anything: the
  CLI at its fastest, the strictest reference for the app;
- `app`: `smolgen` with the Magpie tab chosen from the command palette, the same samples and seed
  typed into the run options, and ctrl+g.
Their order reverses every other repetition. The figures are read from each one's store afterwards,
the run record all write: completion tokens over the seconds inside model calls (the tok/s each shows
a person) and over the run's wall time. All store the same conversations (the bench checks it), so
they did the same work. The screen is polled once a second while a run goes, so the polling itself
stays out of the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from tui.bench.tmux import Terminal, model_described, require_tmux
from tui.cli_flags import add_model_flag
from tui.engine.errors import BadInput, SmolgenError

VARIANTS = ("cli", "cli-file", "app")
REFERENCES = ("cli", "cli-file")  # what the app is compared with
WIDTH, HEIGHT = 120, 40
STEP_TIMEOUT, RUN_TIMEOUT = 120.0, 1800.0
# While a run goes, each look at the screen is a tmux client and a redraw: rarely, alike for both.
RUN_POLL_SECONDS = 1.0


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """The flags of `smolgen bench terminal`."""
    bench.description = (
        "Run the same Magpie samples (same seed) through `smolgen generate magpie` (streaming to the terminal, and "
        "with its output sent to a file) and through the app, each in a fresh tmux session, and compare their tokens "
        "per second."
    )
    add_model_flag(bench)
    bench.add_argument("--samples", type=int, default=4, metavar="N", help="Magpie samples per run (default 4)")
    bench.add_argument("--repeat", type=int, default=6, metavar="R",
                       help="repetitions, each a new seed, the order of the runs reversed every other time; figures are medians (default 6)")
    bench.add_argument("--seed", type=int, default=1000, metavar="S", help="seed of the first repetition; the next add 1 (default 1000)")
    bench.add_argument("--threads", type=int, metavar="N", help="CPU threads of every run (default: the physical cores, as the app and the CLI choose)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_bench_terminal(args: argparse.Namespace) -> int:
    """Run the CLI and the app --repeat times each in tmux, and print their tok/s and the app's ratios."""
    if min(args.samples, args.repeat, 1 if args.threads is None else args.threads) < 1:
        raise BadInput("--samples, --repeat and --threads must be at least 1")
    if args.seed < 0:
        raise BadInput("--seed must be 0 or more")
    require_tmux("bench terminal")
    repetitions = []
    for index in range(args.repeat):
        seed = args.seed + index
        order = VARIANTS if index % 2 == 0 else tuple(reversed(VARIANTS))
        runs = {variant: run_variant(variant, args.samples, seed, args.model, args.threads) for variant in order}
        repetition = compare(runs, seed)
        repetitions.append(repetition)
        if not args.json:
            speeds = " · ".join(f"{variant} {runs[variant]['tokens_per_second']:.1f}" for variant in VARIANTS)
            print(f"  rep {index + 1} seed {seed}: {speeds} tok/s · app/cli {repetition['app_vs_cli']:.3f} · "
                  f"app/cli-file {repetition['app_vs_cli_file']:.3f}", file=sys.stderr)
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
        # A config folder of its own: a person's config, remembered settings and templates do not change what is timed.
        env = {"SMOLGEN_CONFIG_DIR": folder}
        if variant in REFERENCES:
            command = [sys.executable, "-m", "tui", "generate", "magpie", "--num", str(samples), "--seed", str(seed), "--in-process",
                       *options]  # the app decodes in-process: the CLI must too, to be compared
            if variant == "cli-file":
                command = ["sh", "-c", 'exec "$@" > "$0" 2>&1', str(Path(folder) / "cli.log"), *command]
            with Terminal(command, width=WIDTH, height=HEIGHT, env=env) as terminal:
                terminal.wait_gone(RUN_TIMEOUT, RUN_POLL_SECONDS)
        else:
            with Terminal([sys.executable, "-m", "tui", *options], width=WIDTH, height=HEIGHT, env=env) as terminal:
                _drive_app(terminal, samples, seed)
        with SampleStore(store_path) as store:
            finished = [run for run in store.list_runs() if run.get("summary")]
            conversations = [sample["conversation"] for sample in store.list_samples()]
    if len(finished) != 1 or finished[0]["status"] != "finished":
        statuses = ", ".join(run["status"] for run in finished) or "no finished run"
        raise SmolgenError(f"bench terminal: the {variant} run did not finish (its store holds: {statuses})")
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
    terminal.wait_until(model_described, "the model in the status bar", STEP_TIMEOUT)
    terminal.keys("C-p")
    terminal.wait_for("Search for commands", STEP_TIMEOUT)
    terminal.type("Technique: Magpie")
    terminal.wait_for("Show its settings tab", STEP_TIMEOUT)
    terminal.keys("Enter")
    terminal.wait_for("End on a user turn", STEP_TIMEOUT)  # a Magpie setting, near the top of its tab
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


def _key(variant: str) -> str:
    return variant.replace("-", "_")


def compare(runs: dict[str, dict[str, Any]], seed: int) -> dict[str, Any]:
    conversations = [runs[variant].pop("conversations") for variant in VARIANTS]
    app = runs["app"]
    ratios = {}
    for reference in REFERENCES:
        ratios[f"app_vs_{_key(reference)}"] = round(app["tokens_per_second"] / runs[reference]["tokens_per_second"], 4)
        ratios[f"app_vs_{_key(reference)}_wall"] = round(app["wall_tokens_per_second"] / runs[reference]["wall_tokens_per_second"], 4)
    return {"seed": seed, "same_samples": all(c == conversations[0] for c in conversations), **ratios, **runs}


def summarise(repetitions: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    ratio_keys = [key for key in repetitions[0] if key.startswith("app_vs_")]
    return {
        "workload": {"samples": args.samples, "repeat": args.repeat, "first_seed": args.seed,
                     "threads": args.threads or "physical cores", "terminal": f"tmux {WIDTH}x{HEIGHT}"},
        "median": {
            **{f"{_key(v)}_tokens_per_second": round(statistics.median(r[v]["tokens_per_second"] for r in repetitions), 2) for v in VARIANTS},
            **{key: round(statistics.median(r[key] for r in repetitions), 3) for key in ratio_keys},
        },
        # How far the median ratio could move with other repetitions like these (a bootstrap, 95%).
        "interval": {key: median_interval([r[key] for r in repetitions]) for key in ratio_keys if not key.endswith("_wall")},
        "same_samples": all(r["same_samples"] for r in repetitions),
        "repetitions": repetitions,
    }


def median_interval(values: list[float], resamples: int = 4000) -> list[float]:
    """The 2.5th and 97.5th percentiles of the median of `values` resampled with replacement."""
    draw = random.Random(0)
    medians = sorted(statistics.median(draw.choices(values, k=len(values))) for _ in range(resamples))
    return [round(medians[int(0.025 * resamples)], 3), round(medians[int(0.975 * resamples) - 1], 3)]


def render(report: dict[str, Any]) -> str:
    figures, workload, interval = report["median"], report["workload"], report["interval"]
    same = "the same conversations in each" if report["same_samples"] else "DIFFERENT conversations: not the same run"
    lines = [
        f"{workload['repeat']} repetitions of {workload['samples']} Magpie samples in {workload['terminal']} ({same})",
        "median tok/s: " + " · ".join(f"{v} {figures[_key(v) + '_tokens_per_second']:.1f}" for v in VARIANTS),
    ]
    for reference in REFERENCES:
        key = f"app_vs_{_key(reference)}"
        low, high = interval[key]
        lines.append(f"app/{reference} (median of each repetition's ratio): {figures[key]:.3f} (95% interval {low:.3f}–{high:.3f}) · "
                     f"over wall time {figures[key + '_wall']:.3f}")
    return "\n".join(lines)
