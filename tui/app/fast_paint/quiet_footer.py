"""The key footer, made again only when the keys it shows change, not when one is enabled or disabled.

Textual's Footer composes all its keys anew whenever the screen's bindings are updated, which lays out
the screen twice. A run updates them as it starts and as it ends, and on two
cores that time is taken from the model, though the keys shown stay the same (escape, which works only
during a run, is not among them: see MainScreen). When the same keys are shown, this footer only dims
or undims the ones whose state changed.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets._footer import FooterKey

from tui.app.widgets.fitted_footer import FittedFooter


class QuietFooter(FittedFooter):
    def compose(self) -> ComposeResult:
        for widget in super().compose():
            # A key is born compact, then bound to the footer's (a restyle either way), except the palette's.
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget

    def bindings_changed(self, screen: Screen) -> None:
        if self._bindings_ready and screen.app.app_focus and self.is_attached and screen is self.screen:
            if self._update_in_place():
                return
        super().bindings_changed(screen)

    def _update_in_place(self) -> bool:
        """Enable or disable the keys shown, if the keys are the same; False when they are not."""
        wanted: dict[str, tuple[str, str, bool]] = {}  # action -> key, description, enabled: as Footer.compose
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in wanted:
                wanted[binding.action] = (binding.key, binding.description, enabled)
        children = list(self.children)
        keys = [child for child in children if isinstance(child, FooterKey) and not child.has_class("-command-palette")]
        palette = [child for child in children if child.has_class("-command-palette")]
        if len(keys) + len(palette) != len(children) or len(keys) != len(wanted):
            return False  # grouped keys, or keys added or removed: compose them anew
        for shown, (action, (key, description, _enabled)) in zip(keys, wanted.items()):
            if (shown.action, shown.key, shown.description) != (action, key, description):
                return False
        for shown, (_key, _description, enabled) in zip(keys, wanted.values()):
            if shown._disabled == enabled:  # FooterKey keeps its state here and shows it with a class
                shown._disabled = not enabled
                shown.set_class(not enabled, "-disabled")
        return True
