"""llama.cpp's llama-server, started by smolgen on 127.0.0.1 with a GGUF and several slots, and stopped
on exit, Ctrl-C and crash alike (the child is told to die with its parent)."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tui.engine.errors import BadInput, SmolgenError
from tui.engine.model import physical_cores
from tui.engine.model_file import default_model_path, inspect_model

# Slots of a local server when none are asked for: 4 sequences decoded together beat 1 on 2 cores.
DEFAULT_SLOTS = 4
# Context per slot: room for a long prompt (SelfInstruct's list, a chain's instruction) and its answer.
CONTEXT_PER_SLOT = 2048
STARTUP_TIMEOUT_SECONDS = 120.0
_PR_SET_PDEATHSIG = 1


class LocalServerFailed(SmolgenError):
    """The local llama-server did not start or did not become healthy."""


def find_llama_server() -> Path:
    """The llama-server `make` built (linked beside the venv's python), else one on PATH."""
    beside = Path(sys.executable).parent / "llama-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("llama-server")
    if found:
        return Path(found)
    raise BadInput("--local-server: llama-server is not built here; run `make server` (or put llama-server on PATH)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when smolgen exits for any reason."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class LocalServer:
    """One llama-server process; `with LocalServer(...) as server:` gives `server.url` once it is healthy."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        slots: int = DEFAULT_SLOTS,
        context_per_slot: int = CONTEXT_PER_SLOT,
        threads: int | None = None,
        binary: Path | None = None,
    ):
        if slots < 1:
            raise BadInput(f"--local-server {slots}: slots must be at least 1")
        self.info = inspect_model(model_path if model_path is not None else default_model_path())
        self.slots = slots
        self.context_per_slot = context_per_slot
        self.threads = threads or physical_cores()
        self.binary = binary or find_llama_server()
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile(prefix="smolgen-llama-server-")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--model", str(self.info.path),
            "--alias", self.info.path.name,  # the model's name in /models: the file's, not its full path
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--parallel", str(self.slots),
            "--ctx-size", str(self.context_per_slot * self.slots),
            "--threads", str(self.threads),
            "--threads-batch", str(self.threads),
        ]

    def start(self) -> "LocalServer":
        """Start the server and wait until `/health` answers 200; raises LocalServerFailed otherwise."""
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        health = f"http://127.0.0.1:{self.port}/health"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise LocalServerFailed(f"llama-server exited with status {self.process.returncode}: {self._last_lines()}")
                try:
                    if client.get(health).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise LocalServerFailed(f"llama-server did not become healthy in {STARTUP_TIMEOUT_SECONDS:.0f} s: {self._last_lines()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _last_lines(self, count: int = 3) -> str:
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return " | ".join(lines[-count:]) or "no output"

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
        self._log.close()
