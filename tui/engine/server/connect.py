"""Opening a run's servers: check each is an OpenAI-compatible server that has the model, find the
chat template, a way to count tokens, and whether `seed` replays; every problem is one line of bad input."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import orjson

from tui.engine.chat_template import ChatTemplate
from tui.engine.chat_template_file import load_chat_template
from tui.engine.errors import BadInput, TemplateProblem
from tui.engine.model import Sampling, load_tokenizer
from tui.engine.server.pool import Endpoint, EventCallback, KeyRefused, ServerFailure, ServerPool, normalise_url
from tui.engine.server.server_model import ServerModel, TokenCounter, request_sampling
from tui.engine.server.settings import SERVER_FLAGS, ServerSettings, SettingNames, is_flag

# The seed check: a short completion asked twice with one seed at full temperature.
_SEED_PROBE = "Once upon a time"
_SEED_PROBE_SAMPLING = Sampling(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, max_tokens=12)
# Texts a local tokenizer must count as the server does before it stands in for the server's.
_COUNT_PROBES = ("Hello", "How do rivers form?\n\n1. Rain falls; 2. water gathers.", "Xin chào, thế giới! 3.14 über naïve")
_THIS_MACHINE = ("127.0.0.1", "localhost", "::1")


def connect(settings: ServerSettings, check_seed: bool = False, on_event: EventCallback | None = None) -> ServerModel:
    """The servers of `settings` as one model; raises BadInput naming the flag or URL at fault.

    With `check_seed`, each server is asked the same short completion twice with one seed: a server
    that ignores `seed` is reported, and the run is recorded as not replayable.
    """
    settings.validate()
    template = (load_chat_template(settings.chat_template, settings.names.chat_template)
                if settings.chat_template else None)
    origin = settings.chat_template.name if settings.chat_template else None
    count: TokenCounter | None = None
    if settings.chat_template and template is not None and _is_gguf(settings.chat_template):
        count = _gguf_counter(settings.chat_template)
    pool = ServerPool(
        settings.urls, settings.api_key(), settings.api_key_env, settings.timeout, settings.max_retries,
        settings.concurrency, on_event, names=settings.names,
    )
    try:
        offered = {endpoint.url: models_of(pool, endpoint) for endpoint in pool.endpoints}
        name = choose_model(settings.model, offered, settings.names)
        first = pool.endpoints[0]
        props = server_props(pool, first)
        if template is None:
            template, origin = template_from_props(props, first)
        if count is None:
            count = _server_counter(pool, first, name)
            count = _served_gguf_counter(props, first, count) or count
        model = ServerModel(pool, settings, name, template, origin, count)
        if check_seed:
            model.seed_replayable = all(_replays_seed(model, endpoint) for endpoint in pool.endpoints)
            if not model.seed_replayable:
                (on_event or (lambda _m: None))(
                    "a server ignores `seed`: --seed cannot replay this run (recorded as seed_replayable: false)"
                )
        return model
    except BaseException:
        pool.close()
        raise


def check_settings(settings: ServerSettings, local_server: bool = False) -> ServerSettings:
    """What can be checked before any server is asked (the numbers, the key's variable, the URLs' shape,
    the chat template file), with the URLs normalised; BadInput names the flag at fault. With
    `local_server`, the URL is that of a llama-server started later."""
    settings.validate(local_server=local_server)
    if settings.chat_template is not None:
        load_chat_template(settings.chat_template, settings.names.chat_template)
    return replace(settings, urls=[normalise_url(url, settings.names) for url in settings.urls])


def survey(settings: ServerSettings) -> list[dict[str, Any]]:
    """What each server offers (`smolgen models --server`): its models and the chat template it reports."""
    settings.validate()
    with ServerPool(settings.urls, settings.api_key(), settings.api_key_env, settings.timeout, 0, 1, names=settings.names) as pool:
        found = []
        for endpoint in pool.endpoints:
            template, origin = template_from_props(server_props(pool, endpoint), endpoint)
            found.append({
                "url": endpoint.url,
                "models": models_of(pool, endpoint),
                "chat_template": origin,
                "chat_template_source": template.source if template else None,
            })
        return found


def models_of(pool: ServerPool, endpoint: Endpoint) -> list[str]:
    """The model names a server offers (`GET /models`); bad input when it is no OpenAI-compatible server."""
    where = f"{pool.names.server} {endpoint.url}"
    try:
        response = pool.get(endpoint, "/models")
    except ServerFailure as failure:
        raise BadInput(f"{where}: {failure}") from None
    if response.status_code in (401, 403):
        raise KeyRefused(f"{where}: {_key_words(pool)} was refused ({response.status_code})")
    if response.status_code != 200:
        raise BadInput(f"{where}: not an OpenAI-compatible server (GET {endpoint.url}/models answered {response.status_code})")
    try:
        listing = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise BadInput(f"{where}: not an OpenAI-compatible server (GET {endpoint.url}/models is not JSON)") from None
    data = listing.get("data") if isinstance(listing, dict) else None
    names = [entry.get("id") for entry in data if isinstance(entry, dict)] if isinstance(data, list) else None
    if not names or not all(isinstance(n, str) for n in names):
        raise BadInput(f"{where}: not an OpenAI-compatible server (GET {endpoint.url}/models lists no models)")
    return names


def choose_model(wanted: str | None, offered: dict[str, list[str]], names: SettingNames = SERVER_FLAGS) -> str:
    """The model to use: the one named, which every server must have, else the servers' only one; BadInput
    names the setting at fault as `names` says the person called it."""
    if wanted is not None:
        for url, models in offered.items():
            if wanted not in models:
                raise BadInput(f"{names.model} {wanted}: {url} does not have it; it has {', '.join(models)}")
        return wanted
    common = set.intersection(*(set(models) for models in offered.values()))
    if len(common) == 1:
        return common.pop()
    every = sorted(set().union(*offered.values()))
    if not common:
        raise BadInput(f"{names.server}: the servers share no model ({', '.join(every)}); name one with {names.model}")
    pick = "pass" if is_flag(names.model) else "name"
    raise BadInput(f"{names.model}: the server offers several models; {pick} one of {', '.join(sorted(common))}")


def server_props(pool: ServerPool, endpoint: Endpoint) -> dict[str, Any]:
    """What a server says of itself at `GET /props` (llama-server), or {} where it says nothing."""
    try:
        response = pool.get(endpoint, "/props", at_root=True)
        props = orjson.loads(response.content) if response.status_code == 200 else {}
    except (ServerFailure, orjson.JSONDecodeError):
        return {}
    return props if isinstance(props, dict) else {}


def template_from_props(props: dict[str, Any], endpoint: Endpoint) -> tuple[ChatTemplate | None, str | None]:
    """The chat template a server reports in its props, or (None, None)."""
    source = props.get("chat_template")
    if not isinstance(source, str) or not source.strip():
        return None, None
    origin = f"{endpoint.root}/props"
    try:
        template = ChatTemplate(source, _text(props.get("bos_token")), _text(props.get("eos_token")), origin=origin)
        template.pre_query([])
    except TemplateProblem:
        return None, None  # a template our Jinja cannot render: chat goes to the server's own endpoint
    return template, origin


def _server_counter(pool: ServerPool, endpoint: Endpoint, model_name: str) -> TokenCounter | None:
    """Token counts from the server's tokenize endpoint (llama-server and vLLM have one), if it answers."""

    def count(text: str) -> int | None:
        body = {"content": text, "prompt": text, "model": model_name, "add_special": False, "add_special_tokens": False}
        try:
            response = pool.post_once(endpoint, "/tokenize", body, at_root=True)
            answer = orjson.loads(response.content) if response.status_code == 200 else None
        except (ServerFailure, orjson.JSONDecodeError):
            return None
        if not isinstance(answer, dict):
            return None
        if isinstance(answer.get("count"), int):
            return answer["count"]
        tokens = answer.get("tokens")
        return len(tokens) if isinstance(tokens, list) else None

    return count if count("Hello") is not None else None


