"""Compare pairs: picking the better response by single keys, stored at once over the judge's pick, undone by u."""

from __future__ import annotations

import dataclasses
import json

from textual.command import CommandList

from tests.conftest import run_cli
from tests.app.conftest import make_app, notifications, show_form, wait_for
from tests.app.fake_backend import FakeBackend, FakeModel
from tests.app.test_app_review import add_samples, on_disk
from tui.app.screens.compare import CompareScreen
from tui.engine.preferences import compared_pair, preference_sample, response_record


def add_pairs(store, *answers: tuple[str, int, str, int]) -> list[int]:
    """Preference samples, one per (good text, its rating, bad text, its rating), each for its own question."""
    ids = []
    for number, (good, good_score, bad, bad_score) in enumerate(answers):
        prompt = [{"role": "system", "content": "You are a careful tutor."}, {"role": "user", "content": f"Question {number}?"}]
        responses = [response_record(good, "judge-model", temperature=0.3, rating={"rating": good_score, "failure": None}),
                     response_record(bad, "judge-model", temperature=1.2, rating={"rating": bad_score, "failure": None})]
        ids.append(store.add_sample(preference_sample(prompt, responses)))
    return ids


async def open_compare(pilot) -> CompareScreen:
    await wait_for(pilot, lambda: pilot.app.model is not None)
    pilot.app.action_compare_pairs()
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and pilot.app.screen.shown_at is not None)
    return pilot.app.screen


def side_of(store, sample_id: int, response: int) -> str:
    left, _ = compared_pair(store.get_sample(sample_id))
    return "left" if left == response else "right"


async def test_keys_pick_left_right_tie_and_skip_and_each_pick_is_on_disk_at_once(app_store, prompts):
    first, second, third, fourth = add_pairs(app_store, ("A", 5, "B", 1), ("C", 4, "D", 2), ("E", 3, "F", 3), ("G", 5, "H", 1))
    async with make_app(app_store, prompts, FakeBackend()).run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        assert "0 of 4 pairs picked" in str(screen.query_one("#progress").render())
        # The first pair: the person prefers what the judge rejected (response 1).
        await pilot.press("1" if side_of(app_store, first, 1) == "left" else "2")
        assert on_disk(app_store)[str(first)]["chosen"] == 1 and on_disk(app_store)[str(first)]["decided_by"] == "human"
        await pilot.press("right" if side_of(app_store, second, 0) == "right" else "left")
        await pilot.press("equals_sign")
        await pilot.press("s")
        stored = on_disk(app_store)
        assert (stored[str(second)]["chosen"], stored[str(second)]["decided_by"]) == (0, "human")
        assert stored[str(third)]["chosen"] is None and stored[str(third)]["skipped"]["message"] == "a person called it a tie"
        assert stored[str(fourth)]["decided_by"] == "judge"  # skipped: the judge's pick stands
        assert stored[str(first)]["judge"]["chosen"] == 0  # the judge's own decision is kept beside the person's
        assert "3 of 4 pairs picked" in str(screen.query_one("#progress").render())
        assert screen.has_class("-done")


async def test_u_undoes_picks_and_skips_one_after_another_back_to_the_judges_decision(app_store, prompts):
    first, second = add_pairs(app_store, ("A", 5, "B", 1), ("C", 4, "D", 2))
    async with make_app(app_store, prompts, FakeBackend()).run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("1", "s")
        await pilot.press("u")  # the skip: back on the second pair, nothing changed
        assert screen.current["id"] == second and on_disk(app_store)[str(first)]["decided_by"] == "human"
        await pilot.press("u")  # the pick: the first pair is the judge's again, on disk
        assert screen.current["id"] == first
        restored = on_disk(app_store)[str(first)]
        assert restored["decided_by"] == "judge" and restored["chosen"] == 0 and "judge" not in restored
        assert "0 of 2 pairs picked" in str(screen.query_one("#progress").render())
        assert notifications(pilot.app)[-1] == f"Undid the pick of pair #{first}."


