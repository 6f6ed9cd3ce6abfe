"""The quality gates on hand-written English and Vietnamese texts: what each must catch and let through,
and each gate switched off by `--no-filter NAME` and applied as a technique stores its samples."""

import pytest

from tests.scripted_model import ScriptedModel
from tui.cli import build_parser
from tui.cli_technique_flags import settings_from_flags
from tui.engine.quality_gates import QualityGates, language_mismatch, not_a_request, repetition
from tui.engine.runner import run_generation
from tui.engine.techniques.base import SystemPrompts
from tui.engine.techniques.chain import ChainSettings, InstructionResponse
from tui.engine.techniques.magpie import Magpie, MagpieSettings
from tui.engine.techniques.self_instruct import SelfInstruct

REQUESTS = [
    "What is synthetic data?",
    "Explain how photosynthesis works.",
    "Give three tips for saving money on groceries.",
    "In two sentences, describe the water cycle.",
    "Please write a short poem about the sea.",
    "I need a simple recipe for pho",
    "1. List the main causes of inflation.",
    "Who invented the telephone",
    "Mục đích của Khóa học Smol là gì?",
    "Hãy viết một bài thơ ngắn về biển.",
    "Giải thích quá trình quang hợp.",
    "Kể tên ba con sông lớn ở Việt Nam.",
    "Bạn có biết Hà Nội không",
    "Dữ liệu tổng hợp được tạo ra như thế nào",
    "Dựa vào đoạn văn trên, hãy tóm tắt ý chính.",
    "¿Qué es un modelo de lenguaje?",
    "Nenne drei Flüsse in Deutschland.",  # a language without rules passes
]
STATEMENTS = [
    "Synthetic data can be generated from the model's text generation capabilities.",
    "The sky is blue because of Rayleigh scattering.",
    "Photosynthesis is the process by which plants make their food.",
    "This course teaches small language models and AI.",
    "Dữ liệu tổng hợp có thể được tạo ra từ khả năng sinh văn bản của mô hình.",
    "Hà Nội là thủ đô của Việt Nam.",
    "Mô hình ngôn ngữ nhỏ chạy được trên máy tính xách tay.",
    "What a fascinating topic! Vaccines teach the immune system to spot a germ.",  # an exclamation, no question
]


@pytest.mark.parametrize("text", REQUESTS)
def test_questions_and_requests_pass_not_a_request(text):
    assert not_a_request(text) is None


@pytest.mark.parametrize("text", STATEMENTS)
def test_statements_fail_not_a_request(text):
    assert not_a_request(text).reason == "not_a_request"


LOOPING_EN = ("The water cycle has three stages: evaporation, condensation and precipitation. "
              "Water evaporates from the sea and rises into the air. "
              "The water cycle has three stages: evaporation, condensation and precipitation.")
LOOPING_VI = ("Quang hợp là quá trình cây xanh tạo ra chất dinh dưỡng.\n"
              "Cây cần ánh sáng mặt trời và nước.\n"
              "Quang hợp là quá trình cây xanh tạo ra chất dinh dưỡng.")
STUTTER = "and the water goes up and the water comes down " * 6  # no sentence ends: the 3-grams give it away
WELL_FORMED = [
    "Evaporation, condensation, precipitation and collection make up the water cycle. The sun heats the sea, "
    "vapour rises, cools into clouds and falls again as rain or snow, which rivers carry back to the sea.",
    "Step 1: Boil the water.\nStep 2: Add the tea.\nStep 3: Wait three minutes.",  # short lines may recur in form
    "Quang hợp là quá trình cây xanh dùng ánh sáng mặt trời để biến nước và khí CO2 thành đường và oxy. "
    "Quá trình này diễn ra chủ yếu ở lá, nơi có nhiều diệp lục.",
]


@pytest.mark.parametrize("text", [LOOPING_EN, LOOPING_VI, STUTTER])
def test_repetition_catches_a_repeated_sentence_or_line_and_a_loop(text):
    assert repetition(text).reason == "repetition"


@pytest.mark.parametrize("text", WELL_FORMED)
def test_repetition_lets_well_formed_answers_through(text):
    assert repetition(text) is None


