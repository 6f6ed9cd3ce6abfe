"""The export dialog's newer formats: sharegpt, text and instructions rows, dpo pairs, and the `hf` folder for the Hub."""

from __future__ import annotations

import json

import yaml
from textual.widgets import Checkbox, Input, Label, SelectionList

from tests.app.conftest import make_app, notifications, wait_for
from tests.app.fake_backend import FakeBackend
from tests.app.test_app_compare import add_pairs, side_of
from tests.app.test_app_review import add_samples
from tui.app.app import SmolgenApp
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.export import FORMAT_SUMMARIES, ExportScreen


def _accepted(store, *questions: str) -> None:
    store.set_status(add_samples(store, *questions), "accepted")


async def _choose(pilot, fmt: str) -> None:
    await pilot.press("ctrl+e")
    await pilot.press(*["down"] * list(FORMAT_SUMMARIES).index(fmt), "enter")


async def test_text_rows_render_through_the_loaded_models_chat_template(tmp_path, monkeypatch, app_store, prompts):
    monkeypatch.chdir(tmp_path)
    _accepted(app_store, "Kept question")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await _choose(pilot, "text")
        await pilot.press("ctrl+s")
        [row] = [json.loads(line) for line in (tmp_path / "smolgen-text.jsonl").read_text(encoding="utf-8").splitlines()]
        # The fake model's ChatML writes no default system block, unlike the embedded SmolLM2's.
        assert row == {"text": "<|im_start|>user\nKept question<|im_end|>\n<|im_start|>assistant\nAbout: Kept question<|im_end|>\n"}


async def test_hf_asks_for_a_folder_and_writes_a_hub_folder(tmp_path, monkeypatch, app_store, prompts):
    monkeypatch.chdir(tmp_path)
    _accepted(app_store, *(f"Question {n}?" for n in range(8)))
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 48)) as pilot:
        await _choose(pilot, "sharegpt")
        await pilot.press("ctrl+s")
        first = json.loads((tmp_path / "smolgen-sharegpt.jsonl").read_text(encoding="utf-8").splitlines()[0])
        assert first == {"conversations": [{"from": "human", "value": "Question 0?"}, {"from": "gpt", "value": "About: Question 0?"}]}

        await _choose(pilot, "hf")
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        assert str(screen.query_one("#export-path-label", Label).render()).startswith("Folder")
        assert screen.query_one("#export-path", Input).value == "smolgen-hf" and screen.query_one("#export-hub").display
        screen.query_one("#export-test-size", Input).value = "1.5"
        await pilot.press("ctrl+s")
        assert "Test share 1.5: must be between 0 and 1" in str(screen.query_one("#problem").render())
        assert not (tmp_path / "smolgen-hf").exists()

        screen.query_one("#export-test-size", Input).value = "0.25"
        screen.query_one("#export-license", Input).value = "cc-by-4.0"
        await pilot.press("ctrl+s")
        folder = tmp_path / "smolgen-hf"
        assert sorted(p.name for p in (folder / "data").iterdir()) == ["test.jsonl", "train.jsonl"]
        assert len((folder / "data" / "test.jsonl").read_text(encoding="utf-8").splitlines()) == 2
        meta = yaml.safe_load((folder / "README.md").read_text(encoding="utf-8").split("---\n")[1])
        assert meta["license"] == "cc-by-4.0"
        assert any("6 train and 2 test rows" in n and "huggingface-cli upload" in n for n in notifications(app))

        (folder / "README.md").write_text("my own card", encoding="utf-8")
        await _choose(pilot, "hf")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)  # the folder is not empty
        await pilot.press("n")
        assert (folder / "README.md").read_text(encoding="utf-8") == "my own card"
        await pilot.press("ctrl+s", "y")
        assert (folder / "README.md").read_text(encoding="utf-8").startswith("---\n")


async def test_the_hub_folders_license_is_the_configs_until_changed(tmp_path, monkeypatch, app_store, prompts):
    monkeypatch.chdir(tmp_path)
    _accepted(app_store, *(f"Question {n}?" for n in range(3)))
    app = SmolgenApp(app_store, prompts, FakeBackend(), cursor_blink=False, export_license="cc-by-sa-4.0")
    async with app.run_test(size=(100, 48)) as pilot:
        await _choose(pilot, "hf")
        assert app.screen.query_one("#export-license", Input).value == "cc-by-sa-4.0"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportScreen), what="the folder written")
        meta = yaml.safe_load((tmp_path / "smolgen-hf" / "README.md").read_text(encoding="utf-8").split("---\n")[1])
        assert meta["license"] == "cc-by-sa-4.0"


async def test_dpo_writes_the_preference_pairs_with_a_least_margin_and_only_a_persons_picks(tmp_path, monkeypatch, app_store, prompts):
    monkeypatch.chdir(tmp_path)
    _accepted(app_store, "Not a pair")
    wide, narrow, picked = add_pairs(app_store, ("Good.", 5, "Bad.", 1), ("Fine.", 4, "Meh.", 3), ("Mine.", 3, "Theirs.", 2))
    app_store.pick_preference(picked, side_of(app_store, picked, 1))  # a person prefers the judge's rejected response
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 48)) as pilot:
        await _choose(pilot, "dpo")
        screen = app.screen
        assert screen.query_one("#export-pairs").display and not screen.query_one("#export-hub").display
        screen.query_one("#export-statuses", SelectionList).select("new")
        await pilot.pause()
        assert "3 preference samples" in str(screen.query_one("#export-count").render())
        screen.query_one("#export-min-margin", Input).value = "lots"
        await pilot.press("ctrl+s")
        assert "Least margin 'lots': not a number" in str(screen.query_one("#problem").render())
        screen.query_one("#export-min-margin", Input).value = "2"
        await pilot.press("ctrl+s")
        out = tmp_path / "smolgen-dpo.jsonl"
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert [(row["chosen"][0]["content"], row["rejected"][0]["content"]) for row in rows] == [("Good.", "Bad."), ("Theirs.", "Mine.")]
        assert rows[0]["prompt"][-1] == {"role": "user", "content": "Question 0?"}
        assert any("2 pairs" in n and "1 below the least margin left out" in n for n in notifications(app))

        await _choose(pilot, "dpo")
        app.screen.query_one("#export-statuses", SelectionList).select("new")
        app.screen.query_one("#export-human-only", Checkbox).value = True
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)  # the file exists
        await pilot.press("y")
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert [row["chosen"][0]["content"] for row in rows] == ["Theirs."]


async def test_instructions_is_offered_and_writes_the_instructions(tmp_path, monkeypatch, app_store, prompts):
    monkeypatch.chdir(tmp_path)
    _accepted(app_store, "First question?", "Second question?")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 48)) as pilot:
        await _choose(pilot, "instructions")
        await pilot.press("ctrl+s")
        rows = [json.loads(line) for line in (tmp_path / "smolgen-instructions.jsonl").read_text(encoding="utf-8").splitlines()]
        assert [row["instruction"] for row in rows] == ["First question?", "Second question?"]
