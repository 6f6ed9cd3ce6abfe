"""`smolgen export`: what goes out, what is left out and why (stores written by hand, no model)."""

import json

from tests.conftest import run_cli
from tui.engine.store import SampleStore


def _sample(instruction: str, answer: str | None, flags: tuple[str, ...] = ()) -> dict:
    conversation = [{"role": "user", "content": instruction}]
    if answer is not None:
        conversation.append({"role": "assistant", "content": answer})
    return {"technique": "magpie", "instruction": instruction, "response": answer, "conversation": conversation,
            "flags": list(flags), "status": "accepted"}


def _store(folder, *samples: dict) -> list[int]:
    with SampleStore(folder / "smolgen.json") as store:
        return [store.add_sample(sample) for sample in samples]


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_truncated_samples_are_left_out_unless_asked_and_the_summary_says_so(tmp_path):
    _store(tmp_path, _sample("Whole question?", "A whole answer."),
           _sample("Cut question?", "An answer that stops mid", ("truncated",)))
    result = run_cli("export", "--out", "out.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r["messages"][0]["content"] for r in _rows(tmp_path / "out.jsonl")] == ["Whole question?"]
    assert "wrote 1 rows" in result.stdout and "1 truncated left out (--include-truncated keeps them)" in result.stdout

    kept = run_cli("export", "--out", "all.jsonl", "--include-truncated", cwd=tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert len(_rows(tmp_path / "all.jsonl")) == 2 and "truncated" not in kept.stdout


def test_a_truncated_sample_a_person_edited_goes_out(tmp_path):
    (cut,) = _store(tmp_path, _sample("Cut question?", "An answer that stops mid", ("truncated",)))
    with SampleStore(tmp_path / "smolgen.json") as store:
        store.edit_sample(cut, [{"role": "user", "content": "Cut question?"}, {"role": "assistant", "content": "Finished by hand."}])
    result = run_cli("export", "--out", "out.jsonl", cwd=tmp_path)
    assert [r["messages"][1]["content"] for r in _rows(tmp_path / "out.jsonl")] == ["Finished by hand."]


def test_instructions_alone_have_their_own_format(tmp_path):
    _store(tmp_path, _sample("Name three rivers in Vietnam.", None), _sample("Kể tên ba con sông.", "Sông Hồng, sông Mekong."))
    result = run_cli("export", "--format", "instructions", "--out", "out.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _rows(tmp_path / "out.jsonl") == [{"instruction": "Name three rivers in Vietnam."}, {"instruction": "Kể tên ba con sông."}]
    messages = run_cli("export", "--out", "sft.jsonl", cwd=tmp_path)
    assert "wrote 1 rows" in messages.stdout and "1 skipped (no answer)" in messages.stdout


def test_an_export_left_with_only_truncated_samples_writes_nothing_and_says_why(tmp_path):
    _store(tmp_path, _sample("Cut question?", "An answer that stops mid", ("truncated",)))
    result = run_cli("export", "--out", "out.jsonl", cwd=tmp_path)
    assert result.returncode == 1 and not (tmp_path / "out.jsonl").exists()
    assert "the 1 accepted samples were cut off by a token cap (--include-truncated keeps them)" in result.stderr
