"""The help screen (F1 or ?): every key of the app, grouped by where it works, then a page per technique
with an example seed and what the model made of it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static, TabbedContent, TabPane

from tui.app import fast_paint
from tui.engine.technique_guides import TechniqueGuide

HelpSection = tuple[str, list[BindingType], list[tuple[str, str]]]


def guide_text(guide: TechniqueGuide) -> Text:
    """A technique's help page: what it does, the seed it expects, an example seed and what came of it."""
    text = Text(f"{guide.summary}\n\n")
    text.append("Example seed\n", style="bold underline")
    text.append(f"{guide.seed or '(none: it needs no seed)'}\n\n")
    text.append("What the model made of it\n", style="bold underline")
    text.append(f"{guide.output}\n")
    if guide.note:
        text.append("\nMind\n", style="bold underline")
        text.append(f"{guide.note}\n")
    return text


class HelpScreen(ModalScreen[None]):
    """Pages: every key of the app (the sections the app gives it), then one per technique (`guides`:
    title and guide)."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > #help-box {
        width: 84; max-width: 95%; height: 90%; padding: 0 1;
        border: thick $primary; background: $surface;
    }
    HelpScreen TabbedContent, HelpScreen TabPane, HelpScreen VerticalScroll { height: 1fr; }
    HelpScreen TabPane { padding: 0; }
    """
    BINDINGS = [
        Binding("escape,f1,question_mark,q", "dismiss", "Close help", id="help.close", tooltip="Back to where you were"),
        Binding("right", "page(1)", "Next page", id="help.next_page", tooltip="The next page: keys, then each technique"),
        Binding("left", "page(-1)", "Previous page", id="help.previous_page", tooltip="The previous page"),
    ]

    def __init__(self, sections: list[HelpSection], guides: list[tuple[str, TechniqueGuide]] = ()) -> None:
        super().__init__()
        fast_paint.lay_out_once_per_change(self)
        self.sections = sections
        self.guides = list(guides)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box") as box:
            box.border_title = "Help · ← → pages · escape closes"
            with TabbedContent(id="help-pages"):
                with TabPane("Keys", id="page-keys"):
                    with VerticalScroll(classes="page"):
                        yield Static(self._table(), id="help-keys")
                for number, (title, guide) in enumerate(self.guides):
                    with TabPane(title, id=f"page-{number}"):
                        with VerticalScroll(classes="page"):
                            yield Static(guide_text(guide), classes="guide", markup=False)

    def on_mount(self) -> None:
        for page in self.query(".page"):
            page.can_focus = True
        self.query(".page").first().focus()

    def action_page(self, step: int) -> None:
        pages = [pane.id for pane in self.query(TabPane)]
        tabs = self.query_one(TabbedContent)
        tabs.active = pages[(pages.index(tabs.active) + step) % len(pages)]
        tabs.active_pane.query_one(".page").focus()

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