def test_language_mismatch_catches_a_confident_other_language_only():
    english = "The sky is blue because sunlight is scattered by the molecules of the air."
    vietnamese = "Bầu trời có màu xanh vì ánh sáng mặt trời bị tán xạ bởi các phân tử không khí."
    assert language_mismatch(english, "vi", "answer").reason == "language_mismatch"
    assert language_mismatch(vietnamese, "en", "answer").reason == "language_mismatch"
    assert language_mismatch(vietnamese, "vi", "answer") is None and language_mismatch(english, "en", "answer") is None
    assert language_mismatch("Write a haiku.", "vi", "instruction") is None  # too short to be sure of
    assert language_mismatch(english, None, "answer") is None  # nothing to compare with


VI_SEED = {"text": "Dữ liệu tổng hợp là dữ liệu được tạo ra bằng cách yêu cầu một mô hình ngôn ngữ viết văn bản."}


def test_self_instruct_records_each_gate_as_the_reason_and_answers_only_what_passed(store, prompts):
    listed = ("Dữ liệu tổng hợp được tạo ra như thế nào?\n2. Dữ liệu tổng hợp có thể được tạo ra từ một mô hình lớn.\n"
              "3. What are the risks of synthetic data for small models?\n4. Hãy nêu một ví dụ về dữ liệu tổng hợp.")
    answers = ["Dữ liệu tổng hợp được tạo ra bằng cách yêu cầu mô hình viết văn bản theo một mẫu câu lệnh.", LOOPING_VI]
    model = ScriptedModel([listed, *answers])
    summary = run_generation(SelfInstruct(), store, model, prompts, 1, 7, [VI_SEED])
    assert summary.stored == 1 and dict(summary.failures) == {"not_a_request": 1, "language_mismatch": 1, "repetition": 1}
    assert not model.outputs and len(model.prompts) == 3  # the list, then the two instructions that passed are answered


def test_no_filter_switches_each_gate_off(store, prompts):
    args = build_parser().parse_args(["generate", "self-instruct", "--no-filter", "not_a_request",
                                      "--no-filter", "language-mismatch", "--no-filter", "repetition"])
    settings = settings_from_flags(args)
    assert settings.gates == QualityGates(check_repetition=False, check_language=False, check_request=False)
    statement = "Dữ liệu tổng hợp có thể được tạo ra từ một mô hình lớn."
    model = ScriptedModel([f"{statement}\n2. What are the risks of synthetic data?", LOOPING_VI, "Some risks."])
    summary = run_generation(SelfInstruct(settings), store, model, prompts, 1, 7, [VI_SEED])
    assert summary.stored == 2 and summary.failed == 0


def test_the_chain_does_not_answer_an_instruction_that_is_not_a_request(store, prompts):
    model = ScriptedModel(["The sky is blue because of scattering.", "What is rain?", LOOPING_EN])
    summary = run_generation(InstructionResponse(), store, model, prompts, 2, 7, [{"text": "Ask about the weather."}])
    assert summary.stored == 0 and dict(summary.failures) == {"not_a_request": 1, "repetition": 1}
    assert not model.outputs  # the statement got no answer call
    off = InstructionResponse(ChainSettings(gates=QualityGates(check_request=False, check_repetition=False)))
    assert run_generation(off, store, ScriptedModel(["The sky is blue.", LOOPING_EN]), prompts, 1, 7, [{"text": "Ask."}]).stored == 1


def test_magpie_holds_the_user_turn_and_the_answer_to_its_system_prompts_language(store, prompts):
    system = SystemPrompts(["Bạn là một trợ lý hữu ích, trả lời bằng tiếng Việt cho người dùng."])
    english_answer = "The three largest rivers of Vietnam are the Mekong, the Red River and the Dong Nai River."
    model = ScriptedModel(["Kể tên ba con sông lớn ở Việt Nam.", english_answer,
                               "Tell me about the rivers of Vietnam and the cities along their banks."])
    summary = run_generation(Magpie(MagpieSettings(system=system)), store, model, prompts, 2, 7)
    assert summary.stored == 0 and dict(summary.failures) == {"language_mismatch": 2}
    assert not model.outputs  # the English user turn was not answered


def test_a_switch_another_technique_has_is_refused_not_ignored():
    from tui.engine.errors import BadInput

    args = build_parser().parse_args(["generate", "chain", "--no-filter", "user-turn-truncated"])
    with pytest.raises(BadInput) as refused:
        settings_from_flags(args)
    assert str(refused.value) == "--no-filter user-turn-truncated: unknown for chain; use one of repetition, language-mismatch, not-a-request"
