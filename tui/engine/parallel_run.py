"""Several rows of a run at once (`run_generation(..., parallel=S)`, `smolgen generate --parallel S`).

S worker threads share one `BatchedModel`: each takes the next row, runs the technique on it
unchanged (its model calls are decoded in one batch with the other workers') and stores every
finished sample before it takes another row. A sample keeps its row's index and seeds, so its seeds
are those of a sequential run; its text may still differ slightly, batched arithmetic not being
bit-identical. Failures are recorded as in a sequential run; a cancel keeps every stored sample and
drops the rows in progress. It pays only with many sequences (see batched_model.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tui.engine.batched_model import BatchedModel
from tui.engine.model import Cancelled, Model
from tui.engine.prompts import PromptLibrary
from tui.engine.runner import RunSummary, row_samples, store_row, SampleWriter
from tui.engine.techniques.base import GenerationContext, Technique

# How often the waiting thread looks at the run's cancel event (the workers see an internal one).
CANCEL_POLL_SECONDS = 0.05


def run_rows_in_parallel(
    technique: Technique,
    model: Model,
    prompts: PromptLibrary,
    run_seed: int,
    rows: list[dict[str, Any]],
    cancel: threading.Event | None,
    parallel: int,
    stored: SampleWriter,
    summary: RunSummary,
) -> None:
    """Generate and store every row with `parallel` workers; raises Cancelled if the run was cancelled.

    The model calls overlap, so `summary.model_seconds` becomes the generation's wall time and
    `summary.tokens_per_second` the aggregate rate.
    """
    halt = threading.Event()  # the user's cancel or a worker's error: every worker and every call stops
    next_row = iter(range(stored.num))
    take = threading.Lock()
    errors: list[BaseException] = []
    counts = [RunSummary(summary.run_id, summary.total) for _ in range(parallel)]  # one per worker: no shared counters
    started = time.perf_counter()
    with BatchedModel(model, parallel) as batched:
        ctx = GenerationContext(batched, prompts, run_seed, halt)  # no stages, no streamed text: several rows at once

        def work(counted: RunSummary) -> None:
            try:
                while not halt.is_set() and batched.failure is None:
                    with take:
                        index = next(next_row, None)
                    if index is None:
                        return
                    row = rows[index % len(rows)] if rows else None
                    store_row(row_samples(technique, ctx, index, row, counted), stored, index)
            except Cancelled:
                pass
            except BaseException as error:  # e.g. a template or the store failing: the run stops
                errors.append(error)
                halt.set()

        workers = [threading.Thread(target=work, args=(c,), name=f"smolgen-row-{i}", daemon=True) for i, c in enumerate(counts)]
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                while worker.is_alive():
                    worker.join(CANCEL_POLL_SECONDS)
                    if cancel is not None and cancel.is_set():
                        halt.set()
        finally:  # also on Ctrl-C in this thread: stop the workers before the model goes
            if any(worker.is_alive() for worker in workers):
                halt.set()
                for worker in workers:
                    worker.join()
            _add_up(summary, counts, time.perf_counter() - started)
    if errors:
        raise errors[0]
    if batched.failure is not None:
        raise batched.failure
    if halt.is_set():
        raise Cancelled()


def _add_up(summary: RunSummary, counts: list[RunSummary], seconds: float) -> None:
    for counted in counts:
        summary.stored += counted.stored
        summary.failed += counted.failed
        summary.failures.update(counted.failures)
        summary.completion_tokens += counted.completion_tokens
    summary.model_seconds = seconds
