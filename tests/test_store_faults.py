"""The store on a full disk, a read-only folder and a fold that cannot be written: nothing stored is lost,
a failed change leaves no trace, and reading never writes."""

import errno
import os

import pytest

import tui.engine.journal as journal_module
import tui.engine.store as store_module
from tui.bench.small_disk import CannotMount, remount, small_disk
from tui.engine.errors import StoreUnwritable
from tui.engine.store import SampleStore


def _sample(text: str) -> dict:
    return {"technique": "magpie", "instruction": text, "response": "An answer " * 20, "status": "new"}


def _files(folder):
    """Every file of a folder with its bytes: what a reader must leave as it found."""
    return {path.name: path.read_bytes() for path in folder.iterdir()}


@pytest.fixture
def disk(tmp_path):
    try:
        with small_disk(tmp_path / "disk", "64k") as folder:
            yield folder
    except CannotMount as error:
        pytest.skip(f"cannot mount a tmpfs here: {error}")


def test_a_write_that_fails_half_way_leaves_no_trace_and_the_next_one_works(tmp_path, monkeypatch):
    # Simulated ENOSPC: the journal takes half the line, then the disk is full.
    path = tmp_path / "s.json"
    monkeypatch.setattr(store_module, "COMPACT_ON_CLOSE_BELOW_BYTES", 0)
    real_write_all = journal_module.write_all

    def half_then_full(fd, data):
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with SampleStore(path) as store:
        kept = store.add_sample(_sample("kept"))
        store.set_status([kept], "accepted")
        journal_before = path.with_name("s.json.journal").read_bytes()
        monkeypatch.setattr(journal_module, "write_all", half_then_full)
        with pytest.raises(StoreUnwritable, match=r"s\.json\.journal: cannot write the journal \(No space left on device\)"):
            store.add_sample(_sample("lost to the full disk"))
        with pytest.raises(StoreUnwritable):
            store.set_status([kept], "rejected")
        # Neither the disk nor memory holds the changes that failed.
        assert path.with_name("s.json.journal").read_bytes() == journal_before
        assert [(s["instruction"], s["status"]) for s in store.list_samples()] == [("kept", "accepted")]
        assert store.status_counts() == {"accepted": 1}
        monkeypatch.setattr(journal_module, "write_all", real_write_all)  # room again
        store.add_sample(_sample("after room was made"))
    with SampleStore(path) as store:
        assert [s["instruction"] for s in store.list_samples()] == ["kept", "after room was made"]


def test_a_full_disk_keeps_every_stored_sample_and_the_store_goes_on_once_there_is_room(disk):
    path = disk / "s.json"
    stored = []
    with SampleStore(path) as store:
        with pytest.raises(StoreUnwritable, match="No space left on device"):
            for i in range(10_000):
                store.add_sample(_sample(f"q{i}"))
                stored.append(f"q{i}")
        assert [s["instruction"] for s in store.list_samples()] == stored
    assert len(stored) > 5
    with SampleStore(path, read_only=True) as store:  # reading on the full disk
        assert [s["instruction"] for s in store.list_samples()] == stored
    remount(disk, "size=1m")
    with SampleStore(path) as store:
        store.add_sample(_sample("after room was made"))
    with SampleStore(path) as store:
        assert [s["instruction"] for s in store.list_samples()] == [*stored, "after room was made"]
    assert not path.with_name("s.json.journal").exists()  # folded once the disk had room


def test_a_read_only_folder_is_read_without_a_write_and_refused_for_changes_in_one_line(disk, monkeypatch):
    monkeypatch.setattr(store_module, "COMPACT_ON_CLOSE_BELOW_BYTES", 0)  # leave a journal to replay
    path = disk / "s.json"
    with SampleStore(path) as store:
        store.add_sample(_sample("one"))
        store.add_sample(_sample("two"))
    remount(disk, "ro")
    with pytest.raises(StoreUnwritable, match=r"s\.json: cannot write in .* \(Read-only file system\); stats, export"):
        SampleStore(path)
    with SampleStore(path, read_only=True) as store:
        assert [s["instruction"] for s in store.list_samples()] == ["one", "two"]
        with pytest.raises(StoreUnwritable, match="opened for reading only"):
            store.add_sample(_sample("three"))


def test_reading_writes_nothing_not_even_a_fold_or_a_torn_line(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "COMPACT_AFTER_BYTES", 100)  # the journal is "outgrown"
    monkeypatch.setattr(store_module, "COMPACT_ON_CLOSE_BELOW_BYTES", 0)
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        store.add_sample(_sample("one"))
        monkeypatch.setattr(store_module.AtomicJSONStorage, "snapshot", _cannot_write)  # keep the journal
        store.add_sample(_sample("two"))
    with open(path.with_name("s.json.journal"), "ab") as journal:
        journal.write(b'{"op":"put","t":"samp')
    before = _files(tmp_path)
    with SampleStore(path, read_only=True) as store:
        assert [s["instruction"] for s in store.list_samples()] == ["one", "two"]
        assert store.read_only
        with pytest.raises(StoreUnwritable):
            store.set_status([1], "accepted")
        assert store.get_sample(1)["status"] == "new"
    assert _files(tmp_path) == before


