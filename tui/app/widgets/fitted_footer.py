"""The key footer, fitted to the terminal: packed tighter when narrow, and showing only the keys that fit
whole (the rest stay one keypress away in the palette and F1 help), never a key cut in half."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

# Below this many columns the roomy style (a space either side of each key) cuts the main screen's keys.
ROOMY_WIDTH = 100


class FittedFooter(Footer):
    """Textual's footer, compact below ROOMY_WIDTH columns, hiding the keys that would not fit whole."""

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < ROOMY_WIDTH
        self._show_what_fits()

    async def recompose(self) -> None:
        await super().recompose()
        self._show_what_fits()

    def _show_what_fits(self) -> None:
        for key in self.query("FooterKey"):
            key.display = True
        self.call_after_refresh(self._hide_what_does_not_fit)

    def _hide_what_does_not_fit(self) -> None:
        """Hide every key that reaches past the palette key (docked right) or the footer's edge."""
        keys = list(self.query("FooterKey"))
        palette = [key for key in keys if key.has_class("-command-palette")]
        limit = palette[0].region.x if palette else self.region.right
        for key in keys:
            if key not in palette and key.region.right > limit:
                key.display = False
