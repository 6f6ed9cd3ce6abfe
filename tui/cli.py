"""The `smolgen` command: the app with no arguments, headless generation and data commands otherwise.

Exit status: 0 on success, 2 on bad input, 1 otherwise. Errors are one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from tui import __version__
from tui.bench.commands import add_bench_command, cmd_bench
from tui.cli_export import add_export_command, cmd_export
from tui.cli_judge import add_judge_command, run_judge_command
from tui.cli_models import add_models_command, cmd_models
from tui.cli_pipeline import add_pipeline_commands, cmd_draw, cmd_run
from tui.cli_stats import add_stats_command, cmd_stats
from tui.cli_store import add_store_command, cmd_store
from tui.cli_technique_flags import TECHNIQUE_CLASSES, add_technique_flags
from tui.cli_config import apply_user_config
from tui.cli_flags import add_in_process_flag, add_model_options, add_parallel_flag, add_server_flags, add_store_flag
from tui.cli_signals import Stopped, signal_name, stopped_by_signals
from tui.engine.errors import SmolgenError
from tui.engine.run_quality import DEFAULT_SATURATION_WINDOW
from tui.engine.store import SampleStore
from tui.engine.app_state import load_app_state
from tui.engine.user_config import load_user_config

# What each technique of `smolgen generate` does, in one line of its --help.
TECHNIQUES = {name: technique.summary for name, technique in TECHNIQUE_CLASSES.items()}


class CliError(SmolgenError):
    """A command line argparse refused; its message starts with the command's name (`smolgen export: …`)."""

    exit_code = 2


class _Parser(argparse.ArgumentParser):
    """`implied_command`: the subcommand taken when the arguments start with a flag or are empty
    (`smolgen bench --smoke` is `smolgen bench generation --smoke`)."""

    def __init__(self, *args: Any, implied_command: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.implied_command = implied_command

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        if self.implied_command is not None and args is not None:
            args = list(args)
            if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
                args.insert(0, self.implied_command)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        raise CliError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="smolgen", description="Synthetic instruction datasets from a small local model.")
    parser.add_argument("--version", action="version", version=f"smolgen {__version__}")
    parser.add_argument("--log", metavar="FILE", help="write debug logs (llama.cpp's included) to FILE")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    # With no command the app opens: its options are accepted before any command word too.
    _add_app_options(parser, default=argparse.SUPPRESS)
    app = commands.add_parser("app", help="open the terminal app (the default with no command)")
    _add_app_options(app)

    gen = commands.add_parser(
        "generate", help="generate samples headless, streaming to the terminal", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Generate samples headless, streaming to the terminal.\n\ntechniques:\n"
        + "\n".join(f"  {name:<15}{summary}" for name, summary in TECHNIQUES.items()),
    )
    gen.add_argument("technique", choices=TECHNIQUES)
    gen.add_argument("--num", type=int, help="samples to generate (default: one per seed, or 5 for magpie)")
    gen.add_argument("--seeds", type=Path, metavar="FILE", help="seed file (.txt, .jsonl, .csv); default: the store's selected seeds")
    gen.add_argument("--prompts", type=Path, metavar="DIR", help="a folder of your own templates, searched before the shipped ones")
    gen.add_argument("--seed", type=int, metavar="S", help="make the run reproducible (default: a fresh random seed, recorded)")
    gen.add_argument("--quiet", action="store_true", help="do not stream tokens, print only progress and the summary")
    gen.add_argument("--from-store", action="store_true",
                     help="evol-instruct: evolve the store's new and accepted instructions; preference: answer them")
    gen.add_argument("--response-model", action="append", default=[], type=Path, metavar="PATH",
                     help="preference: a GGUF that writes responses; repeat for several, in turn (default: the model in use, which judges)")
    gen.add_argument("--response-server", action="append", default=[], metavar="URL",
                     help="preference: an OpenAI-compatible server that writes responses; repeat for several, in turn")
    gen.add_argument("--stop-when-saturated", type=int, nargs="?", const=DEFAULT_SATURATION_WINDOW, default=0, metavar="K",
                     help=f"end the run when most of the last K samples (default {DEFAULT_SATURATION_WINDOW}) "
                     "were near-duplicates of earlier ones")
    gen.add_argument("--answer", action="store_true",
                     help="self-instruct, evol-instruct: answer each kept instruction (now the default; kept for scripts)")
    add_technique_flags(gen)
    add_parallel_flag(gen)
    add_in_process_flag(gen)
    add_store_flag(gen)
    add_model_options(gen)
    add_server_flags(gen)

    seeds = commands.add_parser("seeds", help="manage the store's seeds")
    seed_commands = seeds.add_subparsers(dest="seeds_command", parser_class=_Parser, required=True)
    seed_import = seed_commands.add_parser("import", help="import seeds: one per line (.txt), .jsonl or .csv")
    seed_import.add_argument("file", type=Path)
    add_store_flag(seed_import)
    seed_list = seed_commands.add_parser("list", help="list the store's seeds")
    add_store_flag(seed_list)

    add_export_command(commands)
    add_judge_command(commands)
    add_pipeline_commands(commands)
    add_stats_command(commands)
    add_store_command(commands)
    add_bench_command(commands)
    add_models_command(commands)

    return parser


