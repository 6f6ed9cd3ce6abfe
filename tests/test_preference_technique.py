"""`generate preference`: K responses per instruction from models, system prompts or temperatures taken in turn,
each judged; the pair is the best against the worst, a tie or a failed judgement kept with its reason."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, run_smolgen
from tests.scripted_model import ScriptedModel
from tui.engine.errors import BadInput
from tui.engine.judge import ATTEMPTS
from tui.engine.prompts import PromptLibrary
from tui.engine.runner import run_generation
from tui.engine.store import SampleStore
from tui.engine.techniques.base import SystemPrompts
from tui.engine.techniques.preference import Preference, PreferenceSettings, instruction_rows


def rated(score: int) -> str:
    return json.dumps({"rating": score, "rationale": "Because."})


def _run(store, judge_outputs, rows, responders=None, **settings):
    judge_model = ScriptedModel(judge_outputs)
    technique = Preference(PreferenceSettings(**settings), responders)
    summary = run_generation(technique, store, judge_model, PromptLibrary(), len(rows), 7, rows)
    return summary, judge_model, store.list_samples(technique="preference")


def test_the_best_rated_response_is_chosen_over_the_worst_and_each_records_what_made_it(store):
    _, judge_model, [sample] = _run(store, ["Paris.", "Lyon, I think.", "It is Paris, on the Seine.", rated(4), rated(1), rated(5)],
                                    [{"text": "What is the capital of France?"}], responses=3, temperatures=(0.2, 1.0, 1.4),
                                    system=SystemPrompts(["You are terse."]))
    assert sample["prompt"] == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is the capital of France?"}]
    assert [r["content"] for r in sample["responses"]] == ["Paris.", "Lyon, I think.", "It is Paris, on the Seine."]
    assert [r["temperature"] for r in sample["responses"]] == [0.2, 1.0, 1.4]
    assert [r["rating"]["rating"] for r in sample["responses"]] == [4, 1, 5]
    assert (sample["chosen"], sample["rejected"], sample["margin"], sample["decided_by"]) == (2, 1, 4, "judge")
    assert [s.temperature for s in judge_model.samplings[:3]] == [0.2, 1.0, 1.4]
    assert all("Lyon, I think." in p for p in judge_model.prompts[4:5])  # the judge rated each response in turn


def test_equal_ratings_store_no_pair_and_say_why(store):
    summary, _, [sample] = _run(store, ["A.", "B.", rated(3), rated(3)], [{"text": "Say a letter."}])
    assert sample["chosen"] is None and sample["skipped"] == {"reason": "tie", "message": "every rated response scored 3"}
    assert summary.stored == 1 and sample["status"] == "new"  # a person can still pick one on the compare screen


def test_a_response_the_judge_cannot_rate_is_left_out_and_kept_with_the_reason(store):
    _, _, [sample] = _run(store, ["A.", "B.", "C.", *["not json"] * ATTEMPTS, rated(2), rated(4)], [{"text": "Q?"}], responses=3)
    first = sample["responses"][0]["rating"]
    assert first["rating"] is None and "no usable answer in 3 tries" in first["failure"]
    assert (sample["chosen"], sample["rejected"], sample["margin"]) == (2, 1, 2)


def test_a_response_cut_off_by_the_token_cap_says_so(store):
    _, _, [sample] = _run(store, [("It goes on and", "length"), "Done.", rated(2), rated(4)], [{"text": "Q?"}])
    assert [r["truncated"] for r in sample["responses"]] == [True, False] and sample["flags"] == ["truncated"]


def test_an_empty_response_is_not_judged_and_makes_no_pair_alone(store):
    _, judge_model, [sample] = _run(store, ["", "B.", rated(4)], [{"text": "Q?"}])
    assert sample["responses"][0]["failure"] == "the model wrote an empty response" and sample["responses"][0]["rating"] is None
    assert sample["skipped"]["reason"] == "unrated" and not judge_model.outputs


def test_several_models_and_system_prompts_take_turns_and_a_differing_system_prompt_stays_out_of_the_prompt(store):
    first, second = ScriptedModel(["From A.", "From A again."]), ScriptedModel(["From B."])
    first.label, second.label = "model A", "model B"
    _, judge_model, [sample] = _run(store, [rated(2), rated(5), rated(3)], [{"text": "Q?"}], responders=[first, second],
                                    responses=3, system=SystemPrompts(["Be brief.", "Be thorough."]))
    assert [(r["model"], r["system_prompt"], r["content"]) for r in sample["responses"]] == [
        ("model A", "Be brief.", "From A."), ("model B", "Be thorough.", "From B."), ("model A", "Be brief.", "From A again.")]
    assert sample["prompt"] == [{"role": "user", "content": "Q?"}]
    assert (sample["chosen"], sample["rejected"]) == (1, 0)
    assert len(judge_model.prompts) == 3  # the judge only judged


@pytest.mark.parametrize("settings, message", [
    ({"responses": 1}, "responses=1: must be between 2 and 4"),
    ({"responses": 5}, "responses=5: must be between 2 and 4"),
    ({"temperatures": (0.2, 0.5, 0.9)}, "--temperatures: 3 temperatures for 2 responses (--responses)"),
    ({"temperatures": (9.0,)}, "--temperatures 9: must be between 0 and 5"),
])
def test_settings_out_of_range_are_refused(settings, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        Preference(PreferenceSettings(**settings))


@pytest.mark.parametrize("flags, message", [
    (["--responses", "1"], "smolgen: --responses 1: must be between 2 and 4"),
    (["--responses", "5"], "smolgen: --responses 5: must be between 2 and 4"),
    (["--temperatures", "0.2,hot"], "smolgen: --temperatures 0.2,hot: expected numbers separated by commas, e.g. 0.3,1.2"),
    (["--response-model", "missing.gguf"], "smolgen: missing.gguf"),
    # The settings' checks together name the flags (a pipeline step names its keys).
    (["--temperatures", "9"], "smolgen: --temperatures 9: must be between 0 and 5"),
    (["--temperatures", "0.2,0.5,0.9"], "smolgen: --temperatures: 3 temperatures for 2 responses (--responses)"),
    (["--system", "A", "--system", "B", "--system", "C"], "smolgen: --system: 3 system prompts for 2 responses (--responses)"),
    (["--system", "A", "--system-weights", "1"],
     "smolgen: --system-weights: preference gives the --system prompts to the responses in turn, not by weight"),
])
def test_bad_flags_are_one_line_and_exit_2_with_the_store_untouched(tmp_path, flags, message):
    (tmp_path / "seeds.txt").write_text("What is DPO?\n", encoding="utf-8")
    result = run_cli("generate", "preference", "--seeds", "seeds.txt", *flags, cwd=tmp_path)
    [line] = result.stderr.strip().splitlines()
    assert result.returncode == 2 and line.startswith(message)
    assert not (tmp_path / "smolgen.json").exists()


def test_response_flags_are_only_for_preference(tmp_path):
    result = run_cli("generate", "magpie", "--response-server", "http://127.0.0.1:9/v1", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == "smolgen: --response-server: only for preference, not magpie"


def _refusing_server():
    """A server that refuses every request's key (401): its one line says which key, if any, was sent."""
    from tui.bench.stub_server import Answer, ServerThread

    async def refuse(method: str, target: str, body: bytes) -> Answer:
        return Answer(401, b'{"error": {"message": "bad key"}}')

    return ServerThread(refuse)


