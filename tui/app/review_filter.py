"""What the review table shows: one row per sample, its flags, and the filters a person sets.

Built for 100,000 samples: a row is made without copying the sample's text, and the text a search
looks through is put together only when a search first needs it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from tui.engine.judge import TAG_NAMES, sample_rating
from tui.engine.store import paused_gc

ANY = "any"
NO_FLAG = "none"
# The rating filter: value, label. A number keeps samples rated at least that (the mean of their aspects).
RATING_CHOICES = (
    ("5", "rated 5"), ("4", "rated 4 or more"), ("3", "rated 3 or more"), ("2", "rated 2 or more"),
    ("below-3", "rated below 3"), ("unrated", "not rated"), ("judge-failed", "judge failed"),
)


@dataclass
class ReviewRow:
    """A sample as one line of the review table; the screen changes `status` in place when a person curates."""

    id: int
    technique: str
    status: str
    instruction: str
    tokens: int | None
    flags: tuple[str, ...]
    sample: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    rating: float | None = None  # the judge's (`smolgen judge`); None when not rated or the judgement failed
    judge_failed: bool = False
    tags: tuple[str, ...] = ()  # the judge's tags of the instruction: input quality, difficulty, task category

    @property
    def judged(self) -> bool:
        """A judge has looked at this sample (`smolgen judge`), successfully or not."""
        return self.rating is not None or self.judge_failed or bool(self.tags)

    @cached_property
    def searchable(self) -> str:
        """The instruction and the whole conversation, lower-cased, for the search box."""
        sample = self.sample
        instruction = sample.get("instruction") or (sample.get("failure") or {}).get("message", "")
        conversation = " ".join(m.get("content", "") for m in sample.get("conversation") or [])
        return f"{instruction}\n{conversation}".lower()


def first_line(text: str | None, width: int = 200) -> str:
    text = text or ""
    if text.isprintable():  # no line breaks: the common case, kept off the slow path below
        line = text.strip()
    else:
        line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def _normalised(text: str | None) -> str:
    return " ".join((text or "").lower().split())


def review_rows(samples: list[dict[str, Any]], seen: Counter | None = None) -> list[ReviewRow]:
    """Rows for the samples; an instruction seen more than once is flagged `duplicate`.

    `seen` counts the instructions of rows made earlier (it is updated), so rows can be added one at a time.
    """
    seen = Counter() if seen is None else seen
    with paused_gc():
        keys = [_normalised(s.get("instruction")) for s in samples]
        seen.update(keys)
        rows = []
        for sample, key in zip(samples, keys):
            flags = list(sample.get("flags") or ())
            if key and seen[key] > 1:
                flags.append("duplicate")
            if sample.get("edited"):
                flags.append("edited")
            failure = sample.get("failure")
            if failure:
                flags.append(failure.get("reason", "failed"))
            instruction = sample.get("instruction") or (failure or {}).get("message", "")
            verdict = sample.get("judgement") or {}
            rows.append(
                ReviewRow(
                    sample["id"],
                    sample.get("technique", "?"),
                    sample.get("status", "new"),
                    first_line(instruction),
                    (sample.get("tokens") or {}).get("completion"),
                    tuple(dict.fromkeys(flags)) if flags else (),
                    sample,
                    sample_rating(sample),
                    verdict.get("failure") is not None,
                    tuple((verdict.get("tags") or {}).get(name) for name in TAG_NAMES if (verdict.get("tags") or {}).get(name)),
                )
            )
    return rows


def filter_rows(rows: list[ReviewRow], status: str = ANY, technique: str = ANY, flag: str = ANY, query: str = "",
                rating: str = ANY, tag: str = ANY) -> list[ReviewRow]:
    """The rows matching every filter; `query` is a case-insensitive search of the whole conversation,
    `rating` one of RATING_CHOICES' values, `tag` one of the judge's tags."""
    query = query.strip().lower()
    return [
        row
        for row in rows
        if (status == ANY or row.status == status)
        and (technique == ANY or row.technique == technique)
        and (flag == ANY or (flag == NO_FLAG and not row.flags) or flag in row.flags)
        and (rating == ANY or rating_matches(row, rating))
        and (tag == ANY or tag in row.tags)
        and (not query or query in row.searchable)
    ]


# The orders review cycles through with its sort key: the store's, then by the judge's rating either way.
RATING_ORDERS = (None, "best", "worst")
RATING_ORDER_WORDS = {"best": "best rated first", "worst": "worst rated first"}


def sort_by_rating(rows: list[ReviewRow], order: str | None) -> list[ReviewRow]:
    """The rows best rated first ("best") or worst first ("worst"), samples without a rating last and equals in
    the store's order; None keeps the rows as they are."""
    if order is None:
        return rows
    rated = [row for row in rows if row.rating is not None]
    unrated = [row for row in rows if row.rating is None]
    return sorted(rated, key=lambda row: row.rating, reverse=order == "best") + unrated


def rating_matches(row: ReviewRow, rating: str) -> bool:
    """Whether a row passes the rating filter (see RATING_CHOICES)."""
    if rating == "unrated":
        return row.rating is None and not row.judge_failed
    if rating == "judge-failed":
        return row.judge_failed
    if row.rating is None:
        return False
    return row.rating < 3 if rating == "below-3" else row.rating >= float(rating)


def parent_of(sample: dict[str, Any]) -> str | None:
    """The instruction an EvolInstruct sample was evolved from (its `parent_instruction`), if any."""
    value = sample.get("parent_instruction")
    return value if isinstance(value, str) and value.strip() else None


def parent_id_of(sample: dict[str, Any]) -> int | None:
    """The stored sample an evolved one came from (its `parent_id`); None when the parent was not stored."""
    value = sample.get("parent_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
