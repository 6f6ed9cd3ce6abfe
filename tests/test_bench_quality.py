"""`smolgen bench quality` applies a cap profile and the gates to samples generated with wide caps: the
figures it prints are what a run with those caps and gates would have stored and exported."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, run_smolgen
from tui.bench.quality import Profile, apply_profile


def magpie_sample(instruction: str, response: str, user_tokens: int, answer_tokens: int) -> dict:
    calls = [{"completion_tokens": user_tokens, "finish_reason": "stop"}, {"completion_tokens": answer_tokens, "finish_reason": "stop"}]
    return {"technique": "magpie", "status": "new", "instruction": instruction, "response": response, "calls": calls,
            "seed_row": None, "system_prompt": None}


GOOD = magpie_sample("How do clouds form?", "Water vapour cools as it rises and condenses on dust into droplets.", 8, 20)
LONG_QUESTION = magpie_sample("Can you explain how the water cycle moves water between oceans and air?", "It evaporates and rains.", 300, 10)
LONG_ANSWER = magpie_sample("What is photosynthesis?", "Plants turn light, water and carbon dioxide into sugar and oxygen.", 10, 400)
LOOPING = magpie_sample("Name the stages of the water cycle.",
                        "Evaporation is when water turns into vapour. Evaporation is when water turns into vapour.", 9, 30)
SAMPLES = [GOOD, LONG_QUESTION, LONG_ANSWER, LOOPING]


def test_without_gates_a_cut_sample_is_counted_truncated_and_still_exported():
    figures = apply_profile("magpie", SAMPLES, Profile("before", 128, 256, gates=False))
    assert (figures.samples, figures.truncated, sum(figures.failures.values())) == (4, 2, 0)
    assert len(figures.exported) == 4


def test_with_gates_a_cut_user_turn_fails_a_cut_answer_is_left_out_and_a_loop_fails_repetition():
    figures = apply_profile("magpie", SAMPLES, Profile("after", 128, 256, gates=True))
    assert figures.failures == {"user_turn_truncated": 1, "repetition": 1}
    assert figures.truncated == 1
    assert figures.exported == [GOOD]


def test_a_wider_answer_cap_keeps_the_long_answer():
    figures = apply_profile("magpie", SAMPLES, Profile("after", 128, 512, gates=True))
    assert figures.exported == [GOOD, LONG_ANSWER] and figures.truncated == 0


def test_bad_flags_get_one_line_and_exit_2(tmp_path):
    for flags, named in [(("--reuse",), "--reuse"), (("--techniques", "magpie,poetry"), "--techniques"), (("--samples", "0"), "--samples")]:
        result = run_cli("bench", "quality", *flags, cwd=tmp_path)
        assert result.returncode == 2 and named in result.stderr and "Traceback" not in result.stderr, (flags, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.model
def test_a_small_run_generates_wide_prints_both_profiles_and_reads_its_store_again(tmp_path):
    store = tmp_path / "quality.json"
    result = run_smolgen("bench", "quality", "--samples", "2", "--techniques", "magpie", "--wide-cap", "24",
                         "--parallel", "1", "--threads", "1", "--store", str(store), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "magpie: generated 2 samples" in result.stdout
    table = result.stdout.split("\nmagpie: ")[1]
    assert "before" in table and "after" in table
    again = run_smolgen("bench", "quality", "--reuse", "--techniques", "magpie", "--store", str(store), cwd=tmp_path)
    assert again.returncode == 0 and "generated" not in again.stdout and "magpie: " in again.stdout, again.stderr
