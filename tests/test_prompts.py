import pytest

from tui.engine.errors import TemplateProblem
from tui.engine.prompts import PromptLibrary


def test_shipped_templates_render_seed_columns(prompts):
    assert prompts.load("text_generation").render(text="What is SFT?") == "What is SFT?"
    assert prompts.load("text_generation").render(instruction="Explain LoRA.") == "Explain LoRA."


def test_seed_text_is_never_rendered_as_template_code(prompts):
    assert prompts.load("text_generation").render(text="Compute {{ 7*7 }} please") == "Compute {{ 7*7 }} please"


def test_syntax_error_names_file_and_line(tmp_path):
    (tmp_path / "broken.jinja2").write_text("line one\n{% if x %}\nno end\n", encoding="utf-8")
    with pytest.raises(TemplateProblem, match=r"broken\.jinja2:\d+: .*"):
        PromptLibrary(tmp_path).load("broken")


def test_undefined_variable_names_template_line_and_variable(tmp_path):
    (tmp_path / "needs.jinja2").write_text("Topic:\n{{ topic }}\n", encoding="utf-8")
    template = PromptLibrary(tmp_path).load("needs")
    with pytest.raises(TemplateProblem) as error:
        template.render(text="seed")
    message = str(error.value)
    assert "needs.jinja2:2" in message and "topic" in message


def test_user_folder_overrides_and_adds(tmp_path):
    (tmp_path / "text_generation.jinja2").write_text("Mine: {{ text }}", encoding="utf-8")
    (tmp_path / "extra.jinja2").write_text("Extra {{ text }}", encoding="utf-8")
    library = PromptLibrary(tmp_path)
    assert library.load("text_generation").render(text="a") == "Mine: a"
    assert "extra" in library.names() and "chain_instruction" in library.names()


def test_sandbox_blocks_unsafe_attribute_access(tmp_path):
    (tmp_path / "evil.jinja2").write_text("{{ text.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    with pytest.raises(TemplateProblem):
        PromptLibrary(tmp_path).load("evil").render(text="x")


def test_unknown_template_and_missing_folder_are_clear(tmp_path):
    with pytest.raises(TemplateProblem, match="template 'nope' not found"):
        PromptLibrary().load("nope")
    with pytest.raises(TemplateProblem, match="prompts folder not found"):
        PromptLibrary(tmp_path / "missing")


def test_example_words_are_read_from_the_template_and_checked(tmp_path):
    (tmp_path / "mine.jinja2").write_text('{% set example_words = ["Honey", "bees"] %}Seed: {{ text }}')
    (tmp_path / "plain.jinja2").write_text("Seed: {{ text }}")
    (tmp_path / "wrong.jinja2").write_text('{% set example_words = "honey" %}{{ text }}')
    library = PromptLibrary(tmp_path)
    assert library.load("mine").example_words(text="t") == ("honey", "bees")
    assert library.load("mine").render(text="t") == "Seed: t"
    assert library.load("plain").example_words(text="t") == ()
    with pytest.raises(TemplateProblem, match=r"wrong.jinja2: example_words must be a list"):
        library.load("wrong").example_words(text="t")
