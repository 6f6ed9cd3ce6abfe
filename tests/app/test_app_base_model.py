"""The app on a base model (a GGUF without a chat template): the picker says which techniques it can run,
a chat technique says it needs a chat template before anything runs, the others run; ctrl+d in the
picker switches back to the embedded model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.widgets import Input

from tests.app.conftest import make_app, notifications, show_form, shown_text, wait_for
from tests.app.fake_backend import FakeBackend, FakeModel
from tui.app.screens.model_picker import ModelPickerScreen
from tui.engine.errors import BadInput


class BaseFakeModel(FakeModel):
    """The scripted model, as a base model: it completes raw prompts and cannot chat."""

    def __init__(self) -> None:
        super().__init__()
        self.info = replace(self.info, path=Path("models/base.gguf"), chat_template=None)

    @property
    def chat_template(self):
        raise BadInput("models/base.gguf: this GGUF has no chat template (tokenizer.chat_template)")

    @chat_template.setter
    def chat_template(self, value) -> None:
        """FakeModel's own set-up gives it one; a base model keeps none."""


class BaseFileBackend(FakeBackend):
    """Inspects `base.gguf` as a base model and anything else as the scripted model; `None` is the embedded one."""

    def inspect(self, path: Path | None):
        if path is not None and path.name == "base.gguf":
            return BaseFakeModel().info
        return self.model.info


async def test_the_picker_says_which_techniques_a_base_model_runs_and_ctrl_d_switches_back(app_store, prompts):
    app = make_app(app_store, prompts, BaseFileBackend())
    async with app.run_test(size=(110, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.press("ctrl+o")
        picker = app.screen
        assert isinstance(picker, ModelPickerScreen)
        picker.query_one(Input).value = "base.gguf"
        await wait_for(pilot, lambda: "a base model" in str(picker.query_one("#model-meta").render()), what="the base model's metadata")
        meta = str(picker.query_one("#model-meta").render())
        assert "runs          Text generation, SelfInstruct, EvolInstruct" in meta
        assert "cannot run    Instruction → response, Magpie, Preference pairs, Judge, nor answer instructions: they need a chat template" in meta
        await pilot.press("ctrl+d")  # the embedded model, at once
        await wait_for(pilot, lambda: app.screen is app.main_screen, what="the picker to close")
        assert app.model_request.path is None
        await wait_for(pilot, lambda: app.model is not None, what="the embedded model")


async def test_on_a_base_model_a_chat_technique_says_so_before_it_runs_and_text_generation_runs(app_store, prompts):
    app_store.add_seeds([{"text": "Rivers and tides."}])
    app = make_app(app_store, prompts, FakeBackend(BaseFakeModel()))
    async with app.run_test(size=(110, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await show_form(pilot, "magpie")
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert any(n.startswith("magpie needs a chat template: models/base.gguf") for n in notifications(app))
        assert not app.running and app_store.list_runs() == []
        await show_form(pilot, "text")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished · 1 stored" in shown_text(app, "#stage"), what="the text generation run")
    [sample] = app_store.list_samples()
    assert sample["response"] and sample["technique"] == "text"
