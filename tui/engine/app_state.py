"""What the app remembers from one start to the next, in state.json beside config.toml: each technique's
settings as its fields held them, the number of samples, the last model and the theme.

It is the app's own file, rewritten at each quit; config.toml stays the person's. A state file that
cannot be read is forgotten (the defaults come back), never an error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tui.engine.user_folders import config_dir, replace_file

STATE_FILE = "state.json"
_FORMAT = 1


@dataclass
class RememberedModel:
    """The last model the app had open: a GGUF file, or servers (their URLs, the model asked for, the name
    of the key's variable (never the key), the requests in flight and the chat template file, and whether
    the Server tab named them, so that reopening them names its fields, else the flags). A file written
    before a setting was kept holds none for it: None."""

    path: str | None = None
    servers: list[str] = field(default_factory=list)
    server_model: str | None = None
    from_server_tab: bool = False
    api_key_env: str | None = None
    concurrency: int | None = None
    chat_template: str | None = None


@dataclass
class AppState:
    """`techniques`: per technique, the fields that differ from its defaults (field key → what the field
    held); `samples`: the Samples field as typed."""

    techniques: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: str = ""
    model: RememberedModel | None = None
    theme: str | None = None


def state_path() -> Path:
    """Where the app's remembered settings are kept."""
    return config_dir() / STATE_FILE


def load_app_state(path: Path | None = None) -> AppState:
    """The remembered settings, or the defaults when there are none or they cannot be read."""
    path = state_path() if path is None else path
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("format") != _FORMAT:
            return AppState()
        model = kept.get("model")
        return AppState(
            techniques={str(key): dict(values) for key, values in (kept.get("techniques") or {}).items()},
            samples=str(kept.get("samples") or ""),
            model=_remembered_model(model) if isinstance(model, dict) else None,
            theme=kept.get("theme") if isinstance(kept.get("theme"), str) else None,
        )
    except (OSError, ValueError, TypeError, AttributeError):
        return AppState()


def _remembered_model(kept: dict[str, Any]) -> RememberedModel:
    """The last model as a file says it; keys a later smolgen wrote are left out, not the whole file forgotten."""
    known = {spec.name for spec in fields(RememberedModel)}
    return RememberedModel(**{key: value for key, value in kept.items() if key in known})


def save_app_state(state: AppState, path: Path | None = None) -> str | None:
    """Write the settings (a whole new file, then renamed over the old); the reason when it cannot be."""
    path = state_path() if path is None else path
    try:
        replace_file(path, json.dumps({"format": _FORMAT, **asdict(state)}, ensure_ascii=False, indent=1))
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    return None
