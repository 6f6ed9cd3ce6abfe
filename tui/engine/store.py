"""The local JSON store: seeds, samples and runs in one tinydb file.

Every write replaces the file atomically (temporary file, fsync, rename), so `kill -9` at any moment
leaves a valid file holding every finished sample. A lock file keeps a second process out with a
clear message, and a file that is not a store is reported, never overwritten.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import threading
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from tui.engine.errors import StoreError, StoreLocked

DEFAULT_STORE = Path("smolgen.json")
STATUSES = ("new", "accepted", "rejected", "failed")
# Statuses a person curates; "failed" rows only explain what went wrong.
REVIEW_STATUSES = ("new", "accepted", "rejected")
TABLES = ("seeds", "samples", "runs", "cache")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class AtomicJSONStorage(Storage):
    """tinydb storage that writes UTF-8 JSON atomically and keeps the last state in memory."""

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
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StoreError(f"{self.path}: not a readable smolgen store ({error}); it was left untouched") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise StoreError(f"{self.path}: not a smolgen store (expected tables of records); it was left untouched")
        return data

    def write(self, data: dict[str, Any]) -> None:
        self._cache = data
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        except OSError as error:
            self._cache = None  # the file still holds the last good state: reload it next time
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{self.path}: cannot write the store ({error.strerror})") from None

    def close(self) -> None:
        self._cache = None


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
            self._db = TinyDB(self.path, storage=AtomicJSONStorage)
            self._db.storage.read()  # fail now on a corrupt file, before anything is written
        except BaseException:
            self._lock.release()
            raise
        self.seeds = self._db.table("seeds")
        self.samples = self._db.table("samples")
        self.runs = self._db.table("runs")
        self.cache = self._db.table("cache")

    @_locked
    def close(self) -> None:
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
        return self.seeds.insert_multiple(docs) if docs else []

    @_locked
    def list_seeds(self, selected_only: bool = False) -> list[dict[str, Any]]:
        docs = self.seeds.all()
        return [_with_id(d) for d in docs if d.get("selected", True) or not selected_only]

    @_locked
    def update_seed(self, seed_id: int, **fields: Any) -> None:
        self.seeds.update(fields, doc_ids=[seed_id])

    @_locked
    def delete_seeds(self, seed_ids: Iterable[int]) -> None:
        self.seeds.remove(doc_ids=list(seed_ids))

    # Runs --------------------------------------------------------------------------------------

    @_locked
    def start_run(self, **fields: Any) -> int:
        return self.runs.insert({**fields, "started": now_iso(), "status": "running"})

    @_locked
    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        self.runs.update({"status": status, "summary": summary, "finished": now_iso()}, doc_ids=[run_id])

    @_locked
    def list_runs(self) -> list[dict[str, Any]]:
        return [_with_id(d) for d in self.runs.all()]

    # Samples -----------------------------------------------------------------------------------

    @_locked
    def add_sample(self, sample: dict[str, Any]) -> int:
        """Write one finished sample; it is on disk when this returns."""
        sample = {"status": "new", "created": now_iso(), **sample}
        return self.samples.insert(sample)

    @_locked
    def get_sample(self, sample_id: int) -> dict[str, Any]:
        doc = self.samples.get(doc_id=sample_id)
        if doc is None:
            raise StoreError(f"{self.path}: no sample with id {sample_id}")
        return _with_id(doc)

    def list_samples(
        self, statuses: Iterable[str] | None = None, technique: str | None = None, run_id: int | None = None
    ) -> list[dict[str, Any]]:
        wanted = set(statuses) if statuses is not None else None
        result = []
        for doc in self.samples.all():
            if wanted is not None and doc.get("status") not in wanted:
                continue
            if technique is not None and doc.get("technique") != technique:
                continue
            if run_id is not None and doc.get("run_id") != run_id:
                continue
            result.append(_with_id(doc))
        return result

    @_locked
    def set_status(self, sample_ids: Iterable[int], status: str) -> None:
        if status not in REVIEW_STATUSES:
            raise StoreError(f"status {status!r} is not one of {', '.join(REVIEW_STATUSES)}")
        self.samples.update({"status": status, "reviewed": now_iso()}, doc_ids=list(sample_ids))

    @_locked
    def edit_sample(self, sample_id: int, conversation: list[dict[str, str]]) -> None:
        """Replace a sample's conversation, keeping the model's original text beside it."""
        sample = self.get_sample(sample_id)
        original = sample.get("original") or {
            "instruction": sample.get("instruction"),
            "response": sample.get("response"),
            "conversation": sample.get("conversation"),
        }
        self.samples.update(
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

    # Pipeline cache ------------------------------------------------------------------------------

    @_locked
    def cached_outputs(self) -> dict[str, dict[str, Any]]:
        """Every cached step output, by signature."""
        return {doc["signature"]: dict(doc) for doc in self.cache.all()}

    @_locked
    def put_cached_output(self, signature: str, entry: dict[str, Any]) -> None:
        """Keep one step's output for a row; durable when this returns, like a sample."""
        self.cache.upsert({**entry, "signature": signature, "created": now_iso()}, Query().signature == signature)

    @_locked
    def status_counts(self) -> Counter:
        return Counter(doc.get("status", "new") for doc in self.samples.all())


def _with_id(doc: Any) -> dict[str, Any]:
    return {**doc, "id": doc.doc_id}


def _first(conversation: list[dict[str, str]], role: str) -> str | None:
    return next((m["content"] for m in conversation if m.get("role") == role), None)


__all__ = ["SampleStore", "DEFAULT_STORE", "STATUSES", "REVIEW_STATUSES"]
