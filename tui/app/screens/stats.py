"""The dataset-quality screen (ctrl+t): the figures of `smolgen stats`, kept up to date while a run adds samples.

Figures are computed in thread workers: the cheap ones first (a fraction of a second at 10,000 samples),
near-duplicate clusters in a second worker afterwards (seconds). New samples are coalesced: at most one
recomputation per REFRESH_SECONDS, and a busy worker is left to finish and then runs once more, so a fast
run neither recomputes per sample nor keeps restarting a computation that never gets to finish.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, Label, Select, Static, TabbedContent, TabPane, Tabs
from textual.worker import Worker, WorkerState, get_current_worker
from textual_plotext import PlotextPlot

from tui.app import fast_paint
from tui.app.review_filter import first_line
from tui.app.screens.confirm import ConfirmScreen
from tui.app.store_changes import offered, saving
from tui.app.screens.review import ReviewScreen
from tui.app.widgets.stats_figures import (
    cluster_ids,
    cluster_statuses,
    comparison_cells,
    counts_table,
    diversity_table,
    length_summary,
)
from tui.app.widgets.fitted_footer import FittedFooter
from tui.engine.dataset_stats import DatasetStats, compare, compute_stats, instruction_items
from tui.engine.run_names import RunChoice, latest_two_with_samples, run_choices
from tui.engine.store import STATUSES, SampleStore

REFRESH_SECONDS = 0.5
DEFAULT_THRESHOLD = 0.7
KEPT = "kept"  # the status filter "new or accepted": what is left once duplicates are rejected
_FINISHED = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
# Which sample of a cluster "keep one" keeps: an accepted one, else a new one; the oldest among equals.
_KEEP_RANK = {"accepted": 0, "new": 1}

SampleSummary = tuple[str, str]  # (status, instruction) of a sample, for the cluster table


@dataclass(frozen=True)
class Selection:
    """The samples the figures describe: one run or all, one status (or new and accepted) or all."""

    run_id: int | None = None
    status: str | None = None

    def statuses(self) -> tuple[str, ...] | None:
        if self.status is None:
            return None
        return ("new", "accepted") if self.status == KEPT else (self.status,)


def kept_sample(cluster: list[int], samples: dict[int, SampleSummary]) -> int:
    """The sample "keep one, reject the rest" keeps: accepted before new, then the oldest."""
    return min(cluster, key=lambda sample_id: (_KEEP_RANK.get(samples.get(sample_id, ("", ""))[0], 2), sample_id))


class StatsScreen(Screen):
    """Counts, lengths, diversity, near-duplicate clusters and a two-run comparison of the store's samples."""

    DEFAULT_CSS = """
    StatsScreen #stats-filters { height: 1; padding: 0 1; }
    StatsScreen #stats-filters Select { width: 20; margin-right: 1; }
    StatsScreen #stats-filters #stats-run { width: 38; }
    StatsScreen #stats-summary { width: 1fr; color: $text-muted; }
    StatsScreen TabbedContent { height: 1fr; }
    StatsScreen TabPane { padding: 0; }
    StatsScreen .figures { width: 1fr; height: 1fr; border: round $primary-muted; padding: 0 1; }
    StatsScreen .lengths { width: 1fr; height: 1fr; }
    StatsScreen PlotextPlot { height: 1fr; border: round $primary-muted; }
    StatsScreen .length-summary { height: 1; padding: 0 1; color: $text-muted; }
    StatsScreen .bar { height: 1; padding: 0 1; }
    StatsScreen .bar Label { margin-right: 1; }
    StatsScreen #threshold { width: 10; margin-right: 2; }
    StatsScreen #cluster-summary { width: 1fr; color: $text-muted; }
    StatsScreen #compare-bar Select { width: 44; margin-right: 2; }
    StatsScreen DataTable { height: 1fr; border: round $primary-muted; }
    StatsScreen DataTable:focus { border: round $primary; }
    """
    BINDINGS = [
        Binding("1", "show_tab('overview')", "Overview", id="stats.overview", show=False, tooltip="Counts and diversity"),
        Binding("2", "show_tab('lengths')", "Lengths", id="stats.lengths", show=False, tooltip="Token-length histograms"),
        Binding("3", "show_tab('clusters')", "Duplicates", id="stats.clusters", show=False, tooltip="Near-duplicate clusters"),
        Binding("4", "show_tab('compare')", "Compare", id="stats.compare", show=False, tooltip="Two runs side by side"),
        Binding("v", "review_cluster", "Review cluster", id="stats.review_cluster", tooltip="Review just the selected cluster (enter in the table too)"),
        Binding("K", "keep_one", "Keep one", id="stats.keep_one", tooltip="Keep one sample of the selected cluster and reject the rest"),
        Binding("t", "edit_threshold", "Threshold", id="stats.threshold", tooltip="Change the near-duplicate threshold"),
        Binding("escape", "back", "Back", id="stats.back", tooltip="Back to the main screen (escape in a field: to the figures)"),
    ]

    class FiguresComputed(Message):
        """The cheap figures of a selection are ready."""

        bubble = False  # for this screen alone

        def __init__(self, selection: Selection, stats: DatasetStats, samples: dict[int, SampleSummary],
                     items: list[tuple[int, str]], runs: list[RunChoice]) -> None:
            super().__init__()
            self.selection, self.stats, self.samples, self.items, self.runs = selection, stats, samples, items, runs

    class ClustersFound(Message):
        """Near-duplicate clusters of a selection at a threshold."""

        bubble = False  # for this screen alone

        def __init__(self, key: tuple[Selection, float], clusters: list[list[int]]) -> None:
            super().__init__()
            self.key, self.clusters = key, clusters

    class RunsCompared(Message):
        """The comparison of two runs; sent twice, before and after their clusters are counted."""

        bubble = False  # for this screen alone

        def __init__(self, key: tuple[int, int, str | None], rows: list[tuple[str, float, float]], clusters_counted: bool) -> None:
            super().__init__()
            self.key, self.rows, self.clusters_counted = key, rows, clusters_counted

    def __init__(self, store: SampleStore, threshold: float = DEFAULT_THRESHOLD) -> None:
        super().__init__(id="stats")
        fast_paint.lay_out_once_per_change(self)
        self.store = store
        self.threshold = threshold
        self.selection = Selection()
        self.stats: DatasetStats | None = None
        self.samples: dict[int, SampleSummary] = {}
        self.clusters: list[list[int]] | None = None
        # When the first figures and clusters were on screen (time.monotonic), for `smolgen bench stats`.
        self.figures_shown_at: float | None = None
        self.clusters_shown_at: float | None = None
        self._items: list[tuple[int, str]] = []
        self._clusters_request: tuple[tuple[Selection, float], list[tuple[int, str]]] | None = None
        self._workers: dict[str, Worker] = {}
        self._again: dict[str, Callable[[], Worker]] = {}
        self._refresh_timer: Timer | None = None
        self._runs: list[RunChoice] = []
        self._built_tabs: set[str] = set()

    def compose(self) -> ComposeResult:
        yield fast_paint.header()
        with Horizontal(id="stats-filters"):
            yield Select([], prompt="any run", id="stats-run", compact=True)
            yield Select([(s, s) for s in (*STATUSES, KEPT)], prompt="any status", id="stats-status", compact=True)
            yield Static("Computing…", id="stats-summary", markup=False)
        # Only the first tab is built with the screen: the others are built when first shown, so the
        # screen appears (and its figures with it) sooner.
        with TabbedContent(initial="overview"):
            with TabPane("Overview (1)", id="overview"):
                with Horizontal():
                    with VerticalScroll(classes="figures") as counts:
                        counts.border_title = "Counts"
                        yield Static("", id="counts")
                    with VerticalScroll(classes="figures") as diversity:
                        diversity.border_title = "Diversity"
                        yield Static("", id="diversity")
            yield TabPane("Lengths (2)", id="lengths")
            yield TabPane("Near-duplicates (3)", id="clusters")
            yield TabPane("Compare runs (4)", id="compare")
        yield FittedFooter()

    def on_mount(self) -> None:
        self.app.samples_changed.subscribe(self, self.sample_added)

    def _built(self, tab: str) -> bool:
        return tab in self._built_tabs

    async def _build_tab(self, tab: str) -> None:
        """Mount a tab's widgets the first time it is shown, and show what is already known in them."""
        if tab in self._built_tabs or tab == "overview":
            return
        pane = self.query_one(f"#{tab}", TabPane)
        if tab == "lengths":
            columns = [
                Vertical(PlotextPlot(id=f"{part}-lengths"), Static("", id=f"{part}-summary", classes="length-summary", markup=False),
                         classes="lengths")
                for part in ("instruction", "response")
            ]
            await pane.mount(Horizontal(*columns))
            self._built_tabs.add(tab)
            for part in ("instruction", "response"):
                self.query_one(f"#{part}-lengths", PlotextPlot).border_title = f"{part.capitalize()} length (tokens)"
            self._show_lengths()
        elif tab == "clusters":
            table: DataTable[Any] = DataTable(id="cluster-table", cursor_type="row", zebra_stripes=True)
            table.border_title = "Clusters · enter reviews one · K keeps one and rejects the rest"
            bar = Horizontal(Label("threshold"), fast_paint.text_input(f"{self.threshold:g}", id="threshold", compact=True),
                             Static("", id="cluster-summary", markup=False), classes="bar")
            await pane.mount_all([bar, table])
            self._built_tabs.add(tab)
            for column in ("Size", "Statuses", "Samples", "Instruction"):
                table.add_column(column, key=column)
            self._show_summary()
            self._show_clusters()
        elif tab == "compare":
            bar = Horizontal(Select([], prompt="run A", id="run-a", compact=True), Select([], prompt="run B", id="run-b", compact=True),
                             classes="bar", id="compare-bar")
            table = DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            await pane.mount_all([bar, table])
            self._built_tabs.add(tab)
            for column in ("Figure", "Run A", "Run B", "Change"):
                table.add_column(column, key=column)
            self._fill_compare_runs()

    @on(events.ScreenResume)
    def resumed(self) -> None:
        # Also after the review screen or a dialog closes: statuses may have changed there.
        self.refresh_figures()

    # Workers -----------------------------------------------------------------------------------

    def _start(self, group: str, start: Callable[[], Worker], restart: bool) -> None:
        """Start a computation; while one of its group is busy, run it once more afterwards instead (unless `restart`)."""
        busy = self._workers.get(group)
        if busy is not None and busy.state not in _FINISHED and not restart:
            self._again[group] = start
            return
        self._again.pop(group, None)
        self._workers[group] = start()

    @on(Worker.StateChanged)
    def worker_finished(self, event: Worker.StateChanged) -> None:
        group = event.worker.group
        if event.state in _FINISHED and self._workers.get(group) is event.worker and group in self._again:
            self._workers[group] = self._again.pop(group)()

    def refresh_figures(self, restart: bool = False) -> None:
        """Compute the cheap figures of the current selection again (clusters follow)."""
        self._start("stats-figures", lambda: self.compute_figures(self.selection), restart)

    @work(thread=True, exclusive=True, exit_on_error=False, group="stats-figures")
    def compute_figures(self, selection: Selection) -> None:
        worker = get_current_worker()
        samples = self.store.list_samples(statuses=selection.statuses(), run_id=selection.run_id)
        runs = run_choices(self.store.list_runs(), self.store.samples_by_run())
        # Words stand in for tokens only where a sample has no recorded lengths (an edited one): the model
        # may be generating on another thread, and the figures must not wait for it.
        stats = compute_stats(samples, with_clusters=False)
        summaries = {s["id"]: (s.get("status", "new"), first_line(s.get("instruction"))) for s in samples}
        if not worker.is_cancelled:
            self.post_message(self.FiguresComputed(selection, stats, summaries, instruction_items(samples), runs))

    def request_clusters(self, items: list[tuple[int, str]], force: bool = False) -> None:
        key = (self.selection, self.threshold)
        previous = self._clusters_request
        if previous is not None and previous[0] == key and previous[1] == items and not force:
            return  # the same instructions at the same threshold: the clusters shown are current
        self._clusters_request = (key, items)
        restart = previous is None or previous[0] != key
        self._start("stats-clusters", lambda: self.find_duplicate_clusters(key, items), restart)

    @work(thread=True, exclusive=True, exit_on_error=False, group="stats-clusters")
    def find_duplicate_clusters(self, key: tuple[Selection, float], items: list[tuple[int, str]]) -> None:
        from tui.engine.minhash_clusters import find_clusters  # datasketch and scipy load only when clusters are asked for

        worker = get_current_worker()
        clusters = find_clusters(items, key[1], should_stop=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.post_message(self.ClustersFound(key, clusters))

    @work(thread=True, exclusive=True, exit_on_error=False, group="stats-compare")
    def compare_runs(self, key: tuple[int, int, str | None]) -> None:
        from tui.engine.minhash_clusters import find_clusters

        worker = get_current_worker()
        run_a, run_b, status = key
        statuses = Selection(status=status).statuses()
        halves = [self.store.list_samples(statuses=statuses, run_id=run) for run in (run_a, run_b)]
        left, right = (compute_stats(half, with_clusters=False) for half in halves)
        if worker.is_cancelled:
            return
        self.post_message(self.RunsCompared(key, compare(left, right), clusters_counted=False))
        for stats, half in zip((left, right), halves):
            stats.clusters = find_clusters(instruction_items(half), self.threshold, should_stop=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.post_message(self.RunsCompared(key, compare(left, right), clusters_counted=True))

    def sample_added(self, sample: dict[str, Any]) -> None:
        # A run publishes every finished sample: gather them for REFRESH_SECONDS, then recompute once.
        if self._refresh_timer is None:
            self._refresh_timer = self.set_timer(REFRESH_SECONDS, self._samples_arrived)

    def _samples_arrived(self) -> None:
        self._refresh_timer = None
        self.refresh_figures()
        if self.query_one(TabbedContent).active == "compare":  # otherwise it catches up when shown
            self.request_comparison(restart=False)

    # Showing results ---------------------------------------------------------------------------

    @on(FiguresComputed)
    def figures_computed(self, message: FiguresComputed) -> None:
        if message.selection != self.selection:
            return  # the filters changed since: a newer computation is on its way
        self.stats, self.samples, self._items = message.stats, message.samples, message.items
        self.query_one("#counts", Static).update(counts_table(self.stats))
        self.query_one("#diversity", Static).update(diversity_table(self.stats))
        self._show_lengths()
        if message.runs != self._runs:
            self._runs = message.runs
            self._fill_run_choices(self.query_one("#stats-run", Select))
            self._fill_compare_runs()
        self._show_summary()
        self._show_clusters()  # statuses in the cluster table may have changed
        self.request_clusters(message.items)
        if self.figures_shown_at is None:
            self.call_after_refresh(self._mark_shown, "figures_shown_at")

    def _mark_shown(self, attribute: str) -> None:
        setattr(self, attribute, time.monotonic())

    def _show_lengths(self) -> None:
        if self.stats is None or not self._built("lengths"):
            return
        for part, histogram in (("instruction", self.stats.instruction_tokens), ("response", self.stats.response_tokens)):
            plot = self.query_one(f"#{part}-lengths", PlotextPlot)
            plt = plot.plt
            plt.clear_figure()
            bins = histogram.bins()
            if bins:
                # Bars on whole-token bins, and whole-sample ticks: plotext's own hist splits lengths in fractions.
                plt.bar([start for start, _ in bins], [count for _, count in bins], width=0.9)
                top = max(count for _, count in bins)
                ticks = sorted({round(top * step / 4) for step in range(5)})
                plt.yticks(ticks, [f"{tick:,}" for tick in ticks])
                width = bins[1][0] - bins[0][0] if len(bins) > 1 else 1
                plt.xlabel("tokens" if width == 1 else f"tokens (bins of {width})")
            else:
                plt.title("no samples")
            plot.refresh()
            self.query_one(f"#{part}-summary", Static).update(length_summary(histogram))

    def _fill_run_choices(self, select: Select) -> None:
        current = select.value
        with select.prevent(Select.Changed):
            select.set_options([(run.name, run.id) for run in self._runs])
            if current in {run.id for run in self._runs}:
                select.value = current

    def _fill_compare_runs(self) -> None:
        if not self._built("compare"):
            return
        run_a, run_b = self.query_one("#run-a", Select), self.query_one("#run-b", Select)
        for select in (run_a, run_b):
            self._fill_run_choices(select)
        latest = latest_two_with_samples(self._runs)
        if latest is not None and run_a.is_blank() and run_b.is_blank():
            with run_a.prevent(Select.Changed), run_b.prevent(Select.Changed):
                run_a.value, run_b.value = latest
        self.request_comparison()

    def _show_summary(self) -> None:
        if self.stats is not None:
            clusters = len(self.clusters or [])
            found = "finding near-duplicates…" if self.clusters is None else f"{clusters:,} near-duplicate cluster{'' if clusters == 1 else 's'}"
            count = self.stats.samples
            self.query_one("#stats-summary", Static).update(f"{count:,} sample{'' if count == 1 else 's'} · {found}")
        if not self._built("clusters"):
            return
        if self.clusters is None:
            note = f"finding near-duplicates at threshold {self.threshold:g}…"
        else:
            in_clusters = sum(map(len, self.clusters))
            plural = "" if len(self.clusters) == 1 else "s"
            note = f"{len(self.clusters):,} cluster{plural}, {in_clusters:,} samples in them (threshold {self.threshold:g})"
        self.query_one("#cluster-summary", Static).update(note)

    @on(ClustersFound)
    def clusters_found(self, message: ClustersFound) -> None:
        if message.key != (self.selection, self.threshold):
            return
        self.clusters = [sorted(cluster) for cluster in message.clusters]
        self._show_clusters()
        self._show_summary()
        if self.clusters_shown_at is None:
            self.call_after_refresh(self._mark_shown, "clusters_shown_at")

    def _show_clusters(self) -> None:
        if self.clusters is None or not self._built("clusters"):
            return
        table = self.query_one("#cluster-table", DataTable)
        selected = table.cursor_row
        table.clear()
        width = max(20, self.size.width - 60)
        for index, cluster in enumerate(self.clusters):
            instruction = self.samples.get(cluster[0], ("", ""))[1]
            if len(instruction) > width:
                instruction = instruction[: width - 1] + "…"
            table.add_row(str(len(cluster)), cluster_statuses(cluster, self.samples), cluster_ids(cluster), instruction, key=str(index))
        if self.clusters:
            table.move_cursor(row=min(selected or 0, len(self.clusters) - 1))

    def request_comparison(self, restart: bool = True) -> None:
        """Compare the runs picked as A and B again (only once the compare tab has been shown)."""
        if not self._built("compare"):
            return
        run_a, run_b = self.query_one("#run-a", Select).value, self.query_one("#run-b", Select).value
        if not isinstance(run_a, int) or not isinstance(run_b, int):
            note = ("Pick run A and run B." if latest_two_with_samples(self._runs) is not None
                    else "Comparing needs two runs with samples: generate another.")
            self._show_comparison_note(note)
            return
        key = (run_a, run_b, self.selection.status)
        self._start("stats-compare", lambda: self.compare_runs(key), restart)

    def _show_comparison_note(self, note: str) -> None:
        table = self.query_one("#compare-table", DataTable)
        table.clear()
        table.border_title = note

    @on(RunsCompared)
    def runs_compared(self, message: RunsCompared) -> None:
        run_a, run_b = self.query_one("#run-a", Select).value, self.query_one("#run-b", Select).value
        if message.key != (run_a, run_b, self.selection.status):
            return
        table = self.query_one("#compare-table", DataTable)
        table.clear()
        for name, a, b in message.rows:
            if name == "near_duplicate_clusters" and not message.clusters_counted:
                table.add_row(comparison_cells(name, a, b)[0], "…", "…", Text("…", justify="right"), key=name)
            else:
                table.add_row(*comparison_cells(name, a, b), key=name)
        table.border_title = f"Run {run_a} (A) and run {run_b} (B)"

    # Events ------------------------------------------------------------------------------------

    @on(Select.Changed, "#stats-run, #stats-status")
    def filter_changed(self) -> None:
        run, status = self.query_one("#stats-run", Select).value, self.query_one("#stats-status", Select).value
        self.selection = Selection(run if isinstance(run, int) else None, status if isinstance(status, str) else None)
        self.clusters = None
        self._show_summary()
        self.refresh_figures(restart=True)
        self.request_comparison()

    @on(Select.Changed, "#run-a, #run-b")
    def runs_chosen(self) -> None:
        self.request_comparison()

    @on(Input.Submitted, "#threshold")
    def threshold_submitted(self, event: Input.Submitted) -> None:
        try:
            threshold = float(event.value)
        except ValueError:
            threshold = float("nan")
        if not 0 < threshold <= 1:
            self.notify(f"Threshold {event.value.strip()!r}: give a number above 0 and at most 1, such as 0.7.",
                        severity="error", markup=False)
            return
        self.threshold = threshold
        self.clusters = None
        self._show_summary()
        self.request_clusters(self._items, force=True)
        self.request_comparison()
        self.query_one("#cluster-table", DataTable).focus()

    @on(DataTable.RowSelected, "#cluster-table")
    async def cluster_chosen(self) -> None:
        await self.action_review_cluster()

    @on(TabbedContent.TabActivated)
    async def tab_shown(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id or ""
        await self._build_tab(tab)
        if tab == "compare":
            self.request_comparison(restart=False)  # samples may have arrived while another tab showed
        focus = {"clusters": "#cluster-table", "compare": "#compare-table"}.get(tab)
        if focus:
            self.query_one(focus).focus()

    # Actions -----------------------------------------------------------------------------------

    async def action_show_tab(self, tab: str) -> None:
        await self._build_tab(tab)
        self.query_one(TabbedContent).active = tab

    def selected_cluster(self) -> list[int] | None:
        """The cluster under the cursor of the near-duplicates table, if that table is showing one."""
        if not self.clusters or not self._built("clusters"):
            return None
        row = self.query_one("#cluster-table", DataTable).cursor_row
        return self.clusters[row] if row is not None and 0 <= row < len(self.clusters) else None

    async def _cluster_or_explain(self) -> list[int] | None:
        if self.query_one(TabbedContent).active != "clusters":
            await self.action_show_tab("clusters")  # the key's first press shows the clusters to act on
            return None
        cluster = self.selected_cluster()
        if cluster is None:
            reason = "they are still being found" if self.clusters is None else "there are none in these samples"
            self.notify(f"No near-duplicate cluster to act on: {reason}.", severity="warning")
        return cluster

    async def action_review_cluster(self) -> None:
        cluster = await self._cluster_or_explain()
        if cluster is not None:
            self.app.push_screen(ReviewScreen(self.store, cluster[0], only_ids=cluster))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(self.store, action)

    async def action_keep_one(self) -> None:
        cluster = await self._cluster_or_explain()
        if cluster is None:
            return
        kept = kept_sample(cluster, self.samples)
        rest = [i for i in cluster if i != kept and self.samples.get(i, ("", ""))[0] != "rejected"]
        if not rest:
            self.notify(f"Only #{kept} of this cluster is not rejected: nothing to do.")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                with saving(self):
                    self.store.set_status(rest, "rejected")
                    before = {sample_id: self.samples.get(sample_id, ("new", ""))[0] for sample_id in rest}
                    self.app.review_history.statuses_set(f"rejection of {len(rest)} near-duplicates of #{kept}", before)
                    self.app.show_counts()
                    self.notify(f"Kept #{kept}; rejected {len(rest)} near-duplicate{'s' if len(rest) > 1 else ''}.")
                    self.refresh_figures(restart=True)

        question = f"Keep #{kept} and reject the other {len(rest)} sample{'s' if len(rest) > 1 else ''} of this cluster?"
        self.app.push_screen(ConfirmScreen(question, "Reject"), confirmed)

    async def action_edit_threshold(self) -> None:
        await self.action_show_tab("clusters")
        self.query_one("#threshold", Input).focus()

    def action_back(self) -> None:
        if isinstance(self.focused, (Input, Select)):
            self.query_one(Tabs).focus()
            return
        self.app.pop_screen()
