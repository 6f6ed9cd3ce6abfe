"""A scroll view's virtual size changed without a new layout of the screen.

Setting `virtual_size` lays out the whole screen (tens of milliseconds, taken from the model while a
run goes); a view whose size changes nothing around it (its bar always shown) only needs its scroll
bars told, which Textual does in a private method.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.scroll_view import ScrollView


def grow(view: ScrollView, size: Size) -> None:
    """Set `view`'s virtual size and update its scroll bars, without laying the screen out."""
    view.set_reactive(ScrollView.virtual_size, size)
    view._scroll_update(size)
