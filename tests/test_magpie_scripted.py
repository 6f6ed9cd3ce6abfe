"""Magpie on a scripted model: exact behaviour where the real model's text cannot be predicted."""

from tests.scripted_model import ScriptedModel
from tui.engine.runner import run_generation
from tui.engine.techniques.magpie import Magpie, MagpieSettings


def test_a_user_turn_cut_by_its_cap_is_stored_as_failed_and_not_answered(store, prompts):
    model = ScriptedModel(["What is the capital of France?", "Paris.", ("Tell me about the history of the", "length")])
    summary = run_generation(Magpie(), store, model, prompts, 2, 3)
    assert summary.stored == 1 and dict(summary.failures) == {"user_turn_truncated": 1}
    failed = store.list_samples(statuses=["failed"])[0]
    assert failed["instruction"] == "Tell me about the history of the" and failed["response"] is None
    assert failed["failure"]["reason"] == "user_turn_truncated" and len(failed["calls"]) == 1  # no answer was asked for
    assert not model.outputs


def test_a_later_user_turn_cut_by_its_cap_fails_the_conversation(store, prompts):
    model = ScriptedModel(["What is rain?", "Water falling.", ("And why does it", "length")])
    summary = run_generation(Magpie(MagpieSettings(n_turns=2)), store, model, prompts, 1, 3)
    assert summary.stored == 0 and dict(summary.failures) == {"user_turn_truncated": 1}
    assert "user turn 2" in store.list_samples()[0]["failure"]["message"]


def test_in_a_pipeline_a_cut_user_turn_fails_the_row_with_its_reason(store):
    from tui.engine.pipeline import LlamaCppLLM, Pipeline
    from tui.engine.pipeline.generation_steps import MagpieGenerator

    cut = ("Tell me about the history of the", "length")
    with Pipeline(name="magpie-cut") as pipeline:
        MagpieGenerator(llm=LlamaCppLLM(model=ScriptedModel([cut, cut])), num_rows=1, max_retries=1)
    summary = pipeline.run(store=store)
    (counts,) = summary.steps.values()
    assert (counts.generated, dict(counts.failures)) == (0, {"user_turn_truncated": 1})
    assert store.list_samples(statuses=["new"]) == []
