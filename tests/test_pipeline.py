"""Pipelines: the chapter's example from Python and TOML, mappings, cache, resume, failures, drawing."""

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import SMOLGEN, run_smolgen
from tests.scripted_model import ScriptedModel
from tui.engine.errors import BadInput, GenerationFailed
from tui.engine.model import Model
from tui.engine.pipeline import LlamaCppLLM, LoadDataFromDicts, Pipeline, TextGeneration
from tui.engine.pipeline.draw import draw_mermaid, draw_text
from tui.engine.pipeline.generation_steps import TextGeneration as TextGenerationStep
from tui.engine.pipeline.toml_config import load_pipeline
from tui.engine.store import SampleStore

SEED_PROMPT = "Generate a short question about the Hugging Face Smol-Course."


@pytest.fixture
def model_calls(monkeypatch):
    """Counts every model call (each chat or raw completion goes through Model.stream)."""
    calls = []
    original = Model.stream

    def counting(self, *args, **kwargs):
        calls.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Model, "stream", counting)
    return calls


def chapter_pipeline(model, response_tokens=12, rows=1):
    """The chapter's example, ported line for line."""
    llm = LlamaCppLLM(model=model)
    with Pipeline(name="chapter") as pipeline:
        data = LoadDataFromDicts(data=[{"instruction": SEED_PROMPT}] * rows)
        gen_a = TextGeneration(llm=llm, output_mappings={"generation": "instruction"}, max_tokens=12)
        gen_b = TextGeneration(llm=llm, output_mappings={"generation": "response"}, max_tokens=response_tokens)
        data >> gen_a >> gen_b
    return pipeline


def test_chapter_example_runs_and_a_rerun_calls_the_model_zero_times(model, store, model_calls):
    summary = chapter_pipeline(model).run(store=store)
    assert summary.status == "finished" and summary.stored == 1
    assert len(model_calls) == 2
    sample = store.list_samples()[0]
    assert sample["instruction"] and sample["response"]
    assert [m["role"] for m in sample["conversation"]] == ["user", "assistant"]
    assert sample["columns"]["instruction"] == sample["instruction"]

    again = chapter_pipeline(model).run(store=store)
    assert len(model_calls) == 2  # nothing generated twice
    assert {name: c.cached for name, c in again.steps.items() if name.startswith("text")} == {
        "text_generation_0": 1,
        "text_generation_1": 1,
    }
    assert again.already_stored == 1 and len(store.list_samples()) == 1


def test_changing_a_step_recomputes_it_and_what_follows_only(model, store, model_calls):
    chapter_pipeline(model, response_tokens=12).run(store=store)
    changed = chapter_pipeline(model, response_tokens=14).run(store=store)
    first, second = changed.steps["text_generation_0"], changed.steps["text_generation_1"]
    assert (first.cached, first.generated) == (1, 0)
    assert (second.cached, second.generated) == (0, 1)
    assert len(model_calls) == 3


def test_no_cache_generates_new_samples(model, store):
    chapter_pipeline(model).run(store=store)
    chapter_pipeline(model).run(store=store, use_cache=False)
    instructions = [s["instruction"] for s in store.list_samples()]
    assert len(instructions) == 2 and instructions[0] != instructions[1]


def test_a_missing_column_is_rejected_before_any_generation(store):
    model = ScriptedModel([])
    with Pipeline(name="broken") as pipeline:
        data = LoadDataFromDicts(data=[{"topic": "LoRA"}])
        gen = TextGeneration(llm=LlamaCppLLM(model=model), name="ask")
        data >> gen
    with pytest.raises(BadInput, match="step 'ask' needs column 'instruction'.*available: topic"):
        pipeline.run(store=store)
    assert model.prompts == []


def test_input_mappings_fix_it(model, store):
    with Pipeline(name="mapped") as pipeline:
        data = LoadDataFromDicts(data=[{"topic": "Name a colour."}])
        gen = TextGeneration(llm=LlamaCppLLM(model=model), input_mappings={"instruction": "topic"}, max_tokens=8)
        data >> gen
    assert pipeline.run(store=store).stored == 1


