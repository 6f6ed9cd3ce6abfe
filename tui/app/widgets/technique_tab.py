"""One technique's settings: a validated field per engine setting, its template and system prompts."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static, TextArea

from tui.app import fast_paint
from tui.app.settings_form import FieldChecks, FormResult, format_value, read_form
from tui.app.techniques import TechniqueEntry
from tui.app.widgets.rewrapped_text_area import RewrappedTextArea
from tui.app.widgets.template_editor import TemplateEditor
from tui.engine.errors import SmolgenError
from tui.engine.model import Model
from tui.engine.prompts import PromptLibrary
from tui.engine.settings_schema import Setting, describe, get_value
from tui.engine.technique_guides import GUIDES
from tui.engine.techniques.base import Technique, system_messages

LABEL_COLUMN = 22
SYSTEM_HINT = "One prompt per line; put a weight first to draw them unevenly: [3] You are an AI assistant who…"


class TechniqueTab(VerticalScroll):
    """The form of one technique; `technique()` returns it built from the fields, or None if one is wrong."""

    DEFAULT_CSS = """
    TechniqueTab { padding: 0 1; }
    TechniqueTab .group { text-style: bold; color: $accent; margin-top: 1; }
    TechniqueTab Grid { grid-size: 2; grid-columns: 20 1fr; grid-rows: auto; height: auto; }
    TechniqueTab Grid > Label { width: 1fr; padding-right: 1; }
    TechniqueTab Grid > Select, TechniqueTab Grid > Input { height: 1; }
    TechniqueTab .field-problem { color: $error; column-span: 2; height: auto; }
    TechniqueTab .system-prompts { height: 4; }
    TechniqueTab .hint { color: $text-muted; }
    TechniqueTab Checkbox { width: 5; }  /* its box and the padding of an empty label: no "…" */
    TechniqueTab .pre-query { height: 5; }
    TechniqueTab .technique-summary { color: $text-muted; height: auto; }
    """

    def __init__(self, entry: TechniqueEntry, prompts: PromptLibrary, model: Model | None = None,
                 remembered: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """`remembered`: what fields held when the app was last quit (field key → value), in place of defaults."""
        super().__init__(**kwargs)
        self.entry = entry
        self.prompts = prompts
        self.model = model
        defaults = entry.default_settings()
        self.fields = describe(entry.settings_class)
        self.default_values = {field.key: format_value(field, get_value(defaults, field.path)) for field in self.fields}
        self.initial_values = {field.key: self._remembered_or_default(field, (remembered or {}).get(field.key)) for field in self.fields}
        self._problems: dict[str, Static] = {}
        self._checked_values: dict[str, Any] | None = None  # what the fields held at the last check
        self._field_checks = FieldChecks()
        # Labels take the column their longest needs, a space before the value, up to LABEL_COLUMN: a longer
        # one wraps onto a second line rather than crowding the value.
        longest = max((len(field.label) for field in self.fields), default=0)
        self._grid_columns = f"{min(longest + 1, LABEL_COLUMN)} 1fr"
        # Until then the form is being composed (a grid's fields are mounted after the grid): the model
        # may load, or ctrl+g come, in between, and must not look for fields that are not there yet.
        self._fields_mounted = False

    @property
    def fields_mounted(self) -> bool:
        """Whether every field is in the DOM (before, the form is still being composed)."""
        return self._fields_mounted

    def widget_id(self, field: Setting) -> str:
        return f"{self.entry.key}--{field.key}"

    def compose(self) -> ComposeResult:
        guide = GUIDES.get(self.entry.key)
        if guide is not None:  # what it does and the seed it expects; F1 has an example
            yield Static(f"{guide.summary} F1: an example.", classes="technique-summary", markup=False)
        grid: list[Setting] = []
        group = None
        for field in self.fields:
            if field.group != group or field.kind in ("system", "lines", "template"):
                yield from self._grid(grid)
                grid = []
            if field.group != group:
                group = field.group
                if group:
                    yield Label(group, classes="group")
            if field.kind in ("system", "lines", "template"):
                yield from self._compose_wide_field(field)
            else:
                grid.append(field)
        yield from self._grid(grid)
        if self.entry.shows_pre_query:
            yield Label("Pre-query, from the model's own chat template (read-only)", classes="group")
            yield RewrappedTextArea("(shown when the model is loaded)", read_only=True, soft_wrap=True, classes="pre-query", compact=True)

    def _grid(self, fields: list[Setting]) -> ComposeResult:
        if fields:
            with self._labelled_grid():
                for field in fields:
                    yield Label(field.label)
                    widget = self._input_for(field, self.initial_values[field.key])
                    widget.tooltip = field.help or None
                    yield widget

    def _labelled_grid(self) -> Grid:
        grid = Grid()
        grid.styles.grid_columns = self._grid_columns
        return grid

    def _compose_wide_field(self, field: Setting) -> ComposeResult:
        value = self.initial_values[field.key]
        widget_id = self.widget_id(field)
        if field.kind == "template":
            options = [(name, name) for name in dict.fromkeys([*self.prompts.names(), value])]
            with self._labelled_grid():
                yield Label(field.label)
                yield Select(options, value=value, allow_blank=False, id=widget_id, compact=True)
            yield TemplateEditor(self.prompts, value, id=f"{widget_id}--editor")
            return
        yield Label(field.label if field.kind == "system" else f"{field.label} (one per line)", classes="group")
        if field.kind == "system":
            yield Label(SYSTEM_HINT, classes="hint", markup=False)
        yield RewrappedTextArea(value, id=widget_id, soft_wrap=True, classes="system-prompts", compact=True)

    def _input_for(self, field: Setting, value: Any) -> Widget:
        widget_id = self.widget_id(field)
        if field.kind == "bool":
            return Checkbox("", value, id=widget_id, compact=True)
        if field.kind == "choice":
            return Select([(c, c) for c in field.choices], value=value, allow_blank=False, id=widget_id, compact=True)
        placeholder = "none" if field.optional else ""
        input_type = {"int": "integer", "float": "number"}.get(field.kind, "text")
        return fast_paint.text_input(value, id=widget_id, type=input_type, placeholder=placeholder, compact=True, select_on_focus=False)

    def on_mount(self) -> None:
        self._fields_mounted = True
        self.show_pre_query()

    def raw_values(self) -> dict[str, Any]:
        """What every field's widget holds now (their defaults while the form is being composed)."""
        if not self._fields_mounted:
            return dict(self.initial_values)
        values: dict[str, Any] = {}
        for field in self.fields:
            widget = self.query_one(f"#{self.widget_id(field)}")
            values[field.key] = widget.text if isinstance(widget, TextArea) else widget.value
        return values

    def _remembered_or_default(self, field: Setting, remembered: Any) -> Any:
        """A remembered value its widget can hold (a template or choice that still exists), else the default."""
        default = self.default_values[field.key]
        if remembered is None or type(remembered) is not type(default):
            return default
        if field.kind == "choice" and remembered not in field.choices:
            return default
        if field.kind == "template" and remembered not in self.prompts.names():
            return default
        return remembered

    def changed_values(self) -> dict[str, Any]:
        """The fields that differ from the technique's defaults: what the app remembers."""
        return {key: value for key, value in self.raw_values().items() if value != self.default_values[key]}

    def reset(self) -> None:
        """Put every field back to the technique's default."""
        for field in self.fields:
            widget = self.query_one(f"#{self.widget_id(field)}")
            default = self.default_values[field.key]
            if isinstance(widget, TextArea):
                widget.load_text(default)
            else:
                widget.value = default
        self.check()

    def check(self) -> FormResult:
        """Read the form and show each problem right below its field."""
        values = self.raw_values()
        result = read_form(self.entry, self.fields, values, self._field_checks)
        self._checked_values = values
        for field in self.fields:
            problem = result.problems.get(field.key, "")
            if problem or field.key in self._problems:
                self._show_problem(field.key, problem, self.query_one(f"#{self.widget_id(field)}"))
        self._show_problem("", result.problems.get("", ""), None)
        return result

    def _show_problem(self, key: str, text: str, widget: Widget | None) -> None:
        # Problem lines exist only while there is a problem: a form of many fields mounts faster.
        shown = self._problems.get(key)
        if shown is not None and not text:
            shown.remove()
            del self._problems[key]
        elif shown is not None:
            shown.update(text)
        elif text:
            problem = Static(text, classes="field-problem", markup=False)
            self._problems[key] = problem
            if widget is None:
                self.mount(problem)
            elif isinstance(widget, TextArea):
                self.mount(problem, after=widget)
            else:
                widget.parent.mount(problem, after=widget)

    def technique(self) -> Technique | None:
        """The technique built from the form, or None when a field is wrong (the problem is shown)."""
        result = self.check()
        if result.settings is None:
            return None
        return self.entry.build(result.settings)

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(TextArea.Changed, ".system-prompts")
    def field_changed(self) -> None:
        if self.is_mounted and self._check_if_changed():
            self.show_pre_query()

    def _check_if_changed(self) -> bool:
        """Check the form unless the fields hold what was checked last; whether it was checked."""
        # Each field announces its first value as it mounts: what the form shows is checked once, not again per field.
        if self.raw_values() == self._checked_values:
            return False
        self.check()
        return True

    @on(Select.Changed)
    def template_chosen(self, event: Select.Changed) -> None:
        self._check_if_changed()
        editor = self.query(f"#{event.select.id}--editor")
        # The select announces its first value as it mounts, which the editor shows already: reading it
        # again would lay the screen out once more.
        if editor and isinstance(event.value, str) and editor.first(TemplateEditor).template_name != event.value:
            editor.first(TemplateEditor).show_template(event.value)

    def model_loaded(self, model: Model) -> None:
        self.model = model
        self.show_pre_query()

    def show_pre_query(self) -> None:
        """Show the pre-query a technique without a prompt template starts from (with the first system prompt)."""
        if not self.entry.shows_pre_query or self.model is None or not self._fields_mounted:
            return  # only a form that shows it has the view; mounting the form shows it
        views = self.query(".pre-query")
        if not views:
            return
        result = read_form(self.entry, self.fields, self.raw_values(), self._field_checks)
        system = getattr(result.settings, "system", None)
        first = system.prompts[0] if system is not None and system.prompts else None
        try:
            text = self.model.chat_template.pre_query(system_messages(first))
        except SmolgenError as error:
            text = str(error)
        view = views.first(TextArea)
        # Unchanged by most keys: loaded again, the view (often below the fold) had Textual arrange every
        # widget of the screen anew to find where it is.
        if view.text != text:
            view.load_text(text)
