"""The model picker lists the GGUF files found where people keep them; enter on one opens it, and a file
that cannot be used says why and is never opened."""

from __future__ import annotations

from textual.widgets import Input, OptionList

from tests.app.conftest import make_app, notifications, wait_for
from tests.app.fake_backend import FakeBackend
from tests.test_model_catalog import hf_file, write_gguf
from tui.app.screens.model_picker import ModelPickerScreen


async def test_the_picker_lists_found_models_and_enter_opens_one(tmp_path, monkeypatch, app_store, prompts):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("LLAMA_CACHE", str(tmp_path / "llama-cache"))
    chosen = hf_file(tmp_path / "hub", "org/Chat-GGUF", "chat-q4_1.gguf", "cc33", name="Chat")
    write_gguf(tmp_path / "llama-cache" / "z-cut.gguf", rows=64)
    cut = tmp_path / "llama-cache" / "z-cut.gguf"
    cut.write_bytes(cut.read_bytes()[:-100])
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None)
        await pilot.press("ctrl+o")
        picker = app.screen
        assert isinstance(picker, ModelPickerScreen)
        listing = picker.query_one("#found-models", OptionList)
        await wait_for(pilot, lambda: listing.option_count == 2, what="the found models")
        shown = [str(listing.get_option_at_index(i).prompt) for i in range(2)]
        assert "org/Chat-GGUF/chat-q4_1.gguf" in shown[0] and "chat template" in shown[0] and "Hugging Face" in shown[0]
        assert "cannot be used" in shown[1] and "truncated" in shown[1]
        await pilot.press("tab")  # from the path field to the list
        assert app.focused is listing
        path = picker.query_one("#model-path", Input)
        await pilot.press("down")
        await wait_for(pilot, lambda: path.value == str(chosen), what="the first file's path in the field")
        await pilot.press("down")
        await wait_for(pilot, lambda: path.value == str(cut), what="the cut file's path in the field")
        await pilot.press("enter")  # the cut file is not opened
        assert app.screen is picker and any("cannot be used" in text for text in notifications(app))
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: app.screen is app.main_screen, what="the picker to close")
        assert app.model_request.path == chosen
