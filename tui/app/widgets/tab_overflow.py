"""Marks at the ends of a tab strip too narrow for its tabs: "◂2" while two tabs lie beyond the left end,
"3▸" while three lie beyond the right, so a person sees there are more and which way they are."""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Static, Tab, Tabs


class TabOverflowMark(Static):
    """One end's mark: the arrow and how many tabs lie beyond that end.

    Both marks take their room whenever the tabs are wider than the whole strip, and none otherwise, a
    mark with nothing beyond its end only hidden: were the strip to widen as a mark goes, a tab could
    fit again and the mark come back, and which of the two it settled on would depend on timing."""

    DEFAULT_CSS = """
    TabOverflowMark { dock: left; width: 3; height: 1; padding: 0 1 0 0; color: $accent; text-style: bold; display: none; }
    TabOverflowMark.-right { dock: right; padding: 0 0 0 1; }
    """


def mark_tab_overflow(tabs: Tabs) -> None:
    """Show how many tabs lie beyond each end of `tabs`, updated whenever the screen's layout changes
    (a resize, the strip scrolling to the active tab)."""
    left, right = TabOverflowMark(classes="-left"), TabOverflowMark(classes="-right")
    tabs.mount(left, right)
    strip: Widget = tabs.query_one("#tabs-scroll")  # the tabs' own scrolling row (Textual's CSS names it too)

    def update(*_: object) -> None:
        seen = strip.region
        tab_regions = [tab.region for tab in tabs.query(Tab) if tab.display]
        if not seen or not tab_regions:
            return
        overflowing = sum(region.width for region in tab_regions) > tabs.content_region.width
        # A tab cut by the edge counts as beyond it: its whole label is not shown.
        before = sum(1 for region in tab_regions if region.x < seen.x) if overflowing else 0
        after = sum(1 for region in tab_regions if region.right > seen.right) if overflowing else 0
        room_changed = left.display != overflowing
        for mark, count, text in ((left, before, f"◂{before}"), (right, after, f"{after}▸")):
            shown = (count and text) or ""
            if mark.display != overflowing or mark.visible != bool(count) or str(mark.render()) != shown:  # unchanged: no new frame
                mark.update(shown)
                mark.display, mark.visible = overflowing, bool(count)
        if room_changed and tabs.active_tab is not None:  # the marks took or gave back room: the active tab stays whole
            tabs.call_after_refresh(strip.scroll_to_widget, tabs.active_tab, force=True, animate=False)

    tabs.screen.screen_layout_refresh_signal.subscribe(tabs, update)
