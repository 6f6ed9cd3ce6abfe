"""Textual's Linux driver for a terminal that can close under the app (a window closed: SIGHUP).

Once its terminal is gone, Textual's writer thread dies at its next write (EIO) and the queue in front of it
fills: a later write blocks the app for good, at the latest as the shutdown restores the terminal. The
SIGCONT the kernel sends with the SIGHUP also restarts application mode, writing to the closed terminal
again. This driver writes nothing once its terminal is gone, so the app quits as at ctrl+q.
"""

from __future__ import annotations

import os

from textual.drivers.linux_driver import LinuxDriver


class HangupTolerantDriver(LinuxDriver):
    def terminal_gone(self) -> bool:
        """Whether the terminal the app started in has closed (its descriptor no longer a terminal)."""
        return self.input_tty and not os.isatty(self.fileno)

    def write(self, data: str) -> None:
        if not self.terminal_gone():
            super().write(data)

    def resume_application_mode(self) -> None:
        # A hangup's SIGCONT is no return from ctrl+z: there is no terminal to set up again.
        if not self.terminal_gone():
            super().resume_application_mode()

    def close(self) -> None:
        # Its writer thread may have died at a write with its queue full: no waiting on it (a daemon, it ends with the process).
        if not self.terminal_gone():
            super().close()
