"""The review screen: a table of samples with filters and search, the selected conversation beside it.

a accepts, r rejects, e edits (the original is kept), o orders by the judge's rating; A and R decide every new sample the filter shows,
after a confirmation (samples decided the other way only when the filter shows nothing else); u undoes
the last change, again and again back to when the app opened. Every change is written to the store at once. An evolved sample shows the
instruction it was evolved from in a panel beside its conversation.

The table is virtual: it draws only the rows on screen from the filtered list, so 100,000 samples
open as fast as 100 (a DataTable measures and styles every row it holds, so it grows with the store).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Collection

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Input, Select, Static

from tui.app import fast_paint
from tui.app.review_filter import (
    ANY, NO_FLAG, RATING_CHOICES, RATING_ORDER_WORDS, RATING_ORDERS, ReviewRow, filter_rows, parent_id_of, parent_of, review_rows,
    sort_by_rating,
)
from tui.app.screens.confirm import ConfirmScreen
from tui.app.store_changes import offered, saving
from tui.app.screens.edit_sample import EditSampleScreen
from tui.app.techniques import technique_title
from tui.app.widgets.cursor_view import CursorView, cursor_bindings
from tui.app.widgets.fitted_footer import FittedFooter
from tui.engine.chat_template import Message as ChatMessage
from tui.engine.store import STATUSES, SampleStore

STATUS_STYLES = {"new": "", "accepted": "green", "rejected": "red", "failed": "dim red"}
COLUMNS = ("ID", "Technique", "Status", "Rating", "Instruction", "Tok", "Flags")
OPTIONAL_COLUMNS = ("Tok", "Technique", "Flags", "Rating")  # dropped in this order when the table is narrow
MIN_INSTRUCTION = 12
ACTION_NOUNS = {"accepted": "accept", "rejected": "reject"}  # how undo names a change
OTHER_DECISION = {"accepted": "rejected", "rejected": "accepted"}


def parent_text(sample: dict[str, Any]) -> Text | None:
    """The instruction an evolved sample came from, for the panel beside its conversation."""
    instruction = parent_of(sample)
    if instruction is None:
        return None
    text = Text(f"{instruction}\n\n")
    parent_id = parent_id_of(sample)
    evolution = sample.get("evolution") or {}
    details = [f"sample #{parent_id}" if parent_id is not None else "not a stored sample (the seed)"]
    if evolution.get("operation"):
        details.append(f"evolved by {evolution['operation']}, round {evolution.get('round')}")
    text.append(" · ".join(details), style="dim")
    return text


class SampleTable(CursorView):
    """The review table: one line per row of a list it is given, drawn only while on screen."""

    DEFAULT_CSS = """
    SampleTable {
        background: $surface;
        color: $foreground;
        & > .sample-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .sample-table--even-row { background: $surface-lighten-1 50%; }
        & > .sample-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus { background-tint: $foreground 5%; }
        &:focus > .sample-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    COMPONENT_CLASSES = {"sample-table--header", "sample-table--even-row", "sample-table--cursor"}
    BINDINGS = cursor_bindings("review.table", "sample")

    class RowHighlighted(Message):
        """The cursor moved to another row (or the rows were replaced)."""

        def __init__(self, table: "SampleTable", cursor_row: int) -> None:
            super().__init__()
            self.table = table
            self.cursor_row = cursor_row

        @property
        def control(self) -> "SampleTable":
            return self.table

    HEADER_LINES = 1

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[ReviewRow] = []
        self._widths: dict[str, int] = {}
        self._judged = False  # the Rating column shows once a judge has looked at a sample

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def set_rows(self, rows: list[ReviewRow], cursor_row: int = 0) -> None:
        """Show `rows` (the list is kept, not copied) with the cursor on `cursor_row`."""
        self.rows = rows
        # Column widths from the few distinct values, not by measuring every row.
        self._widths = {
            "ID": max(2, len(str(max((row.id for row in rows), default=0)))),
            "Technique": max([len("Technique"), *map(len, {row.technique for row in rows})]),
            "Status": max(map(len, ("Status", *STATUSES))),  # a row decided later must not be cut ("rejec…")
            "Rating": len("Rating"),
            "Tok": max(3, len(str(max((row.tokens or 0 for row in rows), default=0)))),
            "Flags": max([len("Flags"), *(len(", ".join(flags)) for flags in {row.flags for row in rows})]),
        }
        self._judged = any(row.judged for row in rows)
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        self.cursor_row = max(0, min(cursor_row, len(rows) - 1))
        self.scroll_to(y=0, animate=False, immediate=True)
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.RowHighlighted(self, self.cursor_row))

    def rows_appended(self) -> None:
        """Take in rows added at the end of the list the table was given."""
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)
        self.refresh()

    def cursor_moved(self, row: int) -> None:
        self.post_message(self.RowHighlighted(self, row))

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)
        self._scroll_cursor_into_view()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._line(COLUMNS, self.get_component_rich_style("sample-table--header"), width)
        index = round(self.scroll_offset.y) + y - 1
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        if index == self.cursor_row:
            style = self.get_component_rich_style("sample-table--cursor")
        elif index % 2:
            style = self.get_component_rich_style("sample-table--even-row")
        else:
            style = self.rich_style
        return self._line(_cells(row), style, width)

    def _layout(self, width: int) -> dict[str, int]:
        """The width of each column shown: the instruction takes what the others leave (a space either side
        of each cell), and a narrow table drops token counts, then the technique, the flags, the rating."""
        widths = {column: self._widths.get(column, len(column)) for column in COLUMNS if column != "Instruction"}
        if not self._judged:
            del widths["Rating"]
        for optional in (None, *OPTIONAL_COLUMNS):
            widths.pop(optional, None)
            left = width - sum(widths.values()) - 2 * (len(widths) + 1)
            if left >= MIN_INSTRUCTION:
                break
        return {column: widths.get(column, max(MIN_INSTRUCTION, left)) for column in COLUMNS if column in widths or column == "Instruction"}

    def _line(self, cells: tuple[str | Text, ...], style: Style, width: int) -> Strip:
        widths = self._layout(width)
        line = Text(no_wrap=True, end="")
        for column, cell in zip(COLUMNS, cells):
            if column not in widths:
                continue
            text = cell.copy() if isinstance(cell, Text) else Text(cell)
            text.truncate(widths[column], overflow="ellipsis", pad=True)
            line.append(" ")
            line.append_text(text)
            line.append(" ")
        segments = Segment.apply_style(line.render(self.app.console), style)
        return Strip(segments).crop_extend(0, width, style)


