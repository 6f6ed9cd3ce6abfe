"""A compositor that draws, for a partial update, only the part of each widget inside the update.

Textual's compositor (8.x) renders every widget whose clip (its container's visible area) meets the
updated region, and whole: for one new line of streamed text it drew the header, footer, status bar,
every pane and container at full height, ~15 widgets a frame. At 20 frames a second that was most
of the UI thread's work during a run, and on two cores it is taken from llama.cpp. Here a widget is
drawn only if it shows inside the update, and only its lines there; the chops Textual builds from
them are the same ones it would use, since it only reads the updated spans.
"""

from __future__ import annotations

from typing import Iterable

from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip


class CroppedCompositor(Compositor):
    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None:  # a full update: everything, as Textual does it
            yield from super()._get_renders(crop)
            return
        top, bottom = crop.y, crop.bottom
        for widget, (region, clip) in self.visible_widgets.items():  # front to back: the first chop of a cut wins
            shown = region.intersection(clip)
            if not shown.overlaps(crop):
                continue
            # Only the update's lines: a chop must start at a cut (a widget's edge), so never cut columns.
            x, y, width, height = shown
            first, last = max(y, top), min(y + height, bottom)
            shown = Region(x, first, width, last - first)
            yield region, shown, widget.render_lines(Region(x - region.x, first - region.y, width, last - first))
