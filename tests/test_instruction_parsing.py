"""The list parser against the shapes small models really write."""

import pytest

from tui.engine.instruction_parsing import parse_instructions


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1. What is synthetic data?\n2. Explain manual prompting.", ["What is synthetic data?", "Explain manual prompting."]),
        ("1) Name a fruit.\n(2) Name a vegetable.\n3: Name a tree.", ["Name a fruit.", "Name a vegetable.", "Name a tree."]),
        ("- Describe a cat.\n* Describe a dog.\n• Describe a bird.\n+ Describe a fish.", ["Describe a cat.", "Describe a dog.", "Describe a bird.", "Describe a fish."]),
        ('1. "Why is the sky blue?"\n2. “How do tides work?”', ["Why is the sky blue?", "How do tides work?"]),
        ("Query 1: List three rivers.\nQuery 2: Why do rivers flood?", ["List three rivers.", "Why do rivers flood?"]),
        ('1. **Query 1:** "What is LoRA?"\n- Question: What is SFT?', ["What is LoRA?", "What is SFT?"]),
        ("1. Say hi.\n\n   \n\t\n2. Say bye.\n", ["Say hi.", "Say bye."]),
        ("# Output\nHere are five queries:\n1. What is RLHF?\n## More\n2. Define DPO.", ["What is RLHF?", "Define DPO."]),
        ("1. What is X?\nAnswer: X is a letter.\nOutput 1: something\n2. Why Y?", ["What is X?", "Why Y?"]),
        ('1. "What is A?", 2. "What is B?", 3. "What is C?"', ["What is A?", "What is B?", "What is C?"]),
        ("1. Convert 3.5 kilograms to pounds.", ["Convert 3.5 kilograms to pounds."]),
        ("1.\n2.\n3. Real one here.", ["Real one here."]),
        ("1. Mục đích của Khóa học Smol là gì?\n2. Giải thích dữ liệu giả lập.", ["Mục đích của Khóa học Smol là gì?", "Giải thích dữ liệu giả lập."]),
        (" What is the first one, written after a primed “1.”?\n2. Second.", ["What is the first one, written after a primed “1.”?", "Second."]),
        ("A) What is a seed?\nB: Explain a token.\nC) Name a small model.", ["What is a seed?", "Explain a token.", "Name a small model."]),
        ("(a) Why do models drift?\n(b) How is data cleaned?\nc. Define recall.", ["Why do models drift?", "How is data cleaned?", "Define recall."]),
        ("Q: What is X?\nA: X is a letter.\nI want a haiku about rain.", ["What is X?", "I want a haiku about rain."]),
    ],
)
def test_messy_lists_become_clean_instructions(text, expected):
    assert parse_instructions(text) == expected


def test_more_lines_than_asked_are_cut_to_the_number_asked():
    text = "\n".join(f"{n}. Question number {n}?" for n in range(1, 9))
    assert parse_instructions(text, limit=5) == [f"Question number {n}?" for n in range(1, 6)]


def test_a_sentence_with_numbers_inside_is_not_split():
    assert parse_instructions("Compare version 2. and version 3 of the API.") == ["Compare version 2. and version 3 of the API."]


def test_nothing_but_structure_gives_nothing():
    assert parse_instructions("# Output\n\n1.\n-\n***\nHere are the queries:") == []
