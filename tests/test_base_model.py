"""A base model (a GGUF without a chat template): the techniques that write raw completion prompts run on
it; the ones that chat say they need a chat template before any model call or stored run."""

import pytest

from tests.scripted_model import ScriptedModel
from tui.engine.errors import BadInput
from tui.engine.runner import run_generation
from tui.engine.techniques.base import AnswerSettings
from tui.engine.techniques.chain import InstructionResponse
from tui.engine.techniques.evol_instruct import EvolInstruct, EvolInstructSettings
from tui.engine.techniques.magpie import Magpie
from tui.engine.techniques.self_instruct import SelfInstruct, SelfInstructSettings
from tui.engine.techniques.text_generation import TextGeneration

SEED = [{"text": "Generate a question about the Smol Course on small AI models."}]


def test_text_generation_continues_the_prompt_as_raw_text(store, prompts):
    model = ScriptedModel(["What is the purpose of the Smol Course?"], base_model=True)
    summary = run_generation(TextGeneration(), store, model, prompts, 1, 3, SEED)
    assert summary.stored == 1
    assert model.prompts == [prompts.load("text_generation").render(**SEED[0]) + "\n\n"]
    [sample] = store.list_samples()
    assert sample["response"] == "What is the purpose of the Smol Course?"


def test_self_instruct_and_evol_instruct_run_on_raw_prompts(store, prompts):
    listed = "1. What is the Smol Course?\n2. Explain why small models need little memory."
    unanswered = AnswerSettings(enabled=False)  # --no-answer: answering is a chat
    summary = run_generation(SelfInstruct(SelfInstructSettings(num_instructions=2, answer=unanswered)), store, ScriptedModel([listed], base_model=True),
                             prompts, 1, 3, SEED)
    assert summary.stored == 2
    evolved = "Explain, in three steps and with one example, why small models need little memory on a laptop."
    summary = run_generation(EvolInstruct(EvolInstructSettings(num_evolutions=1, answer=unanswered)), store, ScriptedModel([evolved], base_model=True),
                             prompts, 1, 3, [{"text": "Explain why small models need little memory."}])
    assert summary.stored == 1


@pytest.mark.parametrize("technique", [
    Magpie(), InstructionResponse(), SelfInstruct(), EvolInstruct(),
], ids=["magpie", "chain", "self-instruct answering", "evol-instruct answering"])
def test_a_technique_that_chats_says_it_needs_a_chat_template_before_anything_runs(store, prompts, technique):
    model = ScriptedModel(["never used"], base_model=True)
    with pytest.raises(BadInput, match=f"^{technique.name} needs a chat template: scripted.gguf: this GGUF has no chat template"):
        run_generation(technique, store, model, prompts, 1, 3, SEED)
    assert model.prompts == [] and store.list_runs() == []


def test_an_answering_technique_on_a_base_model_names_the_switch_that_runs_it(store, prompts):
    with pytest.raises(BadInput, match="; --no-answer keeps its instructions unanswered, on raw prompts$"):
        run_generation(SelfInstruct(), store, ScriptedModel([], base_model=True), prompts, 1, 3, SEED)


def test_a_base_models_raw_prompts_stop_at_its_end_of_text_token():
    import dataclasses

    from tui.engine.model import Model
    from tui.engine.model_file import default_model_path, inspect_model

    info = dataclasses.replace(inspect_model(default_model_path()), chat_template=None)
    model = Model(info, llama=None, n_ctx=2048, n_threads=1)  # the header only: no weights are loaded
    assert model.turn_stops() == (info.eos_token,)
    with pytest.raises(BadInput, match="has no chat template"):
        model.chat_template  # noqa: B018


def test_a_server_that_does_not_report_its_template_still_chats(store, prompts):
    """A server answers a conversation with its own chat template: text generation and the chain chat."""

    class UnreportedTemplateServer(ScriptedModel):
        serves_concurrently = True  # a server model

        def chat(self, messages, sampling, seed, cancel=None, on_text=None, until=None):
            return self.complete(messages[-1]["content"], sampling, seed, (), cancel, on_text, until)

    model = UnreportedTemplateServer(["Name a fruit.", "An apple."], base_model=True)
    summary = run_generation(InstructionResponse(), store, model, prompts, 1, 3, SEED)
    assert summary.stored == 1 and len(model.prompts) == 2
