"""The server backend against a real llama-server process with the embedded model, and a fault proxy
in front of it. Model text is never expected exactly: these tests assert what holds on any CPU."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_smolgen
from tests.fault_proxy import FaultProxy
from tui.engine.model import Sampling
from tui.engine.prompts import PromptLibrary
from tui.engine.quality_gates import QualityGates
from tui.engine.runner import RunObserver, run_generation
from tui.engine.server.connect import connect
from tui.engine.server.settings import ServerSettings
from tui.engine.store import SampleStore
from tui.engine.techniques.magpie import Magpie, MagpieSettings

pytestmark = pytest.mark.model

# Short calls, Magpie's quality gates off: these tests are about the servers, not what a 135M model writes.
SHORT = ["--max-tokens", "24", "--user-max-tokens", "24", "--no-filter", "user-turn-truncated", "--no-filter", "repetition",
         "--no-filter", "language-mismatch", "--no-filter", "not-a-request"]
GATES_OFF = {"text": ["--no-filter", "repetition", "--no-filter", "language-mismatch"]}
GATES_OFF["evol-instruct"] = GATES_OFF["text"]
GATES_OFF["chain"] = GATES_OFF["self-instruct"] = [*GATES_OFF["text"], "--no-filter", "not-a-request"]
# A stalled request never answers; the timeout still leaves a busy machine time for a real answer.
STALL_SECONDS = 3600.0


def _timeout_for(fault: str) -> float:
    return 15.0 if fault == "stall" else 120.0


def _samples(folder: Path) -> tuple[list[dict], list[dict]]:
    with SampleStore(folder / "smolgen.json") as store:
        return store.list_samples(statuses=("new", "failed")), store.list_runs()


def test_magpie_through_llama_server_stores_whole_conversations(tmp_path, llama_server):
    result = run_smolgen("generate", "magpie", "--server", llama_server.url, "--num", "4", "--concurrency", "4", *SHORT,
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "template from" in result.stderr and "/props" in result.stderr  # where the template came from is shown
    samples, runs = _samples(tmp_path)
    assert len(samples) == 4 and runs[0]["summary"]["stored"] + runs[0]["summary"]["failed"] == 4
    stored = [s for s in samples if s["status"] == "new"]
    assert stored, [s["failure"] for s in samples]
    for sample in stored:
        roles = [m["role"] for m in sample["conversation"]]
        assert roles == ["user", "assistant"] and all(m["content"].strip() for m in sample["conversation"])
        assert all(call["server"] == llama_server.url for call in sample["calls"])
        assert all(isinstance(call["completion_tokens"], int) and call["completion_tokens"] > 0 for call in sample["calls"])
        assert sample["model"]["chat_template"].endswith("/props")
        assert sample["lengths"]["instruction"] > 0  # counted with the vocabulary of the GGUF the server serves
    # The stream shown is the oldest row in flight: what it printed is text that was stored.
    stored_text = " ".join(m["content"] for s in stored for m in s["conversation"])
    shown = [line for line in result.stdout.splitlines() if line.strip() and not line.startswith("──")]
    assert shown and all(line.strip() in stored_text for line in shown)


def test_a_server_on_this_machine_has_its_tokens_counted_here_as_it_counts_them(llama_server):
    """llama-server says which GGUF it serves: its vocabulary counts a sample's texts here, with no request."""
    import httpx

    texts = ["What is a river delta?", "  Deltas form where a river meets the sea.\n\n- silt\n- sand ", "Xin chào 👋"]
    served = [httpx.post(llama_server.url.removesuffix("/v1") + "/tokenize", json={"content": t}).json()["tokens"] for t in texts]
    model = connect(ServerSettings([llama_server.url]))
    try:
        def no_request(*_args, **_kwargs):
            raise AssertionError("a token count went to the server")

        model.pool.post_once = no_request
        assert [model.count_tokens(t) for t in texts] == [len(tokens) for tokens in served]
    finally:
        model.close()


