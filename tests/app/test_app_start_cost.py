"""What the app's start costs: how often Textual styles each widget, composes the footer's keys, reads the
template, lays the screen out. Each test fails if work the start once did twice comes back."""

from __future__ import annotations

import gc
import threading
from collections import Counter

from textual import events
from textual.color import Color
from textual.css import stylesheet as stylesheet_module
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode
from textual.widgets import Label

from tests.app.conftest import fast_paint_only, make_app, settle, show_form, wait_for
from tests.app.fake_backend import FakeBackend
from tui.app import fast_paint
from tui.app.collector import YOUNG_OBJECTS_PER_PASS
from tui.app.fast_paint import probe, shared_css
from tui.app.fast_paint.probe import count_drawing
from tui.app.widgets.technique_pane import TechniquePane
from tui.app.widgets.technique_tab import TechniqueTab
from tui.app.widgets.template_editor import TemplateEditor


def count_styling(app) -> Counter:
    """How many times the stylesheet styles each widget from now on (the virtual nodes of its parts left out)."""
    styled: Counter = Counter()
    apply = app.stylesheet.apply

    def counted_apply(node, **options):
        if type(node) is not DOMNode:
            styled[node] += 1
        return apply(node, **options)

    app.stylesheet.apply = counted_apply
    return styled


