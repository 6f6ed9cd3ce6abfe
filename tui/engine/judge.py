"""An LLM judge: a model rates an answer 1 to 5 per aspect (UltraFeedback's scale, one call per aspect,
each with a one-sentence rationale) and tags the instruction the way Magpie's datasets do (input
quality, difficulty, task category).

The judge's answer is held to a fixed JSON schema (a llama.cpp grammar in-process, `response_format`
on servers) and checked again here; an answer that still does not read is asked for again, and after
`ATTEMPTS` tries the judgement fails with the reason. A failed judgement carries no scores at all.

    from tui.engine.judge import judge
    verdict = judge(model, [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                    aspects=("helpfulness", "honesty"))
    if verdict.ok:
        verdict.ratings["helpfulness"].rating, verdict.tags.difficulty, verdict.rating
    else:
        verdict.failure
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tui.engine.chat_template import Message
from tui.engine.errors import BadInput, GenerationFailed
from tui.engine.language_model import LanguageModel
from tui.engine.model import Sampling, derive_seed, new_run_seed
from tui.engine.prompts import PromptLibrary
from tui.engine.settings_schema import setting, validate
from tui.engine.store import now_iso

ASPECTS = ("overall", "helpfulness", "honesty", "instruction_following", "truthfulness")
SCALE = (1, 2, 3, 4, 5)
INPUT_QUALITIES = ("very poor", "poor", "average", "good", "excellent")
DIFFICULTIES = ("very easy", "easy", "medium", "hard", "very hard")
TASK_CATEGORIES = (
    "Information seeking", "Reasoning", "Planning", "Editing", "Coding & Debugging", "Math", "Role playing",
    "Data analysis", "Creative writing", "Advice seeking", "Brainstorming", "Others",
)
TAG_NAMES = ("input_quality", "difficulty", "task_category")  # the fields of InstructionTags a person filters by
ATTEMPTS = 3  # tries per call before the judgement fails
RATIONALE_CHARACTERS = 160  # a sentence; the bound keeps a rambling judge from running into its token cap

RATING_TEMPLATE = "judge/rating"
TAGS_TEMPLATE = "judge/tags"

_SENTENCE = {"type": "string", "minLength": 1, "maxLength": RATIONALE_CHARACTERS}
# The only schemas the judge asks for: the test suite loads the grammar of each with the real model.
RATING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"rating": {"type": "integer", "enum": list(SCALE)}, "rationale": _SENTENCE},
    "required": ["rating", "rationale"],
    "additionalProperties": False,
}
TAGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "explanation": _SENTENCE,
        "input_quality": {"type": "string", "enum": list(INPUT_QUALITIES)},
        "difficulty": {"type": "string", "enum": list(DIFFICULTIES)},
        "task_category": {"type": "string", "enum": list(TASK_CATEGORIES)},
    },
    "required": ["explanation", "input_quality", "difficulty", "task_category"],
    "additionalProperties": False,
}
SCHEMAS = (RATING_SCHEMA, TAGS_SCHEMA)
# Token caps: the longest answer each schema allows fits with room to spare.
RATING_TOKENS = 96
TAGS_TOKENS = 128
TEMPERATURE = 0.2  # near-greedy for steady verdicts, yet a retry draws something else


@dataclass
class JudgeSettings:
    """What a judge is asked, as a pipeline's `judge` step and the app take it."""

    aspects: list[str] = setting(default_factory=lambda: [ASPECTS[0]], label="Aspects", choices=ASPECTS,
                                 help="what the judge rates 1 to 5, each in its own call: overall, or some of UltraFeedback's four")
    tag: bool = setting(True, label="Tag instructions",
                        help="also tag each instruction with its input quality, difficulty and task category, as Magpie's datasets do")

    def validate(self) -> "JudgeSettings":
        return validate(self)


@dataclass(frozen=True)
class AspectRating:
    """One aspect's score, 1 to 5, and the judge's one-sentence reason."""

    rating: int
    rationale: str


@dataclass(frozen=True)
class InstructionTags:
    """Magpie's tags of an instruction, and the judge's sentence about it."""

    input_quality: str
    difficulty: str
    task_category: str
    explanation: str


