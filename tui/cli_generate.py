"""`smolgen generate`: build a technique from flags, stream its samples to the terminal, summarise."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from typing import Any, Callable, Iterator, TextIO

from pathlib import Path

from tui.cli_flags import add_in_process_flag, add_model_options, add_parallel_flag, add_server_flags, add_store_flag
from tui.cli_model import check_model_flags, choose_local_server, opened_model, server_settings, uses_servers
from tui.cli_signals import cancelled_by_signals, run_exit_status
from tui.cli_technique_flags import TECHNIQUE_CLASSES, add_technique_flags, settings_from_flags
from tui.engine.errors import BadInput
from tui.engine.language_model import LanguageModel
from tui.engine.model_file import inspect_model
from tui.engine.preferences import decision_line, pairs_line
from tui.engine.model import new_run_seed
from tui.engine.prompts import PromptLibrary
from tui.engine.run_progress import RunProgress
from tui.engine.run_quality import DEFAULT_SATURATION_WINDOW, RunQuality
from tui.engine.runner import RunObserver, RunSummary, check_model, check_run, default_num, run_generation
from tui.engine.seeds import read_seed_file
from tui.engine.server.settings import ServerSettings, SettingNames
from tui.engine.store import opened_for_command
from tui.engine.techniques.base import Technique
from tui.engine.techniques.preference import Preference, check_writes_responses, instruction_rows
from tui.engine.techniques.evol_instruct import EvolInstruct, rows_from_store
from tui.engine.techniques.self_instruct import SelfInstruct

FROM_STORE = ("evol-instruct", Preference.name)  # the techniques `--from-store` gives the store's instructions to

# What each technique of `smolgen generate` does, in one line of its --help.
TECHNIQUES = {name: technique.summary for name, technique in TECHNIQUE_CLASSES.items()}


def add_arguments(gen: argparse.ArgumentParser) -> None:
    """The flags of `smolgen generate`."""
    gen.formatter_class = argparse.RawDescriptionHelpFormatter
    gen.description = ("Generate samples headless, streaming to the terminal.\n\ntechniques:\n"
                       + "\n".join(f"  {name:<15}{summary}" for name, summary in TECHNIQUES.items()))
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


class TerminalObserver(RunObserver):
    """Streams tokens to stdout under a header per model call, and a progress line per sample that ends
    with the run's quality so far (kept, failed by reason, near-duplicate share)."""

    def __init__(self, out: TextIO, err: TextIO, stream_tokens: bool, parallel: bool = False, per_seed: bool = False):
        """`per_seed`: each seed gives several samples, so a line names the seed it came from."""
        self.out, self.err, self.stream_tokens, self.parallel = out, err, stream_tokens, parallel
        self.row_label = "seed " if per_seed else ""
        self.shows_text = stream_tokens
        self.quality = RunQuality()
        self.started = time.perf_counter()
        self.tokens = 0
        self.model_seconds = 0.0
        self.streamed = False  # text was shown since the last sample ended

    def stage(self, text: str) -> None:
        if self.stream_tokens:
            self.out.write(f"\n── {text} ──\n")
            self.out.flush()

    def text(self, chunk: str) -> None:
        if self.stream_tokens:
            self.out.write(chunk)
            self.out.flush()
            self.streamed = True

    def sample_done(self, sample: dict[str, Any], done: int, total: int) -> None:
        self.quality.add(sample)
        if sample.get("tokens"):  # a rejected candidate cost model time too
            self.tokens += sample["tokens"]["completion"] or 0
            self.model_seconds += sample["seconds"]
        if sample.get("status") == "failed":
            failure = sample["failure"]
            line = f"failed ({failure['reason']}): {failure['message']}"
            if sample.get("instruction"):
                line += f" · {_one_line(sample['instruction'])}"
        else:
            # Rows generated at once overlap: their rate is the tokens over the time since the start.
            seconds = time.perf_counter() - self.started if self.parallel else self.model_seconds
            rate = self.tokens / seconds if seconds else 0.0
            flags = f" [{', '.join(sample['flags'])}]" if sample.get("flags") else ""
            line = f"stored{flags} · {rate:.1f} tok/s"
            if sample.get("technique") == Preference.name:
                line += f" · {decision_line(sample)}"
        if self.streamed:
            self.out.write("\n")
            self.out.flush()
            self.streamed = False
        self.err.write(f"[{self.row_label}{done}/{total}] {line} │ {self.quality.line()}\n")
        self.err.flush()

    def close(self) -> None:
        """The run ended: write what is still pending."""


