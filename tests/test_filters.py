"""The Self-Instruct paper's filters, word counting in any language, and the ROUGE-L near-duplicate index."""

import random

import pytest

from tests.conftest import run_cli
from tui.engine.errors import BadInput
from tui.engine.instruction_filters import UNSERVABLE_KEYWORDS, InstructionFilters
from tui.engine.near_duplicates import NearDuplicateIndex, rouge_l
from tui.engine.settings_schema import validate
from tui.engine.text_tokens import word_tokens


def _reason(text, **settings):
    rejection = InstructionFilters(**settings).check(text)
    return rejection.reason if rejection else None


def test_length_limits_are_the_papers():
    assert _reason("Explain it") == "too_short"
    assert _reason("Explain it briefly.") is None
    assert _reason(" ".join(["word"] * 150)) is None
    assert _reason(" ".join(["word"] * 151)) == "too_long"


@pytest.mark.parametrize("keyword", UNSERVABLE_KEYWORDS)
def test_every_unservable_keyword_is_rejected(keyword):
    rejection = InstructionFilters().check(f"Please {keyword.upper()} the thing for me now.")
    assert rejection.reason == "unservable_keyword" and keyword in rejection.message.lower()


def test_keywords_match_whole_words_only():
    assert _reason("Write a profile of a famous mapmaker.") is None  # "file" and "map" inside other words
    assert _reason("How do I go  to  the station?") == "unservable_keyword"


@pytest.mark.parametrize("text", [", what is this about?", "...and then explain it.", "#1 reason to learn Python?", "(optional) Describe a cat."])
def test_leading_punctuation_is_rejected(text):
    assert _reason(text) == "starts_with_punctuation"


def test_spanish_opening_marks_are_well_formed():
    assert _reason("¿Qué es el aprendizaje automático?") is None


def test_each_filter_can_be_switched_off():
    assert InstructionFilters(check_length=False).check("Hi") is None
    assert InstructionFilters(check_keywords=False).check("Draw a small cat.") is None
    assert InstructionFilters(check_punctuation=False).check("...and then explain it.") is None
    with pytest.raises(BadInput, match="^rouge_threshold=1.5: must be above 0 and at most 1$"):
        validate(InstructionFilters(rouge_threshold=1.5))
    with pytest.raises(BadInput, match="^word limits 9..3: "):
        validate(InstructionFilters(min_words=9, max_words=3))


def test_words_are_counted_in_any_language():
    assert word_tokens("Mục đích của Khóa học Smol là gì?") == ["mục", "đích", "của", "khóa", "học", "smol", "là", "gì"]
    assert len(word_tokens("什么是合成数据？")) == 7  # Chinese: one word per character, not one per sentence
    assert _reason("什么是合成数据？") is None


def test_rouge_l_is_the_lcs_f_measure():
    # LCS of "what is the process of x" and "what is x" is 3 words: F = 2*3 / (6 + 3)
    assert rouge_l("What is the process of X?", "what is x") == pytest.approx(2 / 3)
    assert rouge_l("", "anything") == 0.0


def test_index_finds_a_near_duplicate_above_the_threshold_and_names_it():
    index = NearDuplicateIndex(0.7)
    index.add("What is the process of creating synthetic data through manual prompting?", 12)
    index.add("Explain photosynthesis to a child.", 13)
    match = index.closest("What is the process of creating synthetic data with manual prompting?")
    assert match.key == 12 and match.score > 0.7
    assert index.closest("Why do cats purr when they are happy?") is None


def test_threshold_is_configurable():
    strict, loose = NearDuplicateIndex(0.9), NearDuplicateIndex(0.5)
    for index in (strict, loose):
        index.add("Explain photosynthesis to a child.", 1)
    query = "Explain photosynthesis to a teenager."  # F = 0.8
    assert strict.closest(query) is None and loose.closest(query).key == 1


def test_index_agrees_with_comparing_every_pair():
    rng = random.Random(4)
    words = "the a what is how of data model prompt explain list why".split()
    stored = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 14))) for _ in range(500)]
    index = NearDuplicateIndex(0.7)
    index.add_all((text, i) for i, text in enumerate(stored))
    for _ in range(200):
        query = " ".join(rng.choice(words) for _ in range(rng.randint(1, 14)))
        best = max(rouge_l(query, text) for text in stored)
        match = index.closest(query)
        assert (match.score if match else None) == (round(best, 4) if best > 0.7 else None), query


def test_benchmark_command_prints_its_figures(tmp_path):
    result = run_cli("bench", "dedup", "--size", "500", "--queries", "20", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "against 500 stored instructions" in result.stdout and "median" in result.stdout and "p95" in result.stdout
    bad = run_cli("bench", "dedup", "--size", "0", cwd=tmp_path)
    assert bad.returncode == 2 and "--size 0" in bad.stderr


def test_an_instruction_on_the_worked_examples_topic_is_not_about_its_seed(prompts):
    from tui.engine.instruction_filters import borrowed_example_word

    template = prompts.load("self_instruct")
    variables = {"num_instructions": 3, "criteria_for_query_generation": "", "application_description": "", "input": "x"}
    words = template.example_words(**variables)
    assert "bees" in words
    seed = "Synthetic data can be made by prompting a model well."
    leaked = borrowed_example_word("How do bees make honey from pollen?", seed, words)
    assert leaked.reason == "example_topic" and "'honey'" in leaked.message
    assert borrowed_example_word("How is synthetic data made?", seed, words) is None
    # A seed about bees may ask about bees.
    assert borrowed_example_word("How do bees make honey?", "Bees make honey from nectar.", words) is None
