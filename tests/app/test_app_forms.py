"""The app's pure parts: settings forms, conversation text, review rows and filters, paths, token batches."""

from __future__ import annotations

import threading

import pytest

from tui.app.conversation_text import conversation_to_text, text_to_conversation
from tui.app.messages import SampleFinished, StageStarted, TextStreamed
from tui.app.path_suggester import complete_path
from tui.app.review_filter import filter_rows, parent_of, review_rows
from tui.app.settings_form import format_system_prompts, parse_system_prompts, read_form
from tui.app.streaming import BatchedObserver
from tui.app.techniques import available_techniques
from tui.engine.errors import BadInput
from tui.engine.model import Sampling
from tui.engine.settings_schema import describe, get_value
from tui.engine.techniques.base import SystemPrompts

TECHNIQUES = {entry.key: entry for entry in available_techniques()}


def _raw(entry, **changes):
    fields = describe(entry.settings_class)
    from tui.app.settings_form import format_value

    raw = {f.key: format_value(f, get_value(entry.default_settings(), f.path)) for f in fields}
    raw.update(changes)
    return fields, raw


def test_every_engine_setting_is_a_field():
    fields = {f.key: f for f in describe(TECHNIQUES["magpie"].settings_class)}
    for turn in ("user_sampling", "assistant_sampling"):
        for name in Sampling.__dataclass_fields__:
            # the judge's answer schema is set by code: a person never edits it in a form
            assert (f"{turn}--{name}" in fields) == (name != "json_schema")
    assert fields["n_turns"].kind == "int" and fields["only_instruction"].kind == "bool" and fields["system"].kind == "system"
    chain = {f.key: f.kind for f in describe(TECHNIQUES["chain"].settings_class)}
    assert chain["instruction_template"] == "template"
    assert [entry.title for entry in available_techniques()][:2] == ["Text generation", "Instruction → response"]
    # the chapter's next step, then judging what is stored
    assert [entry.title for entry in available_techniques()][-3:] == ["Magpie", "Preference pairs", "Judge"]


def test_each_bad_value_is_explained_against_its_own_field():
    entry = TECHNIQUES["magpie"]
    fields, raw = _raw(entry, **{"assistant_sampling--temperature": "9", "n_turns": "0", "user_sampling--top_k": "many"})
    result = read_form(entry, fields, raw)
    assert result.settings is None
    assert result.problems["assistant_sampling--temperature"] == "9.0: must be between 0 and 5"
    assert result.problems["n_turns"] == "0: must be at least 1"
    assert "whole number" in result.problems["user_sampling--top_k"]
    assert "user_sampling--temperature" not in result.problems


def test_a_good_form_builds_the_settings():
    entry = TECHNIQUES["magpie"]
    fields, raw = _raw(entry, n_turns="2", system="[3] You are a math tutor.\n[1] You are a poet.")
    result = read_form(entry, fields, raw)
    assert result.problems == {}
    assert result.settings.n_turns == 2
    assert result.settings.system.prompts == ["You are a math tutor.", "You are a poet."]
    assert result.settings.system.weights == [3.0, 1.0]


def test_system_prompts_text_round_trips_and_explains_mistakes():
    weighted = SystemPrompts(["You help with maths.", "You write poems."], [3.0, 1.0])
    assert parse_system_prompts(format_system_prompts(weighted)) == weighted
    assert parse_system_prompts("One.\n\nTwo.") == SystemPrompts(["One.", "Two."], [])
    with pytest.raises(BadInput, match="line 1: weight \\[x\\] is not a number"):
        parse_system_prompts("[x] You help.")
    with pytest.raises(BadInput, match="^weights must be 0 or more, and not all 0$"):  # the editor has no flag
        parse_system_prompts("[0] You help.")


def test_conversation_text_round_trips_and_names_the_problem():
    conversation = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hỏi?\nTwo lines."},
                    {"role": "assistant", "content": "Đáp."}]
    assert text_to_conversation(conversation_to_text(conversation)) == conversation
    with pytest.raises(BadInput, match="line 1: text before the first role line"):
        text_to_conversation("hello\n[user]\nhi")
    with pytest.raises(BadInput, match="empty \\[assistant\\]"):
        text_to_conversation("[user]\nhi\n[assistant]\n")


