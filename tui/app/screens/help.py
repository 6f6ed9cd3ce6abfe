"""The help screen (F1 or ?): every key of the app, grouped by where it works."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HelpSection = tuple[str, list[BindingType], list[tuple[str, str]]]


class HelpScreen(ModalScreen[None]):
    """Lists the sections the app gives it: a title, its bindings, and keys owned by widgets."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 84; max-width: 95%; height: 90%; padding: 0 1;
        border: thick $primary; background: $surface;
    }
    """
    BINDINGS = [Binding("escape,f1,question_mark,q", "dismiss", "Close help", id="help.close", tooltip="Back to where you were")]

    def __init__(self, sections: list[HelpSection]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys · escape closes"
            scroll.can_focus = True
            yield Static(self._table())

    def _table(self) -> Table:
        table = Table(show_header=False, box=None, expand=True, padding=(0, 1))
        table.add_column("key", style="bold", no_wrap=True, width=22)
        table.add_column("what")
        for title, bindings, extra in self.sections:
            table.add_row("", "")
            table.add_row(f"[u]{title}[/u]", "")
            for binding in bindings:
                if isinstance(binding, Binding) and binding.description:
                    table.add_row(self._keys(binding.key), binding.description)
            for keys, what in extra:
                table.add_row(keys, what)
        return table

    def _keys(self, keys: str) -> str:
        return " / ".join(self.app.get_key_display(Binding(key, "")) for key in keys.split(","))
