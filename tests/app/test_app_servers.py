"""The app on OpenAI-compatible servers, against the canned stub server (no model): opening, generating
with rows in flight, moving the stream between them, cancelling, and the flags that open it."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import threading
from pathlib import Path

import pytest

from textual.widgets import Checkbox, Input, Select, TabbedContent

from tests.app.conftest import notifications, show_form, shown_text, wait_for
from tests.app.fake_backend import FakeBackend
from tests.conftest import run_cli
from tui import cli
from tui.app.app import SmolgenApp
from tui.app.backend import LlamaBackend, ModelRequest
from tui.app.messages import StageStarted, TextStreamed
from tui.app.screens.model_picker import ModelPickerScreen
from tui.bench.stub_server import STUB_CHAT_TEMPLATE, STUB_MODEL, Answer, ServerThread, StubServer, canned_text
from tui.engine.app_state import AppState, RememberedModel, save_app_state, state_path
from tui.engine.errors import BadInput
from tui.engine.server.settings import ServerSettings
from tui.engine.store import SampleStore


class PacedStub(StubServer):
    """The stub, answering each completion `seconds` late; with `answered`, the completions after
    that many never come (a server that hangs); with `held`, none is answered before that event is set."""

    def __init__(self, seconds: float = 0.0, answered: int | None = None, held: threading.Event | None = None):
        super().__init__()
        self.seconds = seconds
        self.answered = answered
        self.held = held
        self.asked = 0

    async def handle(self, method: str, target: str, body: bytes) -> Answer:
        if target.endswith("completions"):
            self.asked += 1
            if self.answered is not None and self.asked > self.answered:
                await asyncio.sleep(3600)
            if self.held is not None:
                await asyncio.to_thread(self.held.wait, 60)
            await asyncio.sleep(self.seconds)
        return await super().handle(method, target, body)


def serve(stub: StubServer):
    return ServerThread(stub.handle)


@pytest.fixture
def backend():
    opened = LlamaBackend()
    yield opened
    opened.close()


def server_app(store, prompts, backend, url: str, concurrency: int = 4) -> SmolgenApp:
    request = ModelRequest(servers=ServerSettings([url], concurrency=concurrency))
    return SmolgenApp(store, prompts, backend, request, cursor_blink=False)


async def magpie_run(pilot, samples: int) -> None:
    """Show the Magpie tab, ask for `samples` samples with seed 11, and start the run."""
    app = pilot.app
    await wait_for(pilot, lambda: app.model is not None, timeout=20, what="the server's model")
    await show_form(pilot, "magpie")
    app.main_screen.query_one("#run-num").value = str(samples)
    app.main_screen.query_one("#run-seed").value = "11"
    await pilot.pause()
    await pilot.press("ctrl+g")


async def test_the_app_on_a_server_generates_magpie_samples_with_the_url_recorded(app_store, prompts, backend):
    with serve(StubServer()) as server:
        app = server_app(app_store, prompts, backend, server.url, concurrency=4)
        async with app.run_test(size=(120, 36)) as pilot:
            await magpie_run(pilot, samples=12)
            status = shown_text(app, "#model-status")
            assert STUB_MODEL in status and server.url in status and "/props" in status  # the template's origin
            await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), timeout=30, what="the run")
            assert "12 stored" in shown_text(app, "#stage") and shown_text(app, "#progress") == "12/12 100%"
            assert "── Magpie · turn 1 · assistant ──" in app.main_screen.output.stream.text
    samples = app_store.list_samples()
    [run] = app_store.list_runs()
    assert len(samples) == 12 and {s["sample_index"] for s in samples} == set(range(12))
    assert run["status"] == "finished" and run["model"]["servers"] == [server.url] and run["model"]["concurrency"] == 4
    for sample in samples:  # each turn is the server's text for the seed its call sent, and says which server
        assert [c["server"] for c in sample["calls"]] == [server.url, server.url]
        assert [m["content"] for m in sample["conversation"]] == [canned_text(c["seed"], 24) for c in sample["calls"]]


async def test_escape_closes_the_open_requests_and_keeps_finished_samples(app_store, prompts, backend):
    stub = PacedStub(answered=6)  # four questions and two answers, then the server hangs
    with serve(stub) as server:
        app = server_app(app_store, prompts, backend, server.url, concurrency=4)
        async with app.run_test(size=(120, 36)) as pilot:
            await magpie_run(pilot, samples=20)
            await wait_for(pilot, lambda: stub.asked >= 6 + 4 and app.model.in_flight == 4, timeout=20,
                           what="four requests hanging")
            # The progress line: rows done of the total, then what the CLI's shows.
            await wait_for(pilot, lambda: "in flight 4" in shown_text(app, "#run-stats"), what="the progress line")
            line = shown_text(app, "#run-stats")
            assert re.match(r"\d+/20 · in flight 4 · stored \d+ · failed 0 · [\d.]+ tok/s · \d+ samples/min · ETA \d+:\d\d", line)
            await pilot.press("escape")
            # The requests hang for an hour: the run ends because they are closed (how soon: `smolgen bench
            # server --parts cancel`, as a timed test would fail on a busy machine).
            await wait_for(pilot, lambda: not app.running and app.model.in_flight == 0, timeout=30, what="the run to stop")
            await wait_for(pilot, lambda: "Cancelled" in shown_text(app, "#stage"))
            assert "samples in progress were discarded" in shown_text(app, "#stage")
    [run] = app_store.list_runs()
    assert run["status"] == "cancelled"
    stored = run["summary"]["stored"]
    assert len(app_store.list_samples()) == stored >= 1
    assert run["summary"]["rows_left"] == 20 - stored


async def test_the_bracket_keys_move_the_stream_to_another_sample_in_flight(app_store, prompts, backend):
    seen: list[object] = []
    with serve(PacedStub(seconds=1.0)) as server:
        app = server_app(app_store, prompts, backend, server.url, concurrency=3)
        async with app.run_test(size=(120, 36), message_hook=seen.append) as pilot:
            await magpie_run(pilot, samples=3)  # one a row: each asks (a second), then answers (another)
            await wait_for(pilot, lambda: "turn 1 · user" in shown_text(app, "#stage"), timeout=20, what="a first call")
            watch = app._run_observer.watch
            await wait_for(pilot, lambda: app.model.in_flight == 3, what="three rows in flight")
            before = watch.watched_row
            pressed_at = len(seen)
            await pilot.press("]")
            chosen = watch.watched_row
            assert chosen != before
            assert f"sample {chosen + 1}" in shown_text(app, "#stage")
            assert "next model call" in app.main_screen.output.stream.text
            await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), timeout=30, what="the run")
    after = seen[pressed_at:]
    stages = [i for i, m in enumerate(after) if isinstance(m, StageStarted)]
    first, following = stages[0], (stages[1] if len(stages) > 1 else len(after))
    assert after[first].row == chosen  # the oldest row's next call did not take the stream back
    streamed = "".join(m.text for m in after[first:following] if isinstance(m, TextStreamed))
    [sample] = [s for s in app_store.list_samples() if s["sample_index"] == chosen]
    assert streamed == sample["conversation"][1]["content"]  # its answer, streamed after its question came whole


def test_smolgen_server_flags_open_the_app_on_servers(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("tui.app.app.run_app", lambda store, request, *_: calls.append(request) or 0)
    template = tmp_path / "chatml.jinja"
    template.write_text("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
    monkeypatch.setenv("MY_KEY", "sk-secret")
    assert cli.main(["--server", "http://a:8000/v1/", "--server", "http://b:8000/v1", "--server-model", "m",
                     "--api-key-env", "MY_KEY", "--concurrency", "16", "--chat-template", str(template)]) == 0
    assert cli.main(["app", "--local-server", "3"]) == 0
    assert cli.main(["--local-server"]) == 0
    assert cli.main([]) == 0
    servers, local, default_slots, in_process = calls
    assert servers.servers == ServerSettings(["http://a:8000/v1", "http://b:8000/v1"], "m", "MY_KEY", 16, chat_template=template)
    assert servers.local_slots is None
    assert (local.servers.urls, local.local_slots, local.servers.concurrency) == ([], 3, 3)
    assert default_slots.local_slots >= 1
    assert not in_process.on_servers


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--server", "http://127.0.0.1:9/v1", "--concurrency", "0"], "--concurrency 0"),
        (["--server", "http://127.0.0.1:9/v1", "--model", "x.gguf"], "--server and --model"),
        (["--server", "ftp://somewhere"], "--server ftp://somewhere"),
        (["app", "--server", "http://127.0.0.1:9/v1", "--api-key-env", "SMOLGEN_SURELY_UNSET"], "--api-key-env SMOLGEN_SURELY_UNSET"),
        (["--concurrency", "4"], "only with --server"),
        (["--local-server", "-2"], "--local-server -2"),
        (["--server", "http://127.0.0.1:9/v1", "--chat-template", "missing.jinja"], "--chat-template missing.jinja"),
    ],
)
def test_bad_server_flags_are_one_line_before_the_app_opens(monkeypatch, tmp_path, flags, expected):
    opened = []
    monkeypatch.setattr("tui.app.app.run_app", lambda *args: opened.append(args) or 0)
    result = run_cli(*flags, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and expected in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "smolgen.json").exists() and opened == []


async def test_a_server_that_cannot_be_reached_is_shown_as_a_model_that_did_not_load(app_store, prompts, backend):
    from tui.engine.server.local import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    app = server_app(app_store, prompts, backend, url)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model_error is not None, timeout=20, what="the connection to fail")
        status = shown_text(app, "#model-status")
        assert status.startswith("No model: --server " + url) and "cannot connect" in status
        assert any("cannot connect" in text for text in notifications(app))


async def test_the_pipeline_tab_runs_on_the_server_with_rows_in_flight(app_store, prompts, backend):
    from tests.app.test_app_pipeline import load_builtin, pipeline_tab

    stub = StubServer()
    with serve(stub) as server:
        app = server_app(app_store, prompts, backend, server.url, concurrency=3)
        async with app.run_test(size=(100, 40)) as pilot:
            tab = await pipeline_tab(pilot)
            await load_builtin(pilot, tab, "chapter")
            app.main_screen.query_one("#run-num").value = "6"
            await pilot.pause()
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: "Finished" in shown_text(app, "#pipeline-status"), timeout=30, what="the run")
    samples = app_store.list_samples()
    assert len(samples) == 6 and all(s["pipeline"] == "chapter" for s in samples)
    assert stub.requests == 12  # an instruction and a response per row, both from the server
    assert all(re.fullmatch(r"How do \w+ \d+ work [w\d ]*\?", s[part]) for s in samples for part in ("instruction", "response"))


# The model picker's Server tab ------------------------------------------------------------------------


class ScriptedGgufBackend(LlamaBackend):
    """The scripted model for a GGUF (no llama.cpp), real connections for servers."""

    def __init__(self) -> None:
        super().__init__()
        self.scripted = FakeBackend()

    def inspect(self, path):
        return self.scripted.inspect(path)

    def load(self, request, on_progress=None, on_event=None):
        if request.on_servers:
            return super().load(request, on_progress, on_event)
        self.close()
        return self.scripted.load(request, on_progress)


class SurveyedBackend(FakeBackend):
    """The scripted model, and servers whose offer is canned (a snapshot shows no port)."""

    def survey(self, settings):
        return [{"url": url, "models": ["HuggingFaceTB/SmolLM2-1.7B-Instruct"], "chat_template": None,
                 "chat_template_source": None} for url in settings.urls]


async def server_tab(pilot, urls: str, **fields: str) -> None:
    """Open the model picker on its Server tab and fill it: the URLs, then other fields by id suffix."""
    await wait_for(pilot, lambda: pilot.app.model is not None, what="the model")
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelPickerScreen), what="the picker")
    await pilot.press("ctrl+s")
    picker = pilot.app.screen
    picker.query_one("#server-urls", Input).value = urls
    for name, value in fields.items():
        picker.query_one(f"#server-{name.replace('_', '-')}", Input).value = value
    await pilot.pause()


def found_text(pilot) -> str:
    return str(pilot.app.screen.query_one("#server-found").render())


async def test_the_server_tab_lists_the_models_connects_and_switches_the_app(app_store, prompts):
    backend = ScriptedGgufBackend()
    stub = StubServer()
    with serve(stub) as server:
        app = SmolgenApp(app_store, prompts, backend, cursor_blink=False)
        try:
            async with app.run_test(size=(120, 36)) as pilot:
                await server_tab(pilot, server.url, concurrency="3")
                picker = app.screen
                await wait_for(pilot, lambda: picker.query_one("#server-model", Select).value == STUB_MODEL, timeout=10,
                               what="the model listed by the server")
                assert f"{server.url}: {STUB_MODEL} · chat template from" in found_text(pilot)
                await pilot.press("enter")
                await wait_for(pilot, lambda: getattr(app.model, "model_name", None) == STUB_MODEL, timeout=10,
                               what="the app on the server")
                assert app.screen is app.main_screen
                assert server.url in shown_text(app, "#model-status")
                assert app.model_request.servers.concurrency == 3 and app.model_request.servers.urls == [server.url]
                await magpie_run(pilot, samples=3)
                await wait_for(pilot, lambda: "Finished" in shown_text(app, "#stage"), timeout=20, what="the run")
                await pilot.press("ctrl+o")  # the picker opens where the app is: on the Server tab, as it was filled
                await wait_for(pilot, lambda: isinstance(app.screen, ModelPickerScreen), what="the picker")
                assert app.screen.query_one(TabbedContent).active == "server"
                assert app.screen.query_one("#server-urls", Input).value == server.url
        finally:
            backend.close()
    assert stub.requests == 6
    assert {c["server"] for s in app_store.list_samples() for c in s["calls"]} == {server.url}


async def test_the_server_tab_names_what_is_wrong_and_stays_open(app_store, prompts):
    from tui.engine.server.local import free_port

    backend = ScriptedGgufBackend()
    dead = f"http://127.0.0.1:{free_port()}/v1"
    app = SmolgenApp(app_store, prompts, backend, cursor_blink=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await server_tab(pilot, dead)
        await wait_for(pilot, lambda: "cannot connect" in found_text(pilot), timeout=10, what="the survey's problem")
        assert found_text(pilot).startswith(f"Server URLs {dead}: ")  # the field, not the --server flag
        app.screen.query_one("#server-concurrency", Input).value = "0"
        app.screen.query_one("#server-urls", Input).focus()
        await pilot.press("enter")
        assert found_text(pilot) == "Concurrency 0: must be at least 1"  # the field's label, not --concurrency
        app.screen.query_one("#server-concurrency", Input).value = ""
        app.screen.query_one("#server-chat-template", Input).value = "missing.jinja"
        app.screen.query_one("#server-urls", Input).focus()
        await pilot.press("enter")
        assert found_text(pilot) == "Chat template missing.jinja: no such file"  # not --chat-template
        assert isinstance(app.screen, ModelPickerScreen) and not app.model_request.on_servers


async def test_reconnecting_on_the_server_tab_keeps_the_timeout_and_retries_of_the_flags_it_has_no_field_for(app_store, prompts,
                                                                                                             monkeypatch):
    backend = ScriptedGgufBackend()
    started = []
    monkeypatch.setattr("tui.app.app.run_app", lambda store, request, *_: started.append(request) or 0)
    try:
        with serve(StubServer()) as server:
            assert cli.main(["--server", server.url, "--timeout", "30", "--max-retries", "0"]) == 0
            app = SmolgenApp(app_store, prompts, backend, started[0], cursor_blink=False)
            async with app.run_test(size=(120, 36)) as pilot:
                await server_tab(pilot, server.url, concurrency="2")  # the tab, filled in from the flags, one field changed
                app.screen.query_one("#server-urls", Input).focus()
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.model is not None and app.model_request.servers.concurrency == 2, timeout=10,
                               what="the app on the server again")
                reopened = app.model_request.servers
    finally:
        backend.close()
    assert (reopened.timeout, reopened.max_retries) == (30, 0)


class RestartedStub(StubServer):
    """The stub, restarted since with another model."""

    async def handle(self, method: str, target: str, body: bytes) -> Answer:
        if method == "GET" and target.split("?", 1)[0].rstrip("/") == "/v1/models":
            return Answer(200, b'{"object": "list", "data": [{"id": "other-model", "object": "model"}]}')
        return await super().handle(method, target, body)


async def start_again(app_store, prompts, backend, monkeypatch) -> tuple[SmolgenApp, str]:
    """The next start with no flags (`smolgen` alone): the app it opens, once its model is open or has failed,
    and the model status it shows then."""
    started = []
    monkeypatch.setattr("tui.app.app.run_app", lambda store, request, *_: started.append(request) or 0)
    assert cli.main([]) == 0
    again = SmolgenApp(app_store, prompts, backend, started[0], cursor_blink=False)
    async with again.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: again.model is not None or again.model_error is not None, timeout=20, what="the model")
        return again, shown_text(again, "#model-status")


async def test_servers_the_server_tab_chose_are_named_by_its_fields_when_the_next_start_cannot_reopen_them(app_store, prompts,
                                                                                                           monkeypatch):
    backend = ScriptedGgufBackend()
    try:
        with serve(StubServer()) as server:
            app = SmolgenApp(app_store, prompts, backend, cursor_blink=False)
            async with app.run_test(size=(120, 36)) as pilot:
                await server_tab(pilot, server.url)
                await wait_for(pilot, lambda: app.screen.query_one("#server-model", Select).value == STUB_MODEL, timeout=10,
                               what="the model listed by the server")
                await pilot.press("enter")
                await wait_for(pilot, lambda: getattr(app.model, "model_name", None) == STUB_MODEL, timeout=10, what="the server")
                await pilot.press("ctrl+q")  # the servers are remembered for the next start
        with ServerThread(RestartedStub().handle, port=server.port):  # the next start reopens what the Server tab chose
            again, status = await start_again(app_store, prompts, backend, monkeypatch)
    finally:
        backend.close()
    # The Server tab's field, which ctrl+o shows filled in, not the --server-model flag nobody typed.
    assert again.model is None and status.startswith(f"No model: Model {STUB_MODEL}: {server.url} does not have it"), status


SECRET = "sk-remembered-never-0123456789"


async def quit_and_start_again(app_store, prompts, monkeypatch, template: Path, key_set_again: bool) -> tuple[str, SmolgenApp, str]:
    """A first start where the Server tab names a server that needs a key (by its variable), a concurrency
    and `template`, connects and quits; then the next start, with no flags (and, unless `key_set_again`,
    the variable unset), until the server answers or fails. The state file as the quit left it, the app
    of the next start and its model status then."""
    monkeypatch.setenv("REMEMBERED_KEY", SECRET)
    template.write_text(STUB_CHAT_TEMPLATE, encoding="utf-8")
    backend = ScriptedGgufBackend()
    try:
        with serve(StubServer(key=SECRET)) as server:
            app = SmolgenApp(app_store, prompts, backend, cursor_blink=False)
            async with app.run_test(size=(120, 36)) as pilot:
                await server_tab(pilot, server.url, key_env="REMEMBERED_KEY", concurrency="3", chat_template=str(template))
                await wait_for(pilot, lambda: app.screen.query_one("#server-model", Select).value == STUB_MODEL, timeout=10,
                               what="the model listed by the server")
                await pilot.press("enter")
                await wait_for(pilot, lambda: getattr(app.model, "model_name", None) == STUB_MODEL, timeout=10, what="the server")
                await pilot.press("ctrl+q")
            kept = state_path().read_text(encoding="utf-8")
            if not key_set_again:
                monkeypatch.delenv("REMEMBERED_KEY")  # a new shell, without the export
            again, status = await start_again(app_store, prompts, backend, monkeypatch)
    finally:
        backend.close()
    return kept, again, status


async def test_the_next_start_reopens_the_server_tabs_servers_with_its_key_variable_concurrency_and_chat_template(
        app_store, prompts, monkeypatch, tmp_path):
    template = tmp_path / "chatml.jinja"
    kept, again, status = await quit_and_start_again(app_store, prompts, monkeypatch, template, key_set_again=True)
    assert SECRET not in kept and "REMEMBERED_KEY" in kept  # the variable's name, never the key
    assert again.model_error is None, status  # not refused for want of the key (401)
    reopened = again.model_request.servers
    assert (reopened.api_key_env, reopened.concurrency, reopened.chat_template) == ("REMEMBERED_KEY", 3, template)
    assert again.model.template_origin == template.name  # the template file, not the server's


async def test_a_remembered_key_variable_unset_at_the_next_start_is_named_by_the_server_tabs_field_not_sent_without(
        app_store, prompts, monkeypatch, tmp_path):
    _, again, status = await quit_and_start_again(app_store, prompts, monkeypatch, tmp_path / "chatml.jinja", key_set_again=False)
    # The app opens (no traceback, no exit) and says why it has no model, as the tab does: not a 401 from a keyless request.
    assert again.model is None
    assert status == "No model: API key env REMEMBERED_KEY: that environment variable is not set · ctrl+o opens another", status


async def test_a_remembered_chat_template_gone_at_the_next_start_opens_the_app_and_names_the_server_tabs_field(
        app_store, prompts, monkeypatch, tmp_path):
    """Else `smolgen` alone would refuse to start, on a file nobody named at this start, until a flag opened something else."""
    gone = tmp_path / "gone.jinja"
    save_app_state(AppState(model=RememberedModel(servers=["http://127.0.0.1:9/v1"], from_server_tab=True, chat_template=str(gone))))
    backend = ScriptedGgufBackend()
    try:
        app, status = await start_again(app_store, prompts, backend, monkeypatch)
    finally:
        backend.close()
    assert app.model is None and app.model_error == f"Chat template {gone}: no such file"
    assert status.startswith("No model: Chat template "), status


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_server_tab_snapshot(snap_compare, app_store, prompts, monkeypatch, size):
    monkeypatch.setenv("VLLM_KEY", "never-shown")

    async def filled(pilot):
        await server_tab(pilot, "http://gpu-box:8000/v1", key_env="VLLM_KEY", concurrency="32")
        await wait_for(pilot, lambda: "SmolLM2-1.7B" in found_text(pilot), what="the canned survey")
        await pilot.pause()

    app = SmolgenApp(app_store, prompts, SurveyedBackend(), cursor_blink=False)
    assert snap_compare(app, terminal_size=size, run_before=filled)


@pytest.mark.model
async def test_the_server_tab_starts_a_local_llama_server_and_stops_it_with_the_app(app_store, prompts):
    import httpx

    from tui.engine.server.local import find_llama_server

    try:
        find_llama_server()
    except Exception:
        pytest.skip("llama-server is not built here (make server)")
    backend = ScriptedGgufBackend()
    app = SmolgenApp(app_store, prompts, backend, cursor_blink=False)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await server_tab(pilot, "", slots="2")
            app.screen.query_one("#server-local", Checkbox).value = True
            app.screen.query_one("#server-slots", Input).focus()
            await pilot.press("enter")
            assert "Starting llama-server with 2 slots" in shown_text(app, "#model-status")
            await wait_for(pilot, lambda: app.model is not None or app.model_error is not None, timeout=120, what="llama-server")
            assert app.model_error is None
            url = app.model.pool.endpoints[0].url
            assert url.startswith("http://127.0.0.1:") and ".gguf on " + url in shown_text(app, "#model-status")
            assert app.model.settings.concurrency == 2
    finally:
        backend.close()
    with pytest.raises(httpx.ConnectError):  # no orphan server once the app let it go
        httpx.get(url.removesuffix("/v1") + "/health", timeout=2)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_a_real_terminal_smolgen_server_generates_and_the_stream_moves(tmp_path):
    from tests.app.test_e2e_tmux import show_magpie_tab
    from tui.bench.tmux import Terminal

    store_path = tmp_path / "smolgen.json"
    released = threading.Event()
    with serve(PacedStub(held=released)) as server:  # no call ends before ] is seen: its note stays until the row's next call
        command = [sys.executable, "-m", "tui", "--store", str(store_path), "--prompts", str(tmp_path / "prompts"),
                   "--server", server.url, "--concurrency", "3"]
        terminal = Terminal(command, cwd=tmp_path, width=120, height=36)
        try:
            terminal.wait_for(f"{STUB_MODEL} on {server.url}")  # the status bar: the model and its server
            show_magpie_tab(terminal, samples=3)
            terminal.keys("C-g")
            terminal.wait_for("sample 1 · Magpie · turn 1 · user")
            terminal.wait_for("in flight 3 · ")  # every row has started: there is a next one to move to
            terminal.keys("F4")  # to the output pane: out of every text field, where ] would be typed
            for _press in range(3):  # a key can be lost on a loaded machine, as a person's can: press again
                terminal.keys("]")  # the next sample in flight
                try:
                    terminal.wait_for("its text shows from its next model call", timeout=5)
                    break
                except BadInput:
                    continue
            else:
                raise AssertionError("] never moved the stream to another sample in flight")
            released.set()
            terminal.wait_for("Finished · 3 stored", timeout=60)
            pid = terminal.pane_pid()
            terminal.keys("C-q")
            terminal.wait_exited(pid, timeout=10)
        finally:
            released.set()
            terminal.close()
    with SampleStore(store_path) as store:
        samples = store.list_samples()
    assert len(samples) == 3 and {c["server"] for s in samples for c in s["calls"]} == {server.url}


async def test_every_server_down_stops_the_run_with_the_reason_and_keeps_what_was_stored(app_store, prompts, backend):
    server = serve(PacedStub(seconds=0.1)).__enter__()
    app = server_app(app_store, prompts, backend, server.url, concurrency=2)
    async with app.run_test(size=(120, 36)) as pilot:
        await magpie_run(pilot, samples=1000)
        app.model.pool.halt_after = 0.5  # not the quarter of a minute a real run gives the servers
        await wait_for(pilot, lambda: len(app_store.list_samples()) >= 2, timeout=20, what="two samples")
        server.__exit__(None, None, None)
        await wait_for(pilot, lambda: not app.running, timeout=30, what="the run to halt")
        await wait_for(pilot, lambda: "every server is down" in shown_text(app, "#stage"), what="the reason")
        assert any("Run stopped: every server is down" in text for text in notifications(app))
    [run] = app_store.list_runs()
    assert run["status"] == "halted" and run["summary"]["stored"] == len(app_store.list_samples()) >= 2
