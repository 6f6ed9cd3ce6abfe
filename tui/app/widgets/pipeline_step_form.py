"""The settings of one pipeline step: its name, a validated field per setting, and its column mappings."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static, TextArea

from tui.app import fast_paint
from tui.app.pipeline_draft import MAPPING_HINT, StepField, format_field, format_mapping, parse_field, parse_mapping, step_fields, table_with
from tui.engine.errors import BadInput
from tui.engine.prompts import PromptLibrary

# Field kinds edited in a multi-line editor rather than a one-line input.
WIDE_KINDS = ("lines", "numbers", "mapping", "rows", "system")


class PipelineStepForm(Vertical):
    """Edits one step table; every change that parses is posted as `Changed` with the new table."""

    DEFAULT_CSS = """
    PipelineStepForm { height: auto; }
    PipelineStepForm .group { text-style: bold; color: $accent; margin-top: 1; }
    PipelineStepForm Grid { grid-size: 2; grid-columns: 18 1fr; grid-rows: 1; height: auto; }
    PipelineStepForm .field-problem { color: $error; height: auto; }
    PipelineStepForm .hint { color: $text-muted; height: auto; }
    PipelineStepForm TextArea { height: 4; }
    PipelineStepForm Checkbox { width: 4; }
    """

    class Changed(Message):
        """The step's table after an edit that parsed (the pipeline may still be wrong as a whole)."""

        def __init__(self, index: int, table: dict[str, Any]) -> None:
            super().__init__()
            self.index = index
            self.table = table

    def __init__(self, index: int, table: dict[str, Any], columns: tuple[tuple[str, ...], tuple[str, ...]] | None,
                 prompts: PromptLibrary, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index
        self.table = dict(table)
        self.kind = str(table.get("type"))
        self.columns = columns  # (inputs, outputs) of the built step, when it could be built
        self.prompts = prompts
        self.fields = step_fields(self.kind)

    def compose(self) -> ComposeResult:
        with Grid():
            yield Label("Name")
            yield fast_paint.text_input(str(self.table.get("name", "")), id="step-name", compact=True, select_on_focus=False)
        grid: list[StepField] = []
        group = ""
        for step_field in self.fields:
            wide = step_field.setting.kind in WIDE_KINDS
            if wide or step_field.setting.group != group:
                yield from self._grid(grid)
                grid = []
            if step_field.setting.group != group:
                group = step_field.setting.group
                yield Label(group, classes="group")
            if wide:
                yield Label(self._wide_label(step_field), classes="group")
                yield TextArea(self._shown(step_field), id=self.field_id(step_field), soft_wrap=True, compact=True)
            else:
                grid.append(step_field)
        yield from self._grid(grid)
        inputs, outputs = self.columns or ((), ())
        yield Label("Input mappings", classes="group")
        yield Label(f"{MAPPING_HINT} · inputs: {', '.join(inputs) or 'none'}", classes="hint", markup=False)
        yield TextArea(format_mapping(self.table.get("input_mappings") or {}), id="step-input-mappings", compact=True)
        yield Label("Output mappings", classes="group")
        yield Label(f"{MAPPING_HINT} · outputs: {', '.join(outputs) or 'none'}", classes="hint", markup=False)
        yield TextArea(format_mapping(self.table.get("output_mappings") or {}), id="step-output-mappings", compact=True)

    def _wide_label(self, step_field: StepField) -> str:
        how = {"lines": "one per line", "numbers": "one number per line", "mapping": "one per line: old = new",
               "rows": 'one JSON object per line, e.g. {"instruction": "..."}',
               "system": "one per line, a [weight] first to draw them unevenly"}[step_field.setting.kind]
        return f"{step_field.setting.label} ({how})"

    def _grid(self, fields: list[StepField]) -> ComposeResult:
        if fields:
            with Grid():
                for step_field in fields:
                    yield Label(step_field.setting.label)
                    widget = self._input_for(step_field)
                    widget.tooltip = step_field.setting.help or None
                    yield widget

    def field_id(self, step_field: StepField) -> str:
        return f"step-field-{step_field.key}"

    def _shown(self, step_field: StepField) -> Any:
        return format_field(step_field, step_field.value_in(self.table))

    def _input_for(self, step_field: StepField) -> Widget:
        value = self._shown(step_field)
        kind = step_field.setting.kind
        if kind == "bool":
            return Checkbox("", bool(value), id=self.field_id(step_field), compact=True)
        if kind == "template":
            options = [(name, name) for name in dict.fromkeys([*self.prompts.names(), value])]
            return Select(options, value=value, allow_blank=False, id=self.field_id(step_field), compact=True)
        input_type = {"int": "integer", "float": "number"}.get(kind, "text")
        placeholder = "default" if step_field.setting.group else ("none" if step_field.setting.optional else "")
        return fast_paint.text_input(value, id=self.field_id(step_field), type=input_type, placeholder=placeholder, compact=True,
                     select_on_focus=False)

    def focus_first(self) -> None:
        self.query_one("#step-name", Input).focus()

    # Reading ------------------------------------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        """The table the fields describe, or None when one does not parse (its problem is shown below it)."""
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for step_field in self.fields:
            widget = self.query_one(f"#{self.field_id(step_field)}")
            raw = widget.text if isinstance(widget, TextArea) else widget.value
            try:
                values[step_field.key] = parse_field(step_field, raw)
            except BadInput as error:
                problems[step_field.key] = str(error)
            self._show_problem(widget, problems.get(step_field.key, ""))
        mappings: dict[str, dict[str, str]] = {}
        for key in ("input_mappings", "output_mappings"):
            widget = self.query_one(f"#step-{key.replace('_', '-')}", TextArea)
            try:
                mappings[key] = parse_mapping(widget.text)
            except BadInput as error:
                problems[key] = str(error)
            self._show_problem(widget, problems.get(key, ""))
        name_input = self.query_one("#step-name", Input)
        name = name_input.value.strip()
        self._show_problem(name_input, "" if name else "a step needs a name")
        if problems or not name:
            return None
        table = table_with(self.table, self.fields, values)
        table["name"] = name
        for key, mapping in mappings.items():
            if mapping:
                table[key] = mapping
            else:
                table.pop(key, None)
        return table

    def _show_problem(self, widget: Widget, text: str) -> None:
        # A problem line sits right below its field and exists only while there is a problem.
        # It is one of the form's own children: looked up by id among them, not by a query of every widget inside.
        anchor = widget if isinstance(widget, TextArea) else widget.parent
        problem_id = f"problem-{widget.id}"
        try:
            shown: Static | None = self.get_child_by_id(problem_id, Static)
        except NoMatches:
            shown = None
        if shown is not None and not text:
            shown.remove()
        elif shown is not None:
            shown.update(text)
        elif text:
            self.mount(Static(text, id=problem_id, classes="field-problem", markup=False), after=anchor)

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    @on(TextArea.Changed)
    def field_changed(self, event: Message) -> None:
        event.stop()
        if not self.is_mounted:
            return
        table = self.read()
        if table is not None and table != self.table:
            self.table = table
            self.post_message(self.Changed(self.index, table))
