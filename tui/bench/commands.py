"""`smolgen bench NAME`: every benchmark is one line of BENCHES; `smolgen bench` alone runs the first.

A benchmark's module gives `add_arguments(parser)` (its flags, and its description when the help
line is not enough) and a `cmd_…(args) -> int` that runs it. Building the parser is part of every
`smolgen` command's start-up, so a benchmark's module is imported only when its parser is used
(`smolgen bench NAME …` or its --help).
"""

from __future__ import annotations

import argparse

from tui.cli_flags import Subcommand, flags_added_when_used


class Bench(Subcommand):
    """One `smolgen bench NAME`: its one-sentence help, and the module (under tui/bench) with its flags
    (`add_arguments`) and the function that runs it."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The benchmark's flags, and the function that runs it as the parser's default."""
        super().add_arguments(parser)
        parser.set_defaults(run_bench=self.run)


BENCHES = (
    Bench("generation", "time the same generation through bare llama-cpp-python loops, the engine and the app", "tui.bench.generation", "cmd_bench"),
    Bench("batched", "time S Magpie user turns decoded together in one llama.cpp context against one alone", "tui.bench.batched", "cmd_bench_batched"),
    Bench("store", "time a durable write, opening the store and opening review as the store grows", "tui.bench.store_bench", "cmd_bench_store"),
    Bench("stats", "time the stats screen on a large synthetic store, without a model", "tui.bench.stats_screen", "cmd_bench_stats"),
    Bench("startup", "time the app's first frame, model ready and quit in a real terminal (tmux)", "tui.bench.startup", "cmd_bench_startup"),
    Bench("terminal", "compare one Magpie run's tok/s in the app and in the headless CLI, in a real terminal (tmux)", "tui.bench.terminal", "cmd_bench_terminal"),
    Bench("ui", "measure the share of a CPU core the app's UI thread uses while a run streams, without a model", "tui.bench.ui_cost", "cmd_bench_ui"),
    Bench("dedup", "time the ROUGE-L near-duplicate check of new instructions against a large store", "tui.bench.dedup", "cmd_bench_dedup"),
    Bench("server", "measure smolgen against llama-server beside a bare client, and its own ceiling against a canned server", "tui.bench.server", "cmd_bench_server"),
    Bench("models", "time listing a folder of many GGUF files, the first time and again (the header cache)", "tui.bench.model_list", "cmd_bench_models"),
    Bench("quality", "measure what share of the embedded model's samples the default caps and quality gates keep, per technique", "tui.bench.quality", "cmd_bench_quality"),
    Bench("judge", "time a judge model rating samples and count how often it rates a clearly good answer above a clearly bad one", "tui.bench.judge_bench", "cmd_bench_judge"),
    Bench("topic", "measure how well the off-topic flag tells questions in a system prompt's domain from others, on hand-made questions",
          "tui.bench.topic", "cmd_bench_topic"),
    Bench("drift", "measure how well the off-topic flag tells evolutions that kept their parent's subject from ones that lost it, on labelled real evolutions",
          "tui.bench.drift", "cmd_bench_drift"),
    Bench("faults", "make each fault (a full disk, a read-only store, signals, kills while folding, damaged journals) and count the samples kept", "tui.bench.faults", "cmd_bench_faults"),
    Bench("compare", "time from a key on the compare screen to the next preference pair on screen, without a model",
          "tui.bench.compare_screen", "cmd_bench_compare"),
    Bench("export", "time exporting a large synthetic store and measure its peak memory, in a fresh process per size",
          "tui.bench.export_bench", "cmd_bench_export"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`smolgen bench [NAME] ...`: one subcommand per entry of BENCHES, the first taken when NAME is left out."""
    default = BENCHES[0].name
    parser.description = f"Benchmarks of smolgen on this machine. With no NAME, `smolgen bench [flags]` runs `smolgen bench {default}`."
    parser.implied_command = default  # type: ignore[attr-defined]  # tui.cli's parsers take it
    names = parser.add_subparsers(dest="bench_name", metavar="NAME", parser_class=flags_added_when_used(type(parser)))
    for entry in BENCHES:
        names.add_parser(entry.name, help=entry.help, description=entry.help[0].upper() + entry.help[1:] + ".",
                         add_arguments=entry.add_arguments)


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark the arguments named."""
    return args.run_bench(args)
