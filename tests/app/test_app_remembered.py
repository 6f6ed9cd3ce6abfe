"""The app remembers, from one start to the next, each technique's settings (system prompts included), the
number of samples, the model open and the theme; f9 puts the tab shown back to its defaults. Each test has
its own config folder (tests/conftest.py), so nothing is carried over from another test."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Checkbox, Input

from tests.app.conftest import make_app, wait_for
from tests.app.fake_backend import FakeBackend
from tui import cli
from tui.app.backend import ModelRequest
from tui.engine.app_state import AppState, RememberedModel, save_app_state, state_path
from tui.engine.server.settings import DEFAULT_CONCURRENCY, SERVER_FLAGS, SERVER_TAB_FIELDS


def field(app, technique: str, key: str):
    return app.main_screen.query_one(f"#{technique}--{key}")


async def show_magpie(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.model is not None, what="the model")  # not loading while the test ends
    app.action_show_technique("magpie")
    await wait_for(pilot, lambda: bool(app.main_screen.query("#magpie--n_turns")), what="the Magpie form")


async def test_settings_are_kept_at_quit_and_back_at_the_next_start(tmp_path, app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await show_magpie(pilot)
        field(app, "magpie", "n_turns").value = "3"
        field(app, "magpie", "end_with_user").value = True
        field(app, "magpie", "system").load_text("You are an AI assistant who helps users solve math problems.")
        app.main_screen.query_one("#run-num", Input).value = "12"
        app.theme = "nord"
        app.open_model(ModelRequest(tmp_path / "chat.gguf"))
        await wait_for(pilot, lambda: app.model is not None, what="the other model")
        await pilot.press("ctrl+q")
    kept = json.loads(state_path().read_text(encoding="utf-8"))
    assert kept["model"]["path"] == str(tmp_path / "chat.gguf") and kept["theme"] == "nord"

    again = make_app(app_store, prompts, FakeBackend())
    async with again.run_test(size=(120, 36)) as pilot:
        await show_magpie(pilot)
        assert field(again, "magpie", "n_turns").value == "3"
        assert field(again, "magpie", "end_with_user").value is True
        assert field(again, "magpie", "system").text == "You are an AI assistant who helps users solve math problems."
        assert again.main_screen.query_one("#run-num", Input).value == "12"
        assert again.theme == "nord"
        assert again.main_screen.technique.current_tab().technique().settings.n_turns == 3  # what a run uses


async def test_f9_puts_the_tab_shown_back_to_its_defaults(app_store, prompts):
    save_app_state(AppState(techniques={"magpie": {"n_turns": "4", "end_with_user": True}, "text": {"sampling--temperature": "1.3"}}))
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await show_magpie(pilot)
        defaults = app.main_screen.technique.current_tab().default_values
        assert field(app, "magpie", "n_turns").value == "4"
        await pilot.press("f9")
        assert field(app, "magpie", "n_turns").value == defaults["n_turns"]
        assert field(app, "magpie", "end_with_user").value is defaults["end_with_user"]
        await pilot.press("ctrl+q")
    kept = json.loads(state_path().read_text(encoding="utf-8"))
    assert "magpie" not in kept["techniques"]  # nothing differs from the defaults any more
    assert kept["techniques"]["text"] == {"sampling--temperature": "1.3"}  # a tab never shown keeps what it had


async def test_a_remembered_value_a_field_cannot_hold_is_left_for_the_default(app_store, prompts):
    save_app_state(AppState(techniques={"magpie": {"end_with_user": "yes", "n_turns": "2"}, "text": {"template": "gone-template"}}))
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await show_magpie(pilot)
        assert isinstance(field(app, "magpie", "end_with_user"), Checkbox)
        assert field(app, "magpie", "end_with_user").value is False and field(app, "magpie", "n_turns").value == "2"


def test_the_app_opens_the_model_it_had_open_unless_one_is_named(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("tui.app.app.run_app", lambda store, request, *_: calls.append(request) or 0)
    last = tmp_path / "last.gguf"
    last.write_bytes(b"GGUF")
    save_app_state(AppState(model=RememberedModel(path=str(last))))
    assert cli.main([]) == 0 and calls[-1].path == last
    assert cli.main(["--model", "other.gguf"]) == 0 and calls[-1].path == Path("other.gguf")
    last.unlink()  # gone since: the embedded model
    assert cli.main([]) == 0 and calls[-1].path is None
    save_app_state(AppState(model=RememberedModel(servers=["http://127.0.0.1:8080/v1"], server_model="qwen")))
    assert cli.main([]) == 0 and calls[-1].servers.urls == ["http://127.0.0.1:8080/v1"] and calls[-1].servers.model == "qwen"
    assert calls[-1].servers.names == SERVER_FLAGS  # given by flag when last open: bad input names the flags
    save_app_state(AppState(model=RememberedModel(servers=["http://127.0.0.1:8080/v1"], server_model="qwen", from_server_tab=True)))
    assert cli.main(["--server-model", "llama"]) == 0  # a model typed now wins over the remembered one, named as typed
    servers = calls[-1].servers
    # The rest as the tab chose it (no key): a refused request says to fill in its field.
    assert (servers.model, servers.names.server, servers.names.model, servers.names.key) == ("llama", "Server URLs", "--server-model",
                                                                                            "API key env")


def test_flags_at_the_next_start_win_over_the_server_settings_the_tab_chose_and_are_named_as_typed(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("tui.app.app.run_app", lambda store, request, *_: calls.append(request) or 0)
    monkeypatch.setenv("TAB_KEY", "sk-tab")
    monkeypatch.setenv("FLAG_KEY", "sk-flag")
    template = tmp_path / "chat.jinja"
    template.write_text("{% for m in messages %}{{ m.content }}{% endfor %}", encoding="utf-8")
    save_app_state(AppState(model=RememberedModel(servers=["http://127.0.0.1:8080/v1"], server_model="qwen", from_server_tab=True,
                                                  api_key_env="TAB_KEY", concurrency=3, chat_template=str(template))))
    assert cli.main([]) == 0
    servers = calls[-1].servers
    assert (servers.api_key_env, servers.concurrency, servers.chat_template) == ("TAB_KEY", 3, template)
    assert servers.names == SERVER_TAB_FIELDS  # each remembered setting named by the tab's field
    assert cli.main(["--api-key-env", "FLAG_KEY", "--concurrency", "5"]) == 0
    servers = calls[-1].servers
    assert (servers.api_key_env, servers.concurrency, servers.chat_template) == ("FLAG_KEY", 5, template)
    assert (servers.names.key, servers.names.concurrency, servers.names.chat_template) == ("--api-key-env", "--concurrency",
                                                                                          "Chat template")


def test_bad_input_names_each_reopened_server_setting_by_where_it_came_from(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr("tui.app.app.run_app", lambda store, request, *_: calls.append(request) or 0)
    gone = tmp_path / "gone.jinja"
    save_app_state(AppState(model=RememberedModel(servers=["http://127.0.0.1:8080/v1"], from_server_tab=True, concurrency=3,
                                                  chat_template=str(gone))))
    assert cli.main(["--timeout", "5"]) == 2  # a server flag typed now: the servers are checked before the app opens
    assert capsys.readouterr().err == f"smolgen: Chat template {gone}: no such file\n"  # the tab's field, not --chat-template
    assert not calls
    assert cli.main([]) == 0  # nothing typed: the app opens all the same, and connecting names the file
    assert calls[-1].servers.chat_template == gone and calls[-1].servers.names == SERVER_TAB_FIELDS
    assert cli.main(["--concurrency", "0"]) == 2
    assert capsys.readouterr().err == "smolgen: --concurrency 0: must be at least 1\n"  # typed now: the flag
    monkeypatch.delenv("UNSET_KEY", raising=False)
    assert cli.main(["--api-key-env", "UNSET_KEY"]) == 2  # a key variable typed now is checked before the app opens
    assert capsys.readouterr().err == "smolgen: --api-key-env UNSET_KEY: that environment variable is not set\n"


def test_a_state_file_from_before_the_servers_settings_were_kept_reopens_them_with_the_defaults(monkeypatch):
    calls = []
    monkeypatch.setattr("tui.app.app.run_app", lambda store, request, *_: calls.append(request) or 0)
    state_path().parent.mkdir(parents=True, exist_ok=True)
    state_path().write_text(json.dumps({"format": 1, "model": {"path": None, "servers": ["http://127.0.0.1:8080/v1"],
                                                               "server_model": "qwen", "from_server_tab": True}}), encoding="utf-8")
    assert cli.main([]) == 0
    servers = calls[-1].servers
    assert (servers.urls, servers.model) == (["http://127.0.0.1:8080/v1"], "qwen")
    assert (servers.api_key_env, servers.concurrency, servers.chat_template) == (None, DEFAULT_CONCURRENCY, None)


def test_a_state_file_that_cannot_be_read_is_forgotten():
    from tui.engine.app_state import load_app_state

    state_path().parent.mkdir(parents=True, exist_ok=True)
    state_path().write_text("{half a file", encoding="utf-8")
    assert load_app_state() == AppState()


def test_a_state_file_from_a_later_smolgen_keeps_what_this_one_knows_of_the_last_model():
    """A key a later version adds to the model is left out; the servers, the techniques and the theme stay."""
    from tui.engine.app_state import load_app_state

    state_path().parent.mkdir(parents=True, exist_ok=True)
    state_path().write_text(json.dumps({"format": 1, "techniques": {"magpie": {"n_turns": "3"}}, "theme": "nord", "model": {
        "servers": ["http://127.0.0.1:8080/v1"], "server_model": "qwen", "a_later_setting": 7}}), encoding="utf-8")
    kept = load_app_state()
    assert kept.model == RememberedModel(servers=["http://127.0.0.1:8080/v1"], server_model="qwen")
    assert (kept.techniques, kept.theme) == ({"magpie": {"n_turns": "3"}}, "nord")
