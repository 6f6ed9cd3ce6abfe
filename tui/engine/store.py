"""The local JSON store: seeds, samples and runs in one tinydb file, plus a journal beside it.

tinydb rewrites its whole file on every write, which costs seconds per sample at 10,000 samples. So
each change is appended to `<store>.journal` as JSON lines and fsynced once (a cost that does not grow
with the store; see tui/engine/journal.py), and the journal is folded into the tinydb file, written
atomically (temporary file, fsync, rename), when the store is opened, closed, or the journal outgrows
the snapshot (so a rewrite of the whole store is paid for by as many bytes of journal: constant per
write, amortised). The snapshot is written a record a line, so export can stream it
(tui/engine/store_reader.py) instead of holding the store as this class does. A fold that cannot be written (a full disk) waits for a later one: the journal
keeps every change meanwhile.

`kill -9` at any moment, a fold included, leaves a valid snapshot plus a journal whose complete lines
hold every finished sample; a line torn by the kill is the change in progress, moved aside to
`<store>.damaged`. A write that fails (a full disk) leaves the store exactly as before that change,
on disk and in memory. A store opened `read_only` never writes: reading works on a full disk or a
read-only folder. A lock file keeps a second process out with a clear message; a file that is not a
store, or a journal with damaged lines, is reported, never overwritten. A store opened `read_only` takes
no lock: `smolgen export` and `smolgen stats` read a store while the app or a run writes it.

Reads go straight to the raw tables rather than through tinydb's Documents (a copy of every record
per call), and bulk work runs with the cyclic garbage collector paused: at 100,000 samples its passes
over millions of fresh objects cost more than the work itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gc
import logging
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator, MutableMapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from tui.engine.errors import BadInput, StoreDamaged, StoreError, StoreLocked, StoreUnwritable
from tui.engine.journal import JournalWriter, Replay, read_journal, replay, write_all
from tui.engine.preferences import TECHNIQUE as PREFERENCE, Pick, human_decision

log = logging.getLogger("smolgen.store")

DEFAULT_STORE = Path("smolgen.json")
STATUSES = ("new", "accepted", "rejected", "failed")
# Statuses a person curates; "failed" rows only explain what went wrong.
REVIEW_STATUSES = ("new", "accepted", "rejected")

# Test-only: the name of a step of the fold at which the process kills itself (tests/test_store_crash.py).
_CRASH_AT = os.environ.get("SMOLGEN_TEST_CRASH_AT")


def _crash_point(step: str) -> None:
    if step == _CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)


def journal_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".journal")


def store_exists(store_path: Path) -> bool:
    """A store is at `store_path`: its snapshot, or a journal not yet folded into one."""
    return store_path.exists() or journal_path(store_path).exists()


def check_store_exists(store_path: Path, doing: str) -> None:
    """Bad input for a command that reads a store when none is at `store_path`: reading never creates one."""
    if not store_exists(store_path):
        raise BadInput(f"{store_path}: no store here (nothing to {doing})")


def damaged_path(store_path: Path) -> Path:
    """Where lines the store cannot use are kept, never deleted: torn last lines and repaired damage."""
    return store_path.with_name(store_path.name + ".damaged")


def keep_aside(store_path: Path, lines: Iterable[bytes]) -> Path:
    """Append raw journal lines to the store's `.damaged` file, fsynced; returns its path."""
    path = damaged_path(store_path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            write_all(fd, b"".join(line + b"\n" for line in lines))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        raise StoreUnwritable(f"{path}: cannot write ({error.strerror})") from None
    return path


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


SNAPSHOT_OPENING = b"{\n"  # how a snapshot written a record a line starts
# Fold the journal into the snapshot once it holds this many bytes and more than the snapshot...
COMPACT_AFTER_BYTES = 64 * 1024 * 1024
# ...and on close while the whole store is small enough to rewrite in a blink (quitting stays fast).
COMPACT_ON_CLOSE_BELOW_BYTES = 16 * 1024 * 1024


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that all stay alive.

    Store records hold no cycles, so nothing is leaked; the collector only rescans them meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class AtomicJSONStorage(Storage):
    """tinydb storage kept in memory; `snapshot()` writes it to disk as UTF-8 JSON, atomically.

    tinydb calls `write` after every change; durability comes from the journal, so that is free.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._cache: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        if self._cache is None:
            self._cache = self._load()
        return self._cache

    def _load(self) -> dict[str, Any] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"{self.path}: cannot read the store ({error.strerror})") from None
        if not raw.strip():
            return None
        try:
            with paused_gc():
                data = orjson.loads(raw)
                # The records live as long as the store: keep the collector from ever rescanning them
                # (otherwise the first write after opening pays for a scan of every record).
                gc.freeze()
        except orjson.JSONDecodeError as error:
            raise StoreError(f"{self.path}: not a readable smolgen store ({error}); it was left untouched") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise StoreError(f"{self.path}: not a smolgen store (expected tables of records); it was left untouched")
        return data

    def write(self, data: dict[str, Any]) -> None:
        self._cache = data

    def reload(self) -> dict[str, Any]:
        """Read the file again, forgetting every change made in memory since."""
        self._cache = None
        if self.read() is None:
            self._cache = {}
        return self._cache

    def snapshot(self) -> int:
        """Write the whole state to the store file atomically; returns its size in bytes."""
        data = snapshot_bytes(self.read() or {})
        tmp = temporary_snapshot_path(self.path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            try:
                half = len(data) // 2  # written in two halves only so that a test can crash between them
                write_all(fd, data[:half])
                _crash_point("snapshot-half-written")
                write_all(fd, data[half:])
                _crash_point("before-snapshot-fsync")
                os.fsync(fd)
            finally:
                os.close(fd)
            _crash_point("before-rename")
            os.replace(tmp, self.path)
            _crash_point("before-folder-fsync")
            fsync_folder(self.path.parent)
        except OSError as error:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise StoreUnwritable(f"{self.path}: cannot write the store ({error.strerror})") from None
        return len(data)

    def close(self) -> None:
        self._cache = None


def snapshot_bytes(tables: dict[str, dict[str, Any]]) -> bytes:
    """The tables as one JSON object (UTF-8, by orjson: ten times faster than json.dump) with every table's
    opening and every record on a line of its own, so a reader can take the store a record at a time
    (tui/engine/store_reader.py); JSON strings never hold a raw newline, so each newline is structure."""
    parts = []
    for name, records in tables.items():
        lines = b",\n".join(orjson.dumps({key: doc})[1:-1] for key, doc in records.items())
        parts.append(orjson.dumps(name) + b":{\n" + lines + b"\n}")
    return SNAPSHOT_OPENING + b",\n".join(parts) + b"\n}\n"


def record_a_line(path: Path) -> bool:
    """Whether the snapshot at `path` is written a record a line (`snapshot_bytes`), as stores folded by
    earlier versions of smolgen, all on one line, are not."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SNAPSHOT_OPENING)) == SNAPSHOT_OPENING
    except OSError:
        return False


def temporary_snapshot_path(store_path: Path) -> Path:
    """The file a snapshot is written to before it is renamed over the store."""
    return store_path.with_name(f".{store_path.name}.{os.getpid()}.tmp")


def _remove_stale_snapshots(store_path: Path) -> None:
    """Delete snapshots a killed process left half written: the store and its journal hold all they held."""
    for stale in store_path.parent.glob(f".{store_path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


class _IntKeyedView(MutableMapping):
    """A raw tinydb table (string keys) seen with int keys and changed in place."""

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw

    def __getitem__(self, key: int) -> Any:
        return self.raw[str(key)]

    def __setitem__(self, key: int, value: Any) -> None:
        self.raw[str(key)] = value

    def __delitem__(self, key: int) -> None:
        del self.raw[str(key)]

    def __iter__(self):
        return (int(key) for key in self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def __contains__(self, key: object) -> bool:
        return str(key) in self.raw


class InPlaceTable(Table):
    """A tinydb Table whose writes touch only the records they change.

    tinydb's own `_update_table` copies the whole table twice on every insert or update, a cost that
    grows with the store; changing the raw table in place makes a write O(1).
    """

    def __init__(self, storage: Storage, name: str, *args: Any, **kwargs: Any):
        super().__init__(storage, name, *args, **kwargs)
        # The next id, found as part of opening: tinydb would scan every id in the first write instead.
        self._next_id = max(map(int, (storage.read() or {}).get(name, {})), default=0) + 1

    @property
    def last_id(self) -> int:
        """The highest id given so far (0 for an empty table)."""
        if self._next_id is None:  # tinydb forgets it when a table is truncated
            return max(map(int, self._read_table()), default=0)
        return self._next_id - 1

    def _update_table(self, updater) -> None:
        tables = self._storage.read()
        if tables is None:
            tables = {}
        updater(_IntKeyedView(tables.setdefault(self.name, {})))
        self._storage.write(tables)
        self.clear_cache()


class _StoreDB(TinyDB):
    table_class = InPlaceTable


def fsync_folder(folder: Path) -> None:
    """Make a rename or a removal in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StoreLock:
    """An exclusive lock on `<store>.lock` holding the owner's PID; the OS frees it if we die, and a clean
    close removes the file."""

    def __init__(self, store_path: Path):
        self.path = store_path.with_name(store_path.name + ".lock")
        self.store_path = store_path
        self._handle = None

    def acquire(self, read_only: bool = False) -> None:
        """Take the lock; a reader in a folder nobody can write in needs none (no writer can be there)."""
        while True:
            handle = self._open(read_only)
            if handle is None:
                return
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                owner = handle.read().strip() or "unknown"
                handle.close()
                raise StoreLocked(f"{self.store_path}: in use by PID {owner} (another smolgen); close it or use --store") from None
            if self._still_named(handle):
                break
            handle.close()  # its owner removed the file between our open and our lock: lock the new one
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
        except OSError:
            pass  # the PID only names the owner in a message: a full disk must not keep a reader out
        self._handle = handle

    def _open(self, read_only: bool) -> Any:
        try:
            return open(self.path, "a+", encoding="utf-8")
        except OSError as error:
            if not read_only:
                raise StoreUnwritable(
                    f"{self.store_path}: cannot write in {self.path.parent} ({error.strerror}); "
                    "stats, export and seeds list can still read it"
                ) from None
            try:
                return open(self.path, encoding="utf-8")
            except OSError:
                return None

    def _still_named(self, handle: Any) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Remove the lock file while still holding it (so no one locks a file about to vanish), then let go."""
        if self._handle is not None:
            with contextlib.suppress(OSError):  # a read-only folder keeps the file; the lock still ends
                self.path.unlink()
            with contextlib.suppress(OSError):  # an unwritten PID on a full disk fails again on close
                self._handle.close()
            self._handle = None


def check_store_path(path: Path) -> None:
    """StoreError for a path no store can be at: a folder, or a file in a folder that does not exist."""
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a store file")
    if not path.parent.is_dir():
        raise StoreError(f"{path}: folder {path.parent} does not exist")


def damaged_journal(path: Path, found: Replay) -> StoreDamaged:
    """The error for a store whose journal has damaged lines: which, and the command that mends them."""
    lines = ", ".join(str(line.number) for line in found.damaged[:5]) + (", …" if len(found.damaged) > 5 else "")
    return StoreDamaged(
        f"{journal_path(path)}: damaged line{'s' if len(found.damaged) > 1 else ''} {lines} (of {found.lines}); "
        f"nothing was changed: `smolgen store repair --store {path}` keeps every readable change"
    )


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced or rewritten; None when there is none."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


def _locked(method):
    """Serialise store access: the app's generating thread and its UI thread share one store."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper


def _writes(method):
    """A change: serialised like a read, refused before it touches memory when the store cannot be written."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._mutex:
            if self._writer is None:
                raise StoreUnwritable(f"{self.path}: opened for reading only; nothing can be changed")
            return method(self, *args, **kwargs)

    return wrapper


class SampleStore:
    """Seeds, samples and runs of one dataset, persisted at every change. Safe to share between threads.

    `read_only` opens it without writing a byte (no fold, no journal): for commands that only read.
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, read_only: bool = False):
        self.path = Path(path)
        check_store_path(self.path)
        self._mutex = threading.RLock()
        self._lock = StoreLock(self.path)
        if not read_only:  # a reader takes no lock: it reads while the app or a run writes
            self._lock.acquire()
        self._writer: JournalWriter | None = None
        self._fold_deferred = False  # a fold failed to write: the next is tried on close
        try:
            self._db = _StoreDB(self.path, storage=AtomicJSONStorage)
            found = self._load() if not read_only else self._load_beside_a_writer()
            if found.damaged:
                raise damaged_journal(self.path, found)
            if not read_only:
                self._open_for_writing(found.complete_bytes, found.torn)
        except BaseException:
            if self._writer is not None:
                self._writer.close()
            self._lock.release()
            raise
        self._seeds = self._db.table("seeds")
        self._samples = self._db.table("samples")
        self._runs = self._db.table("runs")
        self._cache = self._db.table("cache")
        self._cache_ids = self._signatures()
        # Samples by status, counted once and then kept up to date: the app shows them every second of a run.
        self._status_counts: Counter | None = None

    @property
    def read_only(self) -> bool:
        return self._writer is None

    def _load(self) -> Replay:
        """The snapshot with the journal's readable lines applied, in memory; what the journal held."""
        data = self._db.storage.reload()  # fails on a corrupt file, before anything is written
        with paused_gc():
            found = replay(read_journal(journal_path(self.path)), data)
        self._snapshot_bytes = self.path.stat().st_size if self.path.exists() else 0
        return found

    def _load_beside_a_writer(self) -> Replay:
        """`_load` for a reader, which a writer may fold under: a journal is read again onto its own result
        harmlessly, but a snapshot replaced while the journal was read may have lost its lines to the fold,
        so the read is done again. A line the writer is still appending is left out, not reported."""
        while True:
            before = file_identity(self.path)
            found = self._load()
            if file_identity(self.path) == before:
                return found

    def _open_for_writing(self, journal_bytes: int, torn: bytes) -> None:
        self._writer = JournalWriter(journal_path(self.path), journal_bytes)
        if torn:
            # The change a stopped process was writing never finished; its bytes are kept, not applied.
            keep_aside(self.path, [torn])
            self._writer.cut(journal_bytes)
        _remove_stale_snapshots(self.path)
        if not self.path.exists() or self._journal_outgrown() or not record_a_line(self.path):
            self._fold()

    def _signatures(self) -> dict[str, int]:
        return {doc["signature"]: int(key) for key, doc in self._records("cache").items() if "signature" in doc}

    def _records(self, table: str) -> dict[str, Any]:
        """The raw records of a table by string id; never handed out, only copied from."""
        return (self._db.storage.read() or {}).get(table, {})

    def _journal_outgrown(self) -> bool:
        # Relative to the snapshot, so rewriting the whole store costs each write a constant share.
        return self._writer.length > max(COMPACT_AFTER_BYTES, self._snapshot_bytes) and not self._fold_deferred

    def _fold(self) -> None:
        """Fold the journal into the snapshot: write the snapshot atomically, then empty the journal.

        A fold that cannot be written (a full disk) changes nothing and waits for the close."""
        try:
            self._snapshot_bytes = self._db.storage.snapshot()
            _crash_point("before-journal-truncate")
            self._writer.cut(0)
        except StoreUnwritable as error:
            log.warning("the journal is folded into the store later: %s", error)
            self._fold_deferred = True

    def _journal(self, changes: list[dict[str, Any]]) -> None:
        """Append changes already made in memory; when that fails, memory is put back as the disk has it."""
        try:
            self._writer.append(changes)
        except StoreUnwritable:
            self._db.storage.reload()
            with paused_gc():
                replay(read_journal(journal_path(self.path))[: self._writer.length], self._db.storage.read())
            self._cache_ids = self._signatures()
            self._status_counts = None
            for table in (self._seeds, self._samples, self._runs, self._cache):
                table.clear_cache()
            raise
        if self._journal_outgrown():
            self._fold()

    def _put(self, table: Any, doc_ids: Iterable[int]) -> None:
        """Journal the current state of records just inserted or changed in `table`."""
        records = self._records(table.name)
        self._journal(
            [{"op": "put", "t": table.name, "id": doc_id, "doc": records[str(doc_id)]} for doc_id in doc_ids if str(doc_id) in records]
        )

    def _set_fields(self, table: Any, doc_ids: list[int], fields: dict[str, Any]) -> None:
        """Change the same fields of many records, journalled as one line (a bulk change is all or nothing)."""
        table.update(fields, doc_ids=doc_ids)
        self._journal([{"op": "set", "t": table.name, "ids": doc_ids, "fields": fields}])

    def _delete(self, table: Any, doc_ids: list[int]) -> None:
        table.remove(doc_ids=doc_ids)
        self._journal([{"op": "del", "t": table.name, "ids": doc_ids}])

    @_locked
    def close(self) -> None:
        """Fold the journal in if the store is small (a fold that cannot be written waits); never raises
        for a full disk: every change is on disk already."""
        writer = self._writer
        try:
            if writer is not None and writer.length and self._snapshot_bytes + writer.length < COMPACT_ON_CLOSE_BELOW_BYTES:
                self._fold_deferred = False
                self._fold()
        finally:
            if writer is not None:
                writer.close()
                if not self._fold_deferred and writer.length == 0:
                    with contextlib.suppress(OSError):
                        journal_path(self.path).unlink()
            self._db.close()
            self._lock.release()

    def __enter__(self) -> "SampleStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Seeds -------------------------------------------------------------------------------------

    @_writes
    def add_seeds(self, rows: Iterable[dict[str, Any]], source: str = "") -> list[int]:
        """Store seed rows (dicts of columns); new seeds are selected for the next run."""
        docs = [{"row": row, "source": source, "selected": True, "created": now_iso()} for row in rows]
        ids = self._seeds.insert_multiple(docs) if docs else []
        self._put(self._seeds, ids)
        return ids

    @_locked
    def list_seeds(self, selected_only: bool = False) -> list[dict[str, Any]]:
        with paused_gc():
            return [_with_id(k, d) for k, d in self._records("seeds").items() if d.get("selected", True) or not selected_only]

    @_writes
    def update_seed(self, seed_id: int, **fields: Any) -> None:
        self._seeds.update(fields, doc_ids=[seed_id])
        self._put(self._seeds, [seed_id])

    @_writes
    def delete_seeds(self, seed_ids: Iterable[int]) -> None:
        self._delete(self._seeds, list(seed_ids))

    # Runs --------------------------------------------------------------------------------------

    @_writes
    def start_run(self, **fields: Any) -> int:
        run_id = self._runs.insert({**fields, "started": now_iso(), "status": "running"})
        self._put(self._runs, [run_id])
        return run_id

    @_writes
    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        self._runs.update({"status": status, "summary": summary, "finished": now_iso()}, doc_ids=[run_id])
        self._put(self._runs, [run_id])

    @_locked
    def list_runs(self) -> list[dict[str, Any]]:
        return [_with_id(k, d) for k, d in self._records("runs").items()]

    # Samples -----------------------------------------------------------------------------------

    def add_sample(self, sample: dict[str, Any]) -> int:
        """Write one finished sample; it is on disk when this returns."""
        return self.add_samples([sample])[0]

    @_writes
    def add_samples(self, samples: list[dict[str, Any]]) -> list[int]:
        """Write finished samples with one journal append (one fsync): all are on disk when this returns,
        or, when the disk refuses, none is stored and StoreUnwritable is raised."""
        created = now_iso()
        docs = [{"status": "new", "created": created, **sample} for sample in samples]
        sample_ids = self._samples.insert_multiple(docs)
        self._put(self._samples, sample_ids)
        if self._status_counts is not None:
            self._status_counts.update(doc["status"] for doc in docs)
        return sample_ids

    @_locked
    def get_sample(self, sample_id: int) -> dict[str, Any]:
        doc = self._records("samples").get(str(sample_id))
        if doc is None:
            raise StoreError(f"{self.path}: no sample with id {sample_id}")
        return _with_id(sample_id, doc)

    @_locked
    def list_samples(
        self, statuses: Iterable[str] | None = None, technique: str | None = None, run_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Copies of the samples (in the order they were stored) that match every given filter."""
        wanted = set(statuses) if statuses is not None else None
        result = []
        with paused_gc():
            for key, doc in self._records("samples").items():
                if wanted is not None and doc.get("status") not in wanted:
                    continue
                if technique is not None and doc.get("technique") != technique:
                    continue
                if run_id is not None and doc.get("run_id") != run_id:
                    continue
                result.append(_with_id(key, doc))
        return result

    def iter_samples(self, statuses: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Copies of the samples with the given statuses in the order they were stored, made one at a time:
        memory holds one sample whatever the store's size. Samples stored meanwhile are left out."""
        wanted = set(statuses) if statuses is not None else None
        with self._mutex:
            last_id = self._samples.last_id
        # By id rather than over the table, which another thread may grow meanwhile.
        for sample_id in range(1, last_id + 1):
            with self._mutex:
                doc = self._records("samples").get(str(sample_id))
                if doc is None or (wanted is not None and doc.get("status") not in wanted):
                    continue
                sample = _with_id(sample_id, doc)
            yield sample

    @_writes
    def set_status(self, sample_ids: Iterable[int], status: str) -> None:
        if status not in REVIEW_STATUSES:
            raise StoreError(f"status {status!r} is not one of {', '.join(REVIEW_STATUSES)}")
        records = self._records("samples")
        ids = [sample_id for sample_id in sample_ids if str(sample_id) in records]
        if ids:
            before = [records[str(sample_id)].get("status", "new") for sample_id in ids]
            self._set_fields(self._samples, ids, {"status": status, "reviewed": now_iso()})
            if self._status_counts is not None:
                self._status_counts.subtract(before)
                self._status_counts[status] += len(ids)

    @_writes
    def set_judgement(self, sample_id: int, judgement: dict[str, Any]) -> None:
        """Keep a judge's verdict on a sample (`judge.Judgement.record()`); on disk when this returns."""
        if str(sample_id) not in self._records("samples"):
            raise StoreError(f"sample #{sample_id} is no longer in the store")
        self._set_fields(self._samples, [sample_id], {"judgement": judgement})

    @_writes
    def edit_sample(self, sample_id: int, conversation: list[dict[str, str]]) -> None:
        """Replace a sample's conversation, keeping the model's original text beside it."""
        sample = self.get_sample(sample_id)
        original = sample.get("original") or {
            "instruction": sample.get("instruction"),
            "response": sample.get("response"),
            "conversation": sample.get("conversation"),
        }
        self._samples.update(
            {
                "conversation": conversation,
                "instruction": _first(conversation, "user"),
                "response": _first(conversation, "assistant"),
                "original": original,
                "lengths": None,  # the text changed: token lengths are counted again when needed
                "judgement": None,  # and a judge's verdict was on the old text
                "edited": now_iso(),
            },
            doc_ids=[sample_id],
        )
        self._put(self._samples, [sample_id])

    @_writes
    def pick_preference(self, sample_id: int, pick: Pick) -> dict[str, Any]:
        """Record a person's pick ("left", "right" or "tie") between a preference sample's compared pair, over the
        judge's; durable when this returns. Returns the sample as stored now."""
        sample = self.get_sample(sample_id)
        if sample.get("technique") != PREFERENCE:
            raise StoreError(f"sample #{sample_id} is not a preference sample: there is no pair to pick from")
        self._samples.update({**human_decision(sample, pick), "picked": now_iso()}, doc_ids=[sample_id])
        self._put(self._samples, [sample_id])
        return self.get_sample(sample_id)

    @_writes
    def restore_sample(self, sample: dict[str, Any]) -> None:
        """Put a sample back exactly as a copy of it was (undoing an edit): fields it lacked are removed."""
        sample_id = sample["id"]
        records = self._records("samples")
        if str(sample_id) not in records:
            raise StoreError(f"sample #{sample_id} is no longer in the store")
        before = records[str(sample_id)].get("status", "new")
        doc = {key: value for key, value in sample.items() if key != "id"}

        def replace(record: dict[str, Any]) -> None:
            record.clear()
            record.update(doc)

        self._samples.update(replace, doc_ids=[sample_id])
        self._put(self._samples, [sample_id])
        if self._status_counts is not None:
            self._status_counts[before] -= 1
            self._status_counts[doc.get("status", "new")] += 1

    # Pipeline cache ------------------------------------------------------------------------------

    @_locked
    def cached_outputs(self) -> dict[str, dict[str, Any]]:
        """Every cached step output, by signature."""
        return {doc["signature"]: dict(doc) for doc in self._records("cache").values()}

    @_writes
    def put_cached_output(self, signature: str, entry: dict[str, Any]) -> None:
        """Keep one step's output for a row; durable when this returns, like a sample."""
        doc = {**entry, "signature": signature, "created": now_iso()}
        doc_id = self._cache_ids.get(signature)
        if doc_id is None:
            doc_id = self._cache_ids[signature] = self._cache.insert(doc)
        else:
            self._cache.update(doc, doc_ids=[doc_id])
        self._put(self._cache, [doc_id])

    @_locked
    def samples_by_run(self) -> Counter:
        """How many samples each run stored, failed ones left out."""
        return Counter(doc.get("run_id") for doc in self._records("samples").values() if doc.get("status") != "failed")

    @_locked
    def status_counts(self) -> Counter:
        if self._status_counts is None:
            self._status_counts = Counter(doc.get("status", "new") for doc in self._records("samples").values())
        return +self._status_counts  # a copy, without statuses no sample has any more

    @_locked
    def is_empty(self) -> bool:
        """Nothing stored: no seed, sample, run or cached output."""
        return not any((self._db.storage.read() or {}).get(table) for table in ("seeds", "samples", "runs", "cache"))


@contextlib.contextmanager
def opened_for_command(path: str | Path) -> Iterator[SampleStore]:
    """The store at `path` for a command that writes; one the command created is removed again if bad input ends
    the command before anything was stored, so refused input leaves the disk as it was."""
    path = Path(path)
    created = not store_exists(path)
    with SampleStore(path) as store:
        try:
            yield store
        except BadInput:
            if created and store.is_empty():
                path.unlink(missing_ok=True)  # still under the store's lock: nobody else opened it meanwhile
            raise


def _with_id(key: str | int, doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "id": int(key)}


def _first(conversation: list[dict[str, str]], role: str) -> str | None:
    return next((m["content"] for m in conversation if m.get("role") == role), None)


__all__ = ["SampleStore", "DEFAULT_STORE", "STATUSES", "REVIEW_STATUSES"]
