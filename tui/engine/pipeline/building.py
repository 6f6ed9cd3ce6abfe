"""The pipelines being built on this thread: `with Pipeline() as p:` enters one, and a step created in
the block joins the innermost, so steps are collected without passing `p` to each (distilabel's way)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from tui.engine.errors import BadInput

if TYPE_CHECKING:
    from tui.engine.pipeline.graph import Pipeline


class _Building(threading.local):
    def __init__(self) -> None:
        self.pipelines: list[Pipeline] = []


_building = _Building()


def enter(pipeline: Pipeline) -> None:
    """`pipeline`'s `with` block starts: steps created now join it."""
    _building.pipelines.append(pipeline)


def leave() -> None:
    """The innermost `with` block ends."""
    _building.pipelines.pop()


def current_pipeline() -> Pipeline:
    """The pipeline a step created now joins; BadInput outside any `with Pipeline()` block."""
    if not _building.pipelines:
        raise BadInput("a step must be created inside `with Pipeline() as p:`")
    return _building.pipelines[-1]