class FlakyStep(TextGenerationStep):
    """A scripted step: fails for rows whose `fail` column says how many attempts must fail."""

    kind = "flaky"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.attempts = {}

    def technique(self):
        step = self

        class Scripted:
            name = "flaky"

            def generate(self, ctx, attempt, row):
                key = row["instruction"]
                step.attempts[key] = step.attempts.get(key, 0) + 1
                if step.attempts[key] <= row["fail"]:
                    raise GenerationFailed("empty", "the model wrote an empty generation")
                return {"generation": f"answer to {key}", "flags": [], "tokens": {"prompt": 1, "completion": 1}}

        return Scripted()


def test_failures_are_retried_then_recorded_and_rows_never_misalign(store):
    with Pipeline(name="flaky") as pipeline:
        data = LoadDataFromDicts(data=[
            {"instruction": "q1", "fail": 0},
            {"instruction": "q2", "fail": 2},   # succeeds on the third attempt
            {"instruction": "q3", "fail": 99},  # never succeeds
            {"instruction": "q4", "fail": 1},
        ])
        step = FlakyStep(llm=LlamaCppLLM(model=ScriptedModel([])), output_mappings={"generation": "response"}, max_retries=2)
        data >> step
    summary = pipeline.run(store=store)
    counts = summary.steps[step.name]
    assert (counts.generated, counts.failed, dict(counts.failures)) == (3, 1, {"empty": 1})
    assert step.attempts == {"q1": 1, "q2": 3, "q3": 3, "q4": 2}
    stored = {s["instruction"]: s["response"] for s in store.list_samples(statuses=["new"])}
    assert stored == {"q1": "answer to q1", "q2": "answer to q2", "q4": "answer to q4"}
    failed = store.list_samples(statuses=["failed"])
    assert len(failed) == 1 and failed[0]["seed_row"]["instruction"] == "q3"
    assert failed[0]["failure"] == {"reason": "empty", "message": "the model wrote an empty generation", "step": step.name, "attempts": 3}


def test_cancel_then_resume_generates_nothing_twice(model, store, model_calls):
    import threading

    cancel = threading.Event()
    from tui.engine.pipeline.executor import PipelineObserver

    class StopAfterFirstSample(PipelineObserver):
        def sample_done(self, sample, done, total):
            cancel.set()

    first = chapter_pipeline(model, rows=1)
    first.steps[0].data = [{"instruction": SEED_PROMPT, "n": i} for i in range(3)]
    summary = first.run(store=store, observer=StopAfterFirstSample(), cancel=cancel)
    assert summary.status == "cancelled" and summary.stored == 1
    calls_before = len(model_calls)

    second = chapter_pipeline(model, rows=1)
    second.steps[0].data = [{"instruction": SEED_PROMPT, "n": i} for i in range(3)]
    resumed = second.run(store=store)
    assert resumed.steps["text_generation_0"].cached == 1 and resumed.steps["text_generation_0"].generated == 2
    assert len(model_calls) - calls_before == 4
    assert len(store.list_samples()) == 3


