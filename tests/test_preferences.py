"""Preference samples: the pair decided from ratings (ties and ordering exactly), a person's pick over the judge's,
kept in the store and undone, and `smolgen export --format dpo` read back field by field."""

import json

import pytest

from tests.conftest import run_cli
from tui.engine.errors import BadInput
from tui.engine.export import export_pairs
from tui.engine.preferences import compared_pair, judged_decision, preference_sample, response_record
from tui.engine.store import SampleStore

PROMPT = [{"role": "system", "content": "You are a terse tutor."}, {"role": "user", "content": "What is 2 + 2?"}]


def rated(content, score, **fields):
    """A response with a judgement as the judge stores it: the mean rating, no failure."""
    return response_record(content, rating={"rating": score, "failure": None}, **fields)


def test_the_highest_rated_response_is_chosen_against_the_lowest_with_their_difference_as_margin():
    decision = judged_decision([rated("ok", 3), rated("best", 4.5), rated("worst", 1), rated("also worst", 1)])
    assert (decision.chosen, decision.rejected, decision.margin, decision.skipped) == (1, 2, 3.5, None)


def test_equal_ratings_make_no_pair_and_say_why():
    decision = judged_decision([rated("a", 4), rated("b", 4)])
    assert decision.chosen is None and decision.rejected is None
    assert decision.skipped == {"reason": "tie", "message": "every rated response scored 4"}


def test_a_failed_judgement_is_left_out_of_the_pair_and_too_few_ratings_make_none():
    failed = response_record("c", rating={"rating": None, "failure": "the judge's answer never matched its schema"})
    assert judged_decision([rated("a", 2), failed, rated("b", 4)]).chosen == 2
    decision = judged_decision([rated("a", 2), failed])
    assert decision.chosen is None and decision.skipped["reason"] == "unrated"
    assert "1 of 2 responses have no rating" in decision.skipped["message"]


def _stored(store, *responses, **extra):
    return store.add_sample(preference_sample(PROMPT, list(responses), **extra))


def test_a_persons_pick_overrides_the_judge_is_stored_at_once_and_keeps_the_judges_decision(tmp_path):
    path = tmp_path / "smolgen.json"
    with SampleStore(path) as store:
        sample_id = _stored(store, rated("good", 5), rated("bad", 2))
        left, right = compared_pair(store.get_sample(sample_id))
        store.pick_preference(sample_id, "left" if left == 1 else "right")  # the response the judge rejected
    with SampleStore(path, read_only=True) as store:
        sample = store.get_sample(sample_id)
    assert (sample["chosen"], sample["rejected"], sample["decided_by"]) == (1, 0, "human")
    assert sample["judge"]["chosen"] == 0 and sample["judge"]["margin"] == 3
    assert compared_pair(sample) == (left, right)  # the same two, on the same sides, after the pick


def test_a_pick_is_undone_by_putting_the_sample_back(tmp_path):
    with SampleStore(tmp_path / "smolgen.json") as store:
        sample_id = _stored(store, rated("a", 3), rated("b", 3))
        before = store.get_sample(sample_id)
        assert store.pick_preference(sample_id, "tie")["skipped"]["message"] == "a person called it a tie"
        store.restore_sample(before)
        after = store.get_sample(sample_id)
    assert after["decided_by"] == "judge" and "judge" not in after and after["skipped"]["reason"] == "tie"


def test_only_a_preference_sample_can_be_picked(tmp_path):
    with SampleStore(tmp_path / "smolgen.json") as store:
        sample_id = store.add_sample({"technique": "magpie", "instruction": "Hi?"})
        with pytest.raises(Exception, match="not a preference sample"):
            store.pick_preference(sample_id, "left")


