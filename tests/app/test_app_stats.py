"""The stats screen (ctrl+t): figures with known answers on screen, clusters curated, runs compared, live updates."""

from __future__ import annotations

import json
import re

from textual.widgets import Input

from tests.app.conftest import make_app, notifications, show_form, wait_for
from tests.app.fake_backend import FakeBackend
from tests.app.test_app_review import on_disk
from tests.conftest import run_cli
from tui.app.fast_paint import probe
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.review import ReviewScreen
from tui.app.screens.stats import StatsScreen


def add(store, instruction: str, technique: str = "magpie", run_id: int | None = None, status: str = "new", **extra) -> int:
    response = extra.pop("response", f"About: {instruction}")
    sample_id = store.add_sample({
        "technique": technique, "run_id": run_id, "instruction": instruction, "response": response,
        "conversation": [{"role": "user", "content": instruction}, {"role": "assistant", "content": response}],
        "flags": [], **extra,
    })
    if status != "new":
        store.set_status([sample_id], status)
    return sample_id


def screen_text(app) -> str:
    """What the terminal shows right now, as plain text."""
    return "\n".join(strip.text for strip in probe.frame_lines(app.screen))


async def open_stats(pilot, clusters: bool = True) -> StatsScreen:
    await pilot.press("ctrl+t")
    screen = pilot.app.screen
    assert isinstance(screen, StatsScreen)
    await wait_for(pilot, lambda: screen.figures_shown_at is not None, what="the figures")
    if clusters:
        await wait_for(pilot, lambda: screen.clusters_shown_at is not None, what="the clusters")
    await pilot.pause()
    return screen


async def wait_for_screen(pilot, shows, what: str) -> None:
    """Wait until `shows(text on screen)` holds; on a timeout, say what the screen showed instead."""
    try:
        await wait_for(pilot, lambda: shows(screen_text(pilot.app)), what=what)
    except AssertionError as error:
        raise AssertionError(f"{error}; the screen shows:\n{screen_text(pilot.app)}") from None


def has(text: str, *cells: str) -> bool:
    """Whether one line of `text` shows the cells in order, with only spaces between them."""
    return re.search(r"\s+".join(map(re.escape, cells)), text) is not None


async def test_figures_of_a_hand_made_store_are_on_the_screen(app_store, prompts):
    run_1, run_2 = app_store.start_run(technique="magpie"), app_store.start_run(technique="chain")
    add(app_store, "What is the Smol Course?", run_id=run_1, lengths={"instruction": 6, "response": 4})
    add(app_store, "Explain LoRA in one line.", run_id=run_1, status="accepted", flags=["truncated"],
        lengths={"instruction": 8, "response": 12})
    add(app_store, "What is the LoRA rank?", technique="chain", run_id=run_2, status="rejected",
        lengths={"instruction": 9, "response": 20})
    app_store.add_sample({"technique": "chain", "run_id": run_2, "status": "failed", "failure": {"reason": "empty", "message": "no text"}})
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(110, 40)) as pilot:
        await open_stats(pilot)
        text = screen_text(app)
        assert "4 samples" in text
        assert has(text, "magpie", "2", "50%") and has(text, "chain", "2", "50%")
        assert has(text, "accepted", "1", "25%") and has(text, "failed", "1", "25%")
        assert has(text, f"run {run_1}", "2") and has(text, "truncated", "1", "25%")
        # 15 words, 11 distinct; 12 word pairs, 10 distinct; two questions, one imperative.
        assert has(text, "distinct-1", "0.733") and has(text, "distinct-2", "0.833")
        assert has(text, "questions", "2", "67%") and has(text, "imperatives", "1", "33%")
        assert has(text, "what", "█" * 12, "2") and has(text, "explain", "█" * 6, "1")  # bars scaled to the first
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app)
        assert has(text, "median 8 · mean 7.7 · p90 9 · max 9", "median 12 · mean 12 · p90 20 · max 20")
        assert "Instruction length (tokens)" in text and "Response length (tokens)" in text
        # The filters narrow every figure, like `smolgen stats --status`.
        app.screen.query_one("#stats-status").value = "accepted"
        await wait_for_screen(pilot, lambda text: "1 sample ·" in text, "the accepted sample alone")
        assert has(screen_text(app), "median 8 · mean 8 · p90 8 · max 8", "median 12 · mean 12 · p90 12 · max 12")


