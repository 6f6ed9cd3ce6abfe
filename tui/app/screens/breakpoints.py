"""A screen's breakpoint class, taken before its widgets are styled."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen


def take_breakpoint_class(screen: Screen[Any]) -> None:
    """Give `screen` the class its HORIZONTAL_BREAKPOINTS name for the terminal's width now; call it first thing
    in `compose`. Textual would set it on the screen's first resize, and restyle every widget of the screen
    to do so; set now, before its widgets exist, the resize finds nothing to change."""
    breakpoints = screen.HORIZONTAL_BREAKPOINTS or screen.app.HORIZONTAL_BREAKPOINTS or []
    width = screen.app.size.width
    for threshold, name in sorted(breakpoints, reverse=True):  # the widest one the terminal reaches, as Textual picks
        if width >= threshold:
            screen.add_class(name)
            return
