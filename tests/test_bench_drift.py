"""`smolgen bench drift`: the labelled real evolutions it measures, and the flag's figures from them."""

import json

from tests.conftest import run_cli
from tui.bench.drift import LABELLED


def test_the_labelled_set_holds_real_pairs_of_both_kinds():
    pairs = json.loads(LABELLED.read_text(encoding="utf-8"))["pairs"]
    assert len(pairs) >= 60 and {p["kept"] for p in pairs} == {True, False}
    assert all(p["seed"].strip() and p["parent"].strip() and p["evolution"].strip() and p["parent"] != p["evolution"] for p in pairs)


def test_the_flag_separates_kept_from_lost_evolutions_without_a_model(tmp_path):
    done = run_cli("bench", "drift", "--words-only", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert list(figures["auc"]) == ["content-word overlap (the flag)"]  # no model signal asked for
    assert figures["auc"]["content-word overlap (the flag)"]["all"] >= 0.85
    for population in ("all", "gated"):  # most lost evolutions flagged, few kept ones
        row = figures["populations"][population]
        assert row["lost_flagged"] / row["lost"] > 0.5 and row["kept_flagged"] / row["kept"] < 0.15