async def test_a_planted_cluster_is_found_reviewed_and_kept_once(app_store, prompts):
    for instruction in ("Explain photosynthesis to a ten year old.", "Write a haiku about autumn rain.",
                        "List three uses of baking soda.", "Describe the water cycle step by step."):
        add(app_store, instruction)
    original = add(app_store, "What is the capital of Australia?", status="accepted")
    copies = [add(app_store, "what is the capital of australia?"), add(app_store, "What is the capital of Australia ?")]
    reworded = add(app_store, "What is the capital city of Australia?")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(110, 32)) as pilot:
        stats = await open_stats(pilot)
        await pilot.press("3")
        await pilot.pause()
        assert stats.clusters == [[original, *copies]]  # the rewording is below the 0.7 threshold
        text = screen_text(app)
        assert "1 cluster, 3 samples in them (threshold 0.7)" in text and has(text, "3", "1 accepted · 2 new")

        await pilot.press("enter")  # one key: the review screen with just this cluster
        assert isinstance(app.screen, ReviewScreen)
        assert sorted(row.id for row in app.screen.shown) == [original, *copies]
        await pilot.press("escape")
        assert app.screen is stats

        await pilot.press("K")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert all(on_disk(app_store)[str(i)]["status"] == "new" for i in copies)
        await pilot.press("K", "y")
        await pilot.pause()
        stored = on_disk(app_store)
        assert stored[str(original)]["status"] == "accepted"
        assert [stored[str(i)]["status"] for i in copies] == ["rejected", "rejected"]
        assert stored[str(reworded)]["status"] == "new"
        await wait_for_screen(pilot, lambda text: has(text, "3", "1 accepted · 2 rejected"), "the cluster's new statuses")

        # The threshold is edited on the screen (t focuses its field): lower, the rewording joins the cluster.
        threshold = stats.query_one("#threshold", Input)
        await pilot.press("t")
        assert app.focused is threshold
        threshold.value = "0.5"
        await pilot.press("enter")
        await wait_for(pilot, lambda: stats.clusters == [[original, *copies, reworded]], what="clusters at 0.5")
        assert "1 cluster, 4 samples in them (threshold 0.5)" in screen_text(app)
        await pilot.press("t")
        threshold.value = "two"
        await pilot.press("enter")
        assert any("Threshold 'two': give a number above 0" in message for message in notifications(app))
        assert stats.threshold == 0.5


async def test_two_runs_are_compared_side_by_side(app_store, prompts):
    before, after = app_store.start_run(technique="magpie"), app_store.start_run(technique="magpie")
    for _ in range(3):
        add(app_store, "Write a poem.", run_id=before)
    for instruction in ("Write a haiku about autumn rain.", "What is the capital of Australia?", "List three uses of baking soda."):
        add(app_store, instruction, run_id=after)
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(110, 32)) as pilot:
        stats = await open_stats(pilot)
        await pilot.press("4")
        await wait_for_screen(pilot, lambda text: has(text, "near-duplicate clusters", "1", "0"), "the comparison with clusters counted")
        text = screen_text(app)
        assert f"Run {before} (A) and run {after} (B)" in text
        assert has(text, "samples", "3", "3", "+0")
        assert has(text, "near-duplicate clusters", "1", "0", "-1")  # the repeated poem is one cluster
        assert has(text, "distinct-2", "0.3333", "1", "+0.6667")
        assert has(text, "share of questions", "0", "0.3333")
        # Picking other runs compares those: B against itself shows no change.
        stats.query_one("#run-a").value = after
        await wait_for_screen(pilot, lambda text: f"Run {after} (A) and run {after} (B)" in text, "the new pair")


