"""The model layer: one llama.cpp model, streaming text from a prompt or a conversation.

Like simonw/llm, the whole seam is small: `Model.stream()` yields text chunks for a prompt string and
leaves a `Completion` with token counts, timings and the finish reason. `Model.chat()` renders the
model's own chat template and streams the same way. One Model must be used by one thread at a time;
`batched_model.BatchedModel` decodes the calls of several threads together on the same weights.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import functools
import io
import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from tui.engine.chat_template import ChatTemplate, Message
from tui.engine.cpu_load import OtherProgramsLoad
from tui.engine.errors import BadInput, GenerationFailed, ModelFileError
from tui.engine.model_file import ModelInfo, default_model_path, inspect_model
from tui.engine.settings_schema import set_by_code, setting, validate
from tui.engine.text_likelihood import TextScorer

log = logging.getLogger("smolgen.llama")
DEFAULT_CONTEXT = 4096
TextCallback = Callable[[str], None]
# Given a completion's text so far, why to end it there (that reason becomes its finish reason), or None.
TextCheck = Callable[[str], "str | None"]


class Cancelled(Exception):
    """The caller asked to stop; the generation in progress is abandoned."""


@dataclass
class Sampling:
    """How tokens are drawn. top_k=0 and min_p=0 switch those filters off (llama.cpp's convention)."""

    temperature: float = setting(0.7, label="Temperature", flag="--temperature", metavar="T", at_least=0, at_most=5,
                                 help="how random each token drawn is: 0 always takes the likeliest")
    top_p: float = setting(0.95, label="Top-p", above=0, at_most=1, help="draw only from the likeliest tokens that make up this share")
    top_k: int = setting(40, label="Top-k (0 = off)", at_least=0, zero_is_off=True, help="draw only from this many likeliest tokens")
    min_p: float = setting(0.05, label="Min-p (0 = off)", at_least=0, below=1, zero_is_off=True,
                           help="drop tokens less likely than this share of the likeliest one")
    # 1.1: the embedded model's answers loop far less and more of them end before the cap (docs/quality.md).
    repeat_penalty: float = setting(1.1, label="Repeat penalty", above=0, at_most=5, help="above 1 makes repeated tokens less likely")
    # Above the 90th percentile of each technique's answer lengths, with the repeat penalty (docs/quality.md).
    max_tokens: int = setting(512, label="Max tokens", flag="--max-tokens", at_least=1, help="token cap for each model call")
    # A JSON schema the answer must follow: a llama.cpp grammar in-process, `response_format` on servers.
    # Only fixed schemas from the code may go here (an invalid grammar crashes llama-cpp-python).
    json_schema: dict | None = set_by_code()

    def validate(self) -> "Sampling":
        return validate(self)


@dataclass
class Completion:
    """The outcome of one model call."""

    text: str
    prompt_tokens: int | None  # None: a server that did not say, and no way to count (never a made-up 0)
    completion_tokens: int | None
    finish_reason: str  # "stop" (end of turn or a stop string), "length" (token cap), or why a TextCheck ended it
    seed: int
    seconds: float
    first_token_seconds: float | None = None
    prompt: str = field(default="", repr=False)
    server: str | None = None  # the URL of the server that answered; None in-process

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 and self.completion_tokens else 0.0

    def record(self) -> dict:
        """The figures kept with a sample."""
        served = {"server": self.server} if self.server else {}
        return {
            **served,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "finish_reason": self.finish_reason,
            "seed": self.seed,
            "seconds": round(self.seconds, 4),
            "first_token_seconds": None if self.first_token_seconds is None else round(self.first_token_seconds, 4),
        }


def physical_cores() -> int:
    """Physical cores this process may use (llama.cpp runs best with one thread per physical core)."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    cores = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topology.joinpath("physical_package_id").read_text().strip(), topology.joinpath("core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


_log_callback = None


GGML_LOG_CONTINUE = 5
THREADS_CHECK_SECONDS = 1.0  # how often a call looks at how busy other programs keep the cores


def route_llama_logs() -> None:
    """Send llama.cpp's own logging to Python logging, so nothing scribbles on the terminal."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    # ggml's levels (ggml.h): 1 debug, 2 info, 3 warning, 4 error; 5 continues the previous message.
    levels = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
    previous = [logging.DEBUG]

    @llama_cpp.llama_log_callback
    def forward(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
        python_level = previous[0] if level == GGML_LOG_CONTINUE else levels.get(level, logging.DEBUG)
        previous[0] = python_level
        message = text.decode("utf-8", errors="replace").rstrip()
        if message:
            log.log(python_level, message)

    _log_callback = forward  # keep a reference: llama.cpp holds only the C pointer
    llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))


ProgressCallback = Callable[[float], None]
_load_lock = threading.Lock()


