"""Every setting described once: a dataclass field made by `setting()`, with its label, help, bounds and flag.

The app's technique form, `smolgen generate`'s flags, pipeline steps (TOML and Python) and the run
record are all read from these descriptions, so a new setting is one `setting(...)` line in its
settings class. Nested settings dataclasses (a `Sampling`, the SelfInstruct filters) are groups; a
dataclass with a `setting_kind` (the system prompts) is one value, edited whole.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Iterable
from dataclasses import MISSING, dataclass
from typing import Any, Literal

from tui.engine.errors import BadInput

FieldPath = tuple[str, ...]
_METADATA_KEY = "smolgen.setting"
_SET_BY_CODE = "smolgen.set_by_code"


@dataclass(frozen=True)
class Bounds:
    """The range a number must fall in; with `zero_is_off`, 0 switches the setting off (top_k, min_p)."""

    at_least: float | None = None
    above: float | None = None
    at_most: float | None = None
    below: float | None = None
    zero_is_off: bool = False

    def holds(self, value: float) -> bool:
        return (
            (self.at_least is None or value >= self.at_least)
            and (self.above is None or value > self.above)
            and (self.at_most is None or value <= self.at_most)
            and (self.below is None or value < self.below)
        )

    def expected(self) -> str:
        """The range in words, the way an error message ends: "between 0 and 5", "above 0 and at most 1"."""
        low = self._number(self.at_least if self.at_least is not None else self.above)
        high = self._number(self.at_most if self.at_most is not None else self.below)
        if self.at_least is not None and self.at_most is not None:
            return f"between {low} and {high}"
        if low is not None and high is not None:
            start = f"from {low} to" if self.at_least is not None else f"above {low} and"
            return f"{start} {'at most' if self.at_most is not None else 'below'} {high}"
        if self.at_least is not None:
            return f"{low} or more" if self.zero_is_off and self.at_least == 0 else f"at least {low}"
        if self.above is not None:
            return f"above {low}"
        return f"{'at most' if self.at_most is not None else 'below'} {high}"

    def _number(self, value: float | None) -> str | None:
        if value is None:
            return None
        return f"{value:g} (off)" if self.zero_is_off and value == 0 else f"{value:g}"


@dataclass(frozen=True)
class SettingInfo:
    """What `setting()` keeps in a field's metadata."""

    label: str
    help: str = ""
    flag: str | None = None
    bounds: Bounds | None = None
    choices: tuple[str, ...] = ()
    kind: str | None = None
    metavar: str | None = None
    step_key: str | None = None
    prefix: str = ""
    shares: tuple[str, ...] = ()
    in_steps: bool = True
    switched_off_by: tuple[str, str] | None = None
    blank_records_null: bool = False


def setting(
    default: Any = MISSING,
    *,
    default_factory: Any = MISSING,
    label: str,
    help: str = "",
    flag: str | None = None,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
    below: float | None = None,
    zero_is_off: bool = False,
    choices: tuple[str, ...] = (),
    kind: str | None = None,
    metavar: str | None = None,
    step_key: str | None = None,
    prefix: str = "",
    shares: tuple[str, ...] = (),
    in_steps: bool = True,
    switched_off_by: tuple[str, str] | None = None,
    blank_records_null: bool = False,
) -> Any:
    """A settings dataclass field and its description.

    `flag`: its `smolgen generate` flag; `switched_off_by=("--no-filter", "length")`: a repeatable flag
    whose value names this (on by default) switch. `kind` overrides the kind read from the type hint
    ("template": a prompt template's name). `step_key`: its key in pipeline steps when not its name;
    `in_steps=False` keeps it out of them. On a group: `prefix` starts its settings' step keys and flags
    (`user` makes `user_temperature`, `--user-temperature`), except those it `shares` with the others.
    `blank_records_null`: a blank text is recorded as null, as nothing given (the run record's own convention).
    """
    bounded = any(limit is not None for limit in (at_least, above, at_most, below))
    info = SettingInfo(
        label, help, flag, Bounds(at_least, above, at_most, below, zero_is_off) if bounded else None, tuple(choices),
        kind, metavar, step_key, prefix, tuple(shares), in_steps, switched_off_by, blank_records_null,
    )
    return dataclasses.field(default=default, default_factory=default_factory, metadata={_METADATA_KEY: info})