async def test_runs_are_named_where_they_are_chosen_and_compare_starts_on_the_latest_two_with_samples(app_store, prompts):
    from datetime import datetime

    magpie, chain, empty = (app_store.start_run(technique=name) for name in ("magpie", "chain", "text"))
    add(app_store, "What is the Smol Course?", run_id=magpie)
    add(app_store, "Explain LoRA in one line.", run_id=magpie)
    add(app_store, "What is the LoRA rank?", technique="chain", run_id=chain)
    app_store.add_sample({"technique": "text", "run_id": empty, "status": "failed", "failure": {"reason": "empty", "message": "no text"}})
    started = {run["id"]: datetime.fromisoformat(run["started"]).astimezone().strftime("%H:%M") for run in app_store.list_runs()}
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 32)) as pilot:
        stats = await open_stats(pilot)
        await pilot.press("4")
        await wait_for_screen(pilot, lambda text: f"Run {magpie} (A) and run {chain} (B)" in text, "the latest two runs with samples")
        text = screen_text(app)
        assert f"run {magpie} · magpie · {started[magpie]} · 2 samples" in text
        assert f"run {chain} · chain · {started[chain]} · 1 sample" in text
        stats.query_one("#stats-run").focus()
        await pilot.press("enter")  # the run filter's list
        await wait_for_screen(pilot, lambda text: f"run {empty} · text · {started[empty]} · 0 samples" in text, "every run named")


def figures_settled(stats: StatsScreen) -> bool:
    """No new samples waiting to be counted, and no computation of the figures running or queued to run again:
    without another change, the figures are not computed again."""
    running = stats._workers.get("stats-figures")
    return stats._refresh_timer is None and "stats-figures" not in stats._again and (running is None or running.is_finished)


async def test_stats_follow_new_samples_and_coalesce_a_burst(app_store, prompts):
    for instruction in ("Write a haiku about autumn rain.", "List three uses of baking soda."):
        add(app_store, instruction)
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(110, 32)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the fake model")
        await show_form(pilot, "magpie")
        app.main_screen.query_one("#run-num").value = "2"
        stats = await open_stats(pilot)
        computations: list = []  # each computation of the figures started
        compute = stats.compute_figures
        stats.compute_figures = lambda selection: computations.append(selection) or compute(selection)
        assert "2 samples" in screen_text(app)
        await pilot.press("ctrl+g")  # a run started from the stats screen: its samples arrive here
        await wait_for_screen(pilot, lambda text: "4 samples" in text, "the run's samples in the figures")
        assert has(screen_text(app), "magpie", "4", "100%")

        # Twenty samples published at once are one recomputation, not twenty.
        await wait_for(pilot, lambda: not app.running and figures_settled(stats), what="the run's last samples counted")
        settled = len(computations)
        for index in range(20):
            sample_id = add(app_store, f"Burst question number {index}?")
            app.samples_changed.publish(app_store.get_sample(sample_id))
        await wait_for_screen(pilot, lambda text: "24 samples" in text, "the burst in the figures")
        await wait_for(pilot, lambda: figures_settled(stats), what="the figures to settle")
        assert len(computations) - settled == 1
        assert stats.stats is not None and stats.stats.samples == 24 and stats.stats.questions >= 20


def test_bench_stats_smoke(tmp_path):
    result = run_cli("bench", "stats", "--samples", "200", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    times = json.loads(result.stdout)
    assert times["samples"] == 200
    assert 0 < times["figures_seconds"] <= times["clusters_seconds"] < 60
    assert times["engine_figures_seconds"] > 0 and times["clusters"] >= 0
    bad = run_cli("bench", "stats", "--samples", "1", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == "smolgen: bench stats: --samples 1: must be at least 2"
