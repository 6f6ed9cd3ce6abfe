"""The `smolgen` command: the app with no arguments, headless generation and data commands otherwise.

Exit status: 0 on success, 2 on bad input, 1 otherwise. Errors are one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from tui import __version__
from tui.cli_flags import Subcommand, add_model_options, add_server_flags, add_store_flag, flags_added_when_used
from tui.cli_signals import Stopped, signal_name, stopped_by_signals
from tui.engine.errors import BadInput, SmolgenError
from tui.engine.server.settings import SERVER_FLAGS, SERVER_TAB_FIELDS, ServerSettings, SettingNames
from tui.engine.user_config import load_user_config


# After `app`, in the order `smolgen --help` lists them.
COMMANDS = (
    Subcommand("generate", "generate samples headless, streaming to the terminal", "tui.cli_generate", "run_generate_command"),
    Subcommand("seeds", "manage the store's seeds", "tui.cli_seeds", "cmd_seeds"),
    Subcommand("export", "write samples as JSON Lines for fine-tuning, or a dataset folder for the Hub", "tui.cli_export", "cmd_export"),
    Subcommand("judge", "rate stored samples with a judge model and tag their instructions", "tui.cli_judge", "run_judge_command"),
    Subcommand("run", "run a pipeline (a TOML file, or built in: chapter, evol-chain)", "tui.cli_pipeline", "cmd_run", "add_run_arguments"),
    Subcommand("draw", "draw a pipeline's steps and column mappings", "tui.cli_pipeline", "cmd_draw", "add_draw_arguments"),
    Subcommand("stats", "diversity, duplicates, lengths and failures of the dataset", "tui.cli_stats", "cmd_stats"),
    Subcommand("store", "check a store for damage, or repair it", "tui.cli_store", "cmd_store"),
    Subcommand("bench", "measure how fast smolgen generates, stores and draws (`smolgen bench --help` lists the benchmarks)",
               "tui.bench.commands", "cmd_bench"),
    Subcommand("models", "the model in use and its metadata, what servers offer, or (--list) the GGUF files on this machine",
               "tui.cli_models", "cmd_models"),
)  # each module holds the command's flags (add_arguments, or the function named last) and the function that runs it


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
    commands = parser.add_subparsers(dest="command", parser_class=flags_added_when_used(_Parser))

    # With no command the app opens: its options are accepted before any command word too.
    _add_app_options(parser, default=argparse.SUPPRESS)
    app = commands.add_parser("app", help="open the terminal app (the default with no command)")
    _add_app_options(app)
    for command in COMMANDS:
        commands.add_parser(command.name, help=command.help, add_arguments=command.add_arguments)

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
        from tui.cli_config import apply_user_config

        apply_user_config(args, load_user_config())
        command = args.command or "app"
        if command == "app":
            return _open_app(args)
        handler = next(c for c in COMMANDS if c.name == command).run
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

    # The top-level options are suppressed when not given: the server flags' own defaults fill them in.
    server_defaults = argparse.ArgumentParser(add_help=False)
    add_server_flags(server_defaults)
    args = argparse.Namespace(**{**vars(server_defaults.parse_args([])), **vars(args)})
    names, reopened_as_left = _open_the_last_model(args)
    servers, local_slots = _checked_servers(args, names, reopened_as_left)  # bad flags are one line before the app opens
    from tui.app.app import run_app  # Textual and the app load once the flags are known to be good
    request = ModelRequest(getattr(args, "model", None), getattr(args, "context", 4096), getattr(args, "threads", None),
                           servers, local_slots)
    return run_app(args.store, request, getattr(args, "prompts", None), args.model_folders, getattr(args, "export_license", None))


def _open_the_last_model(args: argparse.Namespace) -> tuple[SettingNames, bool]:
    """With no model or servers from a flag or config.toml, the app opens what it had open when last quit
    (a file that is gone since: the embedded model), servers with the settings they had. The names of the
    servers' settings for bad input: where each came from, the Server tab's fields for what it chose (a
    setting given by flag now wins, named by it), else the flags. And whether servers were reopened with no
    server flag given at this start."""
    from tui.engine.app_state import load_app_state

    if getattr(args, "model", None) is not None or args.server or args.local_server is not None:
        return SERVER_FLAGS, False
    last = load_app_state().model
    if last is None:
        return SERVER_FLAGS, False
    if last.path and Path(last.path).is_file():
        args.model = Path(last.path)
    elif last.servers:
        server_flag_typed = any(getattr(args, flag) is not None
                                for flag in ("server_model", "api_key_env", "concurrency", "chat_template", "timeout", "max_retries"))
        args.server = list(last.servers)
        chosen_by = SERVER_TAB_FIELDS if last.from_server_tab else SERVER_FLAGS
        typed_now: dict[str, str] = {}
        for flag, setting, remembered in (
            ("server_model", "model", last.server_model),
            ("api_key_env", "key", last.api_key_env),
            ("concurrency", "concurrency", last.concurrency),
            ("chat_template", "chat_template", Path(last.chat_template) if last.chat_template else None),
        ):
            if getattr(args, flag) is None:
                setattr(args, flag, remembered)
            else:
                typed_now[setting] = getattr(SERVER_FLAGS, setting)
        return replace(chosen_by, **typed_now), not server_flag_typed
    return SERVER_FLAGS, False


def _checked_servers(args: argparse.Namespace, names: SettingNames, reopened_as_left: bool) -> tuple[ServerSettings | None, int | None]:
    """The servers' settings, checked before the app opens (bad input: one line, exit 2). Servers reopened as
    the last quit left them, with a setting that no longer holds (its key variable not set in this shell, its
    chat template file gone), open the app all the same, unchecked: connecting fails, and the model status
    names the setting, which ctrl+o shows filled in and can change. Else `smolgen` would refuse to start
    until a flag named something else."""
    from tui.cli_model import checked_server_flags, server_settings

    try:
        return checked_server_flags(args, names)
    except BadInput:
        if not reopened_as_left:
            raise
        return server_settings(args, list(args.server), names=names, checked=False), None


if __name__ == "__main__":
    raise SystemExit(main())
