"""The work `smolgen bench` times, done four ways on the same model with the same caps and seeds.

(a) `bare`: llama-cpp-python written the obvious way: default settings, one call after another.
(b) `tuned`: the same loop with the best settings found (threads = physical cores, a context big
    enough for every prompt, the chat prompt rendered once per call by the library's own handler).
(c) `engine`: smolgen's engine headless (`run_generation` into a temporary store).
(d) `app`: the app's generation path, in a headless Textual app (`tui/bench/app_variant.py`).
(e) `parallel`: the engine with `--parallel S`: S rows at once, decoded in one llama.cpp batch.
Each variant runs in its own process, so peak memory is its own; it loads the model once, before
any clock starts, and then does every workload in turn.

Samples are what a person gets: a Magpie conversation, a chain row, and for SelfInstruct each
instruction of the model's list (the bare loops count the list's lines; the engine and the app count
those its filters keep, so their samples/min can be lower for the same tokens).
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
# SelfInstruct seeds: short passages of context, so the prompt is mostly the template itself.
SELF_INSTRUCT_SEEDS = [
    "Plants use sunlight, water and carbon dioxide to make sugar, and give off oxygen as they do.",
    "A binary search tree keeps smaller keys to the left of each node and larger keys to the right.",
    "Sourdough rises thanks to wild yeast and lactic bacteria living in a fermented flour paste.",
    "The water cycle moves water between oceans, air and land through evaporation, rain and rivers.",
]
WORKLOADS = ("magpie", "chain", "selfinstruct")
# Instructions asked of each SelfInstruct seed; the list may hold one `user_tokens` cap per instruction.
SELF_INSTRUCT_LIST = 3


@dataclass
class Workload:
    kind: str  # one of WORKLOADS
    items: int  # Magpie samples, chain rows or SelfInstruct seeds
    user_tokens: int  # cap of a Magpie user turn, a chain instruction or one instruction of a SelfInstruct list
    answer_tokens: int
    seed: int = 1234

    @property
    def list_tokens(self) -> int:
        """Cap of a SelfInstruct list, the engine's rule: room for each instruction asked for."""
        return SELF_INSTRUCT_LIST * self.user_tokens


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


def process_peak_rss_mb() -> float:
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


def seed_prompts(workload: Workload) -> list[str]:
    """The text the engine sends for each seed row, from the shipped templates and their defaults,
    so the bare loops send exactly the same."""
    from tui.engine.prompts import PromptLibrary
    from tui.engine.techniques.self_instruct import DEFAULT_APPLICATION, DEFAULT_CRITERIA

    prompts = PromptLibrary()
    if workload.kind == "chain":
        return [prompts.load("chain_instruction").render(**row) for row in seed_rows(workload)]
    return [
        prompts.load("self_instruct").render(
            num_instructions=SELF_INSTRUCT_LIST,
            criteria_for_query_generation=DEFAULT_CRITERIA,
            application_description=DEFAULT_APPLICATION,
            input=row["text"],
        )
        for row in seed_rows(workload)
    ]


def run_bare(model_path: Path, workloads: list[Workload], tuned: bool, threads: int | None = None) -> list[Measurement]:
    """Variants (a) and (b): a plain loop over llama-cpp-python's completion and chat calls.

    `threads` applies to the tuned loop only: the bare one keeps every library default."""
    from llama_cpp import Llama

    from tui.engine.model import physical_cores

    options: dict[str, Any] = {"seed": workloads[0].seed, "verbose": False}
    if tuned:
        threads = threads or physical_cores()
        options.update(n_threads=threads, n_threads_batch=threads, n_ctx=2048)
    with contextlib.redirect_stderr(io.StringIO()):
        llm = Llama(model_path=str(model_path), **options)
    return [_bare_workload(llm, workload, "tuned" if tuned else "bare") for workload in workloads]


def _bare_workload(llm: Any, workload: Workload, variant: str) -> Measurement:
    measurement = Measurement(variant, workload.kind)

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

    def complete(prompt: str, max_tokens: int, stop: tuple[str, ...] = ("<|im_end|>",), **sampling: Any) -> str:
        started = time.perf_counter()
        stream = _Stream(started)
        text = stream.text(
            llm(prompt, max_tokens=max_tokens, stream=True, stop=list(stop), **sampling),
            lambda c: c["choices"][0]["text"],
        )
        measurement.first_token_seconds.append(stream.first or 0.0)
        measurement.generated_tokens += len(llm.tokenize(text.encode("utf-8"), add_bos=False))
        return text

    from tui.engine.model import derive_seed
    from tui.engine.techniques.chain import clean_instruction

    pre_query = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n"
    # Rendering a template is not model work: done before the clock starts.
    prompts = seed_prompts(workload)
    started = time.perf_counter()
    for index in range(workload.items):
        # The engine's per-call seeds and the text it passes on, so every variant samples the same
        # tokens and tokens per second compare the same work.
        seeds = (derive_seed(workload.seed, index, call) for call in range(2))
        if workload.kind == "magpie":
            llm.set_seed(next(seeds))
            question = complete(pre_query, workload.user_tokens, temperature=1.0, top_p=1.0, top_k=0, min_p=0.0)
            llm.set_seed(next(seeds))
            chat([{"role": "user", "content": question.strip()}], workload.answer_tokens, temperature=0.7)
            measurement.samples += 1
        elif workload.kind == "chain":
            llm.set_seed(next(seeds))
            instruction = chat([{"role": "user", "content": prompts[index]}], workload.user_tokens, temperature=0.8)
            llm.set_seed(next(seeds))
            chat([{"role": "user", "content": clean_instruction(instruction)}], workload.answer_tokens, temperature=0.7)
            measurement.samples += 1
        else:
            llm.set_seed(next(seeds))
            listed = complete(
                prompts[index], workload.list_tokens, ("<|im_end|>", "\n#"), temperature=0.7, repeat_penalty=1.1
            )
            measurement.samples += min(SELF_INSTRUCT_LIST, sum(1 for line in listed.splitlines() if line.strip()))
    measurement.seconds = time.perf_counter() - started
    measurement.peak_rss_mb = process_peak_rss_mb()
    return measurement


