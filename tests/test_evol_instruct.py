"""EvolInstruct: seeded operations, elimination evolving with reasons, parents and children linked."""

import pytest

from tests.conftest import run_smolgen
from tests.scripted_model import ScriptedModel
from tui.cli import build_parser
from tui.cli_technique_flags import settings_from_flags
from tui.engine.elimination import eliminate
from tui.engine.errors import BadInput, TemplateProblem
from tui.engine.model import Sampling
from tui.engine.prompts import PromptLibrary
from tui.engine.quality_gates import OFF_TOPIC_EVOLUTION_AT_MOST
from tui.engine.runner import run_generation
from tui.engine.store import SampleStore
from tui.engine.techniques.base import AnswerSettings, SystemPrompts
from tui.engine.settings_schema import validate
from tui.engine.techniques.evol_instruct import OPERATIONS, EvolInstruct, EvolInstructSettings

PARENT = "Explain how photosynthesis works."
# Elimination's reasons, then the instruction gates' (an evolution is an instruction the model wrote).
KNOWN_REASONS = {"unchanged", "copied_template", "refusal", "only_stopwords", "token_cap", "example_topic", "not_a_request", "language_mismatch"}


@pytest.mark.parametrize(
    "evolved, finish, reason",
    [
        ("Explain how photosynthesis works in green algae.", "stop", None),
        ("explain HOW photosynthesis works!", "stop", "unchanged"),
        ("#Rewritten Prompt#: Explain how photosynthesis works in algae.", "stop", "copied_template"),
        ("Explain, as the given prompt says, how photosynthesis works.", "stop", "copied_template"),
        ("I'm sorry, but as an AI I cannot rewrite this.", "stop", "refusal"),
        ("I cannot " + "stress enough how light matters " * 20, "stop", None),  # a long text is not a refusal
        ("... and the of it?", "stop", "only_stopwords"),
        ("", "stop", "only_stopwords"),
        ("Explain how photosynthesis works in green algae and", "length", "token_cap"),
    ],
)
def test_every_elimination_rule_with_fixed_outputs(evolved, finish, reason):
    failure = eliminate(PARENT, evolved, finish)
    assert (failure.reason if failure else None) == reason


def test_copying_a_line_of_the_prompt_is_copying_the_template(prompts):
    prompt = prompts.load("evol_instruct/in_breadth").render(instruction=PARENT)
    failure = eliminate(PARENT, "How do I make a soft-boiled quail egg with a runny yolk?", "stop", prompt)
    assert failure.reason == "copied_template" and "quail egg" in failure.message
    assert eliminate(PARENT, PARENT, "stop", prompt).reason == "unchanged"  # its own line is the parent's


def test_an_evolution_that_takes_up_the_examples_topic_left_its_parent(prompts):
    template = prompts.load("evol_instruct/in_breadth")
    prompt, words = template.render(instruction=PARENT), template.example_words(instruction=PARENT)
    failure = eliminate(PARENT, "How do I poach an egg for a salad of green algae?", "stop", prompt, words)
    assert failure.reason == "example_topic" and "'egg'" in failure.message
    assert eliminate(PARENT, "How do diatoms photosynthesise under sea ice?", "stop", prompt, words) is None


def _run(store, outputs, rows, seed=7, prompts=None, **settings):
    """Runs whose script holds the evolutions only: unanswered unless `answer` is given."""
    settings.setdefault("answer", AnswerSettings(enabled=False))
    model = ScriptedModel(outputs)
    summary = run_generation(EvolInstruct(EvolInstructSettings(**settings)), store, model, prompts or PromptLibrary(), len(rows), seed, rows)
    return summary, model


