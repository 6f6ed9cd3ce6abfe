"""`smolgen judge` as a user runs it, with the paced stand-in model (it answers a schema with a valid
instance, as the grammar makes llama.cpp do): ratings on the samples, progress and summary, carrying on
after a stop, bad input. The scripted model covers the run's exact bookkeeping."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.scripted_model import ScriptedModel
from tests.test_judge import JudgingStub, rated, tagged
from tui.bench.paced_cli import paced_load
from tui.bench.stub_server import Answer
from tui.engine.errors import BadInput
from tui.engine.judge import ATTEMPTS, INPUT_QUALITIES, SCALE
from tui.engine.judge_run import check_judge_model, judge_samples
from tui.engine.model import Cancelled, Model
from tui.engine.run_names import run_choices
from tui.engine.store import SampleStore

PACED = [sys.executable, "-m", "tui.bench.paced_cli"]


def _conversation(number: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"What is {number} plus {number}?"}, {"role": "assistant", "content": str(2 * number)}]


def _store_with_samples(folder: Path, count: int = 3, run_id: int = 1) -> Path:
    path = folder / "smolgen.json"
    with SampleStore(path) as store:
        run = store.start_run(technique="magpie")
        assert run == run_id
        for number in range(count):
            conversation = _conversation(number)
            store.add_sample({"technique": "magpie", "run_id": run, "conversation": conversation,
                              "instruction": conversation[0]["content"], "response": conversation[1]["content"]})
    return path


def _paced(cwd: Path, *args: str, word_delay: str = "0") -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([*PACED, word_delay, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def _judged(path: Path) -> dict[int, dict]:
    with SampleStore(path, read_only=True) as store:
        return {s["id"]: s.get("judgement") for s in store.list_samples()}


def _judge_in_process(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> subprocess.CompletedProcess:
    """`smolgen judge ARGS` in the test's process, with the paced stand-in model tui.bench.paced_cli loads."""
    monkeypatch.setattr(Model, "load", paced_load(0.0))
    return run_cli("judge", *args, cwd=cwd)


def test_judge_rates_every_new_sample_and_a_second_run_skips_them(tmp_path, monkeypatch):
    path = _store_with_samples(tmp_path)
    done = _judge_in_process(tmp_path, monkeypatch, "--aspects", "helpfulness,honesty", "--seed", "5")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("judge: 3 samples (helpfulness, honesty) with null model")
    assert [line.split(" ")[0] for line in lines[1:4]] == ["[1/3]", "[2/3]", "[3/3]"] and "rated" in lines[1]
    assert lines[-1].startswith("judge finished: 3 rated, mean rating ") and "0 failed" in lines[-1]
    judged = _judged(path)
    for verdict in judged.values():
        assert verdict["failure"] is None and verdict["judge"] == "null model (benchmark)" and verdict["judged"]
        assert set(verdict["ratings"]) == {"helpfulness", "honesty"}
        assert all(r["rating"] in SCALE and r["rationale"] for r in verdict["ratings"].values())
        assert verdict["tags"]["input_quality"] in INPUT_QUALITIES

    again = _judge_in_process(tmp_path, monkeypatch, "--aspects", "helpfulness,honesty")
    assert again.returncode == 0 and "judge finished: 0 rated" in again.stderr and "3 already judged" in again.stderr
    assert _judged(path) == judged  # untouched

    other_aspect = _judge_in_process(tmp_path, monkeypatch, "--aspects", "overall")
    assert other_aspect.returncode == 0 and "judge finished: 3 rated" in other_aspect.stderr


def test_a_stop_signal_keeps_the_finished_judgements_and_the_next_run_carries_on(tmp_path):
    path = _store_with_samples(tmp_path, count=40)
    process = _paced(tmp_path, "judge", word_delay="0.01")
    for line in process.stderr:
        if line.startswith("[2/40]"):
            break
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 128 + signal.SIGTERM and "Traceback" not in rest
    assert "smolgen: stopped by SIGTERM; the judgement in progress was dropped" in rest
    summary = next(line for line in rest.splitlines() if line.startswith("judge cancelled: "))
    rated = int(summary.split(": ")[1].split(" rated")[0])
    assert 2 <= rated < 40 and f"{40 - rated} of 40 not judged" in summary
    assert sum(1 for verdict in _judged(path).values() if verdict) == rated  # each finished one is on disk

    rest_of_them = _paced(tmp_path, "judge")
    assert rest_of_them.wait(timeout=120) == 0
    assert f"judge finished: {40 - rated} rated" in rest_of_them.stderr.read()
    assert all(_judged(path).values())


