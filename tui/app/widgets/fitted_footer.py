"""The key footer, fitted to the terminal: packed tighter when narrow, and showing only the keys that fit
whole (the rest stay one keypress away in the palette and F1 help), never a key cut in half."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.screen import Screen
from textual.widgets import Footer

# Below this many columns the roomy style (a space either side of each key) cuts the main screen's keys.
ROOMY_WIDTH = 100


class FittedFooter(Footer):
    """Textual's footer, compact below ROOMY_WIDTH columns, hiding the keys that would not fit whole."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._binding_changes = 0  # the screen's bindings changed this many times
        self._binding_changes_shown = 0  # the keys shown were composed after this many
        self._fitting = False  # every key is shown, and those that do not fit are to be hidden once laid out

    def on_mount(self) -> None:
        # A screen below a modal one runs its callbacks before it lays new keys out: fit them as it does.
        # Immediate, so that only a layout made after the keys were shown can hide them.
        self.screen.screen_layout_refresh_signal.subscribe(self, self._keys_laid_out, immediate=True)

    def _keys_laid_out(self, _screen: Screen[Any]) -> None:
        self._hide_what_does_not_fit()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._binding_changes += 1
        super().bindings_changed(screen)

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < ROOMY_WIDTH
        self._show_what_fits()

    async def recompose(self) -> None:
        # Textual composes the keys once per change of the bindings, even for changes made before the first
        # of those ran (focus settling as the app starts): the first to run shows the latest bindings.
        if self._binding_changes == self._binding_changes_shown:
            return
        self._binding_changes_shown = self._binding_changes
        await super().recompose()
        self._show_what_fits()

    def _show_what_fits(self) -> None:
        for key in self.query("FooterKey"):
            if not key.display:  # setting it anyway asks for a new layout of the screen
                key.display = True
        self._fitting = True
        self.call_after_refresh(self._hide_what_does_not_fit)

    def _hide_what_does_not_fit(self) -> None:
        """Hide every key that reaches past the palette key (docked right) or the footer's edge, once every key
        shown has been laid out (a key not yet laid out has no region)."""
        if not self._fitting:
            return
        keys = list(self.query("FooterKey"))
        if any(key.display and not key.region for key in keys):
            return
        self._fitting = False
        palette = [key for key in keys if key.has_class("-command-palette")]
        limit = palette[0].region.x if palette else self.region.right
        for key in keys:
            if key not in palette and key.region.right > limit:
                key.display = False
