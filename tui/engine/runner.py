"""A generation run: one technique over seed rows (or none), every finished sample stored at once.

A failed sample is recorded with its reason and the run goes on; a cancelled run keeps every sample
finished before the cancel and drops the one in progress.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tui.engine.errors import BadInput, GenerationFailed
from tui.engine.model import Cancelled, Model
from tui.engine.prompts import PromptLibrary
from tui.engine.store import SampleStore
from tui.engine.techniques.base import GenerationContext, Technique

log = logging.getLogger("smolgen.run")


class RunObserver:
    """Hooks a front end implements to show a run; every one is called from the generating thread."""

    def stage(self, text: str) -> None:
        """A new model call starts (e.g. "Magpie · turn 1 · user")."""

    def text(self, chunk: str) -> None:
        """A chunk of text the model just wrote."""

    def sample_done(self, sample: dict[str, Any], done: int, total: int) -> None:
        """A sample was stored (its status is "failed" when it failed)."""


@dataclass
class RunSummary:
    run_id: int
    total: int
    stored: int = 0
    failed: int = 0
    failures: Counter = field(default_factory=Counter)
    completion_tokens: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0
    status: str = "running"

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.model_seconds if self.model_seconds else 0.0

    def record(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "stored": self.stored,
            "failed": self.failed,
            "failures": dict(self.failures),
            "completion_tokens": self.completion_tokens,
            "tokens_per_second": round(self.tokens_per_second, 2),
            "wall_seconds": round(self.wall_seconds, 3),
        }


def run_generation(
    technique: Technique,
    store: SampleStore,
    model: Model,
    prompts: PromptLibrary,
    num: int,
    run_seed: int,
    rows: list[dict[str, Any]] | None = None,
    observer: RunObserver | None = None,
    cancel: threading.Event | None = None,
) -> RunSummary:
    """Generate `num` samples, cycling through `rows` for techniques that need seeds."""
    observer = observer or RunObserver()
    rows = rows or []
    check_run(technique, prompts, num, rows)
    settings = technique.settings_record()
    model_record = model.info.summary()
    run_id = store.start_run(
        technique=technique.name, settings=settings, seed=run_seed, model=model_record, num=num, threads=model.n_threads
    )
    summary = RunSummary(run_id=run_id, total=num)
    ctx = GenerationContext(model, prompts, run_seed, cancel, observer.text, observer.stage)
    started = time.perf_counter()
    try:
        for index in range(num):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            row = rows[index % len(rows)] if rows else None
            sample = _generate_one(technique, ctx, index, row, summary)
            sample.update(run_id=run_id, sample_index=index, seed=run_seed, settings=settings, model=model_record)
            store.add_sample(sample)
            observer.sample_done(sample, index + 1, num)
        summary.status = "finished"
    except Cancelled:
        summary.status = "cancelled"
    except BaseException:
        summary.status = "interrupted"
        raise
    finally:
        summary.wall_seconds = time.perf_counter() - started
        store.finish_run(run_id, summary.status, summary.record())
    return summary


def check_run(technique: Technique, prompts: PromptLibrary, num: int, rows: list[dict[str, Any]]) -> None:
    """Everything that can be checked before the model is loaded: the count, the seeds, the templates."""
    if num < 1:
        raise BadInput(f"--num {num}: must be at least 1")
    if technique.needs_seeds and not rows:
        raise BadInput(f"{technique.name}: needs seeds; pass --seeds FILE or import some with `smolgen seeds import FILE`")
    technique.check(prompts, rows)


def _generate_one(technique: Technique, ctx: GenerationContext, index: int, row: dict[str, Any] | None, summary: RunSummary) -> dict[str, Any]:
    try:
        sample = technique.generate(ctx, index, row)
    except (Cancelled, BadInput):
        raise  # a cancel ends the run; bad input (a template error) would fail every sample alike
    except GenerationFailed as error:
        return _failed(technique, row, summary, error.reason, str(error))
    except Exception as error:  # a failed generation must not stop the run
        log.exception("sample %d failed", index)
        return _failed(technique, row, summary, "error", f"{type(error).__name__}: {error}")
    sample["lengths"] = {
        part: ctx.model.count_tokens(sample[part]) for part in ("instruction", "response") if sample.get(part)
    }
    summary.stored += 1
    summary.completion_tokens += sample["tokens"]["completion"]
    summary.model_seconds += sample["seconds"]
    return sample


def _failed(technique: Technique, row: dict[str, Any] | None, summary: RunSummary, reason: str, message: str) -> dict[str, Any]:
    summary.failed += 1
    summary.failures[reason] += 1
    return {"technique": technique.name, "status": "failed", "failure": {"reason": reason, "message": message}, "seed_row": row}
