"""One settings schema: a setting declared once is in the app's form, the CLI, TOML and Python steps and the run record."""

from dataclasses import dataclass

import pytest

from tests.scripted_model import ScriptedModel
from tui.app.pipeline_draft import parse_field, step_fields, table_with
from tui.app.settings_form import read_form
from tui.app.techniques import available_techniques
from tui.app.widgets.technique_tab import TechniqueTab
from tui.cli import build_parser
from tui.cli_generate import build_technique
from tui.cli_technique_flags import setting_flags
from tui.engine.errors import BadInput
from tui.engine.instruction_filters import InstructionFilters
from tui.engine.llm import LlamaCppLLM
from tui.engine.model import Sampling
from tui.engine.pipeline import Pipeline
from tui.engine.pipeline.generation_steps import TextGeneration as TextGenerationStep
from tui.engine.pipeline.toml_config import build_pipeline, load_pipeline
from tui.engine.runner import run_generation
from tui.engine.settings_schema import describe, get_value, setting, validate
from tui.engine.techniques.base import SystemPrompts
from tui.engine.techniques.evol_instruct import EvolInstructSettings
from tui.engine.techniques.magpie import MagpieSettings, user_turn_sampling
from tui.engine.techniques.self_instruct import SelfInstructSettings
from tui.engine.techniques.text_generation import TextGeneration


@dataclass
class PersonaSettings(TextGeneration.settings_class):
    """Text generation with one setting more, declared in one line as a user of the schema would."""

    persona_count: int = setting(3, label="Personas", help="personas drawn from", flag="--personas", at_least=1)


@pytest.fixture
def with_personas(monkeypatch):
    monkeypatch.setattr(TextGeneration, "settings_class", PersonaSettings)
    setting_flags.cache_clear()  # the CLI's flags are read from the settings once per process
    yield
    setting_flags.cache_clear()


def _generate(*flags: str):
    return build_technique(build_parser().parse_args(["generate", *flags]))


def test_a_new_setting_is_in_the_app_form_and_the_step_editor(with_personas, prompts):
    entry = next(entry for entry in available_techniques() if entry.key == "text")
    fields = {field.key: field for field in TechniqueTab(entry, prompts).fields}
    assert fields["persona_count"].label == "Personas" and fields["persona_count"].kind == "int"
    raw = {key: str(get_value(entry.default_settings(), field.path)) for key, field in fields.items() if field.kind != "system"}
    result = read_form(entry, list(fields.values()), {**raw, "system": "", "persona_count": "7"})
    assert result.problems == {} and result.settings.persona_count == 7
    assert read_form(entry, list(fields.values()), {**raw, "system": "", "persona_count": "0"}).problems == {
        "persona_count": "0: must be at least 1"}
    [editor_field] = [f for f in step_fields("text_generation") if f.key == "persona_count"]
    assert editor_field.setting.label == "Personas" and editor_field.default == 3


def test_a_new_setting_is_a_flag_of_smolgen_generate(with_personas, capsys):
    assert _generate("text", "--personas", "7").settings.persona_count == 7
    assert _generate("text").settings.persona_count == 3
    with pytest.raises(BadInput, match="^--personas: only for text, not magpie$"):
        _generate("magpie", "--personas", "7")
    with pytest.raises(BadInput, match="^--personas 0: must be at least 1$"):
        _generate("text", "--personas", "0")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--help"])
    assert "--personas N text: personas drawn from (default 3)" in " ".join(capsys.readouterr().out.split())


