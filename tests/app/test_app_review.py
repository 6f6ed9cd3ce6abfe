"""Review and curation by single keys; every change is in the store file at once."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from textual.widgets import TextArea

from tests.app.conftest import make_app, notifications, wait_for
from tests.app.fake_backend import FakeBackend
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.edit_sample import EditSampleScreen
from tui.app.screens.review import ReviewScreen, SampleTable
from tui.engine.store import SampleStore


def add_samples(store, *instructions: str, technique: str = "magpie") -> list[int]:
    ids = []
    for instruction in instructions:
        conversation = [{"role": "user", "content": instruction}, {"role": "assistant", "content": f"About: {instruction}"}]
        ids.append(store.add_sample({"technique": technique, "instruction": instruction, "response": f"About: {instruction}",
                                     "conversation": conversation, "flags": [], "tokens": {"prompt": 5, "completion": 12}}))
    return ids


def on_disk(store) -> dict[str, dict]:
    """The samples a crash right now would leave: a copy of the store's files, opened as a store."""
    copy_dir = Path(tempfile.mkdtemp())
    for suffix in ("", ".journal"):
        source = store.path.with_name(store.path.name + suffix)
        if source.exists():
            shutil.copy(source, copy_dir / source.name)
    with SampleStore(copy_dir / store.path.name) as copy:
        return {str(s["id"]): s for s in copy.list_samples()}


async def test_accept_reject_and_edit_are_written_to_the_store_file(app_store, prompts):
    first, second, third = add_samples(app_store, "What is SmolLM2?", "Explain Magpie.", "Tóm tắt khóa học Smol.")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("a")  # accept the first, the cursor moves on
        assert on_disk(app_store)[str(first)]["status"] == "accepted"
        await pilot.press("r")
        assert on_disk(app_store)[str(second)]["status"] == "rejected"
        assert "accepted 1" in app.sub_title and "rejected 1" in app.sub_title
        await pilot.press("k", "k", "j", "j")
        assert app.screen.selected_id() == third
        await pilot.press("e")
        assert isinstance(app.screen, EditSampleScreen)
        editor = app.screen.query_one(TextArea)
        editor.text = "[user]\nTóm tắt khóa học Smol.\n\n[assistant]\nMột khóa học ngắn về mô hình nhỏ."
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ReviewScreen)
        stored = on_disk(app_store)[str(third)]
        assert stored["response"] == "Một khóa học ngắn về mô hình nhỏ."
        assert stored["original"]["response"] == "About: Tóm tắt khóa học Smol."
        assert "edited" in app.screen.rows[2].flags


async def test_a_broken_edit_is_explained_and_nothing_is_saved(app_store, prompts):
    [sample_id] = add_samples(app_store, "What is SmolLM2?")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r", "e")
        app.screen.query_one(TextArea).text = "no role line"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, EditSampleScreen)
        assert "start with [user]" in str(app.screen.query_one("#problem").render())
        await pilot.press("escape")
    assert "original" not in app_store.get_sample(sample_id)


async def test_bulk_accept_applies_to_what_the_filter_shows_after_confirmation(app_store, prompts):
    add_samples(app_store, "Chain one", "Chain two", technique="chain")
    [magpie] = add_samples(app_store, "Magpie one")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r", "slash")
        await pilot.press(*"chain")
        await pilot.press("enter")
        review = app.screen
        assert [row.technique for row in review.shown] == ["chain", "chain"]
        await pilot.press("A")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app_store.status_counts()["accepted"] == 0
        await pilot.press("A", "y")
        await wait_for(pilot, lambda: app_store.status_counts()["accepted"] == 2)
        await pilot.pause()
        # The rows shown change in place and stay until the filter changes, as after `a`.
        assert [row.status for row in review.shown] == ["accepted", "accepted"]
        assert "accepted 2" in app.sub_title
    assert app_store.get_sample(magpie)["status"] == "new"


