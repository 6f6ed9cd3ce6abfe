"""The longer pipeline (seeds → SelfInstruct → expand → EvolInstruct → response) written in Python, run
on the real model, and the same graph as the built-in TOML one."""

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


def test_evol_chain_from_python_runs_and_draws_like_the_builtin(model, store, chapter_passage):
    pipeline = evol_chain(model, chapter_passage["en"])
    builtin = load_pipeline("evol-chain")
    # The same steps, columns and mappings as the shipped TOML (only the seed text differs).
    assert draw_text(pipeline).splitlines()[2:] == draw_text(builtin).splitlines()[2:]

    summary = pipeline.run(store=store)
    steps = summary.steps
    made = steps["one_per_row"].rows
    assert made >= 1
    assert steps["evolve"].generated + steps["evolve"].failed == made
    assert summary.stored == steps["respond"].generated == len(store.list_samples(statuses=["new"]))
    for sample in store.list_samples(statuses=["new"]):
        assert sample["columns"]["evolution"][0]["round"] == 0
        assert sample["instruction"] and sample["response"]
