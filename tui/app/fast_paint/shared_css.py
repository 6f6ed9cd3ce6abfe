"""CSS parsed once per process rather than once per App.

Textual parses each App's CSS and every widget class's DEFAULT_CSS again for each App instance (its
stylesheet's parse cache lives and dies with the App): a process that starts many Apps, as the tests
do, parsed the same text each time. The rules a parse yields are only read afterwards, so Apps whose
CSS variables (the theme) are the same can share them.
"""

from __future__ import annotations

from typing import Any

from textual.css.model import RuleSet
from textual.css.stylesheet import Stylesheet

# By the CSS variables they were parsed with, then by Textual's own parse key (the source, where it was
# read from, its kind, its tie breaker and scope).
_parsed: dict[tuple[tuple[str, str], ...], dict[tuple[Any, ...], list[RuleSet]]] = {}


class SharedParseCache:
    """Stands in for a stylesheet's own parse cache, with the same get, set and clear."""

    def __init__(self, stylesheet: Stylesheet) -> None:
        self._stylesheet = stylesheet
        self._rules = self._for_variables()

    def _for_variables(self) -> dict[tuple[Any, ...], list[RuleSet]]:
        return _parsed.setdefault(tuple(sorted(self._stylesheet._variables.items())), {})

    def __getitem__(self, key: tuple[Any, ...]) -> list[RuleSet]:
        return self._rules[key]

    def __setitem__(self, key: tuple[Any, ...], rules: list[RuleSet]) -> None:
        self._rules[key] = rules

    def clear(self) -> None:
        # The stylesheet clears its cache when its variables change, after taking the new ones.
        self._rules = self._for_variables()


def share_parsed_css(stylesheet: Stylesheet) -> None:
    """From now on `stylesheet` takes the rules of CSS this process parsed before with the same variables."""
    stylesheet._parse_cache = SharedParseCache(stylesheet)  # type: ignore[assignment]
