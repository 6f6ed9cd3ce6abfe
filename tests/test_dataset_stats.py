"""Quality figures on small hand-made datasets with known answers, and `smolgen stats` end to end."""

import json
import sys

import pytest

from tests.conftest import run_cli, run_smolgen
from tui.engine.dataset_stats import compare, compute_stats, distinct_n, first_word, is_question, words


def find_clusters(*args, **kwargs):
    # Imported here: datasketch brings scipy, and only the worker that runs these tests should pay for it.
    from tui.engine.minhash_clusters import find_clusters as find

    return find(*args, **kwargs)


def test_distinct_n_known_values():
    texts = ["a b c", "A b d"]
    assert distinct_n(texts, 1) == pytest.approx(4 / 6)
    assert distinct_n(texts, 2) == pytest.approx(3 / 4)
    assert distinct_n(["one"], 2) == 0.0


def test_questions_and_imperatives():
    assert is_question("What is the Smol Course?")
    assert is_question("how do I fine-tune a model")
    assert is_question("Mục đích của Khóa học Smol là gì?")
    assert not is_question("Explain LoRA in two sentences.")
    assert first_word("  Explain, briefly, LoRA") == "explain"


def _sample(i, instruction, **extra):
    return {"id": i, "technique": "magpie", "status": "new", "run_id": 1, "instruction": instruction,
            "response": "An answer.", "flags": [], **extra}


DISTINCT = [
    "Explain photosynthesis to a ten year old.",
    "Write a haiku about autumn rain.",
    "What is the capital of Australia?",
    "List three uses of baking soda.",
    "How do vaccines train the immune system?",
    "Summarize the plot of Hamlet in two sentences.",
    "Why is the sky blue during the day?",
    "Give me a recipe for a quick vegetable soup.",
    "Compare TCP and UDP for a video call.",
    "Describe the water cycle step by step.",
]


def test_a_planted_duplicate_cluster_is_found():
    samples = [_sample(i, text) for i, text in enumerate(DISTINCT)]
    samples += [
        _sample(100, "What is the capital of Australia ?"),
        _sample(101, "what is the capital of australia?"),
        _sample(102, "What is the capital city of Australia?"),
    ]
    items = [(s["id"], s["instruction"]) for s in samples]
    assert find_clusters(items, 0.7) == [[100, 101, 2]]  # "capital city" is a rewording below 0.7
    assert find_clusters(items, 0.5) == [[100, 101, 102, 2]]  # the threshold is configurable
    assert compute_stats(samples).clusters == [[100, 101, 2]]


def test_vietnamese_near_duplicates_cluster_too():
    items = [(1, "Mục đích của Khóa học Smol là gì?"), (2, "Mục đích của khóa học Smol là gì ?"), (3, "Viết một bài thơ về mùa thu.")]
    assert find_clusters(items) == [[1, 2]]


def test_counts_lengths_and_diversity():
    samples = [
        _sample(1, "What is LoRA?", flags=["truncated"], lengths={"instruction": 5, "response": 40}),
        _sample(2, "Explain LoRA.", technique="chain", run_id=2, lengths={"instruction": 4, "response": 60}),
        {"id": 3, "technique": "chain", "status": "failed", "run_id": 2, "failure": {"reason": "empty"}},
    ]
    stats = compute_stats(samples)
    record = stats.record()
    assert record["counts"] == {
        "technique": {"magpie": 1, "chain": 2},
        "status": {"new": 2, "failed": 1},
        "run": {"1": 1, "2": 2},
        "flag": {"truncated": 1},
    }
    assert record["lengths"]["response_tokens"]["median"] == 50
    assert (stats.questions, stats.imperatives) == (1, 1)
    assert record["diversity"]["first_words"] == [{"word": "what", "count": 1}, {"word": "explain", "count": 1}]


def test_compare_two_selections():
    before = compute_stats([_sample(i, "Write a poem.") for i in range(3)])
    after = compute_stats([_sample(i, text) for i, text in enumerate(DISTINCT[:3])])
    rows = {name: (a, b) for name, a, b in compare(before, after)}
    assert rows["distinct_2"][0] < rows["distinct_2"][1]
    assert rows["near_duplicate_clusters"] == (1, 0)


