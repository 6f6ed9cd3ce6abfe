"""The `smolgen` command: the app with no arguments, headless generation and data commands otherwise.

Exit status: 0 on success, 2 on bad input, 1 otherwise. Errors are one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from tui import __version__
from tui.bench.commands import add_bench_command, cmd_bench
from tui.cli_judge import add_judge_command, run_judge_command
from tui.cli_pipeline import add_pipeline_commands, cmd_draw, cmd_run
from tui.cli_stats import add_stats_command, cmd_stats
from tui.cli_store import add_store_command, cmd_store
from tui.cli_technique_flags import TECHNIQUE_CLASSES, add_technique_flags
from tui.cli_config import apply_user_config
from tui.cli_flags import add_model_flag, add_parallel_flag, add_server_flags, add_store_flag
from tui.cli_signals import Stopped, signal_name, stopped_by_signals
from tui.engine.errors import BadInput, SmolgenError
from tui.engine.export import FORMATS, HUB_FOLDER, PAIR_FORMAT, ExportResult, RowOptions, export_pairs, export_samples, text_chat_template
from tui.engine.judge import check_min_rating
from tui.engine.run_quality import DEFAULT_SATURATION_WINDOW
from tui.engine.preferences import TECHNIQUE as PREFERENCE
from tui.engine.store import REVIEW_STATUSES, SampleStore
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
    _add_store(gen)
    _add_model(gen)
    add_server_flags(gen)

    seeds = commands.add_parser("seeds", help="manage the store's seeds")
    seed_commands = seeds.add_subparsers(dest="seeds_command", parser_class=_Parser, required=True)
    seed_import = seed_commands.add_parser("import", help="import seeds: one per line (.txt), .jsonl or .csv")
    seed_import.add_argument("file", type=Path)
    _add_store(seed_import)
    seed_list = seed_commands.add_parser("list", help="list the store's seeds")
    _add_store(seed_list)

    export = commands.add_parser("export", help="write samples as JSON Lines for fine-tuning, or a dataset folder for the Hub")
    export.add_argument("--format", choices=(*FORMATS, PAIR_FORMAT, HUB_FOLDER), default="messages",
                        help="; ".join(f"{name}: {fmt.summary}" for name, fmt in FORMATS.items())
                        + f"; {PAIR_FORMAT}: TRL preference pairs"
                        + f"; {HUB_FOLDER}: a folder for the Hugging Face Hub (train/test JSON Lines and a dataset card)")
    export.add_argument("--status", choices=(*REVIEW_STATUSES, "all"),
                        help="which samples (default accepted; for dpo, every pair not rejected in review)")
    export.add_argument("--out", type=Path, required=True, metavar="FILE|DIR", help="the file to write (with --format hf, the folder)")
    export.add_argument("--force", action="store_true", help="overwrite FILE if it exists (with --format hf: write into a folder that is not empty)")
    hub = export.add_argument_group("with --format hf")
    hub.add_argument("--rows", choices=FORMATS, default=None, metavar="FORMAT", help="the format of the rows (default messages)")
    hub.add_argument("--test-size", type=float, default=None, metavar="SHARE", help="the share of rows held out for testing (default 0.1)")
    hub.add_argument("--license", default=None, metavar="ID", help="the card's license (default apache-2.0)")
    hub.add_argument("--seed", type=int, default=None, metavar="S", help="the seed of the train/test shuffle (default 0)")
    export.add_argument("--include-truncated", action="store_true",
                        help="also write samples cut off by a token cap (left out by default)")
    export.add_argument("--min-margin", type=float, metavar="M",
                        help="dpo: only the judge's pairs whose ratings differ by at least M (a person's picks are kept)")
    export.add_argument("--human-only", action="store_true", help="dpo: only the pairs a person picked")
    export.add_argument("--min-rating", type=float, metavar="R",
                        help="only samples `smolgen judge` rated at least R, on its scale of one to five (the mean of their aspects)")
    export.add_argument("--chat-template", type=Path, metavar="FILE",
                        help="--format text: the template to render with, a .jinja file, a tokenizer_config.json or a GGUF "
                        "(default: the embedded model's)")
    _add_store(export)

    add_judge_command(commands)
    add_pipeline_commands(commands)
    add_stats_command(commands)
    add_store_command(commands)
    add_bench_command(commands)

    models = commands.add_parser("models", help="the model in use and its metadata, what servers offer, or (--list) the GGUF files on this machine")
    models.add_argument("--list", action="store_true",
                        help="list the GGUF files in the Hugging Face cache, LM Studio, llama.cpp's cache, Ollama and your model folders")
    models.add_argument("--json", action="store_true", help="print the metadata as JSON")
    _add_model(models)
    add_server_flags(models)
    return parser


def _add_store(parser: argparse.ArgumentParser, default: Any = None) -> None:
    """`default` replaces every option's own default (the app's top-level options pass SUPPRESS)."""
    add_store_flag(parser, default)


def _add_model(parser: argparse.ArgumentParser, default: Any = None) -> None:
    add_model_flag(parser, _or(default, None))
    parser.add_argument("--threads", type=int, default=_or(default, None), metavar="N", help="CPU threads (default: the physical cores)")
    parser.add_argument("--context", type=int, default=_or(default, 4096), metavar="N", help="context size in tokens (capped at the model's)")


def _add_app_options(parser: argparse.ArgumentParser, default: Any = None) -> None:
    _add_store(parser, default)
    _add_model(parser, default)
    parser.add_argument("--prompts", type=Path, default=_or(default, None), metavar="DIR",
                        help="where the app saves edited templates (default ~/.config/smolgen/prompts)")
    add_server_flags(parser, default)


def _or(default: Any, fallback: Any) -> Any:
    return fallback if default is None else default


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
    from tui.app.app import run_app
    from tui.app.backend import ModelRequest
    from tui.cli_model import checked_server_flags

    # The top-level options are suppressed when not given: the server flags' own defaults fill them in.
    server_defaults = argparse.ArgumentParser(add_help=False)
    add_server_flags(server_defaults)
    args = argparse.Namespace(**{**vars(server_defaults.parse_args([])), **vars(args)})
    _open_the_last_model(args)
    servers, local_slots = checked_server_flags(args)  # bad flags are one line before the app opens
    request = ModelRequest(getattr(args, "model", None), getattr(args, "context", 4096), getattr(args, "threads", None),
                           servers, local_slots)
    return run_app(args.store, request, getattr(args, "prompts", None), args.model_folders)


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


def cmd_export(args: argparse.Namespace) -> int:
    hub_flags = {"--rows": args.rows, "--test-size": args.test_size, "--license": args.license, "--seed": args.seed}
    given = [flag for flag, value in hub_flags.items() if value is not None]
    if args.format != HUB_FOLDER and given:
        raise BadInput(f"{given[0]}: only --format hf writes a dataset folder")
    rows = (args.rows or "messages") if args.format == HUB_FOLDER else args.format
    if args.chat_template is not None and rows != "text":
        raise BadInput(f"--chat-template {args.chat_template}: only --format text renders with a chat template")
    if args.format == PAIR_FORMAT:
        return _export_pairs(args)
    for flag, given in (("--min-margin", args.min_margin is not None), ("--human-only", args.human_only)):
        if given:
            raise BadInput(f"{flag}: only for --format {PAIR_FORMAT}, not {args.format}")
    if args.min_rating is not None:
        check_min_rating(args.min_rating)
    template = text_chat_template(args.chat_template) if rows == "text" else None
    status = args.status or "accepted"
    started = time.perf_counter()  # reading the store included: what the person waited for
    if args.format == HUB_FOLDER:
        return _export_hub_folder(args, rows, status, template, started)
    statuses = REVIEW_STATUSES if status == "all" else (status,)
    with SampleStore(args.store, read_only=True) as store:
        result = export_samples(store.iter_samples(statuses=statuses), args.format, args.out, overwrite=args.force,
                                include_truncated=args.include_truncated, chat_template=template, min_rating=args.min_rating)
        counts = store.status_counts()
    if not result.written:
        raise SmolgenError(f"{args.out}: not written, nothing to export: {_nothing_exported(status, counts, result, args.format)}")
    note = result.left_out(args.format, "--include-truncated")
    print(f"wrote {result.written} rows ({args.format}, status {status}) to {result.path} in {time.perf_counter() - started:.1f} s{note}")
    return 0


def _export_pairs(args: argparse.Namespace) -> int:
    """`export --format dpo`: the preference pairs; by default those a person did not reject in review."""
    if args.min_rating is not None:
        raise BadInput(f"--min-rating: not for --format {PAIR_FORMAT}; --min-margin chooses pairs by how far their ratings differ")
    statuses = ("new", "accepted") if args.status is None else REVIEW_STATUSES if args.status == "all" else (args.status,)
    with SampleStore(args.store, read_only=True) as store:
        samples = store.list_samples(statuses=statuses, technique=PREFERENCE)
    result = export_pairs(samples, args.out, overwrite=args.force, min_margin=args.min_margin, human_only=args.human_only,
                          include_truncated=args.include_truncated)
    if not result.written:
        found = f"{len(samples)} preference samples" if samples else "no preference samples (smolgen generate preference makes them)"
        raise SmolgenError(f"{args.out}: not written, no pair to export among {found}{result.left_out()}")
    print(f"wrote {result.written} pairs ({PAIR_FORMAT}) to {result.path}{result.left_out()}")
    return 0


def _export_hub_folder(args: argparse.Namespace, rows: str, status: str, template: Any, started: float) -> int:
    from tui.engine.dataset_card import upload_command
    from tui.engine.hub_folder import check_test_size, export_hub_folder

    test_size = 0.1 if args.test_size is None else args.test_size
    check_test_size(test_size)  # before the store is read
    statuses = REVIEW_STATUSES if status == "all" else (status,)
    with SampleStore(args.store, read_only=True) as store:
        counts = store.status_counts()
        result = export_hub_folder(
            store.iter_samples(statuses=statuses), args.out, runs={run["id"]: run for run in store.list_runs()},
            store_statuses=counts, statuses=statuses, test_size=test_size, license=args.license or "apache-2.0",
            seed=args.seed or 0, force=args.force, include_truncated=args.include_truncated, row_format=rows,
            options=RowOptions(template), min_rating=args.min_rating,
        )
    if not result.export.written:
        raise SmolgenError(f"{args.out}: not written, nothing to export: {_nothing_exported(status, counts, result.export, rows)}")
    splits = " and ".join(f"{count} {split}" for split, count in result.splits.items())
    note = result.export.left_out(rows, "--include-truncated")
    print(f"wrote {splits} rows ({rows}, status {status}) and README.md to {args.out} in {time.perf_counter() - started:.1f} s{note}")
    print(f"nothing uploaded; to publish: {upload_command(args.out)}")
    return 0


def _nothing_exported(status: str, counts: Counter, result: ExportResult, fmt: str) -> str:
    """Why an export found no row, and where the samples are instead."""
    chosen = "samples" if status == "all" else f"{status} samples"
    trainless = f"have no {FORMATS[fmt].needs}"
    truncated = "were cut off by a token cap (--include-truncated keeps them)"
    unrated = f"were rated below {result.min_rating or 0:g} or not rated (`smolgen judge` rates samples)"
    reasons = [(n, why) for n, why in ((result.truncated, truncated), (result.skipped, trainless), (result.below_rating, unrated)) if n]
    if len(reasons) > 1:
        return f"of the {sum(n for n, _ in reasons)} {chosen}, " + " and ".join(f"{n} {why}" for n, why in reasons)
    if reasons:
        return f"the {reasons[0][0]} {chosen} {reasons[0][1]}"
    others = [f"--status {other} has {counts[other]}" for other in REVIEW_STATUSES if other != status and counts[other]]
    return f"0 {chosen}" + (f"; {', '.join(others)}" if others and status != "all" else "")


def cmd_models(args: argparse.Namespace) -> int:
    from tui.engine.model_file import default_model_path, inspect_model

    if args.list:
        return _list_models(args)
    if args.server:
        return _server_models(args)
    info = inspect_model(args.model or default_model_path())
    record: dict[str, Any] = {
        **info.summary(),
        "size_bytes": info.size_bytes,
        "bos_token": info.bos_token,
        "eos_token": info.eos_token,
        "special_tokens": info.special_tokens,
        "chat_template": info.chat_template,
    }
    if args.json:
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return 0
    print(f"{info.name}  ({info.path})")
    print(f"  architecture  {info.architecture}")
    print(f"  parameters    {info.parameters_label} ({info.parameters:,})")
    print(f"  quantization  {info.quantization}")
    print(f"  context       {info.trained_context:,} tokens trained")
    print(f"  size          {info.size_bytes / 1e6:.1f} MB, fingerprint {info.fingerprint}")
    print(f"  chat template {'yes' if info.chat_template else 'none (chat and Magpie unavailable)'}")
    print("  special       " + ", ".join(f"{k}={v}" for k, v in info.special_tokens.items()))
    return 0


def _list_models(args: argparse.Namespace) -> int:
    from tui.engine.model_catalog import list_models, model_folders
    from tui.engine.model_file import parameters_label

    if args.model is not None or args.server:
        raise BadInput("--list: lists the models on this machine; drop --model and --server")
    found = list_models(args.model_folders)
    if args.json:
        print(json.dumps([model.record() for model in found], ensure_ascii=False, indent=2))
        return 0
    if not found:
        print("no GGUF models found in:\n" + "\n".join(f"  {folder.path}  ({folder.source})" for folder in model_folders(args.model_folders)))
        return 0
    width = max(len("NAME"), *(len(model.name) for model in found))
    print(f"{'NAME':<{width}}  {'PARAMS':>6}  {'QUANT':<8}  {'SIZE':>9}  CHAT  {'SOURCE':<12}  PATH")
    for model in found:
        size = f"{model.size_bytes / 1e6:.1f} MB"
        if model.usable:
            survey = model.survey
            chat = "yes" if survey.chat_template else "no"
            print(f"{model.name:<{width}}  {parameters_label(survey.parameters):>6}  {survey.quantization:<8}  {size:>9}  {chat:<4}  "
                  f"{model.source:<12}  {model.path}")
        else:
            print(f"{model.name:<{width}}  cannot be used: {model.survey.problem}  ({model.source}, {model.path})")
    usable = sum(model.usable for model in found)
    print(f"{len(found)} files, {usable} usable; `smolgen --model PATH` opens one")
    return 0


def _server_models(args: argparse.Namespace) -> int:
    from tui.cli_model import check_model_flags, server_settings
    from tui.engine.server.connect import survey

    check_model_flags(args)
    found = survey(server_settings(args, args.server))
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return 0
    for server in found:
        print(server["url"])
        for name in server["models"]:
            print(f"  model         {name}")
        told = f"reported ({server['chat_template']})" if server["chat_template"] else "not reported (Magpie needs --chat-template)"
        print(f"  chat template {told}")
    return 0


def _one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


if __name__ == "__main__":
    raise SystemExit(main())
