"""The Pipeline tab: steps built by keys, mapping errors shown, TOML saved and loaded, runs with the real model."""

from __future__ import annotations

import json

import pytest
from textual.widgets import OptionList

from tests.app.conftest import CancelledBeforeCall, LoadedModelBackend, make_app, notifications, show_form, shown_text, wait_for
from tests.app.fake_backend import FakeBackend
from tests.conftest import run_smolgen
from tui.app.app import help_sections
from tui.app.screens.pipeline_dialogs import PipelineLoadScreen, PipelineSaveScreen, StepKindScreen
from tui.app.pipeline_draft import STEP_CHOICES
from tui.app.widgets.pipeline_step_form import PipelineStepForm
from tui.app.widgets import pipeline_tab as pipeline_tab_module
from tui.app.widgets.pipeline_tab import PIPELINE_BINDINGS, PipelineTab
from tui.engine.pipeline.toml_config import load_pipeline


def step_names(tab: PipelineTab) -> list[str]:
    return [table["name"] for table in tab.draft.steps]


def listed(tab: PipelineTab) -> list[str]:
    """The step list as the person sees it."""
    return [str(tab.step_list.get_option_at_index(i).prompt) for i in range(tab.step_list.option_count)]


async def pipeline_tab(pilot, model_may_fail: bool = False) -> PipelineTab:
    """The Pipeline tab in front, with the model ready (or failed, if it may) and the step list focused."""
    app = pilot.app
    await wait_for(pilot, lambda: app.model is not None or (model_may_fail and app.model_error is not None), what="the model")
    app.main_screen.technique.show_technique("pipeline")
    tab = app.main_screen.technique.pipeline
    await wait_for(pilot, lambda: tab.query(PipelineStepForm), what="the step form")
    tab.step_list.focus()
    await pilot.pause()
    return tab


async def add_step(pilot, kind: str, by_arrows: bool = True) -> None:
    """`a`, then the kind chosen with the arrow keys from the nearer end of the list (or highlighted at once,
    where the arrows were already tried), and enter."""
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, StepKindScreen), what="the step kinds")
    kinds = [choice[0] for choice in STEP_CHOICES]
    if by_arrows:
        above, below = kinds.index(kind), len(kinds) - 1 - kinds.index(kind)
        await pilot.press(*(["home", *["down"] * above] if above <= below else ["end", *["up"] * below]))
    else:
        pilot.app.screen.query_one("#step-kinds", OptionList).highlighted = kinds.index(kind)
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, StepKindScreen))
    await pilot.pause()


async def load_builtin(pilot, tab: PipelineTab, name: str) -> None:
    """f5, then the built-in chosen from the list."""
    await pilot.press("f5")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PipelineLoadScreen), what="the load dialog")
    await pilot.press("home", *["down"] * ["chapter", "evol-chain"].index(name), "enter")
    await wait_for(pilot, lambda: tab.draft.name == name, what=f"{name} loaded")
    await pilot.pause()


async def edit_step(pilot, tab: PipelineTab, index: int, **values: str) -> None:
    """Highlight a step (↑/↓) and type values into its fields."""
    await pilot.press("home", *["down"] * index)
    await wait_for(pilot, lambda: [form.index for form in tab.query(PipelineStepForm)] == [index], what="the step's form")
    for key, value in values.items():
        tab.query_one(f"#step-field-{key}").value = value
    await pilot.pause()


