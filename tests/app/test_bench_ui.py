"""`smolgen bench ui`: the UI thread's share of a core during a paced run, with frames and layouts counted."""

import json

from tests.conftest import run_cli, run_smolgen
from tui.app import fast_paint


def test_bench_ui_reports_the_ui_threads_share_frames_and_layouts(tmp_path):
    result = run_smolgen("bench", "ui", "--samples", "2", "--rate", "300", "--answer-words", "40", "--json", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["samples"] == 2 and report["batch_seconds"] == 0.05  # the app's own
    assert 0 < report["ui_share"] < 1 and report["ui_cpu_seconds"] > 0
    assert report["updates"] >= 10  # the text reached the screen in batches, not once at the end
    if fast_paint.ENABLED:  # off, every batch is a frame and each finished sample lays the screen out
        assert report["frames"] < report["updates"]  # most batches are drawn at once, without a frame
        assert report["layouts"] <= 4  # the run's start and end; nothing per sample or per batch


def test_bench_ui_explains_bad_values_in_one_line(tmp_path):
    result = run_cli("bench", "ui", "--samples", "0", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["smolgen: bench ui: --samples and --answer-words must be at least 1, --rate above 0"]
