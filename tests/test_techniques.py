"""Each technique against the real model, with short outputs."""

import threading
from dataclasses import replace

import pytest

from tui.engine.model import Sampling
from tui.engine.quality_gates import QualityGates
from tui.engine.runner import RunObserver, run_generation
from tui.engine.settings_schema import record
from tui.engine.techniques.base import GenerationContext, SystemPrompts
from tui.engine.techniques.chain import ChainSettings, InstructionResponse, clean_instruction, instruction_from_reply
from tui.engine.techniques.magpie import Magpie, MagpieSettings, user_turn_sampling
from tui.engine.techniques.text_generation import TextGeneration, TextGenerationSettings

SHORT = Sampling(max_tokens=24)
# These tests check Magpie's mechanics with caps short enough to be quick: a cut user turn, or one no
# gate would keep, is still a turn here.
NO_GATES = QualityGates.all_off()
UNGATED = {"gates": NO_GATES, "check_user_turn_cap": False}


def _ctx(model, prompts, seed=7):
    return GenerationContext(model, prompts, seed)


def test_text_generation_renders_the_row_and_answers(model, prompts):
    technique = TextGeneration(TextGenerationSettings(sampling=SHORT))
    sample = technique.generate(_ctx(model, prompts), 0, {"text": "Generate a question about the Smol Course on small AI models."})
    assert sample["technique"] == "text"
    assert sample["instruction"] == "Generate a question about the Smol Course on small AI models."
    assert sample["generation"] == sample["response"] and sample["response"]
    assert [m["role"] for m in sample["conversation"]] == ["user", "assistant"]
    assert sample["tokens"]["completion"] >= 1 and sample["calls"][0]["seed"]


def test_chain_generates_an_instruction_then_its_answer(model, prompts):
    technique = InstructionResponse(ChainSettings(instruction_sampling=SHORT, response_sampling=SHORT, gates=NO_GATES))
    stages = []
    ctx = GenerationContext(model, prompts, 3, on_stage=stages.append)
    sample = technique.generate(ctx, 0, {"text": "Generate a question about the Smol Course on small AI models."})
    assert sample["instruction"] and sample["response"]
    assert "Reply with the question or request only" in sample["seed_prompt"]
    assert len(sample["calls"]) == 2 and len(sample["raw"]) == 2
    assert stages == ["Instruction → response · instruction", "Instruction → response · response"]


def test_clean_instruction_strips_labels_and_quotes():
    assert clean_instruction('  Question: "What is the Smol Course?" ') == "What is the Smol Course?"


def test_magpie_writes_the_user_turn_from_the_pre_query(model, prompts):
    technique = Magpie(MagpieSettings(user_sampling=Sampling(temperature=1.0, top_p=1.0, top_k=0, min_p=0, max_tokens=40), assistant_sampling=SHORT, **UNGATED))
    sample = technique.generate(_ctx(model, prompts), 0, None)
    assert [m["role"] for m in sample["conversation"]] == ["user", "assistant"]
    assert sample["system_prompt"] is None
    assert sample["pre_query"].endswith("<|im_start|>user\n") and "SmolLM" in sample["pre_query"]
    assert "<|im_" not in sample["instruction"]


def test_magpie_user_turn_defaults_follow_the_paper():
    user = MagpieSettings().user_sampling
    assert (user.temperature, user.top_p, user.top_k, user.min_p) == (1.0, 1.0, 0, 0.0)
    assert MagpieSettings().assistant_sampling.temperature < 1.0


def test_magpie_multi_turn_and_end_with_user(model, prompts):
    settings = MagpieSettings(n_turns=2, end_with_user=True, user_sampling=Sampling(max_tokens=16), assistant_sampling=Sampling(max_tokens=16), **UNGATED)
    stages = []
    ctx = GenerationContext(model, prompts, 5, on_stage=stages.append)
    sample = Magpie(settings).generate(ctx, 0, None)
    assert [m["role"] for m in sample["conversation"]] == ["user", "assistant", "user"]
    assert stages == ["Magpie · turn 1 · user", "Magpie · turn 1 · assistant", "Magpie · turn 2 · user"]


def test_magpie_only_instruction(model, prompts):
    sample = Magpie(MagpieSettings(n_turns=3, only_instruction=True, user_sampling=Sampling(max_tokens=16), **UNGATED)).generate(_ctx(model, prompts), 0, None)
    assert [m["role"] for m in sample["conversation"]] == ["user"] and sample["response"] is None


def test_magpie_weighted_system_prompts_are_drawn_and_recorded(model, prompts):
    system = SystemPrompts(["You are an AI assistant who helps users solve math problems.", "You are a helpful assistant."], [1.0, 0.0])
    settings = MagpieSettings(system=system, only_instruction=True, user_sampling=Sampling(max_tokens=12), **UNGATED)
    sample = Magpie(settings).generate(_ctx(model, prompts), 0, None)
    assert sample["system_prompt"] == "You are an AI assistant who helps users solve math problems."
    assert sample["conversation"][0] == {"role": "system", "content": sample["system_prompt"]}
    assert "math problems" in sample["pre_query"]


