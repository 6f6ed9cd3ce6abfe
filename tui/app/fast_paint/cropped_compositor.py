"""A compositor that draws, for a partial update, only the part of each widget inside the update.

Textual's compositor (8.x) renders every widget whose clip (its container's visible area) meets the
box around the updated regions, and whole: for one new line of streamed text it drew the header,
footer, status bar, every pane and container at full height. At many frames a second that was most
of the UI thread's work during a run, and on two cores it is taken from llama.cpp. Here a widget is drawn only if it meets one of the updated regions themselves and is not
hidden there by widgets in front of it, and only its lines there; the chops Textual builds from them
are the same ones it would use, since it only reads the updated spans
(`tests/app/test_cropped_compositor.py` compares the two).
"""

from __future__ import annotations

from typing import Iterable

from textual._compositor import ChopsUpdate
from textual.geometry import Region
from textual.strip import Strip

from tui.app.fast_paint.kept_full_map import KeptFullMapCompositor


# More updated regions than this are drawn as the box around them, as Textual does.
MAX_REGIONS = 4
# A part hidden by widgets in front is hidden by one drawn just before (a container's children come
# just before it, front to back): looking further back cost a big update more than it saved.
RECENT = 8


class CroppedCompositor(KeptFullMapCompositor):  # and it keeps its map of every widget when it can
    _updated: tuple[Region, ...] = ()  # the regions of the partial update being drawn

    def render_partial_update(self) -> ChopsUpdate | None:
        self._updated = tuple(self._dirty_regions)  # Textual hands _get_renders only the box around them
        try:
            return super().render_partial_update()
        finally:
            self._updated = ()

    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None or not self._updated:  # a full update: everything, as Textual does it
            yield from super()._get_renders(crop)
            return
        # The updated regions themselves, not the box around them: a frame that changes the stage
        # line at the top of the output pane and the finished list at its foot draws neither the
        # stream between them nor the widgets behind it.
        updated = [part for part in (region.intersection(crop) for region in self._updated) if part]
        # Many small regions (a scrolled list, a sample's end updating a dozen status widgets) cost
        # more one by one than they save: they are merged into a few boxes, neighbours first, so the
        # output pane's widgets become one box and the header another, not one box over the screen.
        updated = merge_regions(updated, MAX_REGIONS)
        drawn: list[Region] = []  # the parts of the update drawn so far, by widgets in front
        for widget, (region, clip) in self.visible_widgets.items():  # front to back: the first chop of a cut wins
            shown = region.intersection(clip)
            if not shown.overlaps(crop):  # most widgets: one test instead of one per updated region
                continue
            # Hidden where it meets the update by widgets in front (the stream hides the panes that
            # hold it): each chop of the update's spans is theirs already, since widgets' edges are the cuts.
            parts = [part for part in (shown.intersection(u) for u in updated) if part and not _covered(part, drawn[-RECENT:])]
            if not parts:
                continue
            drawn += parts
            # Only the lines of the update it shows in; a chop must start at a cut (a widget's edge), so never cut columns.
            first, last = min(part.y for part in parts), max(part.bottom for part in parts)
            x, width = shown.x, shown.width
            yield region, Region(x, first, width, last - first), widget.render_lines(
                Region(x - region.x, first - region.y, width, last - first)
            )


def merge_regions(regions: list[Region], limit: int) -> list[Region]:
    """At most `limit` regions covering `regions`: the pair whose joint box adds least is merged first."""
    # A region inside another adds nothing (a pane repainted whole dirties each widget inside it too).
    boxes = [region for index, region in enumerate(regions)
             if not any(other.contains_region(region) and (other != region or other_index < index)
                        for other_index, other in enumerate(regions) if other_index != index)]
    while len(boxes) > limit:
        _, i, j = min(
            (boxes[i].union(boxes[j]).area - boxes[i].area - boxes[j].area, i, j)
            for i in range(len(boxes)) for j in range(i + 1, len(boxes))
        )
        merged = boxes[i].union(boxes[j])
        boxes = [box for k, box in enumerate(boxes) if k not in (i, j)] + [merged]
    return boxes


def _covered(area: Region, covers: list[Region]) -> bool:
    """Whether the regions in `covers` together cover all of `area`."""
    overlaps = [cover.intersection(area) for cover in covers]
    overlaps = [overlap for overlap in overlaps if overlap]
    if sum(overlap.area for overlap in overlaps) < area.area:  # cheap, and true of most widgets a frame meets
        return False
    pieces = [area]
    for cover in overlaps:
        pieces = [rest for piece in pieces for rest in _without(piece, cover)]
        if not pieces:
            return True
    return False


def _without(piece: Region, cover: Region) -> list[Region]:
    """`piece` less `cover`, as up to four regions (above, below, left and right of the overlap)."""
    overlap = piece.intersection(cover)
    if not overlap:
        return [piece]
    x, y, width, height = piece
    rest = [
        Region(x, y, width, overlap.y - y),
        Region(x, overlap.bottom, width, piece.bottom - overlap.bottom),
        Region(x, overlap.y, overlap.x - x, overlap.height),
        Region(overlap.right, overlap.y, piece.right - overlap.right, overlap.height),
    ]
    return [r for r in rest if r]
