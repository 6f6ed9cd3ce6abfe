"""The pipeline the Pipeline tab edits: its steps as TOML-ready tables, and each step kind's fields.

Tables are the form `smolgen run FILE.toml` reads, so what is edited is what is saved, and the
engine's own loader builds (and checks) the pipeline from them. A technique step's fields come from
its settings schema, other steps' from their constructor, so a setting the engine adds appears in the
tab without UI changes.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.app.settings_form import format_value, parse_system_prompts, parse_value
from tui.engine.errors import BadInput
from tui.engine.pipeline.generation_steps import TechniqueStep
from tui.engine.pipeline.graph import Pipeline
from tui.engine.pipeline.steps import Step
from tui.engine.pipeline.toml_config import STEP_TYPES, build_pipeline, dump_config, llm_from_table, read_config, resolve
from tui.engine.settings_schema import Setting, get_value, kind_of, unwrap_optional
from tui.engine.techniques.base import SystemPrompts

# The kinds the add-step dialog offers, in the order of the chapter, with what each starts with.
STEP_CHOICES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("load_seeds_from_store", "Seeds · the seeds marked in the seeds pane", {"columns": ["text"]}),
    ("load_data_from_file", "Seeds · a file (.txt, .jsonl, .csv)", {"path": "seeds.txt"}),
    ("load_data_from_dicts", "Seeds · rows written here (JSON, one per line)",
     {"data": [{"instruction": "Generate a short question about small language models."}]}),
    ("text_generation", "Text generation · a template answered by the model", {}),
    ("instruction_response", "Instruction → response · a seed asks, then it is answered", {}),
    ("self_instruct", "SelfInstruct · new instructions from a seed", {}),
    ("evol_instruct", "EvolInstruct · a harder version of an instruction", {}),
    ("magpie", "Magpie · a conversation for each row", {}),
    ("magpie_generator", "Magpie as the first step · conversations from nothing", {}),
    ("judge", "Judge · rate each answer 1 to 5 and tag its instruction", {}),
    ("keep_columns", "Keep columns · drop every other column", {"columns": []}),
    ("rename_columns", "Rename columns · old = new", {"columns": {}}),
    ("expand_columns", "Expand a list column · one row per item", {"column": "instructions", "into": "instruction"}),
    ("filter_rows", "Filter rows by flag · drop (or keep only) flagged rows", {"flag": "truncated"}),
)
KIND_TITLES = {kind: title.split(" · ")[0] for kind, title, _ in STEP_CHOICES}

# Constructor parameters that are not settings: the model handle, and what has its own editor.
_NOT_FIELDS = {"self", "llm", "name", "input_mappings", "output_mappings"}
MAPPING_HINT = "one per line: step column = row column"


def new_pipeline_config() -> dict[str, Any]:
    """The pipeline a new tab starts with: the marked seeds, each turned into an instruction and its response."""
    return {
        "name": "my-pipeline",
        "description": "The marked seeds, each asking for an instruction that is then answered.",
        "steps": [
            {"name": "seeds", "type": "load_seeds_from_store", "columns": ["text"]},
            {"name": "instruction_response", "type": "instruction_response"},
        ],
    }


@dataclass(frozen=True)
class StepField:
    """One setting of a step: the form field, its default, and whether the step needs it written."""

    setting: Setting
    default: Any = None
    required: bool = False

    @property
    def key(self) -> str:
        return self.setting.path[-1]

    def value_in(self, table: dict[str, Any]) -> Any:
        """The field's value as the table has it (its default when the table does not say)."""
        if self.setting.kind == "system":
            prompts = [table[f"{self.key}_prompt"]] if table.get(f"{self.key}_prompt") else []
            return SystemPrompts([*prompts, *(table.get(f"{self.key}_prompts") or [])], list(table.get(f"{self.key}_weights") or []))
        return table.get(self.key, self.default)


def step_fields(kind: str) -> list[StepField]:
    """The editable settings of a step kind: a technique's from its settings schema, others from the constructor."""
    cls = STEP_TYPES[kind]
    found: dict[str, StepField] = {}
    for klass in cls.__mro__:
        if klass is TechniqueStep:  # the technique's settings before the step's own (retries, names)
            found.update(_technique_fields(cls))
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        hints = typing.get_type_hints(init)
        for parameter in inspect.signature(init).parameters.values():
            if parameter.name in _NOT_FIELDS or parameter.name in found:
                continue
            if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                continue
            required = parameter.default is inspect.Parameter.empty
            default = None if required else parameter.default
            hint, optional = unwrap_optional(hints.get(parameter.name, str))
            field_kind, choices = kind_of(hint)
            label = parameter.name.replace("_", " ").capitalize()
            setting = Setting((parameter.name,), field_kind, label, optional=optional or default is None, choices=choices)
            found[parameter.name] = StepField(setting, _plain(default), required)
    return list(found.values())