async def test_review_opens_compare_on_the_selected_pair_and_skips_samples_that_are_not_pairs(app_store, prompts):
    add_samples(app_store, "An SFT sample")
    _, second = add_pairs(app_store, ("A", 5, "B", 1), ("C", 4, "D", 2))
    async with make_app(app_store, prompts, FakeBackend()).run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: pilot.app.model is not None)
        pilot.app.action_review(second)
        await pilot.pause()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and pilot.app.screen.shown_at is not None)
        screen = pilot.app.screen
        assert screen.current["id"] == second and len(screen.pair_ids) == 2
        assert "Question 1?" in str(screen.query_one("#prompt").render())


async def test_compare_pairs_is_in_the_command_palette(app_store, prompts):
    add_pairs(app_store, ("A", 5, "B", 1))
    async with make_app(app_store, prompts, FakeBackend()).run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: pilot.app.model is not None)
        await pilot.press("ctrl+p")
        await pilot.press(*"Compare pairs")
        results = pilot.app.screen.query_one(CommandList)
        await wait_for(pilot, lambda: results.highlighted is not None and "Compare pairs" in str(results.highlighted_option.prompt),
                       what="the palette's search to offer Compare pairs")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen), what="Compare pairs from the palette")


def test_bench_compare_times_every_key_to_the_next_pair(tmp_path):
    result = run_cli("bench", "compare", "--pairs", "6", "--picks", "4", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["picks"] == 4 and 0 < figures["median_ms"] <= figures["p95_ms"] <= figures["max_ms"]
    assert figures["cpu_median_ms"] > 0
    refused = run_cli("bench", "compare", "--pairs", "2", "--picks", "3", cwd=tmp_path)
    assert refused.returncode == 2 and "--picks 3: must be at least 1 and at most --pairs (2)" in refused.stderr


async def test_the_preference_pairs_tab_generates_judged_pairs_that_compare_pairs_then_shows(app_store, prompts):
    app_store.add_seeds([{"text": "What is the Smol Course?"}])
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await show_form(pilot, "preference")
        app.main_screen.query_one("#run-num").value = "1"
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in str(app.main_screen.query_one("#stage").render()), what="the run to finish")
        [sample] = app_store.list_samples(technique="preference")
        assert len(sample["responses"]) == 2  # the tab's default
        assert all(r["rating"]["rating"] in (1, 2, 3, 4, 5) for r in sample["responses"])  # each judged under the schema
        assert (sample["chosen"] is not None) != bool(sample["skipped"])
        screen = await open_compare(pilot)
        assert screen.current["id"] == sample["id"] and "What is the Smol Course?" in str(screen.query_one("#prompt").render())


async def test_the_preference_pairs_tab_takes_other_response_models_and_the_model_in_use_judges(app_store, prompts):
    app_store.add_seeds([{"text": "What is the Smol Course?"}])
    writer = FakeModel(replies=("Written by the other model.",))
    writer.info = dataclasses.replace(writer.info, name="Other writer", fingerprint="other")
    backend = FakeBackend(aside={"http://writer.example:8080/v1": writer})
    app = make_app(app_store, prompts, backend)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await show_form(pilot, "preference")
        app.main_screen.query_one("#preference--responders").load_text("http://writer.example:8080/v1")
        app.main_screen.query_one("#run-num").value = "1"
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in str(app.main_screen.query_one("#stage").render()), what="the run to finish")
    [sample] = app_store.list_samples(technique="preference")
    assert [(r["model"], r["content"]) for r in sample["responses"]] == [("Other writer", "Written by the other model.")] * 2
    assert all(r["rating"]["judge"] == "SmolLM2 fake" for r in sample["responses"])  # the model in use judged them
    assert backend.opened_aside == ["http://writer.example:8080/v1"]
    [run] = app_store.list_runs()
    assert run["settings"]["responders"] == ["http://writer.example:8080/v1"]
    # Left blank: no model asked for and no key sent, recorded as null as `smolgen generate` records it.
    assert (run["settings"]["response_server_model"], run["settings"]["response_api_key_env"]) == (None, None)


WRITER_URL = "http://writer.example:8080/v1"


async def preference_form_with_a_response_server(pilot, key_variable: str, server_model: str = ""):
    """The preference tab, WRITER_URL its response model, asked for `server_model` with the key in `key_variable`."""
    await wait_for(pilot, lambda: pilot.app.model is not None, what="the model")
    await show_form(pilot, "preference")
    form = pilot.app.main_screen.query_one("#form-preference")
    form.query_one("#preference--responders").load_text(WRITER_URL)
    form.query_one("#preference--response_server_model").value = server_model
    form.query_one("#preference--response_api_key_env").value = key_variable
    pilot.app.main_screen.query_one("#run-num").value = "1"
    await pilot.pause()
    return form


