"""The model a command asks for: the in-process GGUF, OpenAI-compatible servers (`--server`), or a
llama-server smolgen starts itself (`--local-server`), opened and closed as one context."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Iterator

from tui.engine.errors import BadInput
from tui.engine.language_model import LanguageModel
from tui.engine.server.settings import (
    DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SECONDS, SERVER_FLAGS, ServerSettings, SettingNames,
)

SERVER_ONLY_FLAGS = ("server_model", "api_key_env", "concurrency", "timeout", "max_retries", "chat_template")
# A headless run of at least this many samples goes to a llama-server smolgen starts (when `make` built
# one): its slots outrun the in-process model after a few samples (`smolgen bench server` measures the
# break-even); shorter runs stay in-process, where the first token shows sooner.
LOCAL_SERVER_FROM_SAMPLES = 8


def uses_servers(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "server", None)) or getattr(args, "local_server", None) is not None


def check_model_flags(args: argparse.Namespace) -> None:
    """Flags that cannot go together, reported before anything is opened."""
    servers = getattr(args, "server", None) or []
    local = getattr(args, "local_server", None)
    if servers and getattr(args, "model", None) is not None:
        raise BadInput("--server and --model: a run uses either servers or a local GGUF; drop one (--local-server serves --model)")
    if servers and local is not None:
        raise BadInput("--server and --local-server: name your servers or let smolgen start one, not both")
    if not uses_servers(args):
        for name in SERVER_ONLY_FLAGS:
            if getattr(args, name, None) is not None:
                raise BadInput(f"--{name.replace('_', '-')}: only with --server URL or --local-server")
    elif getattr(args, "parallel", 1) not in (None, 1):
        raise BadInput("--parallel: for the in-process model; with servers, --concurrency sets the requests in flight")


def choose_local_server(args: argparse.Namespace, samples: int) -> bool:
    """Start a local llama-server for this headless run though none was asked for, when it pays: no
    server named, no --in-process or --parallel, enough samples, a built llama-server, and a model with a
    chat template (a base model stays in-process, which says what it can run). Sets `args.local_server`."""
    if getattr(args, "in_process", False) or uses_servers(args) or getattr(args, "parallel", 1) != 1:
        return False
    if samples < LOCAL_SERVER_FROM_SAMPLES:
        return False
    from tui.engine.errors import ModelFileError
    from tui.engine.model_file import default_model_path, inspect_model
    from tui.engine.server.local import find_llama_server

    try:
        find_llama_server()
        info = inspect_model(args.model if args.model is not None else default_model_path())
    except (BadInput, ModelFileError):
        return False  # not built here, or a model file the in-process path reports properly
    if not info.chat_template:
        return False
    args.local_server = 0
    args.local_server_chosen = True
    return True


def server_settings(args: argparse.Namespace, urls: list[str], default_concurrency: int = DEFAULT_CONCURRENCY,
                    names: SettingNames = SERVER_FLAGS, checked: bool = True) -> ServerSettings:
    """The server flags as settings (defaults where a flag was not given), bad input named as `names` says
    (the flags that gave the URLs, model and key); with --local-server and no URL yet, the local server's is
    added once it runs. `checked=False`: not validated here (connecting validates them)."""
    settings = ServerSettings(
        urls=urls,
        model=args.server_model,
        api_key_env=args.api_key_env,
        concurrency=args.concurrency if args.concurrency is not None else default_concurrency,
        timeout=args.timeout if args.timeout is not None else DEFAULT_TIMEOUT_SECONDS,
        max_retries=args.max_retries if args.max_retries is not None else DEFAULT_MAX_RETRIES,
        chat_template=args.chat_template,
        names=names,
    )
    return settings.validate(local_server=getattr(args, "local_server", None) is not None) if checked else settings


def checked_server_flags(args: argparse.Namespace, names: SettingNames = SERVER_FLAGS) -> tuple[ServerSettings | None, int | None]:
    """The server flags of a command that connects later (the app), every one checked now: the servers'
    settings (bad input named as `names` says, then and when they connect), or None for the in-process
    model, and the slots of a llama-server to start, or None."""
    check_model_flags(args)
    if not uses_servers(args):
        return None, None
    from tui.engine.server.connect import check_settings
    from tui.engine.server.local import DEFAULT_SLOTS

    slots = None
    if args.local_server is not None:
        slots = args.local_server or DEFAULT_SLOTS
        if slots < 1:
            raise BadInput(f"--local-server {slots}: slots must be at least 1")
    settings = server_settings(args, list(args.server), default_concurrency=slots or DEFAULT_CONCURRENCY, names=names)
    return check_settings(settings, local_server=slots is not None), slots


@contextlib.contextmanager
def opened_model(args: argparse.Namespace, check_seed: bool = False,
                 names: SettingNames = SERVER_FLAGS) -> Iterator[LanguageModel]:
    """The model the flags name, closed (and a local server stopped) when the block ends, however it ends;
    `names` are the flags that named the servers, for bad input."""
    check_model_flags(args)
    if not uses_servers(args):
        from tui.engine.model import Model

        yield Model.load(args.model, n_ctx=args.context, n_threads=args.threads)
        return
    from tui.engine.server.connect import connect

    def report(message: str) -> None:
        print(f"smolgen: {message}", file=sys.stderr, flush=True)

    with contextlib.ExitStack() as stack:
        urls = list(args.server)
        slots = None
        if args.local_server is not None:
            from tui.engine.server.local import DEFAULT_SLOTS, LocalServer

            slots = args.local_server or DEFAULT_SLOTS
            why = (f" (a run of {LOCAL_SERVER_FROM_SAMPLES} samples or more; --in-process keeps the model here)"
                   if getattr(args, "local_server_chosen", False) else "")
            report(f"starting llama-server with {slots} slots on 127.0.0.1{why}…")
            local = stack.enter_context(LocalServer(args.model, slots=slots, threads=args.threads))
            urls = [local.url]
        settings = server_settings(args, urls, default_concurrency=slots or DEFAULT_CONCURRENCY, names=names)
        model = connect(settings, check_seed=check_seed, on_event=report)
        stack.callback(model.close)
        yield model

