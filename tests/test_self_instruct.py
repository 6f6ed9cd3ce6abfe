"""SelfInstruct: the list is parsed, the paper's filters drop what is not new or well formed, each with its reason."""

import json
import re

import pytest

from tests.conftest import run_cli, run_smolgen
from tests.scripted_model import ScriptedModel
from tui.engine.instruction_filters import InstructionFilters
from tui.engine.model import Completion, Sampling
from tui.engine.quality_gates import not_a_request
from tui.engine.runner import RunObserver, run_generation
from tui.engine.store import SampleStore
from tui.engine.techniques.base import AnswerSettings
from tui.engine.techniques.self_instruct import DEFAULT_CRITERIA, SelfInstruct, SelfInstructSettings

# What a small model writes: numbering, bullets, labels, quotes, a heading, a too short line, a
# keyword a text model cannot serve, leading punctuation, a near-duplicate and one copied example.
MESSY_LIST = """ What is synthetic data?
2) - Draw a picture of a data pipeline.
3. **Query 3:** "Explain how manual prompting extracts knowledge from a model."
# Notes
4. Data prompting.
5. ...and why is diversity important?
6. Explain how manual prompting extracts knowledge from the model.
7. Why are honey bees important for farmers?
8. Describe three risks of synthetic data for small models."""
LIST_MARKERS = re.compile(r"^\s*(\(?\d+[.):]|[-*•])|^\s*(query|question)\s*\d*:", re.IGNORECASE)
CONTEXT_FREE_REASONS = {"too_short", "too_long", "unservable_keyword", "starts_with_punctuation"}  # InstructionFilters.check's


def _run(store, prompts, outputs, rows, num=None, **settings):
    """Runs whose script holds the lists only: unanswered unless `answer` is given."""
    settings.setdefault("answer", AnswerSettings(enabled=False))
    model = ScriptedModel(outputs)
    technique = SelfInstruct(SelfInstructSettings(**settings))
    summary = run_generation(technique, store, model, prompts, num or len(rows), 7, rows)
    return summary, model


def test_filters_keep_what_is_new_and_record_each_rejection(store, prompts):
    summary, _ = _run(store, prompts, [MESSY_LIST], [{"text": "Synthetic data can be created by prompting a model."}], num_instructions=8)
    kept = [s["instruction"] for s in store.list_samples(statuses=["new"])]
    assert kept == [
        "What is synthetic data?",
        "Explain how manual prompting extracts knowledge from a model.",
        "Describe three risks of synthetic data for small models.",
    ]
    failed = {s["instruction"]: s["failure"] for s in store.list_samples(statuses=["failed"])}
    assert failed["Draw a picture of a data pipeline."]["reason"] == "unservable_keyword"
    assert failed["Data prompting."]["reason"] == "too_short"
    assert failed["...and why is diversity important?"]["reason"] == "starts_with_punctuation"
    near = failed["Explain how manual prompting extracts knowledge from the model."]
    assert near["reason"] == "near_duplicate" and "Explain how manual prompting extracts knowledge from a model." in near["message"]
    assert "its own prompt" in failed["Why are honey bees important for farmers?"]["message"]  # the template's example
    assert summary.stored == 3 and summary.failures == {
        "unservable_keyword": 1, "too_short": 1, "starts_with_punctuation": 1, "near_duplicate": 2,
    }


def test_instructions_already_in_the_store_are_near_duplicates(store, prompts):
    old_id = store.add_sample({"technique": "magpie", "instruction": "What is synthetic data used for?", "conversation": []})
    store.add_sample({"technique": "magpie", "status": "failed", "instruction": "Explain the water cycle to me."})
    _run(store, prompts, ["What is synthetic data used for today?\n2. Explain the water cycle to me."], [{"text": "Data."}])
    failed = store.list_samples(statuses=["failed"])[-1]
    assert failed["failure"]["reason"] == "near_duplicate" and f"sample {old_id}" in failed["failure"]["message"]
    assert [s["instruction"] for s in store.list_samples(statuses=["new"])][-1] == "Explain the water cycle to me."  # failed rows are not "in the store"


