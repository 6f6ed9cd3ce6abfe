"""A chat template named by the user: a Jinja file, a Hugging Face `tokenizer_config.json`, or a GGUF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tui.engine.chat_template import ChatTemplate
from tui.engine.errors import BadInput, ModelFileError, TemplateProblem
from tui.engine.model_file import GGUF_MAGIC, inspect_model


def load_chat_template(path: Path, flag: str = "--chat-template") -> ChatTemplate:
    """The template in `path`, checked: it parses, renders, and keeps the user's message (Magpie cuts there)."""
    if not path.is_file():
        raise BadInput(f"{flag} {path}: no such file")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise BadInput(f"{flag} {path}: cannot be read ({error.strerror})") from None
    if magic == GGUF_MAGIC:
        source, bos, eos = _from_gguf(path, flag)
    elif path.suffix == ".json":
        source, bos, eos = _from_tokenizer_config(path, flag)
    else:
        source, bos, eos = _read_text(path, flag), "", ""
    try:
        template = ChatTemplate(source, bos, eos, origin=f"{path.name}")
        template.pre_query([])
    except TemplateProblem as problem:
        raise BadInput(f"{flag} {path}: {problem}") from None
    return template


def _read_text(path: Path, flag: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{flag} {path}: not a text file, so not a Jinja chat template") from None


def _from_gguf(path: Path, flag: str) -> tuple[str, str, str]:
    try:
        info = inspect_model(path)
    except ModelFileError as error:
        raise BadInput(f"{flag} {error}") from None
    if not info.chat_template:
        raise BadInput(f"{flag} {path}: this GGUF has no chat template (tokenizer.chat_template)")
    return info.chat_template, info.bos_token, info.eos_token


def _from_tokenizer_config(path: Path, flag: str) -> tuple[str, str, str]:
    try:
        config = json.loads(_read_text(path, flag))
    except json.JSONDecodeError as error:
        raise BadInput(f"{flag} {path}:{error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(config, dict) or "chat_template" not in config:
        raise BadInput(f"{flag} {path}: has no chat_template key")
    template = config["chat_template"]
    if isinstance(template, list):  # named templates: the default one, as transformers picks it
        named = {entry.get("name"): entry.get("template") for entry in template if isinstance(entry, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    if not isinstance(template, str) or not template.strip():
        raise BadInput(f"{flag} {path}: chat_template is not a template string")
    return template, _token_text(config.get("bos_token")), _token_text(config.get("eos_token"))


def _token_text(token: Any) -> str:
    """A special token as tokenizer_config.json writes it: a string, or an object with its content."""
    if isinstance(token, dict):
        return str(token.get("content") or "")
    return token if isinstance(token, str) else ""
