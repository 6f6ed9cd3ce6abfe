"""`smolgen bench judge`: the planted-order agreement and the judging speed, as numbers that add up."""

import json

import pytest

from tests.conftest import run_cli, run_smolgen
from tui.bench.judge_bench import PLANTED_PAIRS


def test_the_planted_pairs_are_twenty_and_each_answer_differs():
    assert len(PLANTED_PAIRS) == 20
    assert all(good != bad and instruction for instruction, good, bad in PLANTED_PAIRS)


def test_bad_pair_counts_are_one_line_exit_2(tmp_path):
    result = run_cli("bench", "judge", "--pairs", "0", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == "smolgen: bench judge: --pairs 0: must be from 1 to 20"


@pytest.mark.model
def test_bench_judge_counts_every_pair_once(tmp_path):
    result = run_smolgen("bench", "judge", "--pairs", "2", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["agreed"] + figures["tied"] + figures["reversed"] + figures["failed"] == 2
    assert 0 <= figures["agreement"] <= 1 and figures["judged_per_minute"] > 0
