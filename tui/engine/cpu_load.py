"""How many of the machine's cores other programs keep busy.

llama.cpp runs one thread per physical core by default; when another program takes one of those cores,
its threads wait on each other and generation slows many times over, not by a share. The app shows
the other programs' load beside its tok/s, so a slow run says why.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
BUSY_ENOUGH_TO_SHOW = 0.5  # cores: below this another program's share does not slow generation noticeably


@dataclass(frozen=True)
class CpuReading:
    """The machine's and this process's CPU seconds at one moment."""

    busy_seconds: float  # every program's, since boot (including time a hypervisor gave to other machines)
    own_seconds: float  # this process's, every thread
    at: float  # time.monotonic()


def read_cpu(stat: Path = PROC_STAT) -> CpuReading | None:
    """The CPU seconds now; None where the kernel does not publish them (/proc/stat: Linux only)."""
    try:
        first_line = stat.read_text(encoding="ascii").split("\n", 1)[0].split()
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in first_line[1:9])
    except (OSError, ValueError):
        return None
    own = os.times()
    return CpuReading((user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK"), own.user + own.system,
                      time.monotonic())


def cores_busy_elsewhere(before: CpuReading, after: CpuReading) -> float:
    """Cores other programs kept busy between two readings, on average."""
    elapsed = after.at - before.at
    if elapsed <= 0:
        return 0.0
    others = (after.busy_seconds - before.busy_seconds) - (after.own_seconds - before.own_seconds)
    return max(0.0, others / elapsed)


class OtherProgramsLoad:
    """The cores other programs keep busy, over windows of at least `window` seconds."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._since = read_cpu()
        self.cores: float | None = None  # None until a window has passed (or on a system without /proc/stat)

    def update(self) -> float | None:
        """Close the window if it is long enough; the latest figure."""
        now = read_cpu()
        if now is None or self._since is None:
            return None
        if now.at - self._since.at >= self.window:
            self.cores, self._since = cores_busy_elsewhere(self._since, now), now
        return self.cores

    def note(self) -> str:
        """What to show beside tok/s while other programs slow generation (" (1.4 of 2 cores busy elsewhere)"), else ""."""
        if self.cores is None or self.cores < BUSY_ENOUGH_TO_SHOW:
            return ""
        return f" ({self.cores:.1f} of {os.cpu_count() or 1} cores busy elsewhere)"
