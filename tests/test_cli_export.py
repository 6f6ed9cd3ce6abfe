"""`smolgen export` as a user types it, on a store written directly (no model): what it writes, and what it
says when there is nothing to write."""

import json
import re

from tests.conftest import run_cli
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
    result = run_cli("export", "--out", "sft.jsonl", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("smolgen: sft.jsonl: not written") and "0 accepted samples; --status new has 6, --status rejected has 1" in line
    assert not (tmp_path / "sft.jsonl").exists() and not list(tmp_path.glob(".sft.jsonl*"))
    written = run_cli("export", "--out", "sft.jsonl", "--status", "new", cwd=tmp_path)
    assert written.returncode == 0 and "wrote 6 rows" in written.stdout  # the failed export did not block this one
    assert len((tmp_path / "sft.jsonl").read_text(encoding="utf-8").splitlines()) == 6


def test_an_export_whose_samples_have_nothing_to_train_on_says_so(tmp_path):
    _store_with(tmp_path, ["accepted", "accepted"], conversation=False)
    result = run_cli("export", "--out", "sft.jsonl", cwd=tmp_path)
    assert result.returncode == 1 and "the 2 accepted samples have no answer" in result.stderr
    assert not (tmp_path / "sft.jsonl").exists()


def test_an_export_that_writes_keeps_its_rows_and_its_summary(tmp_path):
    _store_with(tmp_path, ["accepted", "new"])
    result = run_cli("export", "--out", "sft.jsonl", cwd=tmp_path)
    assert result.returncode == 0 and "wrote 1 rows (messages, status accepted)" in result.stdout
    [row] = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert row["messages"][1] == {"role": "assistant", "content": "Answer 0."}


def test_an_export_says_how_long_it_took(tmp_path):
    _store_with(tmp_path, ["accepted"])
    result = run_cli("export", "--out", "sft.jsonl", cwd=tmp_path)
    assert re.search(r"wrote 1 rows \(messages, status accepted\) to sft\.jsonl in \d+\.\d s$", result.stdout.strip())


def _rate(folder, ratings):
    """Verdicts as `smolgen judge` stores them: a rating per sample in order, None for a failed judgement."""
    with SampleStore(folder / "smolgen.json") as store:
        for sample, rating in zip(store.list_samples(), ratings):
            failure = None if rating is not None else "overall: no usable answer in 3 tries (not valid JSON)"
            store.set_judgement(sample["id"], {"judge": "a judge", "aspects": ["overall"], "rating": rating, "failure": failure,
                                               "ratings": {} if rating is None else {"overall": {"rating": rating, "rationale": "So."}}})


def test_min_rating_writes_only_the_samples_rated_that_high(tmp_path):
    _store_with(tmp_path, ["accepted"] * 5)
    _rate(tmp_path, [5, 3.5, 4, None])  # the fifth was never judged
    result = run_cli("export", "--out", "sft.jsonl", "--min-rating", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 2 rows" in result.stdout and "3 rated below 4 or not rated left out" in result.stdout
    rows = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["messages"][1]["content"] for row in rows] == ["Answer 0.", "Answer 2."]


def test_min_rating_that_leaves_nothing_says_why_and_writes_nothing(tmp_path):
    _store_with(tmp_path, ["accepted"] * 2)
    result = run_cli("export", "--out", "sft.jsonl", "--min-rating", "1", cwd=tmp_path)
    assert result.returncode == 1 and "the 2 accepted samples were rated below 1 or not rated (`smolgen judge`" in result.stderr
    assert not (tmp_path / "sft.jsonl").exists()


def test_min_rating_off_the_scale_is_one_line_exit_2(tmp_path):
    _store_with(tmp_path, ["accepted"])
    before = (tmp_path / "smolgen.json").read_bytes()
    for value in ("0", "5.5", "-1"):
        result = run_cli("export", "--out", "sft.jsonl", "--min-rating", value, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.strip() == f"smolgen: --min-rating {float(value):g}: must be between 1 and 5 (the judge's scale)"
    dpo = run_cli("export", "--format", "dpo", "--out", "p.jsonl", "--min-rating", "3", cwd=tmp_path)
    assert dpo.returncode == 2 and "--min-rating: not for --format dpo" in dpo.stderr
    assert (tmp_path / "smolgen.json").read_bytes() == before and not (tmp_path / "sft.jsonl").exists()


def test_min_rating_chooses_the_rows_of_a_hub_folder_too(tmp_path):
    _store_with(tmp_path, ["accepted"] * 3)
    _rate(tmp_path, [5, 2, 4])
    result = run_cli("export", "--format", "hf", "--out", "ds", "--min-rating", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 rated below 4 or not rated left out" in result.stdout
    rows = [line for path in (tmp_path / "ds").rglob("*.jsonl") for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2
