"""SVG snapshots of the main screen, review, help and export at fixed sizes, with a scripted model."""

from __future__ import annotations

import pytest

from tests.app.conftest import make_app, wait_for
from tests.app.fake_backend import FakeBackend
from tests.app.test_app_review import add_samples
from tui.app.screens.export import FORMAT_SUMMARIES
from tui.engine.prompts import PromptLibrary
from tui.engine.store import SampleStore


@pytest.fixture
def snapshot_store(tmp_path, monkeypatch):
    """A store with fixed content, opened from inside its folder so paths show the same everywhere."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-prompts").mkdir()
    with SampleStore(tmp_path / "smolgen.json") as store:
        store.add_seeds([{"text": "Generate a question about the Smol Course on small AI models."},
                         {"text": "Tạo một câu hỏi về Khóa học Smol."}])
        yield store


def snapshot_app(store: SampleStore):
    return make_app(store, PromptLibrary(store.path.parent / "my-prompts"), FakeBackend())


async def model_ready(pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.model is not None)
    await pilot.pause()


def test_main_screen_after_a_run(snap_compare, snapshot_store):
    async def generate(pilot):
        await model_ready(pilot)
        pilot.app.main_screen.technique.show_technique("magpie")
        await wait_for(pilot, lambda: bool(pilot.app.main_screen.query("#form-magpie")))
        pilot.app.main_screen.query_one("#run-num").value = "2"
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in str(pilot.app.main_screen.query_one("#stage").render()))
        await wait_for(pilot, lambda: "kept 2" in str(pilot.app.main_screen.query_one("#finished-title").render()))
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(snapshot_app(snapshot_store), terminal_size=(100, 32), run_before=generate)


def test_main_screen_at_80x24(snap_compare, snapshot_store):
    assert snap_compare(snapshot_app(snapshot_store), terminal_size=(80, 24), run_before=model_ready)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
def test_technique_tab_strip_with_evolinstruct_shown(snap_compare, snapshot_store, size):
    """Every tab on the strip at 120×36; at 80×24 marks count the tabs beyond each end."""
    async def show_evol(pilot):
        await model_ready(pilot)
        pilot.app.main_screen.technique.show_technique("evol-instruct")
        await wait_for(pilot, lambda: bool(pilot.app.main_screen.query("#form-evol-instruct")))
        await pilot.pause()

    assert snap_compare(snapshot_app(snapshot_store), terminal_size=size, run_before=show_evol)


def test_review_screen(snap_compare, snapshot_store):
    first, second, _, _ = add_samples(snapshot_store, "What is the Smol Course?", "Explain Magpie in one line.",
                                      "what is the smol course?", "Tóm tắt khóa học Smol.")
    snapshot_store.set_status([first], "accepted")
    snapshot_store.set_status([second], "rejected")
    snapshot_store.set_judgement(first, {
        "judge": "judge.gguf", "aspects": ["overall"], "rating": 4, "failure": None,
        "ratings": {"overall": {"rating": 4, "rationale": "It asks one clear question."}},
        "tags": {"input_quality": "good", "difficulty": "easy", "task_category": "Information seeking"},
    })

    async def review(pilot):
        await model_ready(pilot)
        await pilot.press("ctrl+r")

    assert snap_compare(snapshot_app(snapshot_store), terminal_size=(100, 32), run_before=review)


def test_help_screen(snap_compare, snapshot_store):
    async def show_help(pilot):
        await model_ready(pilot)
        await pilot.press("f1")

    assert snap_compare(snapshot_app(snapshot_store), terminal_size=(100, 32), run_before=show_help)


def test_export_dialog(snap_compare, snapshot_store):
    accepted, _ = add_samples(snapshot_store, "Kept question", "Another question")
    snapshot_store.set_status([accepted], "accepted")

    async def export(pilot):
        await model_ready(pilot)
        await pilot.press("ctrl+e")

    assert snap_compare(snapshot_app(snapshot_store), terminal_size=(100, 32), run_before=export)


def test_export_dialog_for_the_hub_asks_for_a_folder(snap_compare, snapshot_store):
    accepted, _ = add_samples(snapshot_store, "Kept question", "Another question")
    snapshot_store.set_status([accepted], "accepted")

    async def export_hub(pilot):
        await model_ready(pilot)
        await pilot.press("ctrl+e", *["down"] * (len(FORMAT_SUMMARIES) - 1), "enter")  # hf, the last format

    assert snap_compare(snapshot_app(snapshot_store), terminal_size=(100, 40), run_before=export_hub)


def test_pipeline_tab_with_the_chapter_loaded(snap_compare, snapshot_store):
    async def load_chapter(pilot):
        from tests.app.test_app_pipeline import load_builtin, pipeline_tab

        tab = await pipeline_tab(pilot)
        await load_builtin(pilot, tab, "chapter")
        await pilot.press("down", "f7")  # the second step's form below, the drawing in view
        await pilot.pause()

    assert snap_compare(snapshot_app(snapshot_store), terminal_size=(100, 48), run_before=load_chapter)


def test_stats_screen(snap_compare, snapshot_store):
    from tests.app.test_app_stats import add

    first, second = snapshot_store.start_run(technique="magpie"), snapshot_store.start_run(technique="chain")
    for index, (instruction, run, status) in enumerate([
        ("What is the Smol Course?", first, "accepted"), ("what is the smol course ?", first, "new"),
        ("Explain Magpie in one line.", first, "rejected"), ("Tóm tắt khóa học Smol.", second, "new"),
        ("List three uses of a small model.", second, "accepted"), ("How does EvolInstruct deepen a prompt?", second, "new"),
    ]):
        add(snapshot_store, instruction, technique="magpie" if run == first else "chain", run_id=run, status=status,
            lengths={"instruction": 4 + index, "response": 10 + 3 * index}, flags=["truncated"] if index == 2 else [])

    async def stats(pilot):
        await model_ready(pilot)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "clusters_shown_at", None) is not None)
        await pilot.pause()

    assert snap_compare(snapshot_app(snapshot_store), terminal_size=(100, 32), run_before=stats)


def _compare_pairs_store(store: SampleStore) -> None:
    from tests.app.test_app_compare import add_pairs

    add_pairs(store, ("SmolLM2 is a family of small language models from Hugging Face, in 135M, 360M and 1.7B parameters.", 5,
                      "It is a course.", 2),
              ("Magpie writes the user's turn from the chat template's pre-query.", 4, "Magpie is a bird.", 1))


async def _compare(pilot) -> None:
    from tui.app.screens.compare import CompareScreen

    await model_ready(pilot)
    pilot.app.action_compare_pairs()
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and pilot.app.screen.shown_at is not None)


def test_compare_pairs_side_by_side_at_120x36(snap_compare, snapshot_store):
    _compare_pairs_store(snapshot_store)
    assert snap_compare(snapshot_app(snapshot_store), terminal_size=(120, 36), run_before=_compare)


def test_compare_pairs_stacked_at_80x24(snap_compare, snapshot_store):
    _compare_pairs_store(snapshot_store)
    assert snap_compare(snapshot_app(snapshot_store), terminal_size=(80, 24), run_before=_compare)
