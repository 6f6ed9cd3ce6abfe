"""A proxy between smolgen and a real server that injects the faults servers show under load.

Each fault in `proxy.faults` (a queue) spoils the next completion request; the others pass through
unchanged. Listing models and reading /props always pass, so a run can start.
"""

from __future__ import annotations

import asyncio
import collections
from typing import AsyncIterator

import httpx

from tui.bench.stub_server import Answer, ServerThread

FAULTS = ("refuse", "stall", "429", "500", "cut", "garbage", "empty", "html")


class FaultProxy:
    """Forward to `upstream` (a server's root URL); `faults` are applied one per completion request."""

    def __init__(self, upstream_root: str, stall_seconds: float = 5.0):
        self.upstream_root = upstream_root.rstrip("/")
        self.stall_seconds = stall_seconds
        self.faults: collections.deque[str] = collections.deque()
        self.completions = 0
        self.spoiled: list[str] = []
        self._client: httpx.AsyncClient | None = None
        self._thread = ServerThread(self.handle)

    @property
    def url(self) -> str:
        return self._thread.url

    def __enter__(self) -> "FaultProxy":
        self._thread.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.__exit__(*exc)

    async def handle(self, method: str, target: str, body: bytes) -> Answer | None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=120)
        is_completion = method == "POST" and target.rstrip("/").endswith("completions")
        fault = self.faults.popleft() if is_completion and self.faults else None
        if is_completion:
            self.completions += 1
        if fault is not None:
            self.spoiled.append(fault)
        if fault == "refuse":
            return None  # the connection is dropped without an answer
        if fault == "stall":
            await asyncio.sleep(self.stall_seconds)
        if fault == "429":
            return Answer(429, b'{"error": {"message": "slow down"}}', headers=(("retry-after", "1"),))
        if fault == "500":
            return Answer(500, b'{"error": {"message": "internal error"}}')
        if fault == "garbage":
            return Answer(200, b"\x00not json{{{")
        if fault == "html":
            return Answer(200, b"<html><body>It works!</body></html>", "text/html")
        if fault == "empty":
            return Answer(200, b'{"choices": [{"index": 0, "text": "", "finish_reason": "stop"}], "usage": {}}')
        streaming = b'"stream":true' in body.replace(b" ", b"")
        request = self._client.build_request(method, self.upstream_root + target, content=body or None,
                                             headers={"content-type": "application/json"} if body else None)
        upstream = await self._client.send(request, stream=True)
        content_type = upstream.headers.get("content-type", "application/json")
        if streaming:
            return Answer(upstream.status_code, _relay(upstream, cut=fault == "cut"), content_type)
        data = await upstream.aread()
        await upstream.aclose()
        if fault == "cut":
            return Answer(upstream.status_code, _cut_body(data), content_type)
        return Answer(upstream.status_code, data, content_type)


async def _relay(upstream: httpx.Response, cut: bool) -> AsyncIterator[bytes]:
    """The upstream's stream; cut after its first event, as a server that died mid-answer."""
    try:
        async for piece in upstream.aiter_raw():
            yield piece
            if cut:
                raise ConnectionResetError("cut by the fault proxy")
    finally:
        await upstream.aclose()


async def _cut_body(data: bytes) -> AsyncIterator[bytes]:
    yield data[: len(data) // 2]
    raise ConnectionResetError("cut by the fault proxy")
