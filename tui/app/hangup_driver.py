"""Textual's Linux driver for a terminal that can close under the app (a window closed: SIGHUP).

Once its terminal is gone, Textual's writer thread dies at its next write (EIO) and the queue in front of it
fills: a later write blocks the app for good, at the latest as the shutdown restores the terminal. The
SIGCONT the kernel sends with the SIGHUP also restarts application mode, writing to the closed terminal
again. This driver writes nothing once its terminal is gone, so the app quits as at ctrl+q.

A terminal can also close with no SIGHUP reaching the app (a script that ignores SIGHUP started it, or it
runs in a session of its own): Textual's input thread then reads end-of-file in a busy loop, a core spent
for good. So the driver also watches for its terminal's hangup and tells the app (`TerminalClosed`).
"""

from __future__ import annotations

import os
import select
import threading

from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

WATCH_PERIOD_SECONDS = 0.5  # how often the watch looks whether application mode stopped; a hangup wakes it at once


class TerminalClosed(Message):
    """The app's terminal has closed; it is told as a SIGHUP would (which may never come)."""


class HangupTolerantDriver(LinuxDriver):
    hangup_watch_stopped: threading.Event | None = None

    def terminal_gone(self) -> bool:
        """Whether the terminal the app started in has closed (its descriptor no longer a terminal)."""
        return self.input_tty and not os.isatty(self.fileno)

    def write(self, data: str) -> None:
        if not self.terminal_gone():
            super().write(data)

    def start_application_mode(self) -> None:
        super().start_application_mode()
        if self.input_tty:
            stopped = self.hangup_watch_stopped = threading.Event()
            threading.Thread(target=self.watch_for_hangup, args=(stopped,), name="hangup watch", daemon=True).start()

    def watch_for_hangup(self, stopped: threading.Event) -> None:
        """Until application mode stops: once the terminal hangs up, the app is told (once)."""
        poller = select.poll()
        poller.register(self.fileno, 0)  # no event asked for: only a hangup or an error is reported
        while not stopped.is_set():
            if poller.poll(WATCH_PERIOD_SECONDS * 1000):
                if self.terminal_gone():
                    self.send_message(TerminalClosed())
                    return
                stopped.wait(WATCH_PERIOD_SECONDS)  # an error that is no hangup: looked at again later, not in a busy loop

    def stop_application_mode(self) -> None:
        if self.hangup_watch_stopped is not None:
            self.hangup_watch_stopped.set()
        super().stop_application_mode()

    def resume_application_mode(self) -> None:
        # A hangup's SIGCONT is no return from ctrl+z: there is no terminal to set up again.
        if not self.terminal_gone():
            super().resume_application_mode()

    def close(self) -> None:
        # Its writer thread may have died at a write with its queue full: no waiting on it (a daemon, it ends with the process).
        if not self.terminal_gone():
            super().close()
