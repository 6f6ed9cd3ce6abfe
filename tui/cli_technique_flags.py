"""`smolgen generate`'s technique flags, read from the settings' descriptions (`settings_schema`).

A setting with a `flag` is a flag of every technique that has it; one flag may set several settings of a
technique (`--max-tokens` caps every model call). A flag given to a technique without it is refused in
one line: "--num-instructions: only for self-instruct, not chain", or with the reason its settings class
gives in `refused_flags` (Magpie has no prompt template).
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass, field
from typing import Any

from tui.engine.errors import BadInput
from tui.engine.settings_schema import OutOfBounds, Setting, configured, describe, get_value
from tui.engine.techniques.base import SystemPrompts
from tui.engine.techniques.chain import InstructionResponse
from tui.engine.techniques.evol_instruct import EvolInstruct
from tui.engine.techniques.magpie import Magpie
from tui.engine.techniques.preference import Preference
from tui.engine.techniques.self_instruct import SelfInstruct
from tui.engine.techniques.text_generation import TextGeneration

# `smolgen generate TECHNIQUE`: each technique class, with its settings class, under its name.
TECHNIQUE_CLASSES: dict[str, type] = {cls.name: cls for cls in (TextGeneration, InstructionResponse, Magpie, SelfInstruct, EvolInstruct,
                                                            Preference)}
_METAVARS = {"int": "N", "float": "X", "template": "NAME", "lines": "A,B,...", "system": "TEXT", "numbers": "X,Y,..."}


@dataclass
class SettingFlag:
    """One flag and the settings it sets, by technique. `off_words`: a repeatable flag naming switches to turn off."""

    flag: str
    kind: str
    settings: dict[str, list[Setting]] = field(default_factory=dict)
    off_words: dict[str, str] = field(default_factory=dict)  # word → field name, for a switch-off flag

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def techniques(self) -> list[str]:
        return list(self.settings)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        first = next(iter(self.settings.values()))[0]
        if self.off_words:
            parser.add_argument(self.flag, action="append", default=[], metavar="NAME", help=self._help(
                f"switch one off: {', '.join(self.off_words)} (repeatable)"))
            return
        helps = {name: settings[0].help for name, settings in self.settings.items()}
        if len(set(helps.values())) == 1:
            help_text = self._help(first.help + self._default())
        else:  # the same flag means something of its own in some techniques (--template, --system)
            by_help: dict[str, list[str]] = {}
            for name, text in helps.items():
                by_help.setdefault(text, []).append(name)
            help_text = "; ".join(f"{', '.join(names)}: {text}" for text, names in by_help.items())
        metavar = first.metavar or _METAVARS.get(self.kind, "TEXT")
        if self.kind == "bool" and self.flag.startswith("--no-"):  # a switch on by default: the flag turns it off
            parser.add_argument(self.flag, action="store_const", const=False, default=None,
                                help=self._help(f"do not {first.help} (on by default)"))
        elif self.kind == "bool":
            parser.add_argument(self.flag, action="store_true", default=None, help=help_text)
        elif self.kind == "system":
            parser.add_argument(self.flag, action="append", default=[], metavar=metavar, help=help_text)
            parser.add_argument(f"{self.flag}-weights", metavar="W,W,...", help=self._help(f"weights of the {self.flag} prompts, in order"))
        else:
            convert = {"int": int, "float": float}.get(self.kind, str)
            parser.add_argument(self.flag, type=convert, metavar=metavar, help=help_text)

    def _help(self, text: str) -> str:
        every = len(self.settings) == len(TECHNIQUE_CLASSES)
        return text if every else f"{', '.join(self.techniques)}: {text}"

    def _default(self) -> str:
        """The default, when every technique has the same one (bools and prompts go without saying)."""
        if self.kind in ("bool", "system"):
            return ""
        defaults = {_plain(get_value(TECHNIQUE_CLASSES[name].settings_class(), s.path))
                    for name, settings in self.settings.items() for s in settings}
        if len(defaults) != 1:
            return ""
        [default] = defaults
        first = next(iter(self.settings.values()))[0]
        if default in ((), ""):  # nothing to show: an empty list or text
            return ""
        if first.choices and set(default) == set(first.choices):
            return " (default all)"
        if isinstance(default, tuple):
            return f" (default {','.join(default)})"
        return f' (default "{default}")' if isinstance(default, str) else f" (default {default:g})"

    def values(self, args: argparse.Namespace, technique: str) -> dict[tuple[str, ...], Any]:
        """The settings this flag gives the technique, by path."""
        given = getattr(args, self.dest)
        if self.off_words:
            given = [word.replace("_", "-") for word in given]  # the reason's own name (not_a_request) works too
            fields = {s.path[-1] for s in self.settings[technique]}
            known = [word for word, name in self.off_words.items() if name in fields]  # this technique's switches
            unknown = [word for word in given if word not in known]
            if unknown:
                raise BadInput(f"{self.flag} {unknown[0]}: unknown for {technique}; use one of {', '.join(known)}")
            off = {self.off_words[word] for word in given}
            return {s.path: False for s in self.settings[technique] if s.path[-1] in off}
        if self.kind == "system":
            system = SystemPrompts(given, _weights(self.flag, getattr(args, f"{self.dest}_weights")))
            return {s.path: system for s in self.settings[technique]}
        if self.kind == "lines":
            return {s.path: _items(given, s.choices) for s in self.settings[technique]}
        if self.kind == "numbers":
            return {s.path: _numbers(self.flag, given) for s in self.settings[technique]}
        return {s.path: given for s in self.settings[technique]}

    def given(self, args: argparse.Namespace) -> bool:
        given = getattr(args, self.dest) not in (None, [])
        return given or (self.kind == "system" and getattr(args, f"{self.dest}_weights") is not None)


@functools.cache
def setting_flags() -> tuple[SettingFlag, ...]:
    """Every flag the techniques' settings declare, in the order the techniques and their fields come."""
    flags: dict[str, SettingFlag] = {}
    for name, technique in TECHNIQUE_CLASSES.items():
        for described in describe(technique.settings_class):
            if described.switched_off_by is not None:
                flag, word = described.switched_off_by
                entry = flags.setdefault(flag, SettingFlag(flag, "off"))
                entry.off_words[word] = described.path[-1]
            elif described.flag is not None:
                entry = flags.setdefault(described.flag, SettingFlag(described.flag, described.kind))
            else:
                continue
            entry.settings.setdefault(name, []).append(described)
    return tuple(flags.values())