@pytest.mark.parametrize("technique", ["text", "chain", "self-instruct", "evol-instruct"])
def test_every_technique_runs_through_a_server(tmp_path, llama_server, technique):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Give three tips for saving money on groceries.\nExplain how rivers form deltas.\n")
    result = run_smolgen("generate", technique, "--server", llama_server.url, "--seeds", str(seeds), "--concurrency", "2",
                         "--quiet", "--max-tokens", "24", *GATES_OFF[technique], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    samples, runs = _samples(tmp_path)
    run = runs[0]
    assert run["status"] == "finished" and run["summary"]["rows_left"] == 0
    assert run["summary"]["stored"] + run["summary"]["failed"] == len(samples) > 0
    for sample in samples:
        assert sample["technique"] == technique.replace("-", "_") or sample["technique"] == technique
        assert sample["status"] == "failed" or sample["instruction"]
        assert all(call.get("server") == llama_server.url for call in sample.get("calls", []))


def test_the_same_seed_replays_on_llama_server(tmp_path, llama_server):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for folder in (first, second):
        result = run_smolgen("generate", "magpie", "--server", llama_server.url, "--num", "2", "--seed", "9", "--concurrency", "1",
                             "--quiet", *SHORT, cwd=folder)
        assert result.returncode == 0, result.stderr
    texts = [[s["conversation"] for s in _samples(folder)[0]] for folder in (first, second)]
    assert texts[0] == texts[1]
    assert _samples(first)[1][0]["model"]["seed_replayable"] is True


@pytest.mark.parametrize("fault", ["refuse", "stall", "429", "500", "cut", "garbage", "empty", "html"])
def test_each_fault_is_retried_and_the_sample_stored(tmp_path, llama_server, fault):
    with FaultProxy(llama_server.url.removesuffix("/v1"), stall_seconds=STALL_SECONDS) as proxy:
        model = connect(ServerSettings([proxy.url], timeout=_timeout_for(fault), max_retries=2))
        model.pool.backoff_seconds = 0.05
        proxy.faults.append(fault)
        try:
            with SampleStore(tmp_path / "s.json") as store:
                summary = run_generation(Magpie(_short_magpie()), store, model, PromptLibrary(), 1, 3,
                                         observer=_Streaming() if fault == "cut" else None)
        finally:
            model.close()
    assert proxy.spoiled == [fault]
    assert summary.stored == 1 and summary.failed == 0, summary.failures


def test_a_stream_cut_and_retried_shows_its_text_once(tmp_path, llama_server):
    with FaultProxy(llama_server.url.removesuffix("/v1"), stall_seconds=STALL_SECONDS) as proxy:
        model = connect(ServerSettings([proxy.url], max_retries=2))
        model.pool.backoff_seconds = 0.05
        proxy.faults.append("cut")
        watching = _Streaming()
        try:
            with SampleStore(tmp_path / "s.json") as store:
                run_generation(Magpie(_short_magpie()), store, model, PromptLibrary(), 1, 3, observer=watching)
                [sample] = store.list_samples()
        finally:
            model.close()
    assert proxy.spoiled == ["cut"]
    assert "".join(watching.shown) == "".join(sample["raw"])  # the same seed wrote the same text again: shown once


@pytest.mark.parametrize(("fault", "reason"), [("500", "server_error"), ("garbage", "malformed_reply"), ("stall", "timeout"),
                                               ("429", "rate_limited"), ("empty", "empty"), ("cut", "stream_cut")])
def test_a_fault_past_the_retries_fails_the_row_with_its_reason_and_the_run_goes_on(tmp_path, llama_server, fault, reason):
    with FaultProxy(llama_server.url.removesuffix("/v1"), stall_seconds=STALL_SECONDS) as proxy:
        model = connect(ServerSettings([proxy.url], timeout=_timeout_for(fault), max_retries=1))
        model.pool.backoff_seconds = 0.05
        proxy.faults.extend([fault, fault])  # the first row's first call and its one retry
        try:
            with SampleStore(tmp_path / "s.json") as store:
                summary = run_generation(Magpie(_short_magpie()), store, model, PromptLibrary(), 2, 3,
                                         observer=_Streaming() if fault == "cut" else None)
                failed = store.list_samples(statuses=("failed",))
        finally:
            model.close()
    assert summary.failed == 1 and summary.stored == 1 and summary.rows_done == 2
    assert failed[0]["failure"]["reason"] == reason


def test_local_server_starts_serves_and_leaves_no_process(tmp_path):
    result = run_smolgen("generate", "magpie", "--local-server", "2", "--num", "2", "--quiet", *SHORT, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "starting llama-server" in result.stderr
    samples, runs = _samples(tmp_path)
    assert len(samples) == 2 and runs[0]["model"]["servers"][0].startswith("http://127.0.0.1:")
    assert not _llama_servers_of(tmp_path)


def test_a_long_headless_run_starts_a_local_server_by_default_and_a_short_one_stays_in_process(tmp_path):
    from tui.cli_model import LOCAL_SERVER_FROM_SAMPLES

    long_run = str(LOCAL_SERVER_FROM_SAMPLES)
    result = run_smolgen("generate", "magpie", "--num", long_run, "--quiet", *SHORT, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "starting llama-server" in result.stderr and "--in-process" in result.stderr  # says why, and how not to
    samples, runs = _samples(tmp_path)
    summary = runs[-1]["summary"]
    assert summary["stored"] + summary["failed"] == LOCAL_SERVER_FROM_SAMPLES == len(samples)
    assert runs[-1]["model"]["servers"][0].startswith("http://127.0.0.1:")
    assert not _llama_servers_of(tmp_path)
    for flags in (["--num", long_run, "--in-process"], ["--num", str(LOCAL_SERVER_FROM_SAMPLES - 1)]):
        result = run_smolgen("generate", "magpie", *flags, "--quiet", "--threads", "1", *SHORT, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "starting llama-server" not in result.stderr
        assert "servers" not in _samples(tmp_path)[1][-1]["model"], flags  # the in-process model's record


def test_ctrl_c_during_a_local_server_run_cancels_and_leaves_no_server(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "generate", "magpie", "--local-server", "2", "--num", "500", "--quiet", *SHORT],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "smolgen.json.journal").exists() or not _stored_any(tmp_path):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)
    assert "cancelled" in err
    samples, runs = _samples(tmp_path)
    assert runs[0]["status"] == "cancelled" and runs[0]["summary"]["stored"] == len([s for s in samples if s["status"] == "new"])
    assert not _llama_servers_of(tmp_path)


def test_models_lists_what_a_server_offers(tmp_path, llama_server):
    result = run_smolgen("models", "--server", llama_server.url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "SmolLM2-135M-Instruct" in result.stdout and "chat template" in result.stdout


def _short_magpie() -> MagpieSettings:
    settings = MagpieSettings(gates=QualityGates.all_off(), check_user_turn_cap=False)
    settings.user_sampling = Sampling(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, max_tokens=16)
    settings.assistant_sampling = Sampling(max_tokens=8)
    return settings


class _Streaming(RunObserver):
    """An observer that watches the text, so calls stream (a cut then breaks a stream, not a whole reply)."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def text(self, chunk: str) -> None:
        self.shown.append(chunk)


def _stored_any(folder: Path) -> bool:
    journal = folder / "smolgen.json.journal"
    return journal.exists() and b'"samples"' in journal.read_bytes()


def _llama_servers_of(folder: Path) -> list[int]:
    """llama-server processes still alive that were started from `folder`'s runs (children of smolgen)."""
    time.sleep(0.5)
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if command and command[0].endswith(b"llama-server") and cwd == str(folder):
            alive.append(int(entry.name))
    return alive
