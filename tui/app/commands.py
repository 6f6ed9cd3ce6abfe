"""The command palette (ctrl+p): every key's action on the current screen, and each technique's tab."""

from __future__ import annotations

from functools import partial
from typing import Any, Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider


class SmolgenCommands(Provider):
    """Actions reachable by key are also reachable by name."""

    def _commands(self) -> Iterator[tuple[str, str, Any]]:
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            # Our own bindings carry an id; the widgets' built-in ones (cursor moves...) stay out.
            if binding.id is None or binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            yield binding.description, binding.tooltip or f"key {key}", partial(self.app.run_action, binding.action, active.node)
        if "compare_pairs" not in seen:
            yield ("Compare pairs", "Pick the better response of each preference pair",
                   partial(self.app.run_action, "compare_pairs"))
        for entry in getattr(self.app, "techniques", ()):
            yield f"Technique: {entry.title}", "Show its settings tab", partial(self.app.run_action, f"show_technique('{entry.key}')")

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
