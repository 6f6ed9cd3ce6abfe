"""The app's terminal driver once its terminal is gone: nothing more written, no restart, no wait on a dead
writer, and the app told. A pseudo-terminal stands for the terminal; closing its other end is the hangup."""

from __future__ import annotations

import os
import threading

import pytest
from textual.drivers.linux_driver import LinuxDriver

from tui.app.hangup_driver import HangupTolerantDriver, TerminalClosed


@pytest.fixture
def terminal():
    """The driver's side of a pseudo-terminal, and a function that closes the other side (a window closed)."""
    master, slave = os.openpty()
    closed = []

    def close() -> None:
        os.close(master)
        closed.append(True)

    yield slave, close
    if not closed:
        os.close(master)
    os.close(slave)


def driver_on(slave: int) -> HangupTolerantDriver:
    """The driver, with none of its application mode set up: only the descriptor these methods read."""
    driver = object.__new__(HangupTolerantDriver)
    driver.input_tty, driver.fileno = True, slave
    return driver


def test_once_its_terminal_is_gone_the_driver_writes_nothing_restarts_nothing_and_waits_for_no_writer(monkeypatch, terminal):
    slave, close = terminal
    passed_on = []
    for name in ("write", "resume_application_mode", "close"):
        monkeypatch.setattr(LinuxDriver, name, lambda self, *args, name=name: passed_on.append(name))
    driver = driver_on(slave)

    def use() -> None:
        driver.write("\x1b[?25h")
        driver.resume_application_mode()
        driver.close()

    use()
    assert passed_on == ["write", "resume_application_mode", "close"]
    close()
    passed_on.clear()
    use()
    assert passed_on == []


def test_the_app_is_told_once_its_terminal_hangs_up_and_the_watch_ends_with_application_mode(terminal):
    slave, close = terminal
    driver = driver_on(slave)
    told = []
    driver.send_message = told.append
    stopped = threading.Event()
    watch = threading.Thread(target=driver.watch_for_hangup, args=(stopped,), daemon=True)
    watch.start()
    close()
    watch.join(timeout=10)
    assert not watch.is_alive() and [type(message) for message in told] == [TerminalClosed]

    # With the terminal still there, the watch ends when application mode stops, having told nothing.
    master, other = os.openpty()
    try:
        quiet = driver_on(other)
        quiet.send_message = told.append
        stopped = threading.Event()
        watch = threading.Thread(target=quiet.watch_for_hangup, args=(stopped,), daemon=True)
        watch.start()
        stopped.set()
        watch.join(timeout=10)
        assert not watch.is_alive() and len(told) == 1
    finally:
        os.close(master)
        os.close(other)
