"""A store read a record at a time, so that reading it does not hold it: what export reads through.

`SampleStore` holds every record in memory (tinydb's way), which export, one pass over the samples,
does not need. The snapshot is written a record a line (`store.snapshot_bytes`), so this streams it,
parsing only the lines of the table asked for, and applies the journal's changes to each record as it
passes; a record only the journal holds comes after the snapshot's. Memory holds the journal's changes
(the store folds them into the snapshot as the journal grows) and one record.

The store's own rules hold: a journal with damaged lines is refused with the same message (and
`smolgen store repair`), a last line still being written is left out, no lock is taken and nothing is
written, and a fold by a writer meanwhile is noticed and the read begun again. A snapshot written by an
earlier version (all on one line) is read whole, as before, until a writer next opens the store.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

import orjson

from tui.engine.errors import StoreError
from tui.engine.journal import read_changes, read_journal
from tui.engine.store import (DEFAULT_STORE, SNAPSHOT_OPENING, check_store_path, damaged_journal, file_identity, journal_path,
                              paused_gc)


class StoreReader:
    """A read-only view of a store that streams its samples: `iter_samples`, `status_counts`, `list_runs`."""

    def __init__(self, path: str | Path = DEFAULT_STORE):
        self.path = Path(path)
        check_store_path(self.path)
        self._snapshot, journal = self._open_beside_a_writer()
        changes, found = read_changes(journal)
        if found.damaged:
            self.close()
            raise damaged_journal(self.path, found)
        self._changes: dict[str, dict[str, list[dict[str, Any]]]] = {}  # table -> record id -> its changes in order
        for change in changes:
            records = self._changes.setdefault(change["t"], {})
            for record_id in [change["id"]] if change["op"] == "put" else change["ids"]:
                records.setdefault(str(record_id), []).append(change)
        self._whole: dict[str, Any] | None = None  # a one-line snapshot, read whole
        self._status_counts: Counter | None = None
        self._runs: list[dict[str, Any]] | None = None

    def _open_beside_a_writer(self) -> tuple[BinaryIO | None, bytes]:
        """The snapshot, opened (a writer replaces it, never rewrites it, so the open file stays as it was),
        and the journal that goes with it: read again when a writer folded the journal in meanwhile."""
        while True:
            before = file_identity(self.path)
            try:
                snapshot: BinaryIO | None = open(self.path, "rb")
            except FileNotFoundError:
                snapshot = None
            except OSError as error:
                raise StoreError(f"{self.path}: cannot read the store ({error.strerror})") from None
            journal = read_journal(journal_path(self.path))
            opened = _identity(snapshot) if snapshot is not None else None
            if opened == before == file_identity(self.path):
                return snapshot, journal
            if snapshot is not None:
                snapshot.close()

    def close(self) -> None:
        """Let go of the snapshot file."""
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None

    def __enter__(self) -> "StoreReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def iter_samples(self, statuses: Iterable[str] | None = None, technique: str | None = None,
                     counted: Counter | None = None) -> Iterator[dict[str, Any]]:
        """Copies of the samples with the given statuses (and technique), in the order they were stored, one at
        a time. Every sample passed over, chosen or not, has its status counted, in `counted` when given: a
        pass to its end leaves `status_counts` with nothing to read again."""
        wanted = set(statuses) if statuses is not None else None
        counts = Counter() if counted is None else counted
        for record_id, doc in self._records("samples"):
            counts[doc.get("status", "new")] += 1
            if wanted is not None and doc.get("status") not in wanted:
                continue
            if technique is not None and doc.get("technique") != technique:
                continue
            yield {**doc, "id": int(record_id)}
        self._status_counts = Counter(counts)

    def status_counts(self) -> Counter:
        """How many samples have each status (a pass over the samples unless one has just been made)."""
        if self._status_counts is None:
            for _ in self.iter_samples(statuses=()):
                pass
        return +self._status_counts

    def list_runs(self) -> list[dict[str, Any]]:
        """Every run record, with its id."""
        if self._runs is None:
            self._runs = [{**doc, "id": int(record_id)} for record_id, doc in self._records("runs")]
        return list(self._runs)

    def _records(self, table: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(id, record) of every record of `table` with the journal's changes applied, snapshot first."""
        pending = dict(self._changes.get(table, {}))
        for record_id, doc in self._snapshot_records(table):
            doc = _changed(doc, pending.pop(record_id, ()))
            if doc is not None:
                yield record_id, doc
        for record_id in sorted(pending, key=int):  # records put since the last fold
            doc = _changed(None, pending[record_id])
            if doc is not None:
                yield record_id, doc

    def _snapshot_records(self, table: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if self._snapshot is None:
            return
        if self._whole is None:
            self._snapshot.seek(0)
            if self._snapshot.read(len(SNAPSHOT_OPENING)) != SNAPSHOT_OPENING:
                self._whole = self._read_whole()
        if self._whole is not None:
            yield from (self._whole.get(table) or {}).items()
            return
        self._snapshot.seek(0)
        yield from _table_lines(self._snapshot, table, self.path)

    def _read_whole(self) -> dict[str, Any]:
        self._snapshot.seek(0)
        raw = self._snapshot.read()
        if not raw.strip():
            return {}  # an empty file is an empty store, as the store itself reads it
        try:
            with paused_gc():
                data = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise _unreadable(self.path, str(error)) from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise _unreadable(self.path, "expected tables of records")
        return data


def _table_lines(snapshot: BinaryIO, table: str, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, record) of each record line of `table` in a snapshot written a record a line; the other
    tables' lines are passed over unparsed."""
    current: str | None = None
    for number, line in enumerate(snapshot, start=1):
        line = line.rstrip(b"\n").removesuffix(b",")
        if not line or (current is None and line in (b"{", b"}")):
            continue
        if current is None:
            if not line.endswith(b":{"):
                raise _unreadable(path, f"line {number} is neither a table nor a record")
            current = _parsed(line[:-2], path, number)
        elif line == b"}":
            current = None
        elif current == table:
            record = _parsed(b"{" + line + b"}", path, number)
            if len(record) != 1 or not isinstance(next(iter(record.values())), dict):
                raise _unreadable(path, f"line {number} is not one record")
            yield next(iter(record.items()))


def _parsed(raw: bytes, path: Path, number: int) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise _unreadable(path, f"line {number}: {error}") from None


def _changed(doc: dict[str, Any] | None, changes: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """A record after the journal's changes to it (None: not there), applied as the store applies them."""
    for change in changes:
        if change["op"] == "put":
            doc = change["doc"]
        elif change["op"] == "set":
            doc = None if doc is None else {**doc, **change["fields"]}
        else:
            doc = None
    return doc


def _identity(handle: BinaryIO) -> tuple[int, int, int]:
    status = os.fstat(handle.fileno())
    return status.st_ino, status.st_mtime_ns, status.st_size


def _unreadable(path: Path, why: str) -> StoreError:
    return StoreError(f"{path}: not a readable smolgen store ({why}); it was left untouched")