async def test_a_response_server_is_asked_for_the_model_named_with_the_key_from_the_variable_named(app_store, prompts, monkeypatch):
    secret = "sk-response-key-never-stored"
    monkeypatch.setenv("SMOLGEN_TEST_RESPONSE_KEY", secret)
    app_store.add_seeds([{"text": "What is the Smol Course?"}])
    backend = FakeBackend(aside={WRITER_URL: FakeModel(replies=("Written by the other model.",))})
    app = make_app(app_store, prompts, backend)
    async with app.run_test(size=(120, 36)) as pilot:
        await preference_form_with_a_response_server(pilot, "SMOLGEN_TEST_RESPONSE_KEY", "big-writer")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in str(app.main_screen.query_one("#stage").render()), what="the run to finish")
    assert backend.aside_servers == [("big-writer", "SMOLGEN_TEST_RESPONSE_KEY")]
    [run] = app_store.list_runs()
    assert (run["settings"]["response_server_model"], run["settings"]["response_api_key_env"]) == ("big-writer", "SMOLGEN_TEST_RESPONSE_KEY")
    assert secret not in app_store.path.read_text(encoding="utf-8")  # the variable's name is recorded, never its value


async def test_an_unset_response_key_variable_is_one_line_and_no_run_starts(app_store, prompts, monkeypatch):
    monkeypatch.delenv("SMOLGEN_SURELY_UNSET", raising=False)
    app_store.add_seeds([{"text": "What is the Smol Course?"}])
    [kept] = add_samples(app_store, "Stored before")
    backend = FakeBackend(aside={WRITER_URL: FakeModel()})
    app = make_app(app_store, prompts, backend)
    async with app.run_test(size=(120, 36)) as pilot:
        form = await preference_form_with_a_response_server(pilot, "SMOLGEN_SURELY_UNSET")
        problems = [str(shown.render()) for shown in form.query(".field-problem")]
        assert problems == ["response key variable SMOLGEN_SURELY_UNSET: that environment variable is not set"]
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert notifications(app)[-1] == "Fix the settings marked in red first."
        assert not app.running and form.query_one("#preference--response_api_key_env").value == "SMOLGEN_SURELY_UNSET"
    assert backend.opened_aside == [] and app_store.list_runs() == []
    assert [s["id"] for s in app_store.list_samples()] == [kept]


async def test_three_responses_are_all_shown_and_a_person_presses_the_best_then_the_worst(app_store, prompts):
    prompt = [{"role": "user", "content": "Name a fruit."}]
    responses = [response_record(text, "judge-model", rating={"rating": score, "failure": None})
                 for text, score in (("Apple.", 4), ("A thing.", 1), ("Mango, sweet and ripe.", 3))]
    [sample_id] = [app_store.add_sample(preference_sample(prompt, responses))]
    async with make_app(app_store, prompts, FakeBackend()).run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        boxes = [screen.query_one(f"#panel-{panel}-box") for panel in range(4)]
        assert [box.display for box in boxes] == [True, True, True, False]
        assert [box.border_title for box in boxes[:3]] == ["1", "2", "3"]
        assert "Mango, sweet and ripe." in str(screen.query_one("#panel-2").render())
        assert "judge's pick" in boxes[0].border_subtitle and "judge's worst" in boxes[1].border_subtitle
        progress = screen.query_one("#progress")
        assert "press the best, then the worst (1-3)" in str(progress.render())
        await pilot.press("3")
        assert boxes[2].has_class("-best") and "3 is the best: now the worst (1, 2" in str(progress.render())
        await pilot.press("3")  # the same number again takes it back
        assert not boxes[2].has_class("-best") and "press the best" in str(progress.render())
        await pilot.press("3", "1")
        stored = on_disk(app_store)[str(sample_id)]
        assert (stored["chosen"], stored["rejected"], stored["decided_by"]) == (2, 0, "human")
        assert stored["judge"]["chosen"] == 0 and stored["judge"]["rejected"] == 1
        assert "1 of 1 pairs picked" in str(progress.render())
        await pilot.press("u")
        assert on_disk(app_store)[str(sample_id)]["decided_by"] == "judge"
