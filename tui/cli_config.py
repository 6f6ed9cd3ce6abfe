"""config.toml's defaults put into a command's arguments wherever no flag gave them."""

from __future__ import annotations

import argparse
from typing import Any

from tui.engine.user_config import UserConfig


def apply_user_config(args: argparse.Namespace, config: UserConfig) -> None:
    """Fill the options a command has (the app has them all) and the command line left out; a model
    given by flag keeps the config's servers out, and servers given by flag its model. Benchmarks are left as they are."""
    args.model_folders = config.model_folder_paths
    if args.command == "bench":
        return  # a benchmark measures what its own flags name, the same on every machine
    app = (args.command or "app") == "app"

    def offered(name: str) -> bool:
        return app or hasattr(args, name)

    def fill(name: str, value: Any) -> None:
        if offered(name) and getattr(args, name, None) is None and value is not None:
            setattr(args, name, value)

    from tui.engine.store import DEFAULT_STORE  # the store's module loads once a command is known to be run

    fill("store", config.store_path or DEFAULT_STORE)
    fill("threads", config.threads)
    if app:
        args.export_license = config.export_license  # the export dialog's license for a Hub folder
    if offered("license"):
        from tui.engine.export import HUB_FOLDER  # loaded for `export` alone, the command with a dataset card

        if getattr(args, "format", None) == HUB_FOLDER:  # only a dataset folder's card names a license
            fill("license", config.export_license)
    if getattr(args, "list", False) or getattr(args, "model", None) is not None or getattr(args, "server", None):
        return  # `models --list` lists files; a model or servers named by flag are what the command uses
    if config.model:
        fill("model", config.model_path)  # --local-server serves it too
    elif config.servers and offered("server") and getattr(args, "local_server", None) is None:
        args.server = list(config.servers)
        fill("server_model", config.server_model)
