"""A technique's settings as form fields: described by the engine's settings schema, parsed and validated.

Fields, labels and kinds come from `settings_schema.describe` (nested `Sampling` groups included), so
every setting the engine has is editable and a new one appears without UI changes. Values are checked
by the engine's own rules; each problem is reported against the field that causes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tui.engine.errors import BadInput
from tui.engine.settings_schema import OutOfBounds, Setting, with_value
from tui.engine.techniques.base import SystemPrompts, WeightsProblem
from tui.app.techniques import TechniqueEntry

_WEIGHTED_LINE = re.compile(r"^\[\s*([^\]]*)\]\s*(.*)$")


def format_value(field: Setting, value: Any) -> Any:
    """The value as its editing widget shows it (text, or a bool for a switch)."""
    if field.kind == "bool":
        return bool(value)
    if value is None:
        return ""
    if field.kind == "system":
        return format_system_prompts(value)
    if field.kind == "lines":
        return "\n".join(value)
    if field.kind == "numbers":
        return ", ".join(f"{number:g}" for number in value)
    if field.kind == "float":
        return f"{value:g}"
    return str(value)


def parse_value(field: Setting, raw: Any) -> Any:
    """The setting's value from its widget's content; BadInput explains a malformed entry."""
    if field.kind == "bool":
        return bool(raw)
    text = str(raw).strip()
    if field.kind == "system":
        return parse_system_prompts(str(raw))
    if field.kind == "lines":
        return [line.strip() for line in str(raw).splitlines() if line.strip()]
    if field.kind == "numbers":
        try:
            return tuple(float(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise BadInput(f"{text}: must be numbers separated by commas, e.g. 0.3, 1.2") from None
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
    except WeightsProblem as error:  # the editor's `[weight]`s are no flag
        raise BadInput(error.problem) from None


@dataclass
class FormResult:
    """Parsed settings (None when a field is wrong) and the problem of each field, by field key."""

    settings: Any
    problems: dict[str, str]


class FieldChecks:
    """A form's last check of each field alone, by field key: a change checks again only the fields it changed."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[Any, str | None]] = {}  # field key -> (what the widget held, its problem)

    def problem(self, entry: TechniqueEntry, field: Setting, raw: Any) -> str | None:
        """What is wrong with the field's content alone on the default settings; None when nothing is."""
        last = self._last.get(field.key)
        if last is not None and type(last[0]) is type(raw) and last[0] == raw:
            return last[1]
        problem = _problem_alone(entry, field, raw)
        self._last[field.key] = (raw, problem)
        return problem


def _problem_alone(entry: TechniqueEntry, field: Setting, raw: Any) -> str | None:
    try:
        entry.build(with_value(entry.default_settings(), field.path, parse_value(field, raw)))
    except OutOfBounds as error:  # next to its field, "9: must be ..." says enough
        return f"{error.value_text}: {error.problem}" if error.setting.path == field.path else str(error)
    except BadInput as error:
        return str(error)
    return None


def read_form(entry: TechniqueEntry, fields: list[Setting], raw: dict[str, Any], earlier: FieldChecks | None = None) -> FormResult:
    """Parse and check every field; each problem is attributed to its own field.

    Each value is checked alone on the default settings, so one bad field never hides another.
    A problem that only shows with the values together goes under the key "". `earlier`: the form's
    checks so far, kept up to date, so that only fields changed since are checked alone again.
    """
    checks = earlier if earlier is not None else FieldChecks()
    problems: dict[str, str] = {}
    for field in fields:
        problem = checks.problem(entry, field, raw[field.key])
        if problem is not None:
            problems[field.key] = problem
    if problems:
        return FormResult(None, problems)
    settings = entry.default_settings()
    for field in fields:
        settings = with_value(settings, field.path, parse_value(field, raw[field.key]))
    try:
        entry.build(settings)
    except BadInput as error:
        return FormResult(None, {"": str(error)})
    return FormResult(settings, {})
