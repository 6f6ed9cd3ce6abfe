"""Running the Pipeline tab's pipeline: the checked request, its messages, and the observer of its thread.

The run goes through the engine's executor, which caches every step output: a run resumed after
Escape, or repeated, generates nothing twice unless the person asks for no cache.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from textual.message import Message

from tui.app.streaming import BatchedObserver
from tui.engine.errors import BadInput
from tui.engine.llm import LlamaCppLLM
from tui.engine.model import Model
from tui.engine.pipeline.executor import PipelineObserver, PipelineSummary, StepCounts, run_pipeline
from tui.engine.pipeline.graph import Pipeline
from tui.engine.pipeline.steps import GenerationStep, LoadSeedsFromStore
from tui.engine.prompts import PromptLibrary
from tui.engine.runner import RunSummary
from tui.engine.store import SampleStore


@dataclass(frozen=True)
class PipelineRunRequest:
    """A pipeline checked and ready to run once the model is."""

    title: str
    pipeline: Pipeline
    use_cache: bool
    rows: int  # rows the source gives, for the progress bar (an expanding step can make more)

    @property
    def uses_app_model(self) -> bool:
        """Whether a model step has no servers of its own (a file's `[llm]`), so runs on the app's model."""
        return any(isinstance(step, GenerationStep) and step.llm is None for step in self.pipeline.ordered())


def pipeline_request(pipeline: Pipeline, store: SampleStore, limit: int | None, use_cache: bool,
                     runs_on: str | None = None) -> PipelineRunRequest:
    """The run of a validated pipeline; BadInput when its source would give no rows. `runs_on` joins the title."""
    source = pipeline.ordered()[0]
    if isinstance(source, LoadSeedsFromStore):
        source.store_rows = [seed["row"] for seed in store.list_seeds(selected_only=True)]
        if not source.store_rows:
            raise BadInput(f"step {source.name!r} takes the marked seeds: add one (n), import a file (i) or mark some (space)")
    source.limit = limit
    rows = len(source.rows())
    if not rows:
        raise BadInput(f"step {source.name!r} gives no rows")
    cache = "" if use_cache else " · no cache"
    servers = f" · {runs_on}" if runs_on else ""
    return PipelineRunRequest(f"Pipeline {pipeline.name}{cache}{servers}", pipeline, use_cache, rows)


def run_request(request: PipelineRunRequest, store: SampleStore, model: Model | None, prompts: PromptLibrary,
                observer: PipelineObserver, cancel: threading.Event) -> PipelineSummary:
    """Run in the calling thread, which must be the only user of `model` until it returns."""
    try:
        return run_pipeline(request.pipeline, store, request.use_cache, observer, cancel, prompts, LlamaCppLLM(model=model))
    finally:
        request.pipeline.close_models()


def copy_counts(counts: dict[str, StepCounts]) -> dict[str, StepCounts]:
    return {name: copy.deepcopy(step) for name, step in counts.items()}


def run_summary(summary: PipelineSummary) -> RunSummary:
    """The pipeline's summary in the shape the output pane shows for every run."""
    failed = sum(counts.failed for counts in summary.steps.values())
    worked = [counts for counts in summary.steps.values() if counts.generated or counts.cached or counts.failed]
    result = RunSummary(summary.run_id, summary.stored + failed, summary.stored, failed,
                        wall_seconds=summary.wall_seconds, status=summary.status, cached_rows=worked[-1].cached if worked else 0)
    for counts in summary.steps.values():
        result.failures.update(counts.failures)
    return result


class StepProgress(Message):
    """Every step's counts so far; a newer one replaces one not yet shown."""

    def __init__(self, counts: dict[str, StepCounts]) -> None:
        super().__init__()
        self.counts = counts

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StepProgress)


class PipelineRunEnded(Message):
    """The pipeline run is over: finished, or cancelled with every finished sample and step output kept."""

    def __init__(self, summary: PipelineSummary) -> None:
        super().__init__()
        self.summary = summary


class PipelineRunObserver(BatchedObserver, PipelineObserver):
    """The app's batched token stream, plus step counts and stored samples with their token counts."""

    def __init__(self, post: Callable[[Message], Any], cancel: threading.Event, is_cancelled: Callable[[], bool],
                 rows: int, clock: Callable[[], float] = time.monotonic):
        super().__init__(post, cancel, is_cancelled, clock=clock)
        self._rows = rows
        self._done = 0
        self._chunks = 0
        self._since = clock()
        self._counts: dict[str, StepCounts] = {}

    def text(self, chunk: str) -> None:
        self._chunks += 1
        super().text(chunk)

    def step_progress(self, step: str, counts: StepCounts) -> None:
        self._counts[step] = counts
        self._post(StepProgress(copy_counts(self._counts)))

    def sample_done(self, sample: dict[str, Any], done: int, total: int) -> None:
        # The output pane shows speed from each sample's tokens and seconds: the chunks streamed for it.
        now = self._clock()
        shown = {**sample, "tokens": {"completion": self._chunks}, "seconds": now - self._since}
        self._chunks, self._since = 0, now
        self._done += 1
        super().sample_done(shown, self._done, max(self._rows, self._done))
