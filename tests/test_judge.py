"""The LLM judge with the scripted model (exact parsing, retries and failures) and a stub server (the
schema reaches the server in the fields servers read)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tests.scripted_model import ScriptedModel
from tui.bench.stub_server import Answer, ServerThread, StubServer
from tui.engine.errors import BadInput, GenerationFailed
from tui.engine.judge import (
    ASPECTS, ATTEMPTS, AspectRating, RATING_SCHEMA, TAGS_SCHEMA, judge, parse_aspects, read_answer,
)
from tui.engine.server.connect import connect
from tui.engine.server.settings import ServerSettings

QA = [{"role": "user", "content": "What is the capital of France?"}, {"role": "assistant", "content": "Paris."}]


def rated(rating: Any, rationale: str = "It is right.") -> str:
    return json.dumps({"rating": rating, "rationale": rationale})


def tagged(quality: str = "good", difficulty: str = "very easy", category: str = "Information seeking") -> str:
    return json.dumps({"explanation": "A plain factual question.", "input_quality": quality, "difficulty": difficulty,
                       "task_category": category})


def test_each_aspect_is_rated_in_its_own_call_under_the_rating_schema_and_the_instruction_is_tagged():
    model = ScriptedModel([rated(5), rated(2, "It is curt."), tagged()])
    verdict = judge(model, QA, ("helpfulness", "honesty"), seed=3)
    assert verdict.ok and verdict.failure is None
    assert {a: (r.rating, r.rationale) for a, r in verdict.ratings.items()} == {"helpfulness": (5, "It is right."),
                                                                               "honesty": (2, "It is curt.")}
    assert verdict.rating == 3.5
    assert (verdict.tags.input_quality, verdict.tags.difficulty, verdict.tags.task_category) == ("good", "very easy", "Information seeking")
    assert [s.json_schema for s in model.samplings] == [RATING_SCHEMA, RATING_SCHEMA, TAGS_SCHEMA]
    assert "helpfulness" in model.prompts[0] and "honesty" in model.prompts[1]  # each call asks about its aspect
    assert all("Paris." in prompt for prompt in model.prompts[:2]) and "capital of France" in model.prompts[2]
    record = verdict.record()
    assert record["judge"] == "scripted model" and record["rating"] == 3.5 and record["failure"] is None
    assert record["ratings"]["honesty"] == {"rating": 2, "rationale": "It is curt."}
    assert record["tags"]["task_category"] == "Information seeking" and record["judged"]


def test_an_answer_that_does_not_read_is_asked_for_again():
    model = ScriptedModel(["I think it is good", rated(4), tagged()])
    verdict = judge(model, QA, seed=3)
    assert verdict.ok and verdict.ratings["overall"].rating == 4
    assert len(model.prompts) == 3 and model.prompts[0] == model.prompts[1]


@pytest.mark.parametrize("answers, reason", [
    (["no json here"] * ATTEMPTS, "not a JSON object"),
    ([rated(7)] * ATTEMPTS, "rating 7 is not 1 to 5"),
    ([rated(3.5)] * ATTEMPTS, "rating 3.5 is not a whole number"),
    ([rated(4, " ")] * ATTEMPTS, "rationale is empty"),
    ([('{"rating": 4, "rationale": "It goes on and on', "length")] * ATTEMPTS, "cut off at the token cap"),
])
def test_an_answer_that_never_reads_fails_the_judgement_with_the_reason_and_no_score(answers, reason):
    model = ScriptedModel(answers)
    verdict = judge(model, QA, seed=3)
    assert not verdict.ok and verdict.rating is None and verdict.ratings == {} and verdict.tags is None
    assert verdict.failure.startswith("overall: ") and reason in verdict.failure and f"{ATTEMPTS} tries" in verdict.failure
    assert verdict.failure_reason == "unreadable"
    assert not model.outputs  # exactly ATTEMPTS tries, then the tags were not asked for
    assert verdict.record()["rating"] is None


def test_a_failed_tag_call_drops_the_ratings_too():
    verdict = judge(ScriptedModel([rated(5), *['{"input_quality": "superb"}'] * ATTEMPTS]), QA, seed=3)
    assert not verdict.ok and verdict.ratings == {} and verdict.failure.startswith("tags: ")


def test_a_prompt_too_long_for_the_judge_fails_at_once_with_the_models_reason():
    class Overflowing(ScriptedModel):
        def complete(self, *args, **kwargs):
            super().complete(*args, **kwargs)
            raise GenerationFailed("context_overflow", "the prompt has 5000 tokens but the context holds 2048")

    model = Overflowing([rated(5)] * 5)
    verdict = judge(model, QA, seed=3)
    assert not verdict.ok and "5000 tokens" in verdict.failure and len(model.prompts) == 1 and verdict.failure_reason == "context_overflow"


def test_a_conversation_without_an_answer_is_only_tagged():
    model = ScriptedModel([tagged("poor", "hard", "Math")])
    verdict = judge(model, QA[:1], ("overall",), seed=3)
    assert verdict.ok and verdict.ratings == {} and verdict.rating is None and verdict.tags.task_category == "Math"


def test_a_conversation_with_nothing_to_judge_fails_without_asking_the_model():
    model = ScriptedModel([])
    verdict = judge(model, [{"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Hi"}], tag=False)
    assert not verdict.ok and verdict.failure_reason == "nothing_to_judge" and "no assistant answer" in verdict.failure
    assert model.prompts == []


def test_tags_can_be_left_out():
    model = ScriptedModel([rated(1)])
    verdict = judge(model, QA, tag=False, seed=3)
    assert verdict.ok and verdict.tags is None and verdict.rating == 1 and not model.outputs


def test_a_server_that_wraps_its_json_in_prose_is_still_read():
    fields = read_answer('Sure! ```json\n{"rating": 2, "rationale": "Too short."}\n```', RATING_SCHEMA)
    assert fields == {"rating": 2, "rationale": "Too short."}


def test_aspects_are_overall_or_the_ultrafeedback_four():
    assert parse_aspects("overall") == ("overall",)
    assert parse_aspects("helpfulness, honesty,honesty") == ("helpfulness", "honesty")
    assert parse_aspects(",".join(ASPECTS[1:])) == ASPECTS[1:]
    with pytest.raises(BadInput, match=r"^--aspects kindness: unknown aspect; use overall or helpfulness,honesty"):
        parse_aspects("honesty,kindness")
    with pytest.raises(BadInput):
        judge(ScriptedModel([]), QA, ("kindness",))


class JudgingStub(StubServer):
    """The stub server answering every completion with a rating, keeping each request's body."""

    def __init__(self):
        super().__init__()
        self.bodies: list[dict[str, Any]] = []

    async def handle(self, method: str, target: str, body: bytes) -> Answer:
        if method == "POST":
            self.bodies.append(orjson.loads(body))
            choice = {"index": 0, "finish_reason": "stop", "text": rated(4, "Served.")}
            return Answer(200, orjson.dumps({"choices": [choice], "usage": {"prompt_tokens": 9, "completion_tokens": 9}}))
        return await super().handle(method, target, body)


def test_on_a_server_the_schema_goes_as_response_format_and_as_llama_servers_own_field():
    stub = JudgingStub()
    with ServerThread(stub.handle) as thread:
        model = connect(ServerSettings([thread.url]))
        try:
            verdict = judge(model, QA, tag=False, seed=3)
        finally:
            model.close()
    assert verdict.ok and verdict.ratings["overall"] == AspectRating(4, "Served.")
    [body] = [body for body in stub.bodies if "response_format" in body]  # connecting probes without one
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": RATING_SCHEMA, "strict": True}}
    assert body["json_schema"] == RATING_SCHEMA  # llama-server's /completions ignores response_format
