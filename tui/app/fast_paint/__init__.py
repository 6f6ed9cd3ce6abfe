"""Drawing a run's changes with less of the UI thread, by going below Textual's public API.

On two cores every millisecond the UI thread spends drawing is taken from llama.cpp. The modules of
this package use Textual's private names (its compositor, its call that writes to the terminal, its
widgets' caches and flags) to draw only what changed; no module outside it touches them. One switch
turns all of it off: `SMOLGEN_FAST_PAINT=off` in the environment, or a Textual outside the minor
series these modules were written and tested against (then one warning is logged). Off, each function
below does the same thing Textual's public way, with the same pixels on screen, only slower.
"""

from __future__ import annotations

import logging
import os
import re
from importlib.metadata import version
from typing import Any

from textual.app import App
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.widget import Widget
from textual.widgets import Header, Input

from tui.app.widgets.fitted_footer import FittedFooter
from tui.engine.errors import BadInput

# The Textual series (major, minor) the private names used here were read from; pyproject.toml pins the same.
TESTED_TEXTUAL = (8, 2)
SWITCH = "SMOLGEN_FAST_PAINT"

log = logging.getLogger("smolgen.app.fast_paint")


def decide(textual_version: str, setting: str | None) -> tuple[bool, str | None]:
    """Whether fast paint is on, given Textual's version and the switch's value; and the warning to log if it is not.

    Raises BadInput for a switch value other than on or off.
    """
    value = (setting or "on").strip().lower()
    if value not in ("on", "off"):
        raise BadInput(f"{SWITCH}={setting}: must be on or off")
    if value == "off":
        return False, None
    series = tuple(int(part) for part in re.findall(r"\d+", textual_version)[:2])
    if series != TESTED_TEXTUAL:
        tested = ".".join(map(str, TESTED_TEXTUAL))
        return False, f"fast paint off: Textual {textual_version} is not the {tested} series it was tested with"
    return True, None


ENABLED, _warning = decide(version("textual"), os.environ.get(SWITCH))
if _warning:
    log.warning(_warning)

if ENABLED:  # imported only when on: another Textual may not have the private names they import
    from tui.app.fast_paint import direct_paint, quiet_scroll
    from tui.app.fast_paint.cropped_compositor import CroppedCompositor
    from tui.app.fast_paint.fixed_title_header import FixedTitleHeader
    from tui.app.fast_paint.held_frames import hold_first_frames
    from tui.app.fast_paint.kept_full_map import KeptFullMapCompositor
    from tui.app.fast_paint.line_cached_scroll_bar import use_line_cached_scroll_bar
    from tui.app.fast_paint.quiet_footer import QuietFooter
    from tui.app.fast_paint.quiet_input import QuietInput
    from tui.app.fast_paint.same_size_resize import lay_out_only_new_sizes
    from tui.app.fast_paint.settled_virtual_sizes import lay_out_without_echo
    from tui.app.fast_paint.shared_css import share_parsed_css


def paint_lines(widget: Widget, lines: Region) -> bool:
    """Draw `lines` of `widget` (content coordinates, as for `refresh`) straight to the terminal, if that is safe now.

    False when it is not, or fast paint is off: the caller refreshes the widget instead.
    """
    return ENABLED and direct_paint.paint_lines(widget, lines)


def grow_quietly(view: ScrollView, size: Size) -> None:
    """Change a scroll view's virtual size; with fast paint, without a new layout of the screen.

    Its CSS must keep the bar always shown (`overflow-y: scroll`), so that the bar's gutter never changes.
    """
    if size == view.virtual_size:
        return
    if ENABLED:
        quiet_scroll.grow(view, size)
    else:
        view.virtual_size = size


def vertical_scrollbar(widget: Widget) -> ScrollBar | None:
    """A vertical bar for `widget` that redraws only changed cells; None when fast paint is off (Textual's own)."""
    return use_line_cached_scroll_bar(widget) if ENABLED else None


def footer() -> FittedFooter:
    """The key footer: with fast paint, one that dims keys in place rather than composing them anew."""
    return QuietFooter() if ENABLED else FittedFooter()


def text_input(*args: Any, **kwargs: Any) -> Input:
    """An Input (same arguments): with fast paint, one whose typing lays nothing out, as its box never follows its text."""
    return QuietInput(*args, **kwargs) if ENABLED else Input(*args, **kwargs)


def header() -> Header:
    """The screen's header: with fast paint, one whose title changes without a layout of the screen."""
    return FixedTitleHeader() if ENABLED else Header()


def set_own_class(widget: Widget, add: bool, name: str) -> None:
    """Add or remove a class that changes only `widget`'s own box (its border), nothing a rule selects inside
    it or its children inherit: with fast paint only the widget is restyled, not every widget inside it."""
    if widget.has_class(name) == add:
        return
    if ENABLED:
        widget.set_class(add, name, update=False)
        widget.app.stylesheet.update_nodes([widget], animate=True)
    else:
        widget.set_class(add, name)


def crop_partial_updates(screen: Screen[Any]) -> None:
    """With fast paint, `screen`'s frames draw only the parts of widgets that changed (call in its constructor)."""
    if ENABLED:
        screen._compositor = CroppedCompositor()


def skip_same_size_layouts(screen: Screen[Any]) -> None:
    """With fast paint, a resize event that leaves `screen` its size lays nothing out (call in its constructor)."""
    if ENABLED:
        lay_out_only_new_sizes(screen)


def lay_out_once_per_change(screen: Screen[Any]) -> None:
    """With fast paint, a layout of `screen` that changes widgets' virtual sizes is not followed by a second
    layout that changes nothing, nor a look for a widget off screen by a second arrangement of every widget
    (call in its constructor, after `crop_partial_updates` if it calls that)."""
    if ENABLED:
        lay_out_without_echo(screen)
        if not isinstance(screen._compositor, KeptFullMapCompositor):
            screen._compositor = KeptFullMapCompositor()


def draw_when_built(screen: Screen[Any]) -> None:
    """With fast paint, `screen` is first drawn once its widgets have all arrived and been laid out, not also
    at each layout on the way (call in its constructor)."""
    if ENABLED:
        hold_first_frames(screen)


def share_css(app: App[Any]) -> None:
    """With fast paint, `app` parses only the CSS no App of this process parsed before with the same theme
    (call in its constructor)."""
    if ENABLED:
        share_parsed_css(app.stylesheet)
