"""The generate command's technique flags and the --model flag of every command that loads a model,
kept apart from the generation code so that building the parser (every `smolgen` command does)
imports nothing heavier than argparse."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_model_flag(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument("--model", type=Path, default=default, metavar="PATH", help="a GGUF model (default: the embedded SmolLM2-135M-Instruct)")

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


# Flags of one or two techniques: (attribute, flag, the techniques that take it).
TECHNIQUE_FLAGS = (
    ("answer", "--answer", ("self-instruct", "evol-instruct")),
    ("num_instructions", "--num-instructions", ("self-instruct",)),
    ("application_description", "--application-description", ("self-instruct",)),
    ("no_filter", "--no-filter", ("self-instruct",)),
    ("rouge_threshold", "--rouge-threshold", ("self-instruct",)),
    ("num_evolutions", "--num-evolutions", ("evol-instruct",)),
    ("store_evolutions", "--store-evolutions", ("evol-instruct",)),
    ("include_original", "--include-original", ("evol-instruct",)),
    ("operations", "--operations", ("evol-instruct",)),
    ("from_store", "--from-store", ("evol-instruct",)),
)


def add_instruction_technique_flags(gen: argparse.ArgumentParser) -> None:
    """The flags of `generate self-instruct` and `generate evol-instruct`."""
    gen.add_argument("--answer", action="store_true", help="self-instruct, evol-instruct: also answer each kept instruction")
    gen.add_argument("--num-instructions", type=int, metavar="N", help="self-instruct: instructions asked per seed (default 5)")
    gen.add_argument("--application-description", metavar="TEXT",
                     help='self-instruct: the AI application (default "AI assistant")')
    gen.add_argument("--no-filter", action="append", default=[], metavar="NAME",
                     help="self-instruct: switch a filter off: length, keywords, punctuation, near-duplicates, example-topic (repeatable)")
    gen.add_argument("--rouge-threshold", type=float, metavar="X",
                     help="self-instruct: ROUGE-L above X is a near-duplicate (default 0.7)")
    gen.add_argument("--num-evolutions", type=int, metavar="N", help="evol-instruct: rounds of evolution (default 1)")
    gen.add_argument("--store-evolutions", action="store_true", help="evol-instruct: keep every generation, not only the last")
    gen.add_argument("--include-original", action="store_true", help="evol-instruct: store the original instruction too")
    gen.add_argument("--operations", metavar="OP,OP,...", help="evol-instruct: the operations drawn from (default all six)")
    gen.add_argument("--from-store", action="store_true", help="evol-instruct: evolve the store's new and accepted instructions")


def add_parallel_flag(gen: argparse.ArgumentParser) -> None:
    """`generate --parallel S`: S rows at once, their tokens decoded in one llama.cpp batch (tui/engine/parallel_run.py)."""
    gen.add_argument(
        "--parallel", type=int, default=1, metavar="S",
        help="headless only: generate S rows at once, their tokens decoded together in one llama.cpp batch (default 1); "
        "it pays only with many rows (`smolgen bench batched` measures it here), tokens are not streamed, each sequence "
        "holds at most 2048 tokens (or --context), and texts may differ slightly from a sequential run with the same --seed",
    )
