"""What checking a form costs: a technique form builds its technique once per field as it is shown and twice
per key typed, not once per field per key; a step form finds its problem lines without querying every
widget inside it. Each test fails if work a change once did for every field comes back."""

from __future__ import annotations

from textual.widgets import Input, TextArea

from tests.app.conftest import fast_paint_only, make_app, show_form, wait_for
from tests.app.fake_backend import FakeBackend
from tui.app.techniques import TechniqueEntry
from tui.app.widgets.pipeline_step_form import PipelineStepForm


def count_builds(monkeypatch) -> list[str]:
    """The technique of each build from now on, by its engine name."""
    built: list[str] = []
    build = TechniqueEntry.build

    def counted(entry, settings):
        built.append(entry.key)
        return build(entry, settings)

    monkeypatch.setattr(TechniqueEntry, "build", counted)
    return built


async def test_a_technique_form_checks_each_field_once_as_it_is_shown_and_a_key_only_the_field_typed_in(app_store, prompts, monkeypatch):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        built = count_builds(monkeypatch)
        form = await show_form(pilot, "magpie")
        announced = [field for field in form.fields if form.initial_values[field.key] not in ("", False)]
        assert len(announced) > 3  # fields that announce their first value as they mount: each once checked the form
        # Each field alone, then the whole technique: for the pre-query the form shows as it mounts, then for
        # the check once the fields have announced themselves, and for the pre-query again.
        assert built.count("magpie") <= len(form.fields) + 3
        built.clear()
        field = app.main_screen.query_one("#magpie--n_turns", Input)
        field.focus()
        await pilot.press("end", "2")
        await pilot.pause()
        assert field.value.endswith("2") and not app.main_screen.query(".field-problem")
        assert built == ["magpie"] * 3  # the field typed in, alone; then the whole technique, twice as above
        field.value = ""  # a wrong value is still explained next to its field
        await pilot.pause()
        assert "must be a whole number" in str(app.main_screen.query_one(".field-problem").render())


async def test_a_key_typed_in_a_step_form_queries_none_of_its_widgets(app_store, prompts, monkeypatch):
    """A step form re-reads every field at each key and shows or hides each one's problem line: a query
    for that line would walk every widget inside the form, for each field."""
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        app.main_screen.technique.show_technique("pipeline")
        tab = app.main_screen.technique.pipeline
        await wait_for(pilot, lambda: tab.query(PipelineStepForm), what="the step form")
        form = tab.query_one(PipelineStepForm)
        field = form.query_one("#step-name", Input)
        field.focus()
        await pilot.pause()
        queries: list[str] = []
        query = form.query
        monkeypatch.setattr(form, "query", lambda *selector: queries.append(str(selector)) or query(*selector))
        field.value = ""
        await pilot.pause()
        assert "a step needs a name" in str(form.query_one("#problem-step-name").render())
        await pilot.press("s")
        await pilot.pause()
        assert form.query_one_optional("#problem-step-name") is None and field.value == "s"
        assert queries == []


@fast_paint_only  # Textual's Input lays the whole screen out at every change of its text
async def test_a_key_typed_in_a_field_asks_no_layout_and_a_long_text_still_scrolls_with_the_cursor(app_store, prompts, monkeypatch):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        field = app.main_screen.query_one("#run-num", Input)
        field.focus()
        await pilot.pause()
        layouts: list[str] = []  # the field's text at each layout of the screen it asked for
        refresh = field.refresh
        monkeypatch.setattr(field, "refresh", lambda *regions, **options: (
            options.get("layout") and layouts.append(field.value), refresh(*regions, **options))[1])
        await pilot.press(*"12345", *["backspace"] * 4)
        await pilot.pause()
        assert field.value == "1" and layouts == []
        digits = "1234567890" * 5  # wider than the field: the text scrolls to keep the cursor in view
        await pilot.press(*digits[1:])
        await pilot.pause()
        assert field.value == digits and field.scroll_x == len(digits) + 1 - field.scrollable_content_region.width
        await pilot.press(*["backspace"] * len(digits))
        await pilot.pause()
        assert field.value == "" and field.scroll_x == 0


async def test_a_key_that_leaves_the_pre_query_as_it_is_does_not_show_it_again(app_store, prompts, monkeypatch):
    """The Magpie form shows the pre-query its system prompt gives; loaded again at each key, the view had
    Textual arrange the whole screen to find where it is."""
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        form = await show_form(pilot, "magpie")
        view = form.query_one(".pre-query", TextArea)
        assert view.text.strip() and view.text != "(shown when the model is loaded)"
        loaded: list[str] = []
        load_text = view.load_text
        monkeypatch.setattr(view, "load_text", lambda text: (loaded.append(text), load_text(text)))
        field = app.main_screen.query_one("#magpie--n_turns", Input)
        field.focus()
        await pilot.press("end", "2")
        await pilot.pause()
        assert field.value.endswith("2") and loaded == []
        system = form.query_one(".system-prompts", TextArea)
        system.load_text("You are a pirate.")  # a new system prompt: a new pre-query
        await wait_for(pilot, lambda: loaded, what="the new pre-query")
        assert "pirate" in view.text
