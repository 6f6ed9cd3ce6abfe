"""App test fixtures: a store and prompts folder per test, the real model loaded once, a wait helper,
and what a widget draws at once (without a frame)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import pytest
from rich.style import Style
from textual.app import App
from textual.strip import Strip

from tui.app import fast_paint
from tui.app.fast_paint import probe
from tui.app.app import SmolgenApp
from tui.app.backend import ModelRequest
from tui.app.widgets.technique_tab import TechniqueTab
from tui.engine import cpu_load
from tui.engine.model import Model
from tui.engine.model_file import ModelInfo, default_model_path, inspect_model
from tui.engine.prompts import PromptLibrary
from tui.engine.store import SampleStore


# For a test of fast paint itself: with it off the app draws through Textual's public API, frames only.
FAST_PAINT_OFF = "fast paint is off (SMOLGEN_FAST_PAINT=off, or a Textual outside the tested series)"
fast_paint_only = pytest.mark.skipif(not fast_paint.ENABLED, reason=FAST_PAINT_OFF)
FAST_PAINT_POSITIONS = ("fast_paint_on", "fast_paint_off")  # the switch's ids in a snapshot test's name


@pytest.fixture(params=FAST_PAINT_POSITIONS)
def fast_paint_switch(request, monkeypatch) -> str:
    """Each snapshot test runs with fast paint on and off: the public path must draw the same pixels. Every
    use of fast paint reads the switch (`fast_paint.ENABLED`) as it is called, so this process turns it off."""
    if request.param == "fast_paint_off":
        monkeypatch.setattr(fast_paint, "ENABLED", False)
    elif not fast_paint.ENABLED:
        pytest.skip(FAST_PAINT_OFF)
    return request.param


@pytest.fixture
def snapshot(snapshot, fast_paint_switch):
    """syrupy's snapshot, named without the switch: both positions compare with the one stored picture."""
    snapshot.test_location.testname = _name_without(snapshot.test_location.testname, fast_paint_switch)
    return snapshot


def _name_without(name: str, param_id: str) -> str:
    """`test_x[120x36-fast_paint_off]` is `test_x[120x36]`, `test_x[fast_paint_off]` is `test_x`."""
    base, _, ids = name.partition("[")
    kept = [part for part in ids.removesuffix("]").split("-") if part and part != param_id]
    return f"{base}[{'-'.join(kept)}]" if kept else base


class LoadedModelBackend:
    """The real embedded model, loaded once for the session (loading it per test would cost a second each)."""

    def __init__(self, model: Model):
        self.model = model

    def inspect(self, path: Path | None) -> ModelInfo:
        return inspect_model(path if path is not None else default_model_path())

    def load(self, request: ModelRequest, on_progress=None) -> Model:
        return self.model


class CancelledBeforeCall:
    """The real model, except that its call number `held_call` (a chat or a raw completion, counted from 1)
    waits for the run to be cancelled before it starts: a test cancels a run surely in progress, whatever
    the model would write and however fast the machine is."""

    def __init__(self, model: Model, held_call: int):
        self._model, self._held_call, self._calls = model, held_call, 0
        self.waiting = threading.Event()  # set while the held call waits

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def _hold(self, cancel: threading.Event | None) -> None:
        self._calls += 1
        if self._calls == self._held_call and cancel is not None:
            self.waiting.set()
            cancel.wait(30)

    def complete(self, prompt, sampling, seed, stop=(), cancel=None, on_text=None, until=None):
        self._hold(cancel)
        return self._model.complete(prompt, sampling, seed, stop, cancel, on_text, until)

    def chat(self, messages, sampling, seed, cancel=None, on_text=None, until=None):
        self._hold(cancel)
        return self._model.chat(messages, sampling, seed, cancel, on_text, until)


@pytest.fixture(autouse=True)
def other_programs_unread(monkeypatch):
    """What else runs on the machine changes the output pane's speed line: app tests leave it out (the test
    of that line scripts the readings)."""
    monkeypatch.setattr(cpu_load, "read_cpu", lambda: None)


@pytest.fixture
def app_store(tmp_path):
    with SampleStore(tmp_path / "smolgen.json") as store:
        yield store


@pytest.fixture
def prompts(tmp_path) -> PromptLibrary:
    folder = tmp_path / "my-prompts"
    folder.mkdir()
    return PromptLibrary(folder)


@pytest.fixture(scope="session")
def app_model() -> Model:
    """The embedded model on one thread: two threads on two busy cores spin against each other and crawl."""
    return Model.load(n_ctx=2048, n_threads=1)


@pytest.fixture
def real_backend(app_model) -> LoadedModelBackend:
    return LoadedModelBackend(app_model)


def make_app(store: SampleStore, prompts: PromptLibrary, backend, animate: bool = True) -> SmolgenApp:
    """`animate=False`: Textual's animations jump to their end (as with TEXTUAL_ANIMATIONS=none), so a key
    that moves along tabs does not wait out the underline's slide (the pilot waits for every animation)."""
    app = SmolgenApp(store, prompts, backend, cursor_blink=False)
    if not animate:
        app.animation_level = "none"
    return app


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> float:
    """Let the app run until `condition()` holds; return the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await pilot.pause(0.05)
    return time.monotonic() - started


async def settle(pilot, drawing: dict[str, int], what: str = "the screen to settle") -> None:
    """Until the app has nothing queued and the screen was laid out no more since the last look (`drawing`:
    `probe.count_drawing`'s). The queue is checked too: on a starved machine a pause can pass with none of it run."""
    last = [-1]

    def settled() -> bool:
        quiet, last[0] = drawing["layouts"] == last[0] and not probe.has_work_queued(pilot.app), drawing["layouts"]
        return quiet

    await wait_for(pilot, settled, what=what)


async def show_form(pilot, key: str) -> TechniqueTab:
    """Bring technique `key`'s tab to the front; its form once every field has mounted and the app has nothing
    queued (the form is in the DOM a round before its fields are)."""
    screen = pilot.app.main_screen
    screen.technique.show_technique(key)

    def ready() -> bool:
        forms = screen.query(f"#form-{key}")
        return bool(forms) and forms.first(TechniqueTab).fields_mounted and not probe.has_work_queued(pilot.app)

    await wait_for(pilot, ready, what=f"the {key} form")
    return screen.query_one(f"#form-{key}", TechniqueTab)


def shown_text(app: SmolgenApp, selector: str) -> str:
    """The text a widget of the main screen shows now."""
    return str(app.main_screen.query_one(selector).render())


def notifications(app: SmolgenApp) -> list[str]:
    """The messages of the notifications shown so far."""
    return probe.notifications(app)


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    return [(char, segment.style) for segment in strip for char in segment.text]


def drawn_at_once(app: App, action: Callable[[], object]) -> list:
    """The updates `action` writes to the screen as it runs, without waiting for a frame."""
    with probe.terminal_writes(app) as drawn:
        action()
    return drawn