def test_a_failed_evolution_is_recorded_and_its_parent_evolves_next_round(store):
    summary, model = _run(store, [PARENT, "Explain how photosynthesis works in green algae."], [{"text": PARENT}], num_evolutions=2, store_evolutions=True)
    failed, kept = store.list_samples(statuses=["failed"]), store.list_samples(statuses=["new"])
    assert failed[0]["failure"]["reason"] == "unchanged" and failed[0]["evolution"]["round"] == 1
    assert failed[0]["parent_instruction"] == PARENT
    assert PARENT in model.prompts[1]  # round 2 rewrites the parent again, not the failed evolution
    assert [s["instruction"] for s in kept] == ["Explain how photosynthesis works in green algae."]
    assert kept[0]["parent_instruction"] == PARENT and kept[0]["evolution"]["round"] == 2
    assert summary.stored == 1 and summary.failures == {"unchanged": 1}


def test_every_generation_links_to_its_stored_parent(store):
    outputs = ["Explain how photosynthesis works in algae.", "Explain how photosynthesis works in algae at night."]
    _run(store, outputs, [{"text": PARENT}], num_evolutions=2, store_evolutions=True, include_original=True)
    original, first, second = store.list_samples()
    assert original["instruction"] == PARENT and original["evolution"]["round"] == 0 and original["parent_id"] is None
    assert first["parent_id"] == original["id"] and first["parent_instruction"] == PARENT
    assert second["parent_id"] == first["id"] and second["parent_instruction"] == first["instruction"]
    assert [g["instruction"] for g in second["evolution"]["lineage"]] == [PARENT, first["instruction"], second["instruction"]]


def test_only_the_last_generation_is_kept_by_default(store):
    outputs = ["Explain how photosynthesis works in algae.", "Explain how photosynthesis works in algae at night."]
    summary, _ = _run(store, outputs, [{"text": PARENT}], num_evolutions=2)
    (kept,) = store.list_samples()
    assert kept["instruction"] == "Explain how photosynthesis works in algae at night." and kept["parent_id"] is None
    assert kept["parent_instruction"] == "Explain how photosynthesis works in algae."
    assert [g["round"] for g in kept["evolution"]["lineage"]] == [0, 1, 2]
    assert len(kept["calls"]) == 2 and summary.completion_tokens == kept["tokens"]["completion"]  # both rounds counted


def test_from_store_rows_link_to_the_stored_sample(store):
    parent_id = store.add_sample({"technique": "magpie", "instruction": PARENT, "conversation": []})
    from tui.engine.techniques.evol_instruct import rows_from_store

    rows = rows_from_store(store.list_samples())
    _run(store, ["Explain how photosynthesis works in algae.", "Explain how photosynthesis works in algae."], rows, num_evolutions=2, store_evolutions=True)
    evolved = store.list_samples(statuses=["new"])[-1]
    failed = store.list_samples(statuses=["failed"])[-1]
    assert evolved["parent_id"] == parent_id and failed["parent_id"] == evolved["id"]


def test_the_evolved_instruction_is_answered_by_default(store):
    model = ScriptedModel(["Explain how photosynthesis works in algae.", "Algae use light to make sugar."])
    run_generation(EvolInstruct(), store, model, PromptLibrary(), 1, 7, [{"text": PARENT}])
    (kept,) = store.list_samples()
    assert kept["response"] == "Algae use light to make sugar." and [m["role"] for m in kept["conversation"]] == ["user", "assistant"]


TEA = "How do I make a cup of tea?"


def test_an_evolution_on_another_subject_is_flagged_off_topic_and_kept(store):
    summary, _ = _run(store, ["How do I make a glass of wine?", "How do I make a glass of red wine for a dinner party?"],
                      [{"text": TEA}], num_evolutions=2, store_evolutions=True)
    drifted, refined = store.list_samples()
    assert summary.stored == 2 and drifted["status"] == refined["status"] == "new"  # a flag for review, not a failure
    assert "off_topic" in drifted["flags"] and drifted["topic_overlap"] == 0.0
    assert "off_topic" not in refined["flags"] and refined["topic_overlap"] > OFF_TOPIC_EVOLUTION_AT_MOST  # judged against its own parent


def test_an_evolution_that_keeps_its_parents_subject_is_not_flagged(store):
    _run(store, ["Explain step by step how to make a cup of green tea without a kettle."], [{"text": TEA}])
    (kept,) = store.list_samples()
    assert "off_topic" not in kept["flags"] and kept["topic_overlap"] == 1.0


