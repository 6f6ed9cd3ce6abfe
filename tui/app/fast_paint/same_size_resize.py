"""A resize to the size a screen has already, without a layout of the screen.

Textual lays a screen out at every resize event it gets, and as the app starts it gets several of the
size it was laid out at: the app's first size, the one its own first layout sends it, the terminal's
first report. Each lays out every widget to change nothing; a layout the widgets asked for meanwhile
still runs at the screen's next update.
"""

from __future__ import annotations

from typing import Any

from textual.geometry import Size
from textual.screen import Screen


def lay_out_only_new_sizes(screen: Screen[Any]) -> None:
    """From now on `screen` is laid out on a resize only when its size changes."""
    resized = screen._screen_resized

    def resized_if_changed(size: Size) -> None:
        if size != screen.outer_size:
            resized(size)

    screen._screen_resized = resized_if_changed
