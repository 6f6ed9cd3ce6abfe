"""What a user says about the servers of a run: their URLs, the model, the key's variable, the load."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.engine.errors import BadInput
from tui.engine.model_spec import KeyVariableUnset

DEFAULT_CONCURRENCY = 8
# Generous: a long answer from a busy server with many slots can take minutes.
DEFAULT_TIMEOUT_SECONDS = 600.0
DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True)
class SettingNames:
    """What the person called each setting of a server (a flag, a form field, a TOML key), so that a
    bad-input line names what they typed."""

    server: str = "--server"
    model: str = "--server-model"
    key: str = "--api-key-env"
    concurrency: str = "--concurrency"
    timeout: str = "--timeout"
    max_retries: str = "--max-retries"
    chat_template: str = "--chat-template"

    def within(self, place: str) -> "SettingNames":
        """The same names after the place that holds them (`[llm] model`), for a line placed elsewhere (a step)."""
        return SettingNames(**{name: f"{place} {value}" for name, value in vars(self).items()})

    def key_hint(self) -> str:
        """How to send a key: a flag takes the variable's name; a field or a TOML key is filled in."""
        return _hint(self.key, "VAR")

    def chat_template_hint(self) -> str:
        """How to give a chat template file, as `key_hint` says how to send a key."""
        return _hint(self.chat_template, "FILE")


def is_flag(name: str) -> bool:
    """A setting's name is a flag (passed on the command line), not a field or a key (filled in)."""
    return name.startswith("--")


def _hint(name: str, value: str) -> str:
    return f"pass {name} {value}" if is_flag(name) else f"fill in {name}"


SERVER_FLAGS = SettingNames()
# The app's Server tab's labels (it has no timeout or retries: their flags). Here, not with the tab, because the
# command line reopens the servers the tab chose, named by these, before the app (and Textual) loads.
SERVER_TAB_FIELDS = SettingNames(server="Server URLs", model="Model", key="API key env", concurrency="Concurrency",
                                 chat_template="Chat template")


@dataclass
class ServerSettings:
    """The servers a run talks to. The API key itself is never kept here: only the variable's name."""

    urls: list[str] = field(default_factory=list)
    model: str | None = None
    api_key_env: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    max_retries: int = DEFAULT_MAX_RETRIES
    chat_template: Path | None = None
    # Not a setting: who set them, for the error lines (never recorded, no part of equality).
    names: SettingNames = field(default=SERVER_FLAGS, compare=False, repr=False)

    def validate(self, local_server: bool = False) -> "ServerSettings":
        """Raises BadInput naming the setting at fault as `names` calls it; with `local_server`, the URL comes once
        that server runs."""
        if not self.urls and not local_server:
            raise BadInput(f"{self.names.server}: at least one URL is needed")
        if self.concurrency < 1:
            raise BadInput(f"{self.names.concurrency} {self.concurrency}: must be at least 1")
        if not self.timeout > 0:
            raise BadInput(f"{self.names.timeout} {self.timeout}: must be more than 0 seconds")
        if self.max_retries < 0:
            raise BadInput(f"{self.names.max_retries} {self.max_retries}: must be 0 or more")
        if self.api_key_env is not None and not os.environ.get(self.api_key_env):
            raise KeyVariableUnset(self.names.key, self.api_key_env)
        return self

    def api_key(self) -> str | None:
        """The key, read from the environment when the connection is made; never stored."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def record(self) -> dict[str, Any]:
        """The settings as kept with a run (the key's variable name, never its value)."""
        return {
            "urls": list(self.urls),
            "model": self.model,
            "api_key_env": self.api_key_env,
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "chat_template": str(self.chat_template) if self.chat_template else None,
        }
