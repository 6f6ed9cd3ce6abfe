"""The store's journal: one JSON line per change (`put` a record, `set` fields of records, `del` records),
appended and fsynced, replayed onto the snapshot when the store is opened.

Replaying never writes: a line that cannot be read is set aside as a `DamagedLine` (the store then
refuses to open and points at `smolgen store repair`), and a last line with no newline is the change
a stopped process was writing, returned as `torn` for the writer to move out of the way. An append
that fails (a full disk) is cut back off the file, so the journal never holds half a change that a
later append would glue itself to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tui.engine.errors import StoreUnwritable

TABLES = ("seeds", "samples", "runs", "cache")


@dataclass(frozen=True)
class DamagedLine:
    """A complete journal line that is not a change smolgen wrote (bit rot, a bad sector, a stray edit)."""

    number: int  # 1-based, as an editor shows it
    raw: bytes  # without its newline
    reason: str


@dataclass
class Replay:
    """What replaying a journal found."""

    applied: int = 0
    damaged: list[DamagedLine] = field(default_factory=list)
    torn: bytes = b""  # a last line with no newline: a change whose append never returned
    complete_bytes: int = 0  # the length of the journal's complete lines, newlines included

    @property
    def lines(self) -> int:
        return self.applied + len(self.damaged)


def problem(change: Any) -> str | None:
    """Why a parsed journal line is not a change smolgen could have written; None when it is one."""
    if not isinstance(change, dict):
        return f"a JSON {type(change).__name__}, not a change"
    op, table = change.get("op"), change.get("t")
    if table not in TABLES:
        return f"unknown table {table!r}"
    if op == "put":
        if not _is_id(change.get("id")) or not isinstance(change.get("doc"), dict):
            return "a put without an id and a record"
    elif op in ("set", "del"):
        ids = change.get("ids")
        if not isinstance(ids, list) or not all(map(_is_id, ids)):
            return f"a {op} without a list of ids"
        if op == "set" and not isinstance(change.get("fields"), dict):
            return "a set without fields"
    else:
        return f"unknown operation {op!r}"
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def apply(change: dict[str, Any], data: dict[str, Any]) -> None:
    """Apply one checked change to the tables in `data`. Applying a journal again onto its own result
    changes nothing, so a crash between writing the snapshot and emptying the journal loses nothing."""
    table = data.setdefault(change["t"], {})
    if change["op"] == "put":
        table[str(change["id"])] = change["doc"]
    elif change["op"] == "set":
        for doc_id in change["ids"]:
            record = table.get(str(doc_id))
            if record is not None:
                record.update(change["fields"])
    else:
        for doc_id in change["ids"]:
            table.pop(str(doc_id), None)


def parse_line(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """A journal line as a change, or None and the reason it is damaged."""
    try:
        change = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return None, f"not JSON: {error.msg} at character {error.pos}"
    reason = problem(change)
    return (None, reason) if reason else (change, None)


def read_changes(raw: bytes) -> tuple[list[dict[str, Any]], Replay]:
    """The changes of every readable complete line of a journal's bytes, in order, and what the lines held;
    nothing is applied."""
    complete, newline, torn = raw.rpartition(b"\n")
    result = Replay(torn=torn, complete_bytes=len(complete) + len(newline))
    changes = []
    for number, line in enumerate(complete.split(b"\n") if newline else [], start=1):
        if not line.strip():
            continue  # an empty line carries no change
        change, reason = parse_line(line)
        if change is None:
            result.damaged.append(DamagedLine(number, line, reason or "damaged"))
        else:
            changes.append(change)
    result.applied = len(changes)
    return changes, result


def replay(raw: bytes, data: dict[str, Any]) -> Replay:
    """Apply every readable complete line of a journal's bytes to `data`; set aside the rest."""
    changes, result = read_changes(raw)
    for change in changes:
        apply(change, data)
    return result


def read_journal(path: Path) -> bytes:
    """The journal's bytes; empty when there is none."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to a file descriptor (a write may take only part of it); OSError when it cannot."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class JournalWriter:
    """Appends changes to `<store>.journal`; each append is on disk when it returns, or not there at all."""

    def __init__(self, path: Path, length: int):
        """Open the journal for appending; its first `length` bytes are complete lines."""
        self.path = path
        self._length = length
        self._broken: str | None = None  # why appends are refused: a failed one could not be cut back off
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as error:
            raise StoreUnwritable(f"{path}: cannot write the journal ({error.strerror})") from None

    @property
    def length(self) -> int:
        return self._length

    def append(self, changes: list[dict[str, Any]]) -> None:
        """Write changes and fsync them once: they survive a crash once this returns."""
        if not changes:
            return
        if self._broken is not None or self._fd is None:
            raise StoreUnwritable(self._broken or f"{self.path}: the journal is closed")
        data = b"".join(orjson.dumps(change) + b"\n" for change in changes)
        try:
            write_all(self._fd, data)
            os.fsync(self._fd)
        except OSError as error:
            message = f"{self.path}: cannot write the journal ({error.strerror})"
            try:
                os.ftruncate(self._fd, self._length)  # the part written is no change: take it back off
            except OSError:
                self._broken = f"{message}; the store must be opened again before the next change"
            raise StoreUnwritable(message) from None
        self._length += len(data)

    def cut(self, length: int) -> None:
        """Shorten the journal to `length` bytes (its changes are in the snapshot, or were never finished)."""
        try:
            os.ftruncate(self._fd, length)
            os.fsync(self._fd)
        except OSError as error:
            raise StoreUnwritable(f"{self.path}: cannot shorten the journal ({error.strerror})") from None
        self._length = length

    def close(self) -> None:
        """Close the file; every change is already on disk, so this never fails."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