@pytest.mark.parametrize("own_flags, server_flags, sent", [
    (["--response-api-key-env", "MY_KEY"], [], "the key from $MY_KEY"),
    ([], ["--api-key-env", "MY_KEY"], "the key from $MY_KEY"),  # left out: the run's --api-key-env, as before
    (["--response-api-key-env", ""], ["--api-key-env", "MY_KEY"], "the request without a key (pass --response-api-key-env VAR)"),
    ([], [], "the request without a key (pass --response-api-key-env VAR)"),  # the flag to pass is the response servers' own
])
def test_a_response_server_gets_the_key_of_response_api_key_env_or_else_the_runs(tmp_path, own_flags, server_flags, sent):
    (tmp_path / "seeds.txt").write_text("What is DPO?\n", encoding="utf-8")
    with _refusing_server() as server:
        servers = ["--server", server.url, *server_flags] if server_flags else []
        result = run_cli("generate", "preference", "--seeds", "seeds.txt", "--response-server", server.url, *own_flags, *servers,
                         cwd=tmp_path, env_extra={"MY_KEY": "sk-response-key"})
    [line] = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "sk-response-key" not in result.stderr
    assert line == f"smolgen: --response-server {server.url}: {sent} was refused (401)"  # the flag typed, not --server


def test_a_response_server_is_asked_for_the_model_of_response_server_model(tmp_path):
    from tui.bench.stub_server import STUB_MODEL, ServerThread, StubServer

    (tmp_path / "seeds.txt").write_text("What is DPO?\n", encoding="utf-8")
    with ServerThread(StubServer().handle) as server:
        result = run_cli("generate", "preference", "--seeds", "seeds.txt", "--server", server.url, "--server-model", STUB_MODEL,
                         "--response-server", server.url, "--response-server-model", "gpt-9", cwd=tmp_path)
    [line] = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert line == f"smolgen: --response-server-model gpt-9: {server.url} does not have it; it has {STUB_MODEL}"