async def test_build_a_pipeline_by_keys(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        tab = await pipeline_tab(pilot)
        assert step_names(tab) == ["seeds", "instruction_response"]
        assert listed(tab) == ["1. seeds · Seeds", "2. instruction_response · Instruction → response"]

        await add_step(pilot, "evol_instruct")  # after the highlighted first step
        assert step_names(tab) == ["seeds", "evol_instruct", "instruction_response"]
        await pilot.press("shift+down")
        assert step_names(tab) == ["seeds", "instruction_response", "evol_instruct"]
        assert tab.step_list.highlighted == 2  # the moved step stays highlighted
        await pilot.press("shift+up", "shift+up", "shift+up")  # stops at the top
        assert step_names(tab) == ["evol_instruct", "seeds", "instruction_response"]
        assert "the first step 'evol_instruct' must be a source of rows" in shown_text(app, "#pipeline-problem")
        await pilot.press("d")
        assert step_names(tab) == ["seeds", "instruction_response"]
        assert not tab.query_one("#pipeline-problem").display
        assert "evol_instruct" not in tab.drawing.text and "instruction_response  (instruction_response)" in tab.drawing.text

        await add_step(pilot, "keep_columns")
        assert tab.draft.steps[1] == {"name": "keep_columns", "type": "keep_columns", "columns": ["text"]}

        # The Footer shows the keys of the focused list and of the tab; the help screen lists the same.
        in_footer = {key: active.binding.description for key, active in app.screen.active_bindings.items()}
        assert {in_footer[key] for key in ("a", "d", "shift+up", "shift+down", "f5", "f6", "f8")} == {
            "Add step", "Remove step", "Move up", "Move down", "Load pipeline", "Save pipeline", "No cache"}
        helped = {b.description for title, bindings, _ in help_sections() if title == "Pipeline tab" for b in bindings}
        assert set(in_footer.values()) & {b.description for b in [*PIPELINE_BINDINGS, *tab.step_list.BINDINGS]} <= helped


async def test_a_missing_column_is_shown_not_raised_and_a_mapping_fixes_it(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        tab = await pipeline_tab(pilot)
        await add_step(pilot, "text_generation")  # reads `instruction`; the seeds only have `text`
        problem = shown_text(app, "#pipeline-problem")
        assert "step 'text_generation' needs column 'instruction'" in problem and "available: text" in problem

        await pilot.press("ctrl+g")
        await pilot.pause()
        assert not app.running and app_store.list_runs() == []
        assert any("needs column 'instruction'" in message for message in notifications(app))

        form = tab.query_one(PipelineStepForm)
        form.query_one("#step-input-mappings").text = "instruction = text"
        await wait_for(pilot, lambda: tab.problem is None, what="the mapping to fix it")
        assert tab.draft.steps[1]["input_mappings"] == {"instruction": "text"}
        assert "in: text → instruction" in tab.drawing.text

        form.query_one("#step-input-mappings").text = "prompt = text"  # not an input of the step
        await wait_for(pilot, lambda: tab.problem is not None)
        assert "input_mappings names 'prompt', which is not an input of text_generation" in shown_text(app, "#pipeline-problem")
        form.query_one("#step-input-mappings").text = "instruction text"
        await pilot.pause()
        assert "line 1: write `column = other column`" in str(form.query_one("#problem-step-input-mappings").render())

        form.query_one("#step-input-mappings").text = "instruction = text"
        form.query_one("#step-field-temperature").value = "9"  # parses, but the engine refuses it
        await wait_for(pilot, lambda: "temperature" in (tab.problem or ""), timeout=5, what="the engine's refusal")
        assert "my-pipeline: step text_generation: temperature=9.0: must be between 0 and 5" in shown_text(app, "#pipeline-problem")
        form.query_one("#step-field-max_tokens").value = "many"
        await pilot.pause()
        assert "many: must be a whole number" in str(form.query_one("#problem-step-field-max_tokens").render())


async def test_every_step_kind_can_be_added_and_edited(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    # The smallest terminal the app fits (test_app_fit): fourteen forms drawn on fewer cells.
    async with app.run_test(size=(80, 24)) as pilot:
        tab = await pipeline_tab(pilot)
        await pilot.press("end")  # each step is added after the last, which the added one then is
        for kind, _, _ in STEP_CHOICES:
            await add_step(pilot, kind, by_arrows=False)  # test_build_a_pipeline_by_keys walks the list by arrows
            await wait_for(pilot, lambda kind=kind: [form.kind for form in tab.query(PipelineStepForm)] == [kind], what=f"the {kind} form")
            assert tab.draft.steps[tab.selected]["type"] == kind
        assert len(tab.draft.steps) == 2 + len(STEP_CHOICES)
        # What the engine refuses is said, naming step and file, and nothing was raised.
        assert "step load_data_from_file: seeds.txt: seed file not found" in shown_text(app, "#pipeline-problem")
        assert "cannot be drawn" in tab.drawing.text
        await pilot.press("home", *["down"] * 3, "d")  # remove the file source (after seeds, instruction_response, the store source)
        await wait_for(pilot, lambda: "is a source but is not first" in (tab.problem or ""), timeout=5, what="the next problem")
        assert "step 'load_seeds_from_store' is a source but is not first" in shown_text(app, "#pipeline-problem")


@pytest.mark.model
async def test_save_then_load_a_toml_round_trip(app_store, prompts, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        tab = await pipeline_tab(pilot)
        await load_builtin(pilot, tab, "chapter")
        assert step_names(tab) == ["load_seeds", "generate_instruction", "generate_response"]
        await edit_step(pilot, tab, 2, max_tokens="8", temperature="0.3")
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, PipelineSaveScreen), what="the save dialog")
        app.screen.query_one("#pipeline-save-path").value = "mine"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, PipelineSaveScreen), what="the file to be written")
        saved = tmp_path / "mine.toml"
        assert "Saved chapter to mine.toml" in shown_text(app, "#pipeline-status")

        # A file that does not load says why in the dialog, in one line; the pipeline shown stays.
        (tmp_path / "broken.toml").write_text("[[steps]]\ntype = 'teleport'\n")
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, PipelineLoadScreen))
        app.screen.query_one("#pipeline-load-path").value = "broken.toml"
        app.screen.query_one("#pipeline-load-path").focus()
        await pilot.press("enter")
        await pilot.pause()
        problem = str(app.screen.query_one("#problem").render())
        assert "broken.toml: step 1: unknown type 'teleport'" in problem and "\n" not in problem.strip()
        app.screen.query_one("#pipeline-load-path").value = "mine.toml"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, PipelineLoadScreen), what="mine.toml loaded")
        assert tab.draft.steps[2] == {"name": "generate_response", "type": "text_generation",
                                      "output_mappings": {"generation": "response"}, "max_tokens": 8, "temperature": 0.3}

    engine = load_pipeline(saved)  # the engine's own loader, as `smolgen run` uses it
    assert [step.name for step in engine.ordered()] == ["load_seeds", "generate_instruction", "generate_response"]
    response = engine.ordered()[2]
    assert (response.settings_value.sampling.max_tokens, response.settings_value.sampling.temperature) == (8, 0.3)
    assert response.output_mappings == {"generation": "response"}
    drawn = run_smolgen("draw", "mine.toml", cwd=tmp_path)
    assert drawn.returncode == 0 and "out: generation → response" in drawn.stdout
    ran = run_smolgen("run", "mine.toml", "--json", "--store", "cli.json", cwd=tmp_path)  # the real model, the file's settings
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert summary["stored"] == 1 and summary["steps"]["generate_response"]["generated"] == 1