def _cells(row: ReviewRow) -> tuple[str | Text, ...]:
    return (
        str(row.id),
        row.technique,
        Text(row.status, style=STATUS_STYLES.get(row.status, "")),
        _rating_cell(row),
        row.instruction,
        "" if row.tokens is None else str(row.tokens),
        ", ".join(row.flags),
    )


def _rating_cell(row: ReviewRow) -> str | Text:
    if row.judge_failed:
        return Text("failed", style="dim red")
    return "" if row.rating is None else f"{row.rating:g}"


def judgement_text(verdict: dict[str, Any]) -> Text:
    """A judge's verdict under the conversation: the rating, each aspect's score and reason, the tags."""
    text = Text()
    judge = verdict.get("judge") or "the judge"
    if verdict.get("failure"):
        text.append(f"Judge {judge} failed: {verdict['failure']}\n", style="dim red")
        return text
    if verdict.get("rating") is not None:
        text.append(f"Rated {verdict['rating']:g} by {judge}\n", style="bold")
    for aspect, rated in (verdict.get("ratings") or {}).items():
        text.append(f"  {aspect.replace('_', ' ')} {rated['rating']}: {rated['rationale']}\n")
    tags = verdict.get("tags")
    if tags:
        text.append(f"  {tags['input_quality']} input · {tags['difficulty']} · {tags['task_category']}\n", style="dim")
    return text