@dataclass
class Judgement:
    """What the judge made of one conversation. `failure` is None when it succeeded; a failed judgement
    has no ratings and no tags (never a made-up score)."""

    judge: str  # the judge model's label
    judge_fingerprint: str
    aspects: tuple[str, ...]
    ratings: dict[str, AspectRating]
    tags: InstructionTags | None
    judged: str  # when, ISO 8601
    seconds: float
    failure: str | None = None
    failure_reason: str | None = None  # a short code: unreadable, nothing_to_judge, or the model's (context_overflow)

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def rating(self) -> float | None:
        """The mean of the aspects' ratings (the one rating when the aspect is `overall`); None without ratings."""
        if not self.ratings:
            return None
        return round(sum(r.rating for r in self.ratings.values()) / len(self.ratings), 2)

    def record(self) -> dict[str, Any]:
        """The judgement as stored on a sample."""
        return {
            "judge": self.judge,
            "judge_fingerprint": self.judge_fingerprint,
            "aspects": list(self.aspects),
            "ratings": {aspect: dataclasses.asdict(rated) for aspect, rated in self.ratings.items()},
            "rating": self.rating,
            "tags": None if self.tags is None else dataclasses.asdict(self.tags),
            "judged": self.judged,
            "seconds": round(self.seconds, 3),
            "failure": self.failure,
            "failure_reason": self.failure_reason,
        }


class UnreadableAnswer(Exception):
    """The judge's answer does not match its schema; the message says how."""


class JudgeFailed(Exception):
    """The judgement cannot be made; the message is the reason stored with it, `reason` its short code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def parse_aspects(text: str) -> tuple[str, ...]:
    """`overall` or a comma list of aspects, in the order given, without repeats; BadInput names an unknown one."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ASPECTS]
    if unknown or not names:
        shown = ",".join(unknown) or repr(text)
        raise BadInput(f"--aspects {shown}: unknown aspect; use {' or '.join((ASPECTS[0], ','.join(ASPECTS[1:])))} (or some of them)")
    return tuple(dict.fromkeys(names))


def sample_rating(sample: dict[str, Any]) -> float | None:
    """A stored sample's rating (the mean over its judged aspects); None when it was not rated or the judge failed."""
    verdict = sample.get("judgement")
    return verdict.get("rating") if verdict and verdict.get("failure") is None else None


def check_min_rating(value: float, flag: str = "--min-rating") -> float:
    """A rating threshold on the judge's scale; BadInput otherwise."""
    if not SCALE[0] <= value <= SCALE[-1]:
        raise BadInput(f"{flag} {value:g}: must be between {SCALE[0]} and {SCALE[-1]} (the judge's scale)")
    return value


def judge(
    model: LanguageModel,
    messages: list[Message],
    aspects: Sequence[str] = ("overall",),
    *,
    tag: bool = True,
    seed: int | None = None,
    prompts: PromptLibrary | None = None,
    cancel: threading.Event | None = None,
) -> Judgement:
    """Rate the last assistant message of `messages` for each aspect, and tag the first user message.

    A conversation that ends without an assistant answer is only tagged. `tag=False` skips the tags.
    The seed (random when None) makes a judgement repeatable with the same model. Raises Cancelled when
    `cancel` is set; every other problem (answers that never read, a prompt too long for the judge's
    context) comes back as a failed Judgement with the reason.
    """
    aspects = tuple(aspects)
    for aspect in aspects:
        if aspect not in ASPECTS:
            raise BadInput(f"aspect {aspect!r}: unknown; use one of {', '.join(ASPECTS)}")
    prompts = prompts or PromptLibrary()
    seed = new_run_seed() if seed is None else seed
    started = time.perf_counter()
    answer_at = _last_answer(messages)
    instruction = next((m["content"] for m in messages if m["role"] == "user"), None)
    ratings: dict[str, AspectRating] = {}
    tags: InstructionTags | None = None
    failure = reason = None
    try:
        if answer_at is not None:
            template = prompts.load(RATING_TEMPLATE)
            context = [m for m in messages[:answer_at] if m["role"] != "system"]
            for number, aspect in enumerate(aspects):
                prompt = template.render(aspect=aspect, context=context, answer=messages[answer_at]["content"])
                fields = _ask(model, prompt, RATING_SCHEMA, RATING_TOKENS, seed, number, cancel, aspect)
                ratings[aspect] = AspectRating(fields["rating"], fields["rationale"].strip())
        if tag and instruction is not None:
            prompt = prompts.load(TAGS_TEMPLATE).render(instruction=instruction, categories=TASK_CATEGORIES)
            fields = _ask(model, prompt, TAGS_SCHEMA, TAGS_TOKENS, seed, len(aspects), cancel, "tags")
            tags = InstructionTags(fields["input_quality"], fields["difficulty"], fields["task_category"], fields["explanation"].strip())
        if answer_at is None and tags is None:
            raise JudgeFailed("nothing_to_judge", "nothing to judge: no assistant answer to rate"
                              + (" and no user instruction to tag" if tag else " and tags were not asked for"))
    except JudgeFailed as error:
        failure, reason = str(error), error.reason
    if failure is not None:
        ratings, tags = {}, None
    return Judgement(model.label, model.fingerprint(), aspects, ratings, tags, now_iso(), time.perf_counter() - started,
                     failure, reason)


