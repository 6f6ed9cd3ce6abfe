"""The technique settings pane: how many samples and which run seed, then a tab per technique."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Static, TabbedContent, TabPane, Tabs

from tui.app import fast_paint
from tui.app.techniques import TechniqueEntry
from tui.app.widgets.pipeline_tab import PipelineTab
from tui.app.widgets.tab_overflow import mark_tab_overflow
from tui.app.widgets.technique_tab import TechniqueTab
from tui.engine.errors import BadInput
from tui.engine.model import Model
from tui.engine.prompts import PromptLibrary
from tui.engine.runner import DEFAULT_NUM_WITHOUT_SEEDS


def parse_optional_int(text: str, what: str, minimum: int) -> int | None:
    """A blank field means "the default"; anything else must be a whole number ≥ minimum."""
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise BadInput(f"{what} {text}: must be a whole number") from None
    if value < minimum:
        raise BadInput(f"{what} {value}: must be at least {minimum}")
    return value


class WholeNumberAtLeast(Validator):
    """The run options' check, for the field's own invalid mark."""

    def __init__(self, what: str, minimum: int) -> None:
        super().__init__()
        self.what, self.minimum = what, minimum

    def validate(self, value: str) -> ValidationResult:
        try:
            parse_optional_int(value, self.what, self.minimum)
        except BadInput as error:
            return self.failure(str(error))
        return self.success()


class TechniquePane(Vertical):
    """Run options shared by every technique, and one settings tab per technique."""

    DEFAULT_CSS = """
    TechniquePane #run-options { height: 1; padding: 0 1; }
    TechniquePane #run-options Label { padding: 0 1 0 0; }
    TechniquePane #run-options Input { width: 1fr; margin-right: 1; }
    TechniquePane #run-problem { color: $error; height: auto; padding: 0 1; }
    TechniquePane TabbedContent { height: 1fr; }
    TechniquePane TabPane { padding: 0; }
    """

    def __init__(self, techniques: tuple[TechniqueEntry, ...], prompts: PromptLibrary,
                 remembered: dict[str, dict[str, Any]] | None = None, samples: str = "", **kwargs: Any) -> None:
        """`remembered`: per technique, the fields that differed from its defaults when the app was last
        quit; `samples`: the Samples field then."""
        super().__init__(**kwargs)
        self.techniques = techniques
        self.prompts = prompts
        self.remembered = dict(remembered or {})
        self.samples = samples
        self.border_title = "Technique"
        self.model: Model | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="run-options"):
            yield Label("Samples")
            # Blank means the default: a field passed through empty is not marked invalid, one below its
            # minimum is, with the reason under the line.
            yield fast_paint.text_input(self.samples, id="run-num", type="integer", placeholder="1 per seed", compact=True, valid_empty=True,
                        validators=[WholeNumberAtLeast("samples", 1)])
            yield Label("Seed")
            yield fast_paint.text_input(id="run-seed", type="integer", placeholder="random", compact=True, valid_empty=True,
                        validators=[WholeNumberAtLeast("seed", 0)])
        yield Static("", id="run-problem", markup=False)
        with TabbedContent(id="technique-tabs"):
            # A form is built when its tab is first shown: the first frame does not wait for every tab. The
            # first tab's is composed with the pane, not mounted once the pane is (one more layout of the screen).
            first, *others = self.techniques
            yield TabPane(first.tab_label, self._form(first), id=f"tab-{first.key}")
            for entry in others:
                yield TabPane(entry.tab_label, id=f"tab-{entry.key}")
            yield TabPane("Pipeline", id="tab-pipeline")

    def on_mount(self) -> None:
        self.query_one("#run-problem").display = False
        mark_tab_overflow(self.tabs.query_one(Tabs))
        self._placeholder_for(self.techniques[0])

    def _form(self, entry: TechniqueEntry) -> TechniqueTab:
        return TechniqueTab(entry, self.prompts, self.model, self.remembered.get(entry.key), id=f"form-{entry.key}")

    def _show_form(self, entry: TechniqueEntry) -> None:
        if not self.query(f"#form-{entry.key}"):
            self.query_one(f"#tab-{entry.key}", TabPane).mount(self._form(entry))
        self._placeholder_for(entry)

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#technique-tabs", TabbedContent)

    def current_entry(self) -> TechniqueEntry:
        key = (self.tabs.active or f"tab-{self.techniques[0].key}").removeprefix("tab-")
        return next((entry for entry in self.techniques if entry.key == key), self.techniques[0])

    @property
    def pipeline_shown(self) -> bool:
        """The Pipeline tab is in front: ctrl+g runs the pipeline instead of a technique."""
        return self.tabs.active == "tab-pipeline"

    @property
    def pipeline(self) -> PipelineTab:
        # Built when first needed, as the technique forms are: most sessions never show the Pipeline tab,
        # and the first frame does not wait for it.
        built = self.query(PipelineTab)
        if built:
            return built.first()
        tab = PipelineTab(self.prompts, id="pipeline")
        self.query_one("#tab-pipeline", TabPane).mount(tab)
        return tab

    def current_tab(self) -> TechniqueTab:
        return self.query_one(f"#form-{self.current_entry().key}", TechniqueTab)

    def show_technique(self, key: str) -> None:
        self.tabs.active = f"tab-{key}"

    def settings_to_remember(self) -> tuple[dict[str, dict[str, Any]], str]:
        """Each technique's fields that differ from its defaults (a tab never shown keeps what was
        remembered), and the Samples field."""
        remembered = dict(self.remembered)
        for tab in self.query(TechniqueTab):
            remembered[tab.entry.key] = tab.changed_values()
        return {key: values for key, values in remembered.items() if values}, self.query_one("#run-num", Input).value

    def reset_current_tab(self) -> str | None:
        """Put the technique tab in front back to its defaults; its title, or None on the Pipeline tab."""
        if self.pipeline_shown:
            return None
        tab = self.current_tab()
        tab.reset()
        return tab.entry.title

    def run_options(self) -> tuple[int | None, int | None] | None:
        """(samples, run seed), None for defaults; None overall when one is wrong (the problem is shown)."""
        problem = self.query_one("#run-problem", Static)
        try:
            num = parse_optional_int(self.query_one("#run-num", Input).value, "samples", 1)
            seed = parse_optional_int(self.query_one("#run-seed", Input).value, "seed", 0)
        except BadInput as error:
            problem.update(str(error))
            problem.display = True
            return None
        problem.display = False
        return num, seed

    @on(Input.Changed, "#run-num, #run-seed")
    def run_option_changed(self) -> None:
        self.run_options()

    @on(TabbedContent.TabActivated, "#technique-tabs")
    def technique_shown(self, event: TabbedContent.TabActivated) -> None:
        self.screen.refresh_bindings()  # the Pipeline tab's keys come and go with it
        self.border_title = f"Technique · {'Pipeline' if self.pipeline_shown else self.current_entry().title}"  # the tab's whole name
        if self.pipeline_shown:
            self.pipeline  # noqa: B018 -- built the first time it is shown
            self.query_one("#run-num", Input).placeholder = "every row"  # the source's rows, cycled when more
            return
        self._show_form(self.current_entry())

    def _placeholder_for(self, entry: TechniqueEntry) -> None:
        if entry.judges_stored:
            placeholder = "every one chosen"
        else:
            placeholder = "1 per seed" if entry.needs_seeds else str(DEFAULT_NUM_WITHOUT_SEEDS)
        self.query_one("#run-num", Input).placeholder = placeholder

    def model_loaded(self, model: Model) -> None:
        self.model = model
        for tab in self.query(TechniqueTab):
            tab.model_loaded(model)