def _sample(id_, instruction, status="new", technique="magpie", **extra):
    conversation = [{"role": "user", "content": instruction}, {"role": "assistant", "content": f"answer {id_}"}]
    return {"id": id_, "instruction": instruction, "status": status, "technique": technique, "conversation": conversation,
            "tokens": {"completion": 10}, **extra}


def test_review_rows_flag_duplicates_and_filters_combine():
    rows = review_rows([
        _sample(1, "What is SmolLM?"),
        _sample(2, "what is  smollm?", status="accepted"),
        _sample(3, "Explain Magpie", technique="chain", flags=["truncated"]),
        {"id": 4, "technique": "magpie", "status": "failed", "failure": {"reason": "context_overflow", "message": "too long"}},
    ])
    assert rows[0].flags == ("duplicate",) and rows[1].flags == ("duplicate",)
    assert rows[3].flags == ("context_overflow",) and rows[3].instruction == "too long"
    assert [r.id for r in filter_rows(rows, status="accepted")] == [2]
    assert [r.id for r in filter_rows(rows, technique="chain", flag="truncated")] == [3]
    assert [r.id for r in filter_rows(rows, flag="none")] == []
    assert [r.id for r in filter_rows(rows, query="ANSWER 3")] == [3]
    assert parent_of(_sample(5, "Harder", parent_instruction="Easy")) == "Easy"
    assert parent_of(_sample(6, "Plain")) is None


def test_path_completion(tmp_path):
    (tmp_path / "seeds.txt").write_text("x")
    (tmp_path / "seeds-folder").mkdir()
    (tmp_path / "model.gguf").write_text("x")
    assert complete_path(f"{tmp_path}/se", (".txt",)) == f"{tmp_path}/seeds-folder/"
    assert complete_path(f"{tmp_path}/seeds.", (".txt",)) == f"{tmp_path}/seeds.txt"
    assert complete_path(f"{tmp_path}/m", (".gguf",)) == f"{tmp_path}/model.gguf"
    assert complete_path(f"{tmp_path}/m", (".txt",)) is None
    assert complete_path(f"{tmp_path}/nowhere/x") is None


def test_tokens_reach_the_ui_in_batches_and_quit_cancels_the_engine():
    posted: list = []
    now = [0.0]
    cancel = threading.Event()
    worker_cancelled = [False]
    observer = BatchedObserver(posted.append, cancel, lambda: worker_cancelled[0], interval=0.05, clock=lambda: now[0])
    observer.stage("Magpie · turn 1 · user")
    for index in range(10):
        now[0] += 0.01
        observer.text(f"t{index} ")
    observer.sample_done({"status": "new"}, 1, 1)
    kinds = [type(m) for m in posted]
    assert kinds == [StageStarted, TextStreamed, TextStreamed, SampleFinished]
    assert "".join(m.text for m in posted if isinstance(m, TextStreamed)) == "".join(f"t{i} " for i in range(10))
    assert sum(m.chunks for m in posted if isinstance(m, TextStreamed)) == 10
    worker_cancelled[0] = True
    observer.text("more")
    assert cancel.is_set()


def test_a_form_still_being_composed_reads_as_its_defaults(prompts):
    """The model can load, or ctrl+g come, between a form's compose and its fields' mounting (a grid's
    fields are mounted after the grid): the form then reads as the defaults it is being built with."""
    from tui.app.widgets.technique_tab import TechniqueTab

    entry = TECHNIQUES["magpie"]
    tab = TechniqueTab(entry, prompts)  # none of its fields exist yet
    fields, defaults = _raw(entry)
    assert tab.raw_values() == defaults
    technique = tab.technique()
    assert technique is not None and technique.settings == entry.default_settings()
    tab.show_pre_query()  # nothing to show into yet, and nothing raised


@pytest.mark.parametrize("changes, key, problem", [
    ({"temperatures": "9"}, "temperatures", "temperatures 9: must be between 0 and 5"),
    ({"temperatures": "0.2,0.5,0.9"}, "temperatures", "temperatures: 3 temperatures for 2 responses (responses per instruction)"),
    ({"system": "[3] Be brief.\n[1] Be thorough."}, "system",
     "system prompt weights: preference gives the system prompts to the responses in turn, not by weight"),
])
def test_the_preference_checks_name_the_tabs_fields_not_the_commands_flags(changes, key, problem):
    entry = TECHNIQUES["preference"]
    fields, raw = _raw(entry, **changes)
    assert read_form(entry, fields, raw).problems == {key: problem}
