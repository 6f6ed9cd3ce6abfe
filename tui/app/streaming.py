"""The run observer of the app: batches streamed tokens into one message every BATCH_SECONDS.

One UI update per token would cost the generating thread time and flood the screen; a batch per
interval keeps the UI responsive and the model at full speed. With rows in flight on servers, one
row streams (the oldest, or the one the person steps to) and every worker stores its samples.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from textual.message import Message

from tui.app.messages import SampleFinished, StageStarted, TextStreamed
from tui.engine.runner import RunObserver

if TYPE_CHECKING:
    from tui.engine.parallel_run import ChosenRowWatch

BATCH_SECONDS = 0.05


class BatchedObserver(RunObserver):
    """Turns the runner's callbacks (in the generating threads) into batched app messages."""

    def __init__(
        self,
        post: Callable[[Message], Any],
        cancel: threading.Event,
        is_cancelled: Callable[[], bool] = lambda: False,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._post = post
        self._cancel = cancel
        self._is_cancelled = is_cancelled
        self._interval = BATCH_SECONDS if interval is None else interval  # read now: `smolgen bench ui` varies it
        self._clock = clock
        self._pending: list[str] = []
        self._last_flush = clock()
        self._lock = threading.Lock()  # rows in flight: one streams, any of them stores
        self.watch: ChosenRowWatch | None = None

    def rows_watched(self, watch: ChosenRowWatch) -> None:
        self.watch = watch

    def step(self, direction: int) -> int | None:
        """Stream the next (1) or previous (-1) row in flight; the row index now shown, or None."""
        return self.watch.step(direction) if self.watch is not None else None

    def stage(self, text: str) -> None:
        with self._lock:
            self._flush()
            self._post(StageStarted(text, self.watch.watched_row if self.watch is not None else None))

    def text(self, chunk: str) -> None:
        # The worker may be cancelled by Textual itself (on quit): pass it on to the engine.
        if self._is_cancelled():
            self._cancel.set()
        with self._lock:
            self._pending.append(chunk)
            if self._clock() - self._last_flush >= self._interval:
                self._flush()

    def sample_done(self, sample: dict[str, Any], done: int, total: int) -> None:
        with self._lock:
            self._flush()
            self._post(SampleFinished(sample, done, total))

    def flush(self) -> None:
        """Send the text gathered since the last batch, if any."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        self._last_flush = self._clock()
        if self._pending:
            self._post(TextStreamed("".join(self._pending), len(self._pending)))
            self._pending = []
