"""The loop stop: an answer that has repeated a whole sentence or line fails the `repetition` gate
whatever follows, so its generation ends there (in-process, batched, or a streamed server request)
and the sample is stored failed `repetition`, not run on to the token cap and stored as truncated."""

import asyncio
import threading
from dataclasses import replace

import orjson
import pytest

from tests.scripted_model import ScriptedModel
from tui.bench.stub_server import Answer, ServerThread, StubServer
from tui.cli import build_parser
from tui.cli_technique_flags import settings_from_flags
from tui.engine.model import Sampling, TokenText
from tui.engine.runner import run_generation
from tui.engine.server.connect import connect
from tui.engine.server.settings import ServerSettings
from tui.engine.techniques.chain import InstructionResponse
from tui.engine.techniques.evol_instruct import EvolInstruct
from tui.engine.techniques.magpie import Magpie
from tui.engine.techniques.self_instruct import SelfInstruct
from tui.engine.techniques.text_generation import TextGeneration

CAP = Sampling().max_tokens
SENTENCE = "Rain falls from the clouds onto the hills."
# A loop as the small model writes it, as long as the token cap (one word a token on the scripted model).
LOOP = " ".join([SENTENCE] * (CAP // len(SENTENCE.split()) + 1)).split(" ")[:CAP]
LOOP_TEXT = " ".join(LOOP)
WORDS_TO_THE_REPEAT = 2 * len(SENTENCE.split())
SEED = [{"text": "The water cycle"}]

# What each technique is scripted to write before its answer (instructions that pass every gate).
BEFORE_THE_ANSWER = {
    "magpie": ["How does rain form?"],
    "chain": ["How does rain form?"],
    "self-instruct": ["How does rain form?\n"],
    "evol-instruct": ["How does rain form over high hills in winter?"],
    "text": [],
}


def _technique(name: str, flags: list[str]):
    args = build_parser().parse_args(["generate", name, *flags])
    settings = settings_from_flags(args)
    if name == "evol-instruct":
        settings = replace(settings, num_evolutions=1)
    return {"magpie": Magpie, "chain": InstructionResponse, "self-instruct": SelfInstruct, "evol-instruct": EvolInstruct,
            "text": TextGeneration}[name](settings)


def _run(name: str, answer: str | tuple[str, str], store, prompts, flags: list[str] = ()) -> dict:
    model = ScriptedModel([*BEFORE_THE_ANSWER[name], answer])
    run_generation(_technique(name, list(flags)), store, model, prompts, 1, 7, None if name == "magpie" else SEED)
    assert not model.outputs, "the answer was not asked for"
    return store.list_samples()[-1]


@pytest.mark.parametrize("name", list(BEFORE_THE_ANSWER))
def test_an_answer_that_repeats_a_sentence_stops_at_the_repeat_and_fails_repetition(name, store, prompts):
    sample = _run(name, (LOOP_TEXT, "length"), store, prompts)
    answer_call = sample["calls"][-1]
    assert answer_call["completion_tokens"] == WORDS_TO_THE_REPEAT < CAP  # not generated on to the cap
    assert answer_call["finish_reason"] == "repetition"  # why it ended, for a person reading the sample
    assert sample["status"] == "failed" and sample["failure"]["reason"] == "repetition"
    assert "truncated" not in sample["flags"]


@pytest.mark.parametrize("name", ["magpie", "chain"])
def test_no_filter_repetition_lets_the_loop_run_to_the_cap(name, store, prompts):
    stopped = _run(name, (LOOP_TEXT, "length"), store, prompts)["calls"][-1]
    sample = _run(name, (LOOP_TEXT, "length"), store, prompts, ["--no-filter", "repetition"])
    assert stopped["completion_tokens"] < CAP == sample["calls"][-1]["completion_tokens"]
    assert sample["calls"][-1]["finish_reason"] == "length"
    assert sample["status"] != "failed" and "truncated" in sample["flags"]


def test_an_answer_that_does_not_repeat_itself_is_untouched(store, prompts):
    """Short lines that recur ("Yes.") and a sentence that only starts like an earlier one are no loop."""
    answer = ("Rain falls from the clouds onto the hills. Rain falls from the clouds onto the hills and the valleys.\n"
              "Short lines recur:\nYes.\nYes.")
    looped = _run("chain", (LOOP_TEXT, "length"), store, prompts)
    sample = _run("chain", answer, store, prompts)
    assert looped["calls"][-1]["finish_reason"] == "repetition"  # the same run's loop is stopped
    assert sample["response"] == answer and sample["calls"][-1]["finish_reason"] == "stop"
    assert sample["calls"][-1]["completion_tokens"] == len(answer.split()) and sample["status"] != "failed"


def test_only_a_finished_sentence_counts_so_a_repeat_still_growing_is_not_stopped():
    """The in-process models' token loop (TokenText): a sentence that may still grow into another is not a repeat."""
    from tui.engine.quality_gates import LoopStop

    text = TokenText((), CAP, LoopStop())
    for word in f"{SENTENCE} Rain falls from the clouds onto the hills and".split(" "):
        text.add(f"{word} ".encode())
    assert not text.done  # "…onto the hills and" is another sentence in the making
    text.add(b"valleys. ")
    assert not text.done
    for word in SENTENCE.split(" "):
        text.add(f"{word} ".encode())
    assert text.done and text.finish == "repetition" and text.produced < CAP


@pytest.mark.model
def test_the_real_model_and_the_batched_model_end_a_call_where_the_check_says(model):
    """Properties only: the check sees the text so far and its reason becomes the finish reason."""
    from tui.engine.batched_model import BatchedModel

    def after_some_text(text: str) -> str | None:
        return "enough" if len(text) >= 20 else None

    messages = [{"role": "user", "content": "Tell me a long story about a dragon."}]
    alone = model.chat(messages, Sampling(max_tokens=200), seed=3, until=after_some_text)
    with BatchedModel(model, 2) as batched:
        together = batched.chat(messages, Sampling(max_tokens=200), seed=3, until=after_some_text)
    for completion in (alone, together):
        assert completion.finish_reason == "enough" and len(completion.text) >= 20
        assert completion.completion_tokens < 200


class LoopingServer(StubServer):
    """Streams a loop a token every few milliseconds, as a server generating it would, up to `max_tokens`;
    records how many pieces it sent before the stream ended."""

    def __init__(self):
        super().__init__()
        self.sent = 0
        self.ended = threading.Event()

    def _complete(self, request, chat):
        if not request.get("stream"):
            return super()._complete(request, chat)
        return Answer(200, self._events(int(request["max_tokens"])), "text/event-stream")

    async def _events(self, cap: int):
        try:
            for self.sent, word in enumerate(LOOP[:cap], start=1):
                chunk = {"choices": [{"index": 0, "finish_reason": None, "text": word + " "}]}
                yield b"data: " + orjson.dumps(chunk) + b"\n\n"
                await asyncio.sleep(0.005)  # a token's generation time
            yield b"data: " + orjson.dumps({"choices": [{"index": 0, "finish_reason": "length", "text": ""}]}) + b"\n\n"
            yield b"data: [DONE]\n\n"
        finally:
            self.ended.set()


def test_a_streamed_server_answer_is_closed_at_the_repeat(prompts, store):
    from tui.engine.quality_gates import LoopStop

    server = LoopingServer()
    with ServerThread(server.handle) as thread:
        model = connect(ServerSettings([thread.url]))
        try:
            streamed = model.complete("Why does it rain?", Sampling(), 5, on_text=lambda _piece: None, until=LoopStop())
            assert server.ended.wait(10)
        finally:
            model.close()
    assert streamed.finish_reason == "repetition" and streamed.text.split() == LOOP[:WORDS_TO_THE_REPEAT]
    assert server.sent < CAP // 4  # the server stopped streaming soon after: the connection was closed


def test_answers_are_drawn_with_a_repeat_penalty_and_the_turns_they_answer_without(store, prompts):
    """The penalty keeps the small model's answers from looping; Magpie's user turn keeps the paper's sampling."""
    magpie = ScriptedModel(["How does rain form?", "Water vapour cools into droplets."])
    run_generation(Magpie(), store, magpie, prompts, 1, 7)
    chain = ScriptedModel(["How does rain form?", "Water vapour cools into droplets."])
    run_generation(InstructionResponse(), store, chain, prompts, 1, 7, SEED)
    for model in (magpie, chain):
        user_turn, answer = model.samplings
        assert user_turn.repeat_penalty == 1.0 and answer.repeat_penalty > 1.0


def test_the_check_reads_each_sentence_once_and_starts_again_with_a_retried_text():
    from tui.engine.quality_gates import LoopStop

    check = LoopStop()
    assert check(f"{SENTENCE} ") is None
    assert check(f"{SENTENCE} Something else entirely, said once. ") is None
    # A retried request writes its text again from the start: what came before is not a repeat.
    assert check(f"{SENTENCE} ") is None
    assert check(f"{SENTENCE} {SENTENCE} ") == "repetition"
