"""The figures of a run with many rows in flight, as the CLI's progress line and the app's show them:
stored, failed, tok/s, samples/min and the time left."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


def duration_text(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(max(0, int(round(seconds))), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class RunProgress:
    """Counts a run's samples as they are stored; `total` is the rows asked for (a row can give several samples)."""

    total: int
    started: float = field(default_factory=time.perf_counter)
    stored: int = 0
    failed: int = 0
    tokens: int = 0
    rows: set[int] = field(default_factory=set)

    def sample_done(self, sample: dict[str, Any], row: int) -> None:
        """A sample of row number `row` was stored (failed or not); a count the server did not give adds nothing."""
        tokens = sample.get("tokens")
        if tokens and tokens.get("completion") is not None:
            self.tokens += tokens["completion"]
        self.rows.add(row)
        if sample.get("status") == "failed":
            self.failed += 1
        else:
            self.stored += 1

    @property
    def finished(self) -> int:
        return self.stored + self.failed

    def line(self, in_flight: int | None = None, now: float | None = None) -> str:
        """in flight · stored · failed · tok/s · samples/min · ETA, the rates over the time since the start
        (rows in flight overlap, so the time of each call would count the same second several times)."""
        elapsed = max((time.perf_counter() if now is None else now) - self.started, 1e-9)
        rows = max(len(self.rows), 1)
        eta = (self.total - len(self.rows)) * elapsed / rows
        flight = f"in flight {in_flight} · " if in_flight is not None else ""
        return (
            f"{flight}stored {self.stored} · failed {self.failed} · {self.tokens / elapsed:.1f} tok/s · "
            f"{self.finished / elapsed * 60:.0f} samples/min · ETA {duration_text(eta)}"
        )