def test_a_new_setting_is_a_key_of_toml_and_python_steps_and_in_the_run_records(with_personas, tmp_path, store, prompts):
    pipeline_file = tmp_path / "personas.toml"
    pipeline_file.write_text(
        '[[steps]]\ntype = "load_data_from_dicts"\ndata = [{ instruction = "Say hi." }]\n\n'
        '[[steps]]\nname = "answer"\ntype = "text_generation"\npersona_count = 6\n',
        encoding="utf-8",
    )
    pipeline = load_pipeline(pipeline_file, llm=LlamaCppLLM(model=ScriptedModel(["Hi there."])))
    step = pipeline.ordered()[1]
    assert step.settings_value.persona_count == 6 and step.cache_settings()["persona_count"] == 6
    pipeline.run(store=store)
    assert store.list_runs()[-1]["settings"]["steps"][1]["persona_count"] == 6
    with Pipeline():
        assert TextGenerationStep(persona_count=5).settings_value.persona_count == 5
        with pytest.raises(BadInput, match="^text_generation_1: persona_count=0: must be at least 1$"):
            TextGenerationStep(persona_count=0)
    run_generation(TextGeneration(PersonaSettings(persona_count=4)), store, ScriptedModel(["Hi."]), prompts, 1, 7,
                   rows=[{"instruction": "Say hi."}])
    assert store.list_runs()[-1]["settings"]["persona_count"] == 4


@pytest.mark.parametrize("settings, message", [
    (Sampling(temperature=9), "temperature=9: must be between 0 and 5"),
    (Sampling(top_p=0), "top_p=0: must be above 0 and at most 1"),
    (Sampling(top_k=-1), "top_k=-1: must be 0 (off) or more"),
    (Sampling(min_p=1), "min_p=1: must be from 0 (off) to below 1"),
    (Sampling(repeat_penalty=0), "repeat_penalty=0: must be above 0 and at most 5"),
    (Sampling(max_tokens=0), "max_tokens=0: must be at least 1"),
    (MagpieSettings(n_turns=0), "n_turns=0: must be at least 1"),
    (MagpieSettings(n_turns="two"), "n_turns=two: must be a whole number"),
    (MagpieSettings(assistant_sampling=Sampling(top_k=2.5)), "top_k=2.5: must be a whole number"),
    (SelfInstructSettings(num_instructions=0), "num_instructions=0: must be at least 1"),
    (SelfInstructSettings(filters=InstructionFilters(rouge_threshold=0)), "rouge_threshold=0: must be above 0 and at most 1"),
    (EvolInstructSettings(operations=()), "operations=(none): choose at least one"),
    (EvolInstructSettings(operations=("deepening", "shuffle")), "operations=shuffle: unknown; use add_constraints, "),
])
def test_values_are_checked_against_their_declared_bounds_in_one_line(settings, message):
    with pytest.raises(BadInput) as raised:
        validate(settings)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_cross_field_checks_stay_with_their_class():
    with pytest.raises(BadInput, match="^word limits 5..2: "):
        validate(SelfInstructSettings(filters=InstructionFilters(min_words=5, max_words=2)))


@pytest.mark.parametrize("flags, message", [
    (["text", "--temperature", "9"], "--temperature 9.0: must be between 0 and 5"),
    (["self-instruct", "--num-instructions", "0"], "--num-instructions 0: must be at least 1"),
    (["self-instruct", "--rouge-threshold", "1.5"], "--rouge-threshold 1.5: must be above 0 and at most 1"),
    (["evol-instruct", "--operations", "deepening,shuffle"], "--operations shuffle: unknown; use add_constraints, "),
    (["magpie", "--turns", "0"], "--turns 0: must be at least 1"),
    (["magpie", "--template", "mine"], "--template: magpie uses the model's own chat template, not a prompt template"),
    (["evol-instruct", "--template", "mine"], "--template: evol-instruct uses one template per operation in evol_instruct/"),
    (["chain", "--num-instructions", "3"], "--num-instructions: only for self-instruct, not chain"),
    (["text", "--turns", "2"], "--turns: only for magpie, not text"),
    (["magpie", "--no-answer"], "--no-answer: only for self-instruct and evol-instruct, not magpie"),
    (["magpie", "--from-store"], "--from-store: only for evol-instruct and preference, not magpie"),
    (["self-instruct", "--no-filter", "colour"], "--no-filter colour: unknown for self-instruct; use one of repetition, language-mismatch, not-a-request, length, keywords"),
    (["magpie", "--system", "A", "--system-weights", "3,x"], "--system-weights 3,x: expected numbers separated by commas"),
    (["magpie", "--system", "A", "--system-weights", "3,1"], "--system-weights: 2 weights for 1 system prompts"),
    (["magpie", "--system", "A", "--system-weights", "0"], "--system-weights: weights must be 0 or more, and not all 0"),
])
def test_a_wrong_flag_is_named_in_one_line(flags, message):
    with pytest.raises(BadInput) as raised:
        _generate(*flags)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