@contextlib.contextmanager
def _reporting_load_progress(on_progress: ProgressCallback | None) -> Iterator[None]:
    """Have llama.cpp report how much of the model is loaded (0.0 to 1.0) while the block runs.

    llama-cpp-python's Llama takes no progress callback, but it builds its model parameters from
    `llama_model_default_params()`; during the load that function hands out parameters carrying ours.
    """
    if on_progress is None:
        yield
        return
    import llama_cpp.llama_cpp as low

    @low.llama_progress_callback
    def report(progress: float, _user_data: ctypes.c_void_p) -> bool:
        with contextlib.suppress(Exception):  # an exception must not cross into C
            on_progress(progress)
        return True  # go on loading

    defaults = low.llama_model_default_params

    def params_with_progress() -> object:
        params = defaults()
        params.progress_callback = report
        return params

    with _load_lock:  # one load at a time may swap the defaults
        low.llama_model_default_params = params_with_progress
        try:
            yield
        finally:
            low.llama_model_default_params = defaults


def _open_llama(info: ModelInfo, on_progress: ProgressCallback | None = None, **options: object) -> object:
    """llama-cpp-python's Llama for a checked file, with its output kept off the terminal."""
    route_llama_logs()
    from llama_cpp import Llama

    # verbose=True keeps llama-cpp-python from pointing fds 1 and 2 at /dev/null while it loads
    # (that would blank a running app); its own Python prints are captured and logged instead.
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(captured), _reporting_load_progress(on_progress):
            llama = Llama(model_path=str(info.path), verbose=True, **options)
    except (ValueError, RuntimeError) as error:
        raise ModelFileError(f"{info.path}: llama.cpp cannot load this model ({error})") from None
    finally:
        log.debug(captured.getvalue())
    llama.verbose = False  # silence its per-call prints to stderr
    return llama


def schema_grammar_text(schema: dict) -> str:
    """The GBNF grammar llama.cpp samples under for a JSON schema."""
    return _grammar_text(json.dumps(schema))


@functools.lru_cache(maxsize=None)
def _grammar_text(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    # the schema's own property order is the order the answer is written in
    return json_schema_to_gbnf(schema_json, prop_order=list(json.loads(schema_json).get("properties", {})))


def load_tokenizer(path: str | Path | None = None) -> Callable[[str], int]:
    """A token counter from a GGUF's own tokenizer; only the vocabulary is loaded (a fraction of a second)."""
    info = inspect_model(path if path is not None else default_model_path())
    vocab = _open_llama(info, vocab_only=True)
    return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))


class ChatModel:
    """Chat and the texts that end a turn, for any model with `complete()` and `chat_template`:
    `Model` (one sequence at a time) and `BatchedModel` (several at once) share them."""

    def chat(
        self,
        messages: list[Message],
        sampling: Sampling,
        seed: int,
        cancel: threading.Event | None = None,
        on_text: TextCallback | None = None,
        until: TextCheck | None = None,
    ) -> Completion:
        """The assistant's next message after `messages`, rendered with the model's chat template."""
        prompt = self.chat_template.render(messages, add_generation_prompt=True)
        return self.complete(prompt, sampling, seed, self.turn_stops(), cancel, on_text, until)

    def turn_stops(self) -> tuple[str, ...]:
        """Texts that end a turn in this model's template (used when completing a raw prompt); a base model
        without a template stops at its end-of-text token alone."""
        end_of_turn = self.chat_template.end_of_turn() if self.info.chat_template else None
        return tuple(dict.fromkeys(s for s in (end_of_turn, self.info.eos_token) if s))