def _technique_fields(cls: type[TechniqueStep]) -> dict[str, StepField]:
    """A field per step key of the technique's settings; system prompts are one field over their keys.

    A setting of a group (sampling, filters) shows blank for its default, which may differ between the
    settings a key sets; a switch shows its default."""
    defaults = cls.technique_class.settings_class()
    found: dict[str, StepField] = {}
    for key, settings in cls.setting_keys().items():
        first = settings[0]
        if first.kind == "system":
            key = first.name
            if key not in found:
                found[key] = StepField(dataclasses.replace(first, path=(key,), group=""), SystemPrompts())
            continue
        setting = dataclasses.replace(first, path=(key,))
        if first.group:
            group = first.group if all(s.group == first.group for s in settings) else "Sampling"
            setting = dataclasses.replace(setting, group=f"{group} (blank: the step's default)")
        if first.group and first.kind != "bool":
            found[key] = StepField(dataclasses.replace(setting, optional=True))
        else:
            found[key] = StepField(setting, _plain(get_value(defaults, first.path)))
    return found


def _plain(value: Any) -> Any:
    """A default as TOML holds it (a tuple default is a list in a table)."""
    return list(value) if isinstance(value, tuple) else value


def format_field(step_field: StepField, value: Any) -> Any:
    """The value as its widget shows it: text, or a bool for a switch."""
    kind = step_field.setting.kind
    if value is None:
        return False if kind == "bool" else ""
    if kind == "mapping":
        return format_mapping(value)
    if kind == "numbers":
        return "\n".join(f"{number:g}" for number in value)
    if kind == "rows":
        return "\n".join(json.dumps(row, ensure_ascii=False) for row in value)
    return format_value(step_field.setting, value)


def parse_field(step_field: StepField, raw: Any) -> Any:
    """The value from its widget; BadInput says what is wrong with the text."""
    kind = step_field.setting.kind
    text = raw if isinstance(raw, str) else ""
    if kind == "mapping":
        return parse_mapping(text)
    if kind == "numbers":
        numbers = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    numbers.append(float(line))
                except ValueError:
                    raise BadInput(f"line {number}: {line.strip()} is not a number") from None
        return numbers or None
    if kind == "rows":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise BadInput(f"line {number}: not JSON ({error.msg})") from None
                if not isinstance(row, dict):
                    raise BadInput(f'line {number}: must be a JSON object, e.g. {{"instruction": "..."}}')
                rows.append(row)
        return rows
    if kind == "lines":
        lines = parse_value(step_field.setting, raw)
        return lines or (None if step_field.setting.optional and not step_field.required else lines)
    if kind == "system":
        return parse_system_prompts(text)
    return parse_value(step_field.setting, raw)


def format_mapping(mapping: dict[str, str]) -> str:
    return "\n".join(f"{key} = {value}" for key, value in mapping.items())


