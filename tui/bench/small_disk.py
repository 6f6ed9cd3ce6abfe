"""Real disk faults for tests and `smolgen bench faults`: a tiny tmpfs that fills up, remounted read-only or larger.

Mounting needs root (or CAP_SYS_ADMIN); without it `CannotMount` says why and callers skip.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path


class CannotMount(Exception):
    """Mounting a tmpfs is not permitted here."""


def _mount(*args: str) -> None:
    try:
        result = subprocess.run(["mount", *args], capture_output=True, text=True)
    except OSError as error:
        raise CannotMount(f"mount: {error.strerror}") from None
    if result.returncode:
        raise CannotMount(result.stderr.strip() or f"mount exited with {result.returncode}")


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of `size` bytes mounted on `folder` while the block runs, unmounted after."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def remount(folder: Path, options: str) -> None:
    """Change a mounted small disk: "ro" makes it read-only, "rw,size=1m" writable and larger."""
    _mount("-o", f"remount,{options}", str(folder))
