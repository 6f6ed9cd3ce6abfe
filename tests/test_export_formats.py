"""Each export format read back the way the trainer it is for reads it (offline: the trainers' own rules,
field by field), from a store written directly (no model)."""

import json

from tests.conftest import run_cli
from tui.engine.model_file import default_model_path
from tui.engine.store import SampleStore

SYSTEM = "You are an AI assistant who helps users plan trips."
MULTI_TURN = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Where should I go in Vietnam?"},
    {"role": "assistant", "content": "Hội An is lovely in spring."},
    {"role": "user", "content": "Và mùa hè thì sao?"},
    {"role": "assistant", "content": "Đà Lạt mát mẻ vào mùa hè."},
    {"role": "user", "content": "Thanks!"},  # Magpie's --end-with-user: a last question nobody answered
]
SINGLE_TURN = [{"role": "user", "content": "Name a river."}, {"role": "assistant", "content": "The Mekong."}]


def _store(folder, *conversations) -> None:
    with SampleStore(folder / "smolgen.json") as store:
        for conversation in conversations:
            users = [m["content"] for m in conversation if m["role"] == "user"]
            answers = [m["content"] for m in conversation if m["role"] == "assistant"]
            store.add_sample({"technique": "magpie", "instruction": users[0], "response": answers[0] if answers else None,
                              "conversation": conversation, "status": "accepted"})


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _llama_factory_sharegpt(row: dict) -> tuple[str, list[tuple[str, str]]]:
    """A row as LLaMA-Factory's sharegpt converter reads it with its default tags (from/value, human/gpt/system):
    a leading system message, then human and gpt strictly alternating, an even count; anything else is
    dropped by it as broken data (here: an assertion)."""
    messages = row["conversations"]
    system = ""
    if messages and messages[0]["from"] == "system":
        system, messages = messages[0]["value"], messages[1:]
    assert len(messages) % 2 == 0 and messages, f"invalid message count: {row}"
    for turn, message in enumerate(messages):
        assert set(message) == {"from", "value"} and isinstance(message["value"], str)
        assert message["from"] == ("human", "gpt")[turn % 2], f"invalid role tag: {row}"
    return system, [(messages[i]["value"], messages[i + 1]["value"]) for i in range(0, len(messages), 2)]


def _axolotl_chat_template(row: dict) -> list[dict]:
    """A row as Axolotl's chat_template loader reads sharegpt (`field_messages: conversations`,
    `message_property_mappings: {role: from, content: value}`, its default roles mapping)."""
    roles = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
    return [{"role": roles[m["from"]], "content": m["value"]} for m in row["conversations"]]


def test_sharegpt_rows_read_by_llama_factory_and_axolotl_give_back_the_conversation(tmp_path):
    _store(tmp_path, MULTI_TURN, SINGLE_TURN, [{"role": "user", "content": "Unanswered?"}])
    result = run_cli("export", "--format", "sharegpt", "--out", "sft.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 2 rows" in result.stdout and "1 skipped (no answer)" in result.stdout
    multi, single = _rows(tmp_path / "sft.jsonl")
    assert _llama_factory_sharegpt(multi) == (SYSTEM, [("Where should I go in Vietnam?", "Hội An is lovely in spring."),
                                                       ("Và mùa hè thì sao?", "Đà Lạt mát mẻ vào mùa hè.")])
    assert _llama_factory_sharegpt(single) == ("", [("Name a river.", "The Mekong.")])
    assert _axolotl_chat_template(multi) == MULTI_TURN[:-1]  # the unanswered last question is not trained on
    assert "Đà Lạt" in (tmp_path / "sft.jsonl").read_text(encoding="utf-8")  # UTF-8 as written, not \u escapes


def test_text_rows_are_the_conversation_rendered_through_the_embedded_models_chat_template(tmp_path):
    _store(tmp_path, MULTI_TURN, SINGLE_TURN)
    result = run_cli("export", "--format", "text", "--out", "sft.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    multi, single = _rows(tmp_path / "sft.jsonl")
    # TRL's SFTTrainer with dataset_text_field="text" trains on this one string as it is.
    assert set(multi) == {"text"} and set(single) == {"text"}
    turns = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in MULTI_TURN]
    assert multi["text"] == "".join(turns)  # SmolLM2's ChatML, as its GGUF carries it
    # With no system message the template writes its own default one, as it does when the model is trained.
    assert single["text"] == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                              "<|im_start|>user\nName a river.<|im_end|>\n<|im_start|>assistant\nThe Mekong.<|im_end|>\n")


def test_text_renders_with_the_chat_template_named(tmp_path):
    _store(tmp_path, SINGLE_TURN)
    (tmp_path / "plain.jinja").write_text(
        "{% for m in messages %}### {{ m.role }}\n{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}### assistant\n{% endif %}",
        encoding="utf-8")
    result = run_cli("export", "--format", "text", "--chat-template", "plain.jinja", "--out", "sft.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _rows(tmp_path / "sft.jsonl") == [{"text": "### user\nName a river.\n### assistant\nThe Mekong.\n"}]
    from_gguf = run_cli("export", "--format", "text", "--chat-template", str(default_model_path()), "--out", "gguf.jsonl",
                            cwd=tmp_path)
    assert from_gguf.returncode == 0, from_gguf.stderr
    assert _rows(tmp_path / "gguf.jsonl")[0]["text"].startswith("<|im_start|>system\n")


def test_a_chat_template_for_a_format_that_renders_none_or_a_missing_one_is_one_line_and_exit_2(tmp_path):
    _store(tmp_path, SINGLE_TURN)
    (tmp_path / "plain.jinja").write_text("{{ messages }}", encoding="utf-8")
    for args in (["--format", "messages", "--chat-template", "plain.jinja"], ["--format", "text", "--chat-template", "none.jinja"]):
        result = run_cli("export", *args, "--out", "sft.jsonl", cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "--chat-template" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "sft.jsonl").exists()


def test_alpaca_rows_read_as_llama_factory_reads_alpaca(tmp_path):
    _store(tmp_path, SINGLE_TURN)
    assert run_cli("export", "--format", "alpaca", "--out", "sft.jsonl", cwd=tmp_path).returncode == 0
    [row] = _rows(tmp_path / "sft.jsonl")
    # LLaMA-Factory's alpaca converter: prompt = instruction + "\n" + input when input is given; response = output.
    prompt = "\n".join(part for part in (row["instruction"], row["input"]) if part)
    assert (prompt, row["output"]) == ("Name a river.", "The Mekong.")


def test_messages_rows_are_what_trl_calls_conversational(tmp_path):
    _store(tmp_path, MULTI_TURN)
    assert run_cli("export", "--format", "messages", "--out", "sft.jsonl", cwd=tmp_path).returncode == 0
    [row] = _rows(tmp_path / "sft.jsonl")
    # trl.data_utils.is_conversational: a "messages" list of dicts with "role" and "content".
    assert list(row) == ["messages"] and all(set(m) == {"role", "content"} for m in row["messages"])
    assert row["messages"] == MULTI_TURN