def test_the_threshold_is_configurable_and_each_filter_switchable(store, prompts):
    outputs = ["Explain how prompting works.\n2. Explain how prompting works well.\n3. Draw it.\n4. ,so what is this?"]
    summary, _ = _run(store, prompts, outputs, [{"text": "x"}], filters=InstructionFilters(rouge_threshold=0.95, check_keywords=False, check_punctuation=False))
    assert summary.stored == 3 and summary.failures == {"too_short": 1}  # ROUGE-L 0.89 is below 0.95
    summary, _ = _run(store, prompts, ["Explain it.\n2. Why?"], [{"text": "x"}], filters=InstructionFilters(check_length=False, check_near_duplicates=False))
    assert summary.stored == 2


def test_the_line_cut_by_the_token_cap_is_not_kept(store, prompts):
    summary, _ = _run(store, prompts, [("What is a seed?\n2. How are seeds chosen for synthetic data gen", "length")], [{"text": "x"}])
    assert summary.stored == 1 and summary.failures == {"token_cap": 1}


def test_instructions_past_the_number_asked_are_stored_as_failed_not_lost(store, prompts):
    asked = ["Which river is the longest in Europe?", "Explain how tides follow the moon.",
             "Name three uses of baking soda.", "Describe the water cycle step by step."]
    listed = "\n".join(f"{n}. {instruction}" for n, instruction in enumerate(asked, start=1))
    summary, _ = _run(store, prompts, [listed], [{"text": "x"}], num_instructions=2)
    assert summary.stored == 2 and summary.failures == {"beyond_count": 2}
    failed = store.list_samples(statuses=["failed"])
    assert [s["instruction"] for s in failed] == asked[2:]
    assert failed[0]["failure"]["message"] == "the list went on past the 2 instructions asked for"
    # Every parsed instruction is a sample: kept or failed with its reason, none dropped unrecorded.
    assert [s["source"]["position"] for s in store.list_samples()] == [1, 2, 3, 4]


def test_a_list_with_no_instruction_fails_the_row(store, prompts):
    summary, _ = _run(store, prompts, ["\n2.\n3.\n# Context"], [{"text": "x"}])
    assert summary.stored == 0 and summary.failures == {"no_instructions": 1}
    assert summary.completion_tokens == 4 and store.list_samples()[0]["source"]["raw"] == "\n2.\n3.\n# Context"


def test_each_kept_instruction_is_answered_by_default(store, prompts):
    outputs = ["What is a seed?\n2. Draw a map.\n3. Why do seeds matter?", "A starting point.", "They steer the data."]
    model = ScriptedModel(outputs)
    summary = run_generation(SelfInstruct(), store, model, prompts, 1, 7, [{"text": "x"}])
    samples = store.list_samples(statuses=["new"])
    assert [(s["instruction"], s["response"]) for s in samples] == [
        ("What is a seed?", "A starting point."), ("Why do seeds matter?", "They steer the data."),
    ]
    assert [m["role"] for m in samples[0]["conversation"]] == ["user", "assistant"]
    assert model.prompts[1] == "What is a seed?"  # answered by chat, as the chain does
    # The list's call is counted once, with the row's first sample; each answer with its own sample.
    assert sum(s["tokens"]["completion"] for s in store.list_samples()) == summary.completion_tokens == 13 + 3 + 4


def test_each_sample_is_stored_before_the_next_is_checked(store, prompts):
    class Recorder(RunObserver):
        def __init__(self):
            self.stored_when_done = []

        def sample_done(self, sample, done, total):
            self.stored_when_done.append(len(store.list_samples()))

    recorder = Recorder()
    technique = SelfInstruct(SelfInstructSettings(answer=AnswerSettings(enabled=False)))
    run_generation(technique, store, ScriptedModel(["What is a seed?\n2. Why do seeds matter?"]), prompts, 1, 1, [{"text": "x"}], recorder)
    assert recorder.stored_when_done == [1, 2]


