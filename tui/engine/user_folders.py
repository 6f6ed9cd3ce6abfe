"""Where smolgen keeps a person's files outside any project: the config folder and the cache folder.

Both follow the platform's conventions (platformdirs: ~/.config/smolgen and ~/.cache/smolgen on
Linux); SMOLGEN_CONFIG_DIR names another config folder, for a second set of defaults or for tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CONFIG_DIR_VARIABLE = "SMOLGEN_CONFIG_DIR"


def config_dir() -> Path:
    """The folder of config.toml, the app's remembered settings and edited templates."""
    chosen = os.environ.get(CONFIG_DIR_VARIABLE)
    if chosen:
        return Path(chosen).expanduser()
    return platformdirs.user_config_path("smolgen", appauthor=False)


def cache_dir() -> Path:
    """The folder of what smolgen can always compute again (the model headers it has read)."""
    return platformdirs.user_cache_path("smolgen", appauthor=False)


def replace_file(path: Path, text: str) -> None:
    """Write `text` beside `path`, then rename it over `path`: a reader never sees half a file. Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
