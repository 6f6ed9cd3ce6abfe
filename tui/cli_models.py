"""`smolgen models`: the model in use and its metadata, what servers offer, or the GGUF files on this machine."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tui.cli_flags import add_model_options, add_server_flags
from tui.engine.errors import BadInput


def add_arguments(models: argparse.ArgumentParser) -> None:
    """The flags of `smolgen models`."""
    models.add_argument("--list", action="store_true",
                        help="list the GGUF files in the Hugging Face cache, LM Studio, llama.cpp's cache, Ollama and your model folders")
    models.add_argument("--json", action="store_true", help="print the metadata as JSON")
    add_model_options(models)
    add_server_flags(models)


def cmd_models(args: argparse.Namespace) -> int:
    from tui.engine.model_file import default_model_path, inspect_model

    if args.list:
        return _list_models(args)
    if args.server:
        return _server_models(args)
    info = inspect_model(args.model or default_model_path())
    record: dict[str, Any] = {
        **info.summary(),
        "size_bytes": info.size_bytes,
        "bos_token": info.bos_token,
        "eos_token": info.eos_token,
        "special_tokens": info.special_tokens,
        "chat_template": info.chat_template,
    }
    if args.json:
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return 0
    print(f"{info.name}  ({info.path})")
    print(f"  architecture  {info.architecture}")
    print(f"  parameters    {info.parameters_label} ({info.parameters:,})")
    print(f"  quantization  {info.quantization}")
    print(f"  context       {info.trained_context:,} tokens trained")
    print(f"  size          {info.size_bytes / 1e6:.1f} MB, fingerprint {info.fingerprint}")
    print(f"  chat template {'yes' if info.chat_template else 'none (chat and Magpie unavailable)'}")
    print("  special       " + ", ".join(f"{k}={v}" for k, v in info.special_tokens.items()))
    return 0


def _list_models(args: argparse.Namespace) -> int:
    from tui.engine.model_catalog import list_models, model_folders
    from tui.engine.model_file import parameters_label

    if args.model is not None or args.server:
        raise BadInput("--list: lists the models on this machine; drop --model and --server")
    found = list_models(args.model_folders)
    if args.json:
        print(json.dumps([model.record() for model in found], ensure_ascii=False, indent=2))
        return 0
    if not found:
        print("no GGUF models found in:\n" + "\n".join(f"  {folder.path}  ({folder.source})" for folder in model_folders(args.model_folders)))
        return 0
    width = max(len("NAME"), *(len(model.name) for model in found))
    print(f"{'NAME':<{width}}  {'PARAMS':>6}  {'QUANT':<8}  {'SIZE':>9}  CHAT  {'SOURCE':<12}  PATH")
    for model in found:
        size = f"{model.size_bytes / 1e6:.1f} MB"
        if model.usable:
            survey = model.survey
            chat = "yes" if survey.chat_template else "no"
            print(f"{model.name:<{width}}  {parameters_label(survey.parameters):>6}  {survey.quantization:<8}  {size:>9}  {chat:<4}  "
                  f"{model.source:<12}  {model.path}")
        else:
            print(f"{model.name:<{width}}  cannot be used: {model.survey.problem}  ({model.source}, {model.path})")
    usable = sum(model.usable for model in found)
    print(f"{len(found)} files, {usable} usable; `smolgen --model PATH` opens one")
    return 0


def _server_models(args: argparse.Namespace) -> int:
    from tui.cli_model import check_model_flags, server_settings
    from tui.engine.server.connect import survey

    check_model_flags(args)
    found = survey(server_settings(args, args.server))
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return 0
    for server in found:
        print(server["url"])
        for name in server["models"]:
            print(f"  model         {name}")
        told = f"reported ({server['chat_template']})" if server["chat_template"] else "not reported (Magpie needs --chat-template)"
        print(f"  chat template {told}")
    return 0