def set_by_code(default: Any = None) -> Any:
    """A field that travels with the settings but only code sets it (a judge's answer schema): it has no
    form field, flag, step key or place in the run record."""
    return dataclasses.field(default=default, metadata={_SET_BY_CODE: True})


def _is_setting(spec: dataclasses.Field) -> bool:
    # computed state (a compiled pattern, a cache) and fields set by code are not settings
    return spec.init and not spec.name.startswith("_") and not spec.metadata.get(_SET_BY_CODE)


@dataclass(frozen=True)
class Setting:
    """One setting as every front end sees it: where it lives, how it is edited and checked, its names.

    `kind`: bool, int, float, text, template, choice, lines, numbers, mapping, rows or system; `lines` with
    `choices` is a list of some of them. `name` is its key in a pipeline step (settings of several groups
    that share a name are set together); `group` is the label of the group it belongs to.
    """

    path: FieldPath
    kind: str
    label: str
    help: str = ""
    group: str = ""
    optional: bool = False
    choices: tuple[str, ...] = ()
    bounds: Bounds | None = None
    flag: str | None = None
    name: str = ""
    in_steps: bool = True
    metavar: str | None = None
    switched_off_by: tuple[str, str] | None = None

    @property
    def key(self) -> str:
        """A name usable in widget ids: the path joined with "--"."""
        return "--".join(self.path)


def describe(settings_class: type) -> list[Setting]:
    """Every setting of a settings dataclass, in field order, nested groups flattened in place."""
    return list(_described(settings_class))


@functools.cache  # a class's fields never change, and the form checks every field on each key typed
def _described(settings_class: type) -> tuple[Setting, ...]:
    return tuple(_walk(settings_class, (), "", "", (), True))


def _walk(cls: type, at: FieldPath, group: str, prefix: str, shares: tuple[str, ...], in_steps: bool) -> Iterable[Setting]:
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        if not _is_setting(spec):
            continue
        info = spec.metadata.get(_METADATA_KEY) or SettingInfo(spec.name.replace("_", " ").capitalize())
        hint, optional = unwrap_optional(hints[spec.name])
        path = (*at, spec.name)
        if is_group(hint):
            inner = "_".join(part for part in (prefix, info.prefix) if part)
            yield from _walk(hint, path, info.label, inner, info.shares, in_steps and info.in_steps)
            continue
        prefixed = bool(prefix) and spec.name not in shares
        own = info.step_key or spec.name
        flag = info.flag
        if prefixed and flag is not None:
            flag = f"--{prefix.replace('_', '-')}-{flag.removeprefix('--')}"
        kind, choices = (info.kind, info.choices) if info.kind else kind_of(hint)
        help_text = f"{group.lower()}: {info.help}" if prefixed and info.help else info.help
        yield Setting(
            path, kind, info.label, help_text, group, optional, info.choices or choices, info.bounds, flag,
            f"{prefix}_{own}" if prefixed else own, in_steps and info.in_steps, info.metavar, info.switched_off_by,
        )


def is_group(hint: Any) -> bool:
    """A nested settings dataclass whose fields are settings of their own (not one value edited whole)."""
    return dataclasses.is_dataclass(hint) and getattr(hint, "setting_kind", None) is None


def unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """`X | None` as (X, True); any other hint as (hint, False)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else hint), True
    return hint, False


def kind_of(hint: Any) -> tuple[str, tuple[str, ...]]:
    """The kind of value a type hint holds (see `Setting.kind`), and its choices for a Literal."""
    hint, _ = unwrap_optional(hint)
    special = getattr(hint, "setting_kind", None)
    if special is not None:
        return special, ()
    if hint in (bool, int, float):
        return hint.__name__, ()
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "choice", tuple(str(a) for a in typing.get_args(hint))
    if origin is dict:
        return "mapping", ()
    if origin in (list, tuple, Iterable):
        item = (typing.get_args(hint) or (str,))[0]
        return {str: "lines", float: "numbers"}.get(item, "rows"), ()
    return "text", ()  # str, and str | Path and the like: typed as text


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


class OutOfBounds(BadInput):
    """A value its setting does not allow. It keeps the setting, so a front end can name it its own way
    (the CLI by its flag); the message names the field: "temperature=9: must be between 0 and 5"."""

    def __init__(self, described: Setting, value_text: str, problem: str):
        super().__init__(f"{described.path[-1]}={value_text}: {problem}")
        self.setting = described
        self.value_text = value_text
        self.problem = problem


def check_value(described: Setting, value: Any) -> None:
    """Raise OutOfBounds when the value is of the wrong type, outside the bounds or not one of the choices."""
    if value is None and described.optional:
        return
    kind = described.kind
    if kind == "bool" and not isinstance(value, bool):
        raise OutOfBounds(described, str(value), "must be true or false")
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise OutOfBounds(described, str(value), "must be a whole number")
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise OutOfBounds(described, str(value), "must be a number")
    if kind in ("text", "template", "choice") and not isinstance(value, str):
        raise OutOfBounds(described, str(value), "must be text")
    if kind == "lines" and (not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value)):
        raise OutOfBounds(described, str(value), "must be a list of text")
    if described.bounds is not None and not described.bounds.holds(value):
        raise OutOfBounds(described, str(value), f"must be {described.bounds.expected()}")
    if described.choices:
        given = [value] if kind == "choice" else list(value)
        unknown = [item for item in given if item not in described.choices]
        if unknown:
            raise OutOfBounds(described, ",".join(unknown), f"unknown; use {', '.join(described.choices)}")
        if not given:
            raise OutOfBounds(described, "(none)", "choose at least one")


def validate(settings: Any) -> Any:
    """Check every setting against its description, nested groups included, then each group's own
    `check_together()` (the checks that involve several fields); the settings when all is well."""
    for described in describe(type(settings)):
        check_value(described, get_value(settings, described.path))
    for group in _groups(settings):
        check_together = getattr(group, "check_together", None)
        if callable(check_together):
            check_together()
    return settings


def _groups(settings: Any) -> list[Any]:
    """The settings and every nested group in it, innermost first."""
    found = []
    for spec in dataclasses.fields(settings):
        value = getattr(settings, spec.name)
        if _is_setting(spec) and is_group(type(value)):
            found.extend(_groups(value))
    return [*found, settings]


def configured(settings_class: type, values: dict[FieldPath, Any]) -> Any:
    """The default settings with these values set, checked.

    A settings class may define `follow_given(given_paths)`: defaults that follow other settings unless
    given themselves (SelfInstruct's token cap for its list follows the number of instructions asked).
    """
    settings = settings_class()
    for path, value in values.items():
        settings = with_value(settings, path, value)
    follow_given = getattr(settings, "follow_given", None)
    if callable(follow_given):
        settings = follow_given(set(values))
    return validate(settings)


def record(settings: Any) -> dict[str, Any]:
    """The settings as a run records them: every setting by field name, groups nested, lists as lists,
    a blank `blank_records_null` text as null; a value that knows its own record (the system prompts) gives it."""
    recorded: dict[str, Any] = {}
    for spec in dataclasses.fields(settings):
        if not _is_setting(spec):
            continue
        value = getattr(settings, spec.name)
        info = spec.metadata.get(_METADATA_KEY)
        if info is not None and info.blank_records_null and isinstance(value, str) and not value.strip():
            recorded[spec.name] = None
        elif getattr(type(value), "setting_kind", None) is not None:
            recorded[spec.name] = value.record()
        elif dataclasses.is_dataclass(value):
            recorded[spec.name] = record(value)
        else:
            recorded[spec.name] = list(value) if isinstance(value, tuple) else value
    return recorded
