"""Python's cyclic garbage collector while the app runs.

A full pass of the collector walks every container object alive: Python's modules and the main screen's
widgets, which live as long as the app, made most of each pass. By default a pass of the youngest objects
runs every 700 new ones and a full pass every hundred of those, which a Textual app (frames, styles,
messages) reaches many times a second. While the app runs, what its start built is frozen out of the
collector's reach (gc.freeze) and the youngest generation waits for more objects before a pass; both are
put back as the app ends, so a process that goes on (a test, a benchmark) collects as before.
"""

from __future__ import annotations

import gc

# New container objects (less those freed) between two passes over the youngest generation, while the app runs.
YOUNG_OBJECTS_PER_PASS = 10_000


class QuietCollector:
    """The collector's settings for one app's run: `start` as it mounts, `started` once its first screen is
    built, `end` as it unmounts."""

    def __init__(self) -> None:
        self._threshold_before: tuple[int, ...] | None = None

    @property
    def quiet(self) -> bool:
        return self._threshold_before is not None

    def start(self) -> None:
        if self.quiet:
            return
        self._threshold_before = gc.get_threshold()
        gc.set_threshold(max(YOUNG_OBJECTS_PER_PASS, self._threshold_before[0]), *self._threshold_before[1:])
        gc.freeze()

    def started(self) -> None:
        """Freeze what the start built since `start` (the first screen's widgets): it lives as long as the app."""
        if self.quiet:
            gc.freeze()

    def end(self) -> None:
        """Everything frozen goes back to the collector, whose next full pass frees what is garbage by then."""
        if not self.quiet:
            return
        gc.unfreeze()
        gc.set_threshold(*self._threshold_before)
        self._threshold_before = None
