"""A generation run: one technique over seed rows (or none), every finished sample stored at once.

A technique makes one sample per row, or a stream of them (SelfInstruct's instructions, EvolInstruct's
generations), each stored before the next is made. A failed sample, or a candidate a filter rejected,
is recorded with its reason and the run goes on; a cancelled run keeps every sample finished before
the cancel and drops the one in progress.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tui.engine.errors import BadInput, GenerationFailed, RunHalted, StoreUnwritable
from tui.engine.language_model import LanguageModel
from tui.engine.model import Cancelled
from tui.engine.prompts import PromptLibrary
from tui.engine.store import REVIEW_STATUSES, SampleStore
from tui.engine.techniques.base import GenerationContext, ReadsStoredSamples, SampleStream, Technique

log = logging.getLogger("smolgen.run")


class RunObserver:
    """Hooks a front end implements to show a run; every one is called from the generating thread.

    `shows_text` False says the text is not shown: a server then sends each answer whole.
    """

    shows_text = True

    def stage(self, text: str) -> None:
        """A new model call starts (e.g. "Magpie · turn 1 · user")."""

    def text(self, chunk: str) -> None:
        """A chunk of text the model just wrote."""

    def sample_done(self, sample: dict[str, Any], done: int, total: int) -> None:
        """A sample was stored under `sample["id"]` (its status is "failed" when it failed or a filter rejected it).

        `done` is the number of the row it came from: a row can give several samples.
        """


@dataclass
class RunSummary:
    run_id: int
    total: int
    stored: int = 0
    failed: int = 0
    failures: Counter = field(default_factory=Counter)
    completion_tokens: int = 0
    uncounted_samples: int = 0  # samples whose tokens a server did not report
    rows_done: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0
    status: str = "running"
    halt_reason: str | None = None

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
            "uncounted_samples": self.uncounted_samples,
            "rows_done": self.rows_done,
            "rows_left": self.total - self.rows_done,
            "tokens_per_second": round(self.tokens_per_second, 2),
            "wall_seconds": round(self.wall_seconds, 3),
            **({"halt_reason": self.halt_reason} if self.halt_reason else {}),
        }


def run_generation(
    technique: Technique,
    store: SampleStore,
    model: LanguageModel,
    prompts: PromptLibrary,
    num: int,
    run_seed: int,
    rows: list[dict[str, Any]] | None = None,
    observer: RunObserver | None = None,
    cancel: threading.Event | None = None,
    parallel: int = 1,
) -> RunSummary:
    """Generate `num` samples, cycling through `rows` for techniques that need seeds.

    With `parallel` > 1, that many rows are generated at once and their model calls decoded together
    (`tui/engine/parallel_run.py`): headless only, the observer gets no stages and no streamed text.
    """
    text = observer.text if observer is not None and observer.shows_text else None
    observer = observer or RunObserver()
    rows = rows or []
    check_run(technique, prompts, num, rows, 1 if getattr(model, "serves_concurrently", False) else parallel)
    check_model(technique, model)
    if isinstance(technique, ReadsStoredSamples):
        technique.prepare_run(store.list_samples(statuses=REVIEW_STATUSES))
    settings = technique.settings_record()
    model_record = model.describe()
    run_id = store.start_run(
        technique=technique.name, settings=settings, seed=run_seed, model=model_record, num=num,
        threads=getattr(model, "n_threads", None),
    )
    summary = RunSummary(run_id=run_id, total=num)
    stored = SampleWriter(store, observer, num, run_id, {"seed": run_seed, "settings": settings, "model": model_record}, parallel)
    started = time.perf_counter()
    failure: StoreUnwritable | None = None
    try:
        if parallel > 1:
            from tui.engine.parallel_run import run_rows_in_parallel

            run_rows_in_parallel(technique, model, prompts, run_seed, rows, cancel, parallel, stored, summary, observer)
        else:
            ctx = GenerationContext(model, prompts, run_seed, cancel, text, observer.stage)
            for index in range(num):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                row = rows[index % len(rows)] if rows else None
                store_row(row_samples(technique, ctx, index, row, summary), stored, index)
                summary.rows_done += 1
        summary.status = "finished"
    except Cancelled:
        summary.status = "cancelled"
    except StoreUnwritable as error:  # a full disk: stop at once, everything stored so far stays
        summary.status, failure = "stopped", error
    except RunHalted as halted:
        summary.status = "halted"
        summary.halt_reason = str(halted)
    except BaseException:
        summary.status = "interrupted"
        raise
    finally:
        summary.wall_seconds = time.perf_counter() - started
        try:
            store.finish_run(run_id, summary.status, summary.record())
        except StoreUnwritable as error:
            failure = failure or error
    if failure is not None:
        raise run_stopped(failure, store, run_id, stored.finished) from None
    return summary


def run_stopped(error: StoreUnwritable, store: SampleStore, run_id: int, finished: int) -> StoreUnwritable:
    """The one line a run ends with when the store cannot be written: what failed, what is safe and where."""
    total = sum(n for status, n in store.status_counts().items() if status != "failed")
    return StoreUnwritable(f"{error}; run {run_id} stopped: the {finished} samples it finished are safe in {store.path} ({total} in all)")


class SampleWriter:
    """Stores a row's samples as they come, stamped with the run's provenance, and tells the observer.

    `lock` serialises the store and the observer when several rows are generated at once.
    """

    def __init__(self, store: SampleStore, observer: RunObserver, num: int, run_id: int, stamp: dict[str, Any], parallel: int):
        self.store, self.observer, self.num, self.run_id, self.stamp = store, observer, num, run_id, stamp
        self.finished = 0  # samples on disk, failed ones not counted
        self.lock: threading.Lock | contextlib.nullcontext = threading.Lock() if parallel > 1 else contextlib.nullcontext()


def store_row(samples: SampleStream, stored: SampleWriter, index: int) -> None:
    """Store each sample of a row before the next is made; a technique's stream gets each one's id back."""
    sample = next(samples, None)
    while sample is not None:
        sample.update(run_id=stored.run_id, sample_index=index, **stored.stamp)
        with stored.lock:
            sample["id"] = sample_id = stored.store.add_sample(sample)  # a front end opens the sample by its id
            stored.finished += sample.get("status") != "failed"
            stored.observer.sample_done(sample, index + 1, stored.num)
        sample = _send(samples, sample_id)


def check_run(technique: Technique, prompts: PromptLibrary, num: int, rows: list[dict[str, Any]], parallel: int = 1) -> None:
    """Everything that can be checked before the model is loaded: the count, the seeds, the templates."""
    if num < 1:
        raise BadInput(f"--num {num}: must be at least 1")
    if parallel != 1:
        from tui.engine.batched_model import check_parallel

        check_parallel(parallel)
    if technique.needs_seeds and not rows:
        raise BadInput(f"{technique.name}: needs seeds; pass --seeds FILE or import some with `smolgen seeds import FILE`")
    technique.check(prompts, rows)


def check_model(technique: Technique, model: LanguageModel) -> None:
    """What the technique needs of the model, checked before the run starts (Magpie: a chat template)."""
    if getattr(technique, "needs_chat_template", False):
        model.chat_template  # noqa: B018 - raises BadInput naming what to pass


def row_samples(
    technique: Technique, ctx: GenerationContext, index: int, row: dict[str, Any] | None, summary: RunSummary
) -> SampleStream:
    """The samples of one row as they are finished; a failure ends the row with one failed sample.

    Send each stored sample's id back (see `_send`): a technique's stream receives it.
    """
    try:
        result = technique.generate(ctx, index, row)
        if isinstance(result, dict):
            yield _counted(result, ctx, summary)
            return
        sample = next(result, None)
        while sample is not None:
            sample_id = yield _counted(sample, ctx, summary)
            sample = _send(result, sample_id)
    except (Cancelled, BadInput, RunHalted):
        raise  # a cancel ends the run; bad input (a template error) or dead servers would fail every sample alike
    except GenerationFailed as error:
        yield _failed(technique, row, summary, error.reason, str(error))
    except Exception as error:  # a failed generation must not stop the run
        log.exception("sample %d failed", index)
        yield _failed(technique, row, summary, "error", f"{type(error).__name__}: {error}")


def _send(stream: SampleStream, sample_id: int) -> dict[str, Any] | None:
    """The next sample of a stream after telling it the id the last one was stored under; None at its end."""
    try:
        return stream.send(sample_id)
    except StopIteration:
        return None


def _counted(sample: dict[str, Any], ctx: GenerationContext, summary: RunSummary) -> dict[str, Any]:
    if sample.get("status") == "failed":
        summary.failed += 1
        summary.failures[sample["failure"]["reason"]] += 1
    else:
        sample["lengths"] = {
            part: ctx.model.count_tokens(sample[part]) for part in ("instruction", "response") if sample.get(part)
        }
        summary.stored += 1
    tokens = sample.get("tokens")
    if tokens:  # rejected candidates cost model time too
        if tokens["completion"] is None:
            summary.uncounted_samples += 1
        else:
            summary.completion_tokens += tokens["completion"]
        summary.model_seconds += sample["seconds"]
    return sample


def _failed(technique: Technique, row: dict[str, Any] | None, summary: RunSummary, reason: str, message: str) -> dict[str, Any]:
    summary.failed += 1
    summary.failures[reason] += 1
    return {"technique": technique.name, "status": "failed", "failure": {"reason": reason, "message": message}, "seed_row": row}