@pytest.mark.model
def test_kill_9_then_resume_generates_nothing_twice(tmp_path, model_calls):
    command = [*SMOLGEN, "run", "chapter", "--num", "8", "--max-tokens", "12", "--quiet", "--threads", "1"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    stored_lines = 0
    while stored_lines < 2 and time.monotonic() < deadline:  # kill once two samples were stored
        line = process.stderr.readline()
        stored_lines += line.startswith("[stored")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert stored_lines == 2

    with SampleStore(tmp_path / "smolgen.json") as store:
        cached_before = len(store.cached_outputs())
        assert len(store.list_samples()) >= 2
    result = run_smolgen("run", "chapter", "--num", "8", "--max-tokens", "12", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    steps = summary["steps"]
    generated = steps["generate_instruction"]["generated"] + steps["generate_response"]["generated"]
    cached = steps["generate_instruction"]["cached"] + steps["generate_response"]["cached"]
    assert cached == cached_before and generated + cached == 16
    with SampleStore(tmp_path / "smolgen.json") as store:
        samples = store.list_samples()
        assert len(samples) == 8
        assert len(store.cached_outputs()) == 16


def test_toml_built_ins_and_errors(tmp_path):
    chapter = load_pipeline("chapter")
    assert [s.name for s in chapter.ordered()] == ["load_seeds", "generate_instruction", "generate_response"]
    (tmp_path / "bad.toml").write_text("name = 'x'\n[[steps]]\ntype = 'load_data_from_dicts'\ndata = [{a = 1}]\n[[steps]]\ntype = 'teleport'\n")
    with pytest.raises(BadInput, match=r"bad\.toml: step 2: unknown type 'teleport'"):
        load_pipeline(tmp_path / "bad.toml")
    (tmp_path / "key.toml").write_text("[[steps]]\ntype = 'load_data_from_dicts'\ndata = [{a = 1}]\n[[steps]]\nname = 'gen'\ntype = 'text_generation'\ntemprature = 2\n")
    with pytest.raises(BadInput, match=r"key\.toml: step gen: unknown key 'temprature'"):
        load_pipeline(tmp_path / "key.toml")
    (tmp_path / "syntax.toml").write_text("[[steps]\n")
    with pytest.raises(BadInput, match=r"syntax\.toml: not valid TOML"):
        load_pipeline(tmp_path / "syntax.toml")
    with pytest.raises(BadInput, match="no such pipeline file or built-in pipeline"):
        load_pipeline("nonesuch")


@pytest.mark.parametrize("weights, problem", [
    ("[1, 2]", "system_weights: 2 weights for 1 system prompts"),
    ("[0]", "system_weights: weights must be 0 or more, and not all 0"),
])
def test_system_weights_that_do_not_fit_name_the_steps_key_not_the_commands_flag(tmp_path, weights, problem):
    from tests.test_server_pipeline import refused_run_line

    path = tmp_path / "weights.toml"
    path.write_text("[[steps]]\ntype = 'load_data_from_dicts'\ndata = [{instruction = 'x'}]\n[[steps]]\nname = 'gen'\n"
                    f"type = 'text_generation'\nsystem_prompts = ['Be brief.']\nsystem_weights = {weights}\n", encoding="utf-8")
    assert refused_run_line(tmp_path, str(path)) == f"smolgen: {path}: step gen: {problem}"


@pytest.mark.parametrize("steps, problem", [
    ("[[steps]]\ntype = 'load_data_from_dicts'\ndata = [{instruction = 'x'}]\n[[steps]]\nname = 'gen'\ntype = 'text_generation'\n"
     "template = 'nope'\n", "step gen: template 'nope' not found in "),
    ("[[steps]]\ntype = 'load_seeds_from_store'\n[[steps]]\ntype = 'text_generation'\n"
     "input_mappings = { instruction = 'text' }\n", "step 1: the source step gives no rows"),  # the store holds samples but no seeds
])
def test_bad_input_found_as_the_run_starts_names_the_file_and_the_step(tmp_path, steps, problem):
    from tests.test_server_pipeline import refused_run_line

    path = tmp_path / "late.toml"
    path.write_text(steps, encoding="utf-8")
    assert refused_run_line(tmp_path, str(path)).startswith(f"smolgen: {path}: {problem}")


@pytest.mark.parametrize("steps", [
    "[[steps]]\ntype = 'load_data_from_dicts'\ndata = [{instruction = 'x'}]\n[[steps]]\ntype = 'text_generation'\ntemplate = 'nope'\n",
    "[[steps]]\ntype = 'load_seeds_from_store'\n[[steps]]\ntype = 'text_generation'\ninput_mappings = { instruction = 'text' }\n",
])
def test_a_refused_run_leaves_no_store_where_there_was_none(tmp_path, steps):
    from tests.conftest import run_cli

    (tmp_path / "late.toml").write_text(steps, encoding="utf-8")
    refused = run_cli("run", "late.toml", "--store", "new.json", cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["late.toml"]  # no store, journal or lock


def test_seeds_file_replaces_the_source_under_the_right_column(tmp_path):
    (tmp_path / "seeds.txt").write_text("Generate a question about LoRA.\nGenerate a question about SFT.\n")
    pipeline = load_pipeline("chapter", seeds=tmp_path / "seeds.txt", num=5)
    rows = pipeline.ordered()[0].rows()
    assert len(rows) == 5 and rows[0] == {"instruction": "Generate a question about LoRA."}
    assert rows[4]["_row"] == 4  # a repeated seed is a new row, not a replay


def test_drawing_of_the_chapter_pipeline():
    pipeline = load_pipeline("chapter")
    text = draw_text(pipeline)
    assert "generate_instruction  (text_generation)" in text and "out: generation → instruction" in text
    assert text.count("▼") == 2
    mermaid = draw_mermaid(pipeline)
    assert mermaid.startswith("flowchart TD") and 's1 -->|"instruction"| s2' in mermaid


@pytest.mark.model
def test_cli_draw_and_run_json(tmp_path):
    drawn = run_smolgen("draw", "chapter", "--format", "mermaid", "--out", "chapter.mmd", cwd=tmp_path)
    assert drawn.returncode == 0 and (tmp_path / "chapter.mmd").read_text().startswith("flowchart TD")
    result = run_smolgen("run", "chapter", "--num", "1", "--max-tokens", "8", "--json", cwd=tmp_path)
    summary = json.loads(result.stdout)
    assert summary["steps"]["generate_instruction"] == {"generated": 1, "cached": 0, "failed": 0, "rows": 1, "failures": {}, "rejected": {}}
    bad = run_smolgen("run", "nonesuch", cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_python_api_needs_a_pipeline_context():
    with pytest.raises(BadInput, match="inside `with Pipeline"):
        LoadDataFromDicts(data=[{"a": 1}])


@pytest.mark.model
def test_engine_pipeline_runs_from_a_subprocess_script(tmp_path):
    script = tmp_path / "chapter.py"
    script.write_text(
        "from tui.engine.pipeline import LlamaCppLLM, LoadDataFromDicts, Pipeline, TextGeneration\n"
        "llm = LlamaCppLLM()\n"
        "with Pipeline() as pipeline:\n"
        f"    data = LoadDataFromDicts(data=[{{'instruction': {SEED_PROMPT!r}}}])\n"
        "    gen_a = TextGeneration(llm=llm, output_mappings={'generation': 'instruction'}, max_tokens=8)\n"
        "    gen_b = TextGeneration(llm=llm, output_mappings={'generation': 'response'}, max_tokens=8)\n"
        "    data >> gen_a >> gen_b\n"
        "print(pipeline.run(store='out.json').stored)\n"
    )
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "1", result.stderr


@pytest.mark.model
def test_evol_chain_runs_from_toml_on_the_real_model(tmp_path):
    result = run_smolgen("run", "evol-chain", "--json", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    steps = summary["steps"]
    assert list(steps) == ["load_seeds", "self_instruct", "one_per_row", "evolve", "respond"]
    made = steps["one_per_row"]["rows"]  # SelfInstruct's kept instructions, one row each (as many as the model's pass)
    assert steps["evolve"]["generated"] + steps["evolve"]["failed"] == made
    assert summary["stored"] == steps["respond"]["generated"]
    with SampleStore(tmp_path / "smolgen.json") as store:
        for sample in store.list_samples(statuses=["new"]):
            assert sample["instruction"] and sample["response"]
            assert sample["columns"]["evolution"][0]["round"] == 0  # the lineage back to the original


def test_drawing_of_the_evol_chain():
    text = draw_text(load_pipeline("evol-chain"))
    for line in ("self_instruct  (self_instruct)", "in: instructions", "out: evolved_instruction → instruction, evolution",
                 "out: generation → response"):
        assert line in text


def test_a_self_instruct_step_leaves_answering_to_the_next_step(store):
    from tui.engine.pipeline import SelfInstruct

    with Pipeline(name="list-only") as pipeline:
        data = LoadDataFromDicts(data=[{"text": "Seeds steer what a model writes."}])
        step = SelfInstruct(llm=LlamaCppLLM(model=ScriptedModel(["What is a seed?\n2. Why do seeds matter?"])),
                            num_instructions=2)
        data >> step
    summary = pipeline.run(store=store)  # answering here would ask the script for two more outputs
    assert summary.steps[step.name].generated == 1 and summary.steps[step.name].failed == 0