async def test_u_undoes_every_change_last_first_wherever_the_cursor_is_and_says_what(app_store, prompts):
    first, second, third = add_samples(app_store, "What is SmolLM2?", "Explain Magpie.", "Name a small model.")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        review = app.screen
        await pilot.press("a", "r")  # accept the first, reject the second; the cursor is on the third now
        await pilot.press("e")
        app.screen.query_one(TextArea).text = "[user]\nName a small model.\n\n[assistant]\nSmolLM2."
        await pilot.press("ctrl+s")
        await pilot.press("A", "y")  # the one new sample left, the edited third
        await wait_for(pilot, lambda: app_store.get_sample(third)["status"] == "accepted")
        await pilot.press("escape", "ctrl+r")  # history outlives the screen: it goes back to when the app opened
        review = app.screen
        await pilot.press("k", "k")  # the cursor is on the first sample, nowhere near the last change
        statuses = lambda: [on_disk(app_store)[str(i)]["status"] for i in (first, second, third)]  # noqa: E731
        await pilot.press("u")
        assert statuses() == ["accepted", "rejected", "new"]
        assert "Undid the accept of 1 shown sample: it is back to new." in notifications(app)
        await pilot.press("u")
        assert on_disk(app_store)[str(third)]["response"] == "About: Name a small model."
        assert "original" not in on_disk(app_store)[str(third)] and "edited" not in review.rows[2].flags
        assert "Undid the edit of sample #%d: its text is as it was." % third in notifications(app)
        await pilot.press("u")
        assert statuses() == ["accepted", "new", "new"] and review.selected_id() == second
        assert "Undid the reject of sample #%d: it is back to new." % second in notifications(app)
        await pilot.press("u")
        assert statuses() == ["new", "new", "new"] and [row.status for row in review.rows] == ["new"] * 3
        assert "new 3 · accepted 0" in app.sub_title
        await pilot.press("u")
        assert "Nothing to undo: no review change since the app opened." in notifications(app)
        assert statuses() == ["new", "new", "new"]


async def test_bulk_decisions_leave_samples_decided_the_other_way_alone_unless_asked(app_store, prompts):
    ids = add_samples(app_store, *(f"Question {i}" for i in range(6)))
    app_store.set_status(ids[:2], "rejected")
    app_store.set_status(ids[2:3], "accepted")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r", "A")
        question = str(app.screen.query_one("#question").render())
        assert question.startswith("Accept the 3 new samples the filter shows? 2 samples you rejected stay rejected")
        assert "1 sample already accepted." in question
        await pilot.press("y")
        await wait_for(pilot, lambda: app_store.status_counts()["accepted"] == 4)
        assert [app_store.get_sample(i)["status"] for i in ids[:2]] == ["rejected", "rejected"]
        assert any("Accepted 3 samples; 2 rejected left alone." in n for n in notifications(app))
        await pilot.press("A")  # nothing new is shown now: only then does A offer the rejected ones
        assert str(app.screen.query_one("#question").render()).startswith("Accept the 2 samples you rejected")
        await pilot.press("y")
        await wait_for(pilot, lambda: app_store.status_counts()["accepted"] == 6)
        await pilot.press("u")
        assert [app_store.get_sample(i)["status"] for i in ids[:2]] == ["rejected", "rejected"]


async def test_filters_narrow_the_table_and_the_conversation_is_shown(app_store, prompts):
    first, second = add_samples(app_store, "Alpha question", "Beta question")
    app_store.set_status([second], "rejected")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        review = app.screen
        assert "── assistant ──" in str(review.query_one("#conversation").render())
        review.query_one("#filter-status").value = "rejected"
        await pilot.pause()
        assert review.query_one(SampleTable).row_count == 1 and review.selected_id() == second
        assert "Beta question" in str(review.query_one("#conversation").render())
        await pilot.press("escape")
        assert app.screen is app.main_screen


