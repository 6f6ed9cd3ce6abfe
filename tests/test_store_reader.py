"""Export reads a store a record at a time (tui/engine/store_reader.py): the same samples, statuses and
runs as the store itself shows, under the store's rules, without holding the store in memory."""

from __future__ import annotations

import json
import tracemalloc

import orjson
import pytest

from tests.conftest import run_cli
from tui.engine.errors import StoreDamaged, StoreError
from tui.engine.store import SampleStore, journal_path
from tui.engine.store_reader import StoreReader


def _sample(text: str, technique: str = "magpie") -> dict:
    return {"technique": technique, "instruction": text, "response": "Answer\nin two lines",
            "conversation": [{"role": "user", "content": text}, {"role": "assistant", "content": "Answer\nin two lines"}]}


def _changed_store(path):
    """A store folded into its snapshot, then changed in every way the journal records (put, set, del, an edit)."""
    with SampleStore(path) as store:
        run = store.start_run(technique="magpie")
        for index in range(6):
            store.add_sample({**_sample(f"Question {index}?"), "run_id": run})
    writer = SampleStore(path)
    writer.set_status([1, 2], "accepted")
    writer.set_status([5], "rejected")
    writer.edit_sample(2, [{"role": "user", "content": "Edited?"}, {"role": "assistant", "content": "Edited."}])
    writer.add_sample(_sample("Only in the journal?", technique="chain"))
    writer._delete(writer._samples, [3])  # no command deletes samples yet; the journal can say so
    writer.finish_run(1, "finished", {"stored": 6})
    return writer


@pytest.mark.parametrize("statuses", [None, ["accepted"], ["new", "rejected"]])
def test_the_reader_sees_what_the_store_sees(tmp_path, statuses):
    path = tmp_path / "s.json"
    writer = _changed_store(path)
    try:
        store = SampleStore(path, read_only=True)
        with StoreReader(path) as reader:
            assert list(reader.iter_samples(statuses)) == list(store.iter_samples(statuses))
            assert reader.status_counts() == store.status_counts() == {"new": 3, "accepted": 2, "rejected": 1}
            assert reader.list_runs() == store.list_runs() and reader.list_runs()[0]["status"] == "finished"
            chain = list(reader.iter_samples(technique="chain"))
            assert [sample["instruction"] for sample in chain] == ["Only in the journal?"]
        store.close()
    finally:
        writer.close()


def test_a_pass_holds_one_sample_not_the_store(tmp_path):
    from tui.bench.synthetic import write_synthetic_store

    path = write_synthetic_store(tmp_path / "big.json", 5000)
    tracemalloc.start()
    with StoreReader(path) as reader:
        passed = sum(1 for _ in reader.iter_samples())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert passed == 5000
    assert peak < path.stat().st_size / 20  # the whole store would be several times its file's size


def test_a_damaged_journal_line_is_refused_as_the_store_refuses_it(tmp_path):
    path = tmp_path / "s.json"
    writer = _changed_store(path)
    writer.close()
    with SampleStore(path) as store:
        store.add_sample(_sample("after"))
        store.add_sample(_sample("last"))
        journal = journal_path(path)
        lines = journal.read_bytes().split(b"\n")
        lines[0] = lines[0][:20] + b"\xff garbage"
        journal.write_bytes(b"\n".join(lines))
        with pytest.raises(StoreDamaged) as from_store:
            SampleStore(path, read_only=True)
        with pytest.raises(StoreDamaged) as from_reader:
            StoreReader(path)
        assert str(from_reader.value) == str(from_store.value) and "smolgen store repair" in str(from_reader.value)


def test_a_line_still_being_written_is_left_out(tmp_path):
    path = tmp_path / "s.json"
    writer = _changed_store(path)
    try:
        with open(journal_path(path), "ab") as journal:
            journal.write(orjson.dumps({"op": "put", "t": "samples", "id": 99, "doc": _sample("torn")})[:30])
        with StoreReader(path) as reader:
            assert "torn" not in [sample["instruction"] for sample in reader.iter_samples()]
    finally:
        writer.close()


def test_a_fold_while_the_reader_opens_is_read_again(tmp_path, monkeypatch):
    import tui.engine.store_reader as store_reader

    path = tmp_path / "s.json"
    writer = _changed_store(path)
    real_read_journal = store_reader.read_journal
    folds = []

    def fold_first(journal):
        if not folds:
            folds.append(writer._fold())  # the writer moves the journal into a new snapshot meanwhile
        return real_read_journal(journal)

    monkeypatch.setattr(store_reader, "read_journal", fold_first)
    try:
        with StoreReader(path) as reader:
            instructions = [sample["instruction"] for sample in reader.iter_samples()]
        assert folds and "Only in the journal?" in instructions and "Edited?" in instructions
    finally:
        writer.close()


def test_a_snapshot_written_on_one_line_is_read_whole_and_a_writer_lays_it_out_again(tmp_path):
    path = tmp_path / "s.json"
    _changed_store(path).close()
    with SampleStore(path, read_only=True) as store:
        expected = list(store.iter_samples())
    path.write_bytes(orjson.dumps(json.loads(path.read_bytes())))  # as smolgen wrote it before
    with StoreReader(path) as reader:
        assert list(reader.iter_samples()) == expected
    SampleStore(path).close()
    assert path.read_bytes().startswith(b"{\n") and path.read_bytes().count(b"\n") > len(expected)
    with StoreReader(path) as reader:
        assert list(reader.iter_samples()) == expected


def test_export_of_a_snapshot_cut_short_says_so_in_one_line_and_writes_nothing(tmp_path):
    path = tmp_path / "s.json"
    _changed_store(path).close()
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.index(b"Question 4")])
    out = tmp_path / "out.jsonl"
    result = run_cli("export", "--store", str(path), "--out", str(out), "--status", "all", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "not a readable smolgen store" in result.stderr
    assert not out.exists()
    folder = run_cli("export", "--store", str(path), "--format", "hf", "--out", "ds", "--status", "all", cwd=tmp_path)
    assert folder.returncode != 0 and "not a readable smolgen store" in folder.stderr
    assert not (tmp_path / "ds").exists()  # the folder it had made is gone again
    with pytest.raises(StoreError):
        SampleStore(path, read_only=True)  # the store itself refuses it too


def test_an_empty_store_file_is_read_as_an_empty_store_as_the_store_reads_it(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("  \n", encoding="utf-8")
    with SampleStore(path, read_only=True) as store, StoreReader(path) as reader:
        assert list(reader.iter_samples()) == list(store.iter_samples()) == []
        assert reader.list_runs() == store.list_runs() == []
