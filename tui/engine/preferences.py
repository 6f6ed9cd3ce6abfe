"""Preference samples: one prompt, several responses to it, and the pair chosen from them.

A judge decides the pair from the responses' ratings: the highest rated is chosen, the lowest
rejected, their difference the margin. Equal ratings (or fewer than two ratings) make no pair: the
sample keeps why in `skipped`. A person can pick instead (the compare screen); their pick overrides
the judge's and says so in `decided_by`, with the judge's own decision kept beside it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from tui.engine.chat_template import Message

TECHNIQUE = "preference"
# The columns of a preference sample that say what was compared and what was decided (a pipeline step's outputs).
PAIR_COLUMNS = ("prompt", "responses", "chosen", "rejected", "margin", "skipped", "decided_by")
# A person's pick: the left or the right of the compared pair, a tie, or (best, worst) among more responses.
Pick = Literal["left", "right", "tie"] | tuple[int, int]


def response_record(
    content: str, model: str | None = None, system_prompt: str | None = None, temperature: float | None = None,
    rating: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One response as a preference sample keeps it: its text, what made it, and its rating once judged."""
    return {"content": content, "model": model, "system_prompt": system_prompt, "temperature": temperature, "rating": rating}


def rating_score(rating: dict[str, Any] | None) -> float | None:
    """One number for a judgement as stored (`Judgement.record()`): its mean rating; None when it was not
    judged or the judgement failed."""
    if not rating or rating.get("failure"):
        return None
    score = rating.get("rating")
    return score if isinstance(score, (int, float)) else None


@dataclass(frozen=True)
class Decision:
    """Which response is chosen and which rejected (indices into `responses`), or why there is no pair."""

    chosen: int | None
    rejected: int | None
    margin: float | None
    skipped: dict[str, str] | None = None

    def fields(self, decided_by: str) -> dict[str, Any]:
        return {"chosen": self.chosen, "rejected": self.rejected, "margin": self.margin, "skipped": self.skipped,
                "decided_by": decided_by}


def judged_decision(responses: list[dict[str, Any]]) -> Decision:
    """The highest rated response against the lowest; the first of equals wins each place."""
    scores = [(index, rating_score(response.get("rating"))) for index, response in enumerate(responses)]
    rated = [(index, score) for index, score in scores if score is not None]
    if len(rated) < 2:
        unrated = len(responses) - len(rated)
        return Decision(None, None, None, {"reason": "unrated",
                                           "message": f"{unrated} of {len(responses)} responses have no rating: no pair to compare"})
    best = max(rated, key=lambda pair: pair[1])
    worst = min(rated, key=lambda pair: pair[1])
    if best[1] == worst[1]:
        return Decision(None, None, None, {"reason": "tie", "message": f"every rated response scored {best[1]:g}"})
    return Decision(best[0], worst[0], round(best[1] - worst[1], 3))


def preference_sample(prompt: list[Message], responses: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The stored record of a preference sample, its pair decided by the responses' ratings."""
    decision = judged_decision(responses)
    return {
        "technique": TECHNIQUE,
        "instruction": next((m["content"] for m in prompt if m["role"] == "user"), None),
        "prompt": prompt,
        "responses": responses,
        **decision.fields("judge"),
        **extra,
    }


def compared_pair(sample: dict[str, Any]) -> tuple[int, int]:
    """The two responses a person compares: the judge's pair, else the first and the last. Which one is on the
    left alternates by sample id, so the judge's choice is not always on the same side."""
    judge = sample.get("judge") or sample
    first, second = judge.get("chosen"), judge.get("rejected")
    if first is None or second is None:
        first, second = 0, len(sample.get("responses") or []) - 1
    return (first, second) if sample.get("id", 0) % 2 == 0 else (second, first)


def human_decision(sample: dict[str, Any], pick: Pick) -> dict[str, Any]:
    """The fields that record a person's pick between the compared pair, or of the best and the worst of all the
    responses (`pick` = (best, worst) indices). A person gives no margin; the judge's decision is kept in `judge`
    (from the first pick on, so undoing and picking again keeps it)."""
    left, right = compared_pair(sample)
    judge = sample.get("judge") or {key: sample.get(key) for key in ("chosen", "rejected", "margin", "skipped")}
    if isinstance(pick, tuple):
        best, worst = pick
        if best == worst or not all(0 <= index < len(sample.get("responses") or []) for index in pick):
            raise ValueError(f"pick {pick}: the best and the worst must be two of the sample's responses")
        decision = Decision(best, worst, None)
    elif pick == "tie":
        decision = Decision(None, None, None, {"reason": "tie", "message": "a person called it a tie"})
    else:
        decision = Decision(left, right, None) if pick == "left" else Decision(right, left, None)
    return {**decision.fields("human"), "judge": judge}


def is_pair(sample: dict[str, Any]) -> bool:
    """A preference sample with a chosen and a rejected response."""
    return sample.get("technique") == TECHNIQUE and sample.get("chosen") is not None and sample.get("rejected") is not None


def pair_truncated(sample: dict[str, Any]) -> bool:
    """The chosen or the rejected response of a pair was cut off by a token cap."""
    responses = sample["responses"]
    return bool(responses[sample["chosen"]].get("truncated") or responses[sample["rejected"]].get("truncated"))


def dpo_row(sample: dict[str, Any]) -> dict[str, Any]:
    """A pair in TRL's conversational preference format: the prompt's messages (system first), one chosen and one
    rejected assistant message."""
    responses = sample["responses"]
    return {
        "prompt": [{"role": m["role"], "content": m["content"]} for m in sample["prompt"]],
        "chosen": [{"role": "assistant", "content": responses[sample["chosen"]]["content"]}],
        "rejected": [{"role": "assistant", "content": responses[sample["rejected"]]["content"]}],
    }


def comparable(sample: dict[str, Any]) -> bool:
    """A preference sample a person can compare: two responses or more, and not rejected or failed."""
    return (sample.get("technique") == TECHNIQUE and len(sample.get("responses") or []) >= 2
            and sample.get("status", "new") in ("new", "accepted"))


def decision_line(sample: dict[str, Any]) -> str:
    """A preference sample's outcome in a few words: "pair: response 3 over 2 (margin 4)" or "no pair (tie): ..."."""
    if is_pair(sample):
        margin = f" (margin {sample['margin']:g})" if sample.get("margin") is not None else ""
        return f"pair: response {sample['chosen'] + 1} over {sample['rejected'] + 1}{margin}"
    skipped = sample.get("skipped") or {}
    return f"no pair ({skipped.get('reason', 'undecided')}): {skipped.get('message', '')}"


def pairs_line(samples: list[dict[str, Any]]) -> str:
    """How many preference samples made a pair, and why the others did not, e.g. "3 pairs, 1 without (1 tie)"."""
    made = [s for s in samples if s.get("technique") == TECHNIQUE and s.get("status") != "failed"]
    pairs = sum(1 for s in made if is_pair(s))
    reasons = Counter((s.get("skipped") or {}).get("reason", "undecided") for s in made if not is_pair(s))
    without = f", {sum(reasons.values())} without ({', '.join(f'{n} {r}' for r, n in reasons.items())})" if reasons else ""
    return f"{pairs} pair{'' if pairs == 1 else 's'}{without}"
