"""An input whose text changes without a layout of the screen.

Textual's Input sets its virtual size (the width of its text) at every change of its value, and that
reactive lays the whole screen out: a layout per key typed, though an input's box comes from its CSS,
never from its text (with an auto width or height, Input asks for the layout itself). Here the change
only does what the layout did for a scroll view: its scroll bars and scroll offset follow the new size.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input


class QuietInput(Input):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0))  # as Widget's, without layout=True

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted:
            self._scroll_update(size)
