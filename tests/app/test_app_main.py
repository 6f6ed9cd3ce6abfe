"""The main screen's flows: seeds, settings validation, templates, export, model errors, help and palette."""

from __future__ import annotations

import io
import json

from rich.console import Console
from textual.binding import Binding
from textual.command import CommandList
from textual.widgets import Input, RadioButton, Static, TextArea

from tests.app.conftest import make_app, notifications, show_form, shown_text, wait_for
from tests.app.fake_backend import FakeBackend, FileCheckingBackend
from tests.app.test_app_review import add_samples
from tui.app.app import help_sections
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.export import ExportScreen
from tui.app.screens.help import HelpScreen
from tui.app.screens.model_picker import ModelPickerScreen
from tui.app.screens.seed_editor import SeedEditorScreen
from tui.app.screens.seed_import import SeedImportScreen


async def test_seeds_are_added_imported_marked_and_deleted(tmp_path, app_store, prompts):
    (tmp_path / "topics.csv").write_text("text,lang\nMagpie sampling,en\nMô hình nhỏ,vi\nbroken,row,extra\n", encoding="utf-8")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, SeedEditorScreen)
        await pilot.press(*"Generate a question about [small] models.", "ctrl+s")
        assert [s["row"] for s in app_store.list_seeds()] == [{"text": "Generate a question about [small] models."}]
        await pilot.press("i")
        assert isinstance(app.screen, SeedImportScreen)
        app.screen.query_one(Input).value = str(tmp_path / "nothing.txt")  # typing into an Input is Textual's; the path is long
        await pilot.press("enter")
        assert "seed file not found" in str(app.screen.query_one("#problem").render())
        app.screen.query_one(Input).value = str(tmp_path / "topics.csv")
        await pilot.press("enter")
        assert len(app_store.list_seeds()) == 3
        assert any("1 lines skipped" in message for message in notifications(app))
        seeds = app.main_screen.seeds
        assert seeds.border_subtitle == "3 of 3 used"
        await pilot.press("space")  # unmark the highlighted seed
        assert seeds.border_subtitle == "2 of 3 used"
        assert sum(1 for s in app_store.list_seeds() if s["selected"]) == 2
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        assert len(app_store.list_seeds()) == 2



async def test_e_edits_the_highlighted_seed_and_escape_keeps_it(app_store, prompts):
    [seed_id] = app_store.add_seeds([{"text": "Name a fruit."}], source="test")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("e")
        assert isinstance(app.screen, SeedEditorScreen) and app.screen.query_one(TextArea).text == "Name a fruit."
        app.screen.query_one(TextArea).text = "Name a red fruit."
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app_store.list_seeds()[0]["row"] == {"text": "Name a red fruit."}, what="the edit stored")
        await pilot.press("e")
        app.screen.query_one(TextArea).text = "Name a blue fruit."
        await pilot.press("escape")
        assert not isinstance(app.screen, SeedEditorScreen)
        assert [(s["id"], s["row"]) for s in app_store.list_seeds()] == [(seed_id, {"text": "Name a red fruit."})]

def box_styles(widget, y: int):
    """The style of the check box drawn on line `y` of a selection list, and whether its mark can be seen."""
    segments = list(widget.render_line(y))
    box = segments[1].style
    return box.bgcolor, box.color != box.bgcolor


async def test_a_marked_seed_reads_at_a_glance_in_every_theme_and_t_with_some_marked_asks(app_store, prompts):
    app_store.add_seeds([{"text": f"Seed {i}"} for i in range(4)])
    for seed in app_store.list_seeds()[2:]:
        app_store.update_seed(seed["id"], selected=False)
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        seed_list = app.main_screen.seeds.seed_list
        for theme in ("textual-dark", "textual-light", "nord", "gruvbox"):
            app.theme = theme
            await pilot.pause()
            marked, unmarked = box_styles(seed_list, 1), box_styles(seed_list, 2)  # line 0 is highlighted
            assert marked[0] != unmarked[0], theme  # a filled box against an empty one
            assert marked[1] and not unmarked[1], theme  # the mark shows only in the marked box
        await pilot.press("t")  # two of four marked: it asks
        assert isinstance(app.screen, ConfirmScreen)
        assert "2 of 4 seeds are marked for the next run. Mark all 4?" in str(app.screen.query_one("#question").render())
        await pilot.press("n")
        assert [bool(s.get("selected", True)) for s in app_store.list_seeds()] == [True, True, False, False]
        await pilot.press("t", "y")
        assert all(s.get("selected", True) for s in app_store.list_seeds())
        assert any("All 4 seeds marked" in n for n in notifications(app))
        await pilot.press("t")  # all marked: cleared at once
        assert not any(s.get("selected", True) for s in app_store.list_seeds())


