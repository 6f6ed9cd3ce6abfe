import fcntl
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import run_cli
from tui.engine.errors import StoreDamaged, StoreError, StoreLocked
from tui.engine.store import SampleStore


def _sample(text: str) -> dict:
    return {
        "technique": "magpie",
        "instruction": text,
        "response": "Answer",
        "conversation": [{"role": "user", "content": text}, {"role": "assistant", "content": "Answer"}],
    }


def test_sample_is_on_disk_when_add_returns(tmp_path):
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        sample_id = store.add_sample(_sample("Một câu hỏi về Khóa học Smol?"))
        journal = path.with_name("s.json.journal").read_text(encoding="utf-8").splitlines()
        change = json.loads(journal[-1])
        assert change["op"] == "put" and change["id"] == sample_id
        assert change["doc"]["instruction"] == "Một câu hỏi về Khóa học Smol?"
    # A small store is folded into one JSON file on close, UTF-8 as written (no \u escapes).
    assert not path.with_name("s.json.journal").exists()
    assert json.loads(path.read_text(encoding="utf-8"))["samples"][str(sample_id)]["status"] == "new"
    assert "Khóa học" in path.read_text(encoding="utf-8")


def test_a_torn_last_journal_line_is_dropped_and_the_rest_kept(tmp_path):
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        store.add_sample(_sample("kept"))
    journal = path.with_name("s.json.journal")
    journal.write_bytes(b'{"op":"put","t":"samples","id":2,"doc":{"instruction":"also kept","status":"new"}}\n{"op":"put","t":"sam')
    with SampleStore(path) as store:
        assert [s["instruction"] for s in store.list_samples()] == ["kept", "also kept"]
        store.add_sample(_sample("after the crash"))
    with SampleStore(path) as store:
        assert [s["instruction"] for s in store.list_samples()] == ["kept", "also kept", "after the crash"]


def test_a_damaged_journal_line_is_reported_with_the_repair_command_and_nothing_is_touched(tmp_path):
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        store.add_sample(_sample("kept"))
    journal = path.with_name("s.json.journal")
    journal.write_bytes(b'not json\n{"op":"del","t":"samples","ids":[1]}\n')
    before = (path.read_bytes(), journal.read_bytes())
    for read_only in (False, True):
        with pytest.raises(StoreDamaged, match=r"s\.json\.journal: damaged line 1 \(of 2\).*`smolgen store repair --store .*s\.json`"):
            SampleStore(path, read_only=read_only)
    assert (path.read_bytes(), journal.read_bytes()) == before


def test_a_large_journal_is_folded_into_the_snapshot(tmp_path, monkeypatch):
    import tui.engine.store as store_module

    monkeypatch.setattr(store_module, "COMPACT_AFTER_BYTES", 2000)
    monkeypatch.setattr(store_module, "COMPACT_ON_CLOSE_BELOW_BYTES", 0)
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        for i in range(10):
            store.add_sample(_sample(f"q{i}"))
        assert path.with_name("s.json.journal").stat().st_size < 2000 + 1000
    assert len(json.loads(path.read_text(encoding="utf-8"))["samples"]) >= 5
    with SampleStore(path) as store:
        assert len(store.list_samples()) == 10


def test_a_bulk_status_change_is_one_journal_line_and_survives_a_reopen(tmp_path, monkeypatch):
    import tui.engine.store as store_module

    monkeypatch.setattr(store_module, "COMPACT_ON_CLOSE_BELOW_BYTES", 0)  # keep the journal: replay it
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        ids = [store.add_sample(_sample(f"q{i}")) for i in range(50)]
        lines_before = len(path.with_name("s.json.journal").read_bytes().splitlines())
        store.set_status(ids[:40], "accepted")
        journal = path.with_name("s.json.journal").read_bytes().splitlines()
        # One fsynced line for the 40 samples, not 40 copies of them: all of it lands, or none.
        assert len(journal) == lines_before + 1 and json.loads(journal[-1])["op"] == "set"
    with SampleStore(path) as store:
        assert store.status_counts() == {"accepted": 40, "new": 10}
        assert store.get_sample(ids[0])["reviewed"]
        assert store.add_sample(_sample("next")) == ids[-1] + 1  # ids go on from the largest stored