@pytest.mark.model
async def test_run_the_chapter_with_the_real_model_then_again_from_the_cache(app_store, prompts, real_backend, tmp_path):
    app = make_app(app_store, prompts, real_backend)
    progress: list[str] = []
    async with app.run_test(size=(100, 40), message_hook=lambda m: progress.append(type(m).__name__)) as pilot:
        tab = await pipeline_tab(pilot)
        await load_builtin(pilot, tab, "chapter")
        await edit_step(pilot, tab, 1, max_tokens="8")
        await edit_step(pilot, tab, 2, max_tokens="8")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#pipeline-status"), timeout=120, what="the run")
        assert "StepProgress" in progress
        [sample] = app_store.list_samples()
        assert sample["pipeline"] == "chapter" and sample["instruction"] and sample["response"]
        assert tab.drawing.text.count("done 1 · cached 0 · failed 0 · rows 1") == 2
        assert "1 new samples stored (0 already stored)" in shown_text(app, "#pipeline-status")
        assert "Finished · 1 stored" in shown_text(app, "#stage")

        await pilot.press("ctrl+g")  # the same pipeline again: every step output comes from the cache
        await wait_for(pilot, lambda: "0 new samples stored (1 already stored)" in shown_text(app, "#pipeline-status"),
                       timeout=60, what="the cached run")
        assert tab.drawing.text.count("done 0 · cached 1 · failed 0 · rows 1") == 2
        assert len(app_store.list_samples()) == 1

        await pilot.press("f8")  # no cache: generate again on purpose
        assert app.main_screen.query_one("#pipeline-no-cache").value
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: len(app_store.list_runs()) == 3 and not app.running, timeout=120, what="the uncached run")
        await wait_for(pilot, lambda: "1 new samples stored" in shown_text(app, "#pipeline-status"))
        assert tab.drawing.text.count("done 1 · cached 0 · failed 0 · rows 1") == 2
        assert len(app_store.list_samples()) == 2
    runs = app_store.list_runs()
    assert [run["summary"]["steps"]["generate_response"]["generated"] for run in runs] == [1, 0, 1]


