"""`smolgen bench` and `smolgen bench batched` run end to end on tiny workloads.

These are smoke runs on a machine that may be busy: what is asserted is that every variant did the work
asked of it, with the caps asked for, that its figures are in ranges any CPU gives (wide, but a figure in
the wrong unit or of the wrong run falls outside them), and how the ratios are worked out from the
repetitions.
"""

import json

import pytest

from tests.conftest import run_cli, run_smolgen
from tui.bench.workloads import SELF_INSTRUCT_LIST, Workload

SMOKE_CAPS = {"magpie": 8 + 8, "chain": 8 + 8, "selfinstruct": SELF_INSTRUCT_LIST * 8 + 1}  # generated tokens, at most
TOKENS_PER_SECOND = (0.05, 5000)  # SmolLM2-135M on a CPU: from a crawl on a busy machine to far beyond any CPU
PEAK_RSS_MB = (50, 8000)  # the model file alone is about 100 MB
RATIO = (0.05, 20)  # variants of one repetition, run back to back on the same model and machine


def within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] < value < bounds[1]


@pytest.mark.model
def test_bench_smoke_prints_all_three_ratios_as_numbers(tmp_path):
    result = run_smolgen("bench", "--smoke", "--json", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["variants"]) == {"bare", "tuned", "engine", "app"}
    assert report["workload"]["workloads"] == ["magpie", "chain", "selfinstruct"]
    for variant, figures in report["variants"].items():
        assert within(figures["tokens_per_second"], TOKENS_PER_SECOND) and within(figures["peak_rss_mb"], PEAK_RSS_MB), (variant, figures)
        assert 0 < figures["first_token_seconds"] < 60 and 0 <= figures["store_share"] < 1, (variant, figures)
    for name in ("engine_vs_bare", "engine_vs_tuned", "app_vs_engine"):
        assert isinstance(report["ratios"][name], float) and within(report["ratios"][name], RATIO), (name, report["ratios"])
    for variant, runs in report["runs"].items():
        assert [run["workload"] for run in runs] == ["magpie", "chain", "selfinstruct"], variant
        for run in runs:
            most = SELF_INSTRUCT_LIST if run["workload"] == "selfinstruct" else 1  # a list's instructions, each a sample
            assert run["samples"] <= most and 0 < run["generated_tokens"] <= SMOKE_CAPS[run["workload"]], (variant, run)
            assert 0 < run["first_token_seconds"] <= run["seconds"] and 0 <= run["store_seconds"] < run["seconds"], (variant, run)


@pytest.mark.model
def test_app_variant_generates_through_the_app_and_times_it():
    from tui.bench.app_variant import run_app
    from tui.engine.model_file import default_model_path

    [measured] = run_app(default_model_path(), [Workload("magpie", items=1, user_tokens=8, answer_tokens=8)], threads=1)
    assert measured.variant == "app" and measured.samples == 1
    assert 0 < measured.generated_tokens <= 16  # a user turn and an answer, 8 tokens each at most
    assert len(measured.first_token_seconds) == 2 and all(s > 0 for s in measured.first_token_seconds)
    assert measured.store_seconds > 0 and measured.seconds > measured.store_seconds


@pytest.mark.model
def test_selfinstruct_workload_keeps_the_list_cap_in_bare_and_engine():
    from tui.bench.workloads import run_bare, run_engine
    from tui.engine.model_file import default_model_path

    workload = Workload("selfinstruct", items=1, user_tokens=8, answer_tokens=8)
    [bare] = run_bare(default_model_path(), [workload], tuned=False)
    [engine] = run_engine(default_model_path(), [workload], threads=1)
    for measured in (bare, engine):
        assert 0 < measured.generated_tokens <= SELF_INSTRUCT_LIST * 8 + 1, measured.variant  # +1: a re-tokenized text may split a token
        assert measured.first_token_seconds and measured.seconds > 0
    assert engine.store_seconds > 0  # every instruction of the list, kept or dropped, is stored


def test_bench_rejects_unknown_variants_and_workloads(tmp_path):
    result = run_cli("bench", "--variants", "warp", cwd=tmp_path)
    assert result.returncode == 2 and "unknown variant 'warp'" in result.stderr
    result = run_cli("bench", "--workloads", "magpie,evol", cwd=tmp_path)
    assert result.returncode == 2 and "unknown workload 'evol'" in result.stderr
    result = run_cli("bench", "--threads", "0", cwd=tmp_path)
    assert result.returncode == 2 and "--threads must be at least 1" in result.stderr


@pytest.mark.model
def test_bench_batched_smoke_decodes_every_sequence(tmp_path):
    result = run_smolgen("bench", "batched", "--sequences", "1,2", "--tokens", "4", "--threads", "1", "--json", cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = report["results"]
    assert [row["sequences"] for row in rows] == [1, 2]
    for row in rows:
        assert row["generated_tokens"] == 4 * row["sequences"]  # each sequence writes exactly --tokens
        assert within(row["tokens_per_second"], TOKENS_PER_SECOND) and row["prompt_tokens"] >= row["sequences"]
        assert row["sample_turn"].strip()
    assert rows[0]["vs_one"] == 1.0 and within(rows[1]["vs_one"], RATIO)


@pytest.mark.model
def test_bench_batched_quantized_copy_is_made_once_and_used(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the embedded model is Q4_1: Q4_0 is another type
    args = ("bench", "batched", "--quantize", "q4_0", "--sequences", "1", "--tokens", "2", "--threads", "1", "--json")
    first = run_smolgen(*args, cwd=tmp_path, timeout=300)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["quantization"] == "Q4_0"
    [copy] = (tmp_path / "cache" / "smolgen" / "models").iterdir()
    assert report["model"] == str(copy)
    made = copy.stat().st_mtime_ns
    again = run_smolgen(*args, cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
    assert copy.stat().st_mtime_ns == made  # reused, not made again


def test_bench_batched_rejects_bad_widths(tmp_path):
    result = run_cli("bench", "batched", "--sequences", "1,two", cwd=tmp_path)
    assert result.returncode == 2 and "--sequences '1,two'" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("bench", "batched", "--sequences", "0", cwd=tmp_path)
    assert result.returncode == 2 and "at least 1" in result.stderr


def test_ratios_pair_the_variants_of_each_repetition():
    """The variants of one repetition run back to back: their ratio is free of the machine's drift
    between repetitions, which a ratio of the two medians mixes in."""
    import argparse
    from pathlib import Path

    from tui.bench.generation import summarise

    def run(tokens_per_second: float) -> dict:
        return {"workload": "magpie", "samples": 2, "generated_tokens": tokens_per_second * 10, "seconds": 10.0,
                "first_token_seconds": 0.1, "peak_rss_mb": 300.0, "store_seconds": 0.01}

    runs = {"engine": [run(50), run(60), run(40)], "app": [run(60), run(45), run(38)]}
    args = argparse.Namespace(items=2, repeat=3, user_tokens=24, answer_tokens=32, threads=None)
    report = summarise(runs, [Workload("magpie", 2, 24, 32)], Path("model.gguf"), args)
    assert report["variants"]["app"]["tokens_per_second"] / report["variants"]["engine"]["tokens_per_second"] == 0.9
    assert report["ratios"]["app_vs_engine"] == 0.95  # the median of 1.2, 0.75 and 0.95
    assert report["ratios"]["engine_vs_bare"] is None