def test_a_response_servers_model_left_to_the_runs_server_model_is_named_by_that_flag(tmp_path):
    from tui.bench.stub_server import STUB_MODEL, ServerThread, StubServer

    (tmp_path / "seeds.txt").write_text("What is DPO?\n", encoding="utf-8")
    with ServerThread(StubServer().handle) as server:
        result = run_cli("generate", "preference", "--seeds", "seeds.txt", "--server", server.url, "--server-model", "gpt-9",
                         "--response-server", server.url, cwd=tmp_path)
    [line] = result.stderr.strip().splitlines()
    assert result.returncode == 2 and line == f"smolgen: --server-model gpt-9: {server.url} does not have it; it has {STUB_MODEL}"


@pytest.mark.parametrize("flags, message", [
    (["--response-server-model", "big"], "smolgen: --response-server-model: only with --response-server URL"),
    (["--response-api-key-env", "MY_KEY"], "smolgen: --response-api-key-env: only with --response-server URL"),
    (["--response-server", "http://127.0.0.1:9/v1", "--response-api-key-env", "SMOLGEN_SURELY_UNSET"],
     "smolgen: --response-api-key-env SMOLGEN_SURELY_UNSET: that environment variable is not set"),
    (["--response-server", "ftp://127.0.0.1:9/v1"], "smolgen: --response-server ftp://127.0.0.1:9/v1: not an http:// or https:// URL"),
])
def test_response_server_flags_without_a_server_or_with_an_unset_variable_are_one_line(tmp_path, flags, message):
    (tmp_path / "seeds.txt").write_text("What is DPO?\n", encoding="utf-8")
    result = run_cli("generate", "preference", "--seeds", "seeds.txt", *flags, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == message
    assert not (tmp_path / "smolgen.json").exists()


def test_the_response_servers_key_is_never_stored_logged_or_shown(tmp_path):
    from tui.bench.stub_server import STUB_MODEL, ServerThread, StubServer

    secret = "sk-response-never-shown-7"
    (tmp_path / "seeds.txt").write_text("What is DPO?\n", encoding="utf-8")
    with ServerThread(StubServer(words=8).handle) as server:
        result = run_smolgen("--log", str(tmp_path / "debug.log"), "generate", "preference", "--seeds", "seeds.txt", "--server", server.url,
                             "--response-server", server.url, "--response-server-model", STUB_MODEL, "--response-api-key-env", "MY_KEY",
                             "--num", "1", cwd=tmp_path, env_extra={"MY_KEY": secret})
    assert result.returncode == 0, result.stderr
    for name in ("smolgen.json", "smolgen.json.journal", "debug.log"):
        if (tmp_path / name).exists():
            assert secret not in (tmp_path / name).read_text(encoding="utf-8", errors="replace"), name
    assert secret not in result.stdout + result.stderr
    with SampleStore(tmp_path / "smolgen.json", read_only=True) as store:
        [run] = store.list_runs()
        [sample] = store.list_samples(technique="preference")
    assert (run["settings"]["response_server_model"], run["settings"]["response_api_key_env"]) == (STUB_MODEL, "MY_KEY")
    assert all(STUB_MODEL in response["model"] for response in sample["responses"])


@pytest.mark.parametrize("run_flags, response_flags, recorded", [
    (["--server-model", "stub-model", "--api-key-env", "MY_KEY"], [], ("stub-model", "MY_KEY")),  # the run's, as the servers were asked
    ([], [], (None, None)),  # no model asked for and no key sent: nothing to name
    (["--api-key-env", "MY_KEY"], ["--response-server-model", " ", "--response-api-key-env", ""], (None, None)),  # blank: none
    (["--server-model", "stub-model", "--api-key-env", "MY_KEY"], None, (None, None)),  # no response server: they do not apply
])
def test_the_run_records_the_model_and_key_variable_the_response_servers_were_asked_with(tmp_path, run_flags, response_flags, recorded):
    from tui.bench.stub_server import ServerThread, StubServer

    (tmp_path / "seeds.txt").write_text("What is DPO?\n", encoding="utf-8")
    with ServerThread(StubServer(words=4).handle) as server:
        responders = ["--response-server", server.url, *response_flags] if response_flags is not None else []
        result = run_cli("generate", "preference", "--seeds", "seeds.txt", "--num", "1", "--quiet", "--server", server.url, *run_flags,
                         *responders, cwd=tmp_path, env_extra={"MY_KEY": "sk-run-key"})
    assert result.returncode == 0, result.stderr
    with SampleStore(tmp_path / "smolgen.json", read_only=True) as store:
        [run] = store.list_runs()
    assert (run["settings"]["response_server_model"], run["settings"]["response_api_key_env"]) == recorded
    assert "sk-run-key" not in (tmp_path / "smolgen.json").read_text(encoding="utf-8")  # the variable's name, never the key


def test_a_response_model_that_cannot_chat_is_one_line_naming_its_flag(tmp_path, monkeypatch):
    from tui.engine.model import Model

    (tmp_path / "seeds.txt").write_text("What is DPO?\n", encoding="utf-8")
    (tmp_path / "base.gguf").write_bytes(b"")
    opened: list[ScriptedModel] = []
    monkeypatch.setattr("tui.cli_generate.inspect_model", lambda path: None)  # any file will do: the load below is the test's
    monkeypatch.setattr(Model, "load", classmethod(lambda cls, *args, **kwargs: opened.append(ScriptedModel([], base_model=True)) or opened[-1]))
    result = run_cli("generate", "preference", "--seeds", "seeds.txt", "--response-model", "base.gguf", cwd=tmp_path)
    assert len(opened) == 1 and opened[0].prompts == [], result.stderr  # refused before anything was asked of it
    assert (result.returncode, result.stderr) == (
        2, "smolgen: --response-model scripted model: cannot chat (no chat template), so it cannot write responses\n")


# A later --response-model refused (it cannot chat, or it does not load) closes those already loaded.
@pytest.mark.parametrize("second", ["cannot chat", "does not load"])
def test_response_models_already_loaded_are_closed_when_a_later_one_is_refused(tmp_path, monkeypatch, second):
    from tui.engine.model import Model

    (tmp_path / "seeds.txt").write_text("What is DPO?\n", encoding="utf-8")
    for name in ("first.gguf", "second.gguf"):
        (tmp_path / name).write_bytes(b"")  # named, not read: the load below is the test's
    opened: list[ScriptedModel] = []

    def load(cls, path, *args, **kwargs):
        if str(path) == "second.gguf" and second == "does not load":
            raise BadInput("second.gguf: not a usable GGUF")
        opened.append(ScriptedModel([], base_model=str(path) == "second.gguf"))
        return opened[-1]

    monkeypatch.setattr("tui.cli_generate.inspect_model", lambda path: None)
    monkeypatch.setattr(Model, "load", classmethod(load))
    result = run_cli("generate", "preference", "--seeds", "seeds.txt", "--response-model", "first.gguf",
                     "--response-model", "second.gguf", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr  # one line of bad input
    assert opened and all(model.closed for model in opened), result.stderr


def test_a_responder_that_cannot_chat_is_named_by_its_setting(tmp_path):
    path = tmp_path / "base.gguf"
    path.write_bytes(b"")  # named, not read: the model is given
    technique = Preference(PreferenceSettings(responders=[str(path)]))
    with pytest.raises(BadInput) as refused:
        technique.use_responders([ScriptedModel([], base_model=True)])
    assert str(refused.value) == f"response model {path}: cannot chat (no chat template), so it cannot write responses"


@pytest.mark.model
def test_generate_preference_on_the_real_model_stores_two_judged_responses(tmp_path):
    (tmp_path / "seeds.txt").write_text("Name a fruit.\n", encoding="utf-8")
    result = run_smolgen("generate", "preference", "--seeds", "seeds.txt", "--temperatures", "0.2,1.2", "--max-tokens", "48",
                         "--seed", "3", "--quiet", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr
    with SampleStore(tmp_path / "smolgen.json", read_only=True) as store:
        [sample] = store.list_samples(technique="preference")
    assert [r["temperature"] for r in sample["responses"]] == [0.2, 1.2]
    for response in sample["responses"]:
        rating = response["rating"]  # a score on the scale, or a failure with its reason: never a made-up score
        assert response.get("failure") or rating["failure"] or rating["rating"] in (1, 2, 3, 4, 5)
    assert (sample["chosen"] is not None) != bool(sample["skipped"])
    assert "1 pair" in result.stderr or "without" in result.stderr


def test_from_store_answers_the_stored_instructions_but_not_those_of_preference_samples(store):
    _run(store, ["A.", "B.", rated(4), rated(2)], [{"text": "Already a pair?"}])
    store.add_sample({"technique": "magpie", "instruction": "What is SFT?", "conversation": []})
    rows = instruction_rows(store.list_samples(statuses=("new", "accepted")))
    assert [row["instruction"] for row in rows] == ["What is SFT?"]