@pytest.mark.model
async def test_escape_cancels_and_a_resumed_run_generates_nothing_twice(app_store, prompts, app_model):
    model = CancelledBeforeCall(app_model, held_call=2)  # the response, once the instruction is written
    app = make_app(app_store, prompts, LoadedModelBackend(model))
    async with app.run_test(size=(100, 40)) as pilot:
        tab = await pipeline_tab(pilot)
        await load_builtin(pilot, tab, "chapter")
        await edit_step(pilot, tab, 1, max_tokens="8")
        await edit_step(pilot, tab, 2, max_tokens="8")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "done 1 · cached 0 · failed 0 · rows 1" in tab.drawing.text, timeout=60,
                       what="the instruction step to finish")
        await wait_for(pilot, model.waiting.is_set, what="the response step to start")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.running, timeout=5, what="the run to stop")
        await wait_for(pilot, lambda: "Cancelled" in shown_text(app, "#pipeline-status"))
        assert app_store.list_samples() == [] and app_store.list_runs()[0]["status"] == "cancelled"

        await pilot.press("ctrl+g")  # resume: the instruction is cached
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#pipeline-status"), timeout=120, what="the resumed run")
    steps = app_store.list_runs()[1]["summary"]["steps"]
    assert (steps["generate_instruction"]["generated"], steps["generate_instruction"]["cached"]) == (0, 1)
    assert steps["generate_response"]["generated"] == 1
    assert len(app_store.list_samples()) == 1


async def test_marked_seeds_are_the_source_of_a_new_pipeline(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        tab = await pipeline_tab(pilot)
        await pilot.press("ctrl+g")  # no seeds yet: said, not raised
        await pilot.pause()
        assert any("takes the marked seeds" in message for message in notifications(app))
        app_store.add_seeds([{"text": "Ask about LoRA."}, {"text": "Ask about SFT."}])
        app.main_screen.query_one("#run-num").value = "3"  # "Samples" caps the rows, cycling the seeds
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#pipeline-status"), what="the run")
        assert "done 3 · cached 0 · failed 0 · rows 3" in tab.drawing.text
        # The scripted model answers the third row (LoRA again) as it did the first: stored once.
        assert "2 new samples stored (1 already stored)" in shown_text(app, "#pipeline-status")
    samples = app_store.list_samples()
    assert [s["columns"]["text"] for s in samples] == ["Ask about LoRA.", "Ask about SFT."]
    assert all(s["instruction"] and s["response"] and s["pipeline"] == "my-pipeline" for s in samples)


async def test_the_tabs_keys_work_as_soon_as_it_is_shown_wherever_the_focus_is(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("f3")  # the technique tabs, then back round from the first to Pipeline, the last
        assert not app.main_screen.query(PipelineTab)  # built when first shown: the app starts without it
        await pilot.press("left")
        assert app.main_screen.technique.pipeline_shown
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, PipelineLoadScreen), what="the load dialog from the tab bar")
        await pilot.press("escape")
        await pilot.press("f2", "f8")  # from the seeds pane too
        assert app.main_screen.query_one("#pipeline-no-cache").value
        await show_form(pilot, "magpie")
        await pilot.press("f8")  # the keys belong to the tab: with another in front they do nothing
        assert app.main_screen.query_one("#pipeline-no-cache").value