def _samples(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def conversation_text(sample: dict[str, Any]) -> Text:
    """The sample as a person reads it: each message under its role, then what the run recorded."""
    text = Text()
    failure = sample.get("failure")
    if failure:
        text.append(f"Failed ({failure.get('reason')}): {failure.get('message')}\n\n", style="red")
    for message in sample.get("conversation") or sample.get("prompt") or []:
        text.append(f"── {message['role']} ──\n", style="bold")
        text.append(f"{message['content']}\n\n")
    for index, response in enumerate(sample.get("responses") or []):
        mark = {sample.get("chosen"): " · chosen", sample.get("rejected"): " · rejected"}.get(index, "")
        text.append(f"── response {index + 1}{mark} ──\n", style="bold")
        text.append(f"{response['content']}\n\n")
    if sample.get("skipped"):
        text.append(f"No pair: {sample['skipped']['message']}\n\n", style="yellow")
    flags = sample.get("flags") or []
    details = [f"status {sample.get('status')}", f"technique {sample.get('technique')}"]
    if flags:
        details.append("flags " + ", ".join(flags))
    if sample.get("original"):
        details.append("edited (the model's original is kept)")
    if sample.get("judgement"):
        text.append_text(judgement_text(sample["judgement"]))
        text.append("\n")
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
    ReviewScreen #parent { width: 1fr; border: round $warning; padding: 0 1; display: none; }
    /* An evolved sample: its parent and its conversation side by side, with room taken from the table. */
    ReviewScreen.-with-parent #samples { width: 5fr; }
    ReviewScreen.-with-parent #parent { width: 3fr; display: block; }
    ReviewScreen.-with-parent #detail { width: 4fr; }
    ReviewScreen #shown { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("a", "set_status('accepted')", "Accept", id="review.accept", tooltip="Accept the selected sample"),
        Binding("r", "set_status('rejected')", "Reject", id="review.reject", tooltip="Reject the selected sample"),
        Binding("u", "undo", "Undo", id="review.undo",
                tooltip="Undo the last change (accept, reject, edit, bulk), again and again back to when the app opened"),
        Binding("e", "edit", "Edit", id="review.edit", tooltip="Edit the conversation; the original is kept"),
        Binding("j", "move(1)", "Next", id="review.next", show=False, tooltip="Next sample"),
        Binding("k", "move(-1)", "Previous", id="review.previous", show=False, tooltip="Previous sample"),
        Binding("A", "bulk('accepted')", "Accept shown", id="review.accept_shown", tooltip="Accept every sample the filter shows"),
        Binding("R", "bulk('rejected')", "Reject shown", id="review.reject_shown", tooltip="Reject every sample the filter shows"),
        Binding("p", "compare_pairs", "Compare pairs", id="review.compare_pairs", show=False,
                tooltip="Pick the better response of each preference pair, starting at the selected one"),
        Binding("slash", "search", "Search", id="review.search", tooltip="Search the conversations"),
        Binding("escape", "back", "Back", id="review.back", tooltip="Back to the main screen (escape in a filter: to the table)"),
        # Last: where the footer has no room for it, search and back keep theirs (it stays in F1 and the palette).
        Binding("o", "sort_by_rating", "Sort by rating", id="review.sort_by_rating",
                tooltip="Order by the judge's rating: best first, then worst first, then the store's order (unrated last)"),
    ]

    def __init__(self, store: SampleStore, sample_id: int | None = None, only_ids: Collection[int] | None = None) -> None:
        super().__init__(id="review")
        fast_paint.lay_out_once_per_change(self)
        self.store = store
        self.start_id = sample_id
        self.only_ids = set(only_ids) if only_ids is not None else None  # e.g. one near-duplicate cluster
        self.rows: list[ReviewRow] = []
        self.shown: list[ReviewRow] = []
        self._choices: dict[str, list[str]] = {}
        self.rating_order: str | None = None  # one of RATING_ORDERS: the order of the rows shown
        self._judged = False  # some sample has a verdict: the rating filters and sort are offered

    def compose(self) -> ComposeResult:
        yield fast_paint.header()
        with Horizontal(id="filters"):
            yield Select([(s, s) for s in STATUSES], prompt="any status", id="filter-status", compact=True)
            yield Select([], prompt="any technique", id="filter-technique", compact=True)
            yield Select([], prompt="any flag", id="filter-flag", compact=True)
            yield Select([(label, value) for value, label in RATING_CHOICES], prompt="any rating", id="filter-rating", compact=True)
            yield Select([], prompt="any tag", id="filter-tag", compact=True)
            yield fast_paint.text_input(placeholder="/ search", id="filter-search", compact=True)
        with Horizontal(id="review-body"):
            table = SampleTable(id="samples")
            table.border_title = "Samples"
            yield table
            with VerticalScroll(id="parent") as parent:
                parent.border_title = "Evolved from"
                yield Static("", id="parent-text", markup=False)
            with VerticalScroll(id="detail") as detail:
                detail.border_title = "Conversation"
                yield Static("", id="conversation", markup=False)
        yield Static("", id="shown", markup=False)
        yield FittedFooter()

    def on_mount(self) -> None:
        self.reload(select=self.start_id)
        if self.start_id is None:
            # A person opens review to curate: start on the first sample still waiting for a decision.
            waiting = next((row.id for row in self.shown if row.status == "new"), None)
            if waiting is not None:
                self.apply_filters(select=waiting)
        self.query_one("#samples", SampleTable).focus()
        self.app.samples_changed.subscribe(self, self.sample_added)

    def sample_added(self, sample: dict[str, Any]) -> None:
        """Add the one new row (reading every sample again would take a second at 100,000 per sample)."""
        sample_id = sample.get("id")
        if sample_id is None or sample_id in self.samples or (self.only_ids is not None and sample_id not in self.only_ids):
            return
        stored = self.samples[sample_id] = self.store.get_sample(sample_id)
        # Flagged `duplicate` against the rows already here; an earlier twin gets its flag at the next reload.
        [row] = review_rows([stored], self._instruction_counts)
        self.rows.append(row)
        if filter_rows([row], **self.filters()):
            self.shown.append(row)
            self.query_one("#samples", SampleTable).rows_appended()
        self._show_count()

    # Data ------------------------------------------------------------------------------------

    def reload(self, select: int | None = None) -> None:
        """Read the samples again, refresh the filter choices, and show what the filters let through."""
        self.samples = {s["id"]: s for s in self.store.list_samples() if self.only_ids is None or s["id"] in self.only_ids}
        self._instruction_counts = Counter()
        self.rows = review_rows(list(self.samples.values()), self._instruction_counts)
        self._refresh_choices("#filter-technique", sorted({r.technique for r in self.rows}), technique_title)
        flags = sorted({flag for row in self.rows for flag in row.flags})
        self._refresh_choices("#filter-flag", [NO_FLAG, *flags], lambda f: "no flag" if f == NO_FLAG else f)
        self._refresh_choices("#filter-tag", sorted({tag for row in self.rows for tag in row.tags}), str)
        judged = any(row.judged for row in self.rows)
        for selector in ("#filter-rating", "#filter-tag"):  # filters for ratings only once there are some
            self.query_one(selector, Select).display = judged
        if judged != self._judged:
            self._judged = judged
            self.refresh_bindings()
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
            "rating": value("#filter-rating"),
            "tag": value("#filter-tag"),
            "query": self.query_one("#filter-search", Input).value,
        }

    def apply_filters(self, select: int | None = None) -> None:
        table = self.query_one("#samples", SampleTable)
        if select is None:
            select = self.selected_id()
        self.shown = sort_by_rating(filter_rows(self.rows, **self.filters()), self.rating_order)
        cursor = next((index for index, row in enumerate(self.shown) if row.id == select), 0) if select is not None else 0
        table.set_rows(self.shown, cursor)
        self._show_count()
        self.show_selected()

    def _show_count(self) -> None:
        order = f" · {RATING_ORDER_WORDS[self.rating_order]}" if self.rating_order else ""
        self.query_one("#shown", Static).update(f"{len(self.shown)} of {len(self.rows)} samples shown{order}")

    def selected_id(self) -> int | None:
        table = self.query_one("#samples", SampleTable)
        if table.rows is not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row].id

    def show_selected(self) -> None:
        sample_id = self.selected_id()
        sample = self.samples.get(sample_id) if sample_id is not None else None
        conversation = self.query_one("#conversation", Static)
        parent = parent_text(sample) if sample is not None else None
        self.set_class(parent is not None, "-with-parent")
        if sample is None:
            conversation.update("No sample matches the filters." if self.rows else "No samples yet: generate some (ctrl+g).")
            return
        conversation.update(conversation_text(sample))
        if parent is not None:
            self.query_one("#parent-text", Static).update(parent)

    # Events ----------------------------------------------------------------------------------

    @on(SampleTable.RowHighlighted, "#samples")
    def row_highlighted(self) -> None:
        self.show_selected()

    @on(Select.Changed, "#filter-status, #filter-technique, #filter-flag, #filter-rating, #filter-tag")
    @on(Input.Changed, "#filter-search")
    def filter_changed(self) -> None:
        self.apply_filters()

    @on(Input.Submitted, "#filter-search")
    def search_done(self) -> None:
        self.query_one("#samples", SampleTable).focus()

    # Actions ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "sort_by_rating":
            return self._judged
        return offered(self.store, action)

    def action_sort_by_rating(self) -> None:
        """The next order: best rated first, worst first, the store's; the selected sample stays selected."""
        self.rating_order = RATING_ORDERS[(RATING_ORDERS.index(self.rating_order) + 1) % len(RATING_ORDERS)]
        self.apply_filters()

    def action_set_status(self, status: str) -> None:
        sample_id = self.selected_id()
        if sample_id is None:
            return
        if self.samples[sample_id].get("status") == "failed":
            self.notify("A failed sample has nothing to curate.", severity="warning")
            return
        before = self.samples[sample_id].get("status", "new")
        with saving(self):
            self.store.set_status([sample_id], status)
            if before != status:
                self.app.review_history.statuses_set(f"{ACTION_NOUNS[status]} of sample #{sample_id}", {sample_id: before})
            self.samples[sample_id] = self.store.get_sample(sample_id)
            table = self.query_one("#samples", SampleTable)
            # The row object is shared by `rows` and `shown`: changed once, in place.
            self.shown[table.cursor_row].status = status
            table.refresh_row(table.cursor_row)
            self.app.show_counts()
            # The row stays in view until the filter changes, so the cursor can move on to the next.
            self.action_move(1)
            self.show_selected()

    def action_move(self, step: int) -> None:
        table = self.query_one("#samples", SampleTable)
        table.move_cursor(table.cursor_row + step)

    def action_bulk(self, status: str) -> None:
        """Decide every new sample shown; samples a person decided the other way are left alone unless they
        are all that is shown (filter on that status to ask for them)."""
        other = OTHER_DECISION[status]
        live = [row for row in self.shown if row.status != "failed"]
        undecided = [row for row in live if row.status == "new"]
        other_way = [row for row in live if row.status == other]
        already = len(live) - len(undecided) - len(other_way)
        verb = {"accepted": "Accept", "rejected": "Reject"}[status]
        key = "A" if status == "accepted" else "R"
        if undecided:
            changed = undecided
            question = f"{verb} the {_samples(len(undecided), 'new sample')} the filter shows?"
            if other_way:
                question += (f" {_samples(len(other_way), 'sample')} you {other} stay {other}: to {verb.lower()} them too,"
                             f" show only {other} samples and press {key}.")
        elif other_way:
            changed = other_way
            question = f"{verb} the {_samples(len(other_way), 'sample')} you {other}, which the filter shows?"
        else:
            self.notify(f"Every sample shown is already {status}." if already else "No sample shown to change.", severity="warning")
            return
        if already:
            question += f" {_samples(already, 'sample')} already {status}."

        def confirmed(yes: bool | None) -> None:
            if yes:
                before = {row.id: row.status for row in changed}
                with saving(self):
                    self.store.set_status(list(before), status)
                    self.app.review_history.statuses_set(f"{ACTION_NOUNS[status]} of {_samples(len(before), 'shown sample')}", before)
                    # The shown rows change in place and stay until the filter changes, as with `a` and `r`
                    # (reading every sample again took a second at 100,000).
                    for row in changed:
                        row.status = self.samples[row.id]["status"] = status
                    self.query_one("#samples", SampleTable).refresh()
                    self.show_selected()
                    self.app.show_counts()
                    left = f"; {len(other_way)} {other} left alone" if other_way and changed is undecided else ""
                    self.notify(f"{verb}ed {_samples(len(changed), 'sample')}{left}.")

        self.app.push_screen(ConfirmScreen(question, verb), confirmed)

    def action_undo(self) -> None:
        with saving(self):
            change = self.app.review_history.undo(self.store)
            if change is None:
                self.notify("Nothing to undo: no review change since the app opened.")
                return
            if change.edited is not None:
                self.reload(select=change.edited["id"])
            else:
                rows = {row.id: row for row in self.rows}
                for sample_id in change.statuses:
                    if sample_id in self.samples:
                        self.samples[sample_id] = self.store.get_sample(sample_id)
                        if sample_id in rows:
                            rows[sample_id].status = self.samples[sample_id].get("status", "new")
                self._select(change.sample_ids[0])
                self.query_one("#samples", SampleTable).refresh()
                self.show_selected()
            self.app.show_counts()
            self.notify(change.undone())

    def _select(self, sample_id: int) -> None:
        """Put the cursor on a sample when the filters show it."""
        index = next((index for index, row in enumerate(self.shown) if row.id == sample_id), None)
        if index is not None:
            self.query_one("#samples", SampleTable).move_cursor(index)

    def action_edit(self) -> None:
        sample_id = self.selected_id()
        if sample_id is None:
            return
        sample = self.samples[sample_id]
        if not sample.get("conversation"):
            self.notify("This sample has no conversation to edit.", severity="warning")
            return

        def edited(conversation: list[ChatMessage] | None) -> None:
            if conversation is not None:
                before = self.store.get_sample(sample_id)
                with saving(self):
                    self.store.edit_sample(sample_id, conversation)
                    self.app.review_history.edited(before)
                    self.reload(select=sample_id)
                    self.notify(f"Sample #{sample_id} edited; the original is kept.")

        self.app.push_screen(EditSampleScreen(sample), edited)

    def action_compare_pairs(self) -> None:
        self.app.action_compare_pairs(self.selected_id())

    def action_search(self) -> None:
        self.query_one("#filter-search", Input).focus()

    def action_back(self) -> None:
        if self.focused is not None and self.focused.id and self.focused.id.startswith("filter-"):
            self.query_one("#samples", SampleTable).focus()
            return
        self.app.pop_screen()