@pytest.mark.parametrize("flags, expected", [
    (["--aspects", "honesty,kindness"], "--aspects kindness: unknown aspect; use overall or helpfulness,honesty,"),
    (["--judge-model", "missing.gguf"], "missing.gguf"),
    (["--run", "7"], "--run 7: "),
    (["--judge-server", "http://127.0.0.1:9/v1"], "smolgen: --judge-server http://127.0.0.1:9/v1: "),  # the flag typed
    (["--server", "http://127.0.0.1:9/v1"], "smolgen: --server http://127.0.0.1:9/v1: "),
    (["--judge-model", "x.gguf", "--judge-server", "http://127.0.0.1:9/v1"], "--server and --model"),
])
def test_bad_input_is_one_line_exit_2_and_the_store_is_untouched(tmp_path, flags, expected):
    path = _store_with_samples(tmp_path)
    before = path.read_bytes()
    result = run_cli("judge", *flags, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == before and not list(tmp_path.glob("*.journal"))


def test_nothing_to_judge_says_so(tmp_path):
    _store_with_samples(tmp_path)
    result = run_cli("judge", "--status", "accepted", cwd=tmp_path)
    assert result.returncode == 1 and "nothing to judge: 0 accepted samples" in result.stderr


def test_a_judge_without_a_chat_template_is_refused():
    with pytest.raises(BadInput, match="the judge needs a chat template"):
        check_judge_model(ScriptedModel([], base_model=True))


def test_a_failed_verdict_is_stored_with_its_reason_and_judged_again_next_time(tmp_path):
    path = _store_with_samples(tmp_path, count=2)
    with SampleStore(path) as store:
        samples = store.list_samples()
        summary = judge_samples(store, ScriptedModel([rated(4), tagged(), *["nonsense"] * ATTEMPTS]), samples, ("overall",), 1)
        assert (summary.rated, summary.failed, summary.mean_rating) == (1, 1, 4.0)
        first, second = (store.get_sample(s["id"])["judgement"] for s in samples)
        assert first["rating"] == 4 and first["failure"] is None
        assert second["rating"] is None and second["ratings"] == {} and "no usable answer" in second["failure"]
        retried = judge_samples(store, ScriptedModel([rated(2), tagged()]), store.list_samples(), ("overall",), 1)
        assert (retried.already_judged, retried.rated) == (1, 1)
        assert store.get_sample(samples[1]["id"])["judgement"]["rating"] == 2


def test_editing_a_sample_drops_its_verdict(tmp_path):
    path = _store_with_samples(tmp_path, count=1)
    with SampleStore(path) as store:
        [sample] = store.list_samples()
        judge_samples(store, ScriptedModel([rated(5), tagged()]), [sample], ("overall",), 1)
        store.edit_sample(sample["id"], _conversation(9))
        assert store.get_sample(sample["id"])["judgement"] is None


def test_judge_on_a_server_rates_through_it(tmp_path):
    from tests.test_judge import JudgingStub
    from tui.bench.stub_server import STUB_MODEL, ServerThread

    path = _store_with_samples(tmp_path, count=2)
    stub = JudgingStub()
    with ServerThread(stub.handle) as thread:
        result = run_cli("judge", "--judge-server", thread.url, "--no-tags", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "judge finished: 2 rated, mean rating 4.00" in result.stderr
    for verdict in _judged(path).values():
        assert STUB_MODEL in verdict["judge"] and verdict["ratings"]["overall"] == {"rating": 4, "rationale": "Served."}
        assert verdict["tags"] is None
    assert sum(1 for body in stub.bodies if "response_format" in body) == 2  # one call a sample: no tags asked for


def _runs(path: Path) -> list[dict]:
    with SampleStore(path, read_only=True) as store:
        return store.list_runs()


def test_a_judging_run_is_recorded_with_its_counts_and_each_verdict_names_it(tmp_path):
    path = _store_with_samples(tmp_path, count=2)
    process = _paced(tmp_path, "judge", "--aspects", "honesty", "--seed", "7")
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0, err
    [generation, judging] = _runs(path)
    assert generation["technique"] == "magpie"
    assert (judging["technique"], judging["status"], judging["seed"], judging["num"]) == ("judge", "finished", 7, 2)
    assert judging["settings"]["aspects"] == ["honesty"] and judging["settings"]["status"] == "new"
    assert judging["model"] and judging["finished"]  # the judge, as generation runs record their model
    assert {key: judging["summary"][key] for key in ("judged", "failed", "cancelled")} == {"judged": 2, "failed": 0, "cancelled": 0}
    assert f"(run {judging['id']})" in err.splitlines()[-1]
    assert all(verdict["run_id"] == judging["id"] for verdict in _judged(path).values())
    # A judging run stores no samples: the stats leave it out of the runs to pick and say why when named.
    stats = run_cli("stats", "--run", str(judging["id"]), cwd=tmp_path)
    assert stats.returncode == 2 and f"--run {judging['id']}: that run judged samples and stored none" in stats.stderr
    with SampleStore(path, read_only=True) as store:
        assert [choice.id for choice in run_choices(store.list_runs(), store.samples_by_run())] == [generation["id"]]


class CancelledAtSecondSample(ScriptedModel):
    """The scripted judge, cancelling the run while it rates the second sample (its third call)."""

    def __init__(self, outputs, cancel):
        super().__init__(outputs)
        self.cancel = cancel

    def complete(self, prompt, sampling, seed, stop=(), cancel=None, on_text=None, until=None):
        if len(self.prompts) == 2:
            self.cancel.set()
            raise Cancelled()
        return super().complete(prompt, sampling, seed, stop, cancel, on_text, until)


def test_a_cancelled_judging_run_records_judged_failed_and_cancelled_samples_that_add_up(tmp_path):
    path = _store_with_samples(tmp_path, count=4)
    cancel = threading.Event()
    with SampleStore(path) as store:
        model = CancelledAtSecondSample([rated(3), tagged()], cancel)
        summary = judge_samples(store, model, store.list_samples(), ("overall",), 1, cancel=cancel)
        [_, run] = store.list_runs()
    assert summary.status == run["status"] == "cancelled"
    assert {key: run["summary"][key] for key in ("judged", "failed", "cancelled", "total")} == {"judged": 1, "failed": 0, "cancelled": 3, "total": 4}


class HoldingJudgeStub(JudgingStub):
    """Holds each judging request until `slots` are open at once (or a while has passed), and counts the most
    it ever had open: the client's concurrency, seen from the server."""

    def __init__(self, slots: int):
        super().__init__()
        self.slots, self.open, self.most_open = slots, 0, 0
        self._full: asyncio.Event | None = None

    async def handle(self, method: str, target: str, body: bytes) -> Answer:
        if method != "POST" or b"response_format" not in body:
            return await super().handle(method, target, body)
        self._full = self._full or asyncio.Event()
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        if self.open >= self.slots:
            self._full.set()
        try:
            await asyncio.wait_for(self._full.wait(), 3)
        except asyncio.TimeoutError:
            pass
        self.open -= 1
        if self.open == 0:
            self._full = asyncio.Event()
        return await super().handle(method, target, body)


def test_judge_server_with_concurrency_keeps_that_many_requests_in_flight_and_every_verdict_lands(tmp_path):
    from tui.bench.stub_server import ServerThread

    path = _store_with_samples(tmp_path, count=6)
    stub = HoldingJudgeStub(slots=3)
    with ServerThread(stub.handle) as thread:
        result = run_cli("judge", "--judge-server", thread.url, "--concurrency", "3", "--no-tags", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stub.most_open == 3
    assert "judge finished: 6 rated, mean rating 4.00, 0 failed" in result.stderr
    assert sorted(line.split(" ")[0] for line in result.stderr.splitlines() if line.startswith("[")) == [f"[{n}/6]" for n in range(1, 7)]
    assert all(verdict and verdict["ratings"]["overall"]["rating"] == 4 for verdict in _judged(path).values())
    [_, run] = _runs(path)
    assert (run["summary"]["judged"], run["summary"]["failed"], run["summary"]["cancelled"]) == (6, 0, 0)
