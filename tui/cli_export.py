"""`smolgen export`: the store's samples as JSON Lines for fine-tuning, preference pairs, or a dataset folder for the Hub."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tui.cli_flags import add_store_flag
from tui.engine.errors import BadInput, SmolgenError
from tui.engine.export import FORMATS, HUB_FOLDER, PAIR_FORMAT, ExportResult, RowOptions, export_pairs, export_samples, text_chat_template
from tui.engine.judge import check_min_rating
from tui.engine.preferences import TECHNIQUE as PREFERENCE
from tui.engine.store import REVIEW_STATUSES, check_store_exists
from tui.engine.store_reader import StoreReader


def add_arguments(export: argparse.ArgumentParser) -> None:
    """The flags of `smolgen export`."""
    export.add_argument("--format", choices=(*FORMATS, PAIR_FORMAT, HUB_FOLDER), default="messages",
                        help="; ".join(f"{name}: {fmt.summary}" for name, fmt in FORMATS.items())
                        + f"; {PAIR_FORMAT}: TRL preference pairs"
                        + f"; {HUB_FOLDER}: a folder for the Hugging Face Hub (train/test JSON Lines and a dataset card)")
    export.add_argument("--status", choices=(*REVIEW_STATUSES, "all"),
                        help="which samples (default accepted; for dpo, every pair not rejected in review)")
    export.add_argument("--out", type=Path, required=True, metavar="FILE|DIR", help="the file to write (with --format hf, the folder)")
    export.add_argument("--force", action="store_true", help="overwrite FILE if it exists (with --format hf: write into a folder that is not empty)")
    hub = export.add_argument_group("with --format hf")
    hub.add_argument("--rows", choices=(*FORMATS, PAIR_FORMAT), default=None, metavar="FORMAT",
                     help=f"the format of the rows (default messages; {PAIR_FORMAT}: the preference pairs)")
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
    add_store_flag(export)



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
        if given and rows != PAIR_FORMAT:
            raise BadInput(f"{flag}: only for --format {PAIR_FORMAT}, not {rows} (a folder of pairs: --format hf --rows {PAIR_FORMAT})")
    if args.min_rating is not None:
        _check_min_rating_for(rows, args.min_rating)
    template = text_chat_template(args.chat_template) if rows == "text" else None
    status = args.status or "accepted"
    started = time.perf_counter()  # reading the store included: what the person waited for
    if args.format == HUB_FOLDER:
        return _export_hub_folder(args, rows, status, template, started)
    statuses = REVIEW_STATUSES if status == "all" else (status,)
    with _reader(args.store) as store:
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
        _check_min_rating_for(PAIR_FORMAT, args.min_rating)
    statuses = _pair_statuses(args.status)
    with _reader(args.store) as store:
        samples = list(store.iter_samples(statuses=statuses, technique=PREFERENCE))
    result = export_pairs(samples, args.out, overwrite=args.force, min_margin=args.min_margin, human_only=args.human_only,
                          include_truncated=args.include_truncated)
    if not result.written:
        found = f"{len(samples)} preference samples" if samples else "no preference samples (smolgen generate preference makes them)"
        raise SmolgenError(f"{args.out}: not written, no pair to export among {found}{result.left_out()}")
    print(f"wrote {result.written} pairs ({PAIR_FORMAT}) to {result.path}{result.left_out()}")
    return 0


def _reader(path: Path) -> StoreReader:
    """The store to export from, once every flag is known to be good; a store that is not there is bad input."""
    check_store_exists(path, "export")
    return StoreReader(path)


def _check_min_rating_for(rows: str, min_rating: float) -> None:
    if rows == PAIR_FORMAT:
        raise BadInput(f"--min-rating: not for --format {PAIR_FORMAT} or --rows {PAIR_FORMAT}; "
                       "--min-margin chooses pairs by how far their ratings differ")
    check_min_rating(min_rating)


def _pair_statuses(status: str | None) -> tuple[str, ...]:
    """The statuses of the preference samples exported: by default every one not rejected in review."""
    return ("new", "accepted") if status is None else REVIEW_STATUSES if status == "all" else (status,)


def _export_hub_folder(args: argparse.Namespace, rows: str, status: str, template: Any, started: float) -> int:
    from tui.engine.dataset_card import upload_command
    from tui.engine.hub_folder import check_test_size, export_hub_folder

    test_size = 0.1 if args.test_size is None else args.test_size
    check_test_size(test_size)  # before the store is read
    statuses = REVIEW_STATUSES if status == "all" else (status,)
    if rows == PAIR_FORMAT:
        statuses = _pair_statuses(args.status)
        status = ", ".join(statuses)
    counts: Counter = Counter()  # every sample's status, counted as the samples stream past: the card is written after
    with _reader(args.store) as store:
        result = export_hub_folder(
            store.iter_samples(statuses=statuses, counted=counts), args.out, runs={run["id"]: run for run in store.list_runs()},
            store_statuses=counts, statuses=statuses, test_size=test_size, license=args.license or "apache-2.0",
            seed=args.seed or 0, force=args.force, include_truncated=args.include_truncated, row_format=rows,
            options=RowOptions(template), min_rating=args.min_rating, min_margin=args.min_margin, human_only=args.human_only,
        )
    if rows == PAIR_FORMAT:
        note = result.export.left_out()
        if not result.export.written:
            raise SmolgenError(f"{args.out}: not written, no pair to export among the {status} preference samples{note}")
    else:
        note = result.export.left_out(rows, "--include-truncated")
        if not result.export.written:
            raise SmolgenError(f"{args.out}: not written, nothing to export: {_nothing_exported(status, counts, result.export, rows)}")
    splits = " and ".join(f"{count} {split}" for split, count in result.splits.items())
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