async def test_an_evolved_sample_shows_its_parent_beside_the_conversation(app_store, prompts):
    [parent] = add_samples(app_store, "Explain photosynthesis.", technique="evol_instruct")
    evolved_instruction = "Explain photosynthesis to a ten-year-old, in three steps, without the word 'chlorophyll'."
    evolved = app_store.add_sample({
        "technique": "evol_instruct", "instruction": evolved_instruction, "response": "Plants eat light.",
        "conversation": [{"role": "user", "content": evolved_instruction}, {"role": "assistant", "content": "Plants eat light."}],
        "parent_id": parent, "parent_instruction": "Explain photosynthesis.",
        "evolution": {"round": 1, "operation": "constraints"},
    })
    [plain] = add_samples(app_store, "What is SmolLM2?")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("ctrl+r")
        review = app.screen
        panel, conversation = review.query_one("#parent"), review.query_one("#detail")
        assert review.selected_id() == parent and not panel.display  # the conversation alone
        await pilot.press("j")
        await pilot.pause()
        assert review.selected_id() == evolved and panel.display
        # Beside, not above: the same rows of the screen, the parent on the left.
        assert panel.region.y == conversation.region.y and panel.region.right <= conversation.region.x
        shown = str(review.query_one("#parent-text").render())
        assert "Explain photosynthesis." in shown and f"sample #{parent}" in shown and "constraints" in shown
        assert evolved_instruction[:30] in str(review.query_one("#conversation").render())
        await pilot.press("j")
        await pilot.pause()
        assert review.selected_id() == plain and not panel.display


async def test_a_large_store_is_reviewed_through_a_table_that_draws_only_what_is_on_screen(tmp_path, prompts):
    from tui.bench.synthetic import write_synthetic_store

    write_synthetic_store(tmp_path / "big.json", 20_000)
    with SampleStore(tmp_path / "big.json") as store:
        app = make_app(store, prompts, FakeBackend())
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.press("ctrl+r")
            review = app.screen
            table = review.query_one(SampleTable)
            assert "20000 of 20000 samples shown" in str(review.query_one("#shown").render())
            assert table.virtual_size.height == 20_001  # every row is reachable by scrolling...
            await pilot.press("end")
            assert review.selected_id() == 20_000 and table.scroll_offset.y > 19_900  # ...and the end is in view
            await pilot.press("a")
            assert on_disk(store)["20000"]["status"] == "accepted"
            await pilot.press("pageup", "k")
            assert review.selected_id() < 20_000 - 20
            await pilot.press("home")
            assert review.selected_id() == 1 and table.scroll_offset.y == 0
            await pilot.click(SampleTable, offset=(5, 3))  # the border, the header, then rows 1 and 2
            assert review.selected_id() == 2
            review.query_one("#filter-status").value = "accepted"
            await pilot.pause()
            accepted = store.status_counts()["accepted"]
            assert table.row_count == accepted and f"{accepted} of 20000 samples shown" in str(review.query_one("#shown").render())
            assert all(row.status == "accepted" for row in review.shown)


async def test_review_opens_on_the_first_sample_still_waiting_for_a_decision(app_store, prompts):
    failed = app_store.add_sample({"technique": "magpie", "instruction": "Morph: shift", "status": "failed",
                                   "error": "not_a_request", "flags": ["not_a_request"], "conversation": []})
    [waiting] = add_samples(app_store, "What is SmolLM2?")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        assert app.screen.selected_id() == waiting
        await pilot.press("a")
        assert on_disk(app_store)[str(waiting)]["status"] == "accepted"
        assert on_disk(app_store)[str(failed)]["status"] == "failed"


def _judge(store, sample_id, rating, tags=None, failure=None):
    """A verdict as `smolgen judge` stores it."""
    store.set_judgement(sample_id, {
        "judge": "a judge", "aspects": ["overall"], "rating": None if failure else rating, "failure": failure, "tags": tags,
        "ratings": {} if failure else {"overall": {"rating": rating, "rationale": "Clear and right."}},
    })


