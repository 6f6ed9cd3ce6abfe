"""The local JSON store: seeds, samples and runs in one tinydb file, plus a journal beside it.

tinydb rewrites its whole file on every write, which costs seconds per sample at 10,000 samples. So
each change is appended to `<store>.journal` as JSON lines and fsynced once (a cost that does not grow
with the store), and the journal is folded into the tinydb file, written atomically (temporary
file, fsync, rename), when the store is opened, closed, or the journal outgrows the snapshot (so a
rewrite of the whole store is paid for by as many bytes of journal: constant per write, amortised).
`kill -9` at any moment leaves a valid snapshot plus a journal whose complete lines hold every
finished sample; a line torn by the kill is the change in progress and is dropped. A lock file keeps
a second process out with a clear message, and a file that is not a store is reported, never
overwritten.

Reads go straight to the raw tables rather than through tinydb's Documents (a copy of every record
per call), and bulk work runs with the cyclic garbage collector paused: at 100,000 samples its passes
over millions of fresh objects cost more than the work itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gc
import os
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

from tui.engine.errors import StoreError, StoreLocked

DEFAULT_STORE = Path("smolgen.json")
STATUSES = ("new", "accepted", "rejected", "failed")
# Statuses a person curates; "failed" rows only explain what went wrong.
REVIEW_STATUSES = ("new", "accepted", "rejected")
TABLES = ("seeds", "samples", "runs", "cache")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
                # (otherwise the first write after opening pays ~0.1 s at 100,000 samples to do so).
                gc.freeze()
        except orjson.JSONDecodeError as error:
            raise StoreError(f"{self.path}: not a readable smolgen store ({error}); it was left untouched") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise StoreError(f"{self.path}: not a smolgen store (expected tables of records); it was left untouched")
        return data

    def write(self, data: dict[str, Any]) -> None:
        self._cache = data

    def snapshot(self) -> None:
        """Write the whole state to the store file atomically."""
        data = self.read() or {}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as handle:
                handle.write(orjson.dumps(data))  # UTF-8 as written; ten times faster than json.dump
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{self.path}: cannot write the store ({error.strerror})") from None

    def close(self) -> None:
        self._cache = None


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

    tinydb's own `_update_table` copies the whole table twice on every insert or update (about
    0.4 s per sample at 100,000 samples); changing the raw table in place makes a write O(1).
    """

    def __init__(self, storage: Storage, name: str, *args: Any, **kwargs: Any):
        super().__init__(storage, name, *args, **kwargs)
        # The next id, found as part of opening: tinydb would scan every id in the first write instead.
        self._next_id = max(map(int, (storage.read() or {}).get(name, {})), default=0) + 1

    def _update_table(self, updater) -> None:
        tables = self._storage.read()
        if tables is None:
            tables = {}
        updater(_IntKeyedView(tables.setdefault(self.name, {})))
        self._storage.write(tables)
        self.clear_cache()


class _StoreDB(TinyDB):
    table_class = InPlaceTable