def test_listed_samples_are_copies(store):
    sample_id = store.add_sample(_sample("Original"))
    listed = store.list_samples()[0]
    listed["instruction"] = "changed by a caller"
    store.get_sample(sample_id)["status"] = "accepted"
    assert store.get_sample(sample_id)["instruction"] == "Original"
    assert store.status_counts() == {"new": 1}


def test_reopen_keeps_everything(tmp_path):
    path = tmp_path / "s.json"
    with SampleStore(path) as store:
        store.add_seeds([{"text": "seed one"}], source="cli")
        store.add_sample(_sample("q"))
        run_id = store.start_run(technique="magpie")
        store.finish_run(run_id, "finished", {"stored": 1})
    with SampleStore(path) as store:
        assert [s["row"] for s in store.list_seeds()] == [{"text": "seed one"}]
        assert len(store.list_samples()) == 1
        assert store.list_runs()[0]["status"] == "finished"


def test_status_changes_and_edit_keeps_original(store):
    sample_id = store.add_sample(_sample("Original question"))
    store.set_status([sample_id], "accepted")
    store.edit_sample(sample_id, [{"role": "user", "content": "Edited question"}, {"role": "assistant", "content": "Better"}])
    sample = store.get_sample(sample_id)
    assert sample["status"] == "accepted"
    assert sample["instruction"] == "Edited question" and sample["response"] == "Better"
    assert sample["original"]["instruction"] == "Original question"
    store.edit_sample(sample_id, [{"role": "user", "content": "Twice"}, {"role": "assistant", "content": "x"}])
    assert store.get_sample(sample_id)["original"]["instruction"] == "Original question"
    assert store.status_counts()["accepted"] == 1
    with pytest.raises(StoreError, match="status 'maybe'"):
        store.set_status([sample_id], "maybe")


