"""A layout that does not ask for another layout by recording the virtual sizes it has just worked out.

Textual's layout gives each widget its new size and virtual size through a reactive that lays the
screen out again: every layout in which a widget's content grew or shrank (most of them as the app
starts, and after a run adds output) was followed by a second one that placed everything where it
already was. A virtual size is an outcome of the layout, not an input to it; what it changes around
the widget (its scroll bars shown or hidden, which changes its gutter) still asks for a layout itself.
"""

from __future__ import annotations

from typing import Any

from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget

_size_updated = Widget._size_updated


def _size_updated_quietly(widget: Widget, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
    return _size_updated(widget, size, virtual_size, container_size, layout=False)


def lay_out_without_echo(screen: Screen[Any]) -> None:
    """From now on a layout of `screen` records the widgets' new virtual sizes without asking for another."""
    lay_out = screen._refresh_layout

    def lay_out_once(*args: Any, **kwargs: Any) -> None:
        Widget._size_updated = _size_updated_quietly  # the layout runs to its end without awaiting: no other screen's meanwhile
        try:
            lay_out(*args, **kwargs)
        finally:
            Widget._size_updated = _size_updated

    screen._refresh_layout = lay_out_once
