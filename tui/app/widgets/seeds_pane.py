"""The seeds pane: the store's seeds, which of them the next run uses, and keys to manage them.

A key that needs a dialog (the seed editor, a confirmation, the import) posts a request; the screen
opens the dialog and hands its answer back to the pane, which stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from tui.app.review_filter import first_line
from tui.app.store_changes import offered, saving
from tui.engine.errors import BadInput
from tui.engine.seeds import SeedFile, seed_text
from tui.engine.store import SampleStore


class SeedList(SelectionList[int]):
    """The list of seeds, whose scroll range follows its seeds without a layout of the screen.

    An option list works out its lines as it first draws them, and as seeds come and go, and sets its
    virtual size from them: a reactive that laid the whole screen out (one more layout as a store with
    no seeds opened), though the list's box is its pane's whatever it holds (its scroll bar shown or
    hidden still asks for a layout)."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0))  # as Widget's, without layout=True


def seed_label(row: dict[str, Any]) -> str:
    """One line for the list: the seed's main text, or its columns when it has no text."""
    try:
        return first_line(seed_text(row), 120)
    except BadInput:
        return first_line(", ".join(f"{k}={v}" for k, v in row.items()), 120)


class SeedsPane(Vertical):
    """Lists the seeds; space marks the ones the next run uses; every change is stored at once."""

    # A marked seed's box is filled, an unmarked one's empty: told apart at a glance in every theme.
    DEFAULT_CSS = """
    SeedsPane SelectionList { height: 1fr; border: none; padding: 0; }
    SeedsPane SelectionList > .selection-list--button, SeedsPane SelectionList > .selection-list--button-highlighted {
        color: $panel; background: $panel;
    }
    SeedsPane SelectionList > .selection-list--button-selected,
    SeedsPane SelectionList > .selection-list--button-selected-highlighted {
        color: $background; background: $success; text-style: bold;
    }
    SeedsPane #seeds-empty { color: $text-muted; padding: 0 1; height: auto; }
    """
    BINDINGS = [
        Binding("n", "add_seed", "Add seed", id="seeds.add", tooltip="Write a new seed"),
        Binding("e", "edit_seed", "Edit seed", id="seeds.edit", show=False, tooltip="Edit the highlighted seed"),
        Binding("d,delete", "delete_seed", "Delete seed", id="seeds.delete", show=False, tooltip="Delete the highlighted seed"),
        Binding("i", "import_seeds", "Import", id="seeds.import", tooltip="Import a .txt, .jsonl or .csv file"),
        Binding("t", "toggle_all", "Use all/none", id="seeds.toggle_all", show=False,
                tooltip="Mark every seed for the next run, or none when all are (it asks when only some are)"),
    ]

    @dataclass
    class EditorRequested(Message):
        """n or e: open the seed editor on `seed` (None: a new seed), then call `save_seed` with its row."""

        seed: dict[str, Any] | None

    @dataclass
    class DeleteRequested(Message):
        """d: ask whether to delete `seed`, then call `delete_seed` with the answer."""

        seed: dict[str, Any]

    @dataclass
    class MarkAllRequested(Message):
        """t with some seeds marked: ask whether to mark all `total`; if so, call `mark_all(True)`."""

        marked: int
        total: int

    @dataclass
    class ImportRequested(Message):
        """i: ask for a seed file, then call `import_seeds` with it."""

    def __init__(self, store: SampleStore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.border_title = "Seeds"

    def compose(self) -> ComposeResult:
        yield SeedList(id="seed-list")
        yield Static("No seeds yet: n adds one, i imports a file. Magpie needs none.", id="seeds-empty")

    def on_mount(self) -> None:
        self.seed_list.disabled = self.store.read_only  # marking a seed is a change too
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(self.store, action)

    @property
    def seed_list(self) -> SelectionList[int]:
        return self.query_one("#seed-list", SelectionList)

    def reload(self, highlight: int | None = None) -> None:
        """Show the store's seeds again, keeping the highlighted one where possible."""
        seeds = self.store.list_seeds()
        seed_list = self.seed_list
        previous = seed_list.highlighted
        seed_list.clear_options()
        seed_list.add_options(Selection(Text(seed_label(s["row"])), s["id"], bool(s.get("selected", True))) for s in seeds)
        seed_list.focus()
        if seeds:
            ids = [s["id"] for s in seeds]
            index = ids.index(highlight) if highlight in ids else min(previous or 0, len(seeds) - 1)
            seed_list.highlighted = index
        self.query_one("#seeds-empty").display = not seeds
        self._show_counts(len(seeds))

    def _show_counts(self, total: int) -> None:
        selected = len(self.seed_list.selected)
        self.border_subtitle = f"{selected} of {total} used" if total else ""

    def highlighted_seed(self) -> dict[str, Any] | None:
        seed_list = self.seed_list
        if seed_list.highlighted is None or seed_list.option_count == 0:
            return None
        seed_id = seed_list.get_option_at_index(seed_list.highlighted).value
        return next((s for s in self.store.list_seeds() if s["id"] == seed_id), None)

    @on(SelectionList.SelectionToggled, "#seed-list")
    def seed_toggled(self, event: SelectionList.SelectionToggled) -> None:
        seed_id = event.selection.value
        with saving(self):
            self.store.update_seed(seed_id, selected=seed_id in self.seed_list.selected)
            self._show_counts(self.seed_list.option_count)
            return
        self.reload(highlight=seed_id)  # not saved: show the seeds as the store has them

    def action_add_seed(self) -> None:
        self.post_message(self.EditorRequested(None))

    def action_edit_seed(self) -> None:
        seed = self.highlighted_seed()
        if seed is None:
            self.notify("No seed to edit: n adds one.", severity="warning")
            return
        self.post_message(self.EditorRequested(seed))

    def action_delete_seed(self) -> None:
        seed = self.highlighted_seed()
        if seed is not None:
            self.post_message(self.DeleteRequested(seed))

    def action_import_seeds(self) -> None:
        self.post_message(self.ImportRequested())

    def save_seed(self, seed: dict[str, Any] | None, row: dict[str, Any] | None) -> None:
        """Store the editor's `row` as a new seed (`seed` None) or as `seed`'s new row; None: cancelled."""
        if row is None:
            return
        with saving(self):
            if seed is None:
                [seed_id] = self.store.add_seeds([row], source="app")
            else:
                seed_id = seed["id"]
                self.store.update_seed(seed_id, row=row)
            self.reload(highlight=seed_id)

    def delete_seed(self, seed: dict[str, Any], confirmed: bool | None) -> None:
        """Delete `seed` if the person confirmed."""
        if confirmed:
            with saving(self):
                self.store.delete_seeds([seed["id"]])
                self.reload()

    def import_seeds(self, seed_file: SeedFile | None) -> None:
        """Store the seeds read from a file (None: cancelled) and say how many, and what was skipped."""
        if seed_file is None:
            return
        with saving(self):
            self.store.add_seeds(seed_file.rows, source=str(seed_file.path))
            skipped = f"; {len(seed_file.problems)} lines skipped ({seed_file.problems[0]})" if seed_file.problems else ""
            self.notify(f"Imported {len(seed_file.rows)} seeds from {seed_file.path.name}{skipped}", markup=False)
            self.reload()

    def action_toggle_all(self) -> None:
        """None marked: mark all; all marked: clear the marks; some marked: ask before marking the rest."""
        marked, total = len(self.seed_list.selected), self.seed_list.option_count
        if 0 < marked < total:
            self.post_message(self.MarkAllRequested(marked, total))
        elif total:
            self.mark_all(marked == 0)

    def mark_all(self, use: bool) -> None:
        """Mark every seed for the next run (`use`), or none."""
        seed_list = self.seed_list
        with saving(self):
            for seed in self.store.list_seeds():
                if bool(seed.get("selected", True)) != use:
                    self.store.update_seed(seed["id"], selected=use)
            if use:
                seed_list.select_all()
            else:
                seed_list.deselect_all()
            total = seed_list.option_count
            self._show_counts(total)
            self.notify(f"All {total} seeds marked: the next run uses every one." if use
                        else "No seed marked: space marks the ones the next run uses.")
            return
        self.reload()  # saved part-way: show the seeds as the store has them
