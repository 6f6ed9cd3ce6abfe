"""`smolgen bench server`: its figures come out, in ranges any machine gives."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, run_smolgen
from tui.bench.server import round_order


def test_the_ceiling_part_balances_and_reports_rates_and_memory(tmp_path):
    # The benchmark in the test's process: the runs it measures (their memory too) are processes of their own.
    # Twenty samples keep eight in flight for more than one round; the sizes only have to exercise each step.
    result = run_cli("bench", "server", "--parts", "ceiling", "--ceiling-concurrency", "1,8", "--ceiling-samples", "20",
                     "--balance-samples", "60", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ceiling = json.loads(result.stdout)["ceiling"]
    for row in ceiling["by_concurrency"].values():
        assert row["exit"] == 0 and row["balances"] and row["stored"] + row["failed"] == row["requested"] == 20
        assert 1 < row["samples_per_second"] < 1_000_000
        assert 10 < row["peak_rss_mb"] < 4096
    assert 0.2 < ceiling["peak_memory_ratio"] < 20
    balance = ceiling["balance"]
    assert balance["balances"] and balance["requested"] == 60 and 0 < balance["store_open_seconds"] < 30


@pytest.mark.model
def test_the_llama_part_compares_smolgen_with_a_bare_client_and_the_engine_round_by_round(tmp_path):
    result = run_smolgen("bench", "server", "--parts", "llama", "--concurrency", "1,4", "--samples", "2", "--max-tokens", "8",
                         "--rounds", "2", "--json", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr
    llama = json.loads(result.stdout)["llama"]
    assert llama["rounds"] == 2
    for row in llama["by_concurrency"].values():
        assert len(row["smolgen_vs_bare_by_round"]) == 2 and all(0.1 < r < 10 for r in row["smolgen_vs_bare_by_round"])
        assert min(row["smolgen_vs_bare_by_round"]) <= row["smolgen_vs_bare"] <= max(row["smolgen_vs_bare_by_round"])
        assert 0 < row["smolgen"]["tokens_per_second"] < 100_000
        # The same requests with the same seeds: both count about the same tokens, whatever is in flight.
        assert row["bare"]["samples"] == row["smolgen"]["samples"] == 4  # two rounds of 2, each side
        assert 0.7 < row["bare"]["tokens"] / row["smolgen"]["tokens"] < 1.4
    # The engine ran beside the server's slots in each round.
    assert llama["engine"]["samples"] == 4 and 0 < llama["engine"]["tokens_per_second"] < 100_000
    assert len(llama["smolgen_at_4_vs_engine_by_round"]) == 2
    assert min(llama["smolgen_at_4_vs_engine_by_round"]) <= llama["smolgen_at_4_vs_engine"] <= max(llama["smolgen_at_4_vs_engine_by_round"])
    assert 0 < llama["local_server_start_seconds"] < 120
    assert llama["local_server_pays_from_samples"] is None or llama["local_server_pays_from_samples"] >= 1


def test_the_app_part_reports_its_rate_and_keypress_latencies(tmp_path):
    # Enough samples that the run outlasts its first probed keypress; the figures are ranges, not a count.
    result = run_cli("bench", "server", "--parts", "app", "--app-concurrency", "8", "--app-samples", "100", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    app = json.loads(result.stdout)["app"]
    assert app["stored"] + app["failed"] == app["requested"] == 100
    assert 1 < app["samples_per_second"] < 1_000_000
    assert app["keypresses"] >= 1 and 0 <= app["keypress_ms_median"] <= app["keypress_ms_max"] < 60_000


def test_the_cancel_part_times_a_cancel_from_the_engine_and_from_ctrl_c(tmp_path):
    result = run_cli("bench", "server", "--parts", "cancel", "--cancel-repeats", "1", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    cancel = json.loads(result.stdout)["cancel"]
    assert cancel["in_flight"] == 8 and cancel["cli_runs_recorded_cancelled"]
    # Ended, not waited out: the stub holds each request for an hour.
    assert 0 < cancel["engine_seconds_median"] <= cancel["engine_seconds_max"] < 60
    assert 0 < cancel["cli_seconds_median"] <= cancel["cli_seconds_max"] < 60


@pytest.mark.parametrize("flag", ["--rounds", "--samples"])
def test_no_rounds_or_samples_is_one_line(tmp_path, flag):
    result = run_cli("bench", "server", "--parts", "llama", flag, "0", cwd=tmp_path)
    assert result.returncode == 2 and flag in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_parts_are_one_line(tmp_path):
    result = run_cli("bench", "server", "--parts", "gpu", cwd=tmp_path)
    assert result.returncode == 2 and "--parts gpu" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("pays_from, said", [(12, "pays from 12 samples on"), (None, "did not pay in this run")])
def test_the_llama_summary_says_when_a_local_server_pays(capsys, pays_from, said):
    from tui.bench.server import _print

    served = {"tokens_per_second": 130.0, "samples_per_minute": 90.0}
    llama = {"samples": 32, "max_tokens": 48, "rounds": 3, "engine": {"tokens_per_second": 100.0},
             "smolgen_at_4_vs_engine": 1.3, "smolgen_at_4_vs_engine_by_round": [1.25, 1.3, 1.41],
             "by_concurrency": {"4": {"smolgen": served, "bare": served, "smolgen_vs_bare": 1.0,
                                      "smolgen_vs_bare_by_round": [0.97, 1.0, 1.02]}},
             "local_server_start_seconds": 0.6, "local_server_pays_from_samples": pays_from}
    _print({"llama": llama})
    printed = capsys.readouterr().out
    assert said in printed and "None" not in printed
    # Each round's ratio is shown beside the median, so a reader sees how much the machine drifted.
    assert "0.97, 1.0, 1.02" in printed and "by round: 1.25, 1.3, 1.41" in printed


@pytest.mark.parametrize("names", [["smolgen", "bare"], ["smolgen", "bare", "engine"]])
def test_each_round_runs_smolgen_right_beside_every_run_it_is_compared_with(names):
    for round_number in range(4):
        order = round_order(names, round_number)
        assert sorted(order) == sorted(names)
        beside = {order[i] for i in (order.index("smolgen") - 1, order.index("smolgen") + 1) if 0 <= i < len(order)}
        assert beside == set(names) - {"smolgen"}
    assert round_order(names, 1) == round_order(names, 0)[::-1]  # who goes first alternates