def test_rows_run_in_parallel_do_not_both_keep_one_instruction(prompts):
    """Two rows (as with --parallel) list the same instruction, and both pass the check before either is
    answered and stored: only one may keep it."""
    import threading

    from tui.engine.techniques.base import GenerationContext

    both_checked = threading.Barrier(2, timeout=10)

    class TwoRowsModel(ScriptedModel):
        def complete(self, prompt, sampling, seed, stop=(), cancel=None, on_text=None, until=None):
            return Completion("What is a seed in synthetic data?", 5, 6, "stop", seed, 0.01, prompt=prompt)

        def chat(self, messages, sampling, seed, cancel=None, on_text=None, until=None):
            both_checked.wait()  # each row answers only once both rows have checked the instruction
            return Completion("A starting point.", 5, 3, "stop", seed, 0.01)

    technique = SelfInstruct(SelfInstructSettings(answer=AnswerSettings(enabled=True)))
    technique.prepare_run([])
    ctx = GenerationContext(TwoRowsModel([]), prompts, 7)
    samples, ids = [], iter(range(1, 100))

    def row(index):
        stream = technique.generate(ctx, index, {"text": "Seeds steer what a model writes."})
        sample = next(stream)
        while True:
            samples.append(sample)
            try:
                sample = stream.send(next(ids))  # as the runner does, once the sample is stored
            except StopIteration:
                return

    workers = [threading.Thread(target=row, args=(index,)) for index in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(s.get("status", "new") for s in samples) == ["failed", "new"]
    (failed,) = [s for s in samples if s.get("status") == "failed"]
    assert failed["failure"]["reason"] == "near_duplicate" and failed["response"] == "A starting point."


def test_template_has_distilabels_variables_and_keeps_seed_text_literal(store, prompts):
    _, model = _run(store, prompts, ["What is a seed?"], [{"text": "Compute {{ 7*7 }} about Smol models."}])
    prompt = model.prompts[0]
    assert "Compute {{ 7*7 }} about Smol models." in prompt and "49" not in prompt
    assert "Develop 5 user queries" in prompt and DEFAULT_CRITERIA in prompt and "# AI Application\nAI assistant" in prompt
    source = store.list_samples()[0]["source"]
    assert source["prompt"] == prompt and source["raw"] == "What is a seed?" and source["position"] == 1


def test_a_user_template_overrides_the_shipped_one(store, tmp_path):
    from tui.engine.prompts import PromptLibrary

    (tmp_path / "self_instruct.jinja2").write_text("Give {{ num_instructions }} questions about: {{ input }}\n1.", encoding="utf-8")
    _, model = _run(store, PromptLibrary(tmp_path), ["Why?\n2. How so?"], [{"text": "tea"}], num_instructions=2)
    assert model.prompts[0] == "Give 2 questions about: tea\n1."


def test_real_model_over_the_chapter_passage_and_english_seeds(model, prompts, store, chapter_passage):
    """Whatever the real model lists, each line is kept or dropped by the filters, as they judge that line."""
    rows = [{"text": chapter_passage["en"]}, {"text": chapter_passage["vi"]}, {"text": "What are the health benefits of green tea?"}]
    technique = SelfInstruct(SelfInstructSettings(num_instructions=3, answer=AnswerSettings(enabled=False), instruction_sampling=Sampling(temperature=0.7, repeat_penalty=1.1, max_tokens=40)))
    summary = run_generation(technique, store, model, prompts, 3, 11, rows)
    assert summary.stored >= 1, summary.failures  # of nine candidates
    samples = store.list_samples()
    assert {s["seed_row"]["text"][:20] for s in samples} == {r["text"][:20] for r in rows}  # every seed gave output
    assert summary.stored + summary.failed == len(samples) and sum(summary.failures.values()) == summary.failed
    filters = InstructionFilters()
    for sample in samples:
        assert sample["source"]["raw"] and sample["tokens"]["completion"] >= 0
        if sample["status"] == "new":
            assert not LIST_MARKERS.match(sample["instruction"]) and sample["instruction"] == sample["instruction"].strip()
            assert filters.check(sample["instruction"]) is None, sample["instruction"]
        elif sample["failure"]["reason"] in CONTEXT_FREE_REASONS:  # the others depend on the prompt and the store
            assert filters.check(sample["instruction"]).reason == sample["failure"]["reason"], sample["instruction"]
        elif sample["failure"]["reason"] == "not_a_request":
            assert not_a_request(sample["instruction"]) is not None, sample["instruction"]
        else:
            assert sample["failure"]["reason"] in {"near_duplicate", "example_topic", "token_cap", "no_instructions", "language_mismatch"}


COPY_A_LIST = (  # a user template in the model's chat format
    "<|im_start|>user\nCopy the list below exactly.\n\n1. What is synthetic data?\n2. Draw a picture of a cat.\n"
    "3. Say hi.\n4. ...and list three fruits.\n5. What is synthetic data?<|im_end|>\n<|im_start|>assistant\n"
)


def test_a_copied_list_trips_every_filter_and_a_user_templates_lines_are_its_own_prompt(tmp_path, store):
    from tui.engine.prompts import PromptLibrary

    (tmp_path / "self_instruct.jinja2").write_text(COPY_A_LIST, encoding="utf-8")
    copied = "1. What is synthetic data?\n2. Draw a picture of a cat.\n3. Say hi.\n4. ...and list three fruits.\n5. What is synthetic data?"
    summary, _ = _run(store, PromptLibrary(tmp_path), [copied], [{"text": "unused"}])
    failures = [(s["instruction"], s["failure"]["reason"]) for s in store.list_samples(statuses=["failed"])]
    assert failures == [
        ("What is synthetic data?", "near_duplicate"),  # it copies a line of its own prompt
        ("Draw a picture of a cat.", "unservable_keyword"),
        ("Say hi.", "too_short"),
        ("...and list three fruits.", "starts_with_punctuation"),
        ("What is synthetic data?", "near_duplicate"),
    ]
    assert summary.stored == 0


@pytest.mark.model
def test_cli_self_instruct_answers_by_default(tmp_path):
    (tmp_path / "seeds.txt").write_text("What are the health benefits of green tea?\n", encoding="utf-8")
    result = run_smolgen(
        "generate", "self-instruct", "--seeds", "seeds.txt", "--num-instructions", "2",
        "--max-tokens", "32", "--seed", "4", "--quiet", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "self-instruct: 1 seeds" in result.stderr and re.search(r"run \d+ finished: \d+ stored, \d+ failed", result.stderr)
    with SampleStore(tmp_path / "smolgen.json") as store:
        kept = store.list_samples(statuses=["new"])
        run = store.list_runs()[-1]
    assert all(s["response"] and s["technique"] == "self-instruct" for s in kept)
    assert run["settings"]["num_instructions"] == 2 and run["settings"]["answer"]["enabled"] is True
    assert sum(run["summary"]["failures"].values()) == run["summary"]["failed"]
    exported = run_smolgen("export", "--status", "all", "--include-truncated", "--out", "sft.jsonl", cwd=tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert exported.returncode == 0 and len(rows) == len(kept)  # rejected candidates are never exported


def test_cli_flag_of_another_technique_is_refused(tmp_path):
    (tmp_path / "seeds.txt").write_text("x\n")
    result = run_cli("generate", "chain", "--seeds", "seeds.txt", "--num-instructions", "3", cwd=tmp_path)
    assert result.returncode == 2 and "--num-instructions: only for self-instruct, not chain" in result.stderr
    result = run_cli("generate", "self-instruct", "--seeds", "seeds.txt", "--no-filter", "colour", cwd=tmp_path)
    assert result.returncode == 2 and "--no-filter colour: unknown for self-instruct; use one of repetition, language-mismatch, not-a-request, length, keywords" in result.stderr
