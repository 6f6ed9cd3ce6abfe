"""A compositor that keeps its map of every widget when a widget it has placed already asks for a frame.

Textual's compositor keeps two maps: the widgets on screen, and every widget it placed at the last
layout (those scrolled out of view, or clipped, too). When a widget off screen asks for a frame (a key
hidden at the footer's end dimmed as the tab shown changes, a form's field below the fold), it throws
the second map away, in case the widget is new; the next look for any widget off screen then arranges
the whole screen again, as much work as a layout's. A widget the map holds is not new, and one that is
not displayed would not be in the map rebuilt either; for both the map stays, and only a widget mounted
since the last layout has it built anew. Nor does Textual count a layout, which builds that map, as
building it: a map thrown away before a layout was built again after it.
"""

from __future__ import annotations

from textual._compositor import Compositor, ReflowResult
from textual.geometry import Size
from textual.widget import Widget


class KeptFullMapCompositor(Compositor):
    def reflow(self, parent: Widget, size: Size) -> ReflowResult:
        result = super().reflow(parent, size)
        self._full_map_invalidated = False  # a layout builds the map of every widget: Textual built it again at the next look
        return result

    def update_widgets(self, widgets: set[Widget]) -> None:
        if not self._full_map_invalidated:
            shown = self.visible_widgets.keys()
            unseen = widgets - shown
            if unseen and all(widget in self._full_map or not _displayed(widget) for widget in unseen):
                widgets = widgets & shown  # Textual draws only these; the others are unseen
        super().update_widgets(widgets)


def _displayed(widget: Widget) -> bool:
    """Whether `widget` and every container it is in are displayed."""
    return all(node.display for node in widget.ancestors_with_self if isinstance(node, Widget))
