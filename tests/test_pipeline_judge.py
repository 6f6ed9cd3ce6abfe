"""The pipeline's `judge` step, from Python and TOML, with the scripted model: verdicts on the stored
samples, cached like every model step, a failed verdict failing its row with the reason."""

from __future__ import annotations

import pytest

from tests.scripted_model import ScriptedModel
from tests.test_judge import rated, tagged
from tui.engine.errors import BadInput
from tui.engine.judge import ATTEMPTS, RATING_SCHEMA
from tui.engine.pipeline import Judge, LlamaCppLLM, LoadDataFromDicts, Pipeline
from tui.engine.pipeline.toml_config import load_pipeline

ROWS = [{"instruction": "What is 2 plus 2?", "response": "4."}, {"instruction": "Name a colour.", "response": "Blue."}]


def judged_pipeline(judge_model, **settings):
    with Pipeline(name="judged") as pipeline:
        data = LoadDataFromDicts(data=ROWS)
        step = Judge(llm=LlamaCppLLM(model=judge_model), **settings)
        data >> step
    return pipeline, step


def test_a_judge_step_keeps_its_verdict_on_each_sample_and_a_rerun_asks_the_judge_nothing(store):
    judge_model = ScriptedModel([rated(5), rated(4), tagged(), rated(2), rated(1), tagged("poor")])
    pipeline, step = judged_pipeline(judge_model, aspects=["helpfulness", "honesty"])
    summary = pipeline.run(store=store)
    assert summary.stored == 2 and summary.steps[step.name].generated == 2
    assert all(s.json_schema is not None for s in judge_model.samplings)
    verdicts = {s["instruction"]: s["judgement"] for s in store.list_samples()}
    assert verdicts["What is 2 plus 2?"]["rating"] == 4.5 and verdicts["Name a colour."]["rating"] == 1.5
    assert verdicts["Name a colour."]["tags"]["input_quality"] == "poor"
    assert set(verdicts["What is 2 plus 2?"]["ratings"]) == {"helpfulness", "honesty"}

    # an empty script: any call to the judge would fail the test
    pipeline_again, step_again = judged_pipeline(ScriptedModel([]), aspects=["helpfulness", "honesty"])
    rerun = pipeline_again.run(store=store)
    assert rerun.steps[step_again.name].cached == 2 and rerun.steps[step_again.name].generated == 0


def test_a_verdict_that_never_reads_fails_its_row_with_the_reason_and_no_score(store):
    judge_model = ScriptedModel([rated(3), tagged(), *["not json"] * ATTEMPTS])
    pipeline, step = judged_pipeline(judge_model, max_retries=0)
    summary = pipeline.run(store=store)
    counts = summary.steps[step.name]
    assert (counts.generated, counts.failed, dict(counts.failures)) == (1, 1, {"unreadable": 1})
    [failed] = store.list_samples(statuses=["failed"])
    assert failed["seed_row"]["instruction"] == "Name a colour." and "no usable answer" in failed["failure"]["message"]
    assert "judgement" not in failed
    assert judge_model.samplings[0].json_schema == RATING_SCHEMA


def test_a_judge_that_cannot_chat_is_refused_before_the_run_is_recorded(store):
    pipeline, step = judged_pipeline(ScriptedModel([], base_model=True))
    with pytest.raises(BadInput) as raised:
        pipeline.run(store=store)
    assert str(raised.value) == f"step {step.name}: the judge needs a chat template: scripted.gguf: this GGUF has no chat template " \
        "(tokenizer.chat_template)"
    assert store.list_runs() == [] and store.list_samples() == []


def test_a_judge_step_from_toml_with_bad_settings_is_one_clear_error(tmp_path):
    good = tmp_path / "judged.toml"
    good.write_text('[[steps]]\ntype = "load_data_from_dicts"\ndata = [{ instruction = "Hi?", response = "Hello." }]\n'
                    '[[steps]]\ntype = "judge"\naspects = ["truthfulness"]\ntag = false\n', encoding="utf-8")
    pipeline = load_pipeline(good, max_tokens=64)  # the run's token cap is not the judge's
    judge_step = pipeline.ordered()[1]
    assert judge_step.settings_value.aspects == ["truthfulness"] and judge_step.settings_value.tag is False
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text(encoding="utf-8").replace('"truthfulness"', '"kindness"'), encoding="utf-8")
    with pytest.raises(BadInput, match=r"bad\.toml: step 2: aspects=kindness: unknown; use overall, helpfulness"):
        load_pipeline(bad)
    missing = tmp_path / "missing.toml"
    missing.write_text(good.read_text(encoding="utf-8") + 'judge_model = "nowhere.gguf"\n', encoding="utf-8")
    with pytest.raises(BadInput, match="nowhere.gguf"):
        load_pipeline(missing)