def parse_mapping(text: str) -> dict[str, str]:
    """`a = b` lines as {a: b}; a blank text is no mapping."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise BadInput(f"line {number}: write `column = other column`")
        mapping[key.strip()] = value.strip()
    return mapping


@dataclass
class PipelineDraft:
    """A pipeline being edited: a name, a description, one table per step in order, and the file's `[llm]` table."""

    name: str
    description: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    llm: dict[str, Any] | None = None  # kept when saved; its servers run the model steps, as in `smolgen run`

    @classmethod
    def from_config(cls, config: dict[str, Any], label: str) -> "PipelineDraft":
        tables = config.get("steps")
        if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
            raise BadInput(f"{label}: needs a list of [[steps]] tables")
        llm = copy.deepcopy(config["llm"]) if isinstance(config.get("llm"), dict) else None
        draft = cls(str(config.get("name") or Path(label).stem), str(config.get("description", "")), [], llm)
        for table in tables:
            table = copy.deepcopy(table)
            # Every step gets its name written, so the list, the drawing and the file agree.
            table.setdefault("name", draft.unique_name(str(table.get("type", "step"))))
            draft.steps.append(table)
        return draft

    @classmethod
    def new(cls) -> "PipelineDraft":
        return cls.from_config(new_pipeline_config(), "my-pipeline")

    @classmethod
    def load(cls, name_or_path: str) -> "PipelineDraft":
        """A built-in pipeline by name, or a TOML file; the engine checks it the way `smolgen run` does."""
        path = resolve(name_or_path.strip())
        config = read_config(path)
        tables = config.get("steps")
        if not isinstance(tables, list) or not tables or not all(isinstance(table, dict) for table in tables):
            raise BadInput(f"{path}: needs at least one [[steps]] table")
        if "llm" in config:
            llm_from_table(path, config["llm"])
        build_pipeline(config, path)  # unknown types and keys are reported against the file, as `smolgen run` does
        return cls.from_config(config, str(path))

    def config(self) -> dict[str, Any]:
        """The pipeline as the tables of a TOML file."""
        llm = {"llm": copy.deepcopy(self.llm)} if self.llm is not None else {}
        return {"name": self.name, "description": self.description, **llm, "steps": copy.deepcopy(self.steps)}

    def build(self) -> Pipeline:
        """The engine pipeline, not yet validated; BadInput names the step (or the `[llm]` key) that cannot be built.

        Its model steps run on the `[llm]` servers when the draft has them, else on the model the run is given."""
        servers = llm_from_table(self.name, self.llm) if self.llm is not None else None
        return build_pipeline(self.config(), self.name, servers)

    def runs_on(self) -> str | None:
        """Where the model steps run when it is not the app's model: told on load and at every run, never silent."""
        if self.llm is None:
            return None
        servers = self.llm.get("server")
        urls = ", ".join([servers] if isinstance(servers, str) else servers or [])
        model = f" (model {self.llm['model']})" if self.llm.get("model") else ""
        return f"model steps run on the file's [llm] server {urls}{model}, not the app's model"

    def checked(self) -> tuple[Pipeline | None, str | None]:
        """The pipeline (None when a step cannot be built) and why it cannot run (naming step and column), or None."""
        try:
            pipeline = self.build()
        except BadInput as error:
            return None, str(error)
        try:
            for step in pipeline.ordered():
                check_mappings(step)  # first: a misspelt mapping is why a column then looks missing
            pipeline.validate()
        except BadInput as error:
            return pipeline, str(error)
        return pipeline, None

    def to_toml(self) -> str:
        return dump_config(self.config())

    def save(self, path: Path) -> None:
        """Write the TOML file; OSError is told as one line naming the file."""
        try:
            path.write_text(self.to_toml(), encoding="utf-8")
        except OSError as error:
            raise BadInput(f"{path}: cannot write ({error.strerror or error})") from None

    # Editing ------------------------------------------------------------------------------------

    def unique_name(self, base: str) -> str:
        taken = {str(table.get("name")) for table in self.steps}
        if base not in taken:
            return base
        index = 1
        while f"{base}_{index}" in taken:
            index += 1
        return f"{base}_{index}"

    def add(self, kind: str, after: int | None) -> int:
        """Insert a step of `kind` after the step at `after` (at the end when None); its index."""
        start = next(table for choice, _, table in STEP_CHOICES if choice == kind)
        table = {"name": self.unique_name(kind), "type": kind, **copy.deepcopy(start)}
        index = len(self.steps) if after is None else after + 1
        if kind == "keep_columns":
            table["columns"] = self.columns_before(index)
        self.steps.insert(index, table)
        return index

    def remove(self, index: int) -> None:
        del self.steps[index]

    def move(self, index: int, offset: int) -> int:
        """Move a step up (-1) or down (+1); its new index (unchanged at either end)."""
        target = index + offset
        if not 0 <= target < len(self.steps):
            return index
        self.steps[index], self.steps[target] = self.steps[target], self.steps[index]
        return target

    def columns_before(self, index: int) -> list[str]:
        """The columns the rows carry when they reach the step at `index` (empty when it cannot be told)."""
        try:
            steps = self.build().ordered()[:index]
        except BadInput:
            return []
        return list(dict.fromkeys(column for step in steps for column in step.writes))


def check_mappings(step: Step) -> None:
    """A mapping of a column the step does not have would be silently ignored: say so instead."""
    for direction, mapping, names in (("input_mappings", step.input_mappings, step.inputs),
                                      ("output_mappings", step.output_mappings, step.outputs)):
        for key in mapping:
            if key not in names:
                what = "input" if direction == "input_mappings" else "output"
                raise BadInput(
                    f"step {step.name!r}: {direction} names {key!r}, which is not an {what} of {step.kind} "
                    f"({what}s: {', '.join(names) or 'none'})"
                )


def table_with(table: dict[str, Any], fields: list[StepField], values: dict[str, Any]) -> dict[str, Any]:
    """The step table with parsed field values; a default nobody wrote stays out of the file."""
    updated = dict(table)
    for step_field in fields:
        key = step_field.key
        if key not in values:
            continue
        value = values[key]
        if step_field.setting.kind == "system":
            _write_system_prompts(updated, key, value)
        elif value is None or (key not in table and not step_field.required and value == step_field.default):
            updated.pop(key, None)
        else:
            updated[key] = value
    return updated


def _write_system_prompts(table: dict[str, Any], key: str, system: SystemPrompts) -> None:
    """One unweighted prompt as `system_prompt`; several as `system_prompts`, with `system_weights` if weighted."""
    for suffix in ("_prompt", "_prompts", "_weights"):
        table.pop(f"{key}{suffix}", None)
    if len(system.prompts) == 1 and not system.weights:
        table[f"{key}_prompt"] = system.prompts[0]
    elif system.prompts:
        table[f"{key}_prompts"] = list(system.prompts)
        if system.weights:
            table[f"{key}_weights"] = list(system.weights)