def technique_for(workload: Workload) -> Any:
    """smolgen's technique for the workload, with the same caps as the bare loops."""
    from tui.engine.model import Sampling
    from tui.engine.quality_gates import QualityGates
    from tui.engine.techniques.base import AnswerSettings
    from tui.engine.techniques.chain import ChainSettings, InstructionResponse
    from tui.engine.techniques.magpie import Magpie, MagpieSettings, user_turn_sampling
    from tui.engine.techniques.self_instruct import SelfInstruct, SelfInstructSettings, list_sampling

    answer = Sampling(temperature=0.7, max_tokens=workload.answer_tokens)
    ungated = QualityGates.all_off()  # the bare loops answer whatever the model writes: so does smolgen here
    if workload.kind == "magpie":
        user = user_turn_sampling()
        user.max_tokens = workload.user_tokens
        return Magpie(MagpieSettings(user_sampling=user, assistant_sampling=answer, gates=ungated, check_user_turn_cap=False))
    if workload.kind == "selfinstruct":
        listing = list_sampling(SELF_INSTRUCT_LIST)
        listing.max_tokens = workload.list_tokens
        return SelfInstruct(SelfInstructSettings(num_instructions=SELF_INSTRUCT_LIST, instruction_sampling=listing, gates=ungated,
                                                 answer=AnswerSettings(enabled=False)))
    return InstructionResponse(ChainSettings(instruction_sampling=Sampling(temperature=0.8, max_tokens=workload.user_tokens),
                                             response_sampling=answer, gates=ungated))


def seed_rows(workload: Workload) -> list[dict[str, str]]:
    seeds = {"chain": SEED_PROMPTS, "selfinstruct": SELF_INSTRUCT_SEEDS}.get(workload.kind)
    return [{"text": seeds[i % len(seeds)]} for i in range(workload.items)] if seeds else []


class TimedStore:
    """Adds up the time spent writing samples (the target: under 2% of a run)."""

    def __init__(self, store: Any, measurement: Measurement):
        self._store, self.measurement = store, measurement

    def add_samples(self, samples: list[dict[str, Any]]) -> list[int]:
        """A run's writer stores through this (one journal append for the samples finished at once)."""
        started = time.perf_counter()
        try:
            return self._store.add_samples(samples)
        finally:
            self.measurement.store_seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def run_engine(model_path: Path, workloads: list[Workload], threads: int | None = None, parallel: int = 1) -> list[Measurement]:
    """Variant (c), or (e) with `parallel` > 1: smolgen's engine, headless, storing every sample as a real run does."""
    from tui.engine.model import Model
    from tui.engine.prompts import PromptLibrary
    from tui.engine.runner import RunObserver, run_generation
    from tui.engine.store import SampleStore

    class FirstTokens(RunObserver):
        def __init__(self, measurement: Measurement):
            self.measurement = measurement

        def stage(self, text: str) -> None:
            self.started = time.perf_counter()
            self.seen = False

        def text(self, chunk: str) -> None:
            if not self.seen:
                self.seen = True
                self.measurement.first_token_seconds.append(time.perf_counter() - self.started)

        def sample_done(self, sample: dict[str, Any], done: int, total: int) -> None:
            if parallel > 1:  # no streamed text: each call records when its first token came
                self.measurement.first_token_seconds += [
                    call["first_token_seconds"] for call in sample.get("calls", ()) if call["first_token_seconds"] is not None
                ]

    model = Model.load(model_path, n_threads=threads)
    measurements = []

    # One store for the whole process, as a person's store holds every run.
    with tempfile.TemporaryDirectory() as folder, SampleStore(Path(folder) / "bench.json") as store:
        for workload in workloads:
            measurement = Measurement("parallel" if parallel > 1 else "engine", workload.kind)
            started = time.perf_counter()
            summary = run_generation(
                technique_for(workload), TimedStore(store, measurement), model, PromptLibrary(), workload.items,
                workload.seed, seed_rows(workload), FirstTokens(measurement), parallel=parallel,
            )
            measurement.seconds = time.perf_counter() - started
            measurement.samples = summary.stored
            measurement.generated_tokens = summary.completion_tokens
            measurement.peak_rss_mb = process_peak_rss_mb()
            measurements.append(measurement)
    return measurements
