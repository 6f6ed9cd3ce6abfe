"""The judge with the real embedded model, in-process, batched and behind llama-server: every schema the
judge can ask for becomes a grammar llama.cpp loads, and the answers read. Properties only, never text."""

from __future__ import annotations

import pytest

from tui.engine.batched_model import BatchedModel
from tui.engine.judge import DIFFICULTIES, INPUT_QUALITIES, SCALE, SCHEMAS, TASK_CATEGORIES, judge
from tui.engine.server.connect import connect
from tui.engine.server.settings import ServerSettings

pytestmark = pytest.mark.model

QA = [{"role": "user", "content": "What is the capital of France?"},
      {"role": "assistant", "content": "The capital of France is Paris."}]


class SchemaLog:
    """The real model, keeping the answer schema of every call."""

    def __init__(self, model):
        self.model, self.schemas = model, []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def chat(self, messages, sampling, seed, cancel=None, on_text=None, until=None):
        self.schemas.append(sampling.json_schema)
        return self.model.chat(messages, sampling, seed, cancel, on_text, until)


def test_every_grammar_the_judge_can_ask_for_loads_and_gives_a_judgement_that_reads(model):
    logged = SchemaLog(model)
    verdict = judge(logged, QA, ("overall",), seed=7)
    assert all(any(asked == schema for asked in logged.schemas) for schema in SCHEMAS)
    assert verdict.ok, verdict.failure
    assert verdict.ratings["overall"].rating in SCALE and verdict.ratings["overall"].rationale.strip()
    assert verdict.tags.input_quality in INPUT_QUALITIES and verdict.tags.difficulty in DIFFICULTIES
    assert verdict.tags.task_category in TASK_CATEGORIES
    assert verdict.judge == model.label and verdict.seconds > 0


def test_batched_decoding_samples_under_the_grammar_too(model):
    with BatchedModel(model, 2) as batched:
        verdict = judge(batched, QA, ("helpfulness",), tag=False, seed=7)
    assert verdict.ok, verdict.failure
    assert verdict.ratings["helpfulness"].rating in SCALE


def test_llama_server_holds_the_judge_to_the_schema(llama_server):
    served = connect(ServerSettings([llama_server.url]))
    try:
        verdict = judge(served, QA, ("truthfulness",), seed=7)
    finally:
        served.close()
    assert verdict.ok, verdict.failure
    assert verdict.ratings["truthfulness"].rating in SCALE and verdict.tags.difficulty in DIFFICULTIES