def test_no_filter_off_topic_switches_the_evolution_flag_off(store):
    args = build_parser().parse_args(["generate", "evol-instruct", "--no-answer", "--no-filter", "off-topic"])
    settings = settings_from_flags(args)
    assert settings.flag_off_topic is False
    run_generation(EvolInstruct(settings), store, ScriptedModel(["How do I make a glass of wine?"]), PromptLibrary(), 1, 7, [{"text": TEA}])
    (kept,) = store.list_samples()
    assert "off_topic" not in kept["flags"] and "topic_overlap" not in kept


def _operations(store, run_seed, rows=6, **settings):
    outputs = [f"Evolved instruction number {n} here." for n in range(rows * 4)]  # two rounds, each maybe answered
    summary, _ = _run(store, outputs, [{"text": f"Instruction {n}."} for n in range(rows)], seed=run_seed, num_evolutions=2, store_evolutions=True, **settings)
    return [s["evolution"]["operation"] for s in store.list_samples(run_id=summary.run_id)]


def test_the_operation_sequence_is_reproducible_under_a_seed(store):
    first, again, other = _operations(store, 42), _operations(store, 42), _operations(store, 43)
    assert first == again and first != other
    assert set(first) <= set(OPERATIONS)
    assert store.list_runs()[0]["seed"] == 42


def test_answering_does_not_shift_the_operation_sequence(store):
    answering = AnswerSettings(enabled=True, system=SystemPrompts(["You are terse.", "You are thorough."]))
    assert _operations(store, 42) == _operations(store, 42, answer=answering)


def test_operations_are_drawn_from_the_enabled_set_only(store):
    assert set(_operations(store, 5, operations=("deepening", "in_breadth"))) <= {"deepening", "in_breadth"}
    with pytest.raises(BadInput, match="^operations=shuffle: unknown; use add_constraints, "):
        validate(EvolInstructSettings(operations=("shuffle",)))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_template_renders_the_instruction_literally(prompts, operation):
    prompt = prompts.load(f"evol_instruct/{operation}").render(instruction="Compute {{ 7*7 }} for me.")
    assert prompt.endswith("Instruction: Compute {{ 7*7 }} for me.\nRewritten instruction:") or prompt.endswith(
        "Instruction: Compute {{ 7*7 }} for me.\nNew instruction:"
    )
    assert "49" not in prompt


def test_user_templates_override_and_a_broken_one_names_its_file_and_line(store, tmp_path):
    (tmp_path / "evol_instruct").mkdir()
    (tmp_path / "evol_instruct" / "deepening.jinja2").write_text("Deepen: {{ instruction }}\nDeeper:", encoding="utf-8")
    _, model = _run(store, ["Explain photosynthesis in depth."], [{"text": PARENT}], prompts=PromptLibrary(tmp_path), operations=("deepening",))
    assert model.prompts[0] == f"Deepen: {PARENT}\nDeeper:"
    (tmp_path / "evol_instruct" / "_rewrite.jinja2").write_text("Rewrite\n{% block method %}{% endblock %}\n{{ instruction ", encoding="utf-8")
    with pytest.raises(TemplateProblem, match=r"evol_instruct/_rewrite\.jinja2:3:"):
        EvolInstruct(EvolInstructSettings(operations=("concretizing",))).check(PromptLibrary(tmp_path), [{"text": PARENT}])


