"""The model layer against the real embedded SmolLM2-135M-Instruct."""

import logging
import threading

import pytest

from tui.engine.errors import GenerationFailed
from tui.engine.model import Cancelled, Model, Sampling, TokenText

SHORT = Sampling(max_tokens=12)


def test_chat_streams_chunks_that_add_up_to_the_result(model):
    chunks = []
    result = model.chat([{"role": "user", "content": "Write a long story about a dragon."}], SHORT, seed=1, on_text=chunks.append)
    assert "".join(chunks) == result.text
    assert len(chunks) >= 2 or len(result.text) < len("<|im_end|>")  # text that cannot begin a stop is shown as it comes
    assert result.prompt_tokens > 10
    assert 1 <= result.completion_tokens <= 12
    assert result.finish_reason in ("stop", "length")
    assert result.first_token_seconds is not None and result.seconds > 0


def test_token_cap_gives_finish_reason_length(model):
    result = model.chat([{"role": "user", "content": "Write a long story about a dragon."}], Sampling(max_tokens=3), seed=3)
    assert result.completion_tokens <= 3
    assert (result.finish_reason == "length") == (result.completion_tokens == 3)


def test_replies_end_at_the_end_of_their_turn(model):
    results = [model.chat([{"role": "user", "content": "Say hello."}], Sampling(max_tokens=200), seed=seed) for seed in (1, 2, 3)]
    for result in results:
        assert "<|im_end|>" not in result.text and "<|im_start|>" not in result.text
        assert (result.finish_reason == "stop") == (result.completion_tokens < 200)
    assert any(result.finish_reason == "stop" for result in results)  # a greeting ends long before the cap


def test_stop_strings_split_across_tokens_end_the_text_and_are_not_shown():
    text, shown = TokenText(("<|im_end|>",), limit=10), []
    for piece in (b"Hello", b" there", b"<|im", b"_end|>", b"never"):
        if text.done:  # as the stream does: no token is read once the text is done
            break
        shown.append(text.add(piece))
    assert "".join(shown) + text.flush() == "Hello there" == text.text
    assert (text.finish, text.done, text.produced) == ("stop", True, 4)


def test_a_character_split_across_tokens_is_shown_whole_and_the_cap_is_length():
    text = TokenText((), limit=3)
    shown = [text.add(piece) for piece in (b"Vi\xe1\xbb", b"\x87t", b" Nam")]
    assert shown == ["Vi", "ệt", " Nam"] and "\ufffd" not in text.text
    assert (text.finish, text.done) == ("length", True)
    ended = TokenText((), limit=3)
    ended.add(b"Hi")
    ended.end_of_turn()
    assert (ended.finish, ended.produced) == ("stop", 1)


def test_raw_completion_from_a_prompt_string(model):
    pre_query = model.chat_template.pre_query([])
    result = model.complete(pre_query, Sampling(max_tokens=40), seed=11, stop=model.turn_stops())
    assert result.text.strip()
    assert "<|im_end|>" not in result.text


def test_same_seed_same_text_other_seed_other_text(model):
    prompt = model.chat_template.pre_query([])
    hot = Sampling(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, max_tokens=16)
    first = model.complete(prompt, hot, seed=42).text
    again = model.complete(prompt, hot, seed=42).text
    others = {model.complete(prompt, hot, seed=s).text for s in (1, 2, 3)}
    assert first == again
    assert len(others | {first}) >= 3


def test_cancel_between_tokens(model):
    cancel = threading.Event()
    seen = []

    def on_text(chunk):
        seen.append(chunk)
        if len(seen) == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        model.chat([{"role": "user", "content": "Count to one hundred."}], Sampling(max_tokens=200), seed=1, cancel=cancel, on_text=on_text)
    assert len(seen) == 3


def test_prompt_longer_than_the_context_fails_with_a_reason(model):
    too_long = "word " * (model.n_ctx + 50)
    with pytest.raises(GenerationFailed) as error:
        model.chat([{"role": "user", "content": too_long}], SHORT, seed=1)
    assert error.value.reason == "context_overflow"
    assert f"context holds {model.n_ctx}" in str(error.value)


def test_vietnamese_round_trips_through_the_tokenizer(model, chapter_passage):
    result = model.chat([{"role": "user", "content": chapter_passage["vi"]}], Sampling(max_tokens=8), seed=5)
    assert "\ufffd" not in result.text


def test_bad_sampling_values_are_named():
    from tui.engine.errors import BadInput

    with pytest.raises(BadInput, match="top_p=0: must be above 0"):
        Sampling(top_p=0).validate()


@pytest.mark.model
def test_load_reports_progress_up_to_the_whole_model():
    shares: list[float] = []
    Model.load(n_ctx=256, n_threads=1, on_progress=shares.append)
    assert shares and shares[-1] == 1.0 and shares == sorted(shares)
    Model.load(n_ctx=256, n_threads=1)  # without a listener the defaults are llama.cpp's own again


@pytest.mark.model
def test_llama_cpp_logs_at_its_own_levels(caplog):
    """ggml's info lines are INFO and its per-token chatter DEBUG: a healthy load warns of nothing."""
    with caplog.at_level(logging.DEBUG, logger="smolgen.llama"):
        Model.load(n_ctx=512, n_threads=1)
    levels = {record.levelno for record in caplog.records if record.name == "smolgen.llama"}
    assert logging.INFO in levels and logging.DEBUG in levels
    assert max(levels) < logging.WARNING, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING][:3]
