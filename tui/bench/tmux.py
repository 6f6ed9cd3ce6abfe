"""A detached tmux session of fixed size running one command: a real terminal for benchmarks and tests.

Each terminal has a tmux server of its own, started from this process's environment: a server shared
with earlier sessions would hand new ones the environment it was started with (and a person's own
tmux configuration). The screen is read with capture-pane and waited on by polling it; keys go in with
send-keys.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable

from tui.engine.errors import BadInput

NEW_SESSION_ATTEMPTS = 4


def model_described(screen: str) -> bool:
    """The app's status bar describes a loaded model ("FILE.gguf (its name) · 135M · …"), no longer "Loading FILE.gguf…"."""
    return ".gguf (" in screen and "Loading " not in screen and "No model" not in screen


def process_ended(pid: int) -> bool:
    """Whether process `pid` has exited: gone, or a zombie not reaped yet (tmux reaps its pane's process a
    second or more after it exits, and closes the session only then)."""
    if not os.path.isdir("/proc/self"):  # no /proc: only whether the process is there at all
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def require_tmux(command: str) -> None:
    if shutil.which("tmux") is None:
        raise BadInput(f"{command}: tmux is not installed (apt-get install tmux)")


class Terminal:
    def __init__(self, command: list[str], cwd: Path | None = None, width: int = 100, height: int = 32,
                 env: dict[str, str] | None = None):
        self.name = f"smolgen-{uuid.uuid4().hex[:8]}"
        self._tmux = ["tmux", "-L", self.name, "-f", "/dev/null"]
        # COLUMNS and LINES: a pane started from another program may not report its size to the app.
        assignments = [f"{key}={value}" for key, value in {**(env or {}), "COLUMNS": width, "LINES": height}.items()]
        where = ["-c", str(cwd)] if cwd is not None else []
        new_session = [*self._tmux, "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), *where, "env", *assignments, *command]
        for attempt in range(NEW_SESSION_ATTEMPTS):
            # A busy machine may keep the new server from answering at once: "server exited unexpectedly".
            result = subprocess.run(new_session, capture_output=True, text=True)
            if result.returncode == 0:
                break
            time.sleep(0.2 * (attempt + 1))
        else:
            raise BadInput(f"tmux could not open a session: {result.stderr.strip() or result.returncode}")
        subprocess.run([*self._tmux, "resize-window", "-t", self.name, "-x", str(width), "-y", str(height)], capture_output=True)

    def screen(self) -> str | None:
        """The visible screen, None once the command has ended (its session closes with it)."""
        result = subprocess.run([*self._tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return result.stdout if result.returncode == 0 else None

    def wait_until(self, seen: Callable[[str], bool], what: str, timeout: float = 60.0, poll: float = 0.1) -> float:
        """The moment `seen(screen)` first held; a clear error if the command ended or it never did."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            screen = self.screen()
            if screen is None:
                raise BadInput(f"the program in the terminal exited before {what}")
            if seen(screen):
                return time.perf_counter()
            time.sleep(poll)
        raise BadInput(f"no {what} after {timeout:.0f} s; the screen shows:\n{self.screen()}")

    def wait_for(self, text: str, timeout: float = 60.0, poll: float = 0.1) -> float:
        """The moment `text` was first on the screen."""
        return self.wait_until(lambda screen: text in screen, repr(text), timeout, poll)

    def wait_gone(self, timeout: float = 60.0, poll: float = 0.1) -> float:
        """The moment the command ended."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.alive():
                return time.perf_counter()
            time.sleep(poll)
        raise BadInput(f"the program in the terminal did not end within {timeout:.0f} s")

    def wait_exited(self, pid: int, timeout: float = 60.0, poll: float = 0.05) -> float:
        """The moment the command (`pid`, its `pane_pid()` taken while it ran) exited, which tmux notices
        only a second or more later (`wait_gone`)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if process_ended(pid):
                return time.perf_counter()
            time.sleep(poll)
        raise BadInput(f"the program in the terminal did not end within {timeout:.0f} s")

    def keys(self, *keys: str) -> None:
        subprocess.run([*self._tmux, "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run([*self._tmux, "send-keys", "-t", self.name, "-l", text], check=True)

    def pane_pid(self) -> int:
        """The process id of the command running in the terminal."""
        result = subprocess.run([*self._tmux, "list-panes", "-t", self.name, "-F", "#{pane_pid}"], capture_output=True, text=True)
        return int(result.stdout)

    def alive(self) -> bool:
        return subprocess.run([*self._tmux, "has-session", "-t", self.name], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run([*self._tmux, "kill-session", "-t", self.name], capture_output=True)

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