async def test_a_widget_that_changes_nothing_is_styled_once_as_it_mounts(app_store, prompts):
    """Not again as its screen is first shown (Textual restyles a screen's every widget then), nor when the
    first resize gives the main screen its breakpoint class (which restyles the whole screen), nor when a
    pane's :focus-within restyles everything inside it."""
    app = make_app(app_store, prompts, FakeBackend())
    styled = count_styling(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        labels = list(app.main_screen.query(Label))
        assert len(labels) > 10
        assert max(styled[label] for label in labels) == 1


async def test_a_forms_fields_are_styled_once_as_they_mount_not_at_each_class_they_take_before(app_store, prompts):
    """Textual styles a widget at each change of its classes even before it is in the DOM (an input made
    compact as it is made, a checkbox ticked), and then again as it mounts."""
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        styled = count_styling(app)
        fields = list((await show_form(pilot, "magpie")).query("Input, Checkbox"))
        assert len(fields) > 10 and max(styled[field] for field in fields) == 1


async def test_moving_the_focus_restyles_the_widgets_it_leaves_and_reaches_not_their_panes_contents(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        seeds, technique = app.main_screen.seeds, app.main_screen.technique
        assert seeds.has_class("-focus-within") and not technique.has_class("-focus-within")  # its border lit
        styled = count_styling(app)
        await pilot.press("tab")  # from the seed list to the Samples field: the two panes' borders change
        await pilot.pause()
        assert app.focused.id == "run-num"
        assert technique.has_class("-focus-within") and not seeds.has_class("-focus-within")
        # The two fields and the two panes (keys the footer composes are new widgets). Without fast paint,
        # Textual restyles everything inside a pane whose class changes.
        restyled = {type(node).__name__ for node in styled} - {"FooterKey"}
        assert restyled <= {"SeedList", "QuietInput", "SeedsPane", "TechniquePane"} or not fast_paint.ENABLED
        styled.clear()
        await pilot.press("tab")  # to the Seed field, in the same pane
        await pilot.pause()
        assert app.focused.id == "run-seed" and technique.has_class("-focus-within")
        assert {node for node in styled if type(node).__name__ != "FooterKey"} <= {app.main_screen.query_one("#run-num"), app.focused}


@fast_paint_only  # Textual's own footer composes its keys anew at every change of the bindings
async def test_the_footer_composes_its_keys_once_as_the_app_starts(app_store, prompts):
    """The screen's bindings change several times as the focus settles, before the first composition runs;
    and a key is styled as it mounts, not also as Textual makes it compact and then not."""
    mounted: Counter = Counter()

    def count_mounts(message) -> None:
        if isinstance(message, events.Mount):
            mounted[type(probe.sender(message)).__name__] += 1

    app = make_app(app_store, prompts, FakeBackend())
    styled = count_styling(app)
    async with app.run_test(size=(120, 36), message_hook=count_mounts) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        shown = app.main_screen.query("FooterKey")
        assert len(shown) > 5 and mounted["FooterKey"] == len(shown)
        assert max(styled[key] for key in shown) <= 2  # the palette's key is compact from birth: it is restyled once


async def test_the_first_technique_form_is_composed_with_its_pane(app_store, prompts, monkeypatch):
    """Not mounted once the pane is: its widgets then arrived a round later, one more layout of the screen."""
    composed: list[bool] = []
    on_mount = TechniquePane.on_mount
    monkeypatch.setattr(TechniquePane, "on_mount", lambda pane: (composed.append(bool(pane.query(TechniqueTab))), on_mount(pane)))
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: composed, what="the technique pane")
        assert composed == [True]


@fast_paint_only  # Textual lays the screen out at every resize event
async def test_a_resize_to_the_same_size_lays_nothing_out(app_store, prompts):
    """As the app starts the main screen gets several (its first size, its own first layout's, the terminal's)."""
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        drawing = count_drawing(app, app.main_screen)
        await settle(pilot, drawing, what="the start to settle")  # the seed list's first frame lays its pane out
        settled = drawing["layouts"]
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        assert drawing["layouts"] == settled
        await pilot.resize_terminal(100, 36)  # a new size is laid out: the width changes a frame before the layout runs
        await wait_for(pilot, lambda: app.main_screen.size.width == 100 and drawing["layouts"] > settled,
                       what="a layout at the new width")


@fast_paint_only  # Textual lays the screen out again after every layout that changed a widget's virtual size
async def test_a_layout_that_changes_virtual_sizes_is_not_followed_by_another(app_store, prompts):
    """A shorter terminal changes the height of the panes and of what they hold (virtual sizes the layout
    itself works out), and no scroll bar, tab or key: one layout."""
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        drawing = count_drawing(app, app.main_screen)
        await settle(pilot, drawing, what="the start to settle")
        before = drawing["layouts"]
        await pilot.resize_terminal(120, 30)
        await wait_for(pilot, lambda: app.main_screen.size.height == 30, what="the new height")
        await settle(pilot, drawing, what="the new height to settle")
        assert drawing["layouts"] == before + 1


class ReportsWhenLet(FakeBackend):
    """Tells the app nothing of its model (the file read, the load's progress, the model) until `hold` is set.
    The status bar lays the screen out as it shows each, and on a busy machine they arrive after the first frame."""

    def inspect(self, path):
        self.hold.wait(10)
        return super().inspect(path)


@fast_paint_only  # the first frame is drawn once the start's layouts are done
async def test_the_seed_lists_first_frame_lays_nothing_out(app_store, prompts):
    """The list works out its lines (so its scroll range) as it first draws them: the main screen is laid
    out no more once it is first drawn."""
    held = threading.Event()
    app = make_app(app_store, prompts, ReportsWhenLet(hold=held))
    drawing = count_drawing(app, app.main_screen)
    compositor = probe.compositor(app.main_screen)
    draw_whole = compositor.render_full_update
    laid_out: list[int] = []  # the layouts before each frame of the whole screen
    compositor.render_full_update = lambda *args, **kwargs: (laid_out.append(drawing["layouts"]), draw_whole(*args, **kwargs))[1]
    async with app.run_test(size=(120, 36)) as pilot:
        try:
            await wait_for(pilot, lambda: laid_out, what="a frame")
            await settle(pilot, drawing, what="the start to settle")
            assert [drawing["layouts"]] == laid_out
        finally:
            held.set()
        await wait_for(pilot, lambda: app.model is not None, what="the model")


@fast_paint_only  # Textual draws a screen as it is shown, then at each layout as the widgets its widgets mount arrive
async def test_the_main_screen_is_drawn_whole_once_as_the_app_starts(app_store, prompts):
    """Not also as Textual's blank first screen below it is laid out, nor at each round of widgets arriving."""
    app = make_app(app_store, prompts, FakeBackend())
    drawing = count_drawing(app, app.main_screen)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None and drawing["full repaints"], what="the model and a frame")
        await pilot.pause()
        assert drawing["full repaints"] == 1
        assert app.screen_stack == [app.main_screen]


