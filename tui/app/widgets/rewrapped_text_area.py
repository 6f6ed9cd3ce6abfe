"""A TextArea whose text is drawn again once a new width has wrapped it anew."""

from __future__ import annotations

from textual.widgets import TextArea


class RewrappedTextArea(TextArea):
    """Textual's TextArea rewraps its text as it is resized, after the frame that drew it at its new width,
    and draws it again only if the wrapped text's size changed: narrowed by its form's scroll bar, the
    template went on showing lines wrapped for the wider box until something else drew it."""

    def on_resize(self) -> None:
        self.refresh()