def test_run_stores_every_sample_with_its_provenance(model, prompts, store):
    class Recorder(RunObserver):
        def __init__(self):
            self.done = []

        def sample_done(self, sample, done, total):
            self.done.append((done, total, len(store.list_samples())))

    recorder = Recorder()
    technique = Magpie(MagpieSettings(user_sampling=replace(user_turn_sampling(), max_tokens=12), assistant_sampling=Sampling(max_tokens=12), **UNGATED))
    summary = run_generation(technique, store, model, prompts, 3, 1234, observer=recorder)
    assert summary.status == "finished" and summary.stored == 3
    assert recorder.done == [(1, 3, 1), (2, 3, 2), (3, 3, 3)]  # each sample is stored before the next starts
    samples = store.list_samples()
    for sample in samples:
        assert sample["seed"] == 1234 and sample["run_id"] == summary.run_id
        assert sample["model"]["fingerprint"] == model.info.fingerprint and sample["model"]["file"].endswith(".gguf")
        assert sample["settings"]["user_sampling"] == record(replace(user_turn_sampling(), max_tokens=12))
        assert {"prompt", "completion"} <= set(sample["tokens"]) and sample["calls"][0]["finish_reason"] in ("stop", "length")
    assert len({s["instruction"] for s in samples}) == 3  # a fresh seed per sample, not one repeated sample
    assert store.list_runs()[0]["summary"]["stored"] == 3


def test_same_run_seed_reproduces_the_run(model, prompts, store):
    technique = Magpie(MagpieSettings(only_instruction=True, user_sampling=Sampling(max_tokens=12), **UNGATED))
    first = run_generation(technique, store, model, prompts, 2, 99)
    second = run_generation(technique, store, model, prompts, 2, 99)
    texts = lambda run: [s["instruction"] for s in store.list_samples(run_id=run.run_id)]  # noqa: E731
    assert texts(first) == texts(second)


def test_failed_sample_is_recorded_and_the_run_goes_on(model, prompts, store):
    rows = [{"text": "word " * 3000}, {"text": "Name a fruit."}]
    technique = TextGeneration(TextGenerationSettings(sampling=SHORT))
    summary = run_generation(technique, store, model, prompts, 2, 1, rows)
    assert summary.failed == 1 and summary.stored == 1 and summary.failures == {"context_overflow": 1}
    failed = store.list_samples(statuses=["failed"])[0]
    assert failed["failure"]["reason"] == "context_overflow" and failed["seed_row"] == rows[0]


def test_cancel_keeps_finished_samples_and_drops_the_one_in_progress(model, prompts, store):
    cancel = threading.Event()

    class CancelDuringSecond(RunObserver):
        def __init__(self):
            self.samples = 0

        def sample_done(self, sample, done, total):
            self.samples = done

        def text(self, chunk):
            if self.samples == 1:
                cancel.set()

    technique = Magpie(MagpieSettings(user_sampling=Sampling(max_tokens=16), assistant_sampling=Sampling(max_tokens=16), **UNGATED))
    summary = run_generation(technique, store, model, prompts, 5, 8, observer=CancelDuringSecond(), cancel=cancel)
    assert summary.status == "cancelled"
    assert len(store.list_samples()) == 1
    assert store.list_runs()[0]["status"] == "cancelled"


@pytest.mark.parametrize("reply, instruction", [
    ('A user might ask, "How did the printing press change Europe?" or "Who built it?"', "How did the printing press change Europe?"),
    ("How about asking: \u201cWhat is the cheapest way to travel by train?\u201d", "What is the cheapest way to travel by train?"),
    ("What are small language models good for?\n\nAnswer: Small models run on laptops.", "What are small language models good for?"),
    ("A question: How does a bicycle gear work?", "How does a bicycle gear work?"),
    ("Explain compound interest to a child.", "Explain compound interest to a child."),
    ("The answer is: How does the immune system learn from vaccines?", "How does the immune system learn from vaccines?"),
    ("What a fun topic! Here's a possible request: Explain how to add fractions.", "Explain how to add fractions."),
    ("To answer this question, a user might ask: How can I make a board game?", "How can I make a board game?"),
    # Kept whole: the label names no request, or what follows the label asks nothing.
    ("In two sentences: describe the water cycle.", "In two sentences: describe the water cycle."),
    ("Answer in French: the water cycle.", "Answer in French: the water cycle."),
])
def test_the_chain_takes_the_instruction_out_of_a_framed_reply(reply, instruction):
    assert instruction_from_reply(reply) == instruction
