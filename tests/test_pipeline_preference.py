"""The preference_pairs step in Python and TOML: its rows stored as preference samples, and a rerun served from
the cache without a model call."""

import json

import pytest

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


def test_preference_pairs_in_toml_take_response_models_a_server_writing_in_turn_with_the_step_model(tmp_path, store):
    from tui.bench.stub_server import STUB_MODEL, ServerThread, StubServer

    with ServerThread(StubServer(words=8).handle) as server:
        (tmp_path / "prefs.toml").write_text(
            'name = "prefs"\n[[steps]]\nname = "load"\ntype = "load_data_from_dicts"\ndata = [{instruction = "Name a fruit."}]\n'
            f'[[steps]]\nname = "pairs"\ntype = "preference_pairs"\nresponses = 2\nresponders = ["{server.url}"]\n', encoding="utf-8")
        judge = ScriptedModel([rated(4), rated(2)])  # the step's model only judges: the server wrote both responses
        pipeline = load_pipeline(tmp_path / "prefs.toml", llm=LlamaCppLLM(model=judge))
        try:
            pipeline.run(store=store)
        finally:
            for step in pipeline.ordered():
                for llm in getattr(step, "responder_llms", ()):
                    llm.close()
    [sample] = store.list_samples(technique="preference")
    assert all(STUB_MODEL in r["model"] and r["content"].startswith("How do ") for r in sample["responses"])
    assert len(judge.prompts) == 2 and (sample["chosen"], sample["rejected"]) == (0, 1)
    [run] = [run for run in store.list_runs() if run["technique"] == "pipeline"]
    assert run["settings"]["steps"][1]["responders"] == [server.url]


# Named by the step's keys, where `smolgen generate preference` names its flags and the app its fields.
@pytest.mark.parametrize("keys, problem", [
    ('responders = ["missing.gguf"]', "responders missing.gguf: no such GGUF file (or give a server's http:// URL)"),
    ("temperatures = [9]", "temperatures 9: must be between 0 and 5"),
    ("temperatures = [0.2, 0.5, 0.9]", "temperatures: 3 temperatures for 2 responses (responses)"),
    ('system_prompts = ["A", "B", "C"]', "system_prompts: 3 system prompts for 2 responses (responses)"),
    ('system_prompts = ["A", "B"]\nsystem_weights = [3, 1]',
     "system_weights: preference gives the system_prompts to the responses in turn, not by weight"),
])
def test_a_bad_key_is_one_line_naming_the_file_the_step_and_the_key(tmp_path, keys, problem):
    from tests.test_server_pipeline import refused_run_line

    path = tmp_path / "prefs.toml"
    path.write_text('name = "prefs"\n[[steps]]\nname = "load"\ntype = "load_data_from_dicts"\ndata = [{instruction = "Hi."}]\n'
                    f'[[steps]]\nname = "pairs"\ntype = "preference_pairs"\n{keys}\n', encoding="utf-8")
    assert refused_run_line(tmp_path, str(path)) == f"smolgen: {path}: step pairs: {problem}"


def test_response_models_in_python_write_the_responses_and_the_step_model_judges(store):
    from tui.bench.stub_server import STUB_MODEL, ServerThread, StubServer

    judge = ScriptedModel([rated(5), rated(1)])
    with ServerThread(StubServer(words=8).handle) as server, Pipeline(name="prefs") as pipeline:
        load = LoadDataFromDicts(name="load", data=[{"instruction": "What is DPO?"}])
        pairs = PreferencePairs(name="pairs", llm=LlamaCppLLM(model=judge), responders=[server.url])
        load >> pairs
        pipeline.run(store=store)
        pairs.responder_llms[0].close()
    [sample] = store.list_samples(technique="preference")
    assert all(STUB_MODEL in r["model"] for r in sample["responses"]) and len(judge.prompts) == 2


def test_response_servers_in_toml_are_asked_for_the_model_and_key_variable_the_step_names(tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLGEN_TEST_RESPONSE_KEY", "sk-not-shown")
    (tmp_path / "prefs.toml").write_text(
        'name = "prefs"\n[[steps]]\nname = "load"\ntype = "load_data_from_dicts"\ndata = [{instruction = "Hi."}]\n'
        '[[steps]]\nname = "pairs"\ntype = "preference_pairs"\nresponders = ["http://writer.example:8080/v1"]\n'
        'response_server_model = "big-writer"\nresponse_api_key_env = "SMOLGEN_TEST_RESPONSE_KEY"\n', encoding="utf-8")
    pairs = load_pipeline(tmp_path / "prefs.toml").ordered()[-1]
    [server] = pairs.responder_llms  # connected on the first row, with these settings
    assert (server.settings.urls, server.settings.model, server.settings.api_key_env) == (
        ["http://writer.example:8080/v1"], "big-writer", "SMOLGEN_TEST_RESPONSE_KEY")
