"""A technique's settings as form fields: listed from the settings dataclass, parsed and validated.

Fields come from the dataclass itself (nested `Sampling` groups included), so every setting the
engine has is editable and a new one appears without UI changes. Values are checked by the engine's
own rules; each problem is reported against the field that causes it.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from tui.engine.errors import BadInput
from tui.engine.techniques.base import SystemPrompts
from tui.app.techniques import TechniqueEntry

FieldPath = tuple[str, ...]

LABELS = {
    "n_turns": "Turns",
    "only_instruction": "Only the instruction (no answer)",
    "end_with_user": "End on a user turn",
    "system": "System prompts",
    "template": "Prompt template",
    "instruction_template": "Instruction template",
    "sampling": "Sampling",
    "user_sampling": "User turn sampling",
    "assistant_sampling": "Assistant turn sampling",
    "instruction_sampling": "Instruction sampling",
    "response_sampling": "Response sampling",
    "temperature": "Temperature",
    "top_p": "Top-p",
    "top_k": "Top-k (0 = off)",
    "min_p": "Min-p (0 = off)",
    "repeat_penalty": "Repeat penalty",
    "max_tokens": "Max tokens",
}

_WEIGHTED_LINE = re.compile(r"^\[\s*([^\]]*)\]\s*(.*)$")


@dataclass(frozen=True)
class SettingField:
    """One editable setting. `kind` says which widget edits it and how its text is parsed."""

    path: FieldPath
    kind: str  # int, float, bool, text, choice, template, system, lines
    label: str
    group: str = ""
    optional: bool = False
    choices: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A name usable in widget ids: the path joined with "--"."""
        return "--".join(self.path)


def label_of(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())


def describe_settings(settings: Any, prefix: FieldPath = (), group: str = "") -> list[SettingField]:
    """Every editable field of a settings dataclass, nested dataclasses flattened into groups."""
    hints = typing.get_type_hints(type(settings))
    found: list[SettingField] = []
    for spec in dataclasses.fields(settings):
        if not spec.init or spec.name.startswith("_"):
            continue  # computed state (a compiled pattern, a cache), not a setting
        path = (*prefix, spec.name)
        hint, optional = _unwrap_optional(hints[spec.name])
        value = getattr(settings, spec.name)
        if hint is SystemPrompts:
            found.append(SettingField(path, "system", label_of(spec.name), group))
        elif dataclasses.is_dataclass(hint):
            found.extend(describe_settings(value, path, label_of(spec.name)))
        else:
            kind, choices = _kind_of(spec.name, hint)
            found.append(SettingField(path, kind, label_of(spec.name), group, optional, choices))
    return found


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else hint), True
    return hint, False


