"""`smolgen bench` runs end to end on a tiny workload (a smoke run: figures are printed, not asserted)."""

import json

from tests.conftest import run_smolgen


def test_bench_smoke_prints_figures_and_ratios(tmp_path):
    result = run_smolgen("bench", "--smoke", "--variants", "bare,tuned,engine", "--json", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["variants"]) == {"bare", "tuned", "engine"}
    for figures in report["variants"].values():
        assert figures["tokens_per_second"] > 0 and figures["peak_rss_mb"] > 0
    assert report["ratios"]["engine_vs_bare"] > 0 and report["ratios"]["engine_vs_tuned"] > 0
    assert report["ratios"]["app_vs_engine"] is None  # not asked for


def test_bench_rejects_unknown_variants(tmp_path):
    result = run_smolgen("bench", "--variants", "warp", cwd=tmp_path)
    assert result.returncode == 2 and "unknown variant 'warp'" in result.stderr