class ProgressObserver(TerminalObserver):
    """Many rows in flight: the watched row's stream, each failure's reason, and one progress line
    (in flight, done, failed, tok/s, samples/min, ETA) at most every PROGRESS_SECONDS."""

    PROGRESS_SECONDS = 0.5

    def __init__(self, out: TextIO, err: TextIO, stream_tokens: bool, total: int, in_flight: Callable[[], int] | None = None):
        super().__init__(out, err, stream_tokens, parallel=True)
        self.progress = RunProgress(total)
        self.in_flight = in_flight
        self._shown = 0.0
        self._pending = False

    def sample_done(self, sample: dict[str, Any], done: int, total: int) -> None:
        self.progress.sample_done(sample, done)
        self.quality.add(sample)
        if sample.get("status") == "failed":
            failure = sample["failure"]
            self.err.write(f"failed ({failure['reason']}): {_one_line(failure['message'])}\n")
        if self.streamed:
            self.out.write("\n")
            self.out.flush()
            self.streamed = False
        now = time.perf_counter()
        self._pending = True
        if now - self._shown >= self.PROGRESS_SECONDS:
            self._progress(now)

    def _progress(self, now: float) -> None:
        self._shown, self._pending = now, False
        in_flight = self.in_flight() if self.in_flight is not None else None
        self.err.write(f"[{self.progress.finished} done] {self.progress.line(in_flight, now)} │ {self.quality.line()}\n")
        self.err.flush()

    def close(self) -> None:
        if self._pending:
            self._progress(time.perf_counter())


def build_technique(args: argparse.Namespace) -> Technique:
    """The technique and settings the flags ask for."""
    if args.from_store and args.technique not in FROM_STORE:
        raise BadInput(f"--from-store: only for {' and '.join(FROM_STORE)}, not {args.technique}")
    if args.from_store and args.seeds is not None:
        raise BadInput("--from-store and --seeds: take either the store's instructions or a seed file, not both")
    for flag, given in (("--response-model", args.response_model), ("--response-server", args.response_server)):
        if given and args.technique != Preference.name:
            raise BadInput(f"{flag}: only for {Preference.name}, not {args.technique}")
    for flag, value in (("--response-server-model", args.response_server_model), ("--response-api-key-env", args.response_api_key_env)):
        if value is not None and args.technique == Preference.name and not args.response_server:
            raise BadInput(f"{flag}: only with --response-server URL")
    asked = [response_server_settings(args, url) for url in args.response_server]
    if asked:
        from tui.engine.server.connect import check_settings

        for server in asked:  # checked now, named as typed (the settings' own checks name the app's fields)
            check_settings(server)
    if args.technique == Preference.name and args.parallel != 1:
        raise BadInput(f"--parallel: not for {Preference.name} (its responses and judgements take turns on the models)")
    for path in args.response_model:
        inspect_model(path)  # a file that is not a usable GGUF is one line now, before the store is opened
    settings = settings_from_flags(args)
    if args.technique == Preference.name:  # named in the settings too, so the run records them
        # The model and key variable the response servers are asked with, their fallbacks applied (blank: none, recorded as null).
        used = asked[0] if asked else ServerSettings()  # every response server is asked alike
        settings = dataclasses.replace(settings, responders=[*map(str, args.response_model), *args.response_server],
                                       response_server_model=used.model or "", response_api_key_env=used.api_key_env or "")
    return TECHNIQUE_CLASSES[args.technique](settings)


def response_server_settings(args: argparse.Namespace, url: str) -> ServerSettings:
    """A response server's settings: the run's server flags, but the model and key variable of
    --response-server-model and --response-api-key-env where given (blank: the only model, no key).
    Bad input names the flag each came from."""
    settings = server_settings(args, [url])  # the run's flags, checked as such
    # A value the run's flag gave is named by that flag; else the response flag, which is also the one to pass.
    run_model = args.response_server_model is None and args.server_model is not None
    run_key = args.response_api_key_env is None and args.api_key_env is not None
    settings.names = SettingNames(server="--response-server", model="--server-model" if run_model else "--response-server-model",
                                  key="--api-key-env" if run_key else "--response-api-key-env")
    if args.response_server_model is not None:
        settings.model = args.response_server_model.strip() or None
    if args.response_api_key_env is not None:
        settings.api_key_env = args.response_api_key_env.strip() or None
    return settings.validate()


@contextlib.contextmanager
def opened_responders(args: argparse.Namespace) -> Iterator[list[LanguageModel]]:
    """The models `--response-model` and `--response-server` name, in the order given, closed when the block ends
    or when one is refused (a server asked as `response_server_settings` says)."""
    with contextlib.ExitStack() as stack:
        models: list[LanguageModel] = []
        for path in args.response_model:
            from tui.engine.model import Model

            loaded = Model.load(path, n_ctx=args.context, n_threads=args.threads)
            stack.callback(loaded.close)
            models.append(loaded)
        for url in args.response_server:
            from tui.engine.server.connect import connect

            model = connect(response_server_settings(args, url))
            stack.callback(model.close)
            models.append(model)
        for flag, model in zip(["--response-model"] * len(args.response_model) + ["--response-server"] * len(args.response_server), models):
            check_writes_responses(model, f"{flag} {model.label}")
        yield models


