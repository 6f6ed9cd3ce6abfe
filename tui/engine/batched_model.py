"""Batched decoding: the completions of several threads decoded together in one llama.cpp context.

A headless run with `--parallel S` gives each of S worker threads a row; their `complete()` calls land
here and block. One scheduler thread owns a llama.cpp context holding S sequences and, step by step,
puts every active call's next token (or a chunk of its prompt) into one `llama_batch` for one
`llama_decode`; each sequence draws from its own logits with its own sampler chain, built as
llama-cpp-python builds the sequential one, so a call's seed drives the same draws. The batch's
arithmetic differs from a lone sequence's in the last bits, so a text may differ slightly from the
sequential run's with the same seeds.

It pays only with many sequences (`smolgen bench batched` measures it; docs/performance.md has the
figures).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from tui.engine.errors import BadInput, SmolgenError
from tui.engine.model import (
    Cancelled, ChatModel, Completion, Model, Sampling, TextCallback, TextCheck, TokenText, generation_limit, schema_grammar_text,
)

# Each sequence's room in the cache (prompt + generated), unless --context is smaller. The cache is
# allocated whole up front, for every sequence, so this bounds a run's memory.
SEQUENCE_CONTEXT = 2048
# At most this many tokens go into one decode: a long prompt is read over several steps, so the
# other sequences keep generating and a cancel is seen within a step.
STEP_TOKENS = 512
# llama-cpp-python's sampler chain penalises repeats among the last 64 tokens (its last_n_tokens_size).
PENALTY_LAST_N = 64


def max_parallel() -> int:
    """The most sequences this llama.cpp build holds in one context."""
    import llama_cpp

    return int(llama_cpp.llama_max_parallel_sequences())


def check_parallel(sequences: int) -> None:
    widest = max_parallel()
    if not 1 <= sequences <= widest:
        raise BadInput(f"--parallel {sequences}: must be from 1 to {widest} (llama.cpp's most sequences per context)")


@dataclass
class BatchStats:
    """What the scheduler did: a check that the batch batches, and where the time went."""

    decode_calls: int = 0
    generated_tokens: int = 0
    prompt_tokens: int = 0  # prompt tokens decoded
    reused_tokens: int = 0  # prompt tokens already in a sequence's cache (a shared prefix), not decoded again
    widest_step: int = 0  # most sequences in one decode


class _Request:
    """One `complete()` call, from the worker that waits on it to the scheduler that serves it."""

    def __init__(self, prompt: str, tokens: list[int], sampling: Sampling, seed: int, stop: tuple[str, ...],
                 cancel: threading.Event | None, limit: int, until: TextCheck | None):
        self.prompt, self.tokens, self.sampling, self.seed, self.cancel = prompt, tokens, sampling, seed, cancel
        self.text = TokenText(stop, limit, until)
        self.started = time.perf_counter()
        self.first_token_at: float | None = None
        self.finished = threading.Event()
        self.result: Completion | None = None
        self.error: BaseException | None = None
        # The scheduler's side: the sequence it decodes in, what it decodes next and from which position.
        self.sequence = -1
        self.feed: list[int] = []
        self.position = 0
        self.sampler: Any = None

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


class BatchedModel(ChatModel):
    """Several sequences decoded at once: `complete()` from many threads; calls beyond `sequences` wait for a free one.

    Use as a context manager: entering starts the scheduler thread (which makes the llama.cpp context),
    leaving stops it and frees every llama.cpp object. `n_ctx` is each sequence's room.
    """

    def __init__(self, model: Model, sequences: int, sequence_context: int = SEQUENCE_CONTEXT):
        check_parallel(sequences)
        self.model = model
        self.info = model.info
        self.n_threads = model.n_threads
        self.sequences = sequences
        self.n_ctx = min(model.n_ctx, sequence_context)
        self.stats = BatchStats()
        self.failure: SmolgenError | None = None  # set if the scheduler died; every later call raises it
        self._condition = threading.Condition()
        self._waiting: list[_Request] = []
        self._closing = False
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def chat_template(self) -> Any:
        return self.model.chat_template

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def text_scorer(self) -> Any:
        return self.model.text_scorer()

    @property
    def label(self) -> str:
        return self.model.label

    def describe(self) -> dict:
        return self.model.describe()

    def fingerprint(self) -> str:
        return self.model.fingerprint()

    def __enter__(self) -> "BatchedModel":
        self._thread = threading.Thread(target=self._serve, name="smolgen-batch", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self.failure is not None:
            self._thread.join()
            raise self.failure
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._condition:
            self._closing = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join()

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
        """Raw completion of `prompt`, decoded along with the other threads' calls; blocks until it ends
        (or until `until`, checked after each token, ends it).

        `on_text` gets the whole text once at the end: chunks of several sequences at once would mean nothing.
        """
        sampling.validate()
        tokens = self.model.tokenize_prompt(prompt)
        limit = generation_limit(len(tokens), self.n_ctx, sampling.max_tokens)
        request = _Request(prompt, tokens, sampling, seed, tuple(s for s in stop if s), cancel, limit, until)
        with self._condition:
            if self.failure is not None:
                raise self.failure
            if self._closing or self._thread is None:
                raise SmolgenError("the batched model is not running (use it in a `with` block)")
            self._waiting.append(request)
            self._condition.notify()
        request.finished.wait()
        if request.error is not None:
            raise request.error
        if on_text is not None and request.result.text:
            on_text(request.result.text)
        return request.result

    # The scheduler thread: the only one that touches the llama.cpp context.

    def _serve(self) -> None:
        import llama_cpp

        context = batch = None
        active: dict[int, _Request] = {}
        try:
            context = self._new_context()
            batch = llama_cpp.llama_batch_init(STEP_TOKENS, 0, 1)
            self._ready.set()
            _Scheduler(self, context, batch, active).run()
        except BaseException as error:  # the workers must hear of it, or they wait forever
            self.failure = error if isinstance(error, SmolgenError) else SmolgenError(
                f"batched decoding failed: {type(error).__name__}: {error}"
            )
            with self._condition:
                abandoned, self._waiting = [*active.values(), *self._waiting], []
            for request in abandoned:
                _end(request, error=self.failure)
        finally:
            for request in active.values():
                if request.sampler is not None:
                    llama_cpp.llama_sampler_free(request.sampler)
            if batch is not None:
                llama_cpp.llama_batch_free(batch)
            if context:
                llama_cpp.llama_free(context)
            self._ready.set()

    def _new_context(self) -> Any:
        import llama_cpp

        native_model, _vocab = self.model.native()
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = self.n_ctx * self.sequences
        params.n_batch = params.n_ubatch = STEP_TOKENS
        params.n_seq_max = self.sequences
        params.n_threads = params.n_threads_batch = self.n_threads
        params.kv_unified = False  # a cache per sequence: each token attends to its own sequence only
        params.no_perf = True
        context = llama_cpp.llama_init_from_model(native_model, params)
        if not context:
            raise SmolgenError(f"llama.cpp could not make a context for {self.sequences} sequences of {self.n_ctx} tokens")
        self.n_ctx = min(self.n_ctx, int(llama_cpp.llama_n_ctx_seq(context)))
        return context


class _Scheduler:
    """The decode loop: admit waiting calls into free sequences, decode one batch, sample, repeat."""

    def __init__(self, owner: BatchedModel, context: Any, batch: Any, active: dict[int, _Request]):
        import llama_cpp

        self.owner, self.context, self.batch, self.active = owner, context, batch, active
        self.memory = llama_cpp.llama_get_memory(context)
        _native_model, self.vocab = owner.model.native()
        self.free = list(range(owner.sequences))
        self.cached: dict[int, list[int]] = {sequence: [] for sequence in self.free}  # tokens in each sequence's cache

    def run(self) -> None:
        owner = self.owner
        while True:
            with owner._condition:
                while not owner._waiting and not self.active and not owner._closing:
                    owner._condition.wait()
                if owner._closing:
                    abandoned, owner._waiting = [*self.active.values(), *owner._waiting], []
                    break
                while owner._waiting and self.free:
                    self._admit(owner._waiting.pop(0))
            for request in [r for r in self.active.values() if r.cancelled()]:
                self._finish(request, error=Cancelled())
            if self.active:
                self._step()
        for request in abandoned:  # only if closed while calls were under way
            if request.sequence in self.active:
                self._finish(request, error=Cancelled())
            else:
                _end(request, error=Cancelled())

    def _admit(self, request: _Request) -> None:
        """Give the call the free sequence whose cache shares the longest prefix with its prompt
        (Magpie's pre-query, a system prompt), and decode only the rest."""
        import llama_cpp

        if request.cancelled():
            _end(request, error=Cancelled())
            return
        sequence = max(self.free, key=lambda s: _shared_prefix(self.cached[s], request.tokens))
        kept = min(_shared_prefix(self.cached[sequence], request.tokens), len(request.tokens) - 1)  # one token for fresh logits
        llama_cpp.llama_memory_seq_rm(self.memory, sequence, kept, -1)
        del self.cached[sequence][kept:]
        self.free.remove(sequence)
        request.sequence, request.position, request.feed = sequence, kept, request.tokens[kept:]
        request.sampler = _sampler_chain(request.sampling, request.seed, self.vocab)
        self.owner.stats.reused_tokens += kept
        self.active[sequence] = request

    def _step(self) -> None:
        """One decode: every generating sequence's last token, then prompt chunks in the room left."""
        import llama_cpp

        stats, batch = self.owner.stats, self.batch
        room, count, planned = STEP_TOKENS, 0, []
        for request in sorted(self.active.values(), key=lambda r: len(r.feed)):
            chunk = request.feed[:room]
            if not chunk:
                break
            wants_logits = len(chunk) == len(request.feed)
            for offset, token in enumerate(chunk):
                batch.token[count] = token
                batch.pos[count] = request.position + offset
                batch.n_seq_id[count] = 1
                batch.seq_id[count][0] = request.sequence
                batch.logits[count] = wants_logits and offset == len(chunk) - 1
                count += 1
            planned.append((request, chunk, count - 1 if wants_logits else -1))
            room -= len(chunk)
        batch.n_tokens = count
        status = llama_cpp.llama_decode(self.context, batch)
        stats.decode_calls += 1
        if status != 0:  # 1: no room in the cache, 2: aborted, < 0: an error; the room was checked, so a bug
            raise SmolgenError(f"llama_decode failed (status {status}) on a batch of {count} tokens in {len(planned)} sequences")
        stats.widest_step = max(stats.widest_step, len(planned))
        for request, chunk, output in planned:
            if request.first_token_at is None:
                stats.prompt_tokens += len(chunk)
            self.cached[request.sequence].extend(chunk)
            request.position += len(chunk)
            request.feed = request.feed[len(chunk):]
            if output >= 0:
                self._sample(request, output)

    def _sample(self, request: _Request, output: int) -> None:
        import llama_cpp

        token = llama_cpp.llama_sampler_sample(request.sampler, self.context, output)
        if request.first_token_at is None:
            request.first_token_at = time.perf_counter() - request.started
        if llama_cpp.llama_vocab_is_eog(self.vocab, token):
            request.text.end_of_turn()
        else:
            self.owner.stats.generated_tokens += 1
            request.text.add(self.owner.model.token_bytes(token))
        if request.text.done:
            self._finish(request)
        else:
            request.feed = [token]

    def _finish(self, request: _Request, error: BaseException | None = None) -> None:
        """End a call and free its sequence; its cache stays, for the next call's shared prefix."""
        import llama_cpp

        del self.active[request.sequence]
        self.free.append(request.sequence)
        llama_cpp.llama_sampler_free(request.sampler)
        request.sampler = None
        if error is None:
            request.text.flush()
            _end(request, result=request.text.completion(request.prompt, len(request.tokens), request.seed, request.started,
                                                         request.first_token_at))
        else:
            _end(request, error=error)


def _end(request: _Request, result: Completion | None = None, error: BaseException | None = None) -> None:
    request.result, request.error = result, error
    request.finished.set()


def _shared_prefix(a: list[int], b: list[int]) -> int:
    shared = 0
    for x, y in zip(a, b):
        if x != y:
            break
        shared += 1
    return shared


def _sampler_chain(sampling: Sampling, seed: int, vocab: Any) -> Any:
    """The sampler chain llama-cpp-python's `Llama.generate` builds for these settings, seeded alike."""
    import llama_cpp

    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    links = [llama_cpp.llama_sampler_init_penalties(
        llama_cpp.llama_vocab_n_tokens(vocab), PENALTY_LAST_N, sampling.repeat_penalty, 0.0, 0.0
    )]
    if sampling.json_schema is not None:
        links.append(llama_cpp.llama_sampler_init_grammar(vocab, schema_grammar_text(sampling.json_schema).encode("utf-8"), b"root"))
    if sampling.temperature == 0:
        links.append(llama_cpp.llama_sampler_init_greedy())
    else:
        links += [
            llama_cpp.llama_sampler_init_top_k(sampling.top_k),
            llama_cpp.llama_sampler_init_typical(1.0, 1),
            llama_cpp.llama_sampler_init_top_p(sampling.top_p, 1),
            llama_cpp.llama_sampler_init_min_p(sampling.min_p, 1),
            llama_cpp.llama_sampler_init_temp(sampling.temperature),
            llama_cpp.llama_sampler_init_dist(seed),
        ]
    for link in links:  # the chain owns its links and frees them with itself
        llama_cpp.llama_sampler_chain_add(chain, link)
    return chain
