"""The work `smolgen bench` times, done four ways on the same model with the same caps and seeds.

(a) `bare`: llama-cpp-python written the obvious way: default settings, one call after another.
(b) `tuned`: the same loop with the best settings found (threads = physical cores, a context big
    enough for every prompt, the chat prompt rendered once per call by the library's own handler).
(c) `engine`: smolgen's engine headless (`run_generation` into a temporary store).
(d) `app`: the app's generation path, in a headless Textual app.
Each variant runs in its own process, so peak memory is its own.
"""

from __future__ import annotations

import contextlib
import io
import resource
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

SEED_PROMPTS = [
    "Generate a short question about the Hugging Face Smol-Course.",
    "Generate a question about photosynthesis.",
    "Generate a question about the French revolution.",
    "Generate a question about sourdough bread.",
    "Generate a question about binary search trees.",
    "Generate a question about the water cycle.",
]


@dataclass
class Workload:
    kind: str  # "magpie" or "chain"
    items: int
    user_tokens: int  # cap of a Magpie user turn or a chain instruction
    answer_tokens: int
    seed: int = 1234


@dataclass
class Measurement:
    variant: str
    workload: str
    samples: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0
    first_token_seconds: list[float] = field(default_factory=list)
    store_seconds: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds else 0.0

    def record(self) -> dict[str, Any]:
        data = asdict(self)
        data["tokens_per_second"] = round(self.tokens_per_second, 2)
        data["samples_per_minute"] = round(60 * self.samples / self.seconds, 2) if self.seconds else 0.0
        ttft = sorted(self.first_token_seconds)
        data["first_token_seconds"] = round(ttft[len(ttft) // 2], 4) if ttft else None
        return data


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Stream:
    """Consume a llama-cpp-python stream, noting the time of its first chunk."""

    def __init__(self, started: float):
        self.started = started
        self.first: float | None = None

    def text(self, chunks: Any, key: Callable[[dict], str]) -> str:
        parts = []
        for chunk in chunks:
            if self.first is None:
                self.first = time.perf_counter() - self.started
            parts.append(key(chunk) or "")
        return "".join(parts)


def run_bare(model_path: Path, workload: Workload, tuned: bool) -> Measurement:
    """Variants (a) and (b): a plain loop over llama-cpp-python's completion and chat calls."""
    from llama_cpp import Llama

    from tui.engine.model import physical_cores

    options: dict[str, Any] = {"seed": workload.seed, "verbose": False}
    if tuned:
        options.update(n_threads=physical_cores(), n_threads_batch=physical_cores(), n_ctx=2048)
    with contextlib.redirect_stderr(io.StringIO()):
        llm = Llama(model_path=str(model_path), **options)
    measurement = Measurement("tuned" if tuned else "bare", workload.kind)

    def chat(messages: list[dict[str, str]], max_tokens: int, **sampling: Any) -> str:
        started = time.perf_counter()
        stream = _Stream(started)
        text = stream.text(
            llm.create_chat_completion(messages, max_tokens=max_tokens, stream=True, **sampling),
            lambda c: c["choices"][0]["delta"].get("content"),
        )
        measurement.first_token_seconds.append(stream.first or 0.0)
        measurement.generated_tokens += len(llm.tokenize(text.encode("utf-8"), add_bos=False))
        return text

    def complete(prompt: str, max_tokens: int, **sampling: Any) -> str:
        started = time.perf_counter()
        stream = _Stream(started)
        text = stream.text(
            llm(prompt, max_tokens=max_tokens, stream=True, stop=["<|im_end|>"], **sampling),
            lambda c: c["choices"][0]["text"],
        )
        measurement.first_token_seconds.append(stream.first or 0.0)
        measurement.generated_tokens += len(llm.tokenize(text.encode("utf-8"), add_bos=False))
        return text

    pre_query = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n"
    started = time.perf_counter()
    for index in range(workload.items):
        if workload.kind == "magpie":
            llm.set_seed(workload.seed + index)
            question = complete(pre_query, workload.user_tokens, temperature=1.0, top_p=1.0, top_k=0, min_p=0.0)
            chat([{"role": "user", "content": question.strip()}], workload.answer_tokens, temperature=0.7)
        else:
            seed_prompt = SEED_PROMPTS[index % len(SEED_PROMPTS)]
            instruction = chat([{"role": "user", "content": seed_prompt}], workload.user_tokens, temperature=0.8)
            chat([{"role": "user", "content": instruction.strip()}], workload.answer_tokens, temperature=0.7)
        measurement.samples += 1
    measurement.seconds = time.perf_counter() - started
    measurement.peak_rss_mb = _peak_rss_mb()
    return measurement


def technique_for(workload: Workload) -> Any:
    """smolgen's technique for the workload, with the same caps as the bare loops."""
    from tui.engine.model import Sampling
    from tui.engine.techniques.chain import ChainSettings, InstructionResponse
    from tui.engine.techniques.magpie import Magpie, MagpieSettings, user_turn_sampling

    answer = Sampling(temperature=0.7, max_tokens=workload.answer_tokens)
    if workload.kind == "magpie":
        user = user_turn_sampling()
        user.max_tokens = workload.user_tokens
        return Magpie(MagpieSettings(user_sampling=user, assistant_sampling=answer))
    return InstructionResponse(
        ChainSettings(instruction_sampling=Sampling(temperature=0.8, max_tokens=workload.user_tokens), response_sampling=answer)
    )


def seed_rows(workload: Workload) -> list[dict[str, str]]:
    return [{"text": SEED_PROMPTS[i % len(SEED_PROMPTS)]} for i in range(workload.items)] if workload.kind == "chain" else []


class _TimedStore:
    """Adds up the time spent writing samples (the target: under 2% of a run)."""

    def __init__(self, store: Any, measurement: Measurement):
        self._store, self._measurement = store, measurement

    def add_sample(self, sample: dict[str, Any]) -> int:
        started = time.perf_counter()
        try:
            return self._store.add_sample(sample)
        finally:
            self._measurement.store_seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def run_engine(model_path: Path, workload: Workload) -> Measurement:
    """Variant (c): smolgen's engine, headless, storing every sample as a real run does."""
    from tui.engine.model import Model
    from tui.engine.prompts import PromptLibrary
    from tui.engine.runner import RunObserver, run_generation
    from tui.engine.store import SampleStore

    model = Model.load(model_path)
    measurement = Measurement("engine", workload.kind)

    class FirstTokens(RunObserver):
        def stage(self, text: str) -> None:
            self.started = time.perf_counter()
            self.seen = False

        def text(self, chunk: str) -> None:
            if not self.seen:
                self.seen = True
                measurement.first_token_seconds.append(time.perf_counter() - self.started)

    with tempfile.TemporaryDirectory() as folder, SampleStore(Path(folder) / "bench.json") as store:
        started = time.perf_counter()
        summary = run_generation(
            technique_for(workload), _TimedStore(store, measurement), model, PromptLibrary(), workload.items,
            workload.seed, seed_rows(workload), FirstTokens(),
        )
        measurement.seconds = time.perf_counter() - started
    measurement.samples = summary.stored
    measurement.generated_tokens = summary.completion_tokens
    measurement.peak_rss_mb = _peak_rss_mb()
    return measurement
