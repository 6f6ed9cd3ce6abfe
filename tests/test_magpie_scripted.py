"""Magpie on a scripted model: exact behaviour where the real model's text cannot be predicted."""

from tests.scripted_model import ScriptedModel
from tui.engine.runner import run_generation
from tui.engine.techniques.magpie import Magpie, MagpieSettings


def test_a_user_turn_cut_by_its_cap_is_stored_as_failed_and_not_answered(store, prompts):
    model = ScriptedModel(["What is the capital of France?", "Paris.", ("Tell me about the history of the", "length")])
    summary = run_generation(Magpie(), store, model, prompts, 2, 3)
    assert summary.stored == 1 and dict(summary.failures) == {"user_turn_truncated": 1}
    failed = store.list_samples(statuses=["failed"])[0]
    assert failed["instruction"] == "Tell me about the history of the" and failed["response"] is None
    assert failed["failure"]["reason"] == "user_turn_truncated" and len(failed["calls"]) == 1  # no answer was asked for
    assert not model.outputs


def test_a_later_user_turn_cut_by_its_cap_fails_the_conversation(store, prompts):
    model = ScriptedModel(["What is rain?", "Water falling.", ("And why does it", "length")])
    summary = run_generation(Magpie(MagpieSettings(n_turns=2)), store, model, prompts, 1, 3)
    assert summary.stored == 0 and dict(summary.failures) == {"user_turn_truncated": 1}
    assert "user turn 2" in store.list_samples()[0]["failure"]["message"]


def test_in_a_pipeline_a_cut_user_turn_fails_the_row_with_its_reason(store):
    from tui.engine.pipeline import LlamaCppLLM, Pipeline
    from tui.engine.pipeline.generation_steps import MagpieGenerator

    cut = ("Tell me about the history of the", "length")
    with Pipeline(name="magpie-cut") as pipeline:
        MagpieGenerator(llm=LlamaCppLLM(model=ScriptedModel([cut, cut])), num_rows=1, max_retries=1)
    summary = pipeline.run(store=store)
    (counts,) = summary.steps.values()
    assert (counts.generated, dict(counts.failures)) == (0, {"user_turn_truncated": 1})
    assert store.list_samples(statuses=["new"]) == []


class _ScoringScript(ScriptedModel):
    """A scripted model that scores texts too: a user turn's log-probability after each system prompt is given."""

    def __init__(self, outputs, log_probs):
        super().__init__(outputs)
        self.log_probs = log_probs  # system prompt → mean log-probability of any user turn after it
        self.scored: list[tuple[str, str]] = []

    def text_scorer(self):
        return self

    def mean_log_prob(self, context, text):
        self.scored.append((context, text))
        return next(value for system, value in self.log_probs.items() if system in context)


MATH = "You are an AI assistant who helps users solve math problems."
PLAIN = "You are a helpful AI assistant."


def _magpie_with(system, flag_off_topic=True):
    from tui.engine.techniques.base import SystemPrompts

    return Magpie(MagpieSettings(system=SystemPrompts([system]), flag_off_topic=flag_off_topic))


def test_a_user_turn_the_custom_system_prompt_did_not_steer_is_flagged_off_topic_and_kept(store, prompts):
    from tui.engine.quality_gates import OFF_TOPIC_BELOW

    model = _ScoringScript(["Who won the 2010 World Cup?", "Spain won it."], {MATH: -3.0, PLAIN: -2.5})
    summary = run_generation(_magpie_with(MATH), store, model, prompts, 1, 3)
    sample = store.list_samples()[0]
    assert summary.stored == 1 and sample["status"] == "new"  # a flag for a person to decide, not a failure
    assert "off_topic" in sample["flags"] and sample["topic_gain"] == -0.5 < OFF_TOPIC_BELOW
    # The user turn is scored as the model wrote it, ending its turn, after each system prompt's opening.
    assert [text for _context, text in model.scored] == ["Who won the 2010 World Cup?<|im_end|>"] * 2
    assert MATH in model.scored[0][0] and PLAIN in model.scored[1][0]


def test_a_user_turn_in_the_prompts_domain_is_not_flagged_and_the_flag_can_be_switched_off(store, prompts):
    model = _ScoringScript(["What is 15% of 240?", "36."], {MATH: -2.0, PLAIN: -2.4})
    run_generation(_magpie_with(MATH), store, model, prompts, 1, 3)
    sample = store.list_samples()[0]
    assert "off_topic" not in sample["flags"] and sample["topic_gain"] == 0.4
    model = _ScoringScript(["Who won the 2010 World Cup?", "Spain won it."], {MATH: -3.0, PLAIN: -2.5})
    run_generation(_magpie_with(MATH, flag_off_topic=False), store, model, prompts, 1, 3)
    assert "topic_gain" not in store.list_samples()[-1] and not model.scored


def test_no_topic_is_judged_without_a_custom_english_system_prompt_or_a_model_that_scores(store, prompts):
    vietnamese = "Bạn là trợ lý AI giúp người dùng giải các bài toán."
    for system in (PLAIN, vietnamese):
        model = _ScoringScript(["Who won the 2010 World Cup?", "Spain won it."], {system: -3.0})
        run_generation(_magpie_with(system), store, model, prompts, 1, 3)
        assert not model.scored and "topic_gain" not in store.list_samples()[-1]
    run_generation(_magpie_with(MATH), store, ScriptedModel(["Who won the 2010 World Cup?", "Spain won it."]), prompts, 1, 3)
    assert "topic_gain" not in store.list_samples()[-1]  # a model that cannot score (a server) judges nothing
