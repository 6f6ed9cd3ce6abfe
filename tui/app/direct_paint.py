"""Drawing a few changed lines of one widget straight to the terminal, without a frame of the screen.

A frame in Textual goes from `refresh()` through idle events, the screen's update timer and the
compositor, which looks at every widget on screen: ~1 ms of the UI thread for one streamed word, 20
times a second, and on two cores that time is taken from llama.cpp. When the lines that changed are
in plain view (no layout pending, nothing in front of them, the widget's screen is the one shown),
the same strips the compositor would have used can be written at once, as the compositor itself
writes a partial update. Otherwise the caller refreshes as usual.
"""

from __future__ import annotations

from textual._compositor import ChopsUpdate
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget


def paint_lines(widget: Widget, lines: Region) -> bool:
    """Draw `lines` (in the widget's content coordinates, as for `refresh`) now, if that is safe.

    Returns False when it is not (the caller must refresh the widget instead).
    """
    app = widget.app
    screen = widget.screen
    if (
        screen is not app.screen
        or app._batch_count  # inside batch_update(): Textual would hold the update back
        or widget._repaint_required  # a frame is on its way for this widget: join it
        or screen._layout_required
        or screen._scroll_required
    ):
        return False
    compositor = screen._compositor
    placed = compositor.visible_widgets.get(widget)
    if placed is None:
        return False
    region, clip = placed
    area = lines.translate(widget.content_offset).translate(region.offset).intersection(clip)
    if not area:
        return True  # scrolled out of sight: nothing on screen changed
    for other, (other_region, other_clip) in compositor.visible_widgets.items():  # front to back
        if other is widget:
            break
        if other_region.intersection(other_clip).overlaps(area):
            return False  # a toast, a menu or a dialog is in front of these lines
    local = area.translate(-region.offset)
    widget._styles_cache.set_dirty(local)  # its copy of these lines is out of date now
    # A scroll view draws its content line by line (render_line); others, such as a scroll bar, are whole renders.
    as_is = isinstance(widget, ScrollView) and _content_is_drawn_as_is(widget, local)
    strips = _content_strips(widget, local) if as_is else widget.render_lines(local)
    ys = area.line_range
    update = ChopsUpdate(
        {y: {area.x: strip} for y, strip in zip(ys, strips)},  # type: ignore[arg-type]  # indexed by y, as the screen's list
        [(y, area.x, area.right) for y in ys],
        {y: [area.right] for y in ys},  # type: ignore[arg-type]
    )
    app._display(screen, update)
    return True


def _content_is_drawn_as_is(widget: Widget, local: Region) -> bool:
    """Whether Textual's styles cache would put the widget's own lines in `local` on screen unchanged.

    It adds padding, borders and outlines around them, and changes them only for tint, opacity, hatch
    or a link under the mouse. Skipping it saves ~0.25 ms a batch: a third of drawing one.
    """
    styles = widget.styles
    content = Region(*widget.content_offset, *widget.scrollable_content_region.size)  # not the scroll bars
    return (
        content.contains_region(local)
        and not any(edge for edge, _color in styles.outline)
        and not styles.tint.a
        and widget.opacity == 1
        and styles.text_opacity == 1
        and not (styles.has_rule("hatch") and styles.hatch != "none")
        and not widget.hover_style._link_id
    )


def _content_strips(widget: Widget, local: Region) -> list[Strip]:
    offset = widget.content_offset
    strips = [widget.render_line(y - offset.y).crop(local.x - offset.x, local.right - offset.x) for y in local.line_range]
    filters = widget.get_line_filters()
    if filters:  # e.g. the app shown in monochrome, as the styles cache does
        background = widget.background_colors[1]
        for line_filter in filters:
            strips = [strip.apply_filter(line_filter, background) for strip in strips]
    return strips
