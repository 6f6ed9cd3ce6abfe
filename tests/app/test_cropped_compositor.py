"""The main screen's compositor draws a partial update from fewer widgets, and the update is the same."""

from __future__ import annotations

import pytest

from tests.app.conftest import FAST_PAINT_OFF, make_app, wait_for
from tui.app import fast_paint

if not fast_paint.ENABLED:  # before the imports of Textual's private names, which another Textual may not have
    pytest.skip(FAST_PAINT_OFF, allow_module_level=True)

from textual.geometry import Region  # noqa: E402

from tests.app.fake_backend import FakeBackend  # noqa: E402
from tui.app.fast_paint import probe  # noqa: E402
from tui.app.fast_paint.cropped_compositor import CroppedCompositor, merge_regions  # noqa: E402
from tui.app.widgets.stream_view import StreamView  # noqa: E402


async def test_a_partial_update_is_what_textual_draws_from_fewer_widgets(app_store, prompts):
    app = make_app(app_store, prompts, FakeBackend())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, what="the model")
        stream = app.main_screen.query_one(StreamView)
        stream.append("Some streamed text that wraps over more than one line of the output pane, " * 3)
        await pilot.pause()
        compositor = probe.compositor(app.main_screen)
        assert isinstance(compositor, CroppedCompositor)
        last_line = Region(stream.region.x, stream.region.bottom - 1, stream.region.width, 1)
        stage, finished = (app.main_screen.query_one(name).region for name in ("#stage", "#finished"))
        status = [app.main_screen.query_one(name).region for name in ("#stage", "#progress", "#run-stats", "#finished")]
        title = Region(0, 0, 120, 1)
        cases = [
            [stream.region],  # the stream scrolled
            [last_line],  # a token added to the last line
            [last_line, app.main_screen.query_one("#run-stats").region],  # and the speed line, further up
            [Region(0, 0, 120, 40)],  # everything
            [Region(10, 5, 70, 12), Region(50, 30, 60, 3)],  # across panes and borders
            [stage, finished],  # a sample finished: the lines above and below the stream
            [Region(stream.region.x - 2, stream.region.y + 2, 4, 3)],  # the pane's border and the stream's edge
            status + [title],  # a sample finished: the output pane's status lines and the header's counts
        ]
        for regions in cases:
            ours, drawn = probe.partial_update(compositor, regions)
            textual, textual_drawn = probe.partial_update(compositor, regions, textuals=True)
            assert ours == textual, f"update of {regions} differs"
            assert drawn <= textual_drawn
        assert probe.partial_update(compositor, [last_line])[1] <= 2  # the stream and its scroll bar; what holds them is hidden
        assert probe.partial_update(compositor, [stage, finished])[1] <= 3  # not the stream between them
        # More regions than it draws one by one: neighbours are merged (the output pane's lines into
        # one box, the header another), not everything into one box over the screen, which drew ~45 widgets.
        assert probe.partial_update(compositor, status + [title])[1] <= 12


def test_a_pane_repainted_whole_is_one_box():
    """A pane whose style changes dirties every widget inside it too: those regions add nothing to the pane's
    (merged pair by pair, these took seconds and left two of them beside the pane, drawn twice)."""
    pane, footer = Region(0, 1, 60, 33), Region(0, 35, 120, 1)
    inside = [Region(1 + (i % 5) * 11, 2 + i // 5, 10, 1) for i in range(150)]
    assert sorted(merge_regions([*inside, pane, pane, footer], 4)) == [pane, footer]


def test_regions_are_merged_neighbours_first():
    header, low, mid, high = Region(0, 0, 100, 1), Region(60, 2, 40, 1), Region(60, 4, 40, 1), Region(60, 30, 40, 2)
    assert merge_regions([header, low], 4) == [header, low]
    assert sorted(merge_regions([header, low, mid, high], 3)) == sorted([header, Region(60, 2, 40, 3), high])
    # Then the merge that adds the least area: the header with the two lines near it, not those with the far one.
    assert sorted(merge_regions([header, low, mid, high], 2)) == sorted([Region(0, 0, 100, 5), high])