@pytest.mark.parametrize("flags, holds", [
    (["text", "--template", "mine"], lambda s: s.template == "mine"),
    (["chain", "--template", "mine"], lambda s: s.instruction_template == "mine"),
    (["self-instruct", "--template", "mine"], lambda s: s.template == "mine"),
    (["text", "--system", "A", "--system", "B", "--system-weights", "3,1"], lambda s: s.system == SystemPrompts(["A", "B"], [3, 1])),
    (["self-instruct", "--system", "A"], lambda s: s.answer.system.prompts == ["A"]),
    (["evol-instruct", "--answer"], lambda s: s.answer.enabled),  # the default since answers went on; scripts still pass it
    (["text", "--temperature", "0.2", "--max-tokens", "9"], lambda s: (s.sampling.temperature, s.sampling.max_tokens) == (0.2, 9)),
    (["chain", "--temperature", "0.2", "--max-tokens", "9"],
     lambda s: s.instruction_sampling.temperature == s.response_sampling.temperature == 0.2
     and s.instruction_sampling.max_tokens == s.response_sampling.max_tokens == 9),
    (["magpie", "--temperature", "0.2", "--max-tokens", "9"],
     lambda s: (s.assistant_sampling.temperature, s.user_sampling.temperature) == (0.2, 1.0)
     and (s.assistant_sampling.max_tokens, s.user_sampling.max_tokens) == (9, user_turn_sampling().max_tokens)),
    (["magpie", "--user-max-tokens", "64"], lambda s: (s.user_sampling.max_tokens, s.assistant_sampling.max_tokens) == (64, 512)),
    (["magpie", "--user-temperature", "0.3"], lambda s: (s.user_sampling.temperature, s.assistant_sampling.temperature) == (0.3, 0.7)),
    (["magpie", "--turns", "2", "--only-instruction", "--end-with-user"],
     lambda s: (s.n_turns, s.only_instruction, s.end_with_user) == (2, True, True)),
    (["self-instruct", "--num-instructions", "3"], lambda s: (s.num_instructions, s.instruction_sampling.max_tokens) == (3, 144)),
    (["self-instruct", "--num-instructions", "3", "--max-tokens", "50"],
     lambda s: s.instruction_sampling.max_tokens == s.answer.sampling.max_tokens == 50),
    (["self-instruct", "--application-description", "A tutor"], lambda s: s.application_description == "A tutor"),
    (["self-instruct", "--no-filter", "length", "--no-filter", "near-duplicates"],
     lambda s: not s.filters.check_length and not s.filters.check_near_duplicates and s.filters.check_keywords),
    (["self-instruct", "--rouge-threshold", "0.5"], lambda s: s.filters.rouge_threshold == 0.5 and s.answer.enabled),
    (["self-instruct", "--no-answer"], lambda s: not s.answer.enabled),
    (["evol-instruct"], lambda s: s.answer.enabled),
    (["evol-instruct", "--num-evolutions", "3", "--store-evolutions", "--include-original", "--no-answer"],
     lambda s: (s.num_evolutions, s.store_evolutions, s.include_original, s.answer.enabled) == (3, True, True, False)),
    (["evol-instruct", "--operations", "deepening,in-breadth"], lambda s: tuple(s.operations) == ("deepening", "in_breadth")),
])
def test_every_existing_flag_sets_what_it_did(flags, holds):
    assert holds(_generate(*flags).settings)


