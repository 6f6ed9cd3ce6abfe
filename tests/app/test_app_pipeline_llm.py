"""A pipeline file's `[llm]` table in the Pipeline tab: kept when saved, and its servers run the model steps
(said on load and in the run's title), as `smolgen run FILE` does; against the canned stub server, no model."""

from __future__ import annotations

import tomllib

from tests.app.conftest import make_app, shown_text, wait_for
from tests.app.fake_backend import FakeBackend
from tests.app.test_app_pipeline import pipeline_tab
from tui.app.screens.pipeline_dialogs import PipelineLoadScreen, PipelineSaveScreen
from tui.app.widgets.pipeline_tab import PipelineTab
from tui.bench.stub_server import STUB_MODEL, ServerThread, StubServer
from tui.engine.llm import OpenAICompatibleLLM
from tui.engine.pipeline.toml_config import load_pipeline

PIPELINE = """\
name = "on-servers"

[llm]
server = ["{url}"]
model = "{model}"
concurrency = 2
timeout = 30.0

[[steps]]
name = "load_seeds"
type = "load_data_from_dicts"
data = [{{ instruction = "Ask about tea." }}, {{ instruction = "Ask about rain." }}]

[[steps]]
name = "answer"
type = "text_generation"
output_mappings = {{ generation = "response" }}
"""


async def load_file(pilot, tab: PipelineTab, path) -> None:
    """f5, then the file's path typed and entered."""
    await pilot.press("f5")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PipelineLoadScreen), what="the load dialog")
    pilot.app.screen.query_one("#pipeline-load-path").value = str(path)
    pilot.app.screen.query_one("#pipeline-load-path").focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, PipelineLoadScreen), what="the file loaded")
    await wait_for(pilot, lambda: tab.draft.name == "on-servers", what="the draft shown")


async def test_a_files_llm_servers_run_its_steps_not_the_apps_model_and_say_so(app_store, prompts, tmp_path):
    stub = StubServer()
    with ServerThread(stub.handle) as server:
        path = tmp_path / "on-servers.toml"
        path.write_text(PIPELINE.format(url=server.url, model=STUB_MODEL))
        app = make_app(app_store, prompts, FakeBackend())  # the app's own model is the fake one
        async with app.run_test(size=(100, 40)) as pilot:
            tab = await pipeline_tab(pilot, model_may_fail=True)
            await load_file(pilot, tab, path)
            status = shown_text(app, "#pipeline-status")
            assert "[llm] server" in status and server.url in status and "not the app's model" in status
            output, titles = app.main_screen.output, []
            started = output.run_started
            output.run_started = lambda title, *args, **kwargs: (titles.append(title), started(title, *args, **kwargs))
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: "Finished" in shown_text(app, "#pipeline-status"), timeout=30, what="the run")
            assert len(titles) == 1 and "[llm] server" in titles[0] and server.url in titles[0]  # the run says so too
    samples = app_store.list_samples()
    assert len(samples) == 2 and stub.requests == 2  # every answer from the file's server, none from the app's model
    assert all(sample["response"].startswith("How do") for sample in samples)  # the stub's canned text


async def test_saving_keeps_the_files_llm_table(app_store, prompts, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = "http://127.0.0.1:9/v1"  # never asked: the pipeline is only loaded and saved
    (tmp_path / "on-servers.toml").write_text(PIPELINE.format(url=url, model="their-model"))
    written = tomllib.loads((tmp_path / "on-servers.toml").read_text())
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 40)) as pilot:
        tab = await pipeline_tab(pilot, model_may_fail=True)
        await load_file(pilot, tab, tmp_path / "on-servers.toml")
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, PipelineSaveScreen), what="the save dialog")
        app.screen.query_one("#pipeline-save-path").value = "copy"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, PipelineSaveScreen), what="the file to be written")
    saved = tomllib.loads((tmp_path / "copy.toml").read_text())
    assert saved["llm"] == written["llm"] and saved["steps"] == written["steps"]
    answer = load_pipeline(tmp_path / "copy.toml").ordered()[1]  # as `smolgen run copy.toml` reads it
    assert isinstance(answer.llm, OpenAICompatibleLLM) and answer.llm.settings.urls == [url]


async def test_a_file_on_its_own_servers_runs_when_the_app_has_no_model(app_store, prompts, tmp_path):
    stub = StubServer()
    with ServerThread(stub.handle) as server:
        path = tmp_path / "on-servers.toml"
        path.write_text(PIPELINE.format(url=server.url, model=STUB_MODEL))
        app = make_app(app_store, prompts, FakeBackend(load_error="no model file"))
        async with app.run_test(size=(100, 40)) as pilot:
            tab = await pipeline_tab(pilot, model_may_fail=True)
            assert app.model is None
            await load_file(pilot, tab, path)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: "Finished" in shown_text(app, "#pipeline-status"), timeout=30, what="the run")
    assert len(app_store.list_samples()) == 2 and stub.requests == 2
