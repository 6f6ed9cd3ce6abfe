"""Pipelines on servers: the `[llm]` table, `smolgen run --server`, rows in flight at once, the cache.

Against the canned stub server, so the tests can expect exact text and need no model."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tui.bench.stub_server import STUB_MODEL, ServerThread, StubServer
from tui.engine.llm import OpenAICompatibleLLM
from tui.engine.pipeline import LoadDataFromDicts, Pipeline, TextGeneration
from tui.engine.pipeline.executor import run_pipeline
from tui.engine.store import SampleStore

PIPELINE = """
name = "two-steps"

[llm]
server = ["{url}"]
concurrency = 4

[[steps]]
name = "seeds"
type = "load_data_from_dicts"
data = [{rows}]

[[steps]]
name = "ask"
type = "text_generation"
template = "chain_instruction"
output_mappings = {{ generation = "instruction" }}
max_tokens = 12

[[steps]]
name = "answer"
type = "text_generation"
output_mappings = {{ generation = "response" }}
max_tokens = 16
"""


class _RenamedStub(StubServer):
    """The stub serving a model of another name (a second model behind the same API)."""

    async def handle(self, method: str, target: str, body: bytes):
        answer = await super().handle(method, target, body)
        if target.rstrip("/").endswith("/models"):
            answer.body = answer.body.replace(STUB_MODEL.encode(), b"another-model")
        return answer


def _write_pipeline(folder, url: str, rows: int = 10):
    seeds = ", ".join(f'{{ instruction = "Ask something about topic {n}." }}' for n in range(rows))
    path = folder / "two-steps.toml"
    path.write_text(PIPELINE.format(url=url, rows=seeds), encoding="utf-8")
    return path


def test_an_llm_table_runs_the_pipeline_on_the_server_with_rows_in_flight(tmp_path):
    stub = StubServer()
    with ServerThread(stub.handle) as server:
        path = _write_pipeline(tmp_path, server.url)
        first = run_cli("run", str(path), "--json", "--quiet", cwd=tmp_path)
        again = run_cli("run", str(path), "--json", "--quiet", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["status"] == "finished" and summary["stored"] == 10
    assert summary["steps"]["ask"]["generated"] == 10 and summary["steps"]["answer"]["generated"] == 10
    assert stub.requests == 20  # the second run asked nothing: every output came from the cache
    repeat = json.loads(again.stdout)
    assert repeat["steps"]["ask"]["cached"] == 10 and repeat["steps"]["answer"]["generated"] == 0
    with SampleStore(tmp_path / "smolgen.json") as store:
        samples = store.list_samples(statuses=("new",))
    assert len(samples) == 10 and all(s["instruction"] and s["response"] for s in samples)


def test_the_same_pipeline_on_another_model_recomputes(tmp_path):
    with ServerThread(StubServer().handle) as first, ServerThread(_RenamedStub().handle) as second:
        path = _write_pipeline(tmp_path, first.url, rows=3)
        assert run_cli("run", str(path), "--quiet", cwd=tmp_path).returncode == 0
        other = run_cli("run", str(path), "--server", second.url, "--json", "--quiet", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    summary = json.loads(other.stdout)
    assert summary["steps"]["ask"]["generated"] == 3 and summary["steps"]["ask"]["cached"] == 0


def test_run_with_server_flags_uses_the_servers_for_a_builtin(tmp_path):
    stub = StubServer()
    with ServerThread(stub.handle) as server:
        result = run_cli("run", "chapter", "--server", server.url, "--concurrency", "3", "--num", "6", "--json", "--quiet",
                             cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "finished"
    assert stub.requests >= 2  # one instruction and its answer, cached after for the same seed row


def test_python_steps_take_an_openai_compatible_llm(tmp_path):
    stub = StubServer()
    with ServerThread(stub.handle) as server:
        llm = OpenAICompatibleLLM(base_url=server.url, concurrency=4)
        with Pipeline(name="py") as pipeline:
            seeds = LoadDataFromDicts(data=[{"instruction": f"Ask about {n}."} for n in range(8)])
            ask = TextGeneration(llm=llm, template="chain_instruction", output_mappings={"generation": "instruction"})
            answer = TextGeneration(llm=llm, output_mappings={"generation": "response"})
            seeds >> ask >> answer
        try:
            with SampleStore(tmp_path / "s.json") as store:
                summary = run_pipeline(pipeline, store)
                samples = store.list_samples(statuses=("new",))
        finally:
            llm.close()
    assert summary.status == "finished" and summary.stored == 8 and len(samples) == 8
    assert stub.requests == 16  # each row's instruction and answer


@pytest.mark.parametrize(("table", "expected"), [
    ('[llm]\nservers = ["http://127.0.0.1:9/v1"]\n', "unknown key 'servers'"),
    ('[llm]\nserver = 5\n', "server must be a URL"),
    # Each named by its key in the table, not by the flag that sets it on the command line.
    ('[llm]\nserver = "http://127.0.0.1:9/v1"\nconcurrency = 0\n', "[llm] concurrency 0: must be at least 1"),
    ('[llm]\nserver = "http://127.0.0.1:9/v1"\ntimeout = 0\n', "[llm] timeout 0: must be more than 0 seconds"),
    ('[llm]\nserver = "http://127.0.0.1:9/v1"\nmax_retries = -1\n', "[llm] max_retries -1: must be 0 or more"),
    ('[llm]\nserver = "http://127.0.0.1:9/v1"\nchat_template = "missing.jinja"\n', "[llm] chat_template missing.jinja: no such file"),
    ('[llm]\nserver = "http://127.0.0.1:9/v1"\napi_key_env = "SMOLGEN_SURELY_UNSET"\n',
     "[llm] api_key_env SMOLGEN_SURELY_UNSET: that environment variable is not set"),
])
def test_a_bad_llm_table_is_one_line(tmp_path, table, expected):
    path = tmp_path / "bad.toml"
    steps = '[[steps]]\ntype = "load_data_from_dicts"\ndata = [{ instruction = "x" }]\n[[steps]]\ntype = "text_generation"\n'
    path.write_text(table + steps, encoding="utf-8")
    result = run_cli("run", str(path), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and expected in line and str(path) in line


def test_a_pipeline_run_from_the_app_closes_its_steps_server_connections(tmp_path):
    from tests.scripted_model import ScriptedModel
    from tui.app.pipeline_run import pipeline_request, run_request
    from tui.engine.pipeline.executor import PipelineObserver
    from tui.engine.pipeline.toml_config import load_pipeline
    from tui.engine.prompts import PromptLibrary

    with ServerThread(StubServer().handle) as server:
        pipeline = load_pipeline(_write_pipeline(tmp_path, server.url, rows=2))
        step_llm = pipeline.ordered()[1].llm
        with SampleStore(tmp_path / "s.json") as store:
            request = pipeline_request(pipeline, store, None, use_cache=True)
            summary = run_request(request, store, ScriptedModel([]), PromptLibrary(), PipelineObserver(), None)
    assert summary.status == "finished" and summary.stored == 2
    assert isinstance(step_llm, OpenAICompatibleLLM) and not step_llm.loaded  # closed once the run was over


PAIRS_STEP = """
[[steps]]
name = "seeds"
type = "load_data_from_dicts"
data = [{{ instruction = "What is DPO?" }}]

