"""A model behind OpenAI-compatible servers, used by techniques exactly as the in-process model is.

Where the chat template is known, a chat is rendered with it and sent as a raw completion
(`POST /completions` with a string prompt), so Magpie's pre-query and the chat that answers it come
from one template; with no template known, a chat goes to `/chat/completions`. Calls are safe from
many threads at once: each waits for its own request.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from tui.engine.chat_template import ChatTemplate, Message
from tui.engine.errors import BadInput
from tui.engine.model import Completion, Sampling, TextCallback, TextCheck
from tui.engine.server.pool import Reply, ServerFailure, ServerPool
from tui.engine.server.settings import ServerSettings

TokenCounter = Callable[[str], int | None]


class ServerModel:
    """The `LanguageModel` of a run on servers: a pool of servers, one model name, a chat template or none."""

    serves_concurrently = True  # many threads may call at once; the run's workers share it as it is

    def __init__(
        self,
        pool: ServerPool,
        settings: ServerSettings,
        model_name: str,
        template: ChatTemplate | None,
        template_origin: str | None,
        count: TokenCounter | None = None,
        seed_replayable: bool | None = None,
    ):
        self.pool = pool
        self.settings = settings
        self.model_name = model_name
        self._template = template
        self.template_origin = template_origin
        self._count = count
        self.seed_replayable = seed_replayable
        self.n_threads = None  # the servers' own business
        # Rendered once: every raw completion of a run sends them.
        self._turn_stops = () if template is None else tuple(dict.fromkeys(s for s in (template.end_of_turn(), template.eos_token) if s))

    @property
    def label(self) -> str:
        """A short description for a header line."""
        servers = self.pool.endpoints[0].url if len(self.pool.endpoints) == 1 else f"{len(self.pool.endpoints)} servers"
        template = f"template from {self.template_origin}" if self.template_origin else "no chat template (server-side chat)"
        return f"{self.model_name} on {servers}, {template}"

    def describe(self) -> dict[str, Any]:
        """The model as recorded with a run and its samples: servers and model name, never the key."""
        return {
            "name": self.model_name,
            "servers": [endpoint.url for endpoint in self.pool.endpoints],
            "chat_template": self.template_origin,
            "chat_template_fingerprint": self._template.fingerprint() if self._template else None,
            "seed_replayable": self.seed_replayable,
            "concurrency": self.settings.concurrency,
            "api_key_env": self.settings.api_key_env,
        }

    def fingerprint(self) -> str:
        """What a cached pipeline output depends on: the model's name and the template in use."""
        template = self._template.fingerprint() if self._template else "server-chat"
        return f"server:{self.model_name}:{template}"

    @property
    def has_chat_template(self) -> bool:
        return self._template is not None

    @property
    def chat_template(self) -> ChatTemplate:
        """The template Magpie cuts its pre-query from; raises BadInput when the servers did not tell it."""
        if self._template is None:
            raise BadInput(
                f"{self.model_name}: the chat template is unknown (the server does not report it); "
                f"{self.settings.names.chat_template_hint()} (a .jinja file, a tokenizer_config.json or a GGUF)"
            )
        return self._template

    def turn_stops(self) -> tuple[str, ...]:
        """Texts that end a turn: the template's end of turn and end-of-sequence token, where known."""
        return self._turn_stops

    @property
    def in_flight(self) -> int:
        """Requests on their way now, across the servers."""
        return sum(endpoint.in_flight for endpoint in self.pool.endpoints)

    def count_tokens(self, text: str) -> int | None:
        """Tokens in `text`, or None when neither a local tokenizer nor the server can count them."""
        return self._count(text) if self._count is not None else None

    def close(self) -> None:
        self.pool.close()

    def complete(
        self,
        prompt: str,
        sampling: Sampling,
        seed: int,
        stop: tuple[str, ...] = (),
        cancel: threading.Event | None = None,
        on_text: TextCallback | None = None,
        until: TextCheck | None = None,
    ) -> Completion:
        """Raw completion of `prompt` (`POST /completions`), streamed to `on_text` when it is given; a
        streamed one is closed as soon as `until` gives a reason."""
        body = {"model": self.model_name, "prompt": prompt, **request_sampling(sampling.validate(), seed)}
        if sampling.json_schema is not None:
            body["json_schema"] = sampling.json_schema  # llama-server's /completions reads its own field, not response_format
        stops = [s for s in stop if s]
        if stops:
            body["stop"] = stops
        return self._call("/completions", body, prompt, seed, stops, cancel, on_text, until, _completion_text, _completion_delta)

    def chat(
        self,
        messages: list[Message],
        sampling: Sampling,
        seed: int,
        cancel: threading.Event | None = None,
        on_text: TextCallback | None = None,
        until: TextCheck | None = None,
    ) -> Completion:
        """The assistant's next message: rendered with the known template, else the server's own chat."""
        if self._template is not None:
            prompt = self._template.render(messages, add_generation_prompt=True)
            return self.complete(prompt, sampling, seed, self.turn_stops(), cancel, on_text, until)
        body = {"model": self.model_name, "messages": messages, **request_sampling(sampling.validate(), seed)}
        return self._call("/chat/completions", body, "", seed, [], cancel, on_text, until, _chat_text, _chat_delta)

    def _call(
        self,
        path: str,
        body: dict[str, Any],
        prompt: str,
        seed: int,
        stops: list[str],
        cancel: threading.Event | None,
        on_text: TextCallback | None,
        until: TextCheck | None,
        text_of_reply: Callable[[dict[str, Any]], str | None],
        text_of_chunk: Callable[[dict[str, Any]], str],
    ) -> Completion:
        if on_text is not None:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}

        def accept(reply: Reply) -> tuple[str, str, dict[str, Any]]:
            if reply.chunks or on_text is not None:
                text = "".join(text_of_chunk(chunk) for chunk in reply.chunks)
                finish = next((r for r in map(_finish_of, reversed(reply.chunks)) if r), None)
                usage = next((c["usage"] for c in reversed(reply.chunks) if isinstance(c.get("usage"), dict)), {})
            else:
                text = text_of_reply(reply.body)
                finish = _finish_of(reply.body)
                usage = reply.body.get("usage") if isinstance(reply.body.get("usage"), dict) else {}
                if text is None:
                    raise ServerFailure("malformed_reply", f"{reply.endpoint.url}{path} answered without a completion text")
            text = _cut_at_stop(text, stops)  # a server that keeps the stop string in its text
            if not text.strip() and finish != "length":
                raise ServerFailure("empty", f"{reply.endpoint.url} wrote an empty completion")
            return text, reply.stopped or ("length" if finish == "length" else "stop"), usage

        def stop_early(text_so_far: str) -> str | None:
            return until(_cut_at_stop(text_so_far, stops))

        checked = stop_early if until is not None and on_text is not None else None
        reply = self.pool.post(path, body, cancel, on_text, text_of_chunk, accept, checked)
        text, finish, usage = reply.value
        return Completion(
            text=text,
            prompt_tokens=_count(usage, "prompt_tokens"),
            completion_tokens=_count(usage, "completion_tokens"),
            finish_reason=finish,
            seed=seed,
            seconds=reply.seconds,
            first_token_seconds=reply.first_token_seconds,
            prompt=prompt,
            server=reply.endpoint.url,
        )


