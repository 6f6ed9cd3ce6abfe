"""The run's live quality line and `--stop-when-saturated`, on a scripted model that repeats itself."""

import io

from tests.conftest import run_cli
from tests.scripted_model import ScriptedModel
from tui.cli_generate import TerminalObserver, summary_line
from tui.engine.run_quality import RunQuality
from tui.engine.runner import run_generation
from tui.engine.techniques.magpie import Magpie


def _kept(instruction: str) -> dict:
    return {"instruction": instruction, "response": "An answer.", "flags": []}


def _failed(reason: str) -> dict:
    return {"status": "failed", "failure": {"reason": reason, "message": "..."}}


def test_the_line_counts_kept_failed_by_reason_and_the_near_duplicate_share():
    quality = RunQuality()
    for sample in (_kept("What is the capital of France?"), _failed("repetition"), _kept("What is the capital of France, please?"),
                   _failed("not_a_request"), _failed("repetition"), _kept("Explain how rain forms over the sea.")):
        quality.add(sample)
    assert quality.line() == "kept 3 · near-duplicates 33% · failed 3 (repetition 2, not_a_request 1)"


def test_the_line_counts_samples_flagged_off_topic_once_there_is_one():
    quality = RunQuality()
    quality.add(_kept("What is 15% of 240?"))
    assert "off-topic" not in quality.line()
    quality.add({**_kept("Who won the 2010 World Cup?"), "flags": ["off_topic"]})
    assert quality.line() == "kept 2 · off-topic 1 · near-duplicates 0% · failed 0"


def test_the_cli_prints_the_quality_after_each_sample():
    err = io.StringIO()
    observer = TerminalObserver(io.StringIO(), err, stream_tokens=False)
    observer.sample_done({**_kept("Why is the sky blue?"), "tokens": {"completion": 5}, "seconds": 0.1}, 1, 2)
    observer.sample_done({**_failed("language_mismatch"), "instruction": "Trời màu gì?"}, 2, 2)
    lines = err.getvalue().splitlines()
    assert lines[0].endswith("│ kept 1 · near-duplicates 0% · failed 0")
    assert lines[1].endswith("│ kept 1 · near-duplicates 0% · failed 1 (language_mismatch 1)")


REPEATED = ["What is the capital of France?", "Paris is the capital of France."]


def test_a_run_that_repeats_itself_stops_when_saturated_and_says_so(store, prompts):
    fresh = ["How do bees make honey?", "Explain why the sea is salty.", "Give me a recipe for pancakes.",
             "Who wrote the first computer program?", "Describe a day in the life of a lighthouse keeper."]
    script = [text for question in fresh for text in (question, "A fact.")] + REPEATED * 30
    summary = run_generation(Magpie(), store, ScriptedModel(script), prompts, 40, 3, saturation_window=6)
    # Five different questions, then the same one: the first copy is new, four more make most of the last six.
    assert summary.status == "saturated" and summary.stored == 5 + 1 + 4
    assert "stopped when saturated: 4 of the last 6 samples were near-duplicates of earlier ones" in summary_line(summary)
    assert "30 of 40 samples not run" in summary_line(summary)
    assert store.list_runs()[-1]["status"] == "saturated"


def test_without_the_flag_a_repeating_run_goes_to_the_end(store, prompts):
    summary = run_generation(Magpie(), store, ScriptedModel(REPEATED * 8), prompts, 8, 3)
    assert summary.status == "finished" and summary.stored == 8


def test_a_negative_window_is_one_line_exit_2(tmp_path):
    result = run_cli("generate", "magpie", "--stop-when-saturated", "-1", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "smolgen: --stop-when-saturated -1: must be at least 1 (0 or left out: never)"]
