"""A generation run: one technique over seed rows (or none), every finished sample stored at once.

The rows run one after another, or several at once (parallel_run.py); either way each row's samples
are made and stored as run_rows.py does it. A cancelled run keeps every sample finished before the
cancel and drops the one in progress.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tui.engine.batched_model import check_parallel
from tui.engine.errors import BadInput, RunHalted, StoreUnwritable
from tui.engine.language_model import LanguageModel
from tui.engine.model import Cancelled
from tui.engine.parallel_run import run_rows_in_parallel
from tui.engine.prompts import PromptLibrary
from tui.engine.run_quality import RunSaturated
from tui.engine.run_rows import RunObserver, RunSummary, SampleWriter, row_samples, store_row
from tui.engine.settings_schema import record
from tui.engine.store import REVIEW_STATUSES, SampleStore
from tui.engine.techniques.base import GenerationContext, ReadsStoredSamples, Technique, can_chat, has_chat_template

__all__ = ["RunObserver", "RunSummary", "check_model", "check_run", "default_num", "run_generation", "run_stopped"]  # what front ends use

# Samples a run makes when not told how many, for a technique that needs no seeds (Magpie).
DEFAULT_NUM_WITHOUT_SEEDS = 5


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
    saturation_window: int = 0,
) -> RunSummary:
    """Generate `num` samples, cycling through `rows` for techniques that need seeds.

    With `saturation_window` K > 0 the run ends (status "saturated") once most of its latest K samples
    were near-duplicates of earlier ones (`run_quality.RunQuality`).

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
    settings = record(technique.settings)
    model_record = model.describe()
    run_id = store.start_run(
        technique=technique.name, settings=settings, seed=run_seed, model=model_record, num=num,
        threads=getattr(model, "n_threads", None),
    )
    summary = RunSummary(run_id=run_id, total=num)
    stored = SampleWriter(store, observer, num, run_id, {"seed": run_seed, "settings": settings, "model": model_record},
                          saturation_window)
    started = time.perf_counter()
    failure: StoreUnwritable | None = None
    try:
        if parallel > 1:
            run_rows_in_parallel(technique, model, prompts, run_seed, rows, cancel, parallel, stored, summary, observer)
        else:
            ctx = GenerationContext(model, prompts, run_seed, cancel, text, observer.stage)
            for index in range(num):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                row = rows[index % len(rows)] if rows else None
                store_row(row_samples(technique, ctx, index, row, summary), stored, index)
                summary.rows_done += 1
                stored.check_saturation()
        summary.status = "finished"
    except Cancelled:
        summary.status = "cancelled"
    except StoreUnwritable as error:  # a full disk: stop at once, everything stored so far stays
        summary.status, failure = "stopped", error
    except RunHalted as halted:
        summary.status = "halted"
        summary.halt_reason = str(halted)
    except RunSaturated as saturated:
        summary.status = "saturated"
        summary.stop_reason = str(saturated)
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


def check_run(technique: Technique, prompts: PromptLibrary, num: int, rows: list[dict[str, Any]], parallel: int = 1) -> None:
    """Everything that can be checked before the model is loaded: the count, the seeds, the templates."""
    if num < 1:
        raise BadInput(f"--num {num}: must be at least 1")
    if parallel != 1:
        check_parallel(parallel)
    if technique.needs_seeds and not rows:
        raise BadInput(f"{technique.name}: needs seeds; pass --seeds FILE or import some with `smolgen seeds import FILE`")
    technique.check(prompts, rows)


def check_model(technique: Technique, model: LanguageModel) -> None:
    """What the technique needs of the model, checked before the run starts: Magpie cuts its pre-query from
    the chat template; one that chats (the chain, answers) needs a template or a server's own chat; a base
    model without one runs the others on raw prompts."""
    cuts_pre_query = getattr(technique, "needs_chat_template", False)
    if (cuts_pre_query and not has_chat_template(model)) or (getattr(technique, "chats", False) and not can_chat(model)):
        try:
            model.chat_template  # noqa: B018 - raises BadInput naming what is missing
        except BadInput as error:
            answering = getattr(getattr(technique, "settings", None), "answer", None)
            hint = "; --no-answer keeps its instructions unanswered, on raw prompts" if answering is not None else ""
            raise BadInput(f"{technique.name} needs a chat template: {error}{hint}") from None


def default_num(technique: Technique, rows: list[dict[str, Any]]) -> int:
    """Samples a run makes when not told how many: one per seed row, or DEFAULT_NUM_WITHOUT_SEEDS."""
    return len(rows) if technique.needs_seeds else DEFAULT_NUM_WITHOUT_SEEDS
