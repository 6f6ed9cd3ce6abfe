"""`smolgen export` as a user types it, on a store written directly (no model): what it writes, and what it
says when there is nothing to write."""

import json
import re

from tests.conftest import run_smolgen
from tui.engine.store import SampleStore


def _store_with(folder, statuses, conversation=True):
    with SampleStore(folder / "smolgen.json") as store:
        for number, status in enumerate(statuses):
            turns = [{"role": "user", "content": f"Question {number}?"}]
            if conversation:
                turns.append({"role": "assistant", "content": f"Answer {number}."})
            sample_id = store.add_sample({"technique": "magpie", "instruction": f"Question {number}?",
                                          "response": f"Answer {number}." if conversation else "", "conversation": turns})
            if status != "new":
                store.set_status([sample_id], status)


def test_an_export_with_no_row_exits_1_writes_nothing_and_says_where_the_samples_are(tmp_path):
    _store_with(tmp_path, ["new"] * 6 + ["rejected"])
    result = run_smolgen("export", "--out", "sft.jsonl", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("smolgen: sft.jsonl: not written") and "0 accepted samples; --status new has 6, --status rejected has 1" in line
    assert not (tmp_path / "sft.jsonl").exists() and not list(tmp_path.glob(".sft.jsonl*"))
    written = run_smolgen("export", "--out", "sft.jsonl", "--status", "new", cwd=tmp_path)
    assert written.returncode == 0 and "wrote 6 rows" in written.stdout  # the failed export did not block this one
    assert len((tmp_path / "sft.jsonl").read_text(encoding="utf-8").splitlines()) == 6


def test_an_export_whose_samples_have_nothing_to_train_on_says_so(tmp_path):
    _store_with(tmp_path, ["accepted", "accepted"], conversation=False)
    result = run_smolgen("export", "--out", "sft.jsonl", cwd=tmp_path)
    assert result.returncode == 1 and "the 2 accepted samples have no answer" in result.stderr
    assert not (tmp_path / "sft.jsonl").exists()


def test_an_export_that_writes_keeps_its_rows_and_its_summary(tmp_path):
    _store_with(tmp_path, ["accepted", "new"])
    result = run_smolgen("export", "--out", "sft.jsonl", cwd=tmp_path)
    assert result.returncode == 0 and "wrote 1 rows (messages, status accepted)" in result.stdout
    [row] = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert row["messages"][1] == {"role": "assistant", "content": "Answer 0."}


def test_an_export_says_how_long_it_took(tmp_path):
    _store_with(tmp_path, ["accepted"])
    result = run_smolgen("export", "--out", "sft.jsonl", cwd=tmp_path)
    assert re.search(r"wrote 1 rows \(messages, status accepted\) to sft\.jsonl in \d+\.\d s$", result.stdout.strip())
