"""Scoring texts with the real embedded model: properties that hold on any CPU, never exact figures."""

import math

import pytest

from tui.engine.quality_gates import topic_gain

pytestmark = pytest.mark.model


def test_a_text_is_far_more_likely_right_after_the_context_that_states_it(model):
    scorer = model.text_scorer()
    told = scorer.mean_log_prob("The secret word is zebra-umbrella. Repeat the secret word: ", "zebra-umbrella")
    untold = scorer.mean_log_prob("Repeat the secret word: ", "zebra-umbrella")
    assert math.isfinite(told) and told < 0 and told > untold + 1.0


def test_scoring_leaves_generation_as_it_was(model):
    from tui.engine.model import Sampling

    greedy = Sampling(temperature=0.0, max_tokens=12)
    before = model.complete("The capital of France is", greedy, 1).text
    model.text_scorer().mean_log_prob("Hello", " world")
    assert model.complete("The capital of France is", greedy, 1).text == before  # its own context, not the model's


def test_a_question_in_the_system_prompts_domain_gains_more_than_one_outside_it(model):
    template = model.chat_template
    system = "You are a programming assistant who helps users write and debug Python code."
    in_domain = topic_gain(model.text_scorer(), template, system, "How do I reverse a list in Python?")
    outside = topic_gain(model.text_scorer(), template, system, "How long should I boil an egg for a soft yolk?")
    assert in_domain is not None and outside is not None and in_domain > outside