@pytest.mark.model
def test_cli_stats_and_run_comparison_on_real_samples(tmp_path):
    for system in ("You are a helpful assistant.", "You are an AI assistant who helps users solve math problems."):
        result = run_smolgen("generate", "magpie", "--num", "3", "--user-max-tokens", "16", "--only-instruction",
                             "--no-filter", "user-turn-truncated", "--no-filter", "not-a-request",  # short turns, all kept
                             "--system", system, "--quiet", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    figures = json.loads(run_smolgen("stats", "--format", "json", cwd=tmp_path).stdout)
    assert figures["samples"] == 6 and figures["counts"]["run"] == {"1": 3, "2": 3}
    assert figures["lengths"]["instruction_tokens"]["count"] == 6
    assert 0 < figures["diversity"]["distinct_1"] <= 1
    text = run_smolgen("stats", cwd=tmp_path).stdout
    assert "instruction length (tokens)" in text and "distinct-2" in text and "\x1b[" not in text
    compared = json.loads(run_smolgen("stats", "--compare", "1", "2", "--format", "json", cwd=tmp_path).stdout)
    assert compared["runs"] == [1, 2] and compared["figures"]["samples"] == [3, 3]
    missing = run_smolgen("stats", "--run", "9", cwd=tmp_path)
    assert missing.returncode == 2 and "--run 9: " in missing.stderr


def test_words_fast_path_finds_the_regex_words():
    import re

    for text in ("Don't fine-tune_x  ?? 3.5 times\tTODAY.", "Mục đích của Khóa học Smol là gì?", "KELVIN \u212a sign", ""):
        assert words(text) == re.findall(r"\w+", text.lower())


def test_histogram_bins_have_whole_equal_widths():
    stats = compute_stats([_sample(i, "Write a poem.", lengths={"instruction": length, "response": 3})
                           for i, length in enumerate([3, 4, 4, 9, 50])])
    assert stats.instruction_tokens.bins(most=4) == [(3, 4), (15, 0), (27, 0), (39, 1)]  # width 12 = ceil(48 / 4)
    assert stats.response_tokens.bins() == [(3, 5)]
    assert compute_stats([]).instruction_tokens.bins() == []


def test_many_exact_copies_make_one_cluster_and_a_search_can_be_stopped():
    items = [(i, "Write a poem about the sea.") for i in range(300)] + [(i + 300, text) for i, text in enumerate(DISTINCT)]
    assert find_clusters(items) == [sorted(range(300), key=str)]
    assert find_clusters(items, should_stop=lambda: True) == []
    with pytest.raises(ValueError, match="threshold=0"):
        find_clusters(items, 0)


def test_the_stats_histogram_marks_whole_tokens_from_the_shortest_sample_never_below_0():
    from tui.cli_stats import histogram_text
    from tui.engine.dataset_stats import Histogram

    for values in ([12, 150, 300], [0, 0, 1], [7]):
        lines = histogram_text(Histogram(values), "lengths").splitlines()
        axis = lines[lines.index(next(line for line in lines if line.lstrip().startswith("└"))) + 1]
        ticks = axis.split()
        assert ticks and all(tick.isdigit() for tick in ticks), axis  # whole tokens, none negative
        assert int(ticks[0]) == min(values) and int(ticks[-1]) <= max(values) + 20, axis
        counts = [line.split("┤")[0].strip() for line in lines if "┤" in line]
        assert counts and all(count.isdigit() for count in counts), counts  # whole samples


def test_cli_compare_names_both_runs(tmp_path):
    from datetime import datetime

    from tui.engine.store import SampleStore

    with SampleStore(tmp_path / "smolgen.json") as store:
        runs = [store.start_run(technique=name) for name in ("magpie", "chain")]
        for run_id, count in zip(runs, (3, 1)):
            for i in range(count):
                store.add_sample({**_sample(i, f"Question {i} of run {run_id}?"), "run_id": run_id})
        started = [datetime.fromisoformat(run["started"]).astimezone().strftime("%H:%M") for run in store.list_runs()]
    result = run_cli("stats", "--compare", "1", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"A  run 1 · magpie · {started[0]} · 3 samples" in result.stdout
    assert f"B  run 2 · chain · {started[1]} · 1 sample\n" in result.stdout


def _judged(sample_id, run_id, technique, rating, tags=None):
    verdict = {"rating": rating, "failure": None if rating is not None else "overall: no usable answer in 3 tries",
               "tags": tags}
    return {"id": sample_id, "run_id": run_id, "technique": technique, "instruction": f"Question {sample_id}?",
            "response": "An answer.", "judgement": verdict}


def test_ratings_are_counted_over_the_scale_by_run_and_by_technique():
    samples = [
        _judged(1, 1, "magpie", 5, {"input_quality": "good", "difficulty": "easy", "task_category": "Math"}),
        _judged(2, 1, "magpie", 3.5, {"input_quality": "poor", "difficulty": "easy", "task_category": "Math"}),
        _judged(3, 2, "self-instruct", 1),
        _judged(4, 2, "self-instruct", None),  # the judge failed: counted apart, no score
        {"id": 5, "run_id": 2, "technique": "self-instruct", "instruction": "Never judged?"},
    ]
    stats = compute_stats(samples, with_clusters=False)
    ratings = stats.record()["ratings"]
    assert (ratings["rated"], ratings["failed"], ratings["mean"]) == (3, 1, 3.17)
    assert ratings["distribution"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}  # 3.5 rounds half up
    assert ratings["by_run"]["1"]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    assert ratings["by_run"]["2"] == {"rated": 1, "failed": 1, "mean": 1, "distribution": {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0}}
    assert ratings["by_technique"]["magpie"]["mean"] == 4.25
    assert ratings["tags"] == {"input_quality": {"good": 1, "poor": 1}, "difficulty": {"easy": 2}, "task_category": {"Math": 2}}


def test_cli_stats_shows_the_ratings(tmp_path):
    from tui.engine.store import SampleStore

    with SampleStore(tmp_path / "smolgen.json") as store:
        for sample in (_judged(1, 1, "magpie", 4), _judged(2, 1, "magpie", 2)):
            sample_id = store.add_sample({k: v for k, v in sample.items() if k not in ("id", "judgement")})
            store.set_judgement(sample_id, sample["judgement"])
    text = run_cli("stats", cwd=tmp_path).stdout
    assert "ratings: 2 samples rated, mean 3.00" in text
    assert [line.split() for line in text.splitlines() if line.strip().startswith(("all ", "run 1 "))] == [
        ["all", "0/1/0/1/0", "mean", "3.00", "of", "2"], ["run", "1", "0/1/0/1/0", "mean", "3.00", "of", "2"]]
    figures = json.loads(run_cli("stats", "--format", "json", cwd=tmp_path).stdout)
    assert figures["ratings"]["by_technique"]["magpie"]["rated"] == 2


def test_runs_compared_get_rating_rows_once_a_judge_rated_either(tmp_path):
    from tui.engine.store import SampleStore

    unrated = compute_stats([_judged(1, 1, "magpie", None)])
    assert "mean_rating" not in {name for name, _, _ in compare(unrated, unrated)}  # a failed verdict is no rating
    with SampleStore(tmp_path / "smolgen.json") as store:
        for _ in range(3):
            store.start_run(technique="magpie")
        for sample_id, run_id, rating in ((1, 1, 2), (2, 1, 3), (3, 2, 4.5), (4, 3, None)):
            store.add_sample({**_judged(sample_id, run_id, "magpie", rating), "status": "new"})
    compared = run_cli("stats", "--compare", "1", "2", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    rows = {line.split()[0]: line.split()[1:] for line in compared.stdout.splitlines()[3:]}
    assert rows["rated"] == ["2", "1", "-1"] and rows["mean_rating"] == ["2.5", "4.5", "+2"]
    against_unjudged = json.loads(run_cli("stats", "--compare", "1", "3", "--format", "json", cwd=tmp_path).stdout)
    assert against_unjudged["figures"]["mean_rating"] == [2.5, None]
    shown = run_cli("stats", "--compare", "1", "3", cwd=tmp_path).stdout
    assert [line.split()[1:] for line in shown.splitlines() if line.startswith("mean_rating")] == [["2.5", "–"]]


def test_stats_with_fewer_than_two_instructions_do_not_load_the_cluster_search(monkeypatch):
    # datasketch and scipy take most of a small `smolgen stats`: with no pair to compare they are not imported.
    monkeypatch.setitem(sys.modules, "tui.engine.minhash_clusters", None)  # importing it now raises ImportError
    one = [{"id": 1, "instruction": "What is a Smol model?", "response": "A small one.", "status": "accepted"}]
    for samples in ([], one):
        assert compute_stats(samples, with_clusters=True).clusters == []
