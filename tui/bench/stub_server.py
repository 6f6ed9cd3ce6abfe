"""A stand-in OpenAI-compatible server that answers at once with canned text: no model, so a benchmark
against it measures smolgen's own ceiling (requests, parsing, storing), and tests get exact text.

HTTP/1.1 is parsed by h11 on asyncio streams; `serve_http` is shared with the tests' fault proxy.
Run it alone with `python -m tui.bench.stub_server --port N`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import threading
from dataclasses import dataclass
from typing import Any, AsyncGenerator, AsyncIterator, Awaitable, Callable

import h11
import orjson

STUB_MODEL = "stub-model"
# A ChatML template, as SmolLM2 has, so Magpie can cut its pre-query from what /props reports.
STUB_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass
class Answer:
    """One HTTP answer: status, headers and a body given whole (bytes) or as pieces (an SSE stream)."""

    status: int
    body: bytes | AsyncGenerator[bytes, None] = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[str, str, bytes], Awaitable[Answer | None]]
# The headers of the request being answered (names in lower case), for a handler that checks them: one
# value per connection's task, so the handlers keep their three arguments.
request_headers: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("request_headers", default={})


async def serve_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handle: Handler) -> None:
    """Answer the HTTP/1.1 requests of one connection with `handle(method, target, body)` until it closes.

    A handler that returns None closes the connection without answering (a server that dropped it).
    """
    connection = h11.Connection(h11.SERVER)
    request: h11.Request | None = None
    body = bytearray()
    try:
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                connection.receive_data(data)
                if not data:
                    break
                continue
            if isinstance(event, h11.Request):
                request, body = event, bytearray()
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                request_headers.set({name.decode().lower(): value.decode() for name, value in request.headers})
                answer = await handle(request.method.decode(), request.target.decode(), bytes(body))
                if answer is None:
                    break
                await _send(connection, writer, answer)
                if connection.our_state is h11.MUST_CLOSE:
                    break
                connection.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                break
    except (h11.ProtocolError, ConnectionError):
        pass
    finally:
        writer.close()


async def _send(connection: h11.Connection, writer: asyncio.StreamWriter, answer: Answer) -> None:
    headers = [("content-type", answer.content_type), *answer.headers]
    if isinstance(answer.body, bytes):
        headers.append(("content-length", str(len(answer.body))))
        writer.write(connection.send(h11.Response(status_code=answer.status, headers=headers)))
        writer.write(connection.send(h11.Data(data=answer.body)))
    else:
        headers.append(("transfer-encoding", "chunked"))
        writer.write(connection.send(h11.Response(status_code=answer.status, headers=headers)))
        try:
            async for piece in answer.body:
                writer.write(connection.send(h11.Data(data=piece)))
                await writer.drain()
        finally:
            await answer.body.aclose()  # a client that closed the stream ends its generator now, not at collection
    writer.write(connection.send(h11.EndOfMessage()))
    await writer.drain()


def canned_text(seed: int, words: int) -> str:
    """The stub's completion for a seed: a question that differs from seed to seed."""
    topic = ("rivers", "fractions", "volcanoes", "poetry", "budgets", "planets", "verbs")[seed % 7]
    filler = " ".join(f"w{(seed + i) % 1000}" for i in range(max(0, words - 6)))
    return f"How do {topic} {seed} work {filler}?".replace("  ", " ")


class StubServer:
    """Canned completions at once; `words` sets their length, `finish` their finish reason; with `key`,
    every request without that key as its bearer token is refused (401), as a hosted server does."""

    def __init__(self, words: int = 24, finish: str = "stop", key: str | None = None):
        self.words = words
        self.finish = finish
        self.key = key
        self.requests = 0

    async def handle(self, method: str, target: str, body: bytes) -> Answer:
        if self.key is not None and request_headers.get().get("authorization") != f"Bearer {self.key}":
            return _json(401, {"error": {"message": "a valid API key is needed"}})
        path = target.split("?", 1)[0].rstrip("/")
        if method == "GET" and path in ("/v1/models", "/models"):
            return _json(200, {"object": "list", "data": [{"id": STUB_MODEL, "object": "model"}]})
        if method == "GET" and path == "/props":
            return _json(200, {"chat_template": STUB_CHAT_TEMPLATE, "bos_token": "", "eos_token": "<|im_end|>"})
        if method == "GET" and path == "/health":
            return _json(200, {"status": "ok"})
        if method == "POST" and path in ("/v1/completions", "/v1/chat/completions"):
            self.requests += 1
            return self._complete(orjson.loads(body), chat=path.endswith("chat/completions"))
        return _json(404, {"error": {"message": f"no route {method} {path}"}})

    def _complete(self, request: dict[str, Any], chat: bool) -> Answer:
        seed = int(request.get("seed") or 0)
        words = min(self.words, int(request.get("max_tokens") or self.words))
        text = canned_text(seed, words)
        finish = "length" if words < self.words else self.finish
        usage = {"prompt_tokens": len(str(request.get("prompt") or request.get("messages"))) // 4, "completion_tokens": words}
        if not request.get("stream"):
            choice = {"index": 0, "finish_reason": finish, **({"message": {"role": "assistant", "content": text}} if chat else {"text": text})}
            return _json(200, {"object": "text_completion", "model": STUB_MODEL, "choices": [choice], "usage": usage})
        return Answer(200, _events(text, finish, usage, chat), "text/event-stream")


async def _events(text: str, finish: str, usage: dict[str, int], chat: bool) -> AsyncIterator[bytes]:
    pieces = text.split(" ")
    for number, word in enumerate(pieces):
        piece = word if number == 0 else " " + word
        choice = {"index": 0, "finish_reason": None, **({"delta": {"content": piece}} if chat else {"text": piece})}
        yield b"data: " + orjson.dumps({"choices": [choice]}) + b"\n\n"
    last = {"index": 0, "finish_reason": finish, **({"delta": {}} if chat else {"text": ""})}
    yield b"data: " + orjson.dumps({"choices": [last]}) + b"\n\n"
    yield b"data: " + orjson.dumps({"choices": [], "usage": usage}) + b"\n\n"
    yield b"data: [DONE]\n\n"


def _json(status: int, body: dict[str, Any]) -> Answer:
    return Answer(status, orjson.dumps(body))


class ServerThread:
    """An asyncio HTTP server on 127.0.0.1 in a thread of its own, for tests and benchmarks."""

    def __init__(self, handle: Handler, port: int = 0):
        self.handle = handle
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(port,), name="smolgen-stub-server", daemon=True)
        self.port = 0

    def _run(self, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(lambda r, w: serve_http(r, w, self.handle), "127.0.0.1", port)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(self._loop):  # connections still open: end them before the loop goes
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(self._loop), return_exceptions=True))
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description="A canned OpenAI-compatible server (no model), for benchmarks.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--words", type=int, default=24)
    args = parser.parse_args()
    stub = StubServer(args.words)

    async def serve() -> None:
        server = await asyncio.start_server(lambda r, w: serve_http(r, w, stub.handle), "127.0.0.1", args.port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
