"""Several rows of a run at once (`run_generation(..., parallel=S)`, `smolgen generate --parallel S`).

S worker threads share one `BatchedModel`: each takes the next row, runs the technique on it
unchanged (its model calls are decoded in one batch with the other workers') and stores every
finished sample before it takes another row. A sample keeps its row's index and seeds, so its seeds
are those of a sequential run; its text may still differ slightly, batched arithmetic not being
bit-identical. Failures are recorded as in a sequential run; a cancel keeps every stored sample and
drops the rows in progress. It pays only with many sequences (see batched_model.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from tui.engine.batched_model import BatchedModel
from tui.engine.model import Cancelled
from tui.engine.prompts import PromptLibrary
from tui.engine.language_model import LanguageModel
from tui.engine.run_rows import RunObserver, RunSummary, SampleWriter, row_samples, store_row
from tui.engine.techniques.base import GenerationContext, Technique

# How often the waiting thread looks at the run's cancel event (the workers see an internal one).
CANCEL_POLL_SECONDS = 0.05


def run_rows_in_parallel(
    technique: Technique,
    model: LanguageModel,
    prompts: PromptLibrary,
    run_seed: int,
    rows: list[dict[str, Any]],
    cancel: threading.Event | None,
    parallel: int,
    stored: SampleWriter,
    summary: RunSummary,
    observer: RunObserver | None = None,
) -> None:
    """Generate and store every row with `parallel` workers; raises Cancelled if the run was cancelled.

    The model calls overlap, so `summary.model_seconds` becomes the generation's wall time and
    `summary.tokens_per_second` the aggregate rate. A model that serves many callers itself (servers)
    is used as it is and streams the oldest row in flight to `observer`; an in-process model is
    wrapped in a `BatchedModel`, which streams nothing.
    """
    halt = threading.Event()  # the user's cancel or a worker's error: every worker and every call stops
    next_row = iter(range(stored.num))
    take = threading.Lock()
    errors: list[BaseException] = []
    counts = [RunSummary(summary.run_id, summary.total) for _ in range(parallel)]  # one per worker: no shared counters
    watch = ChosenRowWatch(parallel)
    if observer is not None:
        observer.rows_watched(watch)
    started = time.perf_counter()
    with _shared(model, parallel) as shared:

        def work(number: int, counted: RunSummary) -> None:
            ctx = _worker_context(shared, prompts, run_seed, halt, observer, watch, number)
            try:
                while not halt.is_set() and getattr(shared, "failure", None) is None:
                    with take:
                        index = next(next_row, None)
                    if index is None:
                        return
                    watch.started(number, index)
                    row = rows[index % len(rows)] if rows else None
                    store_row(row_samples(technique, ctx, index, row, counted), stored, index)
                    counted.rows_done += 1
                    watch.finished(number)
                    stored.check_saturation()
            except Cancelled:
                pass
            except BaseException as error:  # e.g. a template or the store failing: the run stops
                errors.append(error)
                halt.set()

        try:
            run_in_threads([lambda c=c, i=i: work(i, c) for i, c in enumerate(counts)], "smolgen-row", cancel, halt)
        finally:
            _add_up(summary, counts, time.perf_counter() - started)
        failure = getattr(shared, "failure", None)
    if errors:
        raise errors[0]
    if failure is not None:
        raise failure
    if halt.is_set():
        raise Cancelled()


def run_in_threads(jobs: list[Any], name: str, cancel: threading.Event | None, halt: threading.Event) -> None:
    """Run each job in a thread of its own until all end; the user's `cancel` sets `halt`, which the jobs
    watch. Also on Ctrl-C in the calling thread, every job is stopped and joined before this returns."""
    threads = [threading.Thread(target=job, name=f"{name}-{number}", daemon=True) for number, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(CANCEL_POLL_SECONDS)
                if cancel is not None and cancel.is_set():
                    halt.set()
    finally:
        if any(thread.is_alive() for thread in threads):
            halt.set()
            for thread in threads:
                thread.join()


class OldestRowWatch:
    """Which worker holds the oldest row in flight: the one row whose text a person watches."""

    def __init__(self, workers: int):
        self._rows: list[int | None] = [None] * workers
        self._lock = threading.Lock()
        self._watched: int | None = None

    def started(self, worker: int, row: int) -> None:
        with self._lock:
            self._rows[worker] = row
            self._elect()

    def finished(self, worker: int) -> None:
        with self._lock:
            self._rows[worker] = None
            self._elect()

    def _elect(self) -> None:
        busy = [(row, worker) for worker, row in enumerate(self._rows) if row is not None]
        self._watched = min(busy)[1] if busy else None

    def is_watched(self, worker: int) -> bool:
        return self._watched == worker

    @property
    def watched_row(self) -> int | None:
        """The index of the row watched now; None when no row is in flight."""
        worker = self._watched
        return self._rows[worker] if worker is not None else None


class ChosenRowWatch(OldestRowWatch):
    """The oldest row in flight, or the one a person moved to (`step`) until that row is done."""

    def __init__(self, workers: int):
        super().__init__(workers)
        self._chosen: int | None = None

    def _elect(self) -> None:
        if self._chosen is not None and self._chosen in self._rows:
            self._watched = self._rows.index(self._chosen)
            return
        self._chosen = None
        super()._elect()

    def step(self, direction: int) -> int | None:
        """Watch the next (1) or previous (-1) row in flight, in row order and round the end; returns
        the row now watched (None when none is in flight). Safe from any thread."""
        with self._lock:
            busy = sorted(row for row in self._rows if row is not None)
            if not busy:
                return None
            current = self.watched_row
            position = busy.index(current) if current in busy else 0
            self._chosen = busy[(position + direction) % len(busy)]
            self._elect()
            return self._chosen


def _shared(model: LanguageModel, workers: int) -> Any:
    """The model the workers share: itself when it serves many callers, else its batched form."""
    if getattr(model, "serves_concurrently", False):
        return contextlib.nullcontext(model)
    return BatchedModel(model, workers)


def _worker_context(
    model: LanguageModel,
    prompts: PromptLibrary,
    run_seed: int,
    halt: threading.Event,
    observer: RunObserver | None,
    watch: OldestRowWatch,
    worker: int,
) -> GenerationContext:
    if observer is None or not observer.shows_text or not getattr(model, "serves_concurrently", False):
        return GenerationContext(model, prompts, run_seed, halt)  # batched decoding streams nothing

    def stage(text: str) -> None:
        if watch.is_watched(worker):
            observer.stage(text)

    def text(chunk: str) -> None:
        if watch.is_watched(worker):  # a call that began watched goes quiet once the person watches another row
            observer.text(chunk)

    return GenerationContext(model, prompts, run_seed, halt, text, stage, watched=lambda: watch.is_watched(worker))


def _add_up(summary: RunSummary, counts: list[RunSummary], seconds: float) -> None:
    for counted in counts:
        summary.stored += counted.stored
        summary.truncated += counted.truncated
        summary.failed += counted.failed
        summary.failures.update(counted.failures)
        summary.completion_tokens += counted.completion_tokens
        summary.rows_done += counted.rows_done
    summary.model_seconds = seconds
