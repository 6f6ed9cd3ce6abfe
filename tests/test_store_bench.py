"""`smolgen bench store` runs end to end on small stores (a smoke run: figures are printed, not judged)."""

import json

from tests.conftest import run_cli


def test_bench_store_times_writes_opening_and_review(tmp_path):
    result = run_cli("bench", "store", "--sizes", "200,1000", "--writes", "10", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    small, large = report["sizes"]
    assert (small["size"], large["size"]) == (200, 1000) and large["megabytes"] > small["megabytes"] > 0
    for figures in (small, large):
        assert 0 < figures["write_ms"] <= figures["slowest_write_ms"] and figures["open_seconds"] > 0
    assert small["review_seconds"] is None and large["review_seconds"] > 0  # review only at the largest size
    assert list(tmp_path.iterdir()) == []  # the stores were temporary


def test_bench_store_table_and_bad_sizes(tmp_path):
    result = run_cli("bench", "store", "--sizes", "100", "--writes", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "write ms" in result.stdout and "review s" in result.stdout and "      100" in result.stdout
    bad = run_cli("bench", "store", "--sizes", "10,x", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == "smolgen: bench store: --sizes '10,x': expected whole numbers separated by commas"