def _cannot_write(self):
    raise StoreUnwritable(f"{self.path}: cannot write the store (No space left on device)")


def test_a_fold_that_cannot_be_written_waits_and_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "COMPACT_AFTER_BYTES", 500)
    path = tmp_path / "s.json"
    real_snapshot = store_module.AtomicJSONStorage.snapshot
    tries = []

    def full_disk(self):
        tries.append(1)
        _cannot_write(self)

    with SampleStore(path) as store:
        store.add_sample(_sample("before"))
        monkeypatch.setattr(store_module.AtomicJSONStorage, "snapshot", full_disk)
        for i in range(20):
            store.add_sample(_sample(f"q{i}"))
        assert len(tries) == 1  # not tried again at every write: it waits for the close
    assert len(tries) == 2 and path.with_name("s.json.journal").exists()
    monkeypatch.setattr(store_module.AtomicJSONStorage, "snapshot", real_snapshot)
    with SampleStore(path) as store:
        assert len(store.list_samples()) == 21
    assert not path.with_name("s.json.journal").exists()


def test_a_torn_last_line_is_kept_aside_not_deleted(tmp_path):
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        store.add_sample(_sample("kept"))
    path.with_name("s.json.journal").write_bytes(b'{"op":"put","t":"samples","id":2,"doc":{"instru')
    with SampleStore(path) as store:
        assert len(store.list_samples()) == 1
    assert path.with_name("s.json.damaged").read_bytes() == b'{"op":"put","t":"samples","id":2,"doc":{"instru\n'


def test_half_written_snapshots_of_a_killed_fold_are_removed(tmp_path):
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        store.add_sample(_sample("kept"))
    stale = tmp_path / ".s.json.99999.tmp"
    stale.write_bytes(b'{"samples": {"1"')
    with SampleStore(path) as store:
        assert len(store.list_samples()) == 1
    assert not stale.exists()


def test_a_run_on_a_full_disk_stops_at_once_with_one_line_saying_what_is_safe(disk, prompts):
    from tests.scripted_model import ScriptedModel
    from tui.engine.runner import run_generation
    from tui.engine.techniques.text_generation import TextGeneration

    path = disk / "s.json"
    model = ScriptedModel(["A long enough answer to fill a small disk soon: " + " ".join(f"item{j}" for j in range(60))] * 500)
    rows = [{"instruction": f"Question {i}?"} for i in range(500)]
    with SampleStore(path) as store:
        with pytest.raises(StoreUnwritable) as stopped:
            run_generation(TextGeneration(), store, model, prompts, 500, 1, rows)
        finished = len(store.list_samples())
    message = str(stopped.value)
    assert "\n" not in message and "No space left on device" in message
    assert f"run 1 stopped: the {finished} samples it finished are safe in {path} ({finished} in all)" in message
    assert 0 < finished < 500 and len(model.outputs) == 500 - finished - 1  # no generation after the failed write
    remount(disk, "size=2m")
    with SampleStore(path) as store:
        assert len(store.list_samples()) == finished
        summary = run_generation(TextGeneration(), store, model, prompts, 3, 2, rows)
        assert summary.status == "finished" and len(store.list_samples()) == finished + 3


def test_a_pipeline_on_a_full_disk_stops_with_one_line_and_keeps_its_samples(store, monkeypatch):
    from tests.scripted_model import ScriptedModel
    from tui.engine.pipeline import LlamaCppLLM, LoadDataFromDicts, Pipeline, TextGeneration

    with Pipeline(name="answers") as pipeline:
        rows = LoadDataFromDicts(name="rows", data=[{"instruction": f"Question {i}?"} for i in range(5)])
        rows >> TextGeneration(name="answer", llm=LlamaCppLLM(model=ScriptedModel([f"Answer {i}." for i in range(5)])))
    real_write_all, writes = journal_module.write_all, []

    def full_at_the_sixth_write(fd, data):  # the run's record, then a cached output and a sample per row
        writes.append(data)
        if len(writes) == 6:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write_all(fd, data)

    monkeypatch.setattr(journal_module, "write_all", full_at_the_sixth_write)
    with pytest.raises(StoreUnwritable, match=r"No space left on device\); run 1 stopped: the 2 samples it finished are safe in "):
        pipeline.run(store=store)
    assert [s["response"] for s in store.list_samples()] == ["Answer 0.", "Answer 1."]