async def test_the_template_is_read_once_as_its_form_is_shown(app_store, prompts, monkeypatch):
    """The template select announces its first value as it mounts; the editor shows that template already."""
    shown: list[str] = []
    show_template = TemplateEditor.show_template
    monkeypatch.setattr(TemplateEditor, "show_template", lambda editor, name: (shown.append(name), show_template(editor, name)))
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.query(TemplateEditor), what="the template editor")
        await pilot.pause()
        assert len(shown) == 1
        editor = app.main_screen.query_one(TemplateEditor)
        select = app.main_screen.query_one(f"#{editor.id.removesuffix('--editor')}")
        other = next(name for name in prompts.names() if name != editor.template_name)
        select.value = other  # a person choosing another template still sees it
        await wait_for(pilot, lambda: editor.template_name == other, what="the other template")
        assert shown == [shown[0], other]


async def test_the_model_being_loaded_is_named_without_a_new_layout(app_store, prompts):
    """The status line's box is the bar's whatever it says: a new text is a frame, not a layout of the screen."""
    hold = threading.Event()
    app = make_app(app_store, prompts, FakeBackend(hold=hold))
    async with app.run_test(size=(120, 36)) as pilot:
        def shown() -> str:
            return str(app.main_screen.query_one("#model-status").render()) if app.main_screen.query("#model-status") else ""

        await wait_for(pilot, lambda: shown().startswith("Loading SmolLM2-fake.gguf"), what="the model being loaded")
        await pilot.pause()
        drawing = count_drawing(app, app.main_screen)
        app.main_screen.status_bar.model_loading(None)  # as when a person opens another model
        await pilot.pause()
        hold.set()
        assert shown() == "Loading the model…"
        assert drawing["layouts"] == 0 and drawing["frames"] >= 1


def count_css_parses(monkeypatch) -> list[str]:
    """The CSS text of each parse from now on."""
    parsed: list[str] = []
    parse = stylesheet_module.parse

    def counted(scope, css, *args, **kwargs):
        parsed.append(css)
        return parse(scope, css, *args, **kwargs)

    monkeypatch.setattr(stylesheet_module, "parse", counted)
    return parsed


@fast_paint_only  # Textual parses every App's CSS and its widgets' again for each App
async def test_an_app_parses_only_css_no_app_of_the_process_parsed_before(app_store, prompts, monkeypatch):
    async with make_app(app_store, prompts, FakeBackend()).run_test(size=(120, 36)) as pilot:
        await pilot.pause()
    parsed = count_css_parses(monkeypatch)
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        assert len(app.stylesheet.rules) > 100 and parsed == []


def test_parsed_css_is_shared_only_between_stylesheets_with_the_same_variables(monkeypatch):
    """The variables (the theme's colours) are part of the rules a parse yields."""
    css = "Label { color: $accent; }"
    source = ("test", "share")

    def rules_with(accent: str) -> list:
        stylesheet = Stylesheet(variables={"accent": accent})
        shared_css.share_parsed_css(stylesheet)
        stylesheet.add_source(css, read_from=source)
        return stylesheet.rules

    parsed = count_css_parses(monkeypatch)
    red = rules_with("#ff0000")
    assert len(parsed) == 1 and red[0].styles.color == Color.parse("#ff0000")
    blue = rules_with("#0000ff")
    assert len(parsed) == 2 and blue[0].styles.color == Color.parse("#0000ff")
    assert rules_with("#ff0000") == red and len(parsed) == 2


def in_collectors_reach(obj) -> bool:
    """Whether the garbage collector's passes walk `obj` (gc.freeze takes objects out of every generation)."""
    return any(other is obj for other in gc.get_objects())


async def test_while_the_app_runs_the_collector_leaves_its_start_alone_and_passes_less_often(app_store, prompts):
    """The modules and the main screen's widgets live as long as the app: a full pass of the collector
    walked them all again, many times a second. As the app ends, the collector is as it was."""
    threshold = gc.get_threshold()
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        await pilot.pause()
        seeds = app.main_screen.seeds
        assert not in_collectors_reach(seeds) and not in_collectors_reach(app)
        assert gc.get_threshold()[0] >= YOUNG_OBJECTS_PER_PASS > threshold[0]
    assert gc.get_threshold() == threshold
    assert in_collectors_reach(seeds) and in_collectors_reach(app)
