"""SIGINT (Ctrl-C), SIGTERM (`kill`, systemd) and SIGHUP (a closed terminal) in the headless commands.

During a run the first one cancels it as escape does in the app: the sample in progress is dropped, the
run is recorded as cancelled with its counts and the summary printed; a second one stops at once.
Elsewhere each stops the command as Ctrl-C always did, closing the store on the way out. Either way
the exit status is 128 + the signal's number, as a shell reports a process a signal ended.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A signal stopped the command."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


@contextlib.contextmanager
def _handled(handler) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Each stop signal raises `Stopped` (a KeyboardInterrupt), so `with` blocks close what they opened."""

    def stop(signum: int, frame: object) -> None:
        raise Stopped(signum)

    with _handled(stop):
        yield


class RunSignals:
    """The run's cancel event, set by the first stop signal; `received` is that signal's number."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.received: int | None = None

    def _handle(self, signum: int, frame: object) -> None:
        if self.cancel.is_set():
            raise Stopped(signum)
        self.received = signum
        self.cancel.set()

    def exit_code(self) -> int:
        """0, or 128 + the signal that cancelled the run."""
        return 128 + self.received if self.received is not None else 0


@contextlib.contextmanager
def cancelled_by_signals() -> Iterator[RunSignals]:
    """While the block runs, the first stop signal sets `.cancel` instead of stopping the process."""
    signals = RunSignals()
    with _handled(signals._handle):
        yield signals


def run_exit_status(halt_reason: str | None, signals: RunSignals, dropped: str) -> int:
    """A run's last words and exit status: every server down (1), a stop signal (128 + it), else 0."""
    if halt_reason:
        print(f"smolgen: {halt_reason}", file=sys.stderr)
        return 1
    if signals.received is not None:
        print(f"smolgen: stopped by {signal_name(signals.received)}; the {dropped} in progress was dropped", file=sys.stderr)
    return signals.exit_code()
