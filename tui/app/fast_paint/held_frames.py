"""A new screen's frames held while its widgets are still arriving, then drawn once, whole.

Textual draws a screen as soon as it is shown, then again after each layout as the widgets that its
widgets mount in their own turn (a form mounted on mount, the footer's keys, a select's parts) arrive
over the next updates: as the app started, the main screen was drawn whole, or nearly so by many
partial updates, several times over, though only the last frame stays on the terminal. Here a frame
that follows a layout is held while the screen is new, and the whole screen drawn at the first update
that lays nothing out; from then on every frame is drawn as Textual draws it.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

# A screen that keeps laying itself out update after update is drawn anyway after this many held frames.
MAX_HELD_FRAMES = 16


def hold_first_frames(screen: Screen[Any]) -> None:
    """Hold `screen`'s frames while its updates lay it out, from now until the first update that does not."""
    draw, lay_out, update = screen._compositor_refresh, screen._refresh_layout, screen._on_timer_update
    holding, laid_out, held = True, False, 0

    def update_counted() -> None:  # the screen's update timer, created later, calls this one
        nonlocal laid_out
        laid_out = False
        update()

    def lay_out_counted(*args: Any, **kwargs: Any) -> None:
        nonlocal laid_out
        laid_out = True
        lay_out(*args, **kwargs)

    def draw_unless_held() -> None:
        nonlocal holding, held
        if holding and laid_out and held < MAX_HELD_FRAMES and screen.app.screen is screen and not screen.app.is_inline:
            held += 1
            screen.refresh()  # the whole screen at the next update, if that one lays nothing out
            return
        holding = False
        draw()

    screen._on_timer_update = update_counted
    screen._refresh_layout = lay_out_counted
    screen._compositor_refresh = draw_unless_held
