"""App-wide messages: what the model loader and the generating thread tell the UI."""

from __future__ import annotations

import time
from typing import Any

from textual.message import Message

from tui.engine.judge_run import JudgeRunSummary
from tui.engine.language_model import LanguageModel
from tui.engine.model_file import ModelInfo
from tui.engine.runner import RunSummary


class ModelInspected(Message):
    """The model file was read and checked; llama.cpp is now loading it."""

    def __init__(self, info: ModelInfo) -> None:
        super().__init__()
        self.info = info


class ModelLoadProgress(Message):
    """llama.cpp has loaded this share of the model (0.0 to 1.0)."""

    def __init__(self, share: float) -> None:
        super().__init__()
        self.share = share


class ModelLoaded(Message):
    """The model is ready to generate: in process, or behind servers."""

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        self.model = model


class StageStarted(Message):
    """A model call of the run starts, e.g. "Magpie · turn 1 · user"; `row` is its row's index when
    several rows run at once (None otherwise)."""

    def __init__(self, text: str, row: int | None = None) -> None:
        super().__init__()
        self.text = text
        self.row = row
        self.started = time.monotonic()  # when the call started, for timing what follows (Message.time's clock is private)


class ServerReported(Message):
    """A server of the run failed, or answers again (the run goes on)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class TextStreamed(Message):
    """Text the model wrote since the last batch (see `BatchedObserver`)."""

    def __init__(self, text: str, chunks: int) -> None:
        super().__init__()
        self.text = text
        self.chunks = chunks


class SampleFinished(Message):
    """A sample was stored (its status is "failed" when it failed)."""

    def __init__(self, sample: dict[str, Any], done: int, total: int) -> None:
        super().__init__()
        self.sample = sample
        self.done = done
        self.total = total


class RunEnded(Message):
    """The run is over: finished, or cancelled with every finished sample kept."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__()
        self.summary = summary


class SampleJudged(Message):
    """A judge's verdict on a stored sample is on disk: `line` says it in a line (`verdict_line`)."""

    def __init__(self, sample_id: int, line: str, failed: bool, done: int, total: int) -> None:
        super().__init__()
        self.sample_id = sample_id
        self.line = line
        self.failed = failed
        self.done = done
        self.total = total


class JudgeRunEnded(Message):
    """A judging run is over: finished, cancelled (every verdict stored so far kept) or halted."""

    def __init__(self, summary: JudgeRunSummary) -> None:
        super().__init__()
        self.summary = summary