class Journal:
    """Append-only JSON lines of changes in one table: `put` a whole record, `set` fields of records, or `del` records."""

    def __init__(self, store_path: Path):
        self.path = store_path.with_name(store_path.name + ".journal")
        self._handle = None

    def replay(self, data: dict[str, Any]) -> int:
        """Apply the journal's complete lines to `data` and cut off a torn last line; returns the count."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        complete, _, torn = raw.rpartition(b"\n")
        lines = complete.split(b"\n") if complete else []
        with paused_gc():
            for number, line in enumerate(lines, start=1):
                try:
                    _apply(orjson.loads(line), data)
                except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
                    raise StoreError(f"{self.path}:{number}: a damaged journal line; the store was left untouched") from None
        if torn:
            # A line with no newline was being written when the process died: that change never
            # finished (its append had not returned). Cut it off so the next change starts clean.
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete) + 1 if complete else 0)
                os.fsync(handle.fileno())
        return len(lines)

    def append(self, changes: list[dict[str, Any]]) -> None:
        """Write changes and fsync them once: they survive a crash once this returns."""
        if not changes:
            return
        if self._handle is None:
            self._handle = open(self.path, "ab")
        try:
            self._handle.write(b"".join(orjson.dumps(change) + b"\n" for change in changes))
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:
            raise StoreError(f"{self.path}: cannot write the journal ({error.strerror})") from None

    def size(self) -> int:
        return self._handle.tell() if self._handle is not None else (self.path.stat().st_size if self.path.exists() else 0)

    def clear(self) -> None:
        """Empty the journal (its changes are in the snapshot now)."""
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _apply(change: dict[str, Any], data: dict[str, Any]) -> None:
    table = data.setdefault(change["t"], {})
    op = change["op"]
    if op == "put":
        table[str(change["id"])] = change["doc"]
    elif op == "set":
        for doc_id in change["ids"]:
            key = str(doc_id)
            if key in table:
                table[key].update(change["fields"])
    elif op == "del":
        for doc_id in change["ids"]:
            table.pop(str(doc_id), None)
    else:
        raise ValueError(op)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StoreLock:
    """An exclusive lock on `<store>.lock` holding the owner's PID; the OS frees it if we die."""

    def __init__(self, store_path: Path):
        self.path = store_path.with_name(store_path.name + ".lock")
        self.store_path = store_path
        self._handle = None

    def acquire(self) -> None:
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise StoreLocked(f"{self.store_path}: in use by PID {owner} (another smolgen); close it or use --store") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _locked(method):
    """Serialise store access: the app's generating thread and its UI thread share one store."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper


class SampleStore:
    """Seeds, samples and runs of one dataset, persisted at every change. Safe to share between threads."""

    def __init__(self, path: str | Path = DEFAULT_STORE):
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder, not a store file")
        if not self.path.parent.is_dir():
            raise StoreError(f"{self.path}: folder {self.path.parent} does not exist")
        self._mutex = threading.RLock()
        self._lock = StoreLock(self.path)
        self._lock.acquire()
        try:
            self._db = _StoreDB(self.path, storage=AtomicJSONStorage)
            data = self._db.storage.read()  # fail now on a corrupt file, before anything is written
            if data is None:
                data = {}
                self._db.storage.write(data)
            self._journal = Journal(self.path)
            self._journal.replay(data)
            self._snapshot_bytes = self.path.stat().st_size if self.path.exists() else 0
            if not self.path.exists() or self._journal_outgrown():
                self._compact()
        except BaseException:
            self._lock.release()
            raise
        self._seeds = self._db.table("seeds")
        self._samples = self._db.table("samples")
        self._runs = self._db.table("runs")
        self._cache = self._db.table("cache")
        self._cache_ids = {doc["signature"]: int(key) for key, doc in self._records("cache").items() if "signature" in doc}
        # Samples by status, counted once and then kept up to date: the app shows them every second of a run.
        self._status_counts: Counter | None = None

    def _records(self, table: str) -> dict[str, Any]:
        """The raw records of a table by string id; never handed out, only copied from."""
        return (self._db.storage.read() or {}).get(table, {})

    def _journal_outgrown(self) -> bool:
        # Relative to the snapshot, so rewriting the whole store costs each write a constant share.
        return self._journal.size() > max(COMPACT_AFTER_BYTES, self._snapshot_bytes)

    def _compact(self) -> None:
        """Fold the journal into the snapshot: write the snapshot atomically, then drop the journal."""
        self._db.storage.snapshot()
        self._journal.clear()
        self._snapshot_bytes = self.path.stat().st_size

    def _put(self, table: Any, doc_ids: Iterable[int]) -> None:
        """Journal the current state of records just inserted or changed in `table`."""
        records = self._records(table.name)
        self._journal.append(
            [{"op": "put", "t": table.name, "id": doc_id, "doc": records[str(doc_id)]} for doc_id in doc_ids if str(doc_id) in records]
        )
        if self._journal_outgrown():
            self._compact()

    def _set_fields(self, table: Any, doc_ids: list[int], fields: dict[str, Any]) -> None:
        """Change the same fields of many records, journalled as one line (a bulk change is all or nothing)."""
        table.update(fields, doc_ids=doc_ids)
        self._journal.append([{"op": "set", "t": table.name, "ids": doc_ids, "fields": fields}])
        if self._journal_outgrown():
            self._compact()

    def _delete(self, table: Any, doc_ids: list[int]) -> None:
        table.remove(doc_ids=doc_ids)
        self._journal.append([{"op": "del", "t": table.name, "ids": doc_ids}])

    def _footprint(self) -> int:
        snapshot = self.path.stat().st_size if self.path.exists() else 0
        return snapshot + self._journal.size()

    @_locked
    def close(self) -> None:
        try:
            if self._journal.size() and self._footprint() < COMPACT_ON_CLOSE_BELOW_BYTES:
                self._compact()
        finally:
            self._journal.close()
            self._db.close()
            self._lock.release()

    def __enter__(self) -> "SampleStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Seeds -------------------------------------------------------------------------------------

    @_locked
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

    @_locked
    def update_seed(self, seed_id: int, **fields: Any) -> None:
        self._seeds.update(fields, doc_ids=[seed_id])
        self._put(self._seeds, [seed_id])

    @_locked
    def delete_seeds(self, seed_ids: Iterable[int]) -> None:
        self._delete(self._seeds, list(seed_ids))

    # Runs --------------------------------------------------------------------------------------

    @_locked
    def start_run(self, **fields: Any) -> int:
        run_id = self._runs.insert({**fields, "started": now_iso(), "status": "running"})
        self._put(self._runs, [run_id])
        return run_id

    @_locked
    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        self._runs.update({"status": status, "summary": summary, "finished": now_iso()}, doc_ids=[run_id])
        self._put(self._runs, [run_id])

    @_locked
    def list_runs(self) -> list[dict[str, Any]]:
        return [_with_id(k, d) for k, d in self._records("runs").items()]

    # Samples -----------------------------------------------------------------------------------

    @_locked
    def add_sample(self, sample: dict[str, Any]) -> int:
        """Write one finished sample; it is on disk when this returns."""
        doc = {"status": "new", "created": now_iso(), **sample}
        sample_id = self._samples.insert(doc)
        self._put(self._samples, [sample_id])
        if self._status_counts is not None:
            self._status_counts[doc["status"]] += 1
        return sample_id

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

    @_locked
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

    @_locked
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
                "edited": now_iso(),
            },
            doc_ids=[sample_id],
        )
        self._put(self._samples, [sample_id])

    # Pipeline cache ------------------------------------------------------------------------------

    @_locked
    def cached_outputs(self) -> dict[str, dict[str, Any]]:
        """Every cached step output, by signature."""
        return {doc["signature"]: dict(doc) for doc in self._records("cache").values()}

    @_locked
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
    def status_counts(self) -> Counter:
        if self._status_counts is None:
            self._status_counts = Counter(doc.get("status", "new") for doc in self._records("samples").values())
        return +self._status_counts  # a copy, without statuses no sample has any more


def _with_id(key: str | int, doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "id": int(key)}


def _first(conversation: list[dict[str, str]], role: str) -> str | None:
    return next((m["content"] for m in conversation if m.get("role") == role), None)


__all__ = ["SampleStore", "DEFAULT_STORE", "STATUSES", "REVIEW_STATUSES"]
