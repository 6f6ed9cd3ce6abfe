"""What every technique shares: the context it runs in, system-prompt choice and the sample record."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Protocol, runtime_checkable

from tui.engine.chat_template import Message
from tui.engine.errors import BadInput, GenerationFailed
from tui.engine.instruction_filters import Rejection
from tui.engine.language_model import LanguageModel
from tui.engine.model import Completion, Sampling, TextCallback, TextCheck, derive_seed
from tui.engine.prompts import PromptLibrary
from tui.engine.settings_schema import setting


@dataclass
class GenerationContext:
    """Everything a technique needs for one sample, and the hooks that show its progress.

    `watched` says whether a person is watching this row now (several rows run at once, one is
    shown); unwatched, a call gets no text callback, so a server sends its answer whole.
    """

    model: LanguageModel
    prompts: PromptLibrary
    run_seed: int
    cancel: threading.Event | None = None
    text_callback: TextCallback | None = None
    on_stage: Callable[[str], None] = lambda _stage: None
    watched: Callable[[], bool] | None = None

    @property
    def on_text(self) -> TextCallback | None:
        """Where a model call streams its text now; None when nobody watches."""
        if self.text_callback is None or (self.watched is not None and not self.watched()):
            return None
        return self.text_callback

    def call_seed(self, sample_index: int, call_index: int) -> int:
        return derive_seed(self.run_seed, sample_index, call_index)

    def rng(self, sample_index: int, stream: int = 0) -> random.Random:
        """The random generator of one sample (system-prompt choice, EvolInstruct operations...);
        another `stream` gives an independent one, so one choice never shifts another."""
        return random.Random(derive_seed(self.run_seed, sample_index, -1 - stream))


class WeightsProblem(BadInput):
    """System prompt weights that do not fit their prompts. It keeps the problem, so that a front end names the
    weights its own way (a pipeline step by its key, the form's editor by none); the line names the flag."""

    def __init__(self, problem: str):
        super().__init__(f"--system-weights: {problem}")
        self.problem = problem


@dataclass
class SystemPrompts:
    """No prompt (the template's default), one prompt, or weighted choices drawn per sample."""

    setting_kind = "system"  # edited whole: a prompt per line, each with an optional weight

    prompts: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prompts = [p for p in self.prompts if p and p.strip()]
        if self.weights and len(self.weights) != len(self.prompts):
            raise WeightsProblem(f"{len(self.weights)} weights for {len(self.prompts)} system prompts")
        if any(w < 0 for w in self.weights) or (self.weights and sum(self.weights) <= 0):
            raise WeightsProblem("weights must be 0 or more, and not all 0")

    def choose(self, rng: random.Random) -> str | None:
        if not self.prompts:
            return None
        if len(self.prompts) == 1:
            return self.prompts[0]
        return rng.choices(self.prompts, weights=self.weights or None, k=1)[0]

    def record(self) -> list[dict[str, Any]]:
        weights = self.weights or [1.0] * len(self.prompts)
        return [{"prompt": p, "weight": w} for p, w in zip(self.prompts, weights)]


def check_template(prompts: PromptLibrary, name: str, rows: list[dict[str, Any]]) -> None:
    """Render a template with every row, so a missing column is reported before generation starts."""
    template = prompts.load(name)
    for row in rows:
        template.render(**row)


def system_messages(system_prompt: str | None) -> list[Message]:
    return [{"role": "system", "content": system_prompt}] if system_prompt else []


# A technique that makes several samples from one row (SelfInstruct's list of instructions,
# EvolInstruct's generations) yields them one by one; the runner stores each at once and sends back
# its id, so a later sample can link to it: `parent_id = yield sample`.
SampleStream = Generator[dict[str, Any], int, None]


class Technique(Protocol):
    """A way of producing one sample, or a stream of them, from an optional seed row."""

    name: str
    summary: str  # what it does, in one line (`smolgen generate --help`)
    needs_seeds: bool
    settings: Any  # a settings dataclass, described by `settings_schema` (its run record comes from there)

    def check(self, prompts: PromptLibrary, rows: list[dict[str, Any]]) -> None:
        """Raise BadInput now, before any model call, if a template or a row cannot work."""

    def generate(self, ctx: GenerationContext, index: int, row: dict[str, Any] | None) -> dict[str, Any] | SampleStream: ...


@runtime_checkable
class ReadsStoredSamples(Protocol):
    """A technique that needs the store's samples before a run (e.g. to skip near-duplicates of them)."""

    def prepare_run(self, stored: list[dict[str, Any]]) -> None:
        """Called once by the runner, before the first sample, with the store's curated samples."""


def has_chat_template(model: LanguageModel) -> bool:
    """Whether the model can chat: a base model's GGUF has no chat template."""
    try:
        model.chat_template  # noqa: B018 - raises BadInput when there is none
    except BadInput:
        return False
    return True


def can_chat(model: LanguageModel) -> bool:
    """Whether the model can answer a conversation: with its chat template, or, on servers, with the
    server's own (ServerModel falls back to the server's chat when it does not know the template)."""
    return has_chat_template(model) or bool(getattr(model, "serves_concurrently", False))


def require_text(completion: Completion, what: str) -> str:
    """The completion's text, stripped; an empty one fails the sample with a recorded reason."""
    text = completion.text.strip()
    if not text:
        raise GenerationFailed("empty", f"the model wrote an empty {what}")
    return text


def build_sample(
    technique: str,
    conversation: list[Message],
    system_prompt: str | None,
    calls: list[Completion],
    row: dict[str, Any] | None = None,
    counted: list[Completion] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The stored record of one sample: the text, and everything needed to trust or replay it.

    `counted` are the calls whose tokens and time this sample accounts for (default: all `calls`);
    a call shared by several samples of one row is counted in the first of them only.
    """
    counted = calls if counted is None else counted
    instruction = next((m["content"] for m in conversation if m["role"] == "user"), None)
    response = next((m["content"] for m in conversation if m["role"] == "assistant"), None)
    flags = ["truncated"] if any(c.finish_reason == "length" for c in calls) else []
    return {
        "technique": technique,
        "instruction": instruction,
        "response": response,
        "conversation": conversation,
        "system_prompt": system_prompt,
        "seed_row": row,
        "flags": flags,
        "calls": [c.record() for c in calls],
        "raw": [c.text for c in calls],
        "tokens": {
            "prompt": _total(c.prompt_tokens for c in counted),
            "completion": _total(c.completion_tokens for c in counted),
        },
        "seconds": round(sum(c.seconds for c in counted), 4),
        **extra,
    }


def _total(counts: Any) -> int | None:
    """The sum of token counts, or None when any of them is unknown (a server that did not say)."""
    values = list(counts)
    return None if any(v is None for v in values) else sum(values)


def rejected(sample: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
    """A candidate a filter or an elimination rule dropped: kept as a failed sample with its reason.

    Failed samples are counted in the run summary and never exported or reviewed as data.
    """
    return {**sample, "status": "failed", "failure": {"reason": reason, "message": message}}


def gated(sample: dict[str, Any], rejection: Rejection | None) -> dict[str, Any]:
    """The sample, or when a gate or filter rejected it, the sample failed with that rejection's reason."""
    return sample if rejection is None else rejected(sample, rejection.reason, rejection.message)


def system_prompts_setting() -> Any:
    """The system prompts field every technique that chats has."""
    return setting(default_factory=SystemPrompts, label="System prompts", flag="--system", metavar="TEXT",
                   help="system prompt; repeat for a uniform choice per sample")


@dataclass
class AnswerSettings:
    """Whether a technique answers each instruction it keeps (the chain's second step), and how."""

    # On by default: an instruction without its answer trains nothing (`--format instructions` exports them alone).
    enabled: bool = setting(True, label="Answer each instruction", flag="--no-answer", help="answer each kept instruction")
    system: SystemPrompts = system_prompts_setting()
    sampling: Sampling = setting(default_factory=Sampling, label="Sampling")


def answer_instruction(
    ctx: GenerationContext, instruction: str, answering: AnswerSettings, rng: random.Random, seed: int,
    until: TextCheck | None = None,
) -> tuple[list[Message], str | None, Completion]:
    """The model's answer to an instruction, by chat: the conversation, the system prompt drawn, the call
    (ended early when `until`, the answer gates' stop, gives a reason)."""
    system_prompt = answering.system.choose(rng)
    messages = [*system_messages(system_prompt), {"role": "user", "content": instruction}]
    answered = ctx.model.chat(messages, answering.sampling, seed, ctx.cancel, ctx.on_text, until=until)
    return [*messages, {"role": "assistant", "content": answered.text.strip()}], system_prompt, answered


class InstructionsFromSeeds:
    """What SelfInstruct and EvolInstruct share: several instructions from each seed, each answered or not."""

    needs_seeds = True
    many_samples_per_seed = True  # progress counts seeds done and samples kept apart
    settings: Any

    @property
    def chats(self) -> bool:
        """Its own prompts are raw completions (a base model runs them); answering the instructions is a chat."""
        return self.settings.answer.enabled