async def test_a_rerun_served_from_the_cache_says_so_and_which_key_runs_without_it(app_store, prompts):
    app_store.add_seeds([{"text": "Ask about LoRA."}, {"text": "Ask about SFT."}])
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        tab = await pipeline_tab(pilot)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished · 2 stored" in shown_text(app, "#stage"), what="the first run")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "cached 2" in tab.drawing.text, what="the run from the cache")
        await wait_for(pilot, lambda: not app.running)
        assert shown_text(app, "#stage") == "Finished · 2 rows came from the cache, nothing generated"
        assert shown_text(app, "#run-stats") == "f8 (No cache) then ctrl+g generates them again"
        assert "0 samples" not in shown_text(app, "#run-stats")


@pytest.mark.model
async def test_the_longer_evol_chain_runs_in_the_app_with_the_real_model(app_store, prompts, real_backend):
    app = make_app(app_store, prompts, real_backend)
    async with app.run_test(size=(100, 40)) as pilot:
        tab = await pipeline_tab(pilot)
        await load_builtin(pilot, tab, "evol-chain")
        assert step_names(tab) == ["load_seeds", "self_instruct", "one_per_row", "evolve", "respond"]
        await edit_step(pilot, tab, 4, max_tokens="16")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in shown_text(app, "#pipeline-status"), timeout=300, what="the run")
    kept = app_store.list_samples(statuses=["new"])
    runs = app_store.list_runs()
    steps = runs[0]["summary"]["steps"]
    assert steps["evolve"]["generated"] + steps["evolve"]["failed"] == steps["one_per_row"]["rows"]
    assert len(kept) == steps["respond"]["generated"]
    for sample in kept:
        assert sample["pipeline"] == "evol-chain" and sample["instruction"] and sample["response"]
        assert sample["columns"]["evolution"][0]["round"] == 0


class ManualTimer:
    """A timer that fires only when the test fires it."""

    def __init__(self, delay: float, callback) -> None:
        self.delay, self.callback, self.stopped = delay, callback, False

    def stop(self) -> None:
        self.stopped = True

    def fire(self) -> None:
        self.stopped = True
        self.callback()


async def test_typing_in_a_step_form_is_checked_once_the_keys_pause_and_before_a_run(app_store, prompts, monkeypatch):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        tab = await pipeline_tab(pilot)
        await load_builtin(pilot, tab, "chapter")
        await pilot.press("down")  # generate_instruction
        await wait_for(pilot, lambda: [form.index for form in tab.query(PipelineStepForm)] == [1], what="the step's form")
        checks = []
        checked = tab.draft.checked
        monkeypatch.setattr(tab.draft, "checked", lambda: checks.append(1) or checked())
        # The tab's timers wait for the test, not the clock: however slowly the keys arrive, none fires between them.
        timers: list[ManualTimer] = []
        monkeypatch.setattr(tab, "set_timer", lambda delay, callback: timers.append(ManualTimer(delay, callback)) or timers[-1])
        field = tab.query_one("#step-field-temperature")
        field.focus()
        field.value = ""
        await pilot.press("end", "9", ".", "5")  # a change posted per key
        await pilot.pause()
        assert checks == [] and tab.draft.steps[1]["temperature"] == 9.5  # the draft has the edit at once
        [waiting] = [timer for timer in timers if not timer.stopped]  # each key put off the one check
        assert len(timers) >= 3 and waiting.delay == pipeline_tab_module.CHECK_AFTER_SECONDS  # a timer per key typed
        waiting.fire()  # the keys paused
        assert checks == [1] and "temperature=9.5" in (tab.problem or "")
        assert all(timer.stopped for timer in timers)  # no other check is waiting
        field.value = ""
        await pilot.press("end", "1")
        assert tab.run_request(None) is not None  # a run catches up with the last key at once
        assert tab.problem is None
