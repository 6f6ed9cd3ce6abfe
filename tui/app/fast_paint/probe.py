"""What tests and benchmarks read of Textual's insides: the frame a screen would draw now, whether a widget
has asked for a frame, what the app writes to the terminal, how often it draws and lays out.

The app never imports this module. It lives in this package so that every private name of Textual's
stays inside one fence: when Textual changes them, this is the one file the tests need mended.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from textual._compositor import Compositor
from textual.app import App
from textual.geometry import Region
from textual.message import Message
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets._footer import FooterKey

def compositor(screen: Screen) -> Compositor:
    return screen._compositor


def frame_lines(screen: Screen) -> list[Strip]:
    """The lines a full frame of `screen` draws now."""
    return screen._compositor.render_strips()


def forget_changes(screen: Screen) -> None:
    """Mark nothing on `screen` as changed, as a frame that has just been drawn leaves it."""
    screen._compositor._dirty_regions.clear()


def partial_update(compositor: Compositor, regions: list[Region], textuals: bool = False) -> tuple[list, int]:
    """What a partial frame of `regions` puts on screen, drawn by `compositor`'s own class or, with
    `textuals`, by Textual's compositor: each updated span's cells as (y, x, strip), and how many widgets
    were drawn for it."""
    drawing_class = Compositor if textuals else type(compositor)
    drawn = 0
    get_renders = functools.partial(drawing_class._get_renders, compositor)

    def counted(crop: Region) -> Iterator[Any]:
        nonlocal drawn
        for render in get_renders(crop):
            drawn += 1
            yield render

    compositor._get_renders = counted
    compositor._dirty_regions = set(regions)
    try:
        update = drawing_class.render_partial_update(compositor)
    finally:
        del compositor._get_renders
    shown = []
    for y, x1, x2 in update.spans:
        for (x, strip), end in zip(update.chops[y].items(), compositor.cuts[y][1:]):
            if strip is not None and x < x2 and end > x1:
                shown.append((y, max(x, x1), strip.crop(max(x, x1) - x, min(end, x2) - x)))
    return shown, drawn


def asks_for_frame(widget: Widget) -> bool:
    """Whether `widget` waits for the next frame to be drawn again."""
    return widget._repaint_required


def forget_drawn_lines(widget: Widget) -> None:
    """Drop the lines Textual keeps of what `widget` drew, so that it draws them anew."""
    widget._styles_cache.clear()


def notifications(app: App) -> list[str]:
    """The messages of the notifications shown so far."""
    return [notification.message for notification in app._notifications]


def sender(message: Message) -> Any:
    """The widget (or app) that sent `message`."""
    return message._sender


def footer_key_disabled(key: FooterKey) -> bool:
    """Whether a footer key draws itself dimmed, as Textual's own flag says."""
    return key._disabled


@contextlib.contextmanager
def terminal_writes(app: App) -> Iterator[list]:
    """Collect the updates the app writes to the terminal while the block runs, instead of writing them."""
    drawn: list = []
    app._display = lambda screen, update: drawn.append(update)
    try:
        yield drawn
    finally:
        del app._display


def on_screen(screen: Screen, widget: Widget) -> bool:
    """Whether the last frame of `screen` showed some of `widget`."""
    return widget in screen._compositor.visible_widgets


def has_work_queued(app: App) -> bool:
    """Whether the app or a widget of any of its screens has a message, a callback, a restyle, a layout, a
    repaint or a frame waiting: a look at its state, which a starved process cannot fool as a pause can."""
    if app.animator._animations or not app._message_queue.empty() or app._next_callbacks:
        return True
    for screen in app.screen_stack:
        if screen._dirty_widgets or screen._callbacks:
            return True
        for node in (screen, *screen.walk_children(with_self=False)):
            if (not node._message_queue.empty() or node._next_callbacks or node._layout_required
                    or node._repaint_required or node._refresh_styles_required or node._scroll_required
                    or node._recompose_required):
                return True
    return False


def count_drawing(app: App, screen: Screen) -> dict[str, int]:
    """Count the screen's frames (compositor updates), layouts, repaints of all of it, arrangements of every
    widget (each layout makes one) and the updates written to the terminal, from now on."""
    counts = {"frames": 0, "layouts": 0, "full repaints": 0, "arrangements": 0, "updates": 0}
    for owner, method, key in [(screen, "_compositor_refresh", "frames"), (screen, "_refresh_layout", "layouts"),
                               (screen._compositor, "render_full_update", "full repaints"),
                               (screen._compositor, "_arrange_root", "arrangements"), (app, "_display", "updates")]:
        setattr(owner, method, _counted(getattr(owner, method), counts, key))
    return counts


def _counted(call: Callable[..., Any], counts: dict[str, int], key: str) -> Callable[..., Any]:
    def counted_call(*args: Any, **kwargs: Any) -> Any:
        counts[key] += 1
        return call(*args, **kwargs)

    return counted_call
