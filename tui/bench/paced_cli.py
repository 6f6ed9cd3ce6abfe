"""`python -m tui.bench.paced_cli WORD_DELAY ARGS...`: the `smolgen` command, whole, with the paced stand-in
model (tui/bench/null_backend.py) loaded instead of llama.cpp's. For `smolgen bench faults` and tests of
what the command does around a run (a signal, a full disk), where the model's text does not matter and
a real model would make them slow and CPU-bound."""

from __future__ import annotations

import sys

from tui import cli_generate
from tui.bench.null_backend import PacedModel
from tui.engine.model import Model

REPLIES = (
    "What should a small team know before generating synthetic data?",
    "Start from diverse seeds, check the samples often, and keep the prompts short and clear.",
)


def paced_load(word_delay: float) -> classmethod:
    """A stand-in for `Model.load`: every load answered by a PacedModel writing a word every `word_delay` seconds."""
    return classmethod(lambda cls, *a, **k: PacedModel(REPLIES, word_delay))


def main(argv: list[str]) -> int:
    """Run `smolgen ARGS` with every model load answered by a PacedModel writing a word every WORD_DELAY seconds."""
    from tui.cli import main as smolgen

    word_delay, *args = argv
    Model.load = paced_load(float(word_delay))  # type: ignore[method-assign]
    cli_generate.choose_local_server = lambda *_a, **_k: False  # the stand-in is in-process; a long run must not start llama-server
    return smolgen(args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