async def test_the_export_dialogs_chosen_format_and_statuses_stand_out(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+e")
        buttons = list(app.screen.query(RadioButton))
        boxes = [button.get_component_rich_style("toggle--button") for button in buttons]
        assert buttons[0].value and not buttons[1].value
        assert boxes[0].bgcolor != boxes[1].bgcolor and boxes[1].color == boxes[1].bgcolor
        statuses = app.screen.query_one("#export-statuses")
        chosen, other = box_styles(statuses, 1), box_styles(statuses, 0)  # accepted is chosen, new is not
        assert chosen[0] != other[0] and chosen[1] and not other[1]


async def test_samples_and_seed_are_marked_invalid_only_for_an_invalid_value_with_the_reason(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        samples, seed = (app.main_screen.query_one(selector, Input) for selector in ("#run-num", "#run-seed"))
        samples.focus()
        await pilot.press("tab", "tab", "tab")  # through both, empty
        await pilot.pause()
        assert not samples.has_class("-invalid") and not seed.has_class("-invalid")
        assert not app.main_screen.query_one("#run-problem").display
        samples.focus()
        await pilot.press("0", "tab")
        await pilot.pause()
        assert samples.has_class("-invalid") and not seed.has_class("-invalid")
        assert "samples 0: must be at least 1" in shown_text(app, "#run-problem")
        samples.focus()
        await pilot.press("backspace", "2", "tab")
        await pilot.pause()
        assert not samples.has_class("-invalid") and not app.main_screen.query_one("#run-problem").display


async def test_an_invalid_setting_is_explained_next_to_it_and_blocks_the_run(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await show_form(pilot, "magpie")
        field = app.main_screen.query_one("#magpie--assistant_sampling--temperature", Input)
        field.value = "9"
        await pilot.pause()
        problem = field.parent.children[field.parent.children.index(field) + 1]
        assert "must be between 0 and 5" in str(problem.render())
        await pilot.press("ctrl+g")
        assert not app.running and not app_store.list_runs()
        field.value = "0.5"
        await pilot.pause()
        assert not app.main_screen.query(".field-problem")


async def test_a_template_with_a_jinja_error_is_shown_with_its_line_and_not_saved(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: bool(app.main_screen.query(".template-source")))
        editor = app.main_screen.query_one(".template-source", TextArea)
        editor.focus()
        editor.text = "Line one\n{{ text "
        await pilot.press("ctrl+s")
        problem = shown_text(app, ".template-problem")
        assert "text_generation.jinja2:2:" in problem and "Not saved" in problem
        assert not (prompts.user_dir / "text_generation.jinja2").exists()
        shipped = (prompts.shipped_dir / "text_generation.jinja2").read_text(encoding="utf-8")
        editor.text = "Answer briefly: {{ text }}"
        await pilot.press("ctrl+s")
        assert (prompts.user_dir / "text_generation.jinja2").read_text(encoding="utf-8") == "Answer briefly: {{ text }}"
        assert (prompts.shipped_dir / "text_generation.jinja2").read_text(encoding="utf-8") == shipped
        assert "your copy" in shown_text(app, ".origin")


async def test_a_template_error_found_at_run_time_is_a_notification_not_a_crash(app_store, prompts):
    app_store.add_seeds([{"text": "A seed"}])
    (prompts.user_dir / "text_generation.jinja2").write_text("{{ topic }}", encoding="utf-8")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert "no such column" in shown_text(app, "#run-stats")
        assert any("no such column" in message for message in notifications(app))
        assert app.is_running and not app_store.list_runs()


async def test_export_writes_the_accepted_rows_and_warns_before_overwriting(tmp_path, monkeypatch, app_store, prompts):
    monkeypatch.chdir(tmp_path)
    accepted, _ = add_samples(app_store, "Kept question", "Dropped question")
    app_store.set_status([accepted], "accepted")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+e")
        assert isinstance(app.screen, ExportScreen)
        assert "1 samples have the statuses chosen" in str(app.screen.query_one("#export-count").render())
        await pilot.press("ctrl+s")
        out = tmp_path / "smolgen-messages.jsonl"
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert rows == [{"messages": [{"role": "user", "content": "Kept question"}, {"role": "assistant", "content": "About: Kept question"}]}]
        assert any("Wrote 1 rows" in message for message in notifications(app))
        await pilot.press("ctrl+e", "down", "enter")  # alpaca
        await pilot.press("ctrl+s")
        assert (tmp_path / "smolgen-alpaca.jsonl").exists()
        await pilot.press("ctrl+e", "ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        out.write_text("keep me", encoding="utf-8")
        await pilot.press("n")
        assert out.read_text(encoding="utf-8") == "keep me"
        await pilot.press("ctrl+s", "y")
        assert out.read_text(encoding="utf-8").count("\n") == 1


async def test_an_export_with_no_row_writes_no_file_and_says_why(tmp_path, monkeypatch, app_store, prompts):
    monkeypatch.chdir(tmp_path)
    add_samples(app_store, "Still new")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+e", "ctrl+s")
        assert isinstance(app.screen, ExportScreen)  # stays open, so the person can choose other statuses
        assert "not written, no sample has the statuses chosen" in str(app.screen.query_one("#problem").render())
        assert not (tmp_path / "smolgen-messages.jsonl").exists()
        assert not any("Wrote" in message for message in notifications(app))


async def test_the_status_bar_names_the_model_file_first_then_its_metadata_name(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        assert shown_text(app, "#model-status").startswith("SmolLM2-fake.gguf (SmolLM2 fake) · 135M · Q4_1")


async def test_export_leaves_truncated_samples_out_unless_its_checkbox_is_ticked(tmp_path, monkeypatch, app_store, prompts):
    monkeypatch.chdir(tmp_path)
    whole = app_store.add_sample({"technique": "magpie", "instruction": "Whole?", "response": "Whole.", "flags": [],
                                  "conversation": [{"role": "user", "content": "Whole?"}, {"role": "assistant", "content": "Whole."}]})
    cut = app_store.add_sample({"technique": "magpie", "instruction": "Cut?", "response": "Cut mid", "flags": ["truncated"],
                                "conversation": [{"role": "user", "content": "Cut?"}, {"role": "assistant", "content": "Cut mid"}]})
    app_store.set_status([whole, cut], "accepted")
    out = tmp_path / "smolgen-messages.jsonl"
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("ctrl+e")
        assert "1 of them truncated and left out" in str(app.screen.query_one("#export-count").render())
        await pilot.press("ctrl+s")
        assert len(out.read_text(encoding="utf-8").splitlines()) == 1
        assert any("1 truncated left out" in message for message in notifications(app))
        await pilot.press("ctrl+e")
        app.screen.query_one("#export-truncated").value = True
        await pilot.press("ctrl+s", "y")
        assert len(out.read_text(encoding="utf-8").splitlines()) == 2


async def test_a_model_that_fails_to_load_is_reported_and_the_app_stays_up(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend(load_error="broken.gguf: llama.cpp cannot load this model"))
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model_error is not None)
        assert "No model: broken.gguf: llama.cpp cannot load this model" in shown_text(app, "#model-status")
        await show_form(pilot, "magpie")
        await pilot.press("ctrl+g")
        assert any("No model to run" in message for message in notifications(app))
        assert app.is_running


async def test_the_model_picker_explains_why_a_file_cannot_be_used(tmp_path, app_store, prompts):
    (tmp_path / "notes.gguf").write_text("not a model", encoding="utf-8")
    app = make_app(app_store, prompts, FileCheckingBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None)
        await pilot.press("ctrl+o")
        picker = app.screen
        assert isinstance(picker, ModelPickerScreen)
        await wait_for(pilot, lambda: "Q4_1" in str(picker.query_one("#model-meta").render()), what="the current model's metadata")
        assert "chat template yes" in str(picker.query_one("#model-meta").render())
        picker.query_one(Input).value = str(tmp_path / "notes.gguf")
        await wait_for(pilot, lambda: "Cannot use" in str(picker.query_one("#model-meta").render()))
        assert "not a GGUF model file" in str(picker.query_one("#model-meta").render())
        await pilot.press("enter")
        assert app.screen is picker
        await pilot.press("escape")
        assert app.screen is app.main_screen and app.model is not None


KNOWN_KEYS = [  # a few of the app's keys, with what the help says they do
    ("ctrl+g", "Generate"), ("ctrl+r", "Review"), ("ctrl+e", "Export"), ("ctrl+t", "Stats"), ("ctrl+o", "Model"),
    ("ctrl+q", "Quit"), ("escape", "Cancel run"), ("f2", "Seeds"), ("shift+up", "Move up"),
]


def help_lines(help_screen: HelpScreen) -> list[str]:
    """The help's lines, scrolled or not, wide enough that no description wraps."""
    console = Console(file=io.StringIO(), width=240, record=True, color_system=None)
    console.print(help_screen.query_one("#help-keys", Static).content)
    return console.export_text().splitlines()


async def test_help_lists_every_key_and_the_palette_runs_actions(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        lines = help_lines(app.screen)
        for key, description in KNOWN_KEYS:
            shown = app.get_key_display(Binding(key, ""))
            assert any(shown in line and description in line for line in lines), f"{key} ({shown}) {description}"
        sections = help_sections()
        described = {b.description for _, bindings, _ in sections for b in bindings if isinstance(b, Binding) and b.description}
        assert all(any(description in line for line in lines) for description in described)
        assert all(any(keys in line and what in line for line in lines) for _, _, extra in sections for keys, what in extra)
        assert "Command palette" in "".join(lines) and len(lines) > len(described)  # the keys widgets own are listed too
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "ctrl+p")
        await pilot.press(*"Review")
        results = app.screen.query_one(CommandList)
        await wait_for(pilot, lambda: results.highlighted is not None and "Review" in str(results.highlighted_option.prompt),
                       what="the palette's search to offer Review")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.id == "review", what="the review screen from the palette")


async def test_each_technique_tab_says_what_it_does_and_f1_has_a_page_with_an_example(app_store, prompts):
    """Every technique tab has its summary, checked with its form in test_app_fit."""
    app = make_app(app_store, prompts, FakeBackend(), animate=False)  # each help page shown without the tab's slide
    async with app.run_test(size=(120, 36)) as pilot:
        app.main_screen.technique.show_technique("chain")
        await wait_for(pilot, lambda: bool(app.main_screen.query("#form-chain .technique-summary")), what="the chain's tab")
        summary = str(app.main_screen.query_one("#form-chain .technique-summary").render())
        assert summary.startswith("Writes a question or request from each seed, then answers it. Seed: a topic, a task or a request")
        app.main_screen.technique.show_technique("pipeline")
        await wait_for(pilot, lambda: bool(app.main_screen.query("#pipeline .technique-summary")), what="the Pipeline tab")
        assert "every step output is cached" in str(app.main_screen.query_one("#pipeline .technique-summary").render())
        await pilot.press("f1")
        titles = ["Keys", *(entry.title for entry in app.techniques), "Pipeline"]
        pages = app.screen.query_one("#help-pages")
        for title in titles[1:]:
            await pilot.press("right")
            await pilot.pause()
            page = pages.active_pane
            assert str(pages.get_tab(page).label) == title
            if title == "Instruction → response":
                text = str(page.query_one(".guide").render())
                assert "Example seed\nGenerate a question about the Smol Course on small AI models." in text
                assert "instruction: What is the purpose of the Smol Course?" in text
                assert "answers the seed instead of asking" in text


async def test_keys_typed_faster_than_the_app_reads_them_land_in_the_field_tab_moved_to(app_store, prompts):
    """One read from the terminal can hold "4<tab>1000": tab must move the focus before the digits after it
    are handed to a widget (Textual alone moves it only once tab has bubbled up, too late for them)."""
    from textual import events

    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        samples, seed = app.main_screen.query_one("#run-num", Input), app.main_screen.query_one("#run-seed", Input)
        # The main screen focuses the seed list once mounted (later under load): only then move it to Samples.
        seed_list = app.main_screen.seeds.seed_list
        await wait_for(pilot, lambda: app.focused is seed_list, timeout=10, what="the first focus, on the seed list")
        app.action_show_technique("magpie")
        await wait_for(pilot, lambda: app.focused is samples, timeout=10, what="the focus on Samples")
        typed = [("4", "4"), ("tab", "\t"), *[(digit, digit) for digit in "1000"], ("shift+tab", None)]
        for key, character in typed:  # queued at once, as the driver does with one read
            app.post_message(events.Key(key, character))
        # Done when the focus is back on Samples with 1000 in Seed, or when the digits went to Samples.
        await wait_for(pilot, lambda: (app.focused is samples and seed.value) or len(samples.value) > 1, timeout=5)
        assert (samples.value, seed.value, app.focused) == ("4", "1000", samples)