@pytest.mark.parametrize("table, holds", [
    ({"type": "text_generation", "template": "mine", "system_prompt": "Be brief.", "temperature": 0.2},
     lambda s: (s.template, s.system.prompts, s.sampling.temperature) == ("mine", ["Be brief."], 0.2)),
    ({"type": "instruction_response", "template": "mine", "system_prompt": "Be brief.", "max_tokens": 9},
     lambda s: s.instruction_template == "mine" and s.instruction_sampling.max_tokens == s.response_sampling.max_tokens == 9),
    ({"type": "magpie", "n_turns": 2, "system_prompts": ["A", "B"], "system_weights": [3, 1], "only_instruction": True,
      "end_with_user": True, "temperature": 0.2, "max_tokens": 9},
     lambda s: (s.n_turns, s.system, s.only_instruction, s.end_with_user) == (2, SystemPrompts(["A", "B"], [3, 1]), True, True)
     and (s.assistant_sampling.temperature, s.user_sampling.temperature) == (0.2, 1.0)
     and (s.assistant_sampling.max_tokens, s.user_sampling.max_tokens) == (9, user_turn_sampling().max_tokens)),
    ({"type": "magpie", "user_max_tokens": 64}, lambda s: (s.user_sampling.max_tokens, s.assistant_sampling.max_tokens) == (64, 512)),
    ({"type": "magpie_generator", "num_rows": 2, "n_turns": 2}, lambda s: s.n_turns == 2),
    ({"type": "self_instruct", "num_instructions": 3, "application_description": "A tutor", "template": "mine", "top_p": 0.5},
     lambda s: (s.num_instructions, s.application_description, s.template, s.instruction_sampling.top_p) == (3, "A tutor", "mine", 0.5)
     and s.instruction_sampling.max_tokens == 144),
    ({"type": "evol_instruct", "num_evolutions": 2, "operations": ["deepening"], "repeat_penalty": 1.3},
     lambda s: (s.num_evolutions, list(s.operations), s.evolution_sampling.repeat_penalty) == (2, ["deepening"], 1.3)),
])
def test_every_existing_step_key_sets_what_it_did(table, holds):
    pipeline = build_pipeline({"steps": [{"name": "step", **table}]}, "keys.toml")
    assert holds(pipeline.ordered()[0].settings_value)


def test_a_step_refuses_a_setting_of_another_technique_and_a_value_of_the_wrong_type():
    with pytest.raises(BadInput, match="^keys.toml: step step: unknown key 'n_turns' for type text_generation"):
        build_pipeline({"steps": [{"name": "step", "type": "text_generation", "n_turns": 2}]}, "keys.toml")
    with pytest.raises(BadInput, match="^keys.toml: step step: n_turns=two: must be a whole number$"):
        build_pipeline({"steps": [{"name": "step", "type": "magpie", "n_turns": "two"}]}, "keys.toml")


def test_the_step_editor_shows_system_prompts_as_one_field_and_writes_the_keys_steps_read():
    [system] = [f for f in step_fields("magpie") if f.setting.kind == "system"]
    assert system.value_in({"system_prompt": "Be brief."}) == SystemPrompts(["Be brief."])
    assert system.value_in({"system_prompts": ["A", "B"], "system_weights": [3, 1]}) == SystemPrompts(["A", "B"], [3, 1])
    one = table_with({"type": "magpie", "system_prompts": ["A", "B"]}, [system], {"system": parse_field(system, "Be brief.")})
    assert one == {"type": "magpie", "system_prompt": "Be brief."}
    weighted = table_with({"type": "magpie", "system_prompt": "x"}, [system], {"system": parse_field(system, "[3] A\n[1] B")})
    assert weighted == {"type": "magpie", "system_prompts": ["A", "B"], "system_weights": [3.0, 1.0]}
    step = build_pipeline({"steps": [{"name": "step", **weighted}]}, "keys.toml").ordered()[0]
    assert step.settings_value.system == SystemPrompts(["A", "B"], [3, 1])
    assert table_with(weighted, [system], {"system": parse_field(system, "")}) == {"type": "magpie"}


def test_every_setting_has_a_label_and_every_flag_a_help_line():
    for entry in available_techniques():
        for described in describe(entry.settings_class):
            assert described.label, described.path
            assert described.help or described.flag is None, described.path
