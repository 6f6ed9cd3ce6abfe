"""Counting what Textual draws, for benchmarks: its frames, layouts and terminal writes are private calls."""

from __future__ import annotations

from typing import Any, Callable


def count_drawing(app: Any, screen: Any) -> dict[str, int]:
    """Count the screen's frames (compositor updates), layouts and updates written to the terminal from now on."""
    counts = {"frames": 0, "layouts": 0, "updates": 0}
    for owner, method, key in [(screen, "_compositor_refresh", "frames"), (screen, "_refresh_layout", "layouts"), (app, "_display", "updates")]:
        setattr(owner, method, _counted(getattr(owner, method), counts, key))
    return counts


def _counted(call: Callable[..., Any], counts: dict[str, int], key: str) -> Callable[..., Any]:
    def counted_call(*args: Any, **kwargs: Any) -> Any:
        counts[key] += 1
        return call(*args, **kwargs)

    return counted_call
