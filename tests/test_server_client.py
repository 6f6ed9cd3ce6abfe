"""The server backend against the canned stub server: exact behaviour, bad input and the key kept secret.

The stub answers at once with text derived from each request's seed, so these tests can expect exact
text; the real llama-server is exercised in test_server_llama.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_smolgen
from tui.bench.stub_server import STUB_MODEL, Answer, ServerThread, StubServer, canned_text
from tui.engine.errors import BadInput, GenerationFailed
from tui.engine.model import Cancelled, Sampling
from tui.engine.prompts import PromptLibrary
from tui.engine.runner import run_generation
from tui.engine.server.connect import choose_model, connect
from tui.engine.server.pool import ServerPool
from tui.engine.server.settings import SERVER_FLAGS, SERVER_TAB_FIELDS, ServerSettings
from tui.engine.store import SampleStore
from tui.engine.techniques.magpie import Magpie


@pytest.fixture
def stub():
    server = StubServer()
    with ServerThread(server.handle) as thread:
        thread.stub = server
        yield thread


def closed_port_url() -> str:
    from tui.engine.server.local import free_port

    return f"http://127.0.0.1:{free_port()}/v1"


def test_connect_finds_the_only_model_and_the_template_from_props(stub):
    model = connect(ServerSettings([stub.url]))
    try:
        assert model.model_name == STUB_MODEL
        assert model.template_origin.endswith("/props")
        assert model.chat_template.pre_query([]).endswith("<|im_start|>user\n")
        assert model.describe()["servers"] == [stub.url]
    finally:
        model.close()


class CountingStub(StubServer):
    """A stub on this machine that names the embedded GGUF in its props but counts tokens its own way."""

    def __init__(self):
        super().__init__()
        self.tokenized = 0

    async def handle(self, method: str, target: str, body: bytes):
        from tui.bench.stub_server import STUB_CHAT_TEMPLATE, _json
        from tui.engine.model_file import default_model_path

        if target == "/props":
            return _json(200, {"chat_template": STUB_CHAT_TEMPLATE, "model_path": str(default_model_path())})
        if target == "/tokenize":
            self.tokenized += 1
            text = json.loads(body)["content"]
            return _json(200, {"tokens": list(range(len(text)))})  # a token per character
        return await super().handle(method, target, body)


def test_a_local_gguf_that_counts_otherwise_than_its_server_is_not_used_for_counts():
    stub = CountingStub()
    with ServerThread(stub.handle) as thread:
        model = connect(ServerSettings([thread.url]))
        try:
            asked = stub.tokenized
            assert model.count_tokens("How do rivers form?") == len("How do rivers form?")  # the server's count
            assert stub.tokenized == asked + 1
        finally:
            model.close()


def test_a_completion_is_the_servers_text_with_its_usage_and_url(stub):
    model = connect(ServerSettings([stub.url]))
    try:
        whole = model.complete("Hello", Sampling(max_tokens=24), seed=11)
        shown: list[str] = []
        streamed = model.complete("Hello", Sampling(max_tokens=24), seed=11, on_text=shown.append)
    finally:
        model.close()
    assert whole.text == canned_text(11, 24) == streamed.text == "".join(shown)
    assert len(shown) > 1  # streamed piece by piece
    assert whole.completion_tokens == streamed.completion_tokens == 24
    assert whole.server == stub.url and whole.finish_reason == "stop"


def test_a_magpie_run_on_several_servers_spreads_rows_and_records_each_server(tmp_path):
    stubs = [StubServer(), StubServer()]
    with ServerThread(stubs[0].handle) as first, ServerThread(stubs[1].handle) as second:
        model = connect(ServerSettings([first.url, second.url], concurrency=4))
        try:
            with SampleStore(tmp_path / "s.json") as store:
                summary = run_generation(Magpie(), store, model, PromptLibrary(), 12, 5, parallel=4)
                samples = store.list_samples(statuses=("new",))
                runs = store.list_runs()
        finally:
            model.close()
    assert summary.stored == 12 and summary.failed == 0 and summary.rows_done == 12
    assert {c["server"] for s in samples for c in s["calls"]} == {first.url, second.url}
    assert all(s["model"]["name"] == STUB_MODEL for s in samples)
    assert stubs[0].requests > 0 and stubs[1].requests > 0
    assert runs[0]["model"]["servers"] == [first.url, second.url]


def test_a_dead_server_among_two_loses_no_row(tmp_path, stub):
    model = connect(ServerSettings([stub.url], concurrency=4))
    dead = closed_port_url()
    # The dead server joins after connecting (as one that dies mid-run would be).
    from tui.engine.server.pool import Endpoint

    model.pool.endpoints.insert(0, Endpoint(dead))
    events: list[str] = []
    model.pool.on_event = events.append
    try:
        with SampleStore(tmp_path / "s.json") as store:
            summary = run_generation(Magpie(), store, model, PromptLibrary(), 10, 5, parallel=4)
            samples = store.list_samples(statuses=("new",))
    finally:
        model.close()
    assert summary.stored == 10 and summary.failed == 0
    assert all(c["server"] == stub.url for s in samples for c in s["calls"])
    assert any(dead in event and "failed" in event for event in events)


def test_every_server_down_halts_the_run_and_keeps_what_was_stored(tmp_path):
    stub = StubServer()
    thread = ServerThread(stub.handle).__enter__()
    model = connect(ServerSettings([thread.url], concurrency=2, max_retries=1))
    model.pool.halt_after = 0.5
    model.pool.backoff_seconds = 0.05
    with SampleStore(tmp_path / "s.json") as store:
        stop = threading.Timer(0.3, lambda: thread.__exit__(None, None, None))
        stop.start()
        try:
            summary = run_generation(Magpie(), store, model, PromptLibrary(), 100_000, 5, parallel=2)
        finally:
            model.close()
        stored = len(store.list_samples(statuses=("new",)))
        run = store.list_runs()[0]
    assert summary.status == "halted" and "every server is down" in summary.halt_reason
    assert summary.stored == stored > 0
    assert summary.rows_done < 100_000
    assert run["status"] == "halted" and run["summary"]["rows_left"] == 100_000 - summary.rows_done


def test_cancel_closes_open_requests_instead_of_waiting_them_out(tmp_path):
    async def never_answer(method: str, target: str, body: bytes) -> Answer:
        if target.endswith("completions"):
            import asyncio

            await asyncio.sleep(60)
        return await StubServer().handle(method, target, body)

    with ServerThread(never_answer) as slow:
        model = connect(ServerSettings([slow.url], concurrency=4))
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        started = time.monotonic()
        try:
            with SampleStore(tmp_path / "s.json") as store:
                summary = run_generation(Magpie(), store, model, PromptLibrary(), 8, 5, cancel=cancel, parallel=4)
                run = store.list_runs()[0]
        finally:
            model.close()
    assert time.monotonic() - started < 30  # ended by the cancel, not waited out (how soon: `smolgen bench server --parts cancel`)
    assert summary.status == "cancelled" and run["status"] == "cancelled"
    assert summary.stored == 0 and run["summary"]["rows_left"] == 8


def test_a_single_call_is_cancelled_by_its_event(stub):
    async def slow(method: str, target: str, body: bytes) -> Answer:
        import asyncio

        await asyncio.sleep(30)
        return Answer(500)

    model = connect(ServerSettings([stub.url]))
    try:
        with ServerThread(slow) as slow_server:
            model.pool.endpoints[0].url = slow_server.url
            cancel = threading.Event()
            threading.Timer(0.2, cancel.set).start()
            with pytest.raises(Cancelled):
                model.complete("x", Sampling(), 1, cancel=cancel)
    finally:
        model.close()


# Bad input: one line naming what is wrong, exit 2, the store untouched --------------------------------


def _one_line_exit_2(result: subprocess.CompletedProcess, *expected: str) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def test_an_unreachable_server_is_one_line(tmp_path):
    url = closed_port_url()
    result = run_cli("generate", "magpie", "--server", url, "--num", "1", cwd=tmp_path)
    _one_line_exit_2(result, f"--server {url}", "cannot connect")
    assert not (tmp_path / "smolgen.json.journal").exists()


def test_a_server_that_is_no_openai_server_is_one_line(tmp_path):
    async def web_page(method: str, target: str, body: bytes) -> Answer:
        return Answer(404, b"<html>not found</html>", "text/html")

    with ServerThread(web_page) as page:
        result = run_cli("generate", "magpie", "--server", page.url, "--num", "1", cwd=tmp_path)
    _one_line_exit_2(result, "not an OpenAI-compatible server", "404")


def test_a_model_the_server_lacks_lists_the_ones_it_has(tmp_path, stub):
    result = run_cli("generate", "magpie", "--server", stub.url, "--server-model", "gpt-9", "--num", "1", cwd=tmp_path)
    _one_line_exit_2(result, "--server-model gpt-9", STUB_MODEL)


@pytest.mark.parametrize("names, line", [
    (SERVER_FLAGS, "--server-model: the server offers several models; pass one of a, b"),
    (SERVER_TAB_FIELDS, "Model: the server offers several models; name one of a, b"),
    # Servers the Server tab chose, reopened at the app's start with a key typed as a flag: the model is its field, the key the flag.
    (replace(SERVER_FLAGS, server=SERVER_TAB_FIELDS.server, model=SERVER_TAB_FIELDS.model),
     "Model: the server offers several models; name one of a, b"),
])
def test_a_server_offering_several_models_says_how_to_name_one_as_the_model_was_named(names, line):
    with pytest.raises(BadInput) as raised:
        choose_model(None, {"http://127.0.0.1:9/v1": ["b", "a"]}, names)
    assert str(raised.value) == line


def test_a_refused_key_names_the_variable_and_never_the_key(tmp_path):
    secret = "sk-very-secret-0123456789"

    async def guarded(method: str, target: str, body: bytes) -> Answer:
        return Answer(401, b'{"error": {"message": "bad key sk-very-secret-0123456789"}}')

    with ServerThread(guarded) as server:
        result = run_cli("generate", "magpie", "--server", server.url, "--api-key-env", "MY_KEY", "--num", "1",
                             cwd=tmp_path, env_extra={"MY_KEY": secret})
    line = _one_line_exit_2(result, "$MY_KEY", "refused", "401")
    assert secret not in result.stderr + result.stdout and secret not in line


def test_the_key_is_never_stored_logged_or_shown(tmp_path, stub):
    secret = "sk-never-shown-42"
    result = run_smolgen("--log", str(tmp_path / "debug.log"), "generate", "magpie", "--server", stub.url,
                         "--api-key-env", "MY_KEY", "--num", "3", cwd=tmp_path, env_extra={"MY_KEY": secret})
    assert result.returncode == 0, result.stderr
    for name in ("smolgen.json", "smolgen.json.journal", "debug.log"):
        path = tmp_path / name
        if path.exists():
            assert secret not in path.read_text(encoding="utf-8", errors="replace"), name
    assert secret not in result.stdout + result.stderr
    assert "MY_KEY" in (tmp_path / "smolgen.json").read_text()  # the variable's name is what is recorded


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--concurrency", "0"], "--concurrency 0"),
        (["--model", "x.gguf"], "--server and --model"),
        (["--max-retries", "-1"], "--max-retries -1"),
        (["--api-key-env", "SMOLGEN_SURELY_UNSET"], "--api-key-env SMOLGEN_SURELY_UNSET"),
        (["--parallel", "4"], "--parallel"),
    ],
)
def test_bad_server_flags_are_one_line(tmp_path, stub, flags, expected):
    result = run_cli("generate", "magpie", "--server", stub.url, "--num", "1", *flags, cwd=tmp_path)
    _one_line_exit_2(result, expected)


def test_server_flags_without_a_server_are_refused(tmp_path):
    result = run_cli("generate", "magpie", "--concurrency", "4", "--num", "1", cwd=tmp_path)
    _one_line_exit_2(result, "--concurrency", "only with --server")


def test_a_chat_template_that_drops_the_users_message_is_refused(tmp_path, stub):
    template = tmp_path / "bad.jinja"
    template.write_text("{% for m in messages %}{{ m.role }}{% endfor %}")
    result = run_cli("generate", "magpie", "--server", stub.url, "--chat-template", str(template), "--num", "1", cwd=tmp_path)
    _one_line_exit_2(result, f"--chat-template {template}", "drops the user's message")


def test_a_chat_template_that_is_no_template_is_refused(tmp_path, stub):
    template = tmp_path / "broken.jinja"
    template.write_text("{% for m in messages %}{{ m.content }")
    result = run_cli("generate", "magpie", "--server", stub.url, "--chat-template", str(template), "--num", "1", cwd=tmp_path)
    _one_line_exit_2(result, f"--chat-template {template}")


async def no_props(method: str, target: str, body: bytes) -> Answer:
    """The stub without /props: a server that does not tell its chat template."""
    if target.startswith("/props"):
        return Answer(404, b"{}")
    return await StubServer().handle(method, target, body)


def test_magpie_without_a_known_template_says_what_to_pass(tmp_path):
    with ServerThread(no_props) as server:
        result = run_cli("generate", "magpie", "--server", server.url, "--num", "1", cwd=tmp_path)
        chain = run_cli("generate", "text", "--server", server.url, "--num", "1", "--seeds", str(_seed_file(tmp_path)),
                            cwd=tmp_path)
    _one_line_exit_2(result, "--chat-template")
    assert chain.returncode == 0, chain.stderr  # the others chat through /chat/completions


def test_a_chat_template_from_a_tokenizer_config_is_used(tmp_path, stub):
    config = tmp_path / "tokenizer_config.json"
    config.write_text(json.dumps({
        "chat_template": "{% for m in messages %}<<{{ m.role }}>>{{ m.content }}<</s>>{% endfor %}"
                         "{% if add_generation_prompt %}<<assistant>>{% endif %}",
        "eos_token": {"content": "<</s>>"},
    }))
    model = connect(ServerSettings([stub.url], chat_template=config))
    try:
        assert model.template_origin == "tokenizer_config.json"
        assert model.chat_template.pre_query([]) == "<<user>>"
        assert "<</s>>" in model.turn_stops()
    finally:
        model.close()


def test_an_https_server_whose_certificate_does_not_verify_is_refused(tmp_path):
    ssl_server = _self_signed_https_server(tmp_path)
    with ssl_server as server:
        with pytest.raises(BadInput, match="certificate"):
            connect(ServerSettings([server.url]))


def test_an_answer_fetched_whole_from_a_server_whose_certificate_does_not_verify_fails_at_once(tmp_path):
    with _self_signed_https_server(tmp_path) as server, ServerPool([server.url], max_retries=3) as pool:
        with pytest.raises(GenerationFailed, match="certificate does not verify") as raised:
            pool.post("/completions", {"prompt": "x"})
    assert raised.value.reason == "certificate" and "attempts" not in str(raised.value)  # never retried


def test_a_retried_stream_skips_what_was_shown_and_marks_a_different_answer():
    from tui.engine.server.pool import RETRY_NOTE, StreamShown

    shown: list[str] = []
    stream = StreamShown(shown.append)
    stream.add("The sky ")
    stream.add("is b")
    stream.restart()  # the same answer again, cut differently: nothing twice
    for piece in ("The ", "sky is", " blue."):
        stream.add(piece)
    assert "".join(shown) == "The sky is blue."
    stream.restart()  # another answer: a note, then all of it
    stream.add("The s")
    stream.add("ea is green.")
    assert "".join(shown) == "The sky is blue." + RETRY_NOTE + "The sea is green."


def test_generate_balances_and_says_how_many_rows_were_left(tmp_path, stub):
    result = run_cli("generate", "magpie", "--server", stub.url, "--num", "40", "--concurrency", "8", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "40 stored, 0 failed" in result.stderr
    assert "in flight" in result.stderr and "samples/min" in result.stderr and "ETA" in result.stderr
    with SampleStore(tmp_path / "smolgen.json") as store:
        samples = store.list_samples(statuses=("new",))
        run = store.list_runs()[-1]
    assert len(samples) == 40
    assert run["summary"]["stored"] + run["summary"]["failed"] == run["num"] == 40
    for sample in samples:  # each turn is the server's text for that call's seed, as sent
        assert [m["content"] for m in sample["conversation"]] == [canned_text(c["seed"], 24) for c in sample["calls"]]


def _seed_file(folder: Path) -> Path:
    seeds = folder / "seeds.txt"
    seeds.write_text("Write a question about rivers.\n")
    return seeds


class _HttpsServer:
    def __init__(self, cert: Path, key: Path):
        import ssl

        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "_HttpsServer":
        import asyncio

        stub = StubServer()
        self._loop = asyncio.new_event_loop()
        from tui.bench.stub_server import serve_http

        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            server = self._loop.run_until_complete(
                asyncio.start_server(lambda r, w: serve_http(r, w, stub.handle), "127.0.0.1", 0, ssl=self.context)
            )
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/v1"

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def _self_signed_https_server(folder: Path) -> _HttpsServer:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return _HttpsServer(cert, key)


def test_the_stub_runs_alone_as_a_process(tmp_path):
    from tui.engine.server.local import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tui.bench.stub_server", "--port", str(port)])
    try:
        deadline = time.monotonic() + 20
        model = None
        while model is None:
            try:
                model = connect(ServerSettings([f"http://127.0.0.1:{port}/v1"]))
            except BadInput:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert model.complete("x", Sampling(max_tokens=5), 3).text == canned_text(3, 5)
        model.close()
    finally:
        process.terminate()
        process.wait(10)
