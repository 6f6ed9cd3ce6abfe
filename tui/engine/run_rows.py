"""The rows of a run: each row's samples made, counted and stored, whether the rows come one after
another (runner.py) or several at once (parallel_run.py).

A technique makes one sample per row, or a stream of them (SelfInstruct's instructions, EvolInstruct's
generations), each stored before the next is made; the stream gets each stored sample's id back as
the value of its `yield`, the one way a technique learns it. A failed sample, or a candidate a filter
rejected, is recorded with its reason and the row goes on.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tui.engine.errors import BadInput, GenerationFailed, RunHalted
from tui.engine.model import Cancelled
from tui.engine.run_quality import RunQuality, RunSaturated
from tui.engine.store import SampleStore
from tui.engine.techniques.base import GenerationContext, SampleStream, Technique

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

    def rows_watched(self, watch: Any) -> None:
        """Several rows run at once (`parallel_run.ChosenRowWatch`): `watch` says which one streams
        to this observer, and `watch.step` moves it to another row in flight."""

    def sample_done(self, sample: dict[str, Any], done: int, total: int) -> None:
        """A sample was stored under `sample["id"]` (its status is "failed" when it failed or a filter rejected it).

        `done` is the number of the row it came from: a row can give several samples.
        """


@dataclass
class RunSummary:
    run_id: int
    total: int
    stored: int = 0
    truncated: int = 0  # of the stored, those cut off by a token cap (export leaves them out)
    failed: int = 0
    failures: Counter = field(default_factory=Counter)
    completion_tokens: int = 0
    uncounted_samples: int = 0  # samples whose tokens a server did not report
    rows_done: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0
    status: str = "running"
    halt_reason: str | None = None
    cached_rows: int = 0  # a pipeline's rows whose last step came from its cache (nothing generated for them)
    stop_reason: str | None = None  # a stop that was asked for (`--stop-when-saturated`)

    def truncated_note(self, keeps_truncated: str) -> str:
        """"2 truncated: left out of export unless --include-truncated", or "" when none was."""
        return f"{self.truncated} truncated: left out of export unless {keeps_truncated}" if self.truncated else ""

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.model_seconds if self.model_seconds else 0.0

    def record(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "stored": self.stored,
            "truncated": self.truncated,
            "failed": self.failed,
            "failures": dict(self.failures),
            "completion_tokens": self.completion_tokens,
            "uncounted_samples": self.uncounted_samples,
            "rows_done": self.rows_done,
            "rows_left": self.total - self.rows_done,
            "tokens_per_second": round(self.tokens_per_second, 2),
            "wall_seconds": round(self.wall_seconds, 3),
            **({"halt_reason": self.halt_reason} if self.halt_reason else {}),
            **({"stop_reason": self.stop_reason} if self.stop_reason else {}),
        }


class SampleWriter:
    """Stores a row's samples as they come, stamped with the run's provenance, and tells the observer.

    Rows that finish at once share one journal append and its fsync (a group commit): a row's thread
    hands its sample over and waits until it is on disk, while the first waiting thread writes every
    sample handed over so far. Durability per sample is unchanged; the disk's flushes no longer cap
    the rate of many rows in flight.
    """

    def __init__(self, store: SampleStore, observer: RunObserver, num: int, run_id: int, stamp: dict[str, Any],
                 saturation_window: int = 0):
        self.store, self.observer, self.num, self.run_id, self.stamp = store, observer, num, run_id, stamp
        self.finished = 0  # samples on disk, failed ones not counted
        self.quality = RunQuality(saturation_window) if saturation_window else None  # only to stop when saturated
        self._handed: list[_Handed] = []  # samples waiting for the next append
        self._writing = False  # a thread is appending a batch; the others wait for it
        self._turn = threading.Condition()
        self._observed = threading.Lock()  # the observer and the quality window see one batch at a time

    def write(self, record: dict[str, Any], index: int) -> int:
        """Store one sample of row `index` and tell the observer; returns its id once it is on disk."""
        mine = _Handed(record, index)
        with self._turn:
            self._handed.append(mine)
            while not mine.finished:
                if self._writing:
                    self._turn.wait()
                    continue
                batch, self._handed, self._writing = self._handed, [], True
                self._turn.release()
                try:
                    self._write_batch(batch)
                finally:
                    self._turn.acquire()
                    self._writing = False
                    self._turn.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.sample_id

    def _write_batch(self, batch: list["_Handed"]) -> None:
        try:
            sample_ids = self.store.add_samples([handed.record for handed in batch])
        except BaseException as error:  # a full disk: none of the batch is stored, every row learns why
            for handed in batch:
                handed.error, handed.finished = error, True
            return
        with self._observed:
            try:
                for handed, sample_id in zip(batch, sample_ids):
                    handed.sample_id = sample_id
                    self.finished += handed.record.get("status") != "failed"
                    self.observer.sample_done({**handed.record, "id": sample_id}, handed.index + 1, self.num)  # a front end opens it by its id
                    if self.quality is not None:
                        self.quality.add(handed.record)
            except BaseException as error:  # the samples are on disk; the observer's failure stops their rows
                for handed in batch:
                    handed.error = error
            finally:
                for handed in batch:
                    handed.finished = True

    def check_saturation(self) -> None:
        """Raise RunSaturated when the run asked to stop when saturated and it has; called after each row."""
        with self._observed:
            if self.quality is not None and self.quality.saturated:
                raise RunSaturated(self.quality.saturation_message())


@dataclass
class _Handed:
    """A sample handed to the writer, and what became of it."""

    record: dict[str, Any]
    index: int
    sample_id: int = 0
    error: BaseException | None = None
    finished: bool = False


def store_row(samples: SampleStream, stored: SampleWriter, index: int) -> None:
    """Store each sample of a row before the next is made; a technique's stream gets each one's id back.

    What is stored is a copy stamped with the run's provenance: the technique's own dict stays as it
    made it, so the id reaches the technique only through its stream.
    """
    sample = next(samples, None)
    while sample is not None:
        sample_id = stored.write({**sample, "run_id": stored.run_id, "sample_index": index, **stored.stamp}, index)
        sample = _send(samples, sample_id)


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
        summary.truncated += "truncated" in sample.get("flags", ())
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
