"""`smolgen run` and `smolgen draw`: pipelines from TOML files or built in by name."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from tui.cli_flags import add_model_flag, add_server_flags, add_store_flag
from tui.cli_model import check_model_flags, server_settings
from tui.engine.errors import BadInput


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    """The flags of `smolgen run`."""
    run.add_argument("pipeline", help="PIPELINE.toml or the name of a built-in pipeline")
    run.add_argument("--seeds", type=Path, metavar="FILE", help="replace the pipeline's seeds with a file (.txt, .jsonl, .csv)")
    run.add_argument("--num", type=int, metavar="N", help="rows to run, cycling through the seeds")
    run.add_argument("--max-tokens", type=int, metavar="N", help="token cap for every model call")
    run.add_argument("--no-cache", action="store_true", help="generate again instead of reusing cached outputs (new samples)")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--quiet", action="store_true", help="do not stream tokens")
    run.add_argument("--prompts", type=Path, metavar="DIR", help="a folder of your own templates")
    add_store_flag(run)
    add_model_flag(run)
    add_server_flags(run)
    run.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: the physical cores)")
    run.add_argument("--context", type=int, default=4096, metavar="N", help="context size in tokens")


def add_draw_arguments(draw: argparse.ArgumentParser) -> None:
    """The flags of `smolgen draw`."""
    draw.add_argument("pipeline", help="PIPELINE.toml or the name of a built-in pipeline")
    draw.add_argument("--format", choices=("text", "mermaid"), default="text")
    draw.add_argument("--out", type=Path, metavar="FILE", help="write to FILE instead of the terminal")


def cmd_draw(args: argparse.Namespace) -> int:
    from tui.engine.pipeline.draw import draw_mermaid, draw_text
    from tui.engine.pipeline.toml_config import load_pipeline

    pipeline = load_pipeline(args.pipeline)
    drawing = draw_mermaid(pipeline) if args.format == "mermaid" else draw_text(pipeline) + "\n"
    if args.out:
        args.out.write_text(drawing, encoding="utf-8")
        print(f"wrote {args.format} drawing of {pipeline.name} to {args.out}")
    else:
        sys.stdout.write(drawing)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from tui.engine.pipeline.toml_config import load_pipeline

    if args.max_tokens is not None and args.max_tokens < 1:
        raise BadInput(f"--max-tokens {args.max_tokens}: must be at least 1")
    check_model_flags(args)
    with contextlib.ExitStack() as stack:
        llm = _pipeline_llm(args, stack)
        pipeline = load_pipeline(args.pipeline, seeds=args.seeds, num=args.num, max_tokens=args.max_tokens, llm=llm)
        stack.callback(pipeline.close_models)
        return _run(args, pipeline, llm)


def _pipeline_llm(args: argparse.Namespace, stack: contextlib.ExitStack) -> Any:
    """The model the flags name; None leaves it to the pipeline's own `[llm]` table, else the embedded model."""
    from tui.engine.llm import LlamaCppLLM, OpenAICompatibleLLM

    if args.local_server is not None:
        from tui.engine.server.local import DEFAULT_SLOTS, LocalServer

        slots = args.local_server or DEFAULT_SLOTS
        print(f"smolgen: starting llama-server with {slots} slots on 127.0.0.1…", file=sys.stderr, flush=True)
        local = stack.enter_context(LocalServer(args.model, slots=slots, threads=args.threads))
        settings = server_settings(args, [local.url], default_concurrency=slots)
    elif args.server:
        settings = server_settings(args, args.server)
    elif args.model is not None or args.threads is not None:
        return LlamaCppLLM(args.model, n_ctx=args.context, n_threads=args.threads)
    else:
        return None
    return OpenAICompatibleLLM(settings.urls, settings.model, settings.api_key_env, settings.concurrency, settings.timeout,
                               settings.max_retries, settings.chat_template)


def _run(args: argparse.Namespace, pipeline: Any, llm: Any) -> int:
    from tui.cli_generate import TerminalObserver
    from tui.cli_signals import cancelled_by_signals, run_exit_status
    from tui.engine.llm import LlamaCppLLM
    from tui.engine.pipeline.executor import PipelineObserver, run_pipeline
    from tui.engine.prompts import PromptLibrary
    from tui.engine.store import opened_for_command

    prompts = PromptLibrary(args.prompts)
    if llm is None:
        llm = LlamaCppLLM(n_ctx=args.context)

    class Observer(TerminalObserver, PipelineObserver):
        def sample_done(self, sample: dict[str, Any], done: int, total: int) -> None:
            if sample.get("status") == "failed":
                failure = sample["failure"]
                self.err.write(f"[{failure['step']}] failed ({failure['reason']}) after {failure['attempts']} attempts: {failure['message']}\n")
            else:
                self.err.write(f"[stored {done}] {str(sample.get('instruction') or '')[:70]!r}\n")
            self.err.flush()

    observer = Observer(sys.stdout, sys.stderr, stream_tokens=not (args.quiet or args.json))
    with opened_for_command(args.store) as store, cancelled_by_signals() as signals:
        summary = run_pipeline(pipeline, store, not args.no_cache, observer, signals.cancel, prompts, llm)
    record = summary.record()
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
        return 1 if summary.halt_reason else signals.exit_code()
    print(f"\npipeline {summary.pipeline} (run {summary.run_id}) {summary.status} in {summary.wall_seconds:.1f} s:", file=sys.stderr)
    for name, counts in summary.steps.items():
        reasons = ", ".join(f"{n} {reason}" for reason, n in counts.failures.items())
        print(
            f"  {name:<28} generated {counts.generated:>4}  cached {counts.cached:>4}  failed {counts.failed:>4}"
            + (f" ({reasons})" if reasons else "") + f"  rows {counts.rows}",
            file=sys.stderr,
        )
    print(f"  stored {summary.stored} new samples ({summary.already_stored} already stored) → {args.store}", file=sys.stderr)
    return run_exit_status(summary.halt_reason, signals, "row")
