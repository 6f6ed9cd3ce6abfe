"""The smolgen Textual app: the App, its model and generation workers, and `run_app` for the CLI.

The App receives its backend (the store, the prompt library, a model backend) in its constructor,
so tests pass a scripted one. The model loads and generates in thread workers; the generating
thread is the only user of the model while a run lasts, and streams tokens in batches.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import App
from textual.actions import SkipAction
from textual.binding import Binding
from textual.dom import DOMNode
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.reactive import Reactive
from textual.signal import Signal
from textual.widgets import TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from tui.app import fast_paint
from tui.app.backend import LlamaBackend, ModelBackend, ModelRequest, close_aside
from tui.app.collector import QuietCollector
from tui.app.commands import SmolgenCommands
from tui.app.hangup_driver import HangupTolerantDriver, TerminalClosed
from tui.app.messages import (
    JudgeRunEnded, ModelInspected, ModelLoaded, ModelLoadProgress, RunEnded, SampleFinished, SampleJudged, ServerReported,
    StageStarted, TextStreamed,
)
from tui.app.pipeline_run import PipelineRunEnded, PipelineRunObserver, PipelineRunRequest, StepProgress, run_request, run_summary
from tui.app.review_history import ReviewHistory
from tui.app.screens.compare import CompareScreen
from tui.app.screens.export import ExportScreen
from tui.app.screens.edit_sample import EditSampleScreen
from tui.app.screens.help import HelpScreen, HelpSection
from tui.app.screens.main import MainScreen
from tui.app.screens.model_picker import ModelPickerScreen
from tui.app.screens.review import ReviewScreen
from tui.app.screens.stats import StatsScreen
from tui.app.store_changes import offered
from tui.app.streaming import BatchedObserver
from tui.app.techniques import TechniqueEntry, available_techniques
from tui.app.widgets.output_pane import OutputPane
from tui.app.widgets.pipeline_step_list import PipelineStepList
from tui.app.widgets.pipeline_tab import PIPELINE_BINDINGS
from tui.app.widgets.seeds_pane import SeedsPane
from tui.app.widgets.template_editor import TemplateEditor
from tui.engine.app_state import AppState, RememberedModel, load_app_state, save_app_state
from tui.engine.chat_template import ChatTemplate
from tui.engine.errors import SmolgenError, StoreUnwritable
from tui.engine.judge import verdict_line
from tui.engine.judge_run import JUDGE_SERVER_FIELDS, JudgeRun, check_judge_model, judge_samples, parse_run_ids
from tui.engine.language_model import LanguageModel, requests_in_flight
from tui.engine.model import new_run_seed
from tui.engine.prompts import PromptLibrary
from tui.engine.runner import check_model, check_run, default_num, run_generation
from tui.engine.server.settings import SERVER_TAB_FIELDS
from tui.engine.store import STATUSES, SampleStore
from tui.engine.technique_guides import GUIDES, TechniqueGuide
from tui.engine.techniques.base import Technique
from tui.engine.techniques.preference import RESPONSE_SERVER_FIELDS
from tui.engine.user_folders import config_dir

log = logging.getLogger("smolgen.app")

# After a stop signal: how long the run may take to record itself, then the rest of the exit.
RUN_STOP_SECONDS = 10.0
ORDERLY_EXIT_SECONDS = 5.0


@dataclass(frozen=True)
class RunRequest:
    """A run the person asked for, checked and ready to start once the model is."""

    title: str
    technique: Technique
    num: int
    run_seed: int
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class JudgeRequest:
    """A judging run the person asked for (the Judge tab): the samples its filters chose, at most `limit` judged."""

    title: str
    judge_run: JudgeRun
    samples: list[dict[str, Any]]
    limit: int | None
    run_seed: int


def status_counts_text(store: SampleStore) -> str:
    counts = store.status_counts()
    return " · ".join(f"{status} {counts.get(status, 0)}" for status in STATUSES) + (" · read-only" if store.read_only else "")


class SmolgenApp(App):
    """Seeds → technique → model → store → review → export, all by keyboard."""

    TITLE = "smolgen"
    # The store's counts by status, shown by each screen's header (which watches it). App's own
    # sub_title repaints the whole screen on each change, once a second during a run.
    sub_title: Reactive[str] = Reactive("", compute=False, repaint=False)
    COMMANDS = App.COMMANDS | {SmolgenCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, tooltip="Quit; a run in progress is cancelled first"),
        Binding("f1,question_mark", "help", "Help", id="app.help", tooltip="List every key"),
        Binding("ctrl+g", "generate", "Generate", id="app.generate", tooltip="Run the technique shown with the marked seeds"),
        Binding("ctrl+r", "review", "Review", id="app.review", tooltip="Review, accept, reject and edit samples"),
        Binding("ctrl+e", "export", "Export", id="app.export", tooltip="Export samples for fine-tuning"),
        Binding("ctrl+t", "stats", "Stats", id="app.stats", tooltip="Dataset quality: counts, lengths, diversity, near-duplicates, runs compared"),
        Binding("ctrl+o", "open_model", "Model", id="app.open_model", tooltip="Open another GGUF model, or OpenAI-compatible servers"),
        # Textual moves the focus for tab only once the key has bubbled up from the focused widget, and
        # keys read meanwhile still go to that widget: "4<tab>1000" typed fast (or sent by tmux) put
        # 41000 in the first field. Taken first here, tab moves the focus before the next key is read.
        Binding("tab", "move_focus(1)", show=False, priority=True),
        Binding("shift+tab", "move_focus(-1)", show=False, priority=True),
    ]

    def __init__(
        self,
        store: SampleStore,
        prompts: PromptLibrary,
        backend: ModelBackend | None = None,
        model_request: ModelRequest | None = None,
        techniques: tuple[TechniqueEntry, ...] | None = None,
        cursor_blink: bool = True,
        read_only_reason: str = "",
        model_folders: tuple[Path, ...] = (),
        export_license: str | None = None,
    ) -> None:
        """`read_only_reason`: why the store could not be opened for writing (shown when it is read-only);
        `model_folders`: the person's own folders of GGUF files, listed in the model picker;
        `export_license`: the license the export dialog offers for a Hub folder's card (config.toml's)."""
        super().__init__()
        fast_paint.share_css(self)
        self.store = store
        self.prompts = prompts
        self.backend = backend or LlamaBackend()
        self.model_request = model_request or ModelRequest()
        self.techniques = techniques or available_techniques()
        self.cursor_blink = cursor_blink
        self.read_only_reason = read_only_reason
        self.model_folders = model_folders
        self.export_license = export_license
        self.model: LanguageModel | None = None
        self.model_error: str | None = None
        self._pending: RunRequest | None = None
        self._run_observer: BatchedObserver | None = None  # the run going now, whose stream a key moves
        self._cancel = threading.Event()
        self._run_idle = threading.Event()
        self._run_idle.set()
        # run_app's process only (never a test's): after a stop signal, end the process if shutdown hangs.
        self.exit_watch = False
        self.ended = threading.Event()  # set once app.run returned: the exit watch stands down
        self.quit_signal: int | None = None  # the stop signal being obeyed (a closed terminal may send two)
        self.samples_changed: Signal[dict[str, Any]] = Signal(self, "samples-changed")
        self.review_history = ReviewHistory()  # what `u` in review takes back, since the app opened
        self.remembered = load_app_state()
        self.main_screen = MainScreen(store, prompts, self.techniques, self.remembered)
        self.collector = QuietCollector()

    # Start and stop --------------------------------------------------------------------------

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        return HangupTolerantDriver if driver is LinuxDriver else driver

    def update_styles(self, node: DOMNode, animate: bool = True) -> None:
        # A widget not yet in the DOM (a form's fields as it composes them) is styled in full as it mounts:
        # Textual styled it also at each class it took before then (an input made compact, a checkbox ticked).
        if node.is_attached:
            super().update_styles(node, animate=animate)

    def get_default_screen(self) -> MainScreen:
        # The first screen on the stack, not one pushed over Textual's blank default: that one was laid out
        # with the main screen, and drawn below it, which made the main screen draw itself whole once more.
        return self.main_screen

    def on_mount(self) -> None:
        self.collector.start()
        self.call_after_refresh(self.collector.started)
        if self.remembered.theme in self.available_themes:
            self.theme = self.remembered.theme
        self.show_counts()
        self._quit_on_stop_signals()
        if self.store.read_only:
            self.push_screen(ReviewScreen(self.store))
            reason = self.read_only_reason or f"{self.store.path} is opened for reading"
            self.notify(f"{reason}. Read-only: review, stats and export; nothing can be changed.",
                        severity="warning", timeout=20, markup=False)
        # Reading the GGUF header is Python work that would compete with the first frame for the GIL.
        self.call_after_refresh(self.open_model, self.model_request)

    def _quit_on_stop_signals(self) -> None:
        """SIGTERM (`kill`, systemd) and SIGHUP (a closed terminal) quit as ctrl+q does: a run is cancelled
        and recorded, its finished samples kept."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.call_later, self.quit_on_signal, signum)

    def on_unmount(self) -> None:
        self.collector.end()
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)

    def quit_on_signal(self, signum: int) -> None:
        """Quit as ctrl+q does; the exit status says which signal (128 + its number)."""
        if self.quit_signal is not None:
            return
        self.quit_signal = signum
        self.stop_generation()
        self.remember_settings()
        if self.exit_watch:
            threading.Thread(target=self._end_surely, args=(128 + signum,), name="smolgen-exit-watch", daemon=True).start()
        self.exit(return_code=128 + signum)

    @on(TerminalClosed)
    def terminal_closed(self) -> None:
        self.quit_on_signal(signal.SIGHUP)  # the SIGHUP that may not come (the app in a session of its own)

    def _end_surely(self, status: int) -> None:
        """A last resort should the shutdown hang on what nobody foresaw (writes to a closed terminal are dropped,
        see hangup_driver): once the run is recorded and an orderly exit had its time, the process ends anyway."""
        self._run_idle.wait(RUN_STOP_SECONDS)
        if not self.ended.wait(ORDERLY_EXIT_SECONDS):
            logging.shutdown()
            os._exit(status)

    @on(events.DescendantFocus)
    def steady_cursor(self, event: events.DescendantFocus) -> None:
        # Snapshots need a cursor that does not blink.
        if not self.cursor_blink and hasattr(event.widget, "cursor_blink"):
            event.widget.cursor_blink = False

    @property
    def running(self) -> bool:
        return not self._run_idle.is_set()

    def stop_generation(self, timeout: float = 0.0) -> bool:
        """Cancel a run in progress (it stops within one token); True once no run is going."""
        self._cancel.set()
        self._pending = None
        return self._run_idle.wait(timeout)

    async def action_quit(self) -> None:
        self.stop_generation()
        self.remember_settings()
        self.exit()

    def remember_settings(self) -> None:
        """Keep each technique's settings, the samples, the model open and the theme for the next start."""
        if not self.main_screen.is_mounted:
            return  # quit before the first frame: nothing was changed
        techniques, samples = self.main_screen.technique.settings_to_remember()
        state = AppState(techniques, samples, self.remembered.model, self.theme)
        if self.model is not None:  # a model that did not open is not worth coming back to
            state.model = remembered_model(self.model_request)
        problem = save_app_state(state)
        if problem is not None:
            log.warning("the app's settings were not kept: %s", problem)

    def show_counts(self) -> None:
        self.sub_title = status_counts_text(self.store)

    # The model -------------------------------------------------------------------------------

    def open_model(self, request: ModelRequest) -> None:
        """Open the model asked for, in a thread; the status bar says what happens meanwhile."""
        self.model, self.model_request = None, request
        if request.on_servers:
            self.main_screen.status_bar.servers_connecting(request)
        self.load_model(request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="model")
    def load_model(self, request: ModelRequest) -> None:
        """Read the file's metadata (shown at once), then load it with llama.cpp; or connect to the servers."""
        if request.on_servers:
            self.post_message(ModelLoaded(self.backend.load(request, on_event=lambda text: self.post_message(ServerReported(text)))))
            return
        self.post_message(ModelInspected(self.backend.inspect(request.path)))
        shown = -1

        def progress(share: float) -> None:
            nonlocal shown
            if int(share * 100) != shown:  # llama.cpp reports hundreds of times; the bar moves by whole percents
                shown = int(share * 100)
                self.post_message(ModelLoadProgress(share))

        self.post_message(ModelLoaded(self.backend.load(request, progress)))

    @on(ModelInspected)
    def model_inspected(self, message: ModelInspected) -> None:
        # The model loads on a thread of its own: once the app is quitting (its screens taken apart), a
        # late report has nothing to show on, and a pending run nothing to start.
        if not self.is_running:
            return
        self.main_screen.status_bar.model_loading(message.info)

    @on(ServerReported)
    def server_reported(self, message: ServerReported) -> None:
        self.notify(message.text, severity="warning", timeout=10, markup=False)

    @on(ModelLoadProgress)
    def model_load_progress(self, message: ModelLoadProgress) -> None:
        if not self.is_running:
            return
        self.main_screen.status_bar.model_load_progress(message.share)

    @on(ModelLoaded)
    def model_loaded(self, message: ModelLoaded) -> None:
        self.model, self.model_error = message.model, None
        if not self.is_running:
            return
        self.main_screen.status_bar.model_ready(message.model)
        self.main_screen.technique.model_loaded(message.model)
        if self._pending is not None:
            request, self._pending = self._pending, None
            self._start(request)

    def model_failed(self, message: str) -> None:
        self.model, self.model_error = None, message
        if not self.is_running:
            return
        self.main_screen.status_bar.model_failed(message)
        self.notify(f"The model cannot be used: {message}", severity="error", timeout=10, markup=False)
        if self._pending is not None:
            self._pending = None
            self.main_screen.output.run_failed("No run: the model did not load")

    def action_open_model(self) -> None:
        if self.running:
            self.notify("A run is in progress: escape cancels it, then open another model.", severity="warning")
            return

        def chosen(request: ModelRequest | None) -> None:
            if request is not None:
                if not request.on_servers:
                    self.main_screen.status_bar.model_loading(None)
                self.open_model(request)

        self.push_screen(ModelPickerScreen(self.backend, getattr(self.model, "info", None), self.model_request, self.model_folders),
                         chosen)

    # Generation ------------------------------------------------------------------------------

    def action_generate(self) -> None:
        if self.running or self._pending is not None:
            self.notify("A run is already going: escape cancels it.", severity="warning")
            return
        request = self._pipeline_request() if self.main_screen.technique.pipeline_shown else self._run_request()
        if request is None:
            return
        on_own_servers = isinstance(request, PipelineRunRequest) and not request.uses_app_model
        if self.model is None and not on_own_servers:  # a file's [llm] servers need no app model
            if self.model_error is not None:
                self.notify(f"No model to run: {self.model_error} (ctrl+o opens another)", severity="error", markup=False)
                return
            self._pending = request
            self.main_screen.output.waiting(f"{request.title} · waiting for the model; the run starts when it is loaded")
            return
        self._start(request)

    def _run_request(self) -> RunRequest | None:
        """The run the technique pane describes, checked; None (with the reason shown) when it cannot run."""
        pane = self.main_screen.technique
        tab = pane.current_tab()
        technique, options = tab.technique(), pane.run_options()
        if technique is None or options is None:
            self.notify("Fix the settings marked in red first.", severity="error")
            return None
        num, run_seed = options
        if tab.entry.judges_stored:
            return self._judge_request(tab.entry.title, technique, num, run_seed)
        rows = [seed["row"] for seed in self.store.list_seeds(selected_only=True)] if technique.needs_seeds else []
        if technique.needs_seeds and not rows:
            self.notify(f"{tab.entry.title} needs seeds: add one (n), import a file (i) or mark some (space).", severity="error")
            return None
        num = num or default_num(technique, rows)
        try:
            check_run(technique, self.prompts, num, rows)
            if self.model is not None:  # a chat technique on a base model is told so before it starts
                check_model(technique, self.model)
        except SmolgenError as error:
            self.notify(str(error), severity="error", timeout=10, markup=False)
            self.main_screen.output.run_failed(str(error))
            return None
        return RunRequest(tab.entry.title, technique, num, run_seed if run_seed is not None else new_run_seed(), rows)

    def _judge_request(self, title: str, judge_run: JudgeRun, limit: int | None, run_seed: int | None) -> JudgeRequest | None:
        """The Judge tab's run: the stored samples its filters choose, checked against the model in use when it judges."""
        try:
            samples = judge_run.samples(self.store)
            if self.model is not None and not judge_run.settings.judge_model.strip():
                check_judge_model(self.model)
        except SmolgenError as error:
            self.notify(str(error), severity="error", timeout=10, markup=False)
            self.main_screen.output.run_failed(str(error))
            return None
        return JudgeRequest(title, judge_run, samples, limit, run_seed if run_seed is not None else new_run_seed())

    def _pipeline_request(self) -> PipelineRunRequest | None:
        """The Pipeline tab's run; "Samples" caps the source's rows (cycled when it asks for more)."""
        options = self.main_screen.technique.run_options()
        if options is None:
            self.notify("Fix the settings marked in red first.", severity="error")
            return None
        return self.main_screen.technique.pipeline.run_request(options[0])

    def _start(self, request: RunRequest | PipelineRunRequest | JudgeRequest) -> None:
        assert self.model is not None or isinstance(request, PipelineRunRequest)
        self._cancel = threading.Event()
        self._run_idle.clear()
        if isinstance(request, JudgeRequest):
            total = len(request.samples) if request.limit is None else min(request.limit, len(request.samples))
            self.main_screen.output.run_started(request.title, total)
            self.judge_stored(request, self.model, self._cancel)
        elif isinstance(request, PipelineRunRequest):
            self.main_screen.output.run_started(request.title, request.rows)
            self.main_screen.technique.pipeline.run_started(request)
            self.run_pipeline(request, self.model, self._cancel)
        else:
            model = self.model
            in_flight = (lambda: model.in_flight) if requests_in_flight(model) > 1 else None
            per_seed = getattr(request.technique, "many_samples_per_seed", False)
            self.main_screen.output.run_started(request.title, request.num, in_flight, per_seed)
            self.generate(request, model, self._cancel)
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="pipeline")
    def run_pipeline(self, request: PipelineRunRequest, model: LanguageModel | None, cancel: threading.Event) -> None:
        """The pipeline, in the one thread that uses the model; the engine caches every step output at once."""
        worker = get_current_worker()
        observer = PipelineRunObserver(self.post_message, cancel, lambda: worker.is_cancelled, request.rows)
        try:
            summary = run_request(request, self.store, model, self.prompts, observer, cancel)
        finally:
            observer.flush()
            self._run_idle.set()
        self.post_message(RunEnded(run_summary(summary)))
        self.post_message(PipelineRunEnded(summary))

    @on(StepProgress)
    def step_progress(self, message: StepProgress) -> None:
        self.main_screen.technique.pipeline.run_progress(message.counts)

    @on(PipelineRunEnded)
    def pipeline_run_ended(self, message: PipelineRunEnded) -> None:
        self.main_screen.technique.pipeline.run_ended(message.summary)

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def generate(self, request: RunRequest, model: LanguageModel, cancel: threading.Event) -> None:
        """The run: in this thread, the one that uses the in-process model, or with the servers' concurrency
        of rows in flight; each finished sample is stored at once."""
        worker = get_current_worker()
        observer = self._run_observer = BatchedObserver(self.post_message, cancel, lambda: worker.is_cancelled)
        responders: list[LanguageModel] = []
        settings = request.technique.settings
        try:
            for spec in getattr(settings, "responders", None) or ():  # Preference pairs' other writers
                observer.stage(f"{request.title} · opening the response model {spec}")
                responders.append(self.backend.open_aside(spec, self.model_request.n_threads, settings.response_server_model.strip(),
                                                          settings.response_api_key_env.strip(), RESPONSE_SERVER_FIELDS))
            if responders:
                request.technique.use_responders(responders)
            summary = run_generation(
                request.technique, self.store, model, self.prompts, request.num, request.run_seed, request.rows, observer, cancel,
                parallel=requests_in_flight(model),
            )
        finally:
            for responder in responders:
                close_aside(responder)
            observer.flush()
            self._run_idle.set()
        self.post_message(RunEnded(summary))

    @work(thread=True, exclusive=True, exit_on_error=False, group="judge")
    def judge_stored(self, request: JudgeRequest, model: LanguageModel, cancel: threading.Event) -> None:
        """The judging run, in this thread (and one more per server slot): the judge is the model in use or
        one opened aside for the run; each verdict is on disk before its slot takes the next sample."""
        worker = get_current_worker()
        settings = request.judge_run.settings
        spec = settings.judge_model.strip()
        judge_model = None
        try:
            if spec:
                self.post_message(StageStarted(f"{request.title} · opening the judge {spec}"))
                judge_model = self.backend.open_aside(spec, self.model_request.n_threads, settings.judge_server_model.strip(),
                                                      settings.judge_api_key_env.strip(), JUDGE_SERVER_FIELDS)
            judge = judge_model or model

            def judged(sample: dict[str, Any], verdict: Any, done: int, total: int) -> None:
                if worker.is_cancelled:  # Textual cancels its workers on quit: pass it on to the run
                    cancel.set()
                self.post_message(SampleJudged(sample["id"], verdict_line(verdict), not verdict.ok, done, total))

            summary = judge_samples(
                self.store, judge, request.samples, settings.judging.aspects, request.run_seed, tag=settings.judging.tag,
                again=settings.again, prompts=self.prompts, cancel=cancel, on_judged=judged, parallel=requests_in_flight(judge),
                chosen_by={"status": settings.status, "runs": list(parse_run_ids(settings.runs))}, limit=request.limit,
            )
        finally:
            if judge_model is not None:
                close_aside(judge_model)
            self._run_idle.set()
        self.post_message(JudgeRunEnded(summary))

    @on(SampleJudged)
    def sample_judged(self, message: SampleJudged) -> None:
        self.main_screen.output.sample_judged(message.sample_id, message.line, message.failed, message.done, message.total)

    @on(JudgeRunEnded)
    def judge_run_ended(self, message: JudgeRunEnded) -> None:
        summary = message.summary
        self.main_screen.output.judging_ended(summary)
        self.refresh_bindings()
        failed = f", {summary.failed} failed" if summary.failed else ""
        if summary.status == "cancelled":
            self.notify(f"Judging cancelled: {summary.rated} verdicts kept{failed}; the one in progress was dropped.")
        elif summary.halt_reason:
            self.notify(f"Judging stopped: {summary.halt_reason}; {summary.rated} rated.", severity="error", timeout=20, markup=False)
        else:
            mean = f", mean rating {summary.mean_rating:g}" if summary.mean_rating is not None else ""
            self.notify(f"Judging finished: {summary.rated} rated{mean}{failed}.")

    def action_cancel_run(self) -> None:
        if self._pending is not None:
            self._pending = None
            self.main_screen.output.run_failed("The run waiting for the model was cancelled")
            self.refresh_bindings()
            return
        self._cancel.set()

    def action_watch_row(self, direction: int) -> None:
        """Stream the next (1) or previous (-1) sample in flight: rows on servers run at once, one is shown."""
        row = self._run_observer.step(direction) if self._run_observer is not None else None
        if row is not None:
            self.main_screen.output.row_chosen(row)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            return self.running or self._pending is not None
        if action == "watch_row":  # otherwise the key goes on to the focused widget
            return self.running and self._run_observer is not None and self._run_observer.watch is not None
        return offered(self.store, action)

    @on(StageStarted)
    def stage_started(self, message: StageStarted) -> None:
        self.main_screen.output.stage_started(message.text, message.row)

    @on(TextStreamed)
    def text_streamed(self, message: TextStreamed) -> None:
        self.main_screen.output.text_streamed(message.text, message.chunks)

    @on(SampleFinished)
    def sample_finished(self, message: SampleFinished) -> None:
        sample = message.sample
        self.main_screen.output.sample_finished(sample, message.done, message.total)
        self.samples_changed.publish(sample)

    @on(OutputPane.FinishedShown)
    def finished_shown(self) -> None:
        self.show_counts()

    @on(OutputPane.SampleChosen)
    def finished_sample_chosen(self, message: OutputPane.SampleChosen) -> None:
        self.action_review(message.sample_id)

    @on(RunEnded)
    def run_ended(self, message: RunEnded) -> None:
        summary = message.summary
        self._run_observer = None
        discarded = self.main_screen.output.discarded
        self.main_screen.output.run_ended(summary)
        self.refresh_bindings()
        if summary.status == "cancelled":
            self.notify(f"Run cancelled: {summary.stored} finished samples kept; {discarded}.")
        elif summary.halt_reason:
            self.notify(f"Run stopped: {summary.halt_reason}; {summary.stored} samples stored.", severity="error",
                        timeout=20, markup=False)
        else:
            failed = f", {summary.failed} failed" if summary.failed else ""
            truncated = f" ({summary.truncated_note('asked for in the export dialog')})" if summary.truncated else ""
            self.notify(f"Run finished: {summary.stored} samples stored{truncated}{failed}.")

    @on(Worker.StateChanged)
    def worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker error ends here: shown as a notification or in its pane, never a traceback."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, SmolgenError):
            message = str(error)
        else:
            log.error("worker %s failed", event.worker.name, exc_info=error)
            message = f"{type(error).__name__}: {error}"
        if event.worker.group == "model":
            self.model_failed(message)
        elif event.worker.group in ("generate", "pipeline", "judge"):
            if event.worker.group == "pipeline":
                self.main_screen.technique.pipeline.run_failed(message)
            self.main_screen.output.run_failed(message)
            self.refresh_bindings()
            self.notify(f"The run stopped: {message}", severity="error", timeout=10, markup=False)
        else:
            self.notify(message, severity="error", timeout=10, markup=False)

    # Screens -----------------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(help_sections(), technique_guides(self.techniques)))

    def action_review(self, sample_id: int | None = None) -> None:
        if isinstance(self.screen, ReviewScreen):
            return
        self.push_screen(ReviewScreen(self.store, sample_id))

    def action_compare_pairs(self, sample_id: int | None = None) -> None:
        """Open Compare pairs, on the given preference sample or the first a person has not picked."""
        if not isinstance(self.screen, CompareScreen):
            self.push_screen(CompareScreen(self.store, sample_id))

    def action_stats(self) -> None:
        if not isinstance(self.screen, StatsScreen):
            self.push_screen(StatsScreen(self.store))

    def action_export(self) -> None:
        if not isinstance(self.screen, ExportScreen):
            self.push_screen(ExportScreen(self.store, self._model_chat_template(), self.export_license))

    def _model_chat_template(self) -> ChatTemplate | None:
        """The loaded model's chat template, which `--format text` renders with; None without one."""
        try:
            return self.model.chat_template if self.model is not None else None
        except SmolgenError:  # a base model, or a server that does not say: the embedded model's is used
            return None

    def action_move_focus(self, direction: int) -> None:
        focused = self.focused
        if isinstance(focused, TextArea) and focused.tab_behavior == "indent":
            raise SkipAction()  # a text area that indents with tab keeps it
        if direction > 0:
            self.screen.focus_next()
        else:
            self.screen.focus_previous()

    def action_show_technique(self, key: str) -> None:
        """Bring the main screen and the technique's tab to the front, ready to say how many samples."""
        while self.screen is not self.main_screen:
            self.pop_screen()
        self.main_screen.technique.show_technique(key)
        self.main_screen.technique.query_one("#run-num").focus()