def add_technique_flags(parser: argparse.ArgumentParser) -> None:
    """Add every technique's setting flags to `smolgen generate`."""
    for entry in setting_flags():
        entry.add_to(parser)


def settings_from_flags(args: argparse.Namespace) -> Any:
    """The settings of `args.technique`, its defaults changed by the flags given; BadInput names a wrong flag."""
    technique = args.technique
    settings_class = TECHNIQUE_CLASSES[technique].settings_class
    refused = getattr(settings_class, "refused_flags", {})
    values: dict[tuple[str, ...], Any] = {}
    for entry in setting_flags():
        if not entry.given(args):
            continue
        if technique not in entry.settings:
            reason = refused.get(entry.flag) or f"only for {_listed(entry.techniques)}, not {technique}"
            raise BadInput(f"{entry.flag}: {reason}")
        values.update(entry.values(args, technique))
    try:
        return configured(settings_class, values)
    except OutOfBounds as error:
        if error.setting.flag is None:
            raise
        raise BadInput(f"{error.setting.flag} {error.value_text}: {error.problem}") from None


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _items(text: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list; a choice may be written with dashes (`add-constraints`)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    return tuple(item.replace("-", "_") if item.replace("-", "_") in choices else item for item in items)


def _numbers(flag: str, text: str) -> tuple[float, ...]:
    """A comma-separated list of numbers, e.g. 0.3,1.2."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise BadInput(f"{flag} {text}: expected numbers separated by commas, e.g. 0.3,1.2") from None


def _weights(flag: str, text: str | None) -> list[float]:
    if not text:
        return []
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise BadInput(f"{flag}-weights {text}: expected numbers separated by commas, e.g. 3,1,1") from None