STEERING = {  # user templates that steer a model towards one way of failing
    "unchanged": "Repeat the instruction exactly.\n\nInstruction: Name a fruit.\nRepeated: Name a fruit.\n\n"
                 "Instruction: Describe a cat.\nRepeated: Describe a cat.\n\nInstruction: {{ instruction }}\nRepeated:",
    "copied_template": "Instruction: Name a fruit.\nOutput: #Rewritten Prompt# Name a fruit.\n\n"
                       "Instruction: Describe a cat.\nOutput: #Rewritten Prompt# Describe a cat.\n\nInstruction: {{ instruction }}\nOutput:",
    "refusal": "Instruction: Name a fruit.\nReply: Sorry, I cannot help with that.\n\n"
               "Instruction: Describe a cat.\nReply: Sorry, I cannot help with that.\n\nInstruction: {{ instruction }}\nReply:",
    "only_stopwords": "Instruction: Name a fruit.\nReply: and the of it\n\n"
                      "Instruction: Describe a cat.\nReply: and the of it\n\nInstruction: {{ instruction }}\nReply:",
}
GREEN_TEA = "What are the health benefits of green tea?"
STEERED = {  # what a model that follows each template writes, and how the call ended
    "unchanged": (GREEN_TEA, "stop"),
    "copied_template": (f"#Rewritten Prompt# {GREEN_TEA}", "stop"),
    "refusal": ("Sorry, I cannot help with that.", "stop"),
    "only_stopwords": ("and the of it", "stop"),
    "token_cap": ("What are the", "length"),
}


def _steered(tmp_path, reason: str) -> PromptLibrary:
    """A prompts folder whose deepening template steers towards `reason` (the token cap: any template)."""
    (tmp_path / "evol_instruct").mkdir(exist_ok=True)
    (tmp_path / "evol_instruct" / "deepening.jinja2").write_text(STEERING.get(reason, STEERING["unchanged"]), encoding="utf-8")
    return PromptLibrary(tmp_path)


@pytest.mark.parametrize("reason", [*STEERING, "token_cap"])
def test_a_steered_evolution_is_stored_as_failed_with_its_reason(store, tmp_path, reason):
    summary, model = _run(store, [STEERED[reason]], [{"text": GREEN_TEA}], prompts=_steered(tmp_path, reason), operations=("deepening",))
    assert GREEN_TEA in model.prompts[0]
    assert summary.failures == {reason: 1} and summary.stored == 0
    (failed,) = store.list_samples()
    assert failed["status"] == "failed" and failed["failure"]["reason"] == reason and failed["parent_instruction"] == GREEN_TEA


@pytest.mark.parametrize("reason", [*STEERING, "token_cap"])
def test_the_real_models_evolution_is_judged_by_the_rules(model, store, tmp_path, reason):
    """Whatever the real model writes through a steering template, its evolution is kept or failed as the
    elimination rules judge that text (the text itself differs between CPUs)."""
    prompts = _steered(tmp_path, reason)
    cap = 2 if reason == "token_cap" else 40
    technique = EvolInstruct(EvolInstructSettings(operations=("deepening",), answer=AnswerSettings(enabled=False), evolution_sampling=Sampling(temperature=0, max_tokens=cap)))
    summary = run_generation(technique, store, model, prompts, 1, 1, [{"text": GREEN_TEA}])
    (sample,) = store.list_samples()
    assert summary.stored + summary.failed == 1 and sample["parent_instruction"] == GREEN_TEA
    [call] = sample["calls"]
    assert call["completion_tokens"] <= cap and (call["finish_reason"] != "length" or call["completion_tokens"] == cap)
    prompt, example_words = prompts.load("evol_instruct/deepening").render_with_example_words(instruction=GREEN_TEA)
    assert sample["evolution"]["prompt"] == prompt
    judged = eliminate(GREEN_TEA, sample["instruction"], call["finish_reason"], prompt, example_words)
    stored = sample["failure"]["reason"] if sample["status"] == "failed" else None
    assert (judged.reason if judged else None) == stored, sample["instruction"]


