"""The techniques the app offers, one settings tab each, in the chapter's order, then judging stored samples.

A technique is described by its class alone (its settings class and their schema come with it), so
adding one is a line here.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from tui.engine.judge_run import JudgeRun
from tui.engine.techniques.base import Technique
from tui.engine.techniques.chain import InstructionResponse
from tui.engine.techniques.evol_instruct import EvolInstruct
from tui.engine.techniques.magpie import Magpie
from tui.engine.techniques.preference import RESPONSE_SERVER_FIELDS, Preference, PreferenceNames
from tui.engine.techniques.self_instruct import SelfInstruct
from tui.engine.techniques.text_generation import TextGeneration


# The preference settings as the preference tab's fields name them in a bad-input line.
PREFERENCE_FIELDS = PreferenceNames(responses="responses per instruction", temperatures="temperatures", system="system prompts",
                                    system_weights="system prompt weights", servers=RESPONSE_SERVER_FIELDS)


@dataclass(frozen=True)
class TechniqueEntry:
    """One technique of the app: its title, its label on the tab strip and its engine class."""

    title: str
    tab_label: str  # short, so that every tab fits on the strip of a 120-column terminal
    technique_class: type
    shows_pre_query: bool = False  # Magpie starts from the chat template's pre-query: show it
    judges_stored: bool = False  # ctrl+g judges stored samples instead of generating new ones
    field_names: Any = None  # how the settings' checks name them, for settings whose checks name several: by field

    @property
    def key(self) -> str:
        """The engine's name of the technique, as stored with every sample (e.g. "magpie")."""
        return self.technique_class.name

    @property
    def settings_class(self) -> type:
        return self.technique_class.settings_class

    @property
    def needs_seeds(self) -> bool:
        return bool(self.technique_class.needs_seeds)

    def default_settings(self) -> Any:
        settings = self.settings_class()
        return settings if self.field_names is None else dataclasses.replace(settings, names=self.field_names)

    def build(self, settings: Any) -> Technique:
        """The technique with these settings; the engine raises BadInput naming a bad field."""
        return self.technique_class(settings)


@functools.cache
def available_techniques() -> tuple[TechniqueEntry, ...]:
    """Every technique of the engine, in the chapter's order."""
    return (
        TechniqueEntry("Text generation", "Text", TextGeneration),
        TechniqueEntry("Instruction → response", "Chain", InstructionResponse),
        TechniqueEntry("SelfInstruct", "Self", SelfInstruct),
        TechniqueEntry("EvolInstruct", "Evol", EvolInstruct),
        TechniqueEntry("Magpie", "Magpie", Magpie, shows_pre_query=True),
        TechniqueEntry("Preference pairs", "Pairs", Preference, field_names=PREFERENCE_FIELDS),
        TechniqueEntry("Judge", "Judge", JudgeRun, judges_stored=True),
    )


def technique_title(key: str) -> str:
    """The display title of a stored technique name (the name itself when unknown)."""
    return next((entry.title for entry in available_techniques() if entry.key == key), key)