def remembered_model(request: ModelRequest) -> RememberedModel | None:
    """How to open the same model at the next start; None for the embedded one or a llama-server started here."""
    if request.local_slots is not None:
        return None
    servers = request.servers
    if servers is not None:
        return RememberedModel(servers=list(servers.urls), server_model=servers.model,
                               from_server_tab=servers.names.server == SERVER_TAB_FIELDS.server, api_key_env=servers.api_key_env,
                               concurrency=servers.concurrency,
                               chat_template=str(servers.chat_template.expanduser().resolve()) if servers.chat_template else None)
    return RememberedModel(path=str(request.path.expanduser().resolve())) if request.path is not None else None


def help_sections() -> list[HelpSection]:
    """Every key of the app, from the bindings themselves, and the keys widgets own."""
    return [
        ("Everywhere", SmolgenApp.BINDINGS, [("ctrl+p", "Command palette: every action by name, themes")]),
        ("Main screen", [b for b in MainScreen.BINDINGS if b not in PIPELINE_BINDINGS], [("tab / shift+tab", "Next / previous field")]),
        ("Seeds pane", SeedsPane.BINDINGS, [("space / enter", "Mark or unmark the seed for the next run")]),
        (
            "Technique settings",
            TemplateEditor.BINDINGS,
            [("← / → on the tabs", "Switch technique"), ("→ in a path field", "Accept the path completion")],
        ),
        (
            "Pipeline tab",
            [*PIPELINE_BINDINGS, *PipelineStepList.BINDINGS],
            [("enter on a step", "Edit its settings"), ("ctrl+g", "Run the pipeline (escape cancels; a re-run reuses the cache)")],
        ),
        ("Review", ReviewScreen.BINDINGS, [("↑ / ↓", "Previous / next sample")]),
        ("Compare pairs", CompareScreen.BINDINGS, []),
        ("Stats", StatsScreen.BINDINGS, [("enter on a cluster", "Review just that cluster"), ("enter in the threshold", "Find clusters again")]),
        ("Edit sample", EditSampleScreen.BINDINGS, []),
        ("Export", ExportScreen.BINDINGS, [("enter in the path", "Export")]),
        ("Model picker", ModelPickerScreen.BINDINGS, [("enter", "Open the model, or connect to the servers"),
                                                      ("tab, ↑ / ↓, enter", "Open a GGUF file found on this machine (the list)")]),
    ]


