"""`smolgen judge`: rate stored samples with a judge model, a progress line per sample, a summary at the end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tui.cli_flags import add_server_flags, add_store_flag
from tui.engine.judge import ASPECTS, Judgement, parse_aspects, verdict_line
from tui.engine.server.settings import SERVER_FLAGS, SettingNames
from tui.engine.store import REVIEW_STATUSES

ASPECTS_HELP = f"{ASPECTS[0]} (default), or some of {','.join(ASPECTS[1:])} (UltraFeedback's four), comma-separated"


def add_arguments(judge: argparse.ArgumentParser) -> None:
    """The flags of `smolgen judge`."""
    judge.add_argument("--status", choices=(*REVIEW_STATUSES, "all"), default="new", help="which samples (default new)")
    judge.add_argument("--run", type=int, action="append", metavar="ID", help="only samples of this run (repeatable)")
    judge.add_argument("--aspects", default=ASPECTS[0], metavar="LIST", help=ASPECTS_HELP)
    judge.add_argument("--no-tags", dest="tags", action="store_false",
                       help="rate only: leave the instructions untagged (one model call fewer a sample)")
    judge.add_argument("--again", action="store_true", help="judge samples this judge has rated already (skipped by default)")
    judge.add_argument("--seed", type=int, metavar="S", help="make the verdicts reproducible (default: a fresh random seed)")
    judge.add_argument("--prompts", type=Path, metavar="DIR", help="a folder of your own templates (judge/rating, judge/tags)")
    judge.add_argument("--judge-model", "--model", dest="model", type=Path, metavar="PATH",
                       help="the judge, a GGUF (default: the embedded SmolLM2-135M-Instruct; a bigger model judges far better)")
    judge.add_argument("--judge-server", action="append", default=[], metavar="URL",
                       help="judge on this OpenAI-compatible server instead (same as --server)")
    judge.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: the physical cores)")
    judge.add_argument("--context", type=int, default=4096, metavar="N", help="context size in tokens (capped at the model's)")
    add_store_flag(judge)
    add_server_flags(judge)


def run_judge_command(args: argparse.Namespace) -> int:
    from tui.cli_model import check_model_flags, opened_model
    from tui.cli_signals import cancelled_by_signals, run_exit_status
    from tui.engine.judge_run import check_judge_model, judge_samples
    from tui.engine.language_model import requests_in_flight
    from tui.engine.model import new_run_seed
    from tui.engine.prompts import PromptLibrary
    from tui.engine.store import SampleStore, check_store_exists

    aspects = parse_aspects(args.aspects)
    names = SettingNames(server="--judge-server") if args.judge_server else SERVER_FLAGS  # for bad input, as typed
    args.server = [*args.server, *args.judge_server]
    check_model_flags(args)
    prompts = PromptLibrary(args.prompts)
    check_store_exists(args.store, "judge")
    with SampleStore(args.store, read_only=True) as store:  # nothing is written before the judge is known to work
        samples = selected_samples(store, args)
    with opened_model(args, names=names) as model:
        check_judge_model(model)
        run_seed = args.seed if args.seed is not None else new_run_seed()
        print(f"judge: {len(samples)} samples ({', '.join(aspects)}) with {model.label}, seed {run_seed}, store {args.store}",
              file=sys.stderr)

        def show(sample: dict[str, Any], verdict: Judgement, done: int, total: int) -> None:
            print(f"[{done}/{total}] #{sample['id']} {verdict_line(verdict)}", file=sys.stderr, flush=True)

        with SampleStore(args.store) as store, cancelled_by_signals() as signals:
            summary = judge_samples(store, model, selected_samples(store, args), aspects, run_seed, tag=args.tags, again=args.again,
                                    prompts=prompts, cancel=signals.cancel, on_judged=show, parallel=requests_in_flight(model),
                                    chosen_by={"status": args.status, "runs": args.run or []})
    judged = summary.rated + summary.failed
    failures = ", ".join(f"{n} {reason}" for reason, n in summary.failures.items())
    mean = f", mean rating {summary.mean_rating:.2f}" if summary.mean_rating is not None else ""
    skipped = f"; {summary.already_judged} already judged by this judge (--again judges them again)" if summary.already_judged else ""
    left = summary.total - judged
    not_run = f"; {left} of {summary.total} not judged" if left else ""
    print(f"judge {summary.status}: {summary.rated} rated{mean}, {summary.failed} failed" + (f" ({failures})" if failures else "")
          + f"; {summary.per_minute:.1f} samples/min in {summary.seconds:.1f} s{skipped}{not_run} → {args.store} (run {summary.run_id})", file=sys.stderr)
    return run_exit_status(summary.halt_reason, signals, "judgement")


def selected_samples(store: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The samples `--status` and `--run` choose; an unknown run is bad input, none at all is an error."""
    from tui.engine.judge_run import select_samples

    return select_samples(store, args.status, args.run or ())
