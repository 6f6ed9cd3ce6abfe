"""Text that must fit, at 120×36 and 80×24: a setting's label never runs into its value or is cut, a
checkbox shows its box whole, review's status column holds a status decided after it opened, and a technique
tab that does not fit is counted by a mark at the strip's end. Each technique's form, shown for that, is also
checked to have its summary and to build its technique from the defaults."""

from __future__ import annotations

import pytest
from textual.containers import Grid
from textual.widgets import Checkbox, Footer, Label, Tab, Tabs

from tests.app.conftest import make_app, wait_for
from tests.app.fake_backend import FakeBackend
from tests.app.test_app_review import add_samples
from tests.app.test_app_stats import screen_text
from tui.app.widgets.tab_overflow import TabOverflowMark

SIZES = [(120, 36), (80, 24)]


@pytest.mark.parametrize("size", SIZES, ids=["120x36", "80x24"])
async def test_every_technique_form_says_what_it_does_builds_its_technique_and_fits_its_labels_and_checkboxes(
        app_store, prompts, size):
    """Each form once per size, for all it must hold: a summary, a technique built from its defaults, and every
    label beside its value and every checkbox whole."""
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=size) as pilot:
        for entry in app.techniques:
            app.main_screen.technique.show_technique(entry.key)
            form = f"#form-{entry.key}"
            await wait_for(pilot, lambda: bool(app.main_screen.query(f"{form} Grid")), what=entry.title)
            await pilot.pause()
            assert app.main_screen.query(f"{form} .technique-summary"), entry.title
            technique = app.main_screen.technique.current_tab().technique()
            assert technique is not None and technique.name == entry.key
            for grid in app.main_screen.query(f"{form} Grid").results(Grid):
                cells = list(grid.children)
                for label, value in zip(cells[::2], cells[1::2]):
                    assert isinstance(label, Label)
                    text = str(label.render())
                    lines = label.region.height
                    assert "…" not in text and label.region.right <= value.region.x, (entry.title, text)
                    if lines == 1:
                        assert len(text) < label.region.width, (entry.title, text)  # a space before the value
                    else:  # a long label wraps, whole, onto a second line
                        assert len(text) <= (label.region.width - 1) * lines, (entry.title, text)
            for checkbox in app.main_screen.query(f"{form} Checkbox").results(Checkbox):
                assert "…" not in str(checkbox.render()) and checkbox.region.width >= 5, entry.title


@pytest.mark.parametrize("size", SIZES, ids=["120x36", "80x24"])
async def test_a_status_decided_in_review_is_shown_whole(app_store, prompts, size):
    add_samples(app_store, "What is a seed?", "Why do seeds matter?")
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=size) as pilot:
        await pilot.press("ctrl+r", "r")  # every sample was new when review opened
        await pilot.pause()
        assert "rejected" in screen_text(app) and "rejec…" not in screen_text(app)


@pytest.mark.parametrize("size", SIZES, ids=["120x36", "80x24"])
@pytest.mark.parametrize("keys", [(), ("ctrl+r",), ("ctrl+t",)], ids=["main", "review", "stats"])
async def test_every_key_in_the_footer_is_shown_whole(app_store, prompts, size, keys):
    add_samples(app_store, "What is a seed?")
    app = make_app(app_store, prompts, FakeBackend())

    def keys_shown() -> list:
        return [key for key in app.screen.query_one(Footer).query("FooterKey") if key.display]

    def every_key_whole() -> bool:
        shown = keys_shown()
        palettes = [key for key in shown if key.has_class("-command-palette")]
        if not palettes:  # not composed yet
            return False
        palette = palettes[0]
        return all(key.region.right <= palette.region.x for key in shown if key is not palette) \
            and palette.region.right <= app.screen.query_one(Footer).region.right

    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model loaded")
        await pilot.press(*keys)
        await wait_for(pilot, every_key_whole, timeout=10, what="every key in the footer whole")
        assert len(keys_shown()) >= 5  # the screen's own keys at least, and the palette's


@pytest.mark.parametrize("size", SIZES, ids=["120x36", "80x24"])
async def test_every_technique_tab_label_is_whole_or_a_mark_counts_it_and_the_active_tab_is_always_shown(app_store, prompts, size):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=size) as pilot:
        pane = app.main_screen.technique
        strip = pane.tabs.query_one(Tabs).query_one("#tabs-scroll")

        def shown_and_counted() -> tuple[bool, dict[bool, str], dict[bool, str]]:
            """Whether the active tab lies inside the strip; the marks shown; the marks the cut tabs call for."""
            seen = strip.region
            tabs = list(pane.tabs.query(Tab))
            active = pane.tabs.query_one(Tabs).active_tab
            marks = {mark.has_class("-left"): str(mark.render()) for mark in pane.query(TabOverflowMark) if mark.display and mark.visible}
            cut_left = sum(1 for tab in tabs if tab.region.x < seen.x)
            cut_right = sum(1 for tab in tabs if tab.region.right > seen.right)
            due = {**({True: f"◂{cut_left}"} if cut_left else {}), **({False: f"{cut_right}▸"} if cut_right else {})}
            return seen.x <= active.region.x and active.region.right <= seen.right, marks, due

        for key in [entry.key for entry in app.techniques] + ["pipeline"]:
            pane.show_technique(key)
            # The strip scrolls to the tab after a refresh, and the marks follow the scroll: wait for both to settle.
            await wait_for(pilot, lambda: shown_and_counted()[0] and shown_and_counted()[1] == shown_and_counted()[2],
                           timeout=10, what=f"the {key} tab shown and the marks counting the cut tabs")
            shown, marks, due = shown_and_counted()
            assert shown and marks == due, (size, key)
            if size == (120, 36):
                assert not marks  # every tab fits the strip at this size
