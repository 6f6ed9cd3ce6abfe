"""The techniques the app offers, one settings tab each, in the chapter's order.

SelfInstruct and EvolInstruct get a tab as soon as their engine modules exist; a technique is
described only by its class and its settings dataclass, so adding one is a line here.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any

from tui.engine.techniques.base import Technique
from tui.engine.techniques.chain import ChainSettings, InstructionResponse
from tui.engine.techniques.magpie import Magpie, MagpieSettings
from tui.engine.techniques.text_generation import TextGeneration, TextGenerationSettings


@dataclass(frozen=True)
class TechniqueEntry:
    """One technique of the app: its tab title, its engine class and its settings dataclass."""

    title: str
    technique_class: type
    settings_class: type
    shows_pre_query: bool = False  # Magpie starts from the chat template's pre-query: show it

    @property
    def key(self) -> str:
        """The engine's name of the technique, as stored with every sample (e.g. "magpie")."""
        return self.technique_class.name

    @property
    def needs_seeds(self) -> bool:
        return bool(self.technique_class.needs_seeds)

    def default_settings(self) -> Any:
        return self.settings_class()

    def build(self, settings: Any) -> Technique:
        """The technique with these settings; the engine raises BadInput naming a bad field."""
        return self.technique_class(settings)


# (module, technique class, settings class, tab title) of techniques other engineers are adding.
_OPTIONAL = (
    ("tui.engine.techniques.self_instruct", "SelfInstruct", "SelfInstructSettings", "SelfInstruct"),
    ("tui.engine.techniques.evol_instruct", "EvolInstruct", "EvolInstructSettings", "EvolInstruct"),
)


def _optional_entries() -> list[TechniqueEntry]:
    entries = []
    for module_name, class_name, settings_name, title in _OPTIONAL:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        technique_class = getattr(module, class_name, None)
        settings_class = getattr(module, settings_name, None)
        if technique_class is not None and settings_class is not None:
            entries.append(TechniqueEntry(title, technique_class, settings_class))
    return entries


@functools.cache
def available_techniques() -> tuple[TechniqueEntry, ...]:
    """Every technique the installed engine has, in the chapter's order."""
    return (
        TechniqueEntry("Text generation", TextGeneration, TextGenerationSettings),
        TechniqueEntry("Instruction → response", InstructionResponse, ChainSettings),
        *_optional_entries(),
        TechniqueEntry("Magpie", Magpie, MagpieSettings, shows_pre_query=True),
    )


def technique_title(key: str) -> str:
    """The display title of a stored technique name (the name itself when unknown)."""
    return next((entry.title for entry in available_techniques() if entry.key == key), key)
