"""Drawing a few changed lines of one widget straight to the terminal, without a frame of the screen.

A frame in Textual goes from `refresh()` through idle events, the screen's update timer and the
compositor, which looks at every widget on screen, for each streamed word, many times a second, and
on two cores that time is taken from llama.cpp. When the lines that changed are
in plain view (no layout pending, nothing in front of them, the widget's screen is the one shown),
the same strips the compositor would have used can be written at once, as the compositor itself
writes a partial update. Otherwise the caller refreshes as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual._compositor import ChopsUpdate
from textual.color import Color
from textual.geometry import Offset, Region
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

# Where a widget's plan is kept: Textual's own per-widget cache, which it empties on every refresh
# (a style of the widget or of an ancestor changed) and every layout, so the plan never outlives them.
PLAN_KEY = "smolgen.direct_paint.plan"


@dataclass(frozen=True)
class _Plan:
    """What drawing a widget's lines depends on besides the lines: worked out once, not per batch.

    Working it out each time (where the widget is, what is in front, its padding, colours and
    effects) cost as much as drawing the lines themselves.
    """

    visible: dict[Widget, tuple[Region, Region]]  # the compositor's map the plan was made from
    region: Region
    clip: Region
    fronts: tuple[Region, ...]  # the parts of widgets in front of it that overlap it (a toast, a dialog)
    content_offset: Offset
    content: Region | None  # where its own lines are put on screen unchanged; None: its styles change them
    background: Color


def paint_lines(widget: Widget, lines: Region) -> bool:
    """Draw `lines` (in the widget's content coordinates, as for `refresh`) now, if that is safe.

    Returns False when it is not (the caller must refresh the widget instead).
    """
    app = widget.app
    screen = app.screen
    if (
        app._batch_count  # inside batch_update(): Textual would hold the update back
        or widget._repaint_required  # a frame is on its way for this widget: join it
        or screen._layout_required
        or screen._scroll_required
    ):
        return False
    plan = _plan(widget, screen)
    if plan is None:
        return False  # not on the screen shown
    region = plan.region
    area = lines.translate(plan.content_offset).translate(region.offset).intersection(plan.clip)
    if not area:
        return True  # scrolled out of sight: nothing on screen changed
    if any(front.overlaps(area) for front in plan.fronts):
        return False  # a toast, a menu or a dialog is in front of these lines
    local = area.translate(-region.offset)
    widget._styles_cache.set_dirty(local)  # its copy of these lines is out of date now
    as_is = plan.content is not None and plan.content.contains_region(local) and not widget.hover_style._link_id
    strips = _content_strips(widget, local, plan) if as_is else widget.render_lines(local)
    ys = area.line_range
    update = ChopsUpdate(
        {y: {area.x: strip} for y, strip in zip(ys, strips)},  # type: ignore[arg-type]  # indexed by y, as the screen's list
        [(y, area.x, area.right) for y in ys],
        {y: [area.right] for y in ys},  # type: ignore[arg-type]
    )
    app._display(screen, update)
    return True


def _plan(widget: Widget, screen: Screen[Any]) -> _Plan | None:
    visible = screen._compositor.visible_widgets  # a new map after each layout, scroll or mount
    plan = widget._layout_cache.get(PLAN_KEY)
    if isinstance(plan, _Plan) and plan.visible is visible:
        return plan
    placed = visible.get(widget)
    if placed is None:
        return None
    region, clip = placed
    shown = region.intersection(clip)
    fronts = []
    for other, (other_region, other_clip) in visible.items():  # front to back
        if other is widget:
            break
        front = other_region.intersection(other_clip)
        if front.overlaps(shown):
            fronts.append(front)
    plan = _Plan(visible, region, clip, tuple(fronts), widget.content_offset, _as_is_content(widget), widget.background_colors[1])
    widget._layout_cache[PLAN_KEY] = plan
    return plan


def _as_is_content(widget: Widget) -> Region | None:
    """Where Textual's styles cache puts the widget's own lines on screen unchanged, if it does.

    It adds padding, borders and outlines around them, and changes them only for tint, opacity,
    hatch or a link under the mouse. Only a widget that draws its own lines (a scroll view's text,
    a status line) qualifies: Textual's own `render_line` reads a cache of `render()` that a direct
    paint does not renew, so those widgets (a scroll bar, a Static) go through the styles cache.
    """
    styles = widget.styles
    if type(widget).render_line is Widget.render_line or (
        any(edge for edge, _color in styles.outline)
        or styles.tint.a
        or widget.opacity != 1
        or styles.text_opacity != 1
        or (styles.has_rule("hatch") and styles.hatch != "none")
    ):
        return None
    return Region(*widget.content_offset, *widget.scrollable_content_region.size)  # not the scroll bars


def _content_strips(widget: Widget, local: Region, plan: _Plan) -> list[Strip]:
    offset = plan.content_offset
    strips = [widget.render_line(y - offset.y).crop(local.x - offset.x, local.right - offset.x) for y in local.line_range]
    for line_filter in widget.get_line_filters():  # e.g. the app shown in monochrome, as the styles cache does
        strips = [strip.apply_filter(line_filter, plan.background) for strip in strips]
    return strips