def _kind_of(name: str, hint: Any) -> tuple[str, tuple[str, ...]]:
    if hint is bool:
        return "bool", ()
    if hint is int:
        return "int", ()
    if hint is float:
        return "float", ()
    if typing.get_origin(hint) is Literal:
        return "choice", tuple(str(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) in (list, tuple) and typing.get_args(hint)[:1] == (str,):
        return "lines", ()
    if hint is str and name.endswith("template"):
        return "template", ()
    return "text", ()


def get_value(settings: Any, path: FieldPath) -> Any:
    for name in path:
        settings = getattr(settings, name)
    return settings


def with_value(settings: Any, path: FieldPath, value: Any) -> Any:
    """A copy of the settings with one (possibly nested) field replaced."""
    head, *rest = path
    if rest:
        value = with_value(getattr(settings, head), tuple(rest), value)
    return dataclasses.replace(settings, **{head: value})


def format_value(field: SettingField, value: Any) -> Any:
    """The value as its editing widget shows it (text, or a bool for a switch)."""
    if field.kind == "bool":
        return bool(value)
    if value is None:
        return ""
    if field.kind == "system":
        return format_system_prompts(value)
    if field.kind == "lines":
        return "\n".join(value)
    if field.kind == "float":
        return f"{value:g}"
    return str(value)


def parse_value(field: SettingField, raw: Any) -> Any:
    """The setting's value from its widget's content; BadInput explains a malformed entry."""
    if field.kind == "bool":
        return bool(raw)
    text = str(raw).strip()
    if field.kind == "system":
        return parse_system_prompts(str(raw))
    if field.kind == "lines":
        return [line.strip() for line in str(raw).splitlines() if line.strip()]
    if not text and field.optional:
        return None
    if field.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise BadInput(f"{text or '(empty)'}: must be a whole number") from None
    if field.kind == "float":
        try:
            return float(text)
        except ValueError:
            raise BadInput(f"{text or '(empty)'}: must be a number, e.g. 0.7") from None
    if field.kind == "choice" and text not in field.choices:
        raise BadInput(f"{text}: must be one of {', '.join(field.choices)}")
    if not text and field.kind == "template":
        raise BadInput("choose a template")
    return text


def format_system_prompts(system: SystemPrompts) -> str:
    """One prompt per line; with weights, each line starts with its weight in brackets: `[3] ...`."""
    if not system.weights:
        return "\n".join(system.prompts)
    return "\n".join(f"[{weight:g}] {prompt}" for prompt, weight in zip(system.prompts, system.weights))


def parse_system_prompts(text: str) -> SystemPrompts:
    """Read the system prompts editor: a prompt per line, an optional `[weight]` before it (default 1)."""
    prompts: list[str] = []
    weights: list[float] = []
    weighted = False
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        weight = 1.0
        match = _WEIGHTED_LINE.match(line)
        if match:
            weighted = True
            try:
                weight = float(match.group(1))
            except ValueError:
                raise BadInput(f"line {number}: weight [{match.group(1)}] is not a number") from None
            line = match.group(2).strip()
            if not line:
                raise BadInput(f"line {number}: a weight with no prompt after it")
        prompts.append(line)
        weights.append(weight)
    try:
        return SystemPrompts(prompts, weights if weighted else [])
    except BadInput as error:
        raise BadInput(str(error).replace("--system-weights: ", "")) from None


def check_settings(entry: TechniqueEntry, settings: Any) -> None:
    """Apply the engine's own checks: every nested `validate()`, then the technique's constructor."""
    for value in _nested_dataclasses(settings):
        validate = getattr(value, "validate", None)
        if callable(validate):
            validate()
    entry.build(settings)


def _nested_dataclasses(settings: Any) -> list[Any]:
    found = []
    for spec in dataclasses.fields(settings):
        value = getattr(settings, spec.name)
        if spec.init and dataclasses.is_dataclass(value) and not isinstance(value, SystemPrompts):
            found.extend(_nested_dataclasses(value))
            found.append(value)
    return found


@dataclass
class FormResult:
    """Parsed settings (None when a field is wrong) and the problem of each field, by field key."""

    settings: Any
    problems: dict[str, str]


def read_form(entry: TechniqueEntry, fields: list[SettingField], raw: dict[str, Any]) -> FormResult:
    """Parse and check every field; each problem is attributed to its own field.

    Each value is checked alone on the default settings, so one bad field never hides another.
    A problem that only shows with the values together goes under the key "".
    """
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    defaults = entry.default_settings()
    for field in fields:
        try:
            values[field.key] = parse_value(field, raw[field.key])
            check_settings(entry, with_value(defaults, field.path, values[field.key]))
        except BadInput as error:
            problems[field.key] = _strip_field_prefix(str(error), field)
    if problems:
        return FormResult(None, problems)
    settings = defaults
    for field in fields:
        settings = with_value(settings, field.path, values[field.key])
    try:
        check_settings(entry, settings)
    except BadInput as error:
        return FormResult(None, {"": str(error)})
    return FormResult(settings, {})


def _strip_field_prefix(message: str, field: SettingField) -> str:
    """The engine says "temperature=9: must be ..."; next to the field, "9: must be ..." reads better."""
    prefix = f"{field.path[-1]}="
    return message[len(prefix):] if message.startswith(prefix) else message