def _gguf_counter(path: Any) -> TokenCounter:
    return load_tokenizer(path)


def _served_gguf_counter(props: dict[str, Any], endpoint: Endpoint, server_count: TokenCounter | None) -> TokenCounter | None:
    """The tokenizer of the GGUF a llama-server on this machine serves (`model_path` in its props), read
    here, so that counting a sample's texts sends no request; only where it counts as the server does."""
    path = props.get("model_path")
    if server_count is None or urlsplit(endpoint.root).hostname not in _THIS_MACHINE or not isinstance(path, str) or not _is_gguf(path):
        return None
    try:
        count = load_tokenizer(path)
    except BadInput:  # a file llama.cpp cannot read here: the server keeps counting
        return None
    return count if all(count(text) == server_count(text) for text in _COUNT_PROBES) else None


def _replays_seed(model: ServerModel, endpoint: Endpoint) -> bool:
    body = {"model": model.model_name, "prompt": _SEED_PROBE, **request_sampling(_SEED_PROBE_SAMPLING, 1234)}
    texts = []
    for _ in range(2):
        try:
            response = model.pool.post_once(endpoint, "/completions", body)
            answer = orjson.loads(response.content)
            texts.append(answer["choices"][0]["text"])
        except (ServerFailure, orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            return False
    return texts[0] == texts[1]


def _is_gguf(path: Any) -> bool:
    with contextlib.suppress(OSError), open(path, "rb") as handle:
        return handle.read(4) == b"GGUF"
    return False


def _key_words(pool: ServerPool) -> str:
    return f"the key from ${pool.key_name}" if pool.key_name else f"the request without a key ({pool.names.key_hint()})"


def _text(token: Any) -> str:
    return token if isinstance(token, str) else ""