def _add_app_options(parser: argparse.ArgumentParser, default: Any = None) -> None:
    add_store_flag(parser, default)
    add_model_options(parser, default)
    parser.add_argument("--prompts", type=Path, default=default, metavar="DIR",
                        help="where the app saves edited templates (default ~/.config/smolgen/prompts)")
    add_server_flags(parser, default)


def main(argv: Sequence[str] | None = None) -> int:
    with stopped_by_signals():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        _configure_logging(args.log)
        apply_user_config(args, load_user_config())
        command = args.command or "app"
        if command == "app":
            return _open_app(args)
        handler = {
            "generate": cmd_generate,
            "judge": run_judge_command,
            "seeds": cmd_seeds,
            "export": cmd_export,
            "models": cmd_models,
            "run": cmd_run,
            "draw": cmd_draw,
            "stats": cmd_stats,
            "store": cmd_store,
            "bench": cmd_bench,
        }[command]
        return handler(args)
    except CliError as error:
        print(error, file=sys.stderr)
        return error.exit_code
    except SmolgenError as error:
        print(f"smolgen: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as stop:
        signum = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
        print(f"smolgen: stopped by {signal_name(signum)}; every finished sample is in the store", file=sys.stderr)
        return 128 + signum


def _configure_logging(path: str | None) -> None:
    if path:
        logging.basicConfig(filename=path, level=logging.DEBUG, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    else:
        logging.basicConfig(level=logging.CRITICAL)


def _open_app(args: argparse.Namespace) -> int:
    from tui.app.backend import ModelRequest
    from tui.cli_model import checked_server_flags

    # The top-level options are suppressed when not given: the server flags' own defaults fill them in.
    server_defaults = argparse.ArgumentParser(add_help=False)
    add_server_flags(server_defaults)
    args = argparse.Namespace(**{**vars(server_defaults.parse_args([])), **vars(args)})
    _open_the_last_model(args)
    servers, local_slots = checked_server_flags(args)  # bad flags are one line before the app opens
    from tui.app.app import run_app  # Textual and the app load once the flags are known to be good
    request = ModelRequest(getattr(args, "model", None), getattr(args, "context", 4096), getattr(args, "threads", None),
                           servers, local_slots)
    return run_app(args.store, request, getattr(args, "prompts", None), args.model_folders, getattr(args, "export_license", None))


def _open_the_last_model(args: argparse.Namespace) -> None:
    """With no model or servers from a flag or config.toml, the app opens what it had open when last quit
    (a file that is gone since: the embedded model)."""
    if getattr(args, "model", None) is not None or args.server or args.local_server is not None:
        return
    last = load_app_state().model
    if last is None:
        return
    if last.path and Path(last.path).is_file():
        args.model = Path(last.path)
    elif last.servers:
        args.server, args.server_model = list(last.servers), last.server_model


def cmd_generate(args: argparse.Namespace) -> int:
    from tui.cli_generate import run_generate_command

    return run_generate_command(args)


def cmd_seeds(args: argparse.Namespace) -> int:
    from tui.engine.seeds import read_seed_file, seed_text

    with SampleStore(args.store, read_only=args.seeds_command == "list") as store:
        if args.seeds_command == "import":
            seed_file = read_seed_file(args.file)
            for problem in seed_file.problems:
                print(f"smolgen: {problem}", file=sys.stderr)
            store.add_seeds(seed_file.rows, source=str(args.file))
            print(f"imported {len(seed_file.rows)} seeds from {args.file} into {args.store}"
                  + (f" ({len(seed_file.problems)} lines skipped)" if seed_file.problems else ""))
            return 0
        seeds = store.list_seeds()
        for seed in seeds:
            mark = "*" if seed.get("selected", True) else " "
            print(f"{seed['id']:>5} {mark} {_one_line(seed_text(seed['row']))}")
        print(f"{len(seeds)} seeds, {sum(1 for s in seeds if s.get('selected', True))} selected (*)")
        return 0


def _one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


if __name__ == "__main__":
    raise SystemExit(main())