class Model(ChatModel):
    """A loaded GGUF model and its chat template."""

    def __init__(self, info: ModelInfo, llama: object, n_ctx: int, n_threads: int, threads_follow_free_cores: bool = False):
        """`threads_follow_free_cores`: the thread count was not asked for, so calls use fewer threads while
        other programs keep cores busy (see `fit_threads_to_free_cores`)."""
        self.info = info
        self._llama = llama
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.threads_in_use = n_threads
        self._other_programs = OtherProgramsLoad(window=THREADS_CHECK_SECONDS) if threads_follow_free_cores else None
        self._lock = threading.Lock()
        self._chat_template: ChatTemplate | None = None
        self._scorer: TextScorer | None = None

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        n_ctx: int = DEFAULT_CONTEXT,
        n_threads: int | None = None,
        n_batch: int = 512,
        on_progress: ProgressCallback | None = None,
    ) -> "Model":
        """Open a GGUF (the embedded SmolLM2 by default) after checking the file ourselves.

        `on_progress` is called from the loading thread with the loaded share, 0.0 to 1.0.
        """
        info = inspect_model(path if path is not None else default_model_path())
        if n_ctx < 64:
            raise BadInput(f"context={n_ctx}: must be at least 64 tokens")
        if info.trained_context:
            n_ctx = min(n_ctx, info.trained_context)
        asked = n_threads is not None
        n_threads = n_threads or physical_cores()
        llama = _open_llama(
            info, on_progress, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, n_batch=n_batch
        )
        return cls(info, llama, n_ctx, n_threads, threads_follow_free_cores=not asked)

    def close(self) -> None:
        """Free llama.cpp's model and contexts now rather than when the last reference goes."""
        with self._lock:
            if self._scorer is not None:
                self._scorer.close()
                self._scorer = None
            close = getattr(self._llama, "close", None)
            if close is not None:
                close()

    def fit_threads_to_free_cores(self) -> None:
        """Decode with no more threads than the cores other programs leave free (at least one, at most
        `n_threads`). llama.cpp's threads wait on each other at every step: one of them without a core
        slows a token many times over, where one thread fewer costs a share."""
        if self._other_programs is None:
            return
        busy = self._other_programs.update()
        if busy is None:
            return
        wanted = max(1, min(self.n_threads, int((os.cpu_count() or 1) - busy + 0.5)))
        if wanted != self.threads_in_use:
            import llama_cpp

            llama_cpp.llama_set_n_threads(self._llama.ctx, wanted, wanted)
            log.info("decoding on %d of %d threads: other programs keep %.1f cores busy", wanted, self.n_threads, busy)
            self.threads_in_use = wanted

    @property
    def chat_template(self) -> ChatTemplate:
        """The model's own chat template; a model without one cannot chat or run Magpie."""
        if self._chat_template is None:
            if not self.info.chat_template:
                raise BadInput(f"{self.info.path}: this GGUF has no chat template (tokenizer.chat_template)")
            self._chat_template = ChatTemplate(
                self.info.chat_template, self.info.bos_token, self.info.eos_token, origin=f"{self.info.path.name} chat template"
            )
        return self._chat_template

    @property
    def label(self) -> str:
        """A short description: the file's name, then what its metadata calls the model."""
        return f"{self.info.path.name} ({self.info.name}, {self.info.parameters_label}, {self.info.quantization})"

    def describe(self) -> dict:
        """The model as recorded with a run and its samples: the file, its fingerprint and metadata."""
        return self.info.summary()

    def fingerprint(self) -> str:
        """What a cached pipeline output depends on: the model file's content."""
        return self.info.fingerprint

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` as plain text (no BOS, special tokens not parsed)."""
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def tokenize_prompt(self, text: str) -> list[int]:
        """The tokens a completion of `text` starts from (special tokens parsed, BOS when needed)."""
        # A rendered chat prompt already starts with BOS when the template writes it.
        add_bos = bool(self._llama.add_bos_token()) if hasattr(self._llama, "add_bos_token") else True
        if self.info.bos_token and text.startswith(self.info.bos_token):
            add_bos = False
        return self._llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def text_scorer(self) -> TextScorer:
        """The `TextScorer` of this model's weights, made at first use (the off-topic flag asks for it)."""
        with self._lock:
            if self._scorer is None:
                self._scorer = TextScorer(self)
            return self._scorer

    def tokenize_text(self, text: str) -> list[int]:
        """The tokens of `text` continuing a prompt: no BOS, special tokens parsed (an end of turn counts)."""
        return self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def token_bytes(self, token: int) -> bytes:
        """A generated token's bytes (a character may be split across tokens)."""
        return self._llama.detokenize([token], special=False)

    def native(self) -> tuple[object, object]:
        """llama.cpp's own model and vocabulary pointers, for a context of one's own (see batched_model.py)."""
        return self._llama._model.model, self._llama._model.vocab

    def stream(
        self,
        prompt: str,
        sampling: Sampling,
        seed: int,
        stop: tuple[str, ...] = (),
        cancel: threading.Event | None = None,
        until: TextCheck | None = None,
    ) -> "CompletionStream":
        """Raw completion of `prompt`: iterate for text chunks, then read `.result`."""
        return CompletionStream(self, prompt, sampling, seed, stop, cancel, until)

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
        """Raw completion, calling `on_text` with each chunk as it arrives; `until` may end it early."""
        stream = self.stream(prompt, sampling, seed, stop, cancel, until)
        for chunk in stream:
            if on_text is not None:
                on_text(chunk)
        return stream.result

class CompletionStream:
    """Iterates over the text chunks of one completion; `.result` is set when it ends."""

    def __init__(self, model: Model, prompt: str, sampling: Sampling, seed: int, stop: tuple[str, ...], cancel: threading.Event | None,
                 until: TextCheck | None = None):
        self.model = model
        self.until = until
        self.prompt = prompt
        self.sampling = sampling.validate()
        self.seed = seed
        self.stop = tuple(s for s in stop if s)
        self.cancel = cancel
        self.result: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        model = self.model
        with model._lock:
            yield from self._run(model)

    def _run(self, model: Model) -> Iterator[str]:
        import llama_cpp

        llama = model._llama
        started = time.perf_counter()
        tokens = model.tokenize_prompt(self.prompt)
        limit = generation_limit(len(tokens), model.n_ctx, self.sampling.max_tokens)
        llama.set_seed(self.seed)
        vocab = llama._model.vocab
        assembled = TokenText(self.stop, limit, self.until)
        first_token_at = None
        schema = self.sampling.json_schema
        generator = llama.generate(
            tokens,
            top_k=self.sampling.top_k,
            top_p=self.sampling.top_p,
            min_p=self.sampling.min_p,
            temp=self.sampling.temperature,
            repeat_penalty=self.sampling.repeat_penalty,
            grammar=None if schema is None else llama_cpp.LlamaGrammar.from_string(schema_grammar_text(schema)),
        )
        model.fit_threads_to_free_cores()
        checked = started
        try:
            for token in generator:
                if self.cancel is not None and self.cancel.is_set():
                    raise Cancelled()
                if time.perf_counter() - checked >= THREADS_CHECK_SECONDS:  # another program may start or end mid-call
                    model.fit_threads_to_free_cores()
                    checked = time.perf_counter()
                if first_token_at is None:
                    first_token_at = time.perf_counter() - started
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    assembled.end_of_turn()
                    break
                emit = assembled.add(llama.detokenize([token], special=False))
                if emit:
                    yield emit
                if assembled.done:
                    break
        finally:
            generator.close()
        rest = assembled.flush()
        if rest:
            yield rest
        self.result = assembled.completion(self.prompt, len(tokens), self.seed, started, first_token_at)


def generation_limit(prompt_tokens: int, n_ctx: int, max_tokens: int) -> int:
    """Tokens a completion may generate: its cap, or the context's room after the prompt if smaller."""
    room = n_ctx - prompt_tokens
    if room < 1:
        raise GenerationFailed(
            "context_overflow",
            f"the prompt has {prompt_tokens} tokens but the context holds {n_ctx}; shorten the seed or template",
        )
    return min(max_tokens, room)


class TokenText:
    """A completion's text as its tokens arrive: UTF-8 characters split across tokens, stop strings
    (text that could still begin one is held back), the token cap, a check that may end it early
    (`until`, given the text so far) and the finish reason."""

    def __init__(self, stop: tuple[str, ...], limit: int, until: TextCheck | None = None):
        self.stop = stop
        self.limit = limit
        self.until = until
        self.text = ""
        self.produced = 0
        self.finish = "length"
        self.done = False
        self._pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._holdback = max((len(s) for s in stop), default=1) - 1

    def end_of_turn(self) -> None:
        """The model ended its turn (an end-of-generation token, not counted)."""
        self.finish, self.done = "stop", True

    def add(self, piece: bytes) -> str:
        """Take one generated token's bytes; returns the text now safe to show ("" while held back)."""
        self.produced += 1
        self._pending += self._decoder.decode(piece)
        hit = _find_stop(self._pending, self.stop)
        if hit is not None:
            self._pending = self._pending[:hit]
            self.finish, self.done = "stop", True
            return ""
        emit = self._pending[: len(self._pending) - self._holdback] if self._holdback else self._pending
        if emit:
            self.text += emit
            self._pending = self._pending[len(emit):]
            reason = self.until(self.text) if self.until is not None else None
            if reason is not None:
                self.finish, self.done = reason, True
                return emit
        if self.produced >= self.limit:
            self.done = True
        return emit

    def flush(self) -> str:
        """The held-back rest once the completion ended. Bytes of a character cut off by the token cap
        are dropped rather than shown as U+FFFD."""
        rest, self._pending = self._pending, ""
        self.text += rest
        return rest

    def completion(self, prompt: str, prompt_tokens: int, seed: int, started: float, first_token_at: float | None) -> Completion:
        return Completion(
            text=self.text,
            prompt_tokens=prompt_tokens,
            completion_tokens=self.produced,
            finish_reason=self.finish,
            seed=seed,
            seconds=time.perf_counter() - started,
            first_token_seconds=first_token_at,
            prompt=prompt,
        )


def _find_stop(text: str, stops: tuple[str, ...]) -> int | None:
    positions = [text.find(s) for s in stops]
    positions = [p for p in positions if p >= 0]
    return min(positions) if positions else None


def new_run_seed() -> int:
    """A fresh random seed for a run (llama-cpp-python's fixed default would repeat every run)."""
    return random.SystemRandom().randrange(1, 2**31 - 1)


def derive_seed(run_seed: int, *parts: int) -> int:
    """A per-call seed derived from the run's seed, so each sample differs yet a run can be replayed."""
    return random.Random(":".join(map(str, (run_seed, *parts)))).randrange(1, 2**31 - 1)
