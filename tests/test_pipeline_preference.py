"""The preference_pairs step in Python and TOML: its rows stored as preference samples, and a rerun served from
the cache without a model call."""

import json

from tests.scripted_model import ScriptedModel
from tui.engine.pipeline import LlamaCppLLM, LoadDataFromDicts, Pipeline, PreferencePairs
from tui.engine.pipeline.toml_config import load_pipeline


def rated(score: int) -> str:
    return json.dumps({"rating": score, "rationale": "Because."})


def pairs_pipeline(model) -> Pipeline:
    llm = LlamaCppLLM(model=model)
    with Pipeline(name="prefs") as pipeline:
        load = LoadDataFromDicts(name="load", data=[{"instruction": "What is DPO?"}])
        pairs = PreferencePairs(name="pairs", llm=llm, temperatures=[0.3, 1.2])
        load >> pairs
    return pipeline


def test_a_pipeline_ending_in_preference_pairs_stores_pairs_and_a_rerun_calls_no_model(store):
    model = ScriptedModel(["Direct preference optimisation.", "A thing.", rated(5), rated(2)])
    pairs_pipeline(model).run(store=store)
    [sample] = store.list_samples(technique="preference")
    assert sample["pipeline"] == "prefs" and sample["prompt"] == [{"role": "user", "content": "What is DPO?"}]
    assert [r["temperature"] for r in sample["responses"]] == [0.3, 1.2]
    assert (sample["chosen"], sample["rejected"], sample["margin"], sample["decided_by"]) == (0, 1, 3, "judge")
    again = pairs_pipeline(ScriptedModel([])).run(store=store)  # an empty script fails any call
    assert (again.steps["pairs"].cached, again.steps["pairs"].generated) == (1, 0)


def test_preference_pairs_from_toml_with_its_settings(tmp_path, store):
    (tmp_path / "prefs.toml").write_text(
        'name = "prefs"\n[[steps]]\nname = "load"\ntype = "load_data_from_dicts"\ndata = [{instruction = "Name a fruit."}]\n'
        '[[steps]]\nname = "pairs"\ntype = "preference_pairs"\nresponses = 3\ntemperatures = [0.2, 0.7, 1.2]\n', encoding="utf-8")
    model = ScriptedModel(["Apple.", "A fruit.", "Mango.", rated(4), rated(4), rated(4)])
    load_pipeline(tmp_path / "prefs.toml", llm=LlamaCppLLM(model=model)).run(store=store)
    [sample] = store.list_samples(technique="preference")
    assert len(sample["responses"]) == 3 and sample["skipped"]["reason"] == "tie"
    assert [s.temperature for s in model.samplings[:3]] == [0.2, 0.7, 1.2]
