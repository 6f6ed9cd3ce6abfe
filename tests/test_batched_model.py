"""Batched decoding (`--parallel S`): several rows at once, their tokens decoded in one llama.cpp batch.

The real embedded model, with short caps: what is checked is that the batch batches, that every
sample is complete and stored like a sequential run's, and that caps, stops and cancel hold.
"""

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import replace

import llama_cpp
import pytest

from tests.conftest import SMOLGEN, run_cli, run_smolgen
from tui.engine.quality_gates import QualityGates
from tui.engine.batched_model import BatchedModel
from tui.engine.errors import GenerationFailed
from tui.engine.model import Sampling
from tui.engine.runner import RunObserver, run_generation
from tui.engine.store import SampleStore
from tui.engine.techniques.magpie import Magpie, MagpieSettings, user_turn_sampling



def _magpie(tokens: int = 12) -> Magpie:
    return Magpie(MagpieSettings(user_sampling=replace(user_turn_sampling(), max_tokens=tokens), assistant_sampling=Sampling(max_tokens=tokens),
                                 gates=QualityGates.all_off(), check_user_turn_cap=False))  # short calls: every sample stored


def _together(batched: BatchedModel, calls: list[dict]) -> list:
    """Each call from its own thread, as the workers of a parallel run make them."""
    results = [None] * len(calls)

    def call(i: int) -> None:
        results[i] = batched.complete(**calls[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_parallel_magpie_stores_complete_samples_like_a_sequential_run(model, prompts, store):
    sequential = run_generation(_magpie(), store, model, prompts, 2, 77)
    parallel = run_generation(_magpie(), store, model, prompts, 4, 77, parallel=2)
    assert parallel.status == "finished" and parallel.stored == 4 and parallel.failed == 0
    before = {s["sample_index"]: s for s in store.list_samples(run_id=sequential.run_id)}
    after = {s["sample_index"]: s for s in store.list_samples(run_id=parallel.run_id)}
    assert sorted(after) == [0, 1, 2, 3]
    for index, sample in after.items():
        assert set(sample) == set(before[0])  # the same record, field for field
        assert sample["status"] == "new" and sample["instruction"] and sample["response"]
        assert [m["role"] for m in sample["conversation"]] == ["user", "assistant"]
        assert all(call["completion_tokens"] <= 12 for call in sample["calls"])
        if index in before:  # a row's call seeds do not depend on the number of rows at once
            assert [c["seed"] for c in sample["calls"]] == [c["seed"] for c in before[index]["calls"]]
    [run] = [run for run in store.list_runs() if run["id"] == parallel.run_id]
    assert run["status"] == "finished" and run["summary"]["stored"] == 4


def test_the_batch_decodes_sequences_together(model, monkeypatch):
    decodes = []
    real_decode = llama_cpp.llama_decode
    monkeypatch.setattr(llama_cpp, "llama_decode", lambda ctx, batch: decodes.append(batch.n_tokens) or real_decode(ctx, batch))
    pre_query = model.chat_template.pre_query([])
    sampling = replace(user_turn_sampling(), max_tokens=10)
    with BatchedModel(model, 4) as batched:
        # Eight calls for four sequences: the last four wait for a free one, whose cache holds the pre-query.
        results = _together(batched, [dict(prompt=pre_query, sampling=sampling, seed=100 + i) for i in range(8)])
    stats = batched.stats
    assert len(decodes) == stats.decode_calls
    assert stats.generated_tokens == sum(r.completion_tokens for r in results) > 0
    assert stats.decode_calls < stats.generated_tokens and stats.widest_step == 4  # one decode served several sequences
    assert stats.reused_tokens > 0  # the same pre-query: later calls decode only what their cache lacks
    for result in results:
        assert result.completion_tokens <= 10 and result.finish_reason in ("stop", "length") and result.seconds > 0
        assert result.finish_reason == "stop" or result.completion_tokens == 10


def test_stop_strings_and_token_caps_hold(model):
    pre_query = model.chat_template.pre_query([])
    free = replace(user_turn_sampling(), max_tokens=40)
    with BatchedModel(model, 3) as batched:
        spaced, capped, turn = _together(batched, [
            dict(prompt=pre_query, sampling=free, seed=5, stop=(" ",)),
            dict(prompt=pre_query, sampling=replace(free, max_tokens=3), seed=6),
            dict(prompt=pre_query, sampling=free, seed=7, stop=batched.turn_stops()),
        ])
        with pytest.raises(GenerationFailed) as overflow:
            batched.complete("word " * (batched.n_ctx + 10), free, 8)
    assert " " not in spaced.text and spaced.finish_reason == "stop"
    assert capped.completion_tokens <= 3 and (capped.finish_reason == "length" or capped.completion_tokens < 3)
    assert "<|im_end|>" not in turn.text and turn.text.strip()
    assert overflow.value.reason == "context_overflow"


def test_cancel_mid_run_keeps_finished_samples(model, prompts, store):
    cancel = threading.Event()

    class CancelAfterFirst(RunObserver):
        def sample_done(self, sample, done, total):
            cancel.set()

    summary = run_generation(_magpie(24), store, model, prompts, 8, 3, observer=CancelAfterFirst(), cancel=cancel, parallel=2)
    assert summary.status == "cancelled" and 1 <= summary.stored < 8
    samples = store.list_samples(statuses=["new"])
    assert len(samples) == summary.stored and all(s["status"] == "new" and s["response"] for s in samples)
    assert store.list_runs()[0]["status"] == "cancelled"


@pytest.mark.parametrize("value", ["0", "-2", "100000"])
def test_bad_parallel_values_get_one_line(tmp_path, value):
    result = run_cli("generate", "magpie", "--num", "2", "--parallel", value, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and f"--parallel {value}" in lines[0], result.stderr


@pytest.mark.model
def test_chain_runs_in_parallel_through_the_cli(tmp_path):
    (tmp_path / "seeds.txt").write_text("Generate a question about tea.\nGenerate a question about rivers.\nName a fruit.\n", encoding="utf-8")
    result = run_smolgen("generate", "chain", "--seeds", "seeds.txt", "--parallel", "2", "--max-tokens", "16", "--seed", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 rows at once" in result.stderr and "finished" in result.stderr
    assert "──" not in result.stdout  # no streamed text from several rows at once
    with SampleStore(tmp_path / "smolgen.json") as store:
        samples = store.list_samples(statuses=["new", "failed"])
    assert sorted(s["sample_index"] for s in samples) == [0, 1, 2]  # one sample per row, stored or failed
    kept = [s for s in samples if s["status"] == "new"]
    assert kept and all(s["technique"] == "chain" and s["instruction"] and s["response"] for s in kept)


@pytest.mark.model
def test_bench_times_the_parallel_variant_on_request(tmp_path):
    result = run_smolgen("bench", "--smoke", "--variants", "engine,parallel", "--parallel", "2", "--workloads", "magpie",
                         "--json", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["variants"]) == {"engine", "parallel"} and report["workload"]["parallel"] == 2
    assert report["ratios"]["parallel_vs_engine"] > 0 and report["ratios"]["app_vs_engine"] is None
    assert [run["workload"] for run in report["runs"]["parallel"]] == ["magpie"]


@pytest.mark.model
def test_ctrl_c_during_a_parallel_run_cancels_it_and_keeps_what_was_stored(tmp_path):
    command = [*SMOLGEN, "generate", "magpie", "--num", "40", "--parallel", "3", "--max-tokens", "12", "--quiet", "--seed", "5"]
    # A shell's background job starts with SIGINT ignored, and Python keeps it so: hand the child the default.
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    progress = 0
    while progress < 2 and time.monotonic() < deadline:  # interrupt once two samples were stored
        progress += process.stderr.readline().startswith("[")
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=30) == 130
    assert "Traceback" not in rest
    assert rest.strip().splitlines()[-1] == "smolgen: stopped by SIGINT; the sample in progress was dropped"
    assert "run 1 cancelled:" in rest
    with SampleStore(tmp_path / "smolgen.json") as store:
        samples = store.list_samples()
        [run] = store.list_runs()
    assert 2 <= len(samples) < 40 and run["status"] == "cancelled"
    assert all(len(sample["conversation"]) == 2 for sample in samples if sample["status"] != "failed")