async def test_the_judges_rating_is_a_column_and_a_filter_with_its_tags(app_store, prompts):
    good, poor, failed, unrated = add_samples(app_store, "What is SmolLM2?", "Explain Magpie.", "Say hi.", "Sum 2 and 2.")
    _judge(app_store, good, 5, {"input_quality": "good", "difficulty": "easy", "task_category": "Information seeking"})
    _judge(app_store, poor, 2, {"input_quality": "poor", "difficulty": "medium", "task_category": "Math"})
    _judge(app_store, failed, None, failure="overall: no usable answer in 3 tries (not valid JSON)")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("ctrl+r")
        review = app.screen
        table = review.query_one(SampleTable)
        header = "".join(segment.text for segment in table.render_line(0))
        assert "Rating" in header
        cells = {row.id: "".join(segment.text for segment in table.render_line(index + 1)) for index, row in enumerate(table.rows)}
        assert " 5 " in cells[good] and " 2 " in cells[poor] and "failed" in cells[failed]
        assert "Clear and right." in str(review.query_one("#conversation").render())  # the first row's verdict shown

        def shown() -> list[int]:
            return [row.id for row in review.shown]

        review.query_one("#filter-rating").value = "4"
        await pilot.pause()
        assert shown() == [good]
        review.query_one("#filter-rating").value = "unrated"
        await pilot.pause()
        assert shown() == [unrated]
        review.query_one("#filter-rating").value = "judge-failed"
        await pilot.pause()
        assert shown() == [failed]
        review.query_one("#filter-rating").clear()
        review.query_one("#filter-tag").value = "Math"
        await pilot.pause()
        assert shown() == [poor]


async def test_a_store_never_judged_keeps_the_instruction_room_and_no_rating_filters(app_store, prompts):
    add_samples(app_store, "What is SmolLM2?")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+r")
        table = app.screen.query_one(SampleTable)
        assert "Rating" not in "".join(segment.text for segment in table.render_line(0))
        assert not app.screen.query_one("#filter-rating").display and not app.screen.query_one("#filter-tag").display


async def test_o_orders_by_rating_best_first_then_worst_first_then_as_stored_with_the_filters(app_store, prompts):
    fair, unrated, best, poor = add_samples(app_store, "Fair?", "Unrated?", "Best?", "Poor?")
    _judge(app_store, fair, 3)
    _judge(app_store, best, 5)
    _judge(app_store, poor, 1)
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("ctrl+r")
        review = app.screen
        shown_line = review.query_one("#shown")
        assert review.active_bindings["o"].binding.id == "review.sort_by_rating" and review.active_bindings["o"].enabled
        review.query_one("#filter-status").value = "new"
        await pilot.pause()

        def shown() -> list[int]:
            return [row.id for row in review.shown]

        assert shown() == [fair, unrated, best, poor]
        await pilot.press("o")
        assert shown() == [best, fair, poor, unrated] and "best rated first" in str(shown_line.render())
        assert review.selected_id() == fair  # the sample selected before stays selected
        await pilot.press("o")
        assert shown() == [poor, fair, best, unrated] and "worst rated first" in str(shown_line.render())
        review.query_one("#filter-rating").value = "3"  # rated 3 or more, still worst first
        await pilot.pause()
        assert shown() == [fair, best]
        review.query_one("#filter-rating").clear()
        await pilot.press("o")
        assert shown() == [fair, unrated, best, poor] and "rated first" not in str(shown_line.render())


async def test_sorting_by_rating_is_not_offered_before_any_sample_was_judged(app_store, prompts):
    add_samples(app_store, "What is SmolLM2?")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("ctrl+r")
        assert "review.sort_by_rating" not in {b.binding.id for b in app.screen.active_bindings.values() if b.enabled}