def run_generate_command(args: argparse.Namespace) -> int:
    check_model_flags(args)
    if args.stop_when_saturated < 0:
        raise BadInput(f"--stop-when-saturated {args.stop_when_saturated}: must be at least 1 (0 or left out: never)")
    technique = build_technique(args)
    prompts = PromptLibrary(args.prompts)
    rows: list[dict[str, Any]] = []
    if args.seeds is not None:
        seed_file = read_seed_file(args.seeds)
        for problem in seed_file.problems:
            print(f"smolgen: {problem}", file=sys.stderr)
        rows = seed_file.rows
    with opened_for_command(args.store) as store:
        if args.from_store:
            stored = store.list_samples(statuses=("new", "accepted"))
            rows = instruction_rows(stored) if isinstance(technique, Preference) else rows_from_store(stored)
            if not rows:
                raise BadInput(f"--from-store: {args.store} has no new or accepted sample with an instruction")
        elif technique.needs_seeds and not rows:
            rows = [seed["row"] for seed in store.list_seeds(selected_only=True)]
        num = args.num if args.num is not None else default_num(technique, rows)
        check_run(technique, prompts, num, rows, args.parallel)  # bad input is reported before the model loads
        if not isinstance(technique, Preference):  # its responders are models of their own
            choose_local_server(args, num)
        with opened_responders(args) as responders, opened_model(args, check_seed=args.seed is not None) as model:
            if isinstance(technique, Preference):
                technique.responders = responders
            check_model(technique, model)
            run_seed = args.seed if args.seed is not None else new_run_seed()
            per_seed = getattr(technique, "many_samples_per_seed", False)
            unit = "seeds" if per_seed else "samples"
            workers = getattr(model, "settings", None).concurrency if uses_servers(args) and not isinstance(technique, Preference) else args.parallel
            print(f"{technique.name}: {num} {unit} with {model.label}{_how(model, workers)}, seed {run_seed}, store {args.store}",
                  file=sys.stderr)
            streams = not args.quiet and (uses_servers(args) or workers == 1)  # batched in-process rows stream nothing
            if workers > 1:
                observer: TerminalObserver = ProgressObserver(sys.stdout, sys.stderr, streams, num, _in_flight(model))
            else:
                observer = TerminalObserver(sys.stdout, sys.stderr, streams, per_seed=per_seed)
            with cancelled_by_signals() as signals:
                summary = run_generation(technique, store, model, prompts, num, run_seed, rows, observer, signals.cancel,
                                         parallel=workers, saturation_window=args.stop_when_saturated)
        made = store.list_samples(run_id=summary.run_id) if isinstance(technique, Preference) else []
    observer.close()
    print(summary_line(summary, unit) + f" → {args.store}", file=sys.stderr)
    if made:
        print(f"{pairs_line(made)}: `smolgen export --format dpo` writes the pairs; ctrl+r then p in the app compares them",
              file=sys.stderr)
    answering = getattr(technique.settings, "answer", None)
    if answering is not None and not answering.enabled and summary.stored:
        print("instructions only (--no-answer): `smolgen export --format instructions` writes them", file=sys.stderr)
    return run_exit_status(summary.halt_reason, signals, "sample")


def _in_flight(model: Any) -> Callable[[], int] | None:
    return (lambda: model.in_flight) if getattr(model, "serves_concurrently", False) else None


def _how(model: Any, workers: int) -> str:
    if getattr(model, "serves_concurrently", False):
        return f", {workers} requests in flight"
    parallel = f", {workers} rows at once" if workers > 1 else ""
    return f", {model.n_threads} threads{parallel}"


def summary_line(summary: RunSummary, unit: str = "samples") -> str:
    """A run's last line: what was stored and failed (by reason), tokens and speed, rows not run, a stop asked
    for, and the truncated samples export will leave out."""
    failures = ", ".join(f"{n} {reason}" for reason, n in summary.failures.items())
    tokens = f"{summary.completion_tokens} tokens"
    if summary.uncounted_samples:
        tokens += f" (+ {summary.uncounted_samples} samples the server did not count)"
    left = summary.total - summary.rows_done
    tail = f"; {left} of {summary.total} {unit} not run" if left else ""
    if summary.stop_reason:
        tail += f"; {summary.stop_reason}"
    if summary.truncated:
        tail += f"; {summary.truncated_note('--include-truncated')}"
    return (
        f"run {summary.run_id} {summary.status}: {summary.stored} stored, {summary.failed} failed"
        + (f" ({failures})" if failures else "")
        + f"; {tokens} at {summary.tokens_per_second:.1f} tok/s in {summary.wall_seconds:.1f} s{tail}"
    )


def _one_line(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
