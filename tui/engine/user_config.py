"""The person's defaults, in config.toml in smolgen's config folder: the model or servers, threads, the
store, the export license and extra model folders. Flags given on the command line win over it.

Each key is a setting described once (settings_schema) and checked as the forms and flags are; a
problem is one line naming the file, the line and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from tui.engine.errors import BadInput
from tui.engine.settings_schema import OutOfBounds, check_value, describe, setting
from tui.engine.user_folders import config_dir

CONFIG_FILE = "config.toml"


@dataclass(frozen=True)
class UserConfig:
    """What config.toml can say; every key optional."""

    model: str | None = setting(None, label="Model", help="the GGUF file opened when no --model is given")
    servers: list[str] = setting(default_factory=list, label="Servers",
                                 help="OpenAI-compatible servers' base URLs, used instead of a GGUF file")
    server_model: str | None = setting(None, label="Server model", help="the model to ask the servers for")
    threads: int | None = setting(None, label="Threads", help="CPU threads for the in-process model", at_least=1)
    store: str | None = setting(None, label="Store", help="the JSON store used when no --store is given")
    export_license: str | None = setting(None, label="Export license", help="the license a dataset card names")
    model_folders: list[str] = setting(default_factory=list, label="Model folders",
                                       help="folders of GGUF files listed beside the usual places")

    @property
    def model_path(self) -> Path | None:
        return Path(self.model).expanduser() if self.model else None

    @property
    def store_path(self) -> Path | None:
        return Path(self.store).expanduser() if self.store else None

    @property
    def model_folder_paths(self) -> tuple[Path, ...]:
        return tuple(Path(folder).expanduser() for folder in self.model_folders)


def config_path() -> Path:
    """Where the config file is looked for."""
    return config_dir() / CONFIG_FILE


def load_user_config(path: Path | None = None) -> UserConfig:
    """The config file's defaults (none when it does not exist); BadInput naming the file, line and key
    when it is not TOML, names an unknown key or holds a value its key does not allow."""
    path = config_path() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UserConfig()
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"{path}: cannot read the config file ({getattr(error, 'strerror', None) or error})") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"at line (\d+)", str(error))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise BadInput(f"{where}: not TOML: {str(error).split(' (at line')[0]}") from None
    known = {described.path[0]: described for described in describe(UserConfig)}
    for key, value in table.items():
        where = f"{path}:{_line_of(text, key)}"
        if key not in known:
            raise BadInput(f"{where}: unknown key {key!r}; config.toml knows {', '.join(known)}")
        try:
            check_value(known[key], value)
        except OutOfBounds as error:
            raise BadInput(f"{where}: {key} = {value!r}: {error.problem}") from None
    if table.get("model") and table.get("servers"):
        raise BadInput(f"{path}:{_line_of(text, 'servers')}: servers: name a model or servers, not both")
    return UserConfig(**{spec.name: table[spec.name] for spec in fields(UserConfig) if spec.name in table})


def _line_of(text: str, key: str) -> int:
    """The line where a top-level key (or a table of that name) is set; 1 when it cannot be told."""
    pattern = re.compile(rf"""^\s*(\[+\s*)?["']?{re.escape(key)}["']?\s*(=|\]|\.)""")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return 1