def _ask(model: LanguageModel, prompt: str, schema: dict[str, Any], max_tokens: int, seed: int, call: int,
         cancel: threading.Event | None, what: str) -> dict[str, Any]:
    """The judge's answer to one prompt, read against `schema`: up to ATTEMPTS tries, each with its own seed."""
    sampling = Sampling(temperature=TEMPERATURE, repeat_penalty=1.0, max_tokens=max_tokens, json_schema=schema)  # a verdict repeats its keys
    problems = []
    for attempt in range(ATTEMPTS):
        try:
            completion = model.chat([{"role": "user", "content": prompt}], sampling, derive_seed(seed, call, attempt), cancel)
        except GenerationFailed as error:
            raise JudgeFailed(error.reason, f"{what}: {error}") from None
        try:
            return read_answer(completion.text, schema, cut_off=completion.finish_reason == "length")
        except UnreadableAnswer as problem:
            problems.append(str(problem))
    raise JudgeFailed("unreadable", f"{what}: no usable answer in {ATTEMPTS} tries ({'; '.join(dict.fromkeys(problems))})")


def read_answer(text: str, schema: dict[str, Any], cut_off: bool = False) -> dict[str, Any]:
    """The fields of a judge's JSON answer, checked against one of SCHEMAS; UnreadableAnswer says what is wrong.

    A server that ignores the schema may wrap the object in prose or a code fence: the outermost braces are read.
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise UnreadableAnswer("cut off at the token cap" if cut_off else "not a JSON object")
    try:
        fields = json.loads(text[start:end + 1])
    except json.JSONDecodeError:
        raise UnreadableAnswer("cut off at the token cap" if cut_off else "not valid JSON") from None
    if not isinstance(fields, dict):
        raise UnreadableAnswer("not a JSON object")
    for name, rule in schema["properties"].items():
        value = fields.get(name)
        if value is None:
            raise UnreadableAnswer(f"no {name}")
        if rule["type"] == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
            raise UnreadableAnswer(f"{name} {value!r} is not a whole number")
        if "enum" in rule and value not in rule["enum"]:
            allowed = f"{rule['enum'][0]} to {rule['enum'][-1]}" if rule["type"] == "integer" else "one of " + ", ".join(rule["enum"])
            raise UnreadableAnswer(f"{name} {value!r} is not {allowed}")
        if rule["type"] == "string" and (not isinstance(value, str) or not value.strip()):
            raise UnreadableAnswer(f"{name} is empty")
    return fields


def _last_answer(messages: list[Message]) -> int | None:
    """Where the answer to rate is: the last message, when the assistant wrote it."""
    if messages and messages[-1]["role"] == "assistant" and messages[-1]["content"].strip():
        return len(messages) - 1
    return None


def verdict_line(verdict: Judgement) -> str:
    """One judgement in a line: the rating and each aspect's, the tags, or why it failed."""
    if not verdict.ok:
        return f"failed: {verdict.failure}"
    parts = []
    if verdict.ratings:
        each = ", ".join(f"{aspect} {rated.rating}" for aspect, rated in verdict.ratings.items())
        parts.append(f"rated {verdict.rating:g}" + (f" ({each})" if len(verdict.ratings) > 1 else ""))
    if verdict.tags is not None:
        parts.append(f"{verdict.tags.input_quality} input, {verdict.tags.difficulty}, {verdict.tags.task_category}")
    return " · ".join(parts) + f" · {verdict.seconds:.1f} s"