def test_corrupt_store_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"samples": {"1": {"instruction": "half', encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"broken\.json: not a readable smolgen store"):
        SampleStore(path)
    assert path.read_bytes() == before


def test_json_that_is_not_a_store(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2, 3]", encoding="utf-8")
    with pytest.raises(StoreError, match="not a smolgen store"):
        SampleStore(path)
    assert path.read_text() == "[1, 2, 3]"


def test_second_process_gets_in_use_by_pid(tmp_path):
    path = tmp_path / "s.json"
    with SampleStore(path):
        code = f"from tui.engine.store import SampleStore; SampleStore({str(path)!r})"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode != 0
        assert "in use by PID" in result.stderr
    with SampleStore(path):  # the lock is free again once closed
        pass


def test_a_clean_close_removes_the_lock_file_and_a_command_leaves_none(tmp_path):
    path = tmp_path / "s.json"
    lock = tmp_path / "s.json.lock"
    with SampleStore(path) as store:
        store.add_seeds([{"text": "a seed"}])
        assert lock.read_text() == str(os.getpid())  # held while open, naming its owner
    assert not lock.exists()
    with SampleStore(path, read_only=True):
        assert not lock.exists()  # a reader takes no lock
    (tmp_path / "seeds.txt").write_text("one\ntwo\n", encoding="utf-8")
    assert run_cli("seeds", "import", "seeds.txt", "--store", "s.json", cwd=tmp_path).returncode == 0
    assert run_cli("seeds", "list", "--store", "s.json", cwd=tmp_path).returncode == 0
    assert not lock.exists()


@pytest.mark.parametrize("existed, stores, kept", [
    (False, False, False),  # created, then refused before anything was stored: gone again
    (False, True, True),  # something was stored before the refusal (a recorded run): kept
    (True, False, True),  # an empty store that was there before: left as it was
])
def test_a_store_a_command_created_goes_again_if_bad_input_ends_it_before_anything_is_stored(tmp_path, existed, stores, kept):
    from tui.engine.errors import BadInput
    from tui.engine.store import opened_for_command

    path = tmp_path / "new.json"
    if existed:
        SampleStore(path).close()
    before = path.read_bytes() if existed else None
    with pytest.raises(BadInput), opened_for_command(path) as store:
        if stores:
            store.add_seeds([{"text": "a seed"}])
        raise BadInput("refused")
    assert path.exists() == kept and not list(tmp_path.glob("new.json.*"))  # no journal or lock either way
    if existed:
        assert path.read_bytes() == before


def test_a_lock_file_removed_by_its_owner_is_not_locked_by_a_late_opener(tmp_path, monkeypatch):
    """A second process opened the old file just before the owner removed it: it must not believe it holds
    the store while a third process locks the new file."""
    path = tmp_path / "s.json"
    first = SampleStore(path)
    real_flock = fcntl.flock
    late = []

    def owner_closes_first(handle, operation):
        if not late:
            late.append(handle)
            first.close()  # removes the file our handle was opened on
        return real_flock(handle, operation)

    monkeypatch.setattr(fcntl, "flock", owner_closes_first)
    with SampleStore(path):
        monkeypatch.setattr(fcntl, "flock", real_flock)
        assert (tmp_path / "s.json.lock").exists()  # the lock it holds is the file others will find
        with pytest.raises(StoreLocked):
            SampleStore(path)


def test_a_reader_opens_beside_a_writer_and_sees_every_change_it_made(tmp_path):
    path = tmp_path / "s.json"
    with SampleStore(path) as writer:
        writer.add_sample(_sample("first"))
        with SampleStore(path, read_only=True) as reader:
            assert [s["instruction"] for s in reader.list_samples()] == ["first"]
        writer.add_sample(_sample("second"))
        with SampleStore(path, read_only=True) as reader:
            assert [s["instruction"] for s in reader.list_samples()] == ["first", "second"]
        with pytest.raises(StoreLocked, match="in use by PID"):
            SampleStore(path)  # a second writer is still kept out


def test_a_reader_whose_snapshot_a_writer_folds_mid_read_reads_again(tmp_path, monkeypatch):
    import tui.engine.store as store_module

    path = tmp_path / "s.json"
    writer = SampleStore(path)
    for i in range(3):
        writer.add_sample(_sample(f"q{i}"))
    real_read_journal = store_module.read_journal
    folds = []

    def writer_folds_between_snapshot_and_journal(journal):
        if not folds:  # the reader has the old snapshot; the fold empties the journal it is about to read
            folds.append(writer.add_sample(_sample("late")))
            writer._fold()
        return real_read_journal(journal)

    monkeypatch.setattr(store_module, "read_journal", writer_folds_between_snapshot_and_journal)
    with SampleStore(path, read_only=True) as reader:
        assert [s["instruction"] for s in reader.list_samples()] == ["q0", "q1", "q2", "late"]
    writer.close()


def test_same_process_second_open_is_refused_too(tmp_path):
    path = tmp_path / "s.json"
    with SampleStore(path):
        with pytest.raises(StoreLocked, match="in use by PID"):
            SampleStore(path)


def test_folder_path_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a folder"):
        SampleStore(tmp_path)


_WRITER = """
import sys
from tui.engine.store import SampleStore
store = SampleStore(sys.argv[1])
for i in range(100000):
    store.add_sample({"technique": "magpie", "instruction": "q%d" % i, "response": "a" * 200,
                      "conversation": [{"role": "user", "content": "q%d" % i}]})
    print(i, flush=True)
"""


def test_kill_9_leaves_a_valid_store_with_every_finished_sample(tmp_path):
    path = tmp_path / "s.json"
    for _ in range(3):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        confirmed = -1
        for line in writer.stdout:
            confirmed = int(line)
            if confirmed >= 40:
                break
        writer.kill()
        writer.wait()
        with SampleStore(path) as store:  # valid JSON, and the lock died with the process
            instructions = {s["instruction"] for s in store.list_samples()}
        assert {f"q{i}" for i in range(confirmed + 1)} <= instructions


def test_status_counts_are_kept_up_to_date_not_recounted(store, monkeypatch):
    ids = [store.add_sample(_sample(f"q{i}")) for i in range(6)]
    store.add_sample({**_sample("broken"), "status": "failed"})
    assert store.status_counts() == {"new": 6, "failed": 1}  # counted once, here
    reads = []
    records = store._records
    monkeypatch.setattr(store, "_records", lambda table: reads.append(table) or records(table))
    store.set_status(ids[:3], "accepted")
    store.set_status(ids[2:4], "rejected")
    store.add_sample(_sample("late"))
    reads.clear()
    assert store.status_counts() == {"new": 3, "accepted": 2, "rejected": 2, "failed": 1}
    assert reads == []  # the app asks every second of a run: no pass over every sample
    counted = {}
    for sample in store.list_samples():
        counted[sample["status"]] = counted.get(sample["status"], 0) + 1
    assert store.status_counts() == counted
