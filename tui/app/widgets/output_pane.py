"""The output pane: the model's text as it streams, the stage, progress, speed, ETA and finished samples.

With rows in flight on servers, the stream is one row's (a key moves it to another) and the speed line
is the run's progress line: in flight, stored, failed, tok/s, samples/min and ETA.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from tui.app.review_filter import first_line
from tui.app.widgets.finished_list import FinishedList
from tui.app.widgets.status_line import ProgressLine, StatusLine
from tui.app.widgets.stream_view import StreamView
from tui.engine.cpu_load import OtherProgramsLoad
from tui.engine.judge_run import JudgeRunSummary
from tui.engine.run_progress import RunProgress, duration_text
from tui.engine.run_quality import RunQuality
from tui.engine.runner import RunSummary


# How often the speed and ETA line changes while tokens stream: figures that change once a second can be
# read, and each change is a frame taken from the model.
RATE_SECONDS = 1.0
# How often the finished list and the header's counts change while a run goes: each change wakes the
# UI thread and draws, time taken from the model on two cores.
FINISHED_SECONDS = 1.0
CANCEL_HINT = " · esc cancels"  # the footer does not show the key (see MainScreen.BINDINGS)
ROW_KEYS_HINT = " · [ ] other samples"
FINISHED_TITLE = "Finished samples · enter opens one in review"


class OutputPane(Vertical):
    """Shows one run at a time; the list of finished samples keeps growing across runs."""

    DEFAULT_CSS = """
    OutputPane #stage { text-style: bold; color: $accent; height: 1; padding: 0 1; }
    OutputPane #progress { height: 1; padding: 0 1; }
    OutputPane #run-stats { height: 1; padding: 0 1; color: $text-muted; }
    OutputPane #stream { height: 2fr; border: none; border-top: solid $primary-muted; padding: 0 1; }
    OutputPane #finished-title { width: 1fr; height: 2; padding: 0 1; color: $text-muted; border-top: solid $primary-muted; }
    OutputPane #finished { height: 1fr; }
    """

    class FinishedShown(Message):
        """Finished samples were added to the list (the app shows the store's counts again)."""

    class SampleChosen(Message):
        """A finished sample was chosen (enter) to open it in review."""

        def __init__(self, sample_id: int) -> None:
            super().__init__()
            self.sample_id = sample_id

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "Output"
        self._run_started = 0.0
        self._call_started = 0.0
        self._call_chunks = 0
        self._tokens = 0
        self._model_seconds = 0.0
        self._done = 0
        self._total = 0
        # A technique whose seed gives several samples (SelfInstruct, EvolInstruct) counts seeds and samples apart.
        self._per_seed = False
        self._kept = self._failed = 0
        self._new_sample = True
        self._rate_shown = 0.0
        self._finished_pending: list[tuple[int | None, Text]] = []
        self._finished_shown = 0.0
        self._finished_timer: Any = None
        self._stream = StreamView(id="stream")  # kept: every streamed batch appends to it
        # Rows in flight: their figures, how many requests are open, the row streamed, the line's timer.
        self._progress: RunProgress | None = None
        self._in_flight: Callable[[], int] | None = None
        self._row_shown: int | None = None
        self._progress_timer: Any = None
        self._quality: RunQuality | None = None  # the run's kept, failed by reason and near-duplicate share
        self._other_programs = OtherProgramsLoad()  # said beside tok/s: they slow llama.cpp's threads

    def compose(self) -> ComposeResult:
        yield StatusLine("Idle · ctrl+g generates with the technique shown", id="stage")
        yield ProgressLine(id="progress")
        yield StatusLine("", id="run-stats")
        # Appending to it costs next to nothing, so the UI thread leaves the cores to the model.
        yield self._stream
        yield StatusLine(FINISHED_TITLE, id="finished-title")  # it carries the run's quality: drawn in place
        yield FinishedList(id="finished")

    # Both lines change several times a second during a run: each draws itself at once, without a frame.
    def _stage(self, text: str) -> None:
        self.query_one("#stage", StatusLine).update(text)

    def _stats(self, text: str) -> None:
        self.query_one("#run-stats", StatusLine).update(text)

    def waiting(self, text: str) -> None:
        """Before the run starts (waiting for the model)."""
        self._stage(text)

    def run_started(self, title: str, total: int, in_flight: Callable[[], int] | None = None, per_seed: bool = False) -> None:
        """`in_flight` counts the requests open now, for a run with rows in flight on servers; `per_seed`: each
        of the `total` seeds gives several samples."""
        self._run_started = self._call_started = time.monotonic()
        self._tokens, self._model_seconds, self._done, self._total = 0, 0.0, 0, total
        self._per_seed, self._kept, self._failed = per_seed, 0, 0
        self._call_chunks = 0
        self._new_sample = True
        self._stage(f"{title} · starting")
        self.query_one("#progress", ProgressLine).update(total=total, progress=0)
        self._stats(f"0/{total} {self._rows_noun}{CANCEL_HINT}")
        self.stream.clear()
        self._quality = RunQuality()
        self._other_programs = OtherProgramsLoad()
        self._in_flight, self._row_shown = in_flight, None
        self._progress = RunProgress(total) if in_flight is not None else None
        if self._progress is not None:  # the figures move while no sample finishes, on a slow server
            self._progress_timer = self.set_interval(RATE_SECONDS, self._show_rate)

    @property
    def rows_in_flight(self) -> bool:
        return self._progress is not None

    @property
    def discarded(self) -> str:
        """What a cancel dropped."""
        return "the samples in progress were discarded" if self.rows_in_flight else "the sample in progress was discarded"

    def stage_started(self, text: str, row: int | None = None) -> None:
        """A model call starts; `row` is its row's index when rows are in flight (its stream replaces another's)."""
        if row is not None and row != self._row_shown:
            self._row_shown, self._new_sample = row, True
        if self._new_sample:
            self.stream.clear()
            self._new_sample = False
        separator = "\n\n" if self.stream.text else ""
        self._append(f"{separator}── {text} ──\n")
        self._call_started = time.monotonic()
        self._call_chunks = 0
        self._stage(f"sample {row + 1} · {text}{ROW_KEYS_HINT}" if row is not None else text)

    def row_chosen(self, row: int) -> None:
        """The person moved the stream to row `row`: its current call comes whole, its next one streams."""
        self._row_shown = row
        self.stream.clear()
        self._append(f"── sample {row + 1} · its text shows from its next model call ──\n")
        self._stage(f"sample {row + 1}{ROW_KEYS_HINT}")

    def text_streamed(self, text: str, chunks: int) -> None:
        self._append(text)
        self._call_chunks += chunks
        if time.monotonic() - self._rate_shown >= RATE_SECONDS:
            self._show_rate()

    @property
    def stream(self) -> StreamView:
        return self._stream

    def _append(self, text: str) -> None:
        self.stream.append(text)

    def _show_rate(self) -> None:
        if self._progress is not None and self._in_flight is not None:
            rows = len(self._progress.rows)
            self.query_one("#progress", ProgressLine).update(progress=rows)
            seeds = " seeds" if self._per_seed else ""  # a row of the other techniques is one sample
            self._stats(f"{rows}/{self._total}{seeds} · {self._progress.line(self._in_flight())}{CANCEL_HINT}")
            self._rate_shown = time.monotonic()
            return
        live_seconds = time.monotonic() - self._call_started
        seconds = self._model_seconds + live_seconds
        rate = (self._tokens + self._call_chunks) / seconds if seconds > 0 else 0.0
        eta = ""
        if self._done:
            per_sample = (time.monotonic() - self._run_started) / self._done
            eta = f" · ETA {duration_text(per_sample * (self._total - self._done))}"
        done = f"seed {self._done}/{self._total} · {self._kept} kept · {self._failed} failed" if self._per_seed else f"{self._done}/{self._total} samples"
        self._other_programs.update()
        self._stats(f"{done} · {rate:.1f} tok/s{self._other_programs.note()}{eta}{CANCEL_HINT}")
        self._rate_shown = time.monotonic()

    def sample_finished(self, sample: dict[str, Any], done: int, total: int) -> None:
        if self._quality is not None:
            self._quality.add(sample)
        if self._progress is not None:  # rows finish out of order: `done` is this sample's row number
            self._progress.sample_done(sample, done)
            # The bar moves with the progress line: drawn per sample, it was most of the UI thread's work.
            if time.monotonic() - self._rate_shown >= RATE_SECONDS:
                self._show_rate()
            self.add_finished(sample)
            return
        self._done, self._total = done, total
        self.query_one("#progress", ProgressLine).update(progress=done)
        self._failed += sample.get("status") == "failed"
        self._kept += sample.get("status") != "failed"
        if sample.get("status") != "failed":
            self._tokens += sample["tokens"]["completion"]
            self._model_seconds += sample["seconds"]
        self._call_chunks = 0
        self._call_started = time.monotonic()
        self._new_sample = True
        self._show_rate()
        self.add_finished(sample)

    def add_finished(self, sample: dict[str, Any]) -> None:
        """Append a sample to the finished list, at once or with others within FINISHED_SECONDS."""
        if sample.get("status") == "failed":
            failure = sample.get("failure", {})
            line = Text(f"#{sample.get('id', '?')} failed ({failure.get('reason')}): {failure.get('message', '')}", style="red")
        else:
            flags = f" [{', '.join(sample['flags'])}]" if sample.get("flags") else ""
            line = Text(f"#{sample.get('id', '?')} {first_line(sample.get('instruction'), 100)}{flags}")
        self._add_finished_line(sample.get("id"), line)

    def _add_finished_line(self, sample_id: int | None, line: Text) -> None:
        self._finished_pending.append((sample_id, line))
        if self._finished_timer is None:
            delay = max(0.01, self._finished_shown + FINISHED_SECONDS - time.monotonic())  # a timer of 0 s divides by zero
            self._finished_timer = self.set_timer(delay, self.show_finished)

    def show_finished(self) -> None:
        """Add the samples finished since the last time to the list, in one layout of the screen."""
        if self._finished_timer is not None:
            self._finished_timer.stop()
            self._finished_timer = None
        self._finished_shown = time.monotonic()
        if not self._finished_pending:
            return
        if self._quality is not None:  # shown with the samples it counts, as often as they are added
            self.query_one("#finished-title", StatusLine).update(f"Finished · {self._quality.line()} · enter opens one in review")
        self.query_one("#finished", FinishedList).add(self._finished_pending)
        self._finished_pending = []
        self.post_message(self.FinishedShown())

    def _run_over(self) -> None:
        self.show_finished()
        self._progress = None
        if self._progress_timer is not None:
            self._progress_timer.stop()
            self._progress_timer = None

    def run_ended(self, summary: RunSummary) -> None:
        discarded = self.discarded
        if self._progress is not None:
            self.query_one("#progress", ProgressLine).update(progress=len(self._progress.rows))
        self._run_over()
        failed = f", {summary.failed} failed" if summary.failed else ""
        rate = f" · {summary.tokens_per_second:.1f} tok/s" if summary.completion_tokens else ""
        if summary.status == "cancelled":
            self._stage(f"Cancelled · {discarded}")
            self._stats(f"{summary.stored} finished samples kept{failed}{rate}")
            self._append("\n\n[cancelled: this unfinished sample was discarded]")
        elif summary.halt_reason:
            self._stage(f"Stopped · {summary.stored} stored{failed} · {summary.halt_reason}")
            self._stats(f"{self._done_text(summary)}{rate}")
        elif summary.cached_rows and not summary.stored + summary.failed:
            self.query_one("#progress", ProgressLine).update(progress=self._total)
            rows = f"{summary.cached_rows} row{'s' if summary.cached_rows != 1 else ''}"
            self._stage(f"Finished · {rows} came from the cache, nothing generated")
            self._stats("f8 (No cache) then ctrl+g generates them again")
        else:
            self._stage(f"Finished · {summary.stored} stored{failed}")
            self._stats(f"{self._done_text(summary)}{rate}")

    @property
    def _rows_noun(self) -> str:
        return "seeds" if self._per_seed else "samples"

    def _done_text(self, summary: RunSummary) -> str:
        """What a run did: samples of samples asked for, or seeds done and what they gave."""
        if not self._per_seed:
            return f"{summary.stored + summary.failed}/{summary.total} samples"
        return f"{summary.rows_done}/{summary.total} seeds done · {summary.stored} kept · {summary.failed} failed"

    def sample_judged(self, sample_id: int, line: str, failed: bool, done: int, total: int) -> None:
        """A verdict was stored: the bar, the line of judged and failed samples with the pace and ETA, the finished list."""
        self._done, self._total = done, total
        self._failed += failed
        # The total is the samples not judged yet by this judge, known once the run has opened the judge.
        self.query_one("#progress", ProgressLine).update(total=total, progress=done)
        elapsed = time.monotonic() - self._run_started
        pace = f" · {done * 60 / elapsed:.1f}/min · ETA {duration_text(elapsed / done * (total - done))}" if elapsed > 0 else ""
        self._stats(f"{done}/{total} samples judged · {self._failed} failed{pace}{CANCEL_HINT}")
        self._stage(f"Judge · #{sample_id} {'failed' if failed else line.split(' · ')[0]}")
        self._append(f"#{sample_id} {line}\n")
        self._add_finished_line(sample_id, Text(f"#{sample_id} {line}", style="red" if failed else ""))

    def judging_ended(self, summary: JudgeRunSummary) -> None:
        """What a judging run did, in the stage and figures lines."""
        self._run_over()
        failed = f", {summary.failed} failed" if summary.failed else ""
        mean = f" · mean rating {summary.mean_rating:g}" if summary.mean_rating is not None else ""
        skipped = f" · {summary.already_judged} already judged by this judge" if summary.already_judged else ""
        figures = f"{summary.rated + summary.failed}/{summary.total} samples judged{mean} · {summary.per_minute:.1f}/min{skipped}"
        if summary.status == "cancelled":
            self._stage(f"Cancelled · the judgement in progress was dropped · {summary.rated} rated{failed} kept")
        elif summary.halt_reason:
            self._stage(f"Stopped · {summary.rated} rated{failed} · {summary.halt_reason}")
        else:
            self._stage(f"Finished · {summary.rated} rated{failed} (run {summary.run_id})")
        self._stats(figures)

    def run_failed(self, message: str) -> None:
        self._run_over()
        self._stage("Stopped by an error")
        self._stats(message)
        self.query_one("#progress", ProgressLine).clear()

    def on_finished_list_chosen(self, event: FinishedList.Chosen) -> None:
        event.stop()
        self.post_message(self.SampleChosen(event.sample_id))
