"""Judging stored samples one after another, each verdict written to the store before the next is asked for.

A cancel (Ctrl-C, escape) drops the judgement in progress and keeps every finished one; samples already
judged by the same judge for the same aspects are skipped, so running the command again carries on.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tui.engine.errors import BadInput, RunHalted
from tui.engine.judge import Judgement, judge
from tui.engine.language_model import LanguageModel
from tui.engine.model import Cancelled, derive_seed
from tui.engine.prompts import PromptLibrary
from tui.engine.store import SampleStore
from tui.engine.techniques.base import can_chat

JudgedCallback = Callable[[dict[str, Any], Judgement, int, int], None]


@dataclass
class JudgeRunSummary:
    """What a judging run did: samples rated, failed (by reason), skipped as already judged, and how it ended."""

    total: int
    already_judged: int = 0
    rated: int = 0
    failed: int = 0
    failures: Counter = field(default_factory=Counter)
    ratings: list[float] = field(default_factory=list)
    seconds: float = 0.0
    status: str = "running"  # finished, cancelled or halted
    halt_reason: str | None = None

    @property
    def mean_rating(self) -> float | None:
        return round(sum(self.ratings) / len(self.ratings), 2) if self.ratings else None

    @property
    def per_minute(self) -> float:
        judged = self.rated + self.failed
        return judged * 60 / self.seconds if self.seconds > 0 else 0.0


def check_judge_model(model: LanguageModel) -> None:
    """A judge must chat: a GGUF without a chat template cannot (BadInput says so)."""
    if not can_chat(model):
        try:
            model.chat_template  # noqa: B018 - raises BadInput naming what is missing
        except BadInput as error:
            raise BadInput(f"the judge needs a chat template: {error}") from None


def already_judged(sample: dict[str, Any], model: LanguageModel, aspects: Sequence[str]) -> bool:
    """Whether this judge has rated the sample for these aspects before (a failed verdict does not count)."""
    verdict = sample.get("judgement")
    return bool(verdict) and verdict.get("failure") is None and verdict.get("judge_fingerprint") == model.fingerprint() \
        and verdict.get("aspects") == list(aspects)


def judge_samples(
    store: SampleStore,
    model: LanguageModel,
    samples: list[dict[str, Any]],
    aspects: Sequence[str],
    run_seed: int,
    *,
    tag: bool = True,
    again: bool = False,
    prompts: PromptLibrary | None = None,
    cancel: threading.Event | None = None,
    on_judged: JudgedCallback | None = None,
) -> JudgeRunSummary:
    """Judge `samples` in order, storing each verdict at once; `tag=False` leaves the instructions untagged,
    `again` judges those already judged too.

    `on_judged(sample, judgement, done, total)` follows each stored verdict. Every server down ends the
    run early (status "halted"); a cancel ends it with status "cancelled".
    """
    check_judge_model(model)
    prompts = prompts or PromptLibrary()
    todo = samples if again else [s for s in samples if not already_judged(s, model, aspects)]
    summary = JudgeRunSummary(total=len(todo), already_judged=len(samples) - len(todo))
    started = time.perf_counter()
    try:
        for done, sample in enumerate(todo, start=1):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            verdict = judge(model, sample.get("conversation") or [], aspects, tag=tag, seed=derive_seed(run_seed, sample["id"]),
                            prompts=prompts, cancel=cancel)
            store.set_judgement(sample["id"], verdict.record())
            if verdict.ok:
                summary.rated += 1
                if verdict.rating is not None:
                    summary.ratings.append(verdict.rating)
            else:
                summary.failed += 1
                summary.failures[verdict.failure_reason] += 1
            if on_judged is not None:
                on_judged(sample, verdict, done, len(todo))
        summary.status = "finished"
    except Cancelled:
        summary.status = "cancelled"
    except RunHalted as halted:
        summary.status, summary.halt_reason = "halted", str(halted)
    finally:
        summary.seconds = time.perf_counter() - started
    return summary
