"""The review screen: a table of samples with filters and search, the selected conversation beside it.

a accepts, r rejects, e edits (the original is kept); A and R apply to everything the filter shows,
after a confirmation. Every change is written to the store at once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select, Static

from tui.app.review_filter import ANY, NO_FLAG, ReviewRow, filter_rows, parent_of, review_rows
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.edit_sample import EditSampleScreen
from tui.app.techniques import technique_title
from tui.engine.chat_template import Message
from tui.engine.store import STATUSES, SampleStore

STATUS_STYLES = {"new": "", "accepted": "green", "rejected": "red", "failed": "dim red"}
COLUMNS = ("ID", "Technique", "Status", "Instruction", "Tok", "Flags")


def conversation_text(sample: dict[str, Any]) -> Text:
    """The sample as a person reads it: each message under its role, then what the run recorded."""
    text = Text()
    failure = sample.get("failure")
    if failure:
        text.append(f"Failed ({failure.get('reason')}): {failure.get('message')}\n\n", style="red")
    for message in sample.get("conversation") or []:
        text.append(f"── {message['role']} ──\n", style="bold")
        text.append(f"{message['content']}\n\n")
    flags = sample.get("flags") or []
    details = [f"status {sample.get('status')}", f"technique {sample.get('technique')}"]
    if flags:
        details.append("flags " + ", ".join(flags))
    if sample.get("original"):
        details.append("edited (the model's original is kept)")
    text.append(" · ".join(details), style="dim")
    return text


class ReviewScreen(Screen):
    """Curate samples by single keys; filters narrow what the table and the bulk keys act on."""

    DEFAULT_CSS = """
    ReviewScreen #filters { height: 1; padding: 0 1; }
    ReviewScreen #filters Select { width: 1fr; margin-right: 1; }
    ReviewScreen #filters Input { width: 2fr; }
    ReviewScreen #review-body { height: 1fr; }
    ReviewScreen #samples { width: 3fr; height: 1fr; border: round $primary-muted; }
    ReviewScreen #samples:focus { border: round $primary; }
    ReviewScreen #detail { width: 2fr; border: round $primary-muted; padding: 0 1; }
    ReviewScreen #parent { border: round $warning; padding: 0 1; height: auto; margin-bottom: 1; }
    ReviewScreen #shown { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("a", "set_status('accepted')", "Accept", id="review.accept", tooltip="Accept the selected sample"),
        Binding("r", "set_status('rejected')", "Reject", id="review.reject", tooltip="Reject the selected sample"),
        Binding("u", "set_status('new')", "Undo", id="review.undo", tooltip="Set the selected sample back to new"),
        Binding("e", "edit", "Edit", id="review.edit", tooltip="Edit the conversation; the original is kept"),
        Binding("j", "move(1)", "Next", id="review.next", show=False, tooltip="Next sample"),
        Binding("k", "move(-1)", "Previous", id="review.previous", show=False, tooltip="Previous sample"),
        Binding("A", "bulk('accepted')", "Accept shown", id="review.accept_shown", tooltip="Accept every sample the filter shows"),
        Binding("R", "bulk('rejected')", "Reject shown", id="review.reject_shown", tooltip="Reject every sample the filter shows"),
        Binding("slash", "search", "Search", id="review.search", tooltip="Search the conversations"),
        Binding("escape", "back", "Back", id="review.back", tooltip="Back to the main screen (escape in a filter: to the table)"),
    ]

    def __init__(self, store: SampleStore, sample_id: int | None = None) -> None:
        super().__init__(id="review")
        self.store = store
        self.start_id = sample_id
        self.rows: list[ReviewRow] = []
        self.shown: list[ReviewRow] = []
        self._choices: dict[str, list[str]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Select([(s, s) for s in STATUSES], prompt="any status", id="filter-status", compact=True)
            yield Select([], prompt="any technique", id="filter-technique", compact=True)
            yield Select([], prompt="any flag", id="filter-flag", compact=True)
            yield Input(placeholder="/ search", id="filter-search", compact=True)
        with Horizontal(id="review-body"):
            table: DataTable[Any] = DataTable(id="samples", cursor_type="row", zebra_stripes=True)
            table.border_title = "Samples"
            yield table
            with VerticalScroll(id="detail") as detail:
                detail.border_title = "Conversation"
                yield Static("", id="parent", markup=False)
                yield Static("", id="conversation", markup=False)
        yield Static("", id="shown", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#samples", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.reload(select=self.start_id)
        table.focus()
        self.app.samples_changed.subscribe(self, self.sample_added)

    def sample_added(self, sample: dict[str, Any]) -> None:
        self.reload()

    # Data ------------------------------------------------------------------------------------

    def reload(self, select: int | None = None) -> None:
        """Read the samples again, refresh the filter choices, and show what the filters let through."""
        self.samples = {s["id"]: s for s in self.store.list_samples()}
        self.rows = review_rows(list(self.samples.values()))
        self._refresh_choices("#filter-technique", sorted({r.technique for r in self.rows}), technique_title)
        flags = sorted({flag for row in self.rows for flag in row.flags})
        self._refresh_choices("#filter-flag", [NO_FLAG, *flags], lambda f: "no flag" if f == NO_FLAG else f)
        self.apply_filters(select)

    def _refresh_choices(self, selector: str, values: list[str], label: Any) -> None:
        select = self.query_one(selector, Select)
        current = select.value
        options = [(label(v), v) for v in values]
        if values != self._choices.get(selector):
            self._choices[selector] = values
            with select.prevent(Select.Changed):
                select.set_options(options)
                if current in values:
                    select.value = current

    def filters(self) -> dict[str, str]:
        def value(selector: str) -> str:
            chosen = self.query_one(selector, Select).value
            return chosen if isinstance(chosen, str) else ANY

        return {
            "status": value("#filter-status"),
            "technique": value("#filter-technique"),
            "flag": value("#filter-flag"),
            "query": self.query_one("#filter-search", Input).value,
        }

    def apply_filters(self, select: int | None = None) -> None:
        table = self.query_one("#samples", DataTable)
        if select is None and table.row_count:
            select = self.selected_id()
        self.shown = filter_rows(self.rows, **self.filters())
        # The instruction takes what the table's 3/5 of the screen leaves after the other columns.
        width = max(12, self.size.width * 3 // 5 - 46)
        table.clear()
        for row in self.shown:
            table.add_row(*self._cells(row, width), key=str(row.id))
        ids = [row.id for row in self.shown]
        if select in ids:
            table.move_cursor(row=ids.index(select))
        self.query_one("#shown", Static).update(f"{len(self.shown)} of {len(self.rows)} samples shown")
        self.show_selected()

    def _cells(self, row: ReviewRow, width: int) -> tuple[Any, ...]:
        instruction = row.instruction if len(row.instruction) <= width else row.instruction[: width - 1] + "…"
        return (
            str(row.id),
            Text(row.technique),
            Text(row.status, style=STATUS_STYLES.get(row.status, ""), justify="left"),
            Text(instruction),
            "" if row.tokens is None else str(row.tokens),
            Text(", ".join(row.flags)),
        )

    def selected_id(self) -> int | None:
        table = self.query_one("#samples", DataTable)
        if not self.shown or table.cursor_row is None or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row].id

    def show_selected(self) -> None:
        sample_id = self.selected_id()
        sample = self.samples.get(sample_id) if sample_id is not None else None
        conversation = self.query_one("#conversation", Static)
        parent = self.query_one("#parent", Static)
        if sample is None:
            conversation.update("No sample matches the filters." if self.rows else "No samples yet: generate some (ctrl+g).")
            parent.display = False
            return
        conversation.update(conversation_text(sample))
        evolved_from = parent_of(sample)
        parent.display = evolved_from is not None
        parent.border_title = "Evolved from"
        parent.update(evolved_from or "")

    # Events ----------------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#samples")
    def row_highlighted(self) -> None:
        self.show_selected()

    @on(Select.Changed, "#filter-status, #filter-technique, #filter-flag")
    @on(Input.Changed, "#filter-search")
    def filter_changed(self) -> None:
        self.apply_filters()

    @on(Input.Submitted, "#filter-search")
    def search_done(self) -> None:
        self.query_one("#samples", DataTable).focus()

    # Actions ---------------------------------------------------------------------------------

    def action_set_status(self, status: str) -> None:
        sample_id = self.selected_id()
        if sample_id is None:
            return
        if self.samples[sample_id].get("status") == "failed":
            self.notify("A failed sample has nothing to curate.", severity="warning")
            return
        self.store.set_status([sample_id], status)
        self.samples[sample_id] = self.store.get_sample(sample_id)
        table = self.query_one("#samples", DataTable)
        index = table.cursor_row
        self.shown[index] = dataclasses.replace(self.shown[index], status=status)
        self.rows = [self.shown[index] if r.id == sample_id else r for r in self.rows]
        table.update_cell(str(sample_id), "Status", Text(status, style=STATUS_STYLES[status], justify="left"))
        self.app.show_counts()
        # The row stays in view until the filter changes, so the cursor can move on to the next.
        self.action_move(1)
        self.show_selected()

    def action_move(self, step: int) -> None:
        table = self.query_one("#samples", DataTable)
        if self.shown:
            table.move_cursor(row=max(0, min(len(self.shown) - 1, table.cursor_row + step)))

    def action_bulk(self, status: str) -> None:
        ids = [row.id for row in self.shown if row.status != "failed"]
        if not ids:
            self.notify("No sample shown to change.", severity="warning")
            return
        verb = {"accepted": "Accept", "rejected": "Reject"}[status]

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.store.set_status(ids, status)
                self.app.show_counts()
                self.reload()
                self.notify(f"{verb}ed {len(ids)} samples.")

        self.app.push_screen(ConfirmScreen(f"{verb} all {len(ids)} samples the current filter shows?", verb), confirmed)

    def action_edit(self) -> None:
        sample_id = self.selected_id()
        if sample_id is None:
            return
        sample = self.samples[sample_id]
        if not sample.get("conversation"):
            self.notify("This sample has no conversation to edit.", severity="warning")
            return

        def edited(conversation: list[Message] | None) -> None:
            if conversation is not None:
                self.store.edit_sample(sample_id, conversation)
                self.reload(select=sample_id)
                self.notify(f"Sample #{sample_id} edited; the original is kept.")

        self.app.push_screen(EditSampleScreen(sample), edited)

    def action_search(self) -> None:
        self.query_one("#filter-search", Input).focus()

    def action_back(self) -> None:
        if self.focused is not None and self.focused.id and self.focused.id.startswith("filter-"):
            self.query_one("#samples", DataTable).focus()
            return
        self.app.pop_screen()
