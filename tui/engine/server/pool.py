"""Requests to one or several OpenAI-compatible servers, many in flight, from any number of threads.

One asyncio loop in a thread of its own owns the HTTP clients and every connection: a caller's
thread hands it a request and waits, polling its cancel event, so a cancelled request closes its
connection at once. Answers fetched whole (every row nobody watches) go through aiohttp, whose
per-request cost stays small with hundreds in flight (`smolgen bench server` measures it); the one
streamed request a person watches, and discovery, go through httpx with httpx-sse. Each new request goes to the server with the fewest in flight; a failure is
retried with exponential backoff and jitter (or the server's Retry-After), on another server where
there is one. Streamed text comes back to the caller's thread through a queue, so a front end's
callback runs on the thread that generates, as everywhere else in the engine.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

import aiohttp
import httpx
import orjson
from httpx_sse import SSEError, aconnect_sse

from tui.engine.errors import BadInput, GenerationFailed, RunHalted
from tui.engine.model import Cancelled
from tui.engine.server.settings import SERVER_FLAGS, SettingNames

log = logging.getLogger("smolgen.server")

EventCallback = Callable[[str], None]
# How often a waiting thread looks at its cancel event: a cancel closes the request within this.
CANCEL_POLL_SECONDS = 0.25
# A server that failed is passed over for this long (doubling with each failure in a row, up to the cap).
COOLDOWN_SECONDS = 0.5
COOLDOWN_CAP_SECONDS = 5.0
# When every server has failed for this long without one answer, the run stops instead of failing every row.
HALT_AFTER_SECONDS = 15.0
# Shown when a retried stream's answer differs from what its first attempt had shown.
RETRY_NOTE = "\n[retried; the answer starts again]\n"
_DONE = object()
_RESTART = object()
_JSON = {"Content-Type": "application/json"}


class ServerFailure(Exception):
    """One attempt at a request failed; `retryable` says whether another attempt may succeed."""

    def __init__(self, reason: str, message: str, retryable: bool = True, retry_after: float | None = None,
                 server_down: bool = False):
        super().__init__(message)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.server_down = server_down


class KeyRefused(BadInput):
    """The server refused the API key (401 or 403): every request would fail alike."""


@dataclass
class Endpoint:
    """One server's base URL (ending in /v1 for most servers) and its state in this run."""

    url: str
    in_flight: int = 0
    failures_in_a_row: int = 0
    down_until: float = 0.0
    completed: int = 0
    failed_attempts: int = 0
    last_failure: str = ""
    down_since: float | None = None
    # The environment's proxy for this server (HTTPS_PROXY, NO_PROXY...), read once as httpx reads it.
    proxy: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.proxy = environment_proxy(self.url)

    @property
    def root(self) -> str:
        """The server's root, where llama-server and vLLM keep /props, /tokenize and /health."""
        return self.url[: -len("/v1")] if self.url.endswith("/v1") else self.url