def request_sampling(sampling: Sampling, seed: int) -> dict[str, Any]:
    """Sampling as these servers take it: the OpenAI fields, and top_k, min_p and the repeat penalty
    as the extra fields llama-server, vLLM and SGLang accept (llama-server would apply its own top_k
    of 40 if none were sent); an answer schema as OpenAI's `response_format`."""
    fields: dict[str, Any] = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        "seed": seed,
        "top_k": sampling.top_k,
        "min_p": sampling.min_p,
    }
    if sampling.repeat_penalty != 1.0:
        fields["repeat_penalty"] = fields["repetition_penalty"] = sampling.repeat_penalty  # llama-server, vLLM
    if sampling.json_schema is not None:
        fields["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": sampling.json_schema, "strict": True}}
    return fields


def _first_choice(body: dict[str, Any]) -> dict[str, Any]:
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}


def _completion_text(body: dict[str, Any]) -> str | None:
    text = _first_choice(body).get("text")
    return text if isinstance(text, str) else None


def _chat_text(body: dict[str, Any]) -> str | None:
    message = _first_choice(body).get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else None


def _completion_delta(chunk: dict[str, Any]) -> str:
    text = _first_choice(chunk).get("text")
    return text if isinstance(text, str) else ""


def _chat_delta(chunk: dict[str, Any]) -> str:
    delta = _first_choice(chunk).get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def _finish_of(body: dict[str, Any]) -> str | None:
    reason = _first_choice(body).get("finish_reason")
    return reason if isinstance(reason, str) and reason else None


def _count(usage: dict[str, Any], key: str) -> int | None:
    value = usage.get(key)
    return value if isinstance(value, int) and value >= 0 else None


def _cut_at_stop(text: str, stops: list[str]) -> str:
    positions = [p for p in (text.find(s) for s in stops) if p >= 0]
    return text[: min(positions)] if positions else text