[[steps]]
name = "pairs"
type = "preference_pairs"
responders = ["{url}"]
"""
MAGPIE_STEP = '[[steps]]\ntype = "magpie_generator"\nnum_rows = 1\n'
UNKNOWN_TEMPLATE = "magpie needs a chat template: stub-model: the chat template is unknown (the server does not report it); "


async def _two_models(method: str, target: str, body: bytes):
    """The stub offering two models: a run must be told which one."""
    from tui.bench.stub_server import _json

    if target.rstrip("/").endswith("/models"):
        return _json(200, {"object": "list", "data": [{"id": "alpha"}, {"id": "beta"}]})
    return await StubServer().handle(method, target, body)


def _server(kind: str) -> ServerThread:
    from tests.test_preference_technique import _refusing_server
    from tests.test_server_client import no_props

    handlers = {"stub": StubServer().handle, "two models": _two_models, "no props": no_props}
    return _refusing_server() if kind == "refusing" else ServerThread(handlers[kind])


def refused_run_line(folder, *args: str) -> str:
    """`smolgen run ARGS` on a store that holds samples: its one line of bad input, with exit 2, no traceback and
    the store left as it was."""
    from tests.test_cli_judge import _store_with_samples
    from tests.test_server_client import _one_line_exit_2

    store = _store_with_samples(folder)
    before = store.read_bytes()
    line = _one_line_exit_2(run_cli("run", *args, cwd=folder))
    assert store.read_bytes() == before and not list(folder.glob("*.journal"))
    return line


# Each line names the file, then the step (as the file calls it) and its key, or the [llm] table and its key.
@pytest.mark.parametrize("server_kind, text, flags, line", [
    ("stub", PIPELINE.replace("concurrency = 4", 'model = "gpt-9"'), [],
     "{path}: [llm] model gpt-9: {url} does not have it; it has " + STUB_MODEL),
    ("refusing", PIPELINE, [], "{path}: [llm] server {url}: the request without a key (fill in api_key_env) was refused (401)"),
    ("stub", PAIRS_STEP + 'response_server_model = "gpt-9"\n', [],
     "{path}: step pairs: response_server_model gpt-9: {url} does not have it; it has " + STUB_MODEL),
    ("two models", PAIRS_STEP, [],
     "{path}: step pairs: response_server_model: the server offers several models; name one of alpha, beta"),
    ("stub", PAIRS_STEP + 'response_api_key_env = "SMOLGEN_SURELY_UNSET"\n', [],
     "{path}: step pairs: response_api_key_env SMOLGEN_SURELY_UNSET: that environment variable is not set"),
    # The hint names the [llm] table's key, or the flag that gave the server.
    ("no props", '[llm]\nserver = "{url}"\n' + MAGPIE_STEP, [],
     "{path}: step 1: " + UNKNOWN_TEMPLATE + "fill in chat_template (a .jinja file, a tokenizer_config.json or a GGUF)"),
    ("no props", MAGPIE_STEP.replace("[[steps]]\n", '[[steps]]\nname = "gen"\n'), ["--server", "{url}"],
     "{path}: step gen: " + UNKNOWN_TEMPLATE + "pass --chat-template FILE (a .jinja file, a tokenizer_config.json or a GGUF)"),
])
def test_a_server_problem_names_the_pipelines_file_step_and_key_and_leaves_the_store(tmp_path, server_kind, text, flags, line):
    path = tmp_path / "named.toml"
    with _server(server_kind) as server:
        path.write_text(text.format(url=server.url, rows='{ instruction = "x" }'), encoding="utf-8")
        shown = refused_run_line(tmp_path, str(path), *(flag.format(url=server.url) for flag in flags))
    assert shown == "smolgen: " + line.format(path=path, url=server.url)


PAIRS_ON_LLM = '[llm]\nserver = "{url}"\n{llm}\n' + PAIRS_STEP.replace('responders = ["{url}"]', 'responders = [{responders}]') + "{step}\n"


def _pairs_on_llm(folder, url: str, llm: str = "", step: str = "", responders: str | None = None):
    path = folder / "pairs.toml"
    path.write_text(PAIRS_ON_LLM.format(url=url, llm=llm, step=step, responders=f'"{url}"' if responders is None else responders),
                    encoding="utf-8")
    return path


# The response servers take the model and key variable a step leaves out from the step's own servers, as
# smolgen generate takes --server-model and --api-key-env; the run records what they were asked with.
@pytest.mark.parametrize("llm, step, responders, flags, recorded", [
    ('model = "beta"\napi_key_env = "MY_KEY"', "", None, [], ("beta", "MY_KEY")),
    ('model = "beta"\napi_key_env = "MY_KEY"', 'response_server_model = "alpha"\nresponse_api_key_env = ""', None, [], ("alpha", None)),
    ('model = "alpha"', 'response_server_model = "beta"', None, [], ("beta", None)),  # no key variable to fall back on
    ('model = "beta"', 'response_server_model = "gamma"', "", [], (None, None)),  # no response server: neither applies
    ('model = "alpha"', "", None, ["--server", "{url}", "--server-model", "beta"], ("beta", None)),  # the flags' servers, as the steps'
])
def test_response_servers_fall_back_on_the_steps_servers_and_the_run_records_what_they_were_asked(tmp_path, llm, step, responders,
                                                                                                    flags, recorded):
    with ServerThread(_two_models) as server:
        path = _pairs_on_llm(tmp_path, server.url, llm, step, responders)
        result = run_cli("run", str(path), "--quiet", *(flag.format(url=server.url) for flag in flags), cwd=tmp_path,
                         env_extra={"MY_KEY": "sk-run-key"})
    assert result.returncode == 0, result.stderr
    with SampleStore(tmp_path / "smolgen.json", read_only=True) as store:
        [run] = store.list_runs()
        [sample] = store.list_samples(technique="preference")
    [pairs] = [table for table in run["settings"]["steps"] if table["type"] == "preference_pairs"]
    assert (pairs["response_server_model"], pairs["response_api_key_env"]) == recorded
    if responders is None:  # the responses were written by the model asked for
        assert all(recorded[0] in response["model"] for response in sample["responses"])
    assert "sk-run-key" not in (tmp_path / "smolgen.json").read_text(encoding="utf-8")  # the variable's name, never the key


# A value the step fell back on is named as the [llm] table (or the flag) that gave it; the step's own keys as before.
@pytest.mark.parametrize("server_kind, llm, flags, line", [
    ("two models", 'model = "' + STUB_MODEL + '"', [],
     "{path}: step pairs: [llm] model " + STUB_MODEL + ": {responder} does not have it; it has alpha, beta"),
    ("two models", "", ["--server", "{url}", "--server-model", STUB_MODEL],
     "{path}: step pairs: --server-model " + STUB_MODEL + ": {responder} does not have it; it has alpha, beta"),
    ("refusing", 'api_key_env = "MY_KEY"', [], "{path}: step pairs: responders {responder}: the key from $MY_KEY was refused (401)"),
    ("refusing", "", [], "{path}: step pairs: responders {responder}: the request without a key (fill in response_api_key_env) was "
                         "refused (401)"),
])
def test_a_value_a_response_server_fell_back_on_is_named_where_it_was_set(tmp_path, monkeypatch, server_kind, llm, flags, line):
    monkeypatch.setenv("MY_KEY", "sk-run-key")
    with ServerThread(StubServer().handle) as server, _server(server_kind) as responder:
        path = _pairs_on_llm(tmp_path, server.url, llm, responders=f'"{responder.url}"')
        shown = refused_run_line(tmp_path, str(path), *(flag.format(url=server.url) for flag in flags))
    assert shown == "smolgen: " + line.format(path=path, responder=responder.url)


# The timeout, retries, concurrency and chat template are the step's own servers' too (the step has no keys for them), as
# smolgen generate's response servers take --timeout, --max-retries, --concurrency and --chat-template; named where set.
@pytest.mark.parametrize("from_flags", [False, True])
def test_response_servers_take_the_steps_servers_timeout_retries_concurrency_and_chat_template(tmp_path, from_flags):
    from tui.bench.stub_server import STUB_CHAT_TEMPLATE
    from tui.engine.pipeline.toml_config import load_pipeline

    (tmp_path / "mine.jinja").write_text(STUB_CHAT_TEMPLATE, encoding="utf-8")
    url, template = "http://127.0.0.1:9/v1", tmp_path / "mine.jinja"
    asked = {"timeout": 7.5, "max_retries": 1, "concurrency": 3, "chat_template": template}
    table = "timeout = 7.5\nmax_retries = 1\nconcurrency = 3\nchat_template = '" + str(template) + "'"
    path = _pairs_on_llm(tmp_path, url, "" if from_flags else table)
    llm = OpenAICompatibleLLM(url, **asked) if from_flags else None  # as smolgen run builds it from its flags
    [responder] = load_pipeline(path, llm=llm).steps[-1].responder_llms
    assert {name: getattr(responder.settings, name) for name in asked} == asked
    names = responder.settings.names
    expected = ("--timeout", "--max-retries", "--concurrency", "--chat-template") if from_flags else \
        ("[llm] timeout", "[llm] max_retries", "[llm] concurrency", "[llm] chat_template")
    assert (names.timeout, names.max_retries, names.concurrency, names.chat_template) == expected
    assert names.server == "responders"  # the step's own key, as before


def test_response_servers_write_with_the_llm_tables_chat_template(tmp_path):
    from tui.bench.stub_server import STUB_CHAT_TEMPLATE

    prompts: list[str] = []

    async def recording(method: str, target: str, body: bytes):
        if method == "POST":
            prompts.append(json.loads(body).get("prompt") or "")
        return await StubServer().handle(method, target, body)

    (tmp_path / "mine.jinja").write_text("MINE-TEMPLATE " + STUB_CHAT_TEMPLATE, encoding="utf-8")
    with ServerThread(StubServer().handle) as server, ServerThread(recording) as responder:
        path = _pairs_on_llm(tmp_path, server.url, "chat_template = 'mine.jinja'", responders=f'"{responder.url}"')
        result = run_cli("run", str(path), "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = [prompt for prompt in prompts if "What is DPO?" in prompt]
    assert written and all(prompt.startswith("MINE-TEMPLATE ") for prompt in written)
