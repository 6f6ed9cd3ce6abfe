"""Textual's header, with a title that changes without laying the screen out.

The header's sub-title carries the store's counts by status, which change with every finished
sample; Textual's title is a Static whose update lays out the whole screen (time taken from the
model while a run goes), though its width is fixed by the header.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.visual import VisualType
from textual.widgets import Header
from textual.widgets._header import HeaderTitle  # the title widget Header composes; not exported


class FixedTitle(HeaderTitle):
    """The header's title: always the header's width, so a new text needs no layout."""

    def update(self, content: VisualType = "", *, layout: bool = False) -> None:
        super().update(content, layout=False)


class FixedTitleHeader(Header):
    """Textual's header, with a FixedTitle."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            yield FixedTitle() if type(widget) is HeaderTitle else widget
