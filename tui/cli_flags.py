"""The --model, server and --parallel flags of the commands that load a model, kept apart from the
generation code so that building a parser (every `smolgen` command does) imports nothing heavier than argparse."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


STORE_HELP = "the JSON store (default: `store` in config.toml, else ./smolgen.json)"


def add_store_flag(parser: argparse.ArgumentParser, default: Any = None) -> None:
    """--store; left None when not given, so the config's store (or ./smolgen.json) fills it in."""
    parser.add_argument("--store", type=Path, default=default, metavar="PATH", help=STORE_HELP)


def add_model_flag(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument("--model", type=Path, default=default, metavar="PATH", help="a GGUF model (default: the embedded SmolLM2-135M-Instruct)")


def add_model_options(parser: argparse.ArgumentParser, default: Any = None) -> None:
    """--model, --threads and --context; `default` replaces every option's own default (the app's top-level options pass SUPPRESS)."""
    add_model_flag(parser, default)
    parser.add_argument("--threads", type=int, default=None if default is None else default, metavar="N",
                        help="CPU threads (default: the physical cores)")
    parser.add_argument("--context", type=int, default=4096 if default is None else default, metavar="N",
                        help="context size in tokens (capped at the model's)")


def add_server_flags(parser: argparse.ArgumentParser, default: Any = None) -> None:
    """The flags that point a command at OpenAI-compatible servers instead of the in-process model.

    `default` replaces every flag's own default (the app's top-level options pass SUPPRESS)."""

    def given(value: Any) -> Any:
        return value if default is None else default

    parser.add_argument("--server", action="append", default=given([]), metavar="URL",
                        help="an OpenAI-compatible server's base URL, e.g. http://127.0.0.1:8080/v1; repeat for several")
    parser.add_argument("--server-model", default=given(None), metavar="NAME", help="the model to ask for (default: the server's only model)")
    parser.add_argument("--api-key-env", default=given(None), metavar="VAR", help="read the API key from this environment variable")
    parser.add_argument("--concurrency", type=int, default=given(None), metavar="N",
                        help="requests in flight across the servers (default 8; with --local-server, its slots)")
    parser.add_argument("--timeout", type=float, default=given(None), metavar="SECONDS", help="per request (default 600)")
    parser.add_argument("--max-retries", type=int, default=given(None), metavar="N", help="retries of a failed request (default 3)")
    parser.add_argument("--chat-template", type=Path, default=given(None), metavar="FILE",
                        help="the model's chat template: a .jinja file, a tokenizer_config.json or a GGUF")
    parser.add_argument("--local-server", type=int, nargs="?", const=0, default=given(None), metavar="SLOTS",
                        help="start llama-server on 127.0.0.1 with --model (or the embedded model) and SLOTS slots, use it, stop it")


def add_in_process_flag(parser: argparse.ArgumentParser) -> None:
    """`--in-process`: keep the model in this process although the run is long enough for a local llama-server."""
    parser.add_argument(
        "--in-process", action="store_true",
        help="decode in this process; without it, a headless run of many samples with no --server starts the "
        "llama-server `make` built (as --local-server does), which is faster here",
    )


def add_parallel_flag(gen: argparse.ArgumentParser) -> None:
    """`generate --parallel S`: S rows at once, their tokens decoded in one llama.cpp batch (tui/engine/parallel_run.py)."""
    gen.add_argument(
        "--parallel", type=int, default=1, metavar="S",
        help="headless only: generate S rows at once, their tokens decoded together in one llama.cpp batch (default 1); "
        "it pays only with many rows (`smolgen bench batched` measures it here), tokens are not streamed, each sequence "
        "holds at most 2048 tokens (or --context), and texts may differ slightly from a sequential run with the same --seed",
    )


@dataclass(frozen=True)
class Subcommand:
    """A subcommand whose module loads only when it is used (building the parser is part of every `smolgen`
    command's start): its one-sentence help, the module with its flags (`add_arguments(parser)`, or the
    function `flags` names) and the function that runs it."""

    name: str
    help: str
    module: str
    function: str
    flags: str = "add_arguments"

    @property
    def run(self) -> Callable[[argparse.Namespace], int]:
        """The function that runs the subcommand (its module is imported now)."""
        return getattr(importlib.import_module(self.module), self.function)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The subcommand's flags (its module is imported now)."""
        getattr(importlib.import_module(self.module), self.flags)(parser)


def flags_added_when_used(parser_class: type[argparse.ArgumentParser]) -> type[argparse.ArgumentParser]:
    """`parser_class`, taking `add_arguments` and calling it the first time it parses or prints its help: a
    subcommand's module (and what it imports) loads only when that subcommand is used."""

    class FlagsAddedWhenUsed(parser_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.flags_to_add = add_arguments

        def add_flags(self) -> None:
            """Add the subcommand's flags, once."""
            if self.flags_to_add is not None:
                add, self.flags_to_add = self.flags_to_add, None
                add(self)

        def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
            self.add_flags()
            return super().parse_known_args(args, namespace)

        def format_help(self) -> str:
            self.add_flags()
            return super().format_help()

    return FlagsAddedWhenUsed
