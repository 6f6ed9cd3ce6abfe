"""Completion of file paths in an Input: the first entry of the folder that starts with what was typed."""

from __future__ import annotations

import os
from pathlib import Path

from textual.suggester import Suggester


def complete_path(value: str, suffixes: tuple[str, ...] = ()) -> str | None:
    """`value` completed to the first matching folder or file (with one of `suffixes`), or None."""
    if not value:
        return None
    folder_text, prefix = os.path.split(value)
    folder = Path(os.path.expanduser(folder_text or "."))
    try:
        entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
    except OSError:
        return None
    for entry in entries:
        if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix.startswith(".")):
            continue
        is_dir = entry.is_dir()
        if not is_dir and suffixes and entry.suffix.lower() not in suffixes:
            continue
        completed = value[: len(value) - len(prefix)] + entry.name + ("/" if is_dir else "")
        if completed != value:
            return completed
    return None


class PathSuggester(Suggester):
    """Suggests the rest of a path as you type; → accepts the suggestion."""

    def __init__(self, suffixes: tuple[str, ...] = ()) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.suffixes = suffixes

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value, self.suffixes)
