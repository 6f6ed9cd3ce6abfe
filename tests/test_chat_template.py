"""Magpie's pre-query is derived from a model's own chat template, for any template family."""

import pytest

from tui.engine.chat_template import ChatTemplate
from tui.engine.errors import TemplateProblem
from tui.engine.model_file import default_model_path, inspect_model

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)


@pytest.fixture(scope="module")
def chatml():
    """The embedded SmolLM2's own template, read from its GGUF header as `Model.chat_template` reads it."""
    info = inspect_model(default_model_path())
    return ChatTemplate(info.chat_template, info.bos_token, info.eos_token, origin=f"{info.path.name} chat template")


def test_chatml_pre_query_keeps_the_templates_default_system_block(chatml):
    assert chatml.pre_query([]) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n"
    )


def test_chatml_pre_query_uses_the_users_system_prompt(chatml):
    system = [{"role": "system", "content": "You are an AI assistant who helps users solve math problems."}]
    assert chatml.pre_query(system) == (
        "<|im_start|>system\nYou are an AI assistant who helps users solve math problems.<|im_end|>\n<|im_start|>user\n"
    )


def test_chatml_second_turn_pre_query_continues_the_conversation(chatml):
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    pre = chatml.pre_query(turns)
    assert pre.endswith("<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n")
    assert chatml.end_of_turn() == "<|im_end|>"


def test_llama3_pre_query():
    template = ChatTemplate(LLAMA3, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
    assert template.pre_query([]) == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
    system = [{"role": "system", "content": "You are a poet."}]
    assert template.pre_query(system) == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a poet.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n"
    )
    assert template.end_of_turn() == "<|eot_id|>"


def test_gemma_pre_query_and_its_refusal_of_system_prompts():
    template = ChatTemplate(GEMMA, bos_token="<bos>", eos_token="<eos>", origin="gemma.gguf chat template")
    assert template.pre_query([]) == "<bos><start_of_turn>user\n"
    assert template.end_of_turn() == "<end_of_turn>"
    with pytest.raises(TemplateProblem, match="gemma.gguf chat template: System role not supported"):
        template.pre_query([{"role": "system", "content": "You are a poet."}])


def test_broken_chat_template_is_reported_with_its_origin():
    with pytest.raises(TemplateProblem, match="x.gguf chat template:1"):
        ChatTemplate("{% for m in messages %}", origin="x.gguf chat template")
