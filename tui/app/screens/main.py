"""The main screen: seeds, technique settings and streaming output side by side.

It opens the dialogs its panes ask for and hands each answer back to the pane that asked.
"""

from __future__ import annotations

from functools import partial

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen

from tui.app import fast_paint
from tui.app.screens.breakpoints import take_breakpoint_class
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.pipeline_dialogs import PipelineLoadScreen, PipelineSaveScreen, StepKindScreen
from tui.app.screens.seed_editor import SeedEditorScreen
from tui.app.screens.seed_import import SeedImportScreen
from tui.app.techniques import TechniqueEntry
from tui.app.widgets.output_pane import OutputPane
from tui.app.widgets.pipeline_tab import PIPELINE_BINDINGS, PipelineTab
from tui.app.widgets.seeds_pane import SeedsPane, seed_label
from tui.app.widgets.status_bar import StatusBar
from tui.app.widgets.technique_pane import TechniquePane
from tui.engine.app_state import AppState
from tui.engine.prompts import PromptLibrary
from tui.engine.store import SampleStore


class MainScreen(Screen):
    """Narrow terminals stack seeds over settings beside the output; wide ones show three columns."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (130, "-wide")]
    DEFAULT_CSS = """
    MainScreen #panes { height: 1fr; }
    MainScreen #left { width: 1fr; }
    MainScreen #output { width: 1fr; }
    MainScreen SeedsPane { height: 1fr; }
    MainScreen TechniquePane { height: 2fr; }
    MainScreen.-wide #left { width: 2fr; layout: horizontal; }
    MainScreen.-wide SeedsPane, MainScreen.-wide TechniquePane { height: 1fr; width: 1fr; }
    MainScreen .pane { border: round $primary-muted; border-title-color: $text; }
    MainScreen .pane.-focus-within { border: round $primary; border-title-style: bold; }
    """
    BINDINGS = [
        # Not in the footer: the run's speed line says "esc cancels", so a run starting or ending changes no
        # key there (composing the footer anew lays the screen out twice, time taken from the model).
        Binding("escape", "app.cancel_run", "Cancel run", id="main.cancel", show=False, tooltip="Stop the run within one token"),
        Binding("right_square_bracket", "app.watch_row(1)", "Next sample in flight", id="main.next_row", show=False,
                tooltip="With rows in flight on servers: stream the next sample (the stage line shows which)"),
        Binding("left_square_bracket", "app.watch_row(-1)", "Previous sample in flight", id="main.previous_row", show=False,
                tooltip="With rows in flight on servers: stream the previous sample"),
        Binding("f2", "focus_pane('seeds')", "Seeds", id="main.focus_seeds", show=False, tooltip="Move to the seeds pane"),
        Binding("f3", "focus_pane('technique')", "Settings", id="main.focus_settings", show=False, tooltip="Move to the technique settings"),
        Binding("f4", "focus_pane('output')", "Output", id="main.focus_output", show=False, tooltip="Move to the output pane"),
        Binding("f9", "reset_tab", "Reset tab", id="main.reset_tab", show=False,
                tooltip="Put the technique tab shown back to its default settings"),
        *PIPELINE_BINDINGS,
    ]

    def __init__(self, store: SampleStore, prompts: PromptLibrary, techniques: tuple[TechniqueEntry, ...],
                 remembered: AppState | None = None) -> None:
        """`remembered`: the settings the app kept when it was last quit."""
        super().__init__(id="main")
        fast_paint.crop_partial_updates(self)  # a run's frames draw only what changed
        fast_paint.skip_same_size_layouts(self)
        fast_paint.lay_out_once_per_change(self)
        fast_paint.draw_when_built(self)  # not again at each layout as its widgets arrive
        self.store = store
        self.prompts = prompts
        self.techniques = techniques
        self.remembered = remembered or AppState()
        self._ever_shown = False

    def post_message(self, message: Message) -> bool:
        # Shown the first time, its widgets have just been styled as they mounted and nothing has changed
        # since: Textual would style every one of them again.
        if isinstance(message, events.ScreenResume) and not self._ever_shown:
            self._ever_shown = True
            message.refresh_styles = False
        return super().post_message(message)

    def compose(self) -> ComposeResult:
        take_breakpoint_class(self)
        yield fast_paint.header()
        with Horizontal(id="panes"):
            with Vertical(id="left"):
                yield SeedsPane(self.store, id="seeds", classes="pane")
                yield TechniquePane(self.techniques, self.prompts, self.remembered.techniques, self.remembered.samples,
                                    id="technique", classes="pane")
            yield OutputPane(id="output", classes="pane")
        yield StatusBar(self.store.path.name, id="status-bar")
        yield fast_paint.footer()

    @property
    def seeds(self) -> SeedsPane:
        return self.query_one(SeedsPane)

    @property
    def technique(self) -> TechniquePane:
        return self.query_one(TechniquePane)

    @property
    def output(self) -> OutputPane:
        return self.query_one(OutputPane)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.seeds.seed_list.focus()

    @on(events.DescendantFocus)
    @on(events.DescendantBlur)
    def mark_focused_pane(self) -> None:
        # A class rather than :focus-within, which restyles every widget inside a pane as the focus moves.
        for pane in self.query(".pane"):
            fast_paint.set_own_class(pane, pane.has_focus_within, "-focus-within")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pipeline_key":  # the Pipeline tab's keys, shown and working while it is in front
            return self.technique.pipeline_shown
        if action == "reset_tab":
            return not self.technique.pipeline_shown
        return True

    def action_reset_tab(self) -> None:
        title = self.technique.reset_current_tab()
        if title is not None:
            self.notify(f"{title}: every setting back to its default.")

    def action_pipeline_key(self, action: str) -> None:
        getattr(self.technique.pipeline, f"action_{action}")()

    def action_focus_pane(self, pane: str) -> None:
        if pane == "seeds":
            self.seeds.seed_list.focus()
        elif pane == "technique":
            self.technique.tabs.query_one("Tabs").focus()
        else:
            self.output.query_one("#finished").focus()

    # Dialogs the panes ask for --------------------------------------------------------------------

    @on(SeedsPane.EditorRequested)
    def open_seed_editor(self, request: SeedsPane.EditorRequested) -> None:
        row = request.seed["row"] if request.seed is not None else None
        self.app.push_screen(SeedEditorScreen(row), partial(self.seeds.save_seed, request.seed))

    @on(SeedsPane.DeleteRequested)
    def confirm_seed_deletion(self, request: SeedsPane.DeleteRequested) -> None:
        question = f"Delete the seed “{seed_label(request.seed['row'])[:60]}”?"
        self.app.push_screen(ConfirmScreen(question, "Delete"), partial(self.seeds.delete_seed, request.seed))

    @on(SeedsPane.MarkAllRequested)
    def confirm_marking_all(self, request: SeedsPane.MarkAllRequested) -> None:
        question = f"{request.marked} of {request.total} seeds are marked for the next run. Mark all {request.total}?"
        self.app.push_screen(ConfirmScreen(question, f"Mark all {request.total}"), lambda yes: self.seeds.mark_all(True) if yes else None)

    @on(SeedsPane.ImportRequested)
    def open_seed_import(self) -> None:
        self.app.push_screen(SeedImportScreen(), self.seeds.import_seeds)

    @on(PipelineTab.StepKindRequested)
    def open_step_kinds(self, request: PipelineTab.StepKindRequested) -> None:
        self.app.push_screen(StepKindScreen(), partial(self.technique.pipeline.add_step, request.after))

    @on(PipelineTab.LoadRequested)
    def open_pipeline_load(self) -> None:
        self.app.push_screen(PipelineLoadScreen(), self.technique.pipeline.load_draft)

    @on(PipelineTab.SaveRequested)
    def open_pipeline_save(self, request: PipelineTab.SaveRequested) -> None:
        self.app.push_screen(PipelineSaveScreen(request.draft), self.technique.pipeline.show_saved)