def technique_guides(techniques: tuple[TechniqueEntry, ...]) -> list[tuple[str, TechniqueGuide]]:
    """A help page per technique the app offers, then the Pipeline tab's."""
    pages = [(entry.title, GUIDES[entry.key]) for entry in techniques if entry.key in GUIDES]
    return [*pages, ("Pipeline", GUIDES["pipeline"])]


def default_prompts_dir() -> Path:
    """Where the app saves edited templates: the prompts folder in smolgen's config folder."""
    return config_dir() / "prompts"


def run_app(store_path: Path, model_request: ModelRequest, prompts_dir: Path | None = None,
            model_folders: tuple[Path, ...] = (), export_license: str | None = None) -> int:
    """Open the store and run the app until the person quits; every finished sample is on disk.
    `model_folders`: the config's folders of GGUF files, listed in the model picker; `export_license`: the
    config's license for a Hub folder's card."""
    prompts_dir = prompts_dir or default_prompts_dir()
    prompts_dir.mkdir(parents=True, exist_ok=True)
    prompts = PromptLibrary(prompts_dir)
    try:
        store, reason = SampleStore(store_path), ""
    except StoreUnwritable as error:  # a read-only folder: the app still reviews and exports
        # What failed, without the advice for the command line that follows it.
        store, reason = SampleStore(store_path, read_only=True), str(error).partition("; ")[0]
    backend = LlamaBackend()
    with store:
        app = SmolgenApp(store, prompts, backend, model_request, read_only_reason=reason, model_folders=model_folders,
                         export_license=export_license)
        app.exit_watch = True
        try:
            app.run()
        finally:
            app.ended.set()
            # The generating thread stops within one token; let it finish its store write.
            app.stop_generation(timeout=5.0)
            backend.close()  # the servers' connections closed, a local llama-server stopped
    return app.return_code or 0