@dataclass
class Reply:
    """A successful answer: the JSON body (or the streamed chunks folded into one), and who answered."""

    body: dict[str, Any]
    endpoint: Endpoint
    seconds: float
    first_token_seconds: float | None = None
    attempts: int = 1
    chunks: list[dict[str, Any]] = field(default_factory=list)
    value: Any = None
    stopped: str | None = None  # why a streamed answer was closed before its end (the caller's check)


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url`, or None (no proxy, or NO_PROXY covers its host)."""
    parsed = httpx.URL(url)
    if urllib.request.proxy_bypass_environment(parsed.host):
        return None
    return urllib.request.getproxies_environment().get(parsed.scheme)


def normalise_url(url: str, names: SettingNames = SERVER_FLAGS) -> str:
    """A server URL as given, without a trailing slash; only http and https are accepted (BadInput names `names.server`)."""
    url = url.strip().rstrip("/")
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadInput(f"{names.server} {url}: not an http:// or https:// URL")
    return url


class StreamShown:
    """Passes a streamed answer's text on, once: when a retried request streams again from the start,
    the text already shown is skipped as long as the new answer repeats it (the same seed gives the same
    text), and a note marks where a different answer starts over."""

    def __init__(self, on_text: Callable[[str], None]):
        self._on_text = on_text
        self._shown: list[str] = []
        self._replay = ""  # what the new answer must still repeat to stay unseen
        self._repeated = ""  # what it has repeated so far

    def restart(self) -> None:
        self._replay, self._repeated = "".join(self._shown), ""

    def add(self, piece: str) -> None:
        if self._replay:
            if self._replay.startswith(piece):
                self._replay, self._repeated = self._replay[len(piece):], self._repeated + piece
                return
            if piece.startswith(self._replay):
                piece = piece[len(self._replay):]
            else:  # another answer: from its start, under a note
                self._on_text(RETRY_NOTE)
                self._shown, piece = [], self._repeated + piece
            self._replay = ""
        if piece:
            self._shown.append(piece)
            self._on_text(piece)


class ServerPool:
    """The servers of a run and the one HTTP client that reaches them."""

    def __init__(
        self,
        urls: list[str],
        api_key: str | None = None,
        key_name: str | None = None,
        timeout: float = 600.0,
        max_retries: int = 3,
        concurrency: int = 8,
        on_event: EventCallback | None = None,
        backoff_seconds: float = 0.5,
        halt_after: float = HALT_AFTER_SECONDS,
        names: SettingNames = SERVER_FLAGS,
    ):
        if not urls:
            raise BadInput(f"{names.server}: at least one URL is needed")
        self.names = names  # what the person called the URLs and the key's variable, for the error lines
        self.endpoints = [Endpoint(normalise_url(url, names)) for url in dict.fromkeys(urls)]
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.halt_after = halt_after
        self.key_name = key_name
        self.on_event = on_event or (lambda _message: None)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smolgen-http", daemon=True)
        self._thread.start()
        limits = httpx.Limits(max_connections=concurrency * 2 + 8, max_keepalive_connections=concurrency + 8)
        # The connect timeout is short: a server that does not answer at all is soon tried elsewhere.
        timeouts = httpx.Timeout(timeout, connect=min(10.0, timeout))
        self._client = self._call_soon(self._new_client(headers, limits, timeouts))
        whole_timeouts = aiohttp.ClientTimeout(total=timeout, sock_connect=min(10.0, timeout))
        self._session = self._call_soon(self._new_session(headers, concurrency * 2 + 8, whole_timeouts))
        self._closed = False

    async def _new_client(self, headers: dict[str, str], limits: httpx.Limits, timeouts: httpx.Timeout) -> httpx.AsyncClient:
        return httpx.AsyncClient(headers=headers, limits=limits, timeout=timeouts)

    async def _new_session(self, headers: dict[str, str], connections: int, timeouts: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(headers=headers, timeout=timeouts,
                                     connector=aiohttp.TCPConnector(limit=connections, limit_per_host=0))

    def _call_soon(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        """Close every connection and stop the loop's thread."""
        if self._closed:
            return
        self._closed = True
        self._call_soon(self._client.aclose())
        self._call_soon(self._session.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> "ServerPool":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Requests from a caller's thread ---------------------------------------------------------------

    def get(self, endpoint: Endpoint, path: str, at_root: bool = False) -> httpx.Response:
        """One GET to one server (discovery), no retries; a transport error raises ServerFailure."""
        base = endpoint.root if at_root else endpoint.url
        return self._call_soon(self._send_once("GET", base + path, None))

    def post_once(self, endpoint: Endpoint, path: str, body: dict[str, Any], at_root: bool = False) -> httpx.Response:
        """One POST to one server, no retries (discovery and token counts)."""
        base = endpoint.root if at_root else endpoint.url
        return self._call_soon(self._send_once("POST", base + path, body))

    def post(
        self,
        path: str,
        body: dict[str, Any],
        cancel: threading.Event | None = None,
        on_text: Callable[[str], None] | None = None,
        text_of: Callable[[dict[str, Any]], str] | None = None,
        accept: Callable[[Reply], Any] | None = None,
        until: Callable[[str], str | None] | None = None,
    ) -> Reply:
        """POST `body` to the least busy server, with retries; stream when `on_text` is given.

        `text_of` picks the text of one streamed chunk; `accept` reads a reply into `Reply.value`, or
        raises ServerFailure for a reply that is no answer (retried like any other failure). A stream
        is closed as soon as `until`, given its text so far, gives a reason (`Reply.stopped`). Raises
        Cancelled when `cancel` is set, GenerationFailed when every attempt failed, KeyRefused when
        the key was refused.
        """
        chunks: queue.SimpleQueue | None = queue.SimpleQueue() if on_text is not None else None
        future = asyncio.run_coroutine_threadsafe(self._post_with_retries(path, body, chunks, text_of, accept, until), self._loop)
        shown = StreamShown(on_text) if on_text is not None else None
        while True:
            if chunks is not None and shown is not None:
                try:
                    piece = chunks.get(timeout=CANCEL_POLL_SECONDS)
                except queue.Empty:
                    piece = None
                if piece is _DONE:
                    chunks = None
                elif piece is _RESTART:
                    shown.restart()
                elif piece:
                    shown.add(piece)
            if cancel is not None and cancel.is_set():
                future.cancel()
                raise Cancelled()
            if chunks is None:
                try:
                    return future.result(timeout=CANCEL_POLL_SECONDS)
                except TimeoutError:
                    continue
                except asyncio.CancelledError:
                    raise Cancelled() from None

    # The loop's side ---------------------------------------------------------------------------

    def _choose(self, tried: list[Endpoint]) -> Endpoint:
        """The server for the next attempt: one this request has not failed on yet, up, least busy."""
        now = time.monotonic()
        untried = [e for e in self.endpoints if e not in tried and e.down_until <= now]
        up = untried or [e for e in self.endpoints if e.down_until <= now]
        if up:
            return min(up, key=lambda e: e.in_flight)
        return min(self.endpoints, key=lambda e: e.down_until)

    async def _post_with_retries(
        self,
        path: str,
        body: dict[str, Any],
        chunks: queue.SimpleQueue | None,
        text_of: Callable[[dict[str, Any]], str] | None,
        accept: Callable[[Reply], Any] | None,
        until: Callable[[str], str | None] | None = None,
    ) -> Reply:
        last: ServerFailure | None = None
        tried: list[Endpoint] = []
        try:
            for attempt in range(self.max_retries + 1):
                endpoint = self._choose(tried)
                tried.append(endpoint)
                wait = endpoint.down_until - time.monotonic()
                if wait > 0:  # every server is cooling down: wait for the first to be tried again
                    await asyncio.sleep(wait)
                endpoint.in_flight += 1
                started = time.perf_counter()
                try:
                    if chunks is None:
                        reply = await self._post_whole(endpoint, path, body, started)
                    else:
                        reply = await self._post_streamed(endpoint, path, body, chunks, text_of, started, until)
                    if accept is not None:
                        reply.value = accept(reply)
                except ServerFailure as failure:
                    last = failure
                    self._note_failure(endpoint, failure)
                    if self._all_down():
                        raise RunHalted(f"every server is down ({self._why_down()}); the run stops") from None
                    if not failure.retryable or attempt == self.max_retries:
                        break
                    if chunks is not None:
                        chunks.put(_RESTART)  # the next attempt streams its answer from the start
                    await asyncio.sleep(self._delay(failure, attempt))
                    continue
                finally:
                    endpoint.in_flight -= 1
                self._note_success(endpoint)
                reply.attempts = attempt + 1
                return reply
        finally:
            if chunks is not None:
                chunks.put(_DONE)
        assert last is not None
        attempts = f" after {self.max_retries + 1} attempts" if last.retryable else ""
        raise GenerationFailed(last.reason, f"{last}{attempts}")

    def _delay(self, failure: ServerFailure, attempt: int) -> float:
        if failure.reason == "empty":  # not an overload: the next attempt may as well go at once
            return 0.0
        if failure.retry_after is not None:
            return min(failure.retry_after, self.timeout)
        return self.backoff_seconds * (2 ** attempt) * random.uniform(0.5, 1.5)

    def _all_down(self) -> bool:
        """Every server has failed for a while with no answer between: rows would only pile up as failed."""
        now = time.monotonic()
        return all(e.down_since is not None and now - e.down_since >= self.halt_after for e in self.endpoints)

    def _why_down(self) -> str:
        return "; ".join(f"{e.url}: {e.last_failure}" for e in self.endpoints)

    def _note_failure(self, endpoint: Endpoint, failure: ServerFailure) -> None:
        endpoint.failed_attempts += 1
        if not failure.server_down:
            return
        endpoint.last_failure = str(failure)
        if endpoint.down_since is None:
            endpoint.down_since = time.monotonic()
        endpoint.failures_in_a_row += 1
        cooldown = min(COOLDOWN_CAP_SECONDS, COOLDOWN_SECONDS * 2 ** (endpoint.failures_in_a_row - 1))
        endpoint.down_until = time.monotonic() + cooldown
        if endpoint.failures_in_a_row == 1:
            others = " its requests go to the other servers" if len(self.endpoints) > 1 else " retrying"
            self.on_event(f"server {endpoint.url} failed ({failure});{others}")

    def _note_success(self, endpoint: Endpoint) -> None:
        endpoint.completed += 1
        if endpoint.failures_in_a_row:
            self.on_event(f"server {endpoint.url} answers again")
        endpoint.failures_in_a_row = 0
        endpoint.down_until = 0.0
        endpoint.down_since = None

    async def _send_once(self, method: str, url: str, body: dict[str, Any] | None) -> httpx.Response:
        try:
            content = orjson.dumps(body) if body is not None else None
            headers = {"Content-Type": "application/json"} if body is not None else None
            return await self._client.request(method, url, content=content, headers=headers)
        except httpx.HTTPError as error:
            raise transport_failure(error) from None

    async def _post_whole(self, endpoint: Endpoint, path: str, body: dict[str, Any], started: float) -> Reply:
        try:
            async with self._session.post(endpoint.url + path, data=orjson.dumps(body), headers=_JSON, proxy=endpoint.proxy) as response:
                status, headers, content = response.status, response.headers, await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise aiohttp_failure(error) from None
        self._check_status(endpoint, status, headers, content)
        try:
            parsed = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise ServerFailure("malformed_reply", f"{endpoint.url}{path} answered with text that is not JSON") from None
        if not isinstance(parsed, dict):
            raise ServerFailure("malformed_reply", f"{endpoint.url}{path} answered JSON that is not an object")
        return Reply(parsed, endpoint, time.perf_counter() - started)

    async def _post_streamed(
        self,
        endpoint: Endpoint,
        path: str,
        body: dict[str, Any],
        chunks: queue.SimpleQueue,
        text_of: Callable[[dict[str, Any]], str] | None,
        started: float,
        until: Callable[[str], str | None] | None = None,
    ) -> Reply:
        received: list[dict[str, Any]] = []
        first_token = None
        finished = False
        text_so_far = ""
        stopped = None
        try:
            async with aconnect_sse(self._client, "POST", endpoint.url + path, json=body) as source:
                if source.response.status_code != 200:
                    await source.response.aread()
                    self._check_status(endpoint, source.response.status_code, source.response.headers, source.response.content)
                async for event in source.aiter_sse():
                    if event.data.strip() == "[DONE]":
                        finished = True
                        break
                    try:
                        chunk = orjson.loads(event.data)
                    except orjson.JSONDecodeError:
                        raise ServerFailure("malformed_reply", f"{endpoint.url}{path} streamed an event that is not JSON") from None
                    if not isinstance(chunk, dict):
                        raise ServerFailure("malformed_reply", f"{endpoint.url}{path} streamed JSON that is not an object")
                    if "error" in chunk:
                        raise ServerFailure("server_error", f"{endpoint.url}{path} streamed an error: {_error_text(chunk)}")
                    received.append(chunk)
                    piece = text_of(chunk) if text_of is not None else ""
                    if piece:
                        if first_token is None:
                            first_token = time.perf_counter() - started
                        chunks.put(piece)
                        text_so_far += piece
                        stopped = until(text_so_far) if until is not None else None
                        if stopped is not None:
                            break  # leaving the block closes the connection: the server stops generating
        except SSEError:
            raise ServerFailure("malformed_reply", f"{endpoint.url}{path} did not answer with a stream of events") from None
        except httpx.HTTPError as error:
            raise transport_failure(error, streaming=True) from None
        if not finished and stopped is None and not any(_finish_reason(c) for c in received):
            raise ServerFailure("stream_cut", f"{endpoint.url}{path}: the stream ended before the completion did")
        return Reply({}, endpoint, time.perf_counter() - started, first_token, chunks=received, stopped=stopped)

    def _check_status(self, endpoint: Endpoint, status: int, headers: Any, content: bytes) -> None:
        """Raise what a status other than 200 means; `headers` is either client's (case-insensitive)."""
        if status == 200:
            return
        detail = _error_text_of(content)
        where = f"{endpoint.url} answered {status}"
        if status in (401, 403):
            name = f"the key from ${self.key_name}" if self.key_name else f"no key ({self.names.key_hint()})"
            raise KeyRefused(f"{self.names.server} {endpoint.url}: {name} was refused ({status})")
        if status == 429:
            raise ServerFailure("rate_limited", f"{where} (too many requests)", retry_after=_retry_after(headers))
        if status >= 500:
            raise ServerFailure("server_error", f"{where}{detail}", retry_after=_retry_after(headers), server_down=status != 503)
        # 400, 404, 422: this request cannot succeed as it is (a prompt too long for the context...).
        raise ServerFailure("server_rejected", f"{where}{detail}", retryable=False)


def transport_failure(error: httpx.HTTPError, streaming: bool = False) -> ServerFailure:
    """What a transport error means for a retry: a timeout, a refused or broken connection, a bad certificate."""
    if isinstance(error, httpx.TimeoutException):
        return ServerFailure("timeout", f"no answer in time ({type(error).__name__})", server_down=isinstance(error, httpx.ConnectTimeout))
    if isinstance(error, httpx.ConnectError) and _caused_by_tls(error):
        return ServerFailure("certificate", f"its TLS certificate does not verify ({_short(error)})", retryable=False)
    if isinstance(error, httpx.ConnectError):
        return ServerFailure("connection_failed", f"cannot connect ({_short(error)})", server_down=True)
    if isinstance(error, httpx.RemoteProtocolError) and "without sending a response" in str(error):
        return ServerFailure("connection_failed", "the server closed the connection without answering", server_down=True)
    if streaming or isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError)):
        return ServerFailure("stream_cut", f"the connection broke mid-answer ({_short(error)})", server_down=True)
    return ServerFailure("connection_failed", f"{type(error).__name__}: {_short(error)}", server_down=True)


def aiohttp_failure(error: Exception) -> ServerFailure:
    """What an aiohttp error (or its timeout) means for a retry, in the same reasons as `transport_failure`."""
    if isinstance(error, aiohttp.ClientConnectorCertificateError) or isinstance(error, aiohttp.ClientSSLError):
        return ServerFailure("certificate", f"its TLS certificate does not verify ({_short(error)})", retryable=False)
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return ServerFailure("timeout", f"no answer in time ({type(error).__name__})", server_down=True)
    if isinstance(error, asyncio.TimeoutError):
        return ServerFailure("timeout", f"no answer in time ({type(error).__name__})")
    if isinstance(error, aiohttp.ClientConnectorError):
        return ServerFailure("connection_failed", f"cannot connect ({_short(error)})", server_down=True)
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return ServerFailure("connection_failed", "the server closed the connection without answering", server_down=True)
    if isinstance(error, (aiohttp.ClientPayloadError, aiohttp.ClientResponseError)):
        return ServerFailure("stream_cut", f"the connection broke mid-answer ({_short(error)})", server_down=True)
    return ServerFailure("connection_failed", f"{type(error).__name__}: {_short(error)}", server_down=True)


def _caused_by_tls(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _short(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]


def _finish_reason(chunk: dict[str, Any]) -> str | None:
    choices = chunk.get("choices") or []
    return choices[0].get("finish_reason") if choices and isinstance(choices[0], dict) else None


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from inference servers; the backoff applies instead


def _error_text(body: dict[str, Any]) -> str:
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    return str(error or body.get("detail") or "")[:300]


def _error_text_of(content: bytes) -> str:
    try:
        parsed = orjson.loads(content)
    except orjson.JSONDecodeError:
        return ""
    text = _error_text(parsed) if isinstance(parsed, dict) else ""
    return f": {text}" if text else ""
