"""The longer pipeline (seeds → SelfInstruct → expand → EvolInstruct → response) written in Python: the same
graph as the built-in TOML one, every row counted through each step, and a run on the real model."""

from tests.scripted_model import ScriptedModel
from tui.engine.pipeline import EvolInstruct, ExpandColumns, LlamaCppLLM, LoadDataFromDicts, Pipeline, SelfInstruct, TextGeneration
from tui.engine.pipeline.draw import draw_text
from tui.engine.pipeline.toml_config import load_pipeline


def evol_chain(model, passage: str) -> Pipeline:
    llm = LlamaCppLLM(model=model)
    with Pipeline(name="evol-chain") as pipeline:
        load_seeds = LoadDataFromDicts(name="load_seeds", data=[{"text": passage}])
        self_instruct = SelfInstruct(name="self_instruct", llm=llm, num_instructions=3)
        one_per_row = ExpandColumns(name="one_per_row", column="instructions", into="instruction")
        evolve = EvolInstruct(name="evolve", llm=llm, num_evolutions=1, output_mappings={"evolved_instruction": "instruction"})
        respond = TextGeneration(name="respond", llm=llm, output_mappings={"generation": "response"}, max_tokens=48)
        load_seeds >> self_instruct >> one_per_row >> evolve >> respond
    return pipeline


def test_each_kept_instruction_is_evolved_then_answered(store, chapter_passage):
    model = ScriptedModel([
        "What is synthetic data used for?\n2. Draw a map of a data pipeline.\n3. How does prompting extract knowledge?",
        "What is synthetic data used for when training small language models?",  # the first row's evolution...
        "It fills the gaps that real data leaves.",  # ...and its answer
        "How does careful prompting extract knowledge from a model, step by step?",
        "By asking it well, one question at a time.",
    ])
    summary = evol_chain(model, chapter_passage["en"]).run(store=store)
    steps = summary.steps
    assert (steps["self_instruct"].generated, dict(steps["self_instruct"].rejected)) == (1, {"unservable_keyword": 1})
    assert steps["one_per_row"].rows == 2 and steps["evolve"].generated == steps["respond"].generated == 2
    samples = store.list_samples(statuses=["new"])
    assert [(s["instruction"], s["response"]) for s in samples] == [
        ("What is synthetic data used for when training small language models?", "It fills the gaps that real data leaves."),
        ("How does careful prompting extract knowledge from a model, step by step?", "By asking it well, one question at a time."),
    ]
    assert [s["columns"]["evolution"][0]["instruction"] for s in samples] == [
        "What is synthetic data used for?", "How does prompting extract knowledge?",  # the lineage back to the original
    ]
    assert summary.stored == 2 and not model.outputs


def test_evol_chain_from_python_runs_and_draws_like_the_builtin(model, store, chapter_passage):
    pipeline = evol_chain(model, chapter_passage["en"])
    builtin = load_pipeline("evol-chain")
    # The same steps, columns and mappings as the shipped TOML (only the seed text differs).
    assert draw_text(pipeline).splitlines()[2:] == draw_text(builtin).splitlines()[2:]

    summary = pipeline.run(store=store)
    steps = summary.steps
    made = steps["one_per_row"].rows  # how many instructions the real model wrote that passed the filters
    assert steps["evolve"].generated + steps["evolve"].failed == made
    assert summary.stored == steps["respond"].generated == len(store.list_samples(statuses=["new"]))
    for sample in store.list_samples(statuses=["new"]):
        assert sample["columns"]["evolution"][0]["round"] == 0
        assert sample["instruction"] and sample["response"]


def test_a_step_model_is_freed_after_the_run_and_a_model_handed_in_is_not(monkeypatch, tmp_path):
    from tui.engine import llm as llm_module

    closed = []

    class Closing(ScriptedModel):
        def close(self):
            closed.append(self)

    loaded = Closing(["An answer."] * 2)
    monkeypatch.setattr(llm_module.Model, "load", classmethod(lambda cls, *a, **k: loaded))
    given = Closing(["An answer."] * 2)
    own, handed_in = LlamaCppLLM(), LlamaCppLLM(model=given)
    with Pipeline(name="closing") as pipeline:
        seeds = LoadDataFromDicts(data=[{"instruction": "Say hi."}])
        first = TextGeneration(llm=own, output_mappings={"generation": "response"})
        second = TextGeneration(llm=handed_in, input_mappings={"instruction": "response"}, output_mappings={"generation": "reply"})
        seeds >> first >> second
    pipeline.run(tmp_path / "s.json")
    pipeline.close_models()
    assert closed == [loaded] and not own.loaded and handed_in.loaded