def test_real_model_two_rounds_link_children_to_parents(model, prompts, store):
    rows = [{"text": "Explain how photosynthesis works."}, {"text": "Write a short poem about the sea."}, {"text": "What is the purpose of the Smol Course?"}]
    technique = EvolInstruct(EvolInstructSettings(num_evolutions=2, store_evolutions=True, include_original=True, answer=AnswerSettings(enabled=False), evolution_sampling=Sampling(temperature=0.7, repeat_penalty=1.1, max_tokens=48)))
    summary = run_generation(technique, store, model, prompts, 3, 2024, rows)
    samples = {s["id"]: s for s in store.list_samples()}
    evolved = [s for s in samples.values() if s["status"] == "new" and s["evolution"]["round"] > 0]
    assert evolved, summary.failures
    for child in evolved:
        parent = samples[child["parent_id"]]
        assert parent["instruction"] == child["parent_instruction"] != child["instruction"]
        assert child["evolution"]["operation"] in OPERATIONS and child["evolution"]["lineage"][-2]["instruction"] == parent["instruction"]
        # A round between the parent's and the child's failed, and the parent evolved again in the next one.
        between = list(range(parent["evolution"]["round"] + 1, child["evolution"]["round"]))
        failed_between = [s["evolution"]["round"] for s in samples.values()
                          if s["status"] == "failed" and s["parent_id"] == parent["id"] and s["evolution"]["round"] in between]
        assert parent["evolution"]["round"] < child["evolution"]["round"] and sorted(failed_between) == between
        # Whatever the model wrote, the flag follows the recorded overlap with the parent.
        assert ("off_topic" in child["flags"]) == (child.get("topic_overlap", 1.0) <= OFF_TOPIC_EVOLUTION_AT_MOST)  # none: nothing to keep
    for failed in (s for s in samples.values() if s["status"] == "failed"):
        assert failed["failure"]["reason"] in KNOWN_REASONS and samples[failed["parent_id"]]["status"] == "new"
    assert sum(summary.failures.values()) == summary.failed and summary.stored == len(samples) - summary.failed


@pytest.mark.model
def test_cli_evol_instruct_from_the_store(tmp_path):
    (tmp_path / "seeds.txt").write_text("Explain how photosynthesis works.\nWrite a short poem about the sea.\n", encoding="utf-8")
    first = run_smolgen("generate", "evol-instruct", "--seeds", "seeds.txt", "--include-original", "--no-answer",
                        "--max-tokens", "32", "--seed", "9", "--quiet", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "evol-instruct: 2 seeds" in first.stderr and "finished:" in first.stderr
    assert "`smolgen export --format instructions` writes them" in first.stderr
    again = run_smolgen("generate", "evol-instruct", "--from-store", "--operations", "concretizing,add-constraints",
                        "--max-tokens", "16", "--seed", "9", "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    with SampleStore(tmp_path / "smolgen.json") as store:
        runs = store.list_runs()
        second = store.list_samples(run_id=runs[-1]["id"])
        before = {s["id"] for s in store.list_samples(run_id=runs[0]["id"])}
    assert runs[-1]["settings"]["operations"] == ["concretizing", "add_constraints"]
    assert second and all(s["parent_id"] in before for s in second)
    assert all(s["response"] for s in second if s["status"] == "new")
    both = run_smolgen("generate", "evol-instruct", "--from-store", "--seeds", "seeds.txt", cwd=tmp_path)
    assert both.returncode == 2 and "--from-store and --seeds" in both.stderr


def test_an_evolution_that_states_instead_of_asking_fails_and_its_parent_evolves_next_round(store):
    statement = "Photosynthesis is the process by which plants turn light into sugar."
    evolved = "Explain how photosynthesis works in green algae at night."
    summary, model = _run(store, [statement, evolved], [{"text": PARENT}], num_evolutions=2)
    (failed,) = store.list_samples(statuses=["failed"])
    assert failed["failure"]["reason"] == "not_a_request" and failed["instruction"] == statement
    assert PARENT in model.prompts[1] and statement not in model.prompts[1]
    assert [s["instruction"] for s in store.list_samples(statuses=["new"])] == [evolved]
    assert summary.failures == {"not_a_request": 1}


def test_the_request_gate_on_evolutions_is_switched_off_by_its_flag(store):
    from tui.cli import build_parser
    from tui.cli_technique_flags import settings_from_flags

    settings = settings_from_flags(build_parser().parse_args(["generate", "evol-instruct", "--no-filter", "not-a-request", "--no-answer"]))
    statement = "Photosynthesis is the process by which plants turn light into sugar."
    summary = run_generation(EvolInstruct(settings), store, ScriptedModel([statement]), PromptLibrary(), 1, 7, [{"text": PARENT}])
    assert summary.failed == 0 and [s["instruction"] for s in store.list_samples()] == [statement]