def _store_of_pairs(folder):
    with SampleStore(folder / "smolgen.json") as store:
        strong = _stored(store, rated("Four.", 5, temperature=0.2), rated("Five.", 1, temperature=1.2), run_id=1)
        weak = _stored(store, rated("4", 4), rated("four", 3))
        tie = _stored(store, rated("a", 2), rated("b", 2))
        store.add_sample({"technique": "magpie", "instruction": "Hi?", "response": "Hello.",
                          "conversation": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]})
        rejected = _stored(store, rated("x", 5), rated("y", 1))
        store.set_status([rejected], "rejected")
        return strong, weak, tie


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_dpo_writes_trls_preference_format_with_the_system_message_first(tmp_path):
    _store_of_pairs(tmp_path)
    result = run_cli("export", "--format", "dpo", "--out", "prefs.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 2 pairs (dpo)" in result.stdout and "1 without a pair (tie or unrated) left out" in result.stdout
    first, second = _rows(tmp_path / "prefs.jsonl")  # the tie, the SFT sample and the rejected pair stay out
    assert set(first) == {"prompt", "chosen", "rejected"}
    assert first["prompt"] == PROMPT
    assert first["chosen"] == [{"role": "assistant", "content": "Four."}]
    assert first["rejected"] == [{"role": "assistant", "content": "Five."}]
    assert second["chosen"][0]["content"] == "4" and second["rejected"][0]["content"] == "four"


def test_min_margin_keeps_clear_judge_pairs_and_every_pick_a_person_made(tmp_path):
    strong, weak, tie = _store_of_pairs(tmp_path)
    with SampleStore(tmp_path / "smolgen.json") as store:
        store.pick_preference(tie, "left")
    result = run_cli("export", "--format", "dpo", "--out", "prefs.jsonl", "--min-margin", "2", cwd=tmp_path)
    assert result.returncode == 0 and "1 below --min-margin left out" in result.stdout
    assert [row["chosen"][0]["content"] for row in _rows(tmp_path / "prefs.jsonl")] == ["Four.", "a" if tie % 2 == 0 else "b"]
    human = run_cli("export", "--format", "dpo", "--out", "human.jsonl", "--human-only", cwd=tmp_path)
    assert human.returncode == 0 and "2 decided by the judge (--human-only) left out" in human.stdout
    assert len(_rows(tmp_path / "human.jsonl")) == 1


def test_export_dpo_without_a_pair_exits_1_and_writes_no_file(tmp_path):
    with SampleStore(tmp_path / "smolgen.json") as store:
        _stored(store, rated("a", 2), rated("b", 2))
    result = run_cli("export", "--format", "dpo", "--out", "prefs.jsonl", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("smolgen: prefs.jsonl: not written, no pair to export among 1 preference samples")
    assert not (tmp_path / "prefs.jsonl").exists() and not list(tmp_path.glob(".prefs.jsonl*"))


@pytest.mark.parametrize("flags, expected", [
    (["--format", "dpo", "--min-margin", "-1"], "--min-margin -1: must be 0 or more"),
    (["--min-margin", "1"], "--min-margin: only for --format dpo, not messages"),
    (["--human-only"], "--human-only: only for --format dpo, not messages"),
])
def test_pair_flags_given_wrong_are_one_line_and_exit_2(tmp_path, flags, expected):
    _store_of_pairs(tmp_path)
    result = run_cli("export", "--out", "prefs.jsonl", *flags, cwd=tmp_path)
    [line] = result.stderr.strip().splitlines()
    assert result.returncode == 2 and line.startswith(f"smolgen: {expected}")
    assert not (tmp_path / "prefs.jsonl").exists()


def test_sft_formats_leave_preference_samples_out(tmp_path):
    _store_of_pairs(tmp_path)
    result = run_cli("export", "--out", "sft.jsonl", "--status", "all", cwd=tmp_path)
    assert result.returncode == 0 and "wrote 1 rows" in result.stdout and "skipped" not in result.stdout


def test_export_pairs_refuses_a_negative_margin_before_writing(tmp_path):
    with pytest.raises(BadInput):
        export_pairs([], tmp_path / "prefs.jsonl", min_margin=-0.5)
    assert not list(tmp_path.iterdir())


def test_a_pair_with_a_truncated_response_is_left_out_unless_asked_for(tmp_path):
    with SampleStore(tmp_path / "smolgen.json") as store:
        cut = rated("It goes on and", 4)
        cut["truncated"] = True
        _stored(store, rated("Done.", 5), cut)
    left_out = run_cli("export", "--format", "dpo", "--out", "prefs.jsonl", cwd=tmp_path)
    assert left_out.returncode == 1 and "1 with a truncated response (--include-truncated keeps them) left out" in left_out.stderr
    kept = run_cli("export", "--format", "dpo", "--out", "prefs.jsonl", "--include-truncated", cwd=tmp_path)
    assert kept.returncode == 0 and _rows(tmp_path / "prefs.jsonl")[0]["rejected"][0]["content"] == "It goes on and"


def test_a_hub_folder_of_pairs_holds_trl_rows_split_and_a_card_that_counts_what_was_left_out(tmp_path):
    from tests.test_export_hub import _card

    _store_of_pairs(tmp_path)
    result = run_cli("export", "--format", "hf", "--rows", "dpo", "--out", "ds", "--test-size", "0.5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 1 train and 1 test rows (dpo, status new, accepted)" in result.stdout
    assert "1 without a pair (tie or unrated) left out" in result.stdout
    rows = _rows(tmp_path / "ds" / "data" / "train.jsonl") + _rows(tmp_path / "ds" / "data" / "test.jsonl")
    assert sorted(row["chosen"][0]["content"] for row in rows) == ["4", "Four."]  # the tie and the rejected pair stay out
    assert all(set(row) == {"prompt", "chosen", "rejected"} and row["prompt"] == PROMPT for row in rows)
    meta, body = _card(tmp_path / "ds")
    assert "dpo" in meta["tags"] and meta["configs"][0]["data_files"][0] == {"split": "train", "path": "data/train.jsonl"}
    assert "in the `dpo` format" in body and "left out: 1 without a pair (tie or unrated)" in body
    margin = run_cli("export", "--format", "hf", "--rows", "dpo", "--out", "wide", "--min-margin", "2", cwd=tmp_path)
    assert margin.returncode == 0 and "1 below --min-margin left out" in margin.stdout
    assert len(_rows(tmp_path / "wide" / "data" / "train.jsonl")) == 1 and not (tmp_path / "wide" / "data" / "test.jsonl").exists()


def test_a_hub_folder_of_pairs_refuses_a_min_rating_and_sft_rows_refuse_pair_flags(tmp_path):
    _store_of_pairs(tmp_path)
    rated = run_cli("export", "--format", "hf", "--rows", "dpo", "--out", "ds", "--min-rating", "3", cwd=tmp_path)
    assert rated.returncode == 2 and "--min-rating: not for --format dpo or --rows dpo" in rated.stderr
    sft = run_cli("export", "--format", "hf", "--out", "ds", "--human-only", cwd=tmp_path)
    assert sft.returncode == 2 and "--human-only: only for --format dpo, not messages" in sft.stderr
    assert not (tmp_path / "ds").exists()
